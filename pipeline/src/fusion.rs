//! Reciprocal rank fusion (Cormack, Clarke & Büttcher, 2009).
//!
//! For each item `d` over ranked lists `L` with weights `w_L`:
//! `score(d) = Σ_L w_L / (k + rank_L(d))`, ranks starting at 1, `k = 60` by
//! default. Items absent from a list contribute nothing from it. Ranks, not
//! raw scores, are fused, so BM25 and cosine scales never need calibrating.

use std::collections::HashMap;
use std::hash::Hash;

/// Fuse ranked lists of ids; returns (id, fused score) best first. Ties keep
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
    let mut out: Vec<(T, f32, usize)> = score.into_iter().map(|(id, (s, o))| (id, s, o)).collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.2.cmp(&b.2)));
    out.into_iter().map(|(id, s, _)| (id, s)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_and_weights() {
        let fused = rrf(&[(1.0, vec![1, 2, 3]), (1.0, vec![3, 1])], 60.0);
        assert_eq!(fused[0].0, 1);
        assert!((fused[0].1 - (1.0 / 61.0 + 1.0 / 62.0)).abs() < 1e-7);
        assert_eq!(fused[1].0, 3);
        // A heavy second list flips the order.
        let fused = rrf(&[(1.0, vec![1, 2]), (5.0, vec![2])], 60.0);
        assert_eq!(fused[0].0, 2);
    }
}
