//! Plain row types read from and written to the store.

use rusqlite::Row;

pub use crate::ids::{ChunkId, FileId, ItemId, SpaceId};
pub use crate::types::Kind;

#[derive(Debug, Clone)]
pub struct FileRow {
    pub id: FileId,
    pub path: String,
    pub size: i64,
    pub mtime: i64,
    pub hash: String,
}

impl FileRow {
    pub fn from_row(r: &Row) -> rusqlite::Result<Self> {
        Ok(FileRow { id: r.get(0)?, path: r.get(1)?, size: r.get(2)?, mtime: r.get(3)?, hash: r.get(4)? })
    }
}

/// A chunk ready to store: its text span and its vectors per space id.
#[derive(Debug, Clone, Default)]
pub struct NewChunk {
    /// Byte span in the item's extracted text.
    pub start: usize,
    pub end: usize,
    /// Time span in the file (audio/video), milliseconds.
    pub span_ms: Option<(i64, i64)>,
    pub text: Option<String>,
    pub vectors: Vec<(SpaceId, Vec<f32>)>,
    /// The page (1-based) of a PDF the chunk lies on.
    pub page: Option<u32>,
    /// The section it lies in: a heading, "Slide 3", "Expenses, rows 2–40",
    /// a chapter, or "Text in image".
    pub section: Option<String>,
    /// Its xRAG token and the bridge that made it (`rag::xrag`): text chunks
    /// only, when a bridge is installed.
    pub xrag: Option<(String, Vec<f32>)>,
}

#[derive(Debug, Clone)]
pub struct NewItem {
    pub kind: Kind,
    pub title: String,
    pub mime: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub labels: Option<String>,
    pub thumbnail: Option<Vec<u8>>,
    /// Time span in the file for a segment of a recording, milliseconds.
    pub span_ms: Option<(i64, i64)>,
    pub chunks: Vec<NewChunk>,
    /// Sentences of the item's text with embeddings (extractive RAG);
    /// empty when not computed at ingest.
    pub sentences: Vec<super::sentences::NewSentence>,
}

#[derive(Debug, Clone)]
pub struct NewFile {
    pub path: String,
    pub size: u64,
    pub mtime: i64,
    pub hash: String,
    /// What the file yields: one item for a document or photo, several
    /// time-spanned segments for a recording.
    pub items: Vec<NewItem>,
    /// Non-fatal problems (e.g. truncated to a size cap), kept as ingest errors.
    pub notes: Vec<String>,
}

impl NewFile {
    /// Why the file's vectors cannot be indexed (NaN or infinity), if they cannot.
    pub fn non_finite_vector(&self) -> Option<String> {
        self.items.iter().flat_map(|it| &it.chunks).enumerate().find_map(|(i, c)| {
            c.vectors
                .iter()
                .find(|(_, v)| v.iter().any(|x| !x.is_finite()))
                .map(|_| format!("the embedding of chunk {} contains NaN or infinity; the file was not indexed", i + 1))
        })
    }
}

#[derive(Debug, Clone)]
pub struct Written {
    pub item_ids: Vec<ItemId>,
    /// Chunk ids of all items, in item order then chunk order.
    pub chunk_ids: Vec<ChunkId>,
    /// (chunk id, item id) pairs that the replaced version had.
    pub removed: Vec<(ChunkId, ItemId)>,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorRow {
    pub path: String,
    pub reason: String,
    pub at: i64,
}

#[derive(Debug, Clone, Default, serde::Serialize, utoipa::ToSchema)]
pub struct Counts {
    pub files: i64,
    pub text_items: i64,
    pub image_items: i64,
    pub audio_items: i64,
    pub video_items: i64,
    /// PDFs, Office documents, spreadsheets, slides and e-books.
    pub document_items: i64,
    /// Images with recognised text (OCR).
    pub ocr_items: i64,
    pub chunks: i64,
    pub vectors: i64,
    pub errors: i64,
}

/// What the text index stores for one chunk.
#[derive(Debug, Clone)]
pub struct ChunkDoc {
    pub chunk_id: ChunkId,
    pub item_id: ItemId,
    pub kind: String,
    pub title: String,
    pub path: String,
    pub text: String,
    pub labels: String,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ItemRow {
    pub id: ItemId,
    pub kind: String,
    pub title: String,
    pub path: String,
    pub size: i64,
    pub mtime: i64,
    pub mime: Option<String>,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub labels: Option<String>,
    pub has_thumbnail: bool,
}

impl ItemRow {
    pub const BY_ID: &'static str = "SELECT i.id, i.kind, i.title, f.path, f.size, f.mtime, i.mime, i.width, i.height, i.labels, \
        EXISTS(SELECT 1 FROM thumbnails t WHERE t.item_id = i.id) FROM items i JOIN files f ON f.id = i.file_id WHERE i.id = ?1";

    pub fn from_row(r: &Row) -> rusqlite::Result<Self> {
        Ok(ItemRow {
            id: r.get(0)?,
            kind: r.get(1)?,
            title: r.get(2)?,
            path: r.get(3)?,
            size: r.get(4)?,
            mtime: r.get(5)?,
            mime: r.get(6)?,
            width: r.get(7)?,
            height: r.get(8)?,
            labels: r.get(9)?,
            has_thumbnail: r.get(10)?,
        })
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ChunkRow {
    pub id: ChunkId,
    pub item_id: ItemId,
    pub ord: i64,
    pub start: i64,
    pub end: i64,
    pub text: String,
    /// Time span in the recording, milliseconds (audio and video).
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    /// PDF page (1-based) and section title (documents).
    pub page: Option<u32>,
    pub section: Option<String>,
}

impl ChunkRow {
    /// Columns `from_row` reads, in order.
    pub const COLS: &'static str =
        "id, item_id, ord, coalesce(byte_start, 0), coalesce(byte_end, 0), coalesce(text, ''), start_ms, end_ms, page, section";
    /// The same from a store made before migration 0010 (read-only opens).
    pub const COLS_BEFORE_PAGES: &'static str =
        "id, item_id, ord, coalesce(byte_start, 0), coalesce(byte_end, 0), coalesce(text, ''), start_ms, end_ms, NULL, NULL";

    pub fn from_row(r: &Row) -> rusqlite::Result<Self> {
        Ok(ChunkRow {
            id: r.get(0)?,
            item_id: r.get(1)?,
            ord: r.get(2)?,
            start: r.get(3)?,
            end: r.get(4)?,
            text: r.get(5)?,
            start_ms: r.get(6)?,
            end_ms: r.get(7)?,
            page: r.get(8)?,
            section: r.get(9)?,
        })
    }
}
