//! PDF text extraction compared (`pith eval pdf DIR`): PDFium (what ingest
//! uses) against poppler's `pdftotext` on the same files: pages/s of each,
//! and how well their words agree (bag-of-words F1: the share of words both
//! find, whatever the order, since the two may order columns differently).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use crate::decode::pdf;
use crate::error::{PipelineError, Result};

#[derive(Debug, Clone, Serialize)]
pub struct PdfFile {
    pub file: String,
    pub pages: usize,
    pub pdfium_s: f64,
    pub pdftotext_s: f64,
    pub pdfium_words: usize,
    pub pdftotext_words: usize,
    /// Bag-of-words F1 between the two.
    pub agreement: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct PdfReport {
    pub files: Vec<PdfFile>,
    pub pages: usize,
    pub pdfium_pages_per_s: f64,
    pub pdftotext_pages_per_s: f64,
    /// Word-weighted agreement over all files.
    pub agreement: f64,
    pub failed: Vec<(String, String)>,
}

fn pdfs_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            pdfs_under(&p, out);
        } else if p.extension().is_some_and(|x| x.eq_ignore_ascii_case("pdf")) {
            out.push(p);
        }
    }
}

fn bag(pages: &[(u32, String)]) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for (_, t) in pages {
        for w in super::asr::words(t) {
            *m.entry(w).or_insert(0) += 1;
        }
    }
    m
}

/// Bag-of-words F1 of two word multisets.
pub fn agreement(a: &HashMap<String, usize>, b: &HashMap<String, usize>) -> f64 {
    let (na, nb): (usize, usize) = (a.values().sum(), b.values().sum());
    if na + nb == 0 {
        return 1.0;
    }
    let both: usize = a.iter().map(|(w, &c)| c.min(b.get(w).copied().unwrap_or(0))).sum();
    2.0 * both as f64 / (na + nb) as f64
}

/// `paths`: PDF files, or folders searched for them.
pub fn run(paths: &[PathBuf], models_root: &Path) -> Result<PdfReport> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            pdfs_under(p, &mut files);
        } else {
            files.push(p.clone());
        }
    }
    files.sort();
    if !pdf::pdfium_available(models_root) {
        return Err(PipelineError::Unsupported("PDFium is not installed: run `make models`".into()));
    }
    if !pdf::pdftotext_available() {
        return Err(PipelineError::Unsupported("pdftotext is not installed: apt-get install poppler-utils".into()));
    }
    let mut out =
        PdfReport { files: Vec::new(), pages: 0, pdfium_pages_per_s: 0.0, pdftotext_pages_per_s: 0.0, agreement: 0.0, failed: vec![] };
    let (mut t_a, mut t_b, mut words, mut weighted) = (0f64, 0f64, 0usize, 0f64);
    for f in files {
        let name = f.display().to_string();
        let t0 = Instant::now();
        let a = match pdf::read(&f, models_root, u64::MAX, None) {
            Ok(a) => a,
            Err(e) => {
                out.failed.push((name, e));
                continue;
            }
        };
        let pdfium_s = t0.elapsed().as_secs_f64();
        let t1 = Instant::now();
        let b = match pdf::read_pdftotext(&f, u64::MAX) {
            Ok(b) => b,
            Err(e) => {
                out.failed.push((name, format!("pdftotext: {e}")));
                continue;
            }
        };
        let pdftotext_s = t1.elapsed().as_secs_f64();
        let (ba, bb) = (bag(&a.pages), bag(&b.pages));
        let agree = agreement(&ba, &bb);
        let n: usize = bb.values().sum();
        t_a += pdfium_s;
        t_b += pdftotext_s;
        words += n;
        weighted += agree * n as f64;
        out.pages += a.pages.len();
        out.files.push(PdfFile {
            file: name,
            pages: a.pages.len(),
            pdfium_s,
            pdftotext_s,
            pdfium_words: ba.values().sum(),
            pdftotext_words: n,
            agreement: agree,
        });
    }
    out.pdfium_pages_per_s = out.pages as f64 / t_a.max(1e-9);
    out.pdftotext_pages_per_s = out.pages as f64 / t_b.max(1e-9);
    out.agreement = if words > 0 { weighted / words as f64 } else { 0.0 };
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn agreement_is_order_free_f1() {
        let bag = |s: &str| {
            let mut m = std::collections::HashMap::new();
            for w in s.split(' ') {
                *m.entry(w.to_string()).or_insert(0usize) += 1;
            }
            m
        };
        assert_eq!(super::agreement(&bag("a b c d"), &bag("d c b a")), 1.0);
        assert!((super::agreement(&bag("a b c d"), &bag("a b")) - 2.0 * 2.0 / 6.0).abs() < 1e-9);
    }
}
