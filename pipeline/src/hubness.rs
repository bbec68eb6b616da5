//! Hubness: in cross-modal search a few gallery items (images, segments) sit
//! close to almost every query and crowd every result list, while others are
//! never found. This module measures it and corrects it at query time.
//!
//! Every correction rescales a candidate's raw cosine `s(q, x)` with
//! statistics of the gallery item `x` against a **query bank** `B` (text
//! pith has: ConSE's class prompts, chunk text in the store), computed when
//! the item is indexed, so a search only rescores its top candidates:
//!
//! - **CSLS** (Conneau et al., 2018): `2·s(q,x) − r_B(x) − r_G(q)`, with
//!   `r_B(x)` the mean cosine of `x` to its `k` nearest bank queries and
//!   `r_G(q)` the mean cosine of `q` to its `k` nearest candidates (a
//!   constant per query: it does not change the ranking but keeps scores
//!   comparable across queries).
//! - **QB-Norm**, dynamic inverted softmax (Bogolin et al., CVPR 2022):
//!   `exp(β·s(q,x)) / Σ_{b∈B} exp(β·s(b,x))`, applied only when the query's
//!   raw top-1 lies in the activation set (the gallery items that are some
//!   bank query's top-1); otherwise the raw scores stand. We rank by the log,
//!   `β·s(q,x) − log Σ_b exp(β·s(b,x))`.
//! - **DBNorm**, dual inverted softmax (Wang et al., "Balance Act", EMNLP
//!   2023): a query bank and a **gallery bank** `G` (a sample of the indexed
//!   items), `exp(β₁·s)/Z_B(x) · exp(β₂·s)/Z_G(x)` with
//!   `Z_G(x) = Σ_{g∈G} exp(β₂·s(g,x))`, an item–item term; both denominators
//!   depend on the item only, so we rank by
//!   `(β₁+β₂)·s(q,x) − log Z_B(x) − log Z_G(x)`. (The released code of the
//!   paper computes the query-bank factor from the gallery-bank matrix; this
//!   follows the paper and the working reimplementation in ppanzx/DBSN.)
//!
//! The formulas were checked against `scripts/reference_hubness.py`, which
//! reimplements them in numpy from the papers' released code.
//!
//! Which applies by default is the engine's choice (`search::banks`): none
//! while the bank is only class prompts and store text (no method helped
//! there), DBNorm once the opt-in query log holds real searches.
//!
//! Not for: finding candidates (the indexes do) or choosing the bank (the
//! engine does).

use std::collections::HashMap;

use crate::ids::ChunkId;

/// Which correction a space applies at query time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Hubness {
    #[default]
    None,
    Csls,
    QbNorm,
    DbNorm,
}

impl Hubness {
    pub const ALL: [Hubness; 4] = [Hubness::None, Hubness::Csls, Hubness::QbNorm, Hubness::DbNorm];

    pub fn parse(s: &str) -> Option<Hubness> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" | "off" => Some(Hubness::None),
            "csls" => Some(Hubness::Csls),
            "qbnorm" | "qb-norm" => Some(Hubness::QbNorm),
            "dbnorm" | "db-norm" => Some(Hubness::DbNorm),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Hubness::None => "none",
            Hubness::Csls => "csls",
            Hubness::QbNorm => "qbnorm",
            Hubness::DbNorm => "dbnorm",
        }
    }
}

impl std::fmt::Display for Hubness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Hyper-parameters (the papers' defaults where they give one).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HubParams {
    /// Neighbours in CSLS's mean similarity.
    pub k: usize,
    /// Inverse temperature of the inverted softmax over the query bank
    /// (QB-Norm's default, 20).
    pub beta: f32,
    /// Inverse temperature over the gallery bank (DBNorm).
    pub beta_gallery: f32,
}

impl Default for HubParams {
    fn default() -> Self {
        HubParams { k: 10, beta: 20.0, beta_gallery: 50.0 }
    }
}

/// Gallery items sampled into DBNorm's gallery bank.
pub const GALLERY_BANK: usize = 1024;

/// What one gallery item carries for query-time normalisation.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ItemStats {
    /// CSLS: mean cosine to the `k` nearest bank queries.
    pub r: f32,
    /// `log Z_B(x) = log Σ_b exp(β·s(b,x))` (QB-Norm, DBNorm).
    pub qb: f32,
    /// `log Z_G(x) = log Σ_{g∈G} exp(β₂·s(g,x))` (DBNorm).
    pub zg: f32,
}

/// Per-item statistics of one space against its query bank, kept up to
/// date as items are added (an item's own statistics depend on the bank
/// only; the activation set and the gallery-bank terms depend on the
/// gallery, see `HubTable::stale`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct HubTable {
    pub dim: usize,
    /// Bank queries, row-major `bank_len × dim`.
    bank: Vec<f32>,
    bank_len: usize,
    /// DBNorm's gallery bank, row-major.
    gallery_bank: Vec<f32>,
    /// Per bank query: its top-1 gallery item and score.
    best: Vec<(ChunkId, f32)>,
    stats: HashMap<ChunkId, ItemStats>,
    /// Gallery size when the gallery-bank terms were computed.
    pub built_gallery: usize,
    /// Items added or removed since.
    pub changed: usize,
    #[serde(skip, default = "HubParams::default")]
    params: HubParams,
    /// Fingerprint of the bank (its size and a hash), so a changed bank
    /// forces a rebuild.
    pub bank_key: String,
}

/// One build thread's result: its items' statistics and its top-1 per bank query.
type Part = (Vec<(ChunkId, ItemStats)>, Vec<(ChunkId, f32)>);

/// `log Σ exp(xᵢ)` without overflow.
fn log_sum_exp(xs: impl Iterator<Item = f32> + Clone) -> f32 {
    let m = xs.clone().fold(f32::NEG_INFINITY, f32::max);
    if !m.is_finite() {
        return m;
    }
    m + xs.map(|x| (x - m).exp()).sum::<f32>().ln()
}

impl HubTable {
    /// Build from a bank and the whole gallery. Cost: bank × gallery dot products.
    pub fn build(dim: usize, bank: &[Vec<f32>], bank_key: String, gallery: &[(ChunkId, Vec<f32>)], params: HubParams) -> HubTable {
        let bank_flat: Vec<f32> = bank.iter().filter(|b| b.len() == dim).flat_map(|b| b.iter().copied()).collect();
        let nb = bank_flat.len() / dim.max(1);
        let mut t = HubTable {
            dim,
            bank: bank_flat,
            bank_len: nb,
            gallery_bank: gallery.iter().take(GALLERY_BANK).filter(|g| g.1.len() == dim).flat_map(|g| g.1.iter().copied()).collect(),
            best: vec![(ChunkId(0), f32::NEG_INFINITY); nb],
            stats: HashMap::with_capacity(gallery.len()),
            built_gallery: gallery.len(),
            changed: 0,
            params,
            bank_key,
        };
        // Items in parallel, each thread keeping its own top-1 per bank query.
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
        let part = gallery.len().div_ceil(threads).max(1);
        let parts: Vec<Part> = std::thread::scope(|sc| {
            let t = &t;
            let handles: Vec<_> = gallery
                .chunks(part)
                .map(|chunk| {
                    sc.spawn(move || {
                        let mut best = vec![(ChunkId(0), f32::NEG_INFINITY); t.bank_len];
                        let mut stats = Vec::with_capacity(chunk.len());
                        for (id, v) in chunk.iter().filter(|g| g.1.len() == dim) {
                            let (st, sims) = t.stats_and_sims(v);
                            for (b, s) in best.iter_mut().zip(&sims) {
                                if *s > b.1 {
                                    *b = (*id, *s);
                                }
                            }
                            stats.push((*id, st));
                        }
                        (stats, best)
                    })
                })
                .collect();
            handles.into_iter().filter_map(|h| h.join().ok()).collect()
        });
        for (stats, best) in parts {
            t.stats.extend(stats);
            for (b, c) in t.best.iter_mut().zip(best) {
                if c.1 > b.1 {
                    *b = c;
                }
            }
        }
        t
    }

    fn bank_row(&self, b: usize) -> &[f32] {
        &self.bank[b * self.dim..(b + 1) * self.dim]
    }

    pub fn bank_len(&self) -> usize {
        self.bank_len
    }

    pub fn len(&self) -> usize {
        self.stats.len()
    }

    pub fn is_empty(&self) -> bool {
        self.stats.is_empty()
    }

    pub fn set_params(&mut self, p: HubParams) {
        self.params = p;
    }

    /// Statistics of a vector against the bank (not stored).
    pub fn item_stats(&self, v: &[f32]) -> ItemStats {
        self.stats_and_sims(v).0
    }

    /// An item's statistics and its cosine to every bank query.
    fn stats_and_sims(&self, v: &[f32]) -> (ItemStats, Vec<f32>) {
        let nb = self.bank_len();
        if nb == 0 || v.len() != self.dim {
            return (ItemStats::default(), Vec::new());
        }
        let sims: Vec<f32> = (0..nb).map(|b| pith_models::dot(self.bank_row(b), v)).collect();
        let k = self.params.k.clamp(1, nb);
        let mut top = sims.clone();
        top.select_nth_unstable_by(k - 1, |a, b| b.total_cmp(a));
        let r = top[..k].iter().sum::<f32>() / k as f32;
        let beta = self.params.beta;
        let qb = log_sum_exp(sims.iter().map(|s| beta * s));
        let b2 = self.params.beta_gallery;
        // An empty gallery bank (a table built on an empty gallery) adds nothing.
        let zg = if self.gallery_bank.is_empty() {
            0.0
        } else {
            log_sum_exp(self.gallery_bank.chunks_exact(self.dim).map(|g| b2 * pith_models::dot(g, v)))
        };
        (ItemStats { r, qb, zg }, sims)
    }

    /// Add (or replace) gallery items.
    pub fn add(&mut self, items: &[(ChunkId, Vec<f32>)]) {
        for (id, v) in items {
            if v.len() != self.dim {
                continue;
            }
            let (s, sims) = self.stats_and_sims(v);
            self.stats.insert(*id, s);
            for (b, sim) in self.best.iter_mut().zip(sims) {
                if sim > b.1 {
                    *b = (*id, sim);
                }
            }
            self.changed += 1;
        }
    }

    /// Drop gallery items. A removed top-1 leaves its bank queries without
    /// one (activation shrinks) until the next rebuild.
    pub fn remove(&mut self, ids: &[ChunkId]) {
        for id in ids {
            if self.stats.remove(id).is_some() {
                self.changed += 1;
            }
        }
        let gone: std::collections::HashSet<&ChunkId> = ids.iter().collect();
        for b in self.best.iter_mut() {
            if gone.contains(&b.0) {
                *b = (ChunkId(0), f32::NEG_INFINITY);
            }
        }
    }

    /// The rule for re-normalising: the gallery-bank terms and the
    /// activation set were computed over the gallery at build time; once a
    /// quarter of it has been added or removed since (or the bank changed),
    /// the table is rebuilt at the next checkpoint.
    pub fn stale(&self, bank_key: &str) -> bool {
        bank_key != self.bank_key || self.changed * 4 > self.built_gallery.max(16) || (self.built_gallery == 0 && self.changed > 0)
    }

    /// The gallery items the table has statistics for.
    pub fn item_ids(&self) -> std::collections::HashSet<ChunkId> {
        self.stats.keys().copied().collect()
    }

    pub fn stats(&self, id: ChunkId) -> Option<ItemStats> {
        self.stats.get(&id).copied()
    }

    fn activated(&self, id: ChunkId) -> bool {
        self.best.iter().any(|b| b.0 == id && b.1.is_finite())
    }

    /// Rescore `hits` (raw cosines) in place with `method` and re-sort them
    /// (ties by chunk id). An item without statistics (added since the
    /// table was loaded by a reader) gets the gallery's mean ones (computed
    /// only then: a scan of the table).
    pub fn rescore(&self, method: Hubness, hits: &mut [(ChunkId, f32)]) {
        if method == Hubness::None || hits.is_empty() || self.bank_len() == 0 {
            return;
        }
        match method {
            Hubness::None => {}
            Hubness::Csls => {
                let k = self.params.k.clamp(1, hits.len());
                let r_q = hits.iter().take(k).map(|h| h.1).sum::<f32>() / k as f32;
                for h in hits.iter_mut() {
                    let r = self.stats(h.0).map_or_else(|| self.mean_stat(|s| s.r), |s| s.r);
                    h.1 = 2.0 * h.1 - r - r_q;
                }
            }
            Hubness::QbNorm => {
                // Dynamic: only when the query's raw top-1 is an activated item.
                let top = hits.iter().max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0))).map(|h| h.0);
                if !top.is_some_and(|t| self.activated(t)) {
                    return;
                }
                for h in hits.iter_mut() {
                    h.1 = self.params.beta * h.1 - self.stats(h.0).map_or_else(|| self.mean_stat(|s| s.qb), |s| s.qb);
                }
            }
            Hubness::DbNorm => {
                let beta = self.params.beta + self.params.beta_gallery;
                for h in hits.iter_mut() {
                    let (qb, zg) = self.stats(h.0).map_or_else(|| (self.mean_stat(|s| s.qb), self.mean_stat(|s| s.zg)), |s| (s.qb, s.zg));
                    h.1 = beta * h.1 - qb - zg;
                }
            }
        }
        hits.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    }

    fn mean_stat(&self, f: impl Fn(&ItemStats) -> f32) -> f32 {
        if self.stats.is_empty() {
            return 0.0;
        }
        self.stats.values().map(&f).sum::<f32>() / self.stats.len() as f32
    }
}

/// How hub-ridden a gallery is under a set of queries' top-k lists.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct HubnessReport {
    pub queries: usize,
    pub gallery: usize,
    pub k: usize,
    /// Skewness (standardised third moment) of the k-occurrence counts.
    pub skewness: f64,
    /// Share of gallery items in no top-k list.
    pub orphans: f64,
    /// The largest k-occurrence (the biggest hub's count).
    pub max_occurrence: usize,
}

/// k-occurrence statistics of `gallery` under `lists` (each a query's top
/// results; only the first `k` count).
pub fn k_occurrence(lists: &[Vec<ChunkId>], gallery: &[ChunkId], k: usize) -> HubnessReport {
    let mut count: HashMap<ChunkId, usize> = gallery.iter().map(|g| (*g, 0)).collect();
    for l in lists {
        for id in l.iter().take(k) {
            if let Some(c) = count.get_mut(id) {
                *c += 1;
            }
        }
    }
    let n = count.len().max(1) as f64;
    let xs: Vec<f64> = count.values().map(|c| *c as f64).collect();
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    let m3 = xs.iter().map(|x| (x - mean).powi(3)).sum::<f64>() / n;
    HubnessReport {
        queries: lists.len(),
        gallery: count.len(),
        k,
        skewness: if var > 0.0 { m3 / var.powf(1.5) } else { 0.0 },
        orphans: xs.iter().filter(|x| **x == 0.0).count() as f64 / n,
        max_occurrence: count.values().copied().max().unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: u64) -> Vec<ChunkId> {
        (1..=n as i64).map(ChunkId).collect()
    }

    /// Bank (1,0), (0,1); gallery x1 = (1,0), x2 = (0,1), x3 = (0.6,0.8).
    fn toy(k: usize) -> HubTable {
        let bank = vec![vec![1.0, 0.0], vec![0.0, 1.0]];
        let gallery: Vec<(ChunkId, Vec<f32>)> = ids(3).into_iter().zip([vec![1.0, 0.0], vec![0.0, 1.0], vec![0.6, 0.8]]).collect();
        HubTable::build(2, &bank, "toy".into(), &gallery, HubParams { k, beta: 1.0, beta_gallery: 1.0 })
    }

    fn score(hits: &[(ChunkId, f32)], id: i64) -> f32 {
        hits.iter().find(|h| h.0 == ChunkId(id)).unwrap().1
    }

    #[test]
    fn csls_hand_computed() {
        let t = toy(1);
        // r(x1) = 1, r(x2) = 1, r(x3) = 0.8; query (0.8, 0.6): s = 0.8, 0.6, 0.96; r_q = 0.96.
        let mut hits = vec![(ChunkId(3), 0.96), (ChunkId(1), 0.8), (ChunkId(2), 0.6)];
        t.rescore(Hubness::Csls, &mut hits);
        assert!((score(&hits, 1) - (1.6 - 1.0 - 0.96)).abs() < 1e-5);
        assert!((score(&hits, 3) - (1.92 - 0.8 - 0.96)).abs() < 1e-5);
        assert!((score(&hits, 2) - (1.2 - 1.0 - 0.96)).abs() < 1e-5);
        assert_eq!(hits[0].0, ChunkId(3));
    }

    #[test]
    fn qbnorm_hand_computed_and_dynamic() {
        let t = toy(1);
        let lse = |a: f32, b: f32| (a.exp() + b.exp()).ln();
        assert!((t.stats(ChunkId(1)).unwrap().qb - lse(1.0, 0.0)).abs() < 1e-5);
        assert!((t.stats(ChunkId(3)).unwrap().qb - lse(0.6, 0.8)).abs() < 1e-5);
        // The query's top-1 (x3) is nobody's top-1 in the bank: scores stand.
        let mut hits = vec![(ChunkId(3), 0.96), (ChunkId(1), 0.8), (ChunkId(2), 0.6)];
        t.rescore(Hubness::QbNorm, &mut hits);
        assert_eq!(hits, vec![(ChunkId(3), 0.96), (ChunkId(1), 0.8), (ChunkId(2), 0.6)]);
        // Query (1, 0): top-1 x1 is activated, so the row is normalised.
        let mut hits = vec![(ChunkId(1), 1.0), (ChunkId(3), 0.6), (ChunkId(2), 0.0)];
        t.rescore(Hubness::QbNorm, &mut hits);
        assert!((score(&hits, 1) - (1.0 - lse(1.0, 0.0))).abs() < 1e-5);
        assert!((score(&hits, 3) - (0.6 - lse(0.6, 0.8))).abs() < 1e-5);
    }

    #[test]
    fn dbnorm_hand_computed() {
        let t = toy(1);
        let zg3 = (0.6f32.exp() + 0.8f32.exp() + 1.0f32.exp()).ln();
        let zg1 = (1.0f32.exp() + 1.0 + 0.6f32.exp()).ln();
        assert!((t.stats(ChunkId(3)).unwrap().zg - zg3).abs() < 1e-5);
        let mut hits = vec![(ChunkId(3), 0.96), (ChunkId(1), 0.8)];
        t.rescore(Hubness::DbNorm, &mut hits);
        let qb = |a: f32, b: f32| (a.exp() + b.exp()).ln();
        assert!((score(&hits, 3) - (2.0 * 0.96 - qb(0.6, 0.8) - zg3)).abs() < 1e-5);
        assert!((score(&hits, 1) - (2.0 * 0.8 - qb(1.0, 0.0) - zg1)).abs() < 1e-5);
    }

    #[test]
    fn k_occurrence_hand_computed() {
        // Counts 2, 1, 0, 0: mean 0.75, orphans half, max 2.
        let lists = vec![vec![ChunkId(1), ChunkId(2)], vec![ChunkId(1)]];
        let r = k_occurrence(&lists, &ids(4), 10);
        assert_eq!((r.max_occurrence, r.orphans), (2, 0.5));
        let xs = [2.0f64, 1.0, 0.0, 0.0];
        let m = 0.75;
        let var = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / 4.0;
        let m3 = xs.iter().map(|x| (x - m).powi(3)).sum::<f64>() / 4.0;
        assert!((r.skewness - m3 / var.powf(1.5)).abs() < 1e-9);
    }

    fn unit(v: Vec<f32>) -> Vec<f32> {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-9);
        v.into_iter().map(|x| x / n).collect()
    }

    #[test]
    fn a_planted_hub_loses_its_reach_and_true_matches_move_up() {
        let (dim, n) = (32, 60);
        let mut rng = crate::quant::Rng::new(11);
        let mut gauss = || {
            let u = (rng.next_u64() >> 11) as f32 / (1u64 << 53) as f32;
            let v = (rng.next_u64() >> 11) as f32 / (1u64 << 53) as f32;
            (-2.0 * u.max(1e-9).ln()).sqrt() * (std::f32::consts::TAU * v).cos()
        };
        // Embeddings share a common direction `m` (anisotropy); `m` itself,
        // planted in the gallery, is then close to every query: a hub. The
        // bank holds other queries from the same distribution.
        let m = unit((0..dim).map(|_| gauss()).collect());
        let draw = |g: &mut dyn FnMut() -> f32| {
            let r = unit((0..dim).map(|_| g()).collect());
            unit(m.iter().zip(&r).map(|(a, b)| a + b).collect())
        };
        let items: Vec<Vec<f32>> = (0..n).map(|_| draw(&mut gauss)).collect();
        let bank: Vec<Vec<f32>> = (0..200).map(|_| draw(&mut gauss)).collect();
        let queries: Vec<Vec<f32>> = items.iter().map(|v| unit(v.iter().map(|x| x + 0.12 * gauss()).collect())).collect();
        let mut gallery: Vec<(ChunkId, Vec<f32>)> = items.iter().enumerate().map(|(i, v)| (ChunkId(i as i64 + 1), v.clone())).collect();
        let hub_id = ChunkId(1000);
        gallery.push((hub_id, m.clone()));
        let t = HubTable::build(dim, &bank, "synthetic".into(), &gallery, HubParams::default());
        let all: Vec<ChunkId> = gallery.iter().map(|g| g.0).collect();
        let run = |method: Hubness| {
            let mut lists = Vec::new();
            let mut r1 = 0;
            for (i, q) in queries.iter().enumerate() {
                let mut hits: Vec<(ChunkId, f32)> = gallery.iter().map(|(id, v)| (*id, pith_models::dot(q, v))).collect();
                hits.sort_by(|a, b| b.1.total_cmp(&a.1));
                t.rescore(method, &mut hits);
                r1 += usize::from(hits[0].0 == ChunkId(i as i64 + 1));
                lists.push(hits.iter().map(|h| h.0).collect::<Vec<_>>());
            }
            let hub_count = lists.iter().filter(|l| l[..5].contains(&hub_id)).count();
            (hub_count, r1, k_occurrence(&lists, &all, 5))
        };
        let (hub0, r1_0, _) = run(Hubness::None);
        assert!(hub0 >= n / 3, "the planted hub should be in many top-5s: {hub0}");
        for m in [Hubness::Csls, Hubness::QbNorm, Hubness::DbNorm] {
            let (hub, r1, rep) = run(m);
            // DBNorm's gallery-bank factor works against the query-bank one
            // for a hub that is also close to every gallery item: it falls
            // less far (measured: 27 → 15 here).
            if m == Hubness::DbNorm {
                assert!(hub * 3 <= hub0 * 2, "{m}: hub in {hub} top-5s (was {hub0})");
            } else {
                assert!(hub * 2 <= hub0, "{m}: hub in {hub} top-5s (was {hub0})");
            }
            assert!(r1 >= r1_0, "{m}: R@1 {r1} < {r1_0}");
            assert!(rep.max_occurrence < hub0, "{m}: {rep:?}");
        }
    }
}
