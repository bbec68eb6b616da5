//! Ranking metrics, defined as trec_eval / pytrec_eval define them so numbers
//! compare with the literature: nDCG with linear gain (`rel / log2(rank+1)`),
//! ideal ranking from the judged documents; Recall@k over documents with
//! relevance > 0; MRR@k as the reciprocal rank of the first relevant document.

use std::collections::HashMap;

pub type Qrels = HashMap<String, HashMap<String, i32>>;

pub fn ndcg_at(ranked: &[String], rels: &HashMap<String, i32>, k: usize) -> f64 {
    let dcg: f64 =
        ranked.iter().take(k).enumerate().map(|(i, d)| rels.get(d).copied().unwrap_or(0).max(0) as f64 / ((i + 2) as f64).log2()).sum();
    let mut ideal: Vec<i32> = rels.values().copied().filter(|&r| r > 0).collect();
    ideal.sort_unstable_by(|a, b| b.cmp(a));
    let idcg: f64 = ideal.iter().take(k).enumerate().map(|(i, &r)| r as f64 / ((i + 2) as f64).log2()).sum();
    if idcg == 0.0 {
        0.0
    } else {
        dcg / idcg
    }
}

pub fn recall_at(ranked: &[String], rels: &HashMap<String, i32>, k: usize) -> f64 {
    let total = rels.values().filter(|&&r| r > 0).count();
    if total == 0 {
        return 0.0;
    }
    let hit = ranked.iter().take(k).filter(|d| rels.get(*d).is_some_and(|&r| r > 0)).count();
    hit as f64 / total as f64
}

pub fn mrr_at(ranked: &[String], rels: &HashMap<String, i32>, k: usize) -> f64 {
    ranked.iter().take(k).position(|d| rels.get(d).is_some_and(|&r| r > 0)).map_or(0.0, |i| 1.0 / (i + 1) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn graded_ndcg_matches_hand_computation() {
        let rels: HashMap<String, i32> = [("a".to_string(), 2), ("b".to_string(), 1)].into();
        // Ranking b, x, a: DCG = 1/log2(2) + 2/log2(4) = 2; IDCG = 2 + 1/log2(3).
        let got = ndcg_at(&s(&["b", "x", "a"]), &rels, 10);
        let want = 2.0 / (2.0 + 1.0 / 3f64.log2());
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        assert_eq!(ndcg_at(&s(&["a", "b"]), &rels, 10), 1.0);
        assert_eq!(mrr_at(&s(&["x", "y", "b"]), &rels, 10), 1.0 / 3.0);
        assert_eq!(recall_at(&s(&["x", "a"]), &rels, 1), 0.0);
        assert_eq!(recall_at(&s(&["x", "a"]), &rels, 2), 0.5);
    }
}
