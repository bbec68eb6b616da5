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
//! and `score(d) = α · Σ_dense w_L ŝ_L(d) + (1 − α) · w_bm25 ŝ_bm25(d)`, with
//! `α` the *semantic ratio*. Missing from a list contributes 0.
//!
//! With α = 0.8 (the default), BM25 can move an item by at most a fifth of
//! the dense range: enough to lift exact-term matches on msmarco (0.8036
//! nDCG@10 against 0.7967 for dense alone), too little for a poor BM25 to
//! drag dense down (paraphrase captions: −0.006; RRF there: −0.039). An
//! agreement factor scaling BM25 by its overlap with the dense top-10 was
//! measured and left out: it helped where BM25 is weak but cost msmarco the
//! same amount (docs/BENCHMARKS.md, "Fusion").

use std::collections::HashMap;
use std::hash::Hash;

/// How lists are fused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Fusion {
    Rrf,
    /// Convex combination of min–max normalised scores.
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

/// Hits a BM25 list's min–max range is taken over, twice as many for a
/// dense list: what a first page fetches (`search::candidates`).
pub const NORM_DEPTH: usize = 100;

/// Convex fusion (see the module doc). `semantic_ratio` is α in [0, 1].
pub fn convex<T: Copy + Eq + Hash>(lists: &[Scored<T>], semantic_ratio: f32) -> Vec<(T, f32)> {
    let alpha = semantic_ratio.clamp(0.0, 1.0);
    let has_dense = lists.iter().any(|l| l.dense && !l.hits.is_empty());
    let has_bm25 = lists.iter().any(|l| !l.dense && !l.hits.is_empty());
    // One kind of list alone: its own scores, whatever α says.
    let (a_dense, a_bm25) = match (has_dense, has_bm25) {
        (true, false) => (1.0, 0.0),
        (false, true) => (0.0, 1.0),
        _ => (alpha, 1.0 - alpha),
    };
    let mut score: HashMap<T, (f32, usize)> = HashMap::new();
    let mut seen = 0usize;
    for l in lists {
        let share = if l.dense { a_dense } else { a_bm25 } * l.weight;
        // Over what a first page fetches only: a deep page fetches longer
        // lists, and must not rescale what earlier pages showed.
        let depth = if l.dense { 2 * NORM_DEPTH } else { NORM_DEPTH };
        let (lo, hi) = l.hits.iter().take(depth).fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), h| (lo.min(h.1), hi.max(h.1)));
        let span = hi - lo;
        for (id, s) in &l.hits {
            let norm = if span > 1e-9 { ((s - lo) / span).clamp(0.0, 1.0) } else { 1.0 };
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
        // dense: 1 → 1.0, 2 → 0.5, 3 → 0.0; bm25: 2 → 1.0, 7 → 0.0.
        let l = [list(true, &[(1, 0.9), (2, 0.7), (3, 0.5)]), list(false, &[(2, 12.0), (7, 4.0)])];
        let f = convex(&l, 0.7);
        let get = |id| f.iter().find(|x| x.0 == id).unwrap().1;
        assert!((get(1) - 0.7).abs() < 1e-6);
        assert!((get(2) - (0.7 * 0.5 + 0.3)).abs() < 1e-6);
        assert!(get(3).abs() < 1e-6);
        assert!(get(7).abs() < 1e-6);
        assert_eq!(f.iter().map(|x| x.0).take(2).collect::<Vec<_>>(), vec![1, 2]);
    }

    #[test]
    fn bm25_moves_an_item_by_at_most_its_share() {
        // At α = 0.8, BM25's favourite (dense's last) passes an item dense
        // puts a tenth of the range above it, not one a whole range above.
        let l = [list(true, &[(1, 0.9), (2, 0.55), (3, 0.5)]), list(false, &[(3, 30.0), (8, 1.0)])];
        let f = convex(&l, 0.8);
        assert_eq!(f.iter().map(|x| x.0).take(3).collect::<Vec<_>>(), vec![1, 3, 2]);
    }

    #[test]
    fn a_deeper_page_does_not_rescale_the_first() {
        // Page 5 fetches longer lists; the first 100 hits keep their scores.
        let long = |n: u32| (0..n).map(|i| (i, 1.0 - i as f32 / 1000.0)).collect::<Vec<_>>();
        let short = convex(&[Scored { weight: 1.0, dense: true, hits: long(200) }, list(false, &[(3, 9.0), (5, 1.0)])], 0.8);
        let deep = convex(&[Scored { weight: 1.0, dense: true, hits: long(600) }, list(false, &[(3, 9.0), (5, 1.0)])], 0.8);
        assert_eq!(&short[..200], &deep[..200]);
    }

    #[test]
    fn one_kind_of_list_keeps_its_order_whatever_the_ratio() {
        let l = [list(false, &[(5, 3.0), (6, 2.0)])];
        assert_eq!(convex(&l, 1.0)[0].0, 5);
        let l = [list(true, &[(5, 0.3), (6, 0.2)])];
        assert_eq!(convex(&l, 0.0)[0].0, 5);
    }
}
