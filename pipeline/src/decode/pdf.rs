//! PDF text, page by page, through PDFium (the engine Chromium uses),
//! bound at run time from `libpdfium.so`: `$PITH_PDFIUM`, else the one
//! `make models` takes from the pypdfium2 wheel (`<models>/pdfium/`), else a
//! system copy. Without any, Debian's `pdftotext` (poppler) is the fallback.
//! `pith eval pdf` measures both on the same files (docs/BENCHMARKS.md).
//!
//! Pages are read in batches of `BATCH` with PDFium's lock held (PDFium is
//! not thread-safe; pdfium-render serialises calls), then the lock is let go
//! while the batch's scanned pages (little text, an image on the page) are
//! rendered to 300 dpi PNGs in a temporary folder and handed to OCR. Memory
//! thus stays at one batch's text and one page's pixels, whatever the page
//! count.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use pdfium_render::prelude::*;

/// A page with fewer letters than this and an image on it is a scan.
const SCAN_MAX_CHARS: usize = 16;
const BATCH: u32 = 32;
/// Rendering DPI for OCR, and the cap on a rendered page's longer side.
const OCR_DPI: f32 = 300.0;
const MAX_RENDER_SIDE: i32 = 5000;

#[derive(Debug, Clone, Default)]
pub struct PdfText {
    pub title: Option<String>,
    pub author: Option<String>,
    /// Every page in order: (1-based number, text).
    pub pages: Vec<(u32, String)>,
    /// Pages whose text came from OCR.
    pub ocr_pages: Vec<u32>,
    /// "pdfium" or "pdftotext".
    pub engine: &'static str,
    pub notes: Vec<String>,
}

type Lib = Result<Mutex<Pdfium>, String>;

/// Reads a scanned page: (1-based page number, rendered PNG) → its text.
pub type PageOcr<'a> = &'a dyn Fn(u32, &Path) -> Result<String, String>;

fn pdfium(models_root: &Path) -> &'static Lib {
    static LIB: OnceLock<Lib> = OnceLock::new();
    LIB.get_or_init(|| {
        let mut tried = Vec::new();
        let mut candidates: Vec<PathBuf> = std::env::var_os("PITH_PDFIUM").map(PathBuf::from).into_iter().collect();
        candidates.push(models_root.join("pdfium").join("libpdfium.so"));
        for c in candidates {
            if !c.exists() {
                continue;
            }
            match Pdfium::bind_to_library(&c) {
                Ok(b) => return Ok(Mutex::new(Pdfium::new(b))),
                Err(e) => tried.push(format!("{}: {e}", c.display())),
            }
        }
        match Pdfium::bind_to_system_library() {
            Ok(b) => Ok(Mutex::new(Pdfium::new(b))),
            Err(e) => {
                tried.push(format!("system library: {e}"));
                Err(tried.join("; "))
            }
        }
    })
}

/// Whether PDFium could be bound (else `read` falls back to pdftotext).
pub fn pdfium_available(models_root: &Path) -> bool {
    pdfium(models_root).is_ok()
}

/// Read a PDF's text. `ocr(page, png)` is called for each scanned page (a
/// rendered 300 dpi grey PNG) and returns its text; `max_bytes` caps the
/// text kept (later pages are dropped with a note).
pub fn read(path: &Path, models_root: &Path, max_bytes: u64, ocr: Option<PageOcr>) -> Result<PdfText, String> {
    match pdfium(models_root) {
        Ok(lib) => read_pdfium(lib, path, max_bytes, ocr),
        Err(why) => {
            if pdftotext_available() {
                let mut t = read_pdftotext(path, max_bytes)?;
                t.notes.push(format!("PDFium unavailable ({why}); text from pdftotext, scanned pages not read"));
                Ok(t)
            } else {
                Err(format!("PDF support needs PDFium (run `make models`, or set PITH_PDFIUM) or poppler's pdftotext: {why}"))
            }
        }
    }
}

fn pdf_error(e: PdfiumError) -> String {
    match e {
        PdfiumError::PdfiumLibraryInternalError(PdfiumInternalError::PasswordError) => {
            "encrypted PDF: it needs a password, which pith does not have".into()
        }
        PdfiumError::PdfiumLibraryInternalError(PdfiumInternalError::FormatError) => {
            "broken PDF: PDFium cannot parse it (damaged cross-reference table or not a PDF)".into()
        }
        PdfiumError::PdfiumLibraryInternalError(PdfiumInternalError::SecurityError) => {
            "PDF uses an unsupported security handler (encrypted)".into()
        }
        other => format!("cannot read PDF: {other}"),
    }
}

struct Batch {
    pages: Vec<(u32, String)>,
    scans: Vec<(u32, tempfile::TempPath)>,
    total: u32,
    title: Option<String>,
    author: Option<String>,
}

fn read_pdfium(lib: &Mutex<Pdfium>, path: &Path, max_bytes: u64, ocr: Option<PageOcr>) -> Result<PdfText, String> {
    let mut out = PdfText { engine: "pdfium", ..Default::default() };
    let mut bytes = 0u64;
    let mut first = 0u32;
    loop {
        let b = read_batch(lib, path, first, ocr.is_some())?;
        if first == 0 {
            out.title = b.title.clone();
            out.author = b.author.clone();
        }
        let mut by_page: std::collections::HashMap<u32, String> = std::collections::HashMap::new();
        if let Some(ocr) = ocr {
            for (n, png) in &b.scans {
                match ocr(*n, png) {
                    Ok(t) if !t.trim().is_empty() => {
                        by_page.insert(*n, t);
                        out.ocr_pages.push(*n);
                    }
                    Ok(_) => {}
                    Err(e) => out.notes.push(format!("page {n}: {e}")),
                }
            }
        }
        for (n, mut text) in b.pages {
            if let Some(t) = by_page.remove(&n) {
                text = t;
            }
            bytes += text.len() as u64;
            if bytes > max_bytes {
                out.notes.push(format!("text truncated at page {n} of {}: over the {max_bytes}-byte cap", b.total));
                return Ok(out);
            }
            out.pages.push((n, text));
        }
        first += BATCH;
        if first >= b.total {
            return Ok(out);
        }
    }
}

/// Pages `first..first+BATCH` with PDFium's lock held; scans rendered to PNG.
fn read_batch(lib: &Mutex<Pdfium>, path: &Path, first: u32, render_scans: bool) -> Result<Batch, String> {
    let pdfium = lib.lock().unwrap_or_else(|e| e.into_inner());
    let doc = pdfium.load_pdf_from_file(path, None).map_err(pdf_error)?;
    let meta = |t: PdfDocumentMetadataTagType| doc.metadata().get(t).map(|m| m.value().trim().to_string()).filter(|v| !v.is_empty());
    let pages = doc.pages();
    let total = pages.len() as u32;
    let mut b = Batch {
        pages: Vec::new(),
        scans: Vec::new(),
        total,
        title: meta(PdfDocumentMetadataTagType::Title),
        author: meta(PdfDocumentMetadataTagType::Author),
    };
    for i in first..(first + BATCH).min(total) {
        let page = pages.get(i as PdfPageIndex).map_err(pdf_error)?;
        let text = page.text().map(|t| t.all()).unwrap_or_default();
        let letters = text.chars().filter(|c| c.is_alphanumeric()).count();
        if render_scans && letters < SCAN_MAX_CHARS && page.objects().iter().any(|o| o.object_type() == PdfPageObjectType::Image) {
            let scale = OCR_DPI / 72.0;
            let (w, h) = (page.width().value * scale, page.height().value * scale);
            let fit = (MAX_RENDER_SIDE as f32 / w.max(h)).min(1.0);
            let cfg = PdfRenderConfig::new().set_target_width((w * fit) as i32).set_maximum_height((h * fit) as i32);
            let img = page.render_with_config(&cfg).map_err(pdf_error)?.as_image().map_err(pdf_error)?;
            let tmp =
                tempfile::Builder::new().prefix("pith-page-").suffix(".png").tempfile().map_err(|e| format!("temporary file: {e}"))?;
            super::ocr::ocr_ready(&img)
                .save_with_format(tmp.path(), image::ImageFormat::Png)
                .map_err(|e| format!("temporary file: {e}"))?;
            b.scans.push((i + 1, tmp.into_temp_path()));
        }
        b.pages.push((i + 1, text));
    }
    Ok(b)
}

/// Whether Debian's `pdftotext` can be run (checked once).
pub fn pdftotext_available() -> bool {
    static FOUND: OnceLock<bool> = OnceLock::new();
    *FOUND.get_or_init(|| std::process::Command::new("pdftotext").arg("-v").output().is_ok())
}

/// Text per page from poppler's `pdftotext` (pages end with form feeds).
pub fn read_pdftotext(path: &Path, max_bytes: u64) -> Result<PdfText, String> {
    let out = std::process::Command::new("pdftotext")
        .args(["-q", "-enc", "UTF-8"])
        .arg(path)
        .arg("-")
        .output()
        .map_err(|e| format!("cannot run pdftotext: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(if err.contains("assword") {
            "encrypted PDF: it needs a password, which pith does not have".into()
        } else {
            format!("broken PDF: pdftotext cannot read it ({})", err.trim().chars().take(200).collect::<String>())
        });
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut t = PdfText { engine: "pdftotext", ..Default::default() };
    let mut bytes = 0u64;
    let parts: Vec<&str> = text.split('\u{c}').collect();
    let n = parts.len().saturating_sub(1).max(1);
    for (i, p) in parts.into_iter().take(n).enumerate() {
        bytes += p.len() as u64;
        if bytes > max_bytes {
            t.notes.push(format!("text truncated at page {}: over the {max_bytes}-byte cap", i + 1));
            break;
        }
        t.pages.push((i as u32 + 1, p.to_string()));
    }
    Ok(t)
}
