//! An HNSW graph whose points are codes (`quant::Codec`), not floats: RAM
//! holds the codes and the links. The graph is built with code-to-code
//! distances (`Codec::distance`, popcounts for binary codes) and searched
//! with a prepared float query scored against codes (`Codec::score`, lookup
//! tables for PQ and binary). The graph itself is `index::hnsw`.
//!
//! A point is the code, plus `‖x̂‖²` for L2. A query is the prepared query,
//! then `‖q‖²` (and a pad word should the two lengths ever coincide).
//! Distances may be negative (`−q·x̂` for inner products): the graph orders
//! them with `total_cmp` and never clamps, so no two scores collapse.

use std::path::Path;
use std::sync::Arc;

use super::hnsw::{Dist, Graph};
use crate::error::{io_err, PipelineError, Result};
use crate::quant::{Codec, Metric};

const M: usize = 16;
pub const EF_CONSTRUCTION: usize = 200;

#[derive(Clone)]
pub struct CodeDist {
    codec: Arc<dyn Codec>,
    metric: Metric,
    /// Words of a prepared query, and of a code.
    plen: usize,
    cw: usize,
}

impl CodeDist {
    pub fn new(codec: Arc<dyn Codec>, metric: Metric) -> Self {
        let plen = codec.prepare(&vec![0.0; codec.dim()]).len();
        let cw = codec.code_words();
        CodeDist { codec, metric, plen, cw }
    }

    /// Words of a stored point.
    pub fn point_words(&self) -> usize {
        self.cw + usize::from(self.metric == Metric::L2)
    }

    /// A point for the graph: the code (and `‖x̂‖²` for L2).
    pub fn point(&self, v: &[f32]) -> Vec<u32> {
        let mut p = vec![0u32; self.point_words()];
        self.codec.encode(v, &mut p[..self.cw]);
        if self.metric == Metric::L2 {
            let mut dec = vec![0f32; self.codec.dim()];
            self.codec.decode(&p[..self.cw], &mut dec);
            p[self.cw] = dec.iter().map(|x| x * x).sum::<f32>().to_bits();
        }
        p
    }

    /// A query for the graph (see the module doc for the layout).
    pub fn query(&self, q: &[f32]) -> Vec<u32> {
        let prepared = self.codec.prepare(q);
        debug_assert_eq!(prepared.len(), self.plen);
        let q2: f32 = q.iter().map(|x| x * x).sum();
        let mut w: Vec<u32> = prepared.iter().map(|x| x.to_bits()).collect();
        w.push(q2.to_bits());
        if w.len() == self.point_words() {
            w.push(0);
        }
        w
    }

    /// Distance from a prepared query to a point (smaller is closer).
    pub fn query_distance(&self, query: &[u32], point: &[u32]) -> f32 {
        let p: &[f32] = bytemuck::cast_slice(&query[..self.plen]);
        let s = self.codec.score(p, &point[..self.cw]);
        match self.metric {
            Metric::Dot => -s,
            Metric::L2 => f32::from_bits(query[self.plen]) - 2.0 * s + f32::from_bits(point[self.cw]),
        }
    }

    /// Turn a query distance back into a similarity (cosine for `Dot`,
    /// negative squared distance for `L2`).
    pub fn similarity(&self, _query: &[u32], distance: f32) -> f32 {
        match self.metric {
            Metric::Dot | Metric::L2 => -distance,
        }
    }
}

/// Codes, their labels and pith's HNSW over them.
pub struct CodeGraph {
    pub dist: CodeDist,
    words: usize,
    points: Vec<u32>,
    labels: Vec<usize>,
    graph: Graph,
}

impl CodeGraph {
    pub fn new(codec: Arc<dyn Codec>, metric: Metric, capacity: usize) -> Self {
        let dist = CodeDist::new(codec, metric);
        let words = dist.point_words();
        CodeGraph {
            points: Vec::with_capacity(capacity * words),
            labels: Vec::with_capacity(capacity),
            graph: Graph::new(M, EF_CONSTRUCTION),
            words,
            dist,
        }
    }

    pub fn codec(&self) -> &Arc<dyn Codec> {
        &self.dist.codec
    }

    fn code(&self, node: u32) -> &[u32] {
        &self.points[node as usize * self.words..(node as usize + 1) * self.words]
    }

    /// Insert points made by [`CodeDist::point`], labelled by `usize` ids.
    pub fn insert(&mut self, points: &[(Vec<u32>, usize)]) {
        for (p, label) in points {
            self.points.extend_from_slice(&p[..self.words]);
            self.labels.push(*label);
            let (codec, w, pts) = (&self.dist.codec, self.words, &self.points);
            let cw = codec.code_words();
            let pair =
                |a: u32, b: u32| codec.distance(&pts[a as usize * w..a as usize * w + cw], &pts[b as usize * w..b as usize * w + cw]);
            self.graph.insert(&pair);
        }
    }

    /// The `k` nearest labels to a query made by [`CodeDist::query`], with
    /// their approximate similarity, best first; `keep` filters labels
    /// (the walk still passes through the others).
    pub fn search(&self, query: &[u32], k: usize, ef: usize, keep: Option<&dyn Fn(usize) -> bool>) -> Vec<(usize, f32)> {
        let mut d = |n: u32| self.dist.query_distance(query, self.code(n));
        let keep_node = keep.map(|f| move |n: u32| f(self.labels[n as usize]));
        let found = self.graph.search(&mut d, k, ef, keep_node.as_ref().map(|f| f as &dyn Fn(u32) -> bool));
        found.into_iter().map(|(dist, n)| (self.labels[n as usize], self.dist.similarity(query, dist))).collect()
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    pub fn labels(&self) -> &[usize] {
        &self.labels
    }

    /// RAM for codes, labels and links.
    pub fn ram_bytes(&self) -> usize {
        self.points.len() * 4 + self.labels.len() * 8 + self.graph.link_bytes()
    }

    /// Write codes, labels and links to `path` (atomically: a sibling, then rename).
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC);
        out.extend((self.words as u64).to_le_bytes());
        out.extend((self.labels.len() as u64).to_le_bytes());
        out.extend_from_slice(bytemuck::cast_slice(&self.points));
        for l in &self.labels {
            out.extend((*l as u64).to_le_bytes());
        }
        out.extend(self.graph.to_bytes());
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, &out).map_err(io_err(&tmp))?;
        std::fs::rename(&tmp, path).map_err(io_err(path))
    }

    /// Read what [`save`](Self::save) wrote, with the codec it was built with.
    pub fn load(path: &Path, codec: Arc<dyn Codec>, metric: Metric) -> Result<Self> {
        let b = std::fs::read(path).map_err(io_err(path))?;
        let corrupt = || PipelineError::VectorIndex(format!("{}: corrupt code graph", path.display()));
        let dist = CodeDist::new(codec, metric);
        let words = dist.point_words();
        let word = |at: usize| b.get(at..at + 8).map(|s| u64::from_le_bytes(s.try_into().unwrap_or([0; 8])) as usize);
        if b.get(..4) != Some(MAGIC.as_slice()) || word(4) != Some(words) {
            return Err(PipelineError::VectorIndex(format!("{}: built with another codec", path.display())));
        }
        let n = word(12).ok_or_else(corrupt)?;
        let at = 20;
        let pend = n.checked_mul(words * 4).and_then(|x| x.checked_add(at)).ok_or_else(corrupt)?;
        let lend = n.checked_mul(8).and_then(|x| x.checked_add(pend)).ok_or_else(corrupt)?;
        let points: Vec<u32> =
            b.get(at..pend).ok_or_else(corrupt)?.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        let labels: Vec<usize> = b
            .get(pend..lend)
            .ok_or_else(corrupt)?
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as usize)
            .collect();
        let graph = Graph::from_bytes(&b[lend..]).filter(|g| g.len() == n).ok_or_else(corrupt)?;
        Ok(CodeGraph { dist, words, points, labels, graph })
    }
}

const MAGIC: &[u8; 4] = b"PCG1";

/// Exhaustive scan: the `r` best rows of a flat point buffer for a query,
/// best first, as (row, approximate similarity).
pub fn scan(dist: &CodeDist, points: &[u32], query: &[u32], r: usize) -> Vec<(usize, f32)> {
    let w = dist.point_words();
    let mut heap: std::collections::BinaryHeap<(Dist, usize)> = std::collections::BinaryHeap::with_capacity(r + 1);
    for (row, p) in points.chunks_exact(w).enumerate() {
        let d = dist.query_distance(query, p);
        if heap.len() < r {
            heap.push((Dist(d), row));
        } else if heap.peek().is_some_and(|(top, _)| d < top.0) {
            heap.pop();
            heap.push((Dist(d), row));
        }
    }
    let mut out: Vec<(usize, f32)> = heap.into_iter().map(|(d, row)| (row, dist.similarity(query, d.0))).collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::{self, CodecSpec};

    fn data(n: usize, dim: usize, seed: u64) -> Vec<f32> {
        let mut rng = crate::quant::Rng::new(seed);
        let mut out = Vec::with_capacity(n * dim);
        for i in 0..n {
            let mut v: Vec<f32> =
                (0..dim).map(|j| ((i % 17) as f32 * (j as f32 + 1.0)).sin() + ((rng.next_u64() % 1000) as f32 / 1000.0 - 0.5)).collect();
            pith_models::l2_normalize(&mut v);
            out.extend(v);
        }
        out
    }

    fn graph_of(spec: &str, base: &[f32], dim: usize, metric: Metric) -> CodeGraph {
        let codec: Arc<dyn Codec> = Arc::from(quant::train(&spec.parse::<CodecSpec>().unwrap(), dim, base, None).unwrap());
        let mut g = CodeGraph::new(codec.clone(), metric, base.len() / dim);
        let points: Vec<(Vec<u32>, usize)> = base.chunks_exact(dim).enumerate().map(|(i, v)| (g.dist.point(v), i * 10)).collect();
        g.insert(&points);
        g
    }

    #[test]
    fn graph_search_finds_what_a_scan_finds_and_survives_a_save() {
        let dim = 32;
        let base = data(1500, dim, 1);
        let queries = data(40, dim, 2);
        for (spec, metric) in [("f32", Metric::Dot), ("int8", Metric::L2), ("binary", Metric::Dot)] {
            let g = graph_of(spec, &base, dim, metric);
            let flat: Vec<u32> = base.chunks_exact(dim).flat_map(|v| g.dist.point(v)).collect();
            let mut agree = 0;
            for q in queries.chunks_exact(dim) {
                let qw = g.dist.query(q);
                let scanned: Vec<usize> = scan(&g.dist, &flat, &qw, 10).into_iter().map(|(row, _)| row * 10).collect();
                let walked: Vec<usize> = g.search(&qw, 10, 64, None).into_iter().map(|(l, _)| l).collect();
                agree += walked.iter().filter(|l| scanned.contains(l)).count();
            }
            let recall = agree as f32 / (queries.len() / dim * 10) as f32;
            assert!(recall > 0.9, "{spec}: graph vs scan recall {recall}");
            let d = tempfile::tempdir().unwrap();
            g.save(&d.path().join("g.bin")).unwrap();
            let back = CodeGraph::load(&d.path().join("g.bin"), g.codec().clone(), metric).unwrap();
            let qw = g.dist.query(&queries[..dim]);
            assert_eq!(back.search(&qw, 10, 64, None), g.search(&qw, 10, 64, None), "{spec}");
            // A filter keeps only its labels, and still finds ten of them.
            let keep = |l: usize| l.is_multiple_of(20);
            let hits = g.search(&qw, 10, 64, Some(&keep));
            assert!(hits.len() == 10 && hits.iter().all(|(l, _)| l.is_multiple_of(20)), "{spec}: {hits:?}");
        }
    }

    #[test]
    fn a_truncated_graph_file_is_an_error_not_a_panic() {
        let dim = 16;
        let base = data(300, dim, 3);
        let g = graph_of("int8", &base, dim, Metric::Dot);
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("g.bin");
        g.save(&p).unwrap();
        let bytes = std::fs::read(&p).unwrap();
        for cut in [3, 20, bytes.len() / 2, bytes.len() - 5] {
            std::fs::write(&p, &bytes[..cut]).unwrap();
            assert!(CodeGraph::load(&p, g.codec().clone(), Metric::Dot).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn inner_products_of_long_vectors_are_ranked_not_clamped() {
        // Norms near 100: q·x far above any fixed offset. Every distance
        // used to clamp to 0, so the order was arbitrary.
        let dim = 16;
        let base: Vec<f32> = data(400, dim, 5).into_iter().map(|x| x * 100.0).collect();
        let g = graph_of("f32", &base, dim, Metric::Dot);
        let q: Vec<f32> = base[37 * dim..38 * dim].to_vec();
        let best =
            base.chunks_exact(dim).enumerate().max_by(|a, b| pith_models::dot(&q, a.1).total_cmp(&pith_models::dot(&q, b.1))).unwrap().0;
        let hits = g.search(&g.dist.query(&q), 5, 64, None);
        assert_eq!(hits[0].0, best * 10);
        assert!(hits.windows(2).all(|w| w[0].1 > w[1].1), "{hits:?}");
    }

    #[test]
    fn a_graph_header_with_impossible_values_is_refused() {
        let dim = 16;
        let g = graph_of("int8", &data(100, dim, 6), dim, Metric::Dot);
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("g.bin");
        g.save(&p).unwrap();
        let bytes = std::fs::read(&p).unwrap();
        // The graph section starts after magic, words, n, codes and labels:
        // its first u32 array is the header [m, efc, entry, top].
        let at = 20 + 100 * g.dist.point_words() * 4 + 100 * 8 + 8;
        for (field, value) in [(0usize, 1000u32), (2, 5000), (3, 99)] {
            let mut b = bytes.clone();
            b[at + field * 4..at + field * 4 + 4].copy_from_slice(&value.to_le_bytes());
            std::fs::write(&p, &b).unwrap();
            assert!(CodeGraph::load(&p, g.codec().clone(), Metric::Dot).is_err(), "field {field} = {value}");
        }
    }
}
