//! PDF text, page by page, through PDFium (the engine Chromium uses),
//! bound at run time from `libpdfium.so`: `$PITH_PDFIUM`, else the one
//! `make models` takes from the pypdfium2 wheel (`<models>/pdfium/`), else a
//! system copy. Without any, Debian's `pdftotext` (poppler) is the fallback.
//! `pith eval pdf` measures both on the same files (docs/BENCHMARKS.md).
//!
//! Pages are read in batches of `BATCH` with PDFium's lock held (PDFium is
//! not thread-safe; pdfium-render serialises calls). Then, for each scanned
//! page of the batch (little text, an image on the page), the lock is taken
//! again only to render that page at 300 dpi into a temporary PNG, which OCR
//! reads with the lock free. Memory thus stays at one batch's text and one
//! page's pixels, whatever the page count. Limits: `MAX_PAGES` pages and
//! `OCR_BUDGET` of OCR per file. PDFium itself cannot be interrupted: a
//! file that makes it loop holds up the other PDFs of that ingest.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use pdfium_render::prelude::*;

/// A page with fewer letters than this and an image on it is a scan.
const SCAN_MAX_CHARS: usize = 16;
const BATCH: u32 = 32;
/// Pages read per file, and the OCR time one file may take in all.
const MAX_PAGES: u32 = 20_000;
const OCR_BUDGET: Duration = Duration::from_secs(900);
/// pdftotext (the fallback) is killed after this long.
const PDFTOTEXT_TIMEOUT: Duration = Duration::from_secs(120);
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
    /// Pages that look scanned (few letters, an image on them).
    scans: Vec<u32>,
    total: u32,
    title: Option<String>,
    author: Option<String>,
    notes: Vec<String>,
}

fn read_pdfium(lib: &Mutex<Pdfium>, path: &Path, max_bytes: u64, ocr: Option<PageOcr>) -> Result<PdfText, String> {
    let mut out = PdfText { engine: "pdfium", ..Default::default() };
    let mut bytes = 0u64;
    let mut first = 0u32;
    let started = Instant::now();
    loop {
        let b = read_batch(lib, path, first)?;
        if first == 0 {
            out.title = b.title.clone();
            out.author = b.author.clone();
            if b.total > MAX_PAGES {
                out.notes.push(format!("only the first {MAX_PAGES} of {} pages read", b.total));
            }
        }
        out.notes.extend(b.notes);
        let mut by_page: std::collections::HashMap<u32, String> = std::collections::HashMap::new();
        for &n in &b.scans {
            let Some(ocr) = ocr else {
                out.notes.push(format!("page {n}: a scanned page (no text layer); OCR is off or Tesseract is not installed"));
                continue;
            };
            if started.elapsed() > OCR_BUDGET {
                out.notes.push(format!("page {n} and later scans not read: the {} s OCR budget per file is spent", OCR_BUDGET.as_secs()));
                break;
            }
            // One page rendered at a time, PDFium's lock held only for that.
            match render_page(lib, path, n).and_then(|png| ocr(n, &png)) {
                Ok(t) if !t.trim().is_empty() => {
                    by_page.insert(n, t);
                    out.ocr_pages.push(n);
                }
                Ok(_) => {}
                Err(e) => out.notes.push(format!("page {n}: {e}")),
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
        if first >= b.total.min(MAX_PAGES) {
            return Ok(out);
        }
    }
}

/// The text of pages `first..first+BATCH`, with PDFium's lock held. A page
/// PDFium cannot read is a note, not the document's loss.
fn read_batch(lib: &Mutex<Pdfium>, path: &Path, first: u32) -> Result<Batch, String> {
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
        notes: Vec::new(),
    };
    for i in first..(first + BATCH).min(total).min(MAX_PAGES) {
        let page = match pages.get(i as PdfPageIndex) {
            Ok(p) => p,
            Err(e) => {
                b.notes.push(format!("page {}: {}", i + 1, pdf_error(e)));
                continue;
            }
        };
        let text = page.text().map(|t| t.all()).unwrap_or_default();
        let letters = text.chars().filter(|c| c.is_alphanumeric()).count();
        if letters < SCAN_MAX_CHARS && page.objects().iter().any(|o| o.object_type() == PdfPageObjectType::Image) {
            b.scans.push(i + 1);
        }
        b.pages.push((i + 1, text));
    }
    Ok(b)
}

/// Page `n` (1-based) rendered at 300 dpi (capped), straightened, as a grey
/// PNG in a temporary file for OCR.
fn render_page(lib: &Mutex<Pdfium>, path: &Path, n: u32) -> Result<tempfile::TempPath, String> {
    let img = {
        let pdfium = lib.lock().unwrap_or_else(|e| e.into_inner());
        let doc = pdfium.load_pdf_from_file(path, None).map_err(pdf_error)?;
        let page = doc.pages().get((n - 1) as PdfPageIndex).map_err(pdf_error)?;
        let scale = OCR_DPI / 72.0;
        let (w, h) = (page.width().value * scale, page.height().value * scale);
        let fit = (MAX_RENDER_SIDE as f32 / w.max(h).max(1.0)).min(1.0);
        let (tw, th) = (((w * fit) as i32).max(1), ((h * fit) as i32).max(1));
        let cfg = PdfRenderConfig::new().set_target_width(tw).set_maximum_height(th);
        let img = page.render_with_config(&cfg).map_err(pdf_error)?.as_image().map_err(pdf_error)?;
        img
    };
    let tmp = tempfile::Builder::new().prefix("pith-page-").suffix(".png").tempfile().map_err(|e| format!("temporary file: {e}"))?;
    super::ocr::ocr_ready(&img).save_with_format(tmp.path(), image::ImageFormat::Png).map_err(|e| format!("temporary file: {e}"))?;
    Ok(tmp.into_temp_path())
}

/// Whether Debian's `pdftotext` can be run (checked once).
pub fn pdftotext_available() -> bool {
    static FOUND: OnceLock<bool> = OnceLock::new();
    *FOUND.get_or_init(|| std::process::Command::new("pdftotext").arg("-v").output().is_ok())
}

/// Text per page from poppler's `pdftotext` (pages end with form feeds).
pub fn read_pdftotext(path: &Path, max_bytes: u64) -> Result<PdfText, String> {
    let mut cmd = std::process::Command::new("pdftotext");
    cmd.args(["-q", "-enc", "UTF-8"]).arg(path).arg("-");
    // At most `max_bytes` (plus a page's worth) is kept.
    let out = super::child::run(cmd, "pdftotext", PDFTOTEXT_TIMEOUT, max_bytes.saturating_add(1 << 20))?;
    if !out.success {
        let err = out.stderr;
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
