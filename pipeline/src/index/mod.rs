//! Derived indexes: BM25 text (`text`) and approximate nearest neighbours
//! over each embedding space (`vector`, behind the [`AnnIndex`] trait).
//!
//! [`AnnIndex`] is the seam for vector indexes: float32 in hnsw_rs
//! (`vector`, the default), compressed codes in pith's own graph (`coded`,
//! over `codes` + `hnsw` + `rerank`), later a remote engine. The engine only
//! ever talks to this trait. Keys
//! are chunk ids; scores are cosine similarities (vectors are unit length).

pub mod coded;
pub mod codes;
pub mod hnsw;
pub mod rerank;
pub mod text;
pub mod vector;

use std::collections::HashSet;
use std::path::Path;

use crate::error::Result;
use crate::ids::ChunkId;

/// Vectors for one rebuild, pushed in batches by the caller.
pub type Feed<'a> = &'a mut dyn FnMut(&mut dyn FnMut(&[(ChunkId, Vec<f32>)])) -> Result<()>;

/// Memory and disk use of one space's index.
#[derive(Clone, Debug, Default, serde::Serialize, utoipa::ToSchema)]
pub struct IndexFootprint {
    pub codec: String,
    /// What one vector costs in RAM (its code).
    pub bytes_per_vector: usize,
    /// Codes, links and id maps.
    pub ram_bytes: usize,
    pub disk_bytes: u64,
}

impl IndexFootprint {
    fn human(b: u64) -> String {
        match b {
            0..1_000 => format!("{b} B"),
            1_000..1_000_000 => format!("{:.1} KB", b as f64 / 1e3),
            1_000_000..1_000_000_000 => format!("{:.1} MB", b as f64 / 1e6),
            _ => format!("{:.2} GB", b as f64 / 1e9),
        }
    }
    /// Index RAM for people ("1.1 MB").
    pub fn ram_text(&self) -> String {
        Self::human(self.ram_bytes as u64)
    }
    /// On-disk size for people.
    pub fn disk_text(&self) -> String {
        Self::human(self.disk_bytes)
    }
}

pub trait AnnIndex: Send + Sync {
    fn dim(&self) -> usize;
    /// Add vectors (ids already present are ignored).
    fn insert(&self, items: &[(ChunkId, Vec<f32>)]);
    /// Remove ids (they never come back from `search`).
    fn remove(&self, ids: &[ChunkId]);
    /// Top `k` (id, cosine), restricted to `allowed` when given.
    fn search(&self, q: &[f32], k: usize, allowed: Option<&HashSet<ChunkId>>) -> Vec<(ChunkId, f32)>;
    /// Ids that `search` can return.
    fn live_ids(&self) -> HashSet<ChunkId>;
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Whether deletions have piled up enough to rebuild.
    fn needs_compaction(&self) -> bool;
    /// Replace the contents with exactly what `feed` yields. Inserts and
    /// removals made while the feed runs must not be lost, and searches must
    /// keep working meanwhile.
    fn rebuild(&self, capacity: usize, feed: Feed<'_>) -> Result<()>;
    /// Persist to `dir` (atomically; searches go on meanwhile).
    fn save(&self, dir: &Path) -> Result<()>;
    /// Codec, bytes per vector, RAM and disk use (for `pith status`).
    fn footprint(&self) -> IndexFootprint;
}
