//! Fusing ranked lists (BM25 and each vector space) into one.
//!
//! **Reciprocal rank fusion** (Cormack, Clarke & Büttcher, 2009): for each
//! item `d` over lists `L` with weights `w_L`,
//! `score(d) = Σ_L w_L / (k + rank_L(d))`, ranks from 1, `k = 60`. Ranks,
//! not scores: a list's tenth item counts the same whether it is nearly as
//! good as the first or useless.
//!
//! **Convex fusion** of normalised scores (Bruch, Gai & Ingber, "An Analysis
//! of Fusion Functions for Hybrid Retrieval", 2023): each list's scores are
//! min–max normalised over its own candidates, `ŝ = (s − min) / (max − min)`,
//! and `score(d) = α · Σ_dense w_L ŝ_L(d) + (1 − α) · c · w_bm25 ŝ_bm25(d)`,
//! with `α` the *semantic ratio*. Missing from a list contributes 0.
//!
//! Min–max gives a weak BM25 list the same [0, 1] range as a strong one, so
//! on sets where BM25 is poor a fixed `α` drags the hybrid below dense alone.
//! `c`, the **BM25 confidence**, scales BM25's share by how much of the dense
//! list's top it confirms: `c = |top_m(bm25) ∩ top_m(dense)| / m` (m = 10),
//! the agreement that query-performance prediction work (e.g. Zhou & Croft's
//! ranking robustness) uses as a cheap predictor. A BM25 list that retrieves
//! what dense retrieval finds keeps its weight; one that finds other things
//! (vocabulary mismatch: paraphrases, cross-lingual, captions) fades out.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;

/// How lists are fused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Fusion {
    Rrf,
    /// Convex combination of min–max normalised scores, BM25 scaled by its agreement with dense retrieval.
    #[default]
    Convex,
}

impl Fusion {
    pub fn parse(s: &str) -> Option<Fusion> {
        match s.trim().to_ascii_lowercase().as_str() {
            "rrf" => Some(Fusion::Rrf),
            "convex" | "score" | "weighted" => Some(Fusion::Convex),
            _ => None,
        }
    }
    pub fn as_str(&self) -> &'static str {
        match self {
            Fusion::Rrf => "rrf",
            Fusion::Convex => "convex",
        }
    }
}

/// One ranked list: its weight, whether it is a dense (vector) list, and its
/// ids with raw scores, best first.
#[derive(Debug, Clone)]
pub struct Scored<T> {
    pub weight: f32,
    pub dense: bool,
    pub hits: Vec<(T, f32)>,
}

/// Reciprocal rank fusion; returns (id, fused score) best first. Ties keep
/// the order in which ids were first seen, so the result is deterministic.
pub fn rrf<T: Copy + Eq + Hash>(lists: &[(f32, Vec<T>)], k: f32) -> Vec<(T, f32)> {
    let mut score: HashMap<T, (f32, usize)> = HashMap::new();
    let mut seen = 0usize;
    for (w, list) in lists {
        for (r, id) in list.iter().enumerate() {
            let e = score.entry(*id).or_insert_with(|| {
                seen += 1;
                (0.0, seen)
            });
            e.0 += w / (k + (r + 1) as f32);
        }
    }
    sorted(score)
}

fn sorted<T: Copy>(score: HashMap<T, (f32, usize)>) -> Vec<(T, f32)> {
    let mut out: Vec<(T, f32, usize)> = score.into_iter().map(|(id, (s, o))| (id, s, o)).collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.2.cmp(&b.2)));
    out.into_iter().map(|(id, s, _)| (id, s)).collect()
}

/// BM25's agreement with the dense lists: the share of BM25's top `m`
/// that some dense list also has in its top `m`.
pub fn bm25_confidence<T: Copy + Eq + Hash>(lists: &[Scored<T>], m: usize) -> f32 {
    let dense_top: HashSet<T> = lists.iter().filter(|l| l.dense).flat_map(|l| l.hits.iter().take(m).map(|h| h.0)).collect();
    if dense_top.is_empty() {
        return 1.0;
    }
    let Some(bm25) = lists.iter().find(|l| !l.dense) else { return 1.0 };
    let top: Vec<T> = bm25.hits.iter().take(m).map(|h| h.0).collect();
    if top.is_empty() {
        return 0.0;
    }
    top.iter().filter(|t| dense_top.contains(t)).count() as f32 / m.min(top.len().max(1)).max(1) as f32
}

/// Convex fusion (see the module doc). `semantic_ratio` is α in [0, 1].
pub fn convex<T: Copy + Eq + Hash>(lists: &[Scored<T>], semantic_ratio: f32) -> Vec<(T, f32)> {
    let alpha = semantic_ratio.clamp(0.0, 1.0);
    let has_dense = lists.iter().any(|l| l.dense && !l.hits.is_empty());
    let has_bm25 = lists.iter().any(|l| !l.dense && !l.hits.is_empty());
    // One kind of list alone: its own scores, whatever α says.
    let (a_dense, a_bm25) = match (has_dense, has_bm25) {
        (true, false) => (1.0, 0.0),
        (false, true) => (0.0, 1.0),
        _ => (alpha, (1.0 - alpha) * bm25_confidence(lists, 10)),
    };
    let mut score: HashMap<T, (f32, usize)> = HashMap::new();
    let mut seen = 0usize;
    for l in lists {
        let share = if l.dense { a_dense } else { a_bm25 } * l.weight;
        let (lo, hi) = l.hits.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), h| (lo.min(h.1), hi.max(h.1)));
        let span = hi - lo;
        for (id, s) in &l.hits {
            let norm = if span > 1e-9 { (s - lo) / span } else { 1.0 };
            let e = score.entry(*id).or_insert_with(|| {
                seen += 1;
                (0.0, seen)
            });
            e.0 += share * norm;
        }
    }
    sorted(score)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rrf_formula_and_weights() {
        let fused = rrf(&[(1.0, vec![1, 2, 3]), (1.0, vec![3, 1])], 60.0);
        assert_eq!(fused[0].0, 1);
        assert!((fused[0].1 - (1.0 / 61.0 + 1.0 / 62.0)).abs() < 1e-7);
        assert_eq!(fused[1].0, 3);
        // A heavy second list flips the order.
        let fused = rrf(&[(1.0, vec![1, 2]), (5.0, vec![2])], 60.0);
        assert_eq!(fused[0].0, 2);
    }

    fn list(dense: bool, hits: &[(u32, f32)]) -> Scored<u32> {
        Scored { weight: 1.0, dense, hits: hits.to_vec() }
    }

    #[test]
    fn convex_hand_computed() {
        // dense: 1 → 1.0, 2 → 0.5, 3 → 0.0; bm25: 2 → 1.0, 1 → 0.0.
        // BM25's top (2, 1) is all in dense's top: confidence 1.
        let l = [list(true, &[(1, 0.9), (2, 0.7), (3, 0.5)]), list(false, &[(2, 12.0), (1, 4.0)])];
        let f = convex(&l, 0.7);
        let get = |id| f.iter().find(|x| x.0 == id).unwrap().1;
        assert!((get(1) - 0.7).abs() < 1e-6);
        assert!((get(2) - (0.7 * 0.5 + 0.3)).abs() < 1e-6);
        assert!(get(3).abs() < 1e-6);
        assert_eq!(f[0].0, 1);
    }

    #[test]
    fn a_bm25_list_that_disagrees_with_dense_fades_out() {
        // BM25 finds only items dense retrieval does not: confidence 0, the
        // dense order stands even with α = 0.
        let l = [list(true, &[(1, 0.9), (2, 0.8)]), list(false, &[(7, 30.0), (8, 20.0)])];
        assert_eq!(bm25_confidence(&l, 10), 0.0);
        let f = convex(&l, 0.0);
        assert_eq!(&f.iter().map(|x| x.0).take(2).collect::<Vec<_>>(), &[1, 2]);
        // Half of BM25's top confirmed: confidence 0.5.
        let l = [list(true, &[(1, 0.9), (2, 0.8)]), list(false, &[(2, 30.0), (8, 20.0)])];
        assert_eq!(bm25_confidence(&l, 10), 0.5);
    }

    #[test]
    fn one_kind_of_list_keeps_its_order_whatever_the_ratio() {
        let l = [list(false, &[(5, 3.0), (6, 2.0)])];
        assert_eq!(convex(&l, 1.0)[0].0, 5);
        let l = [list(true, &[(5, 0.3), (6, 0.2)])];
        assert_eq!(convex(&l, 0.0)[0].0, 5);
    }
}
