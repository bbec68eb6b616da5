//! Hybrid search: BM25 plus every vector space a query can reach, fused by
//! reciprocal rank fusion, then filtered and hydrated from SQLite. Results are
//! items (a file), each with the best-ranked chunk as its snippet.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::encoders::space;
use crate::engine::Engine;
use crate::error::{PipelineError, Result};
use crate::fusion::rrf;
use crate::ids::{ChunkId, ItemId};
use crate::index::vector::exact_top_k;
use crate::snippet::snippet;
pub use crate::types::{Filters, Kind, Weights};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Hybrid,
    Bm25,
    Vector,
}

impl Mode {
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "hybrid" => Some(Mode::Hybrid),
            "bm25" => Some(Mode::Bm25),
            "vector" => Some(Mode::Vector),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SearchRequest {
    pub q: String,
    pub k: usize,
    #[serde(default)]
    pub offset: usize,
    #[serde(default)]
    pub filters: Filters,
    #[serde(default)]
    pub mode: Mode,
}

impl SearchRequest {
    pub fn new(q: impl Into<String>, k: usize) -> Self {
        SearchRequest { q: q.into(), k, offset: 0, filters: Filters::default(), mode: Mode::Hybrid }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SearchHit {
    pub id: ItemId,
    pub kind: String,
    pub path: String,
    pub title: String,
    pub snippet: String,
    /// Byte ranges `[start, end)` inside `snippet` that matched query terms.
    #[schema(value_type = Vec<Vec<u64>>)]
    pub highlights: Vec<(usize, usize)>,
    pub score: f32,
    pub chunk_id: ChunkId,
    pub chunk_start: i64,
    pub chunk_end: i64,
    /// For audio and video: the matched segment's time span in seconds
    /// (play from `start`).
    pub start: Option<f64>,
    pub end: Option<f64>,
    pub thumbnail: Option<String>,
    /// 1-based rank of this item in each list that found it.
    pub ranks: HashMap<String, usize>,
}

/// One retriever's ranked chunk ids (best first), with its fusion weight.
#[derive(Debug, Clone)]
pub struct ChunkList {
    pub name: &'static str,
    pub weight: f32,
    pub chunks: Vec<ChunkId>,
}

/// A ranked list of chunk hits collapsed to items (first occurrence wins).
struct ItemList {
    name: &'static str,
    weight: f32,
    items: Vec<ItemId>,
    best_chunk: HashMap<ItemId, ChunkId>,
}

/// A filtered vector search scans the matching chunks exactly (their
/// vectors read from SQLite) when they are few: at most `EXACT_SCAN_SMALL`,
/// or at most `EXACT_SCAN_MAX` when they are also under a tenth of the
/// space. There a graph walk would skip almost every node it visits; above
/// it the filtered graph walk (wider as the filter narrows) is cheaper.
pub const EXACT_SCAN_SMALL: usize = 2_000;
pub const EXACT_SCAN_MAX: usize = 20_000;

fn exact_scan(allowed: usize, live: usize) -> bool {
    allowed <= EXACT_SCAN_SMALL || (allowed <= EXACT_SCAN_MAX && allowed * 10 <= live)
}

impl Engine {
    pub fn search(&self, req: &SearchRequest) -> Result<Vec<SearchHit>> {
        let lists = self.retrieve_chunks(req)?;
        let k = req.k.clamp(1, 1000);
        self.fuse_and_hydrate(req.q.trim(), lists, k, req.offset)
    }

    /// Candidates per retriever (BM25 and every vector space the query can
    /// reach), filtered, before fusion and hydration: the seam for callers
    /// that want chunks rather than items (RAG context).
    pub fn retrieve_chunks(&self, req: &SearchRequest) -> Result<Vec<ChunkList>> {
        let q = req.q.trim();
        if q.is_empty() {
            return Err(PipelineError::BadInput("empty query".into()));
        }
        if q.len() > 4096 {
            return Err(PipelineError::BadInput("query longer than 4096 bytes".into()));
        }
        let k = req.k.clamp(1, 1000);
        // Each list contributes its top 100 (or more for deep pages), as in the usual RRF setup.
        let n = (k + req.offset).max(100);
        let allowed = if req.filters.is_empty() { None } else { Some(Arc::new(self.reader()?.chunk_ids_matching(&req.filters)?)) };
        if allowed.as_ref().is_some_and(|a| a.is_empty()) {
            return Ok(Vec::new());
        }
        let allowed = allowed.as_ref();
        let kind = req.filters.kind;
        let w = &self.cfg.weights;
        let mut raw: Vec<ChunkList> = Vec::new();
        if req.mode != Mode::Bm25 {
            let enc = self.encoders()?;
            let qv = enc.text.embed_one(q)?;
            if kind != Some(Kind::Image) {
                raw.push(ChunkList { name: "text", weight: w.text, chunks: self.vector_hits(space::TEXT, &qv, n, allowed)? });
            }
            if kind != Some(Kind::Text) {
                raw.push(ChunkList { name: "conse", weight: w.conse, chunks: self.vector_hits(space::CONSE, &qv, n, allowed)? });
                if let Some(clip) = &enc.clip {
                    let cv = clip.embed_texts(&[q])?.pop().unwrap_or_default();
                    raw.push(ChunkList { name: "clip", weight: w.clip, chunks: self.vector_hits(space::CLIP, &cv, n, allowed)? });
                }
            }
            // Sounds (a user-supplied CLAP model) are in recordings and videos.
            if let (Some(clap), None | Some(Kind::Audio) | Some(Kind::Video)) = (&enc.clap, kind) {
                let av = clap.embed_texts(&[q])?.pop().unwrap_or_default();
                raw.push(ChunkList { name: "clap", weight: w.clip, chunks: self.vector_hits(space::CLAP, &av, n, allowed)? });
            }
        }
        // BM25 goes last: RRF breaks ties by first appearance, so an item the
        // vector search ranks r beats one BM25 alone ranks r (vector retrieval
        // is the stronger single signal on every set we measured).
        if req.mode != Mode::Vector {
            let hits = self.text.search(q, n, allowed)?;
            raw.push(ChunkList { name: "bm25", weight: w.bm25, chunks: hits.into_iter().map(|(id, _)| id).collect() });
        }
        Ok(raw)
    }

    /// Top chunks of one space. Items with many chunks (a long video, a
    /// book) would fill `n` chunk slots alone and push short items out of the
    /// list before it is collapsed to items, so more chunks are taken: all
    /// the exact scan ranks cheaply (8×), twice as many from the graph.
    fn vector_hits(&self, space: &str, q: &[f32], n: usize, allowed: Option<&Arc<HashSet<ChunkId>>>) -> Result<Vec<ChunkId>> {
        let Some((sid, ix)) = self.space(space) else { return Ok(Vec::new()) };
        let hits = match allowed {
            Some(a) if exact_scan(a.len(), ix.len()) => {
                let ids: Vec<ChunkId> = a.iter().copied().collect();
                let vecs = self.reader()?.vectors_by_ids(sid, &ids)?;
                exact_top_k(q, n * 8, vecs)
            }
            other => ix.search(q, n * 2, other.map(|a| a.as_ref())),
        };
        Ok(hits.into_iter().map(|(id, _)| id).collect())
    }

    fn fuse_and_hydrate(&self, q: &str, raw: Vec<ChunkList>, k: usize, offset: usize) -> Result<Vec<SearchHit>> {
        let all: Vec<ChunkId> = raw.iter().flat_map(|l| l.chunks.iter().copied()).collect::<HashSet<_>>().into_iter().collect();
        // Ids SQLite no longer has (a crash between writes) simply vanish here.
        let owner = self.reader()?.items_of_chunks(&all)?;
        let lists: Vec<ItemList> = raw
            .into_iter()
            .map(|ChunkList { name, weight, chunks: ids }| {
                let mut items = Vec::new();
                let mut best_chunk = HashMap::new();
                for c in ids {
                    if let Some(&it) = owner.get(&c) {
                        if let std::collections::hash_map::Entry::Vacant(e) = best_chunk.entry(it) {
                            e.insert(c);
                            items.push(it);
                        }
                    }
                }
                ItemList { name, weight, items, best_chunk }
            })
            .collect();
        let fused = rrf(&lists.iter().map(|l| (l.weight, l.items.clone())).collect::<Vec<_>>(), self.cfg.rrf_k);
        let mut hits = Vec::new();
        for (item_id, score) in fused.into_iter().skip(offset).take(k) {
            let mut ranks = HashMap::new();
            let mut chunk = None;
            for l in &lists {
                if let Some(pos) = l.items.iter().position(|&i| i == item_id) {
                    ranks.insert(l.name.to_string(), pos + 1);
                    if chunk.is_none() || ranks.len() == 1 {
                        chunk = chunk.or(l.best_chunk.get(&item_id).copied());
                    }
                }
            }
            if let Some(h) = self.hydrate(q, item_id, chunk, score, ranks)? {
                hits.push(h);
            }
        }
        Ok(hits)
    }

    fn hydrate(
        &self,
        q: &str,
        item_id: ItemId,
        chunk: Option<ChunkId>,
        score: f32,
        ranks: HashMap<String, usize>,
    ) -> Result<Option<SearchHit>> {
        let store = self.reader()?;
        let Some(item) = store.item(item_id)? else { return Ok(None) };
        let chunk = match chunk {
            Some(c) => store.chunk(c)?,
            None => store.first_chunk_of_item(item_id)?,
        };
        drop(store);
        let (snip, highlights) = match &chunk {
            Some(c) if !c.text.is_empty() => snippet(&c.text, q, 240),
            _ => (item.labels.clone().unwrap_or_default(), Vec::new()),
        };
        Ok(Some(SearchHit {
            id: item.id,
            thumbnail: item.has_thumbnail.then(|| format!("/api/items/{}/thumbnail", item.id)),
            kind: item.kind,
            path: item.path,
            title: item.title,
            snippet: snip,
            highlights,
            score,
            chunk_id: chunk.as_ref().map_or(ChunkId(0), |c| c.id),
            chunk_start: chunk.as_ref().map_or(0, |c| c.start),
            chunk_end: chunk.as_ref().map_or(0, |c| c.end),
            start: chunk.as_ref().and_then(|c| c.start_ms).map(|v| v as f64 / 1000.0),
            end: chunk.as_ref().and_then(|c| c.end_ms).map(|v| v as f64 / 1000.0),
            ranks,
        }))
    }

    /// Items like this one: image→image in the visual space, text→text in the text space.
    pub fn similar(&self, item_id: ItemId, k: usize) -> Result<Vec<SearchHit>> {
        let item = self.item(item_id)?;
        let space_name = if item.kind == "image" { space::VISUAL } else { space::TEXT };
        let (sid, ix) = self.space(space_name).ok_or_else(|| PipelineError::NotFound(format!("space {space_name}")))?;
        let chunk = self.reader()?.first_chunk_of_item(item_id)?.ok_or_else(|| PipelineError::NotFound(format!("item {item_id}")))?;
        let v = self
            .reader()?
            .vector(chunk.id, sid)?
            .ok_or_else(|| PipelineError::NotFound(format!("no {space_name} vector for item {item_id}")))?;
        self.search_vector(space_name, ix.as_ref(), &v, k)
    }

    /// Search by an uploaded image: decoded by the same bounded decoder as
    /// ingest (`decode::image::decode_bytes`), so the same limits hold.
    pub fn search_by_image_bytes(&self, bytes: &[u8], k: usize) -> Result<Vec<SearchHit>> {
        let img = crate::decode::image::decode_bytes(bytes)?;
        self.search_by_image(&img, k)
    }

    /// Images that look like the given one (search by image).
    pub fn search_by_image(&self, img: &image::DynamicImage, k: usize) -> Result<Vec<SearchHit>> {
        let enc = self.encoders()?;
        let prep = enc.image.prep.prepare(img);
        let mut out = enc.image.encode(vec![prep])?;
        let mut v = out.pop().map(|o| o.features).unwrap_or_default();
        pith_models::l2_normalize(&mut v);
        let (_, ix) = self.space(space::VISUAL).ok_or_else(|| PipelineError::NotFound("visual space".into()))?;
        self.search_vector(space::VISUAL, ix.as_ref(), &v, k)
    }

    fn search_vector(&self, name: &'static str, ix: &dyn crate::index::AnnIndex, v: &[f32], k: usize) -> Result<Vec<SearchHit>> {
        let k = k.clamp(1, 1000);
        let ids: Vec<ChunkId> = ix.search(v, k, None).into_iter().map(|(id, _)| id).collect();
        self.fuse_and_hydrate("", vec![ChunkList { name, weight: 1.0, chunks: ids }], k, 0)
    }
}
