//! Types that several parts of the pipeline share (kinds, filters, fusion
//! weights). This module imports nothing else from the crate, so the store,
//! the search code and the engine can all use them without forming a cycle.

use rusqlite::types::Value;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Text,
    Image,
    /// A recording: its chunks are transcript segments with time spans.
    Audio,
    /// A video: transcript segments and merged visual segments, with time spans.
    Video,
    /// A PDF: its chunks lie within pages (each chunk knows its page).
    Pdf,
    /// A word-processor file (DOCX, ODT): chunks carry their heading.
    Document,
    /// XLSX or ODS: chunks are runs of rows, titled by sheet and rows.
    Spreadsheet,
    /// PPTX or ODP: one section per slide.
    Slides,
    /// EPUB: one section per chapter.
    Ebook,
    /// A filter only, never stored: photos and scans whose pixels carry
    /// words (images with OCR text).
    #[serde(rename = "textimage")]
    TextImage,
}

impl Kind {
    pub fn as_str(&self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Image => "image",
            Kind::Audio => "audio",
            Kind::Video => "video",
            Kind::Pdf => "pdf",
            Kind::Document => "document",
            Kind::Spreadsheet => "spreadsheet",
            Kind::Slides => "slides",
            Kind::Ebook => "ebook",
            Kind::TextImage => "textimage",
        }
    }

    /// Kinds whose items are made of extracted text (search them in the text
    /// space and with BM25 only; the image spaces hold none of their chunks).
    pub fn is_textual(&self) -> bool {
        matches!(self, Kind::Text | Kind::Pdf | Kind::Document | Kind::Spreadsheet | Kind::Slides | Kind::Ebook)
    }
    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "text" | "texts" => Some(Kind::Text),
            "image" | "images" => Some(Kind::Image),
            "audio" | "audios" => Some(Kind::Audio),
            "video" | "videos" => Some(Kind::Video),
            "pdf" | "pdfs" => Some(Kind::Pdf),
            "document" | "documents" | "doc" | "docs" => Some(Kind::Document),
            "spreadsheet" | "spreadsheets" | "sheet" | "sheets" => Some(Kind::Spreadsheet),
            "slides" | "slide" | "presentation" | "presentations" => Some(Kind::Slides),
            "ebook" | "ebooks" | "e-book" | "book" | "books" => Some(Kind::Ebook),
            "textimage" | "text-in-image" | "ocr" | "scan" | "scans" => Some(Kind::TextImage),
            _ => None,
        }
    }
}

/// RRF weight of each ranked list.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Weights {
    pub bm25: f32,
    pub text: f32,
    pub conse: f32,
    pub clip: f32,
}

impl Default for Weights {
    fn default() -> Self {
        Weights { bm25: 1.0, text: 1.0, conse: 1.0, clip: 1.0 }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Filters {
    pub kind: Option<Kind>,
    /// Only files whose path starts with this.
    pub path_prefix: Option<String>,
    /// Modified at or after (seconds since epoch).
    pub after: Option<i64>,
    /// Modified before (seconds since epoch).
    pub before: Option<i64>,
    /// File extensions, lower case, without the dot.
    pub ext: Vec<String>,
}

impl Filters {
    pub fn is_empty(&self) -> bool {
        self.kind.is_none() && self.path_prefix.is_none() && self.after.is_none() && self.before.is_none() && self.ext.is_empty()
    }

    /// SQL condition over `i` (items) and `f` (files), with its arguments.
    pub fn sql(&self) -> (String, Vec<Value>) {
        let mut cond = vec!["1".to_string()];
        let mut args = Vec::new();
        match self.kind {
            Some(Kind::TextImage) => cond.push(
                "i.kind = 'image' AND EXISTS (SELECT 1 FROM chunks oc WHERE oc.item_id = i.id AND coalesce(oc.text, '') != '')".into(),
            ),
            Some(k) => {
                args.push(Value::Text(k.as_str().into()));
                cond.push(format!("i.kind = ?{}", args.len()));
            }
            None => {}
        }
        if let Some(p) = &self.path_prefix {
            args.push(Value::Text(p.clone()));
            cond.push(format!("substr(f.path, 1, length(?{0})) = ?{0}", args.len()));
        }
        if let Some(a) = self.after {
            args.push(Value::Integer(a));
            cond.push(format!("f.mtime >= ?{}", args.len()));
        }
        if let Some(b) = self.before {
            args.push(Value::Integer(b));
            cond.push(format!("f.mtime < ?{}", args.len()));
        }
        if !self.ext.is_empty() {
            let mut ors = Vec::new();
            for e in &self.ext {
                args.push(Value::Text(format!("%.{}", e.trim_start_matches('.').to_ascii_lowercase())));
                ors.push(format!("lower(f.path) LIKE ?{}", args.len()));
            }
            cond.push(format!("({})", ors.join(" OR ")));
        }
        (cond.join(" AND "), args)
    }
}

/// How frame tokens become index entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum MergeMode {
    /// Skip near-duplicate frames before the encoder, merge tokens after it.
    #[default]
    On,
    /// One token per decoded frame: no skipping, no merging.
    Off,
    /// One token for the whole video.
    PerVideo,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VideoConfig {
    /// Frames decoded per second of video.
    pub fps: f64,
    pub merge: MergeMode,
    /// A frame whose signature differs from the last encoded one by less
    /// than this (mean absolute grey difference, 0..1) is not encoded.
    pub skip_below: f32,
    /// Neighbouring tokens more similar than this (cosine of the visual
    /// features) are merged.
    pub merge_above: f32,
    /// At most this many tokens per minute of video (merging goes on past
    /// the threshold until this holds).
    pub tokens_per_minute: usize,
}

impl Default for VideoConfig {
    fn default() -> Self {
        VideoConfig { fps: 2.0, merge: MergeMode::On, skip_below: 0.03, merge_above: 0.85, tokens_per_minute: 12 }
    }
}
