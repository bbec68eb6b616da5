//! Search: candidates from BM25 and every vector space a query can reach
//! (`candidates.rs`), hubness correction per space (`crate::hubness`, banks
//! in `banks.rs`), fusion (`fusion.rs`), the calibrated relevance cut-off
//! (`crate::relevance`), then hydration from SQLite. Results are items (a
//! file), each with its best-ranked chunk as the snippet.

mod banks;
mod candidates;
pub mod fusion;
pub mod settings;

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::encoders::space;
use crate::engine::Engine;
use crate::error::{PipelineError, Result};
pub use crate::hubness::Hubness;
use crate::ids::{ChunkId, ItemId, SpaceId};
use crate::relevance::{features, Family};
use crate::snippet::snippet;
pub use crate::types::{Filters, Kind, Weights};
pub use candidates::{ChunkList, EXACT_SCAN_MAX, EXACT_SCAN_SMALL};
pub use fusion::Fusion;

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
    /// Fusion method; the store's `search.fusion` when absent.
    #[serde(default)]
    pub fusion: Option<Fusion>,
    /// Share of dense retrieval in convex fusion (0: BM25 only, 1: vectors
    /// only); the store's `search.semantic-ratio` when absent.
    #[serde(default)]
    pub semantic_ratio: Option<f32>,
    /// Hide hits whose calibrated relevance is below this (0 shows all);
    /// the store's `search.min-relevance` when absent.
    #[serde(default)]
    pub min_relevance: Option<f32>,
    /// Hubness correction for every cross-modal space (overrides each
    /// space's `space.<label>.hubness`).
    #[serde(default)]
    pub hubness: Option<Hubness>,
}

impl SearchRequest {
    pub fn new(q: impl Into<String>, k: usize) -> Self {
        SearchRequest {
            q: q.into(),
            k,
            offset: 0,
            filters: Filters::default(),
            mode: Mode::Hybrid,
            fusion: None,
            semantic_ratio: None,
            min_relevance: None,
            hubness: None,
        }
    }
}

/// A page of hits and how many candidates the relevance cut-off hid.
#[derive(Debug, Clone, Serialize)]
pub struct SearchResults {
    pub hits: Vec<SearchHit>,
    /// Candidates below `min_relevance` ("show weaker matches" reveals them).
    pub hidden: usize,
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
    /// Fused score (comparable within one result list only).
    pub score: f32,
    /// Calibrated probability that the hit is relevant (absent in BM25-only
    /// mode, which embeds no query).
    pub relevance: Option<f32>,
    /// What the relevance was computed from (for `pith calibrate`).
    #[serde(skip)]
    #[schema(ignore)]
    pub features: Option<(Family, crate::relevance::Features)>,
    pub chunk_id: ChunkId,
    pub chunk_start: i64,
    pub chunk_end: i64,
    /// For audio and video: the matched segment's time span in seconds
    /// (play from `start`).
    pub start: Option<f64>,
    pub end: Option<f64>,
    /// For PDFs: the 1-based page the matched chunk lies on.
    pub page: Option<u32>,
    /// For documents: the matched chunk's section (heading, "Slide 3",
    /// "Expenses, rows 2–40", chapter, "Text in image").
    pub section: Option<String>,
    pub thumbnail: Option<String>,
    /// 1-based rank of this item in each list that found it.
    pub ranks: HashMap<String, usize>,
}

/// A relevance, and the family and features it came from.
type Judged = (f32, Family, crate::relevance::Features);

/// A ranked list of chunk hits collapsed to items (first occurrence wins).
struct ItemList {
    name: &'static str,
    weight: f32,
    dense: bool,
    family: Family,
    /// Items best first, with the list's (possibly hubness-corrected) score.
    items: Vec<(ItemId, f32)>,
    best_chunk: HashMap<ItemId, ChunkId>,
    /// Raw cosine of each item's best chunk (dense lists).
    raw: HashMap<ItemId, f32>,
    /// The query's top raw scores, best first (the relevance features).
    top: Vec<f32>,
    query: Option<(SpaceId, Vec<f32>)>,
}

impl Engine {
    pub fn search(&self, req: &SearchRequest) -> Result<Vec<SearchHit>> {
        Ok(self.search_results(req)?.hits)
    }

    /// Hits and the number hidden by the relevance cut-off.
    pub fn search_results(&self, req: &SearchRequest) -> Result<SearchResults> {
        let lists = self.retrieve_chunks(req)?;
        if req.mode != Mode::Bm25 && self.logs_queries() {
            self.log_query(req.q.trim());
        }
        let k = req.k.clamp(1, 1000);
        let opts = self.search_options(req);
        self.fuse_and_hydrate(req.q.trim(), lists, k, req.offset, &opts)
    }

    fn fuse_and_hydrate(&self, q: &str, raw: Vec<ChunkList>, k: usize, offset: usize, opts: &settings::Options) -> Result<SearchResults> {
        let all: Vec<ChunkId> = raw.iter().flat_map(|l| l.hits.iter().map(|h| h.0)).collect::<HashSet<_>>().into_iter().collect();
        // Ids SQLite no longer has (a crash between writes) simply vanish here.
        let owner = self.reader()?.items_of_chunks(&all)?;
        let lists: Vec<ItemList> = raw.into_iter().map(|l| collapse(l, &owner)).collect();
        let fused = match opts.fusion {
            Fusion::Rrf => {
                fusion::rrf(&lists.iter().map(|l| (l.weight, l.items.iter().map(|i| i.0).collect())).collect::<Vec<_>>(), opts.rrf_k)
            }
            Fusion::Convex => fusion::convex(
                &lists.iter().map(|l| fusion::Scored { weight: l.weight, dense: l.dense, hits: l.items.clone() }).collect::<Vec<_>>(),
                opts.semantic_ratio,
            ),
        };
        let relevance = self.relevance(&lists, &fused, opts)?;
        let mut hidden = 0;
        let mut hits = Vec::new();
        let mut skipped = 0;
        for (item_id, score) in fused {
            let judged = relevance.get(&item_id).copied();
            let rel = judged.map(|j| j.0);
            if rel.is_some_and(|r| r < opts.min_relevance) {
                hidden += 1;
                continue;
            }
            if skipped < offset {
                skipped += 1;
                continue;
            }
            if hits.len() >= k {
                continue;
            }
            let mut ranks = HashMap::new();
            let mut chunk = None;
            for l in &lists {
                if let Some(pos) = l.items.iter().position(|i| i.0 == item_id) {
                    ranks.insert(l.name.to_string(), pos + 1);
                    chunk = chunk.or(l.best_chunk.get(&item_id).copied());
                }
            }
            if let Some(mut h) = self.hydrate(q, item_id, chunk, score, rel, ranks)? {
                h.features = judged.map(|j| (j.1, j.2));
                hits.push(h);
            }
        }
        Ok(SearchResults { hits, hidden })
    }

    /// Calibrated relevance of every fused item that a dense list can
    /// judge. An item only BM25 found gets its cosine from its chunk's
    /// stored vector in the first dense space that has one.
    fn relevance(&self, lists: &[ItemList], fused: &[(ItemId, f32)], opts: &settings::Options) -> Result<HashMap<ItemId, Judged>> {
        let mut out = HashMap::new();
        if !lists.iter().any(|l| l.dense) {
            return Ok(out);
        }
        let bm25: HashMap<ItemId, usize> =
            lists.iter().filter(|l| !l.dense).flat_map(|l| l.items.iter().enumerate().map(|(r, i)| (i.0, r + 1))).collect();
        let mut missing = Vec::new();
        for (item, _) in fused {
            let found = lists.iter().filter(|l| l.dense).find_map(|l| l.raw.get(item).map(|s| (l, *s)));
            match found {
                Some((l, s)) => {
                    let f = features(s, &l.top, bm25.get(item).copied());
                    out.insert(*item, (opts.calibration.relevance(l.family, &f), l.family, f));
                }
                None => missing.push(*item),
            }
        }
        if missing.is_empty() {
            return Ok(out);
        }
        let chunk_of: HashMap<ItemId, ChunkId> =
            lists.iter().filter(|l| !l.dense).flat_map(|l| l.best_chunk.iter().map(|(i, c)| (*i, *c))).collect();
        for l in lists.iter().filter(|l| l.dense) {
            let Some((sid, qv)) = &l.query else { continue };
            let want: Vec<ChunkId> = missing.iter().filter(|i| !out.contains_key(i)).filter_map(|i| chunk_of.get(i).copied()).collect();
            if want.is_empty() {
                break;
            }
            let owner: HashMap<ChunkId, ItemId> = missing.iter().filter_map(|i| chunk_of.get(i).map(|c| (*c, *i))).collect();
            for (c, v) in self.reader()?.vectors_by_ids(*sid, &want)? {
                if let Some(item) = owner.get(&c) {
                    let f = features(pith_models::dot(qv, &v), &l.top, bm25.get(item).copied());
                    out.insert(*item, (opts.calibration.relevance(l.family, &f), l.family, f));
                }
            }
        }
        Ok(out)
    }

    fn hydrate(
        &self,
        q: &str,
        item_id: ItemId,
        chunk: Option<ChunkId>,
        score: f32,
        relevance: Option<f32>,
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
            relevance,
            features: None,
            chunk_id: chunk.as_ref().map_or(ChunkId(0), |c| c.id),
            chunk_start: chunk.as_ref().map_or(0, |c| c.start),
            chunk_end: chunk.as_ref().map_or(0, |c| c.end),
            start: chunk.as_ref().and_then(|c| c.start_ms).map(|v| v as f64 / 1000.0),
            end: chunk.as_ref().and_then(|c| c.end_ms).map(|v| v as f64 / 1000.0),
            page: chunk.as_ref().and_then(|c| c.page),
            section: chunk.as_ref().and_then(|c| c.section.clone()),
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
        let v = self.embed_image(img)?;
        let (_, ix) = self.space(space::VISUAL).ok_or_else(|| PipelineError::NotFound("visual space".into()))?;
        self.search_vector(space::VISUAL, ix.as_ref(), &v, k)
    }

    /// An image's unit-length vector in the visual space (what search by
    /// image queries with; `/v1/embeddings` with `pith-image`).
    pub fn embed_image(&self, img: &image::DynamicImage) -> Result<Vec<f32>> {
        let enc = self.encoders()?;
        let prep = enc.image.prep.prepare(img);
        let mut out = enc.image.encode(vec![prep])?;
        let mut v = out.pop().map(|o| o.features).unwrap_or_default();
        pith_models::l2_normalize(&mut v);
        Ok(v)
    }

    /// "More like this" and search by image: one list, no cut-off (the
    /// calibration is for text queries).
    fn search_vector(&self, name: &'static str, ix: &dyn crate::index::AnnIndex, v: &[f32], k: usize) -> Result<Vec<SearchHit>> {
        let k = k.clamp(1, 1000);
        let hits = candidates::ranked(ix.search(v, k, None));
        let list =
            ChunkList { name, weight: 1.0, dense: false, family: Family::Text, hits, top: Vec::new(), raw: HashMap::new(), query: None };
        let opts = settings::Options { min_relevance: 0.0, fusion: Fusion::Rrf, ..self.search_options(&SearchRequest::new("", k)) };
        Ok(self.fuse_and_hydrate("", vec![list], k, 0, &opts)?.hits)
    }
}

/// Collapse a chunk list to items: an item's first (best) chunk stands for it.
fn collapse(l: ChunkList, owner: &HashMap<ChunkId, ItemId>) -> ItemList {
    let mut items = Vec::new();
    let mut best_chunk = HashMap::new();
    let mut raw = HashMap::new();
    for (c, s) in l.hits {
        if let Some(&it) = owner.get(&c) {
            if let std::collections::hash_map::Entry::Vacant(e) = best_chunk.entry(it) {
                e.insert(c);
                items.push((it, s));
                if let Some(r) = l.raw.get(&c) {
                    raw.insert(it, *r);
                }
            }
        }
    }
    ItemList { name: l.name, weight: l.weight, dense: l.dense, family: l.family, items, best_chunk, raw, top: l.top, query: l.query }
}
