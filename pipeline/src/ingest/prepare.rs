//! Per-file work done on the decode threads: read, hash, detect, decode, chunk.

use std::io::Read;
use std::path::Path;

use pith_models::Preprocessed;

use super::walk::FileEntry;
use crate::chunk::{chunk_spans, Span};
use crate::decode::ocr::{self, OcrMode};
use crate::decode::office;
use crate::decode::{self, Detected};
use crate::encoders::Encoders;
use crate::engine::Engine;
use crate::store::FileRow;
use crate::types::Kind;

#[derive(Debug, Clone)]
pub struct Meta {
    pub path: String,
    pub size: u64,
    pub mtime: i64,
    pub hash: String,
    pub existed: bool,
}

pub enum Prepared {
    Unchanged {
        path: String,
        file_id: crate::ids::FileId,
        mtime: i64,
    },
    Skipped {
        path: String,
    },
    Failed {
        path: String,
        reason: String,
        existed: bool,
    },
    /// Text, HTML and documents (PDF, Office, e-books).
    Text {
        meta: Meta,
        kind: Kind,
        title: String,
        mime: Option<String>,
        /// Author, page or slide count: shown and BM25-indexed.
        labels: Option<String>,
        text: String,
        spans: Vec<Span>,
        /// Per span: the page and section it lies in (empty for plain text).
        places: Vec<Place>,
        notes: Vec<String>,
    },
    /// A recording: its transcript segments (empty without speech or model).
    Audio {
        meta: Meta,
        title: String,
        mime: String,
        seconds: f64,
        segments: Vec<pith_models::Segment>,
        /// CLAP window embeddings (start s, end s, vector), with a CLAP model.
        sounds: Vec<(f64, f64, Vec<f32>)>,
        labels: String,
        notes: Vec<String>,
    },
    Video {
        meta: Meta,
        title: String,
        mime: String,
        watched: super::video::Watched,
    },
    Image {
        meta: Meta,
        title: String,
        mime: String,
        width: u32,
        height: u32,
        prep: Preprocessed,
        clip_prep: Option<Preprocessed>,
        thumbnail: Vec<u8>,
        /// The words OCR found in the picture, and their token windows.
        ocr: Option<(String, Vec<Span>)>,
        notes: Vec<String>,
    },
}

/// Where a chunk of a document lies.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Place {
    pub page: Option<u32>,
    pub section: Option<String>,
}

/// The section title of OCR chunks of a photo.
pub const OCR_SECTION: &str = "Text in image";

pub struct Ctx<'a> {
    pub engine: &'a Engine,
    pub enc: &'a Encoders,
    /// OCR settings, read once per ingest.
    pub ocr: ocr::OcrConfig,
}

impl Ctx<'_> {
    pub fn prepare(&self, e: FileEntry, existing: Option<FileRow>) -> Prepared {
        let existed = existing.is_some();
        // A decoder that panics on one hostile file costs that file only
        // (and cannot stall the in-order writer waiting for its result).
        let attempt = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.try_prepare(&e, existing)));
        match attempt {
            Ok(Ok(p)) => p,
            Ok(Err(reason)) => Prepared::Failed { path: e.path, reason, existed },
            Err(_) => Prepared::Failed { path: e.path, reason: "internal error: the decoder panicked on this file".into(), existed },
        }
    }

    fn try_prepare(&self, e: &FileEntry, existing: Option<FileRow>) -> Result<Prepared, String> {
        let path = Path::new(&e.path);
        if e.size == 0 {
            return Err("empty file (0 bytes)".into());
        }
        let mut f = std::fs::File::open(path).map_err(|err| match err.kind() {
            std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
            _ => format!("cannot open: {err}"),
        })?;
        let mut head = vec![0u8; 8192];
        let n = read_up_to(&mut f, &mut head).map_err(|err| format!("cannot read: {err}"))?;
        head.truncate(n);
        let kind = decode::detect(path, &head);
        if kind == Detected::Unsupported {
            return Ok(Prepared::Skipped { path: e.path.clone() });
        }
        let mut hasher = blake3::Hasher::new();
        hasher.update(&head);
        std::io::copy(&mut f, &mut hasher).map_err(|err| format!("cannot read: {err}"))?;
        let hash = hasher.finalize().to_hex().to_string();
        if let Some(old) = &existing {
            if old.hash == hash {
                return Ok(Prepared::Unchanged { path: e.path.clone(), file_id: old.id, mtime: e.mtime });
            }
        }
        let meta = Meta { path: e.path.clone(), size: e.size, mtime: e.mtime, hash, existed: existing.is_some() };
        let cfg = &self.engine.cfg;
        match kind {
            Detected::Text | Detected::Html => {
                let c = decode::text::read_text(path, e.size, cfg.max_text_bytes, kind == Detected::Html).map_err(|err| err.to_string())?;
                if c.text.trim().is_empty() {
                    return Err("no text content".into());
                }
                let spans = chunk_spans(self.enc.text.raw_tokenizer(), &c.text, cfg.chunk_tokens, cfg.chunk_overlap)?;
                let title = decode::text::title_of(&c.text, path);
                Ok(Prepared::Text {
                    meta,
                    kind: Kind::Text,
                    title,
                    mime: None,
                    labels: None,
                    text: c.text,
                    spans,
                    places: Vec::new(),
                    notes: c.notes,
                })
            }
            Detected::Pdf => {
                let ocr_cfg = &self.ocr;
                let run_ocr = |_page: u32, png: &Path| ocr::recognize_file(png, ocr_cfg).map(|r| r.text);
                let use_ocr = ocr_cfg.mode != OcrMode::Off && ocr::available();
                let pdf = decode::pdf::read(path, &cfg.models.root, cfg.max_text_bytes, use_ocr.then_some(&run_ocr as _))?;
                let pages = pdf.pages.len();
                let parts = pdf.pages.into_iter().map(|(n, t)| (Place { page: Some(n), section: None }, t)).collect();
                let mut notes = pdf.notes;
                if !pdf.ocr_pages.is_empty() {
                    tracing::debug!(path = %e.path, pages = ?pdf.ocr_pages, "scanned PDF pages read by OCR");
                }
                let mut labels = vec![format!("{pages} page{}", if pages == 1 { "" } else { "s" })];
                labels.extend(pdf.author.clone());
                self.document(meta, Kind::Pdf, "application/pdf", pdf.title, labels, parts, &mut notes, path)
            }
            Detected::Office(format) => {
                let x = office::read(path, format, cfg.max_text_bytes)?;
                let n = x.sections.len();
                let unit = match format.kind() {
                    Kind::Slides => "slide",
                    Kind::Spreadsheet => "sheet section",
                    Kind::Ebook => "chapter",
                    _ => "section",
                };
                let mut labels = vec![format!("{n} {unit}{}", if n == 1 { "" } else { "s" })];
                labels.extend(x.author.clone());
                let parts = x.sections.into_iter().map(|s| (Place { page: None, section: s.title }, s.text)).collect();
                let mut notes = x.notes;
                self.document(meta, format.kind(), format.mime(), x.title, labels, parts, &mut notes, path)
            }
            Detected::Image(mime) => {
                let img = decode::image::decode(path, mime).map_err(|err| err.to_string())?;
                let (width, height) = (img.width(), img.height());
                let (prep, resized) = self.enc.image.prep.prepare_keep_resized(&img);
                let clip_prep = self.enc.clip.as_ref().map(|c| c.prep.prepare(&img));
                let thumbnail = decode::image::thumbnail_jpeg(&resized).map_err(|err| err.to_string())?;
                let title = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                let mut notes = vec![];
                let ocr = self.read_words(&img, &mut notes)?;
                Ok(Prepared::Image { meta, title, mime: mime.to_string(), width, height, prep, clip_prep, thumbnail, ocr, notes })
            }
            Detected::Audio(mime) => {
                let heard = super::media::listen(self.enc, path, false)?;
                let title = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                Ok(Prepared::Audio {
                    meta,
                    title,
                    mime: mime.to_string(),
                    seconds: heard.seconds,
                    labels: heard.labels(),
                    segments: heard.segments,
                    sounds: heard.sounds,
                    notes: heard.notes,
                })
            }
            Detected::Video(mime) => {
                let watched = super::video::watch(self.enc, path, &cfg.video)?;
                let title = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                Ok(Prepared::Video { meta, title, mime: mime.to_string(), watched })
            }
            Detected::Unsupported => Ok(Prepared::Skipped { path: e.path.clone() }),
        }
    }
}

impl Ctx<'_> {
    /// A document from its titled parts: each part chunked on its own (a
    /// chunk never straddles two pages or sections), the parts joined by a
    /// blank line into the item's text.
    #[allow(clippy::too_many_arguments)]
    fn document(
        &self,
        meta: Meta,
        kind: Kind,
        mime: &str,
        title: Option<String>,
        labels: Vec<String>,
        parts: Vec<(Place, String)>,
        notes: &mut Vec<String>,
        path: &Path,
    ) -> Result<Prepared, String> {
        let cfg = &self.engine.cfg;
        let (mut text, mut spans, mut places) = (String::new(), Vec::new(), Vec::new());
        for (mut place, part) in parts {
            let part = part.trim();
            // A heading may hold line breaks or run long: one short line.
            place.section = place.section.map(|t| t.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(120).collect());
            if part.is_empty() {
                continue;
            }
            if !text.is_empty() {
                text.push_str("\n\n");
            }
            let at = text.len();
            text.push_str(part);
            for mut s in chunk_spans(self.enc.text.raw_tokenizer(), part, cfg.chunk_tokens, cfg.chunk_overlap)? {
                s.start += at;
                s.end += at;
                spans.push(s);
                places.push(place.clone());
            }
        }
        if text.trim().is_empty() {
            return Err(match kind {
                Kind::Pdf if !ocr::available() || self.ocr.mode == OcrMode::Off => {
                    "no text layer (a scanned PDF), and OCR is off (ocr.mode) or not installed (apt-get install tesseract-ocr)".into()
                }
                Kind::Pdf => "no text found: no text layer and OCR read nothing".into(),
                _ => "no text content".into(),
            });
        }
        let title = title
            .filter(|t| !t.trim().is_empty())
            .unwrap_or_else(|| path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
        let labels = labels.join(", ");
        Ok(Prepared::Text {
            meta,
            kind,
            title,
            mime: Some(mime.to_string()),
            labels: Some(labels),
            text,
            spans,
            places,
            notes: std::mem::take(notes),
        })
    }

    /// OCR of a photo that passes the text test (or of every photo with
    /// `ocr.mode = all`); a failure is a note, never the photo's loss.
    fn read_words(&self, img: &image::DynamicImage, notes: &mut Vec<String>) -> Result<Option<(String, Vec<Span>)>, String> {
        let cfg = &self.engine.cfg;
        let wanted = match self.ocr.mode {
            OcrMode::Off => false,
            OcrMode::All => true,
            OcrMode::Auto => ocr::looks_like_text(img).pass,
        };
        if !wanted || !ocr::available() {
            return Ok(None);
        }
        let r = match ocr::recognize_image(img, &self.ocr) {
            Ok(r) => r,
            Err(e) => {
                notes.push(format!("OCR: {e}"));
                return Ok(None);
            }
        };
        // A couple of stray "words" read from a texture are not text.
        if r.words < 3 {
            return Ok(None);
        }
        let spans = chunk_spans(self.enc.text.raw_tokenizer(), &r.text, cfg.chunk_tokens, cfg.chunk_overlap)?;
        Ok(Some((r.text, spans)))
    }
}

fn read_up_to(f: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        let r = f.read(&mut buf[n..])?;
        if r == 0 {
            break;
        }
        n += r;
    }
    Ok(n)
}
