//! OCR quality and speed (`pith eval ocr DIR`): images with a same-named
//! `.txt` holding their true text; character and word error rates, images/s,
//! and how the cheap text test judges them. With `--photos DIR` (pictures
//! without text, e.g. COCO), the share the test would wrongly send to OCR.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use crate::decode::ocr::{looks_like_text, recognize_image, OcrConfig};
use crate::error::{PipelineError, Result};

#[derive(Debug, Clone, Serialize)]
pub struct OcrFile {
    pub file: String,
    pub cer: f64,
    pub wer: f64,
    pub seconds: f64,
    /// Whether the text test would send this image to OCR.
    pub passes_test: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct OcrReport {
    pub files: Vec<OcrFile>,
    /// Character edits / reference characters, over all files.
    pub cer: f64,
    pub wer: f64,
    pub images_per_second: f64,
    /// Share of the labelled (text) images the test sends to OCR.
    pub test_recall: f64,
    /// Photos judged, and the share the test sends to OCR (false alarms).
    pub photos: usize,
    pub photos_sent: f64,
}

fn images_in(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| PipelineError::Io { path: dir.to_path_buf(), source: e })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let ext = p.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
            ["png", "jpg", "jpeg", "tif", "tiff", "bmp", "webp", "gif"].contains(&ext.as_str())
        })
        .collect();
    v.sort();
    Ok(v)
}

fn chars(s: &str) -> Vec<char> {
    s.split_whitespace().collect::<Vec<_>>().join(" ").chars().collect()
}

/// Character error rate of `hyp` against `reference` (whitespace runs count as one space).
pub fn cer(reference: &str, hyp: &str) -> f64 {
    let (r, h) = (chars(reference), chars(hyp));
    super::asr::edit_distance(&r, &h) as f64 / r.len().max(1) as f64
}

pub fn run(dir: &Path, photos: Option<&Path>, cfg: &OcrConfig) -> Result<OcrReport> {
    let (mut files, mut edits, mut total, mut wedits, mut wtotal, mut secs) = (Vec::new(), 0usize, 0usize, 0usize, 0usize, 0f64);
    for p in images_in(dir)? {
        let Ok(truth) = std::fs::read_to_string(p.with_extension("txt")) else { continue };
        let img = crate::decode::image::decode(&p, "").map_err(|e| PipelineError::BadInput(format!("{}: {e}", p.display())))?;
        let passes_test = looks_like_text(&img).pass;
        let t0 = Instant::now();
        let got = recognize_image(&img, cfg).map_err(|e| PipelineError::BadInput(format!("{}: {e}", p.display())))?;
        let seconds = t0.elapsed().as_secs_f64();
        let (r, h) = (chars(&truth), chars(&got.text));
        let e = super::asr::edit_distance(&r, &h);
        let (rw, hw) = (super::asr::words(&truth), super::asr::words(&got.text));
        let we = super::asr::edit_distance(&rw, &hw);
        edits += e;
        total += r.len();
        wedits += we;
        wtotal += rw.len();
        secs += seconds;
        let file = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        files.push(OcrFile { file, cer: e as f64 / r.len().max(1) as f64, wer: we as f64 / rw.len().max(1) as f64, seconds, passes_test });
    }
    if files.is_empty() {
        return Err(PipelineError::BadInput(format!("no images with a same-named .txt in {}", dir.display())));
    }
    let (mut n_photos, mut sent) = (0usize, 0usize);
    if let Some(pd) = photos {
        for p in images_in(pd)? {
            let Ok(img) = crate::decode::image::decode(&p, "") else { continue };
            n_photos += 1;
            sent += usize::from(looks_like_text(&img).pass);
        }
    }
    let n = files.len();
    Ok(OcrReport {
        cer: edits as f64 / total.max(1) as f64,
        wer: wedits as f64 / wtotal.max(1) as f64,
        images_per_second: n as f64 / secs.max(1e-9),
        test_recall: files.iter().filter(|f| f.passes_test).count() as f64 / n as f64,
        photos: n_photos,
        photos_sent: sent as f64 / n_photos.max(1) as f64,
        files,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn cer_counts_character_edits_and_ignores_spacing() {
        assert_eq!(super::cer("hello  world", "hello world"), 0.0);
        assert!((super::cer("abcd", "abed") - 0.25).abs() < 1e-9);
        assert!((super::cer("abcd", "") - 1.0).abs() < 1e-9);
    }
}
