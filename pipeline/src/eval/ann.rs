//! `pith bench ann`: compressed and float vector indexes on raw vectors,
//! measured the way FAISS and hnswlib are (`scripts/ann_reference.py`): build
//! time, bytes per vector, recall@k against exact search, single-threaded
//! queries per second and latency percentiles.
//!
//! Every configuration goes through the same code as the store's indexes:
//! a codec (`quant`), a graph over its codes or an exhaustive scan
//! (`index::codes`), and an optional re-rank of the top `R` with float32 rows
//! read from a file on disk (`index::rerank`).

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use crate::error::Result;
use crate::index::codes::{scan, CodeDist, CodeGraph};
use crate::index::rerank::{exact, RerankFile};
use crate::quant::{self, CodecSpec, Metric};

/// Where base vectors come from: a loaded file, or a generator (the 1M-vector
/// run never holds its floats in memory).
pub trait RowSource: Sync {
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn dim(&self) -> usize;
    fn row(&self, i: usize, out: &mut [f32]);
}

impl RowSource for super::vecfile::Vectors {
    fn len(&self) -> usize {
        super::vecfile::Vectors::len(self)
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn row(&self, i: usize, out: &mut [f32]) {
        out.copy_from_slice(super::vecfile::Vectors::row(self, i));
    }
}

/// Unit vectors around `clusters` Gaussian centres, generated from the row
/// number alone (so ground truth and the index see the same rows without
/// storing them).
pub struct Synthetic {
    pub n: usize,
    pub dim: usize,
    pub clusters: usize,
    pub seed: u64,
}

impl Synthetic {
    fn gauss(seed: u64, i: usize, out: &mut [f32]) {
        let mut rng = crate::quant::Rng::new(seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        for o in out.iter_mut() {
            let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
            let v = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
            *o = ((-2.0 * (u + 1e-12).ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32;
        }
    }
}

impl RowSource for Synthetic {
    fn len(&self) -> usize {
        self.n
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn row(&self, i: usize, out: &mut [f32]) {
        let mut centre = vec![0f32; self.dim];
        Self::gauss(self.seed, usize::MAX - (i % self.clusters.max(1)), &mut centre);
        Self::gauss(self.seed, i, out);
        out.iter_mut().zip(&centre).for_each(|(o, c)| *o = c + 0.5 * *o);
        pith_models::l2_normalize(out);
    }
}

#[derive(Clone, Debug)]
pub struct AnnConfig {
    pub codecs: Vec<CodecSpec>,
    pub efs: Vec<usize>,
    /// Candidates re-ranked with float32 (0 = none).
    pub reranks: Vec<usize>,
    pub k: usize,
    pub metric: Metric,
    /// Walk an HNSW graph over the codes (else scan them all).
    pub graph: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct AnnRow {
    pub codec: String,
    pub index: &'static str,
    pub bytes_per_vector: usize,
    pub rerank: usize,
    pub ef: usize,
    pub build_s: f64,
    pub recall: f64,
    pub qps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub rss_mb: f64,
}

/// Exact top-`k` for every query (all cores).
pub fn ground_truth(base: &dyn RowSource, queries: &[f32], metric: Metric, k: usize) -> Vec<Vec<usize>> {
    let dim = base.dim();
    let nq = queries.len() / dim;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per = base.len().div_ceil(threads);
    let partial: Vec<Vec<Vec<(f32, usize)>>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let mut best: Vec<Vec<(f32, usize)>> = vec![Vec::with_capacity(k + 1); nq];
                    let mut row = vec![0f32; dim];
                    for i in t * per..((t + 1) * per).min(base.len()) {
                        base.row(i, &mut row);
                        for (q, b) in queries.chunks_exact(dim).zip(best.iter_mut()) {
                            let s = exact(q, &row, metric);
                            if b.len() < k || s > b[b.len() - 1].0 {
                                let at = b.partition_point(|(x, _)| *x >= s);
                                b.insert(at, (s, i));
                                b.truncate(k);
                            }
                        }
                    }
                    best
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_default()).collect()
    });
    (0..nq)
        .map(|q| {
            let mut all: Vec<(f32, usize)> = partial.iter().filter_map(|p| p.get(q)).flatten().copied().collect();
            all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            all.into_iter().take(k).map(|(_, i)| i).collect()
        })
        .collect()
}

/// Resident memory of this process in MB (Linux), for the scale run.
pub fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok()))
        .map_or(0.0, |kb| kb / 1024.0)
}

const BATCH: usize = 8192;

/// Run every codec × re-rank × ef and return one row each. `workdir` holds
/// the float32 re-rank file.
pub fn run(base: &dyn RowSource, queries: &[f32], truth: &[Vec<usize>], cfg: &AnnConfig, workdir: &Path) -> Result<Vec<AnnRow>> {
    let (dim, n) = (base.dim(), base.len());
    let needs_rerank = cfg.reranks.iter().any(|r| *r > 0);
    let rerank_file = if needs_rerank {
        let f = RerankFile::create(&workdir.join("base.f32"), dim)?;
        let mut buf = vec![0f32; BATCH * dim];
        for start in (0..n).step_by(BATCH) {
            let m = BATCH.min(n - start);
            for j in 0..m {
                base.row(start + j, &mut buf[j * dim..(j + 1) * dim]);
            }
            f.append(&buf[..m * dim])?;
        }
        Some(f)
    } else {
        None
    };
    let mut rows = Vec::new();
    for spec in &cfg.codecs {
        spec.check_dim(dim)?;
        let t0 = Instant::now();
        let sample_n = n.min(65_536);
        let mut sample = vec![0f32; sample_n * dim];
        // An even stride over the base, so a sorted file still trains on all of it.
        for (j, chunk) in sample.chunks_exact_mut(dim).enumerate() {
            base.row(j * n / sample_n, chunk);
        }
        let codec: Arc<dyn quant::Codec> = Arc::from(quant::train(spec, dim, &sample, Some(queries))?);
        drop(sample);
        let dist = CodeDist::new(codec.clone(), cfg.metric);
        let mut flat = Vec::new();
        let mut graph = cfg.graph.then(|| CodeGraph::new(codec.clone(), cfg.metric, n));
        let mut buf = vec![0f32; dim];
        for start in (0..n).step_by(BATCH) {
            let points: Vec<(Vec<u32>, usize)> = (start..(start + BATCH).min(n))
                .map(|i| {
                    base.row(i, &mut buf);
                    (dist.point(&buf), i)
                })
                .collect();
            match &mut graph {
                Some(g) => g.insert(&points),
                None => points.into_iter().for_each(|(p, _)| flat.extend(p)),
            }
        }
        let build_s = t0.elapsed().as_secs_f64();
        let rss = rss_mb();
        let efs: Vec<usize> = if cfg.graph { cfg.efs.clone() } else { vec![0] };
        for &rr in &cfg.reranks {
            for &ef in &efs {
                let mut lat = Vec::with_capacity(truth.len());
                let mut hits = 0usize;
                let t = Instant::now();
                for (q, want) in queries.chunks_exact(dim).zip(truth) {
                    let tq = Instant::now();
                    let want_n = rr.max(cfg.k);
                    let qw = dist.query(q);
                    let cands = match &graph {
                        Some(g) => g.search(&qw, want_n, ef.max(want_n), None),
                        None => scan(&dist, &flat, &qw, want_n),
                    };
                    let top: Vec<usize> = match (&rerank_file, rr) {
                        (Some(f), r) if r > 0 => {
                            f.rerank(q, cfg.metric, cands.iter().map(|c| c.0), cfg.k)?.into_iter().map(|c| c.0).collect()
                        }
                        _ => cands.iter().take(cfg.k).map(|c| c.0).collect(),
                    };
                    lat.push(tq.elapsed().as_secs_f64() * 1000.0);
                    hits += top.iter().filter(|i| want.iter().take(cfg.k).any(|w| w == *i)).count();
                }
                let secs = t.elapsed().as_secs_f64().max(1e-9);
                rows.push(AnnRow {
                    codec: spec.to_string(),
                    index: if cfg.graph { "hnsw" } else { "scan" },
                    bytes_per_vector: dist.point_words() * 4,
                    rerank: rr,
                    ef,
                    build_s,
                    recall: hits as f64 / (truth.len() * cfg.k).max(1) as f64,
                    qps: truth.len() as f64 / secs,
                    p50_ms: super::percentile(&lat, 50.0),
                    p99_ms: super::percentile(&lat, 99.0),
                    rss_mb: rss,
                });
            }
        }
    }
    Ok(rows)
}
