//! `pith bench rescoring`: what hubness correction and the relevance
//! cut-off add to a query, at a gallery size the user picks (synthetic
//! clustered unit vectors, `eval::ann::Synthetic`). Candidate generation
//! (the graph walk) is not part of it: each query's top candidates are
//! given, and only the rescoring, re-sorting and relevance features and
//! model over them are timed, as a search runs them.

use std::time::Instant;

use serde::Serialize;

use super::ann::{RowSource, Synthetic};
use crate::hubness::{HubParams, HubTable, Hubness};
use crate::ids::ChunkId;
use crate::relevance::{features, Calibration, Family, TOP_K};

#[derive(Debug, Clone, Serialize)]
pub struct OverheadRow {
    pub hubness: Hubness,
    pub candidates: usize,
    pub p50_us: f64,
    pub p95_us: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct OverheadReport {
    pub items: usize,
    pub dim: usize,
    pub bank: usize,
    pub table_build_s: f64,
    pub rows: Vec<OverheadRow>,
}

/// `items` gallery vectors, a bank of `bank` vectors from the same
/// distribution, `queries` queries with `candidates` candidates each.
pub fn run(items: usize, dim: usize, bank: usize, queries: usize, candidates: usize) -> OverheadReport {
    let gen = Synthetic { n: items + bank + queries, dim, clusters: (items / 100).clamp(10, 10_000), seed: 7 };
    let row = |i: usize| {
        let mut v = vec![0f32; dim];
        gen.row(i, &mut v);
        v
    };
    let gallery: Vec<(ChunkId, Vec<f32>)> = (0..items).map(|i| (ChunkId(i as i64 + 1), row(i))).collect();
    let bank_v: Vec<Vec<f32>> = (items..items + bank).map(row).collect();
    let t = Instant::now();
    let table = HubTable::build(dim, &bank_v, "bench".into(), &gallery, HubParams::default());
    let table_build_s = t.elapsed().as_secs_f64();
    let cal = Calibration::default();
    // Candidates: a deterministic spread of the gallery, scored exactly.
    let lists: Vec<Vec<(ChunkId, f32)>> = (0..queries)
        .map(|qi| {
            let q = row(items + bank + qi);
            let step = (items / candidates.max(1)).max(1);
            let mut hits: Vec<(ChunkId, f32)> = (0..candidates)
                .map(|j| {
                    let (id, v) = &gallery[(qi * 31 + j * step) % items];
                    (*id, pith_models::dot(&q, v))
                })
                .collect();
            hits.sort_by(|a, b| b.1.total_cmp(&a.1));
            hits
        })
        .collect();
    let mut rows = Vec::new();
    for method in Hubness::ALL {
        let mut lat = Vec::with_capacity(queries);
        let mut sink = 0f32;
        for l in &lists {
            let mut hits = l.clone();
            let t = Instant::now();
            let top: Vec<f32> = hits.iter().take(TOP_K).map(|h| h.1).collect();
            let raw: std::collections::HashMap<ChunkId, f32> = hits.iter().copied().collect();
            table.rescore(method, &mut hits);
            for (id, _) in &hits {
                let s = raw[id];
                sink += cal.relevance(Family::Cross, &features(s, &top, None));
            }
            lat.push(t.elapsed().as_secs_f64() * 1e6);
        }
        std::hint::black_box(sink);
        rows.push(OverheadRow {
            hubness: method,
            candidates,
            p50_us: super::percentile(&lat, 50.0),
            p95_us: super::percentile(&lat, 95.0),
        });
    }
    OverheadReport { items, dim, bank, table_build_s, rows }
}
