//! `pith eval filtered`: does a selective filter keep recall? The corpus of
//! a BEIR set is ingested into `buckets` folders (`b00/…`, by a hash of the
//! document id), so a path filter on one folder matches `1/buckets` of the
//! items. For every query, the exact answer is a brute-force scan of the
//! text vectors inside the filter; it is compared (recall@10, items) with
//! pith's filtered vector search, and with the graph path alone (filtered
//! HNSW with oversampling, which pith uses when the filter is not selective;
//! see `search::EXACT_SCAN_MAX`).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use crate::encoders::space;
use crate::engine::{Engine, EngineConfig};
use crate::error::{io_err, PipelineError, Result};
use crate::ids::{ChunkId, ItemId};
use crate::index::vector::exact_top_k;
use crate::ingest::{ingest_documents, Progress};
use crate::search::{Filters, Mode, SearchRequest};

#[derive(Debug, Serialize)]
pub struct FilteredReport {
    pub queries: usize,
    pub items: i64,
    pub items_in_filter: usize,
    pub filter_fraction: f64,
    /// pith's filtered vector search (exact scan at this size) vs brute force.
    pub recall_at_10_pith: f64,
    /// The filtered graph walk alone vs brute force.
    pub recall_at_10_graph: f64,
    /// Unfiltered top-100 then filtered (what a post-filter would give).
    pub recall_at_10_postfilter: f64,
}

fn bucket(id: &str, buckets: u64) -> u64 {
    u64::from_le_bytes(blake3::hash(id.as_bytes()).as_bytes()[..8].try_into().unwrap_or([0; 8])) % buckets
}

pub fn run(
    dir: &Path,
    cfg_template: &EngineConfig,
    fraction: f64,
    store_dir: Option<PathBuf>,
    progress: &dyn Progress,
) -> Result<FilteredReport> {
    if !(0.0..=1.0).contains(&fraction) || fraction == 0.0 {
        return Err(PipelineError::BadInput("--fraction must be in (0, 1]".into()));
    }
    let buckets = (1.0 / fraction).round().max(1.0) as u64;
    let set = super::beir::load(dir)?;
    let tmp = tempfile::tempdir().map_err(io_err(std::env::temp_dir()))?;
    let mut cfg = cfg_template.clone();
    cfg.data_dir = store_dir.unwrap_or_else(|| tmp.path().join("store"));
    let engine = Engine::open(cfg)?;
    if engine.status(0)?.counts.files != set.corpus.len() as i64 {
        let docs = set.corpus.into_iter().map(|(id, title, text)| (format!("b{:02}/{id}", bucket(&id, buckets)), title, text)).collect();
        ingest_documents(&engine, docs, progress)?;
    }
    let filters = Filters { path_prefix: Some("b00/".into()), ..Default::default() };
    let allowed: Arc<HashSet<ChunkId>> = Arc::new(engine.reader()?.chunk_ids_matching(&filters)?);
    let (sid, ix) = engine.space(space::TEXT).ok_or_else(|| PipelineError::NotFound("text space".into()))?;
    let ids: Vec<ChunkId> = allowed.iter().copied().collect();
    let vecs = engine.reader()?.vectors_by_ids(sid, &ids)?;
    let enc = engine.encoders()?;
    let items = |chunks: Vec<ChunkId>| -> Result<Vec<ItemId>> {
        let owner = engine.reader()?.items_of_chunks(&chunks)?;
        let mut seen = HashSet::new();
        Ok(chunks.iter().filter_map(|c| owner.get(c).copied()).filter(|i| seen.insert(*i)).take(10).collect())
    };
    let recall = |got: &[ItemId], want: &[ItemId]| -> f64 {
        if want.is_empty() {
            return 1.0;
        }
        want.iter().filter(|w| got.contains(w)).count() as f64 / want.len() as f64
    };
    let (mut r_pith, mut r_graph, mut r_post, mut n) = (0.0, 0.0, 0.0, 0usize);
    let mut qids: Vec<&String> = set.qrels.keys().filter(|q| set.queries.contains_key(*q)).collect();
    qids.sort();
    for qid in qids {
        let q = &set.queries[qid];
        let qv = enc.text.embed_one(q)?;
        let exact = items(exact_top_k(&qv, 100, vecs.iter().cloned()).into_iter().map(|(c, _)| c).collect())?;
        let graph = items(ix.search(&qv, 100, Some(&allowed)).into_iter().map(|(c, _)| c).collect())?;
        let post = items(ix.search(&qv, 100, None).into_iter().map(|(c, _)| c).filter(|c| allowed.contains(c)).collect())?;
        let req = SearchRequest { filters: filters.clone(), mode: Mode::Vector, ..SearchRequest::new(q.clone(), 10) };
        let pith: Vec<ItemId> = engine.search(&req)?.into_iter().map(|h| h.id).collect();
        r_pith += recall(&pith, &exact);
        r_graph += recall(&graph, &exact);
        r_post += recall(&post, &exact);
        n += 1;
    }
    let nf = n.max(1) as f64;
    let total = engine.status(0)?.counts.files;
    Ok(FilteredReport {
        queries: n,
        items: total,
        items_in_filter: allowed.len(),
        filter_fraction: allowed.len() as f64 / (total.max(1) as f64),
        recall_at_10_pith: r_pith / nf,
        recall_at_10_graph: r_graph / nf,
        recall_at_10_postfilter: r_post / nf,
    })
}
