//! Candidates: each retriever's ranked chunks with scores, filtered, before
//! fusion. Dense lists carry their raw cosines (the relevance features) and,
//! in cross-modal spaces, scores corrected for hubness.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::{Mode, SearchRequest};
use crate::encoders::space;
use crate::engine::Engine;
use crate::error::{PipelineError, Result};
use crate::hubness::Hubness;
use crate::ids::{ChunkId, SpaceId};
use crate::index::vector::exact_top_k;
use crate::relevance::{Family, TOP_K};
use crate::types::Kind;

/// One retriever's ranked chunks (best first) with scores and fusion weight.
#[derive(Debug, Clone)]
pub struct ChunkList {
    pub name: &'static str,
    pub weight: f32,
    /// A vector list (else BM25).
    pub dense: bool,
    pub family: Family,
    /// Chunks best first with the score they are ranked by (a cosine, a
    /// hubness-corrected cosine, or BM25).
    pub hits: Vec<(ChunkId, f32)>,
    /// The query's top raw cosines in this list, best first.
    pub top: Vec<f32>,
    /// Raw cosine per chunk (dense lists).
    pub raw: HashMap<ChunkId, f32>,
    /// The space and query vector (to score chunks this list did not return).
    pub query: Option<(SpaceId, Vec<f32>)>,
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

/// Best first, ties by chunk id: the same index contents always give the
/// same order, whatever order the index found them in.
pub fn ranked(mut hits: Vec<(ChunkId, f32)>) -> Vec<(ChunkId, f32)> {
    hits.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    hits
}

impl Engine {
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
            let mut dense = |name: &'static str, weight: f32, family: Family, v: Vec<f32>| -> Result<()> {
                if let Some(l) = self.vector_hits(name, weight, family, v, n, allowed, req.hubness)? {
                    raw.push(l);
                }
                Ok(())
            };
            // Photos' words (OCR) are in the text space too, but under the
            // `image` filter nearly all allowed chunks are pictures, which
            // the text space lacks: BM25 finds the words there, and the
            // `textimage` filter searches the text space.
            if kind != Some(Kind::Image) {
                dense(space::TEXT, w.text, Family::Text, qv.clone())?;
            }
            if !kind.is_some_and(|k| k.is_textual()) {
                dense(space::CONSE, w.conse, Family::Cross, qv.clone())?;
                if let Some(clip) = &enc.clip {
                    let cv = clip.embed_texts(&[q])?.pop().unwrap_or_default();
                    dense(space::CLIP, w.clip, Family::Cross, cv)?;
                }
            }
            // Sounds (a user-supplied CLAP model) are in recordings and videos.
            if let (Some(clap), None | Some(Kind::Audio) | Some(Kind::Video)) = (&enc.clap, kind) {
                let av = clap.embed_texts(&[q])?.pop().unwrap_or_default();
                dense(space::CLAP, w.clip, Family::Cross, av)?;
            }
        }
        if req.mode != Mode::Vector {
            let hits = ranked(self.text.search(q, n, allowed)?);
            raw.push(ChunkList {
                name: "bm25",
                weight: w.bm25,
                dense: false,
                family: Family::Text,
                top: Vec::new(),
                raw: HashMap::new(),
                query: None,
                hits,
            });
        }
        Ok(raw)
    }

    /// Top chunks of one space. Items with many chunks (a long video, a
    /// book) would fill `n` chunk slots alone and push short items out of the
    /// list before it is collapsed to items, so more chunks are taken: all
    /// the exact scan ranks cheaply (8×), twice as many from the graph.
    #[allow(clippy::too_many_arguments)]
    fn vector_hits(
        &self,
        name: &'static str,
        weight: f32,
        family: Family,
        q: Vec<f32>,
        n: usize,
        allowed: Option<&Arc<HashSet<ChunkId>>>,
        hubness: Option<Hubness>,
    ) -> Result<Option<ChunkList>> {
        let Some((sid, ix)) = self.space(name) else { return Ok(None) };
        let hits = match allowed {
            Some(a) if exact_scan(a.len(), ix.len()) => {
                let ids: Vec<ChunkId> = a.iter().copied().collect();
                let vecs = self.reader()?.vectors_by_ids(sid, &ids)?;
                exact_top_k(&q, n * 8, vecs)
            }
            other => ix.search(&q, n * 2, other.map(|a| a.as_ref())),
        };
        let mut hits = ranked(hits);
        let top: Vec<f32> = hits.iter().take(TOP_K).map(|h| h.1).collect();
        let raw: HashMap<ChunkId, f32> = hits.iter().copied().collect();
        let method = if family == Family::Cross { hubness.unwrap_or_else(|| self.hubness_of(name)) } else { Hubness::None };
        if method != Hubness::None {
            self.with_hub_table(sid, name, |t| t.rescore(method, &mut hits))?;
        }
        Ok(Some(ChunkList { name, weight, dense: true, family, hits, top, raw, query: Some((sid, q)) }))
    }
}
