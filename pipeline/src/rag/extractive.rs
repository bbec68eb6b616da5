//! Query-aware extractive compression, after RECOMP's extractive compressor
//! (Xu, Shi & Choi, 2023): score every sentence of the retrieved text for
//! the query, keep the best under a token budget, output them in document
//! order. Sentences are kept whole or dropped, never cut.
//!
//! The score of sentence `i` combines three signals:
//! - `dense_i`: cosine of its MiniLM embedding (computed at ingest) to the
//!   query's;
//! - `lex_i`: BM25 of the query's content words over the candidate
//!   sentences (IDF from those sentences, so a term rare in *this* context
//!   — a name, a number — weighs most), divided by the best sentence's BM25;
//! - the neighbourhood: answers often sit next to the sentence that matches
//!   the question's words ("Season 2 premiered… It had 13 episodes").
//!
//! `s_i = dense_i + λ · lex_i`, then `score_i = s_i + α · max(s_{i−1}, s_{i+1})`
//! over neighbours from the same source. Greedy selection by score skips a
//! sentence that no longer fits (a later, shorter one may) and one that
//! repeats a kept sentence (same normalised words, or cosine ≥ `dedupe`).

use std::collections::{HashMap, HashSet};

use super::text::{content_terms, normalize};

/// One candidate sentence.
#[derive(Debug, Clone)]
pub struct Sentence<'a> {
    pub text: &'a str,
    /// Tokens it costs in the budget's tokenizer.
    pub tokens: usize,
    /// Unit-length embedding (empty when unknown: dense scores 0).
    pub vec: &'a [f32],
    /// Which source it came from (a chunk or document); neighbours must share it.
    pub group: usize,
    /// Position in the source.
    pub pos: usize,
}

#[derive(Debug, Clone, Copy)]
pub struct Params {
    /// Weight λ of the normalised BM25 score.
    pub lexical: f32,
    /// Weight α of the best neighbour's score.
    pub neighbour: f32,
    /// Cosine at or above which two sentences count as the same.
    pub dedupe: f32,
}

impl Default for Params {
    fn default() -> Self {
        Params { lexical: 0.3, neighbour: 0.3, dedupe: 0.97 }
    }
}

/// Scores in input order.
pub fn scores(query: &str, qvec: &[f32], sents: &[Sentence], p: &Params) -> Vec<f32> {
    let lex = bm25(query, sents);
    let max_lex = lex.iter().copied().fold(0.0f32, f32::max);
    let base: Vec<f32> = sents
        .iter()
        .zip(&lex)
        .map(|(s, &l)| {
            let dense = if s.vec.len() == qvec.len() { pith_models::dot(qvec, s.vec) } else { 0.0 };
            dense + if max_lex > 0.0 { p.lexical * l / max_lex } else { 0.0 }
        })
        .collect();
    // Neighbours: the adjacent positions of the same source.
    let at: HashMap<(usize, usize), usize> = sents.iter().enumerate().map(|(i, s)| ((s.group, s.pos), i)).collect();
    sents
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let prev = s.pos.checked_sub(1).and_then(|q| at.get(&(s.group, q)));
            let next = at.get(&(s.group, s.pos + 1));
            let best = prev.into_iter().chain(next).map(|&j| base[j]).fold(f32::NEG_INFINITY, f32::max);
            base[i] + if best.is_finite() { p.neighbour * best } else { 0.0 }
        })
        .collect()
}

/// Okapi BM25 (k1 1.2, b 0.75) of the query's content terms in each sentence.
fn bm25(query: &str, sents: &[Sentence]) -> Vec<f32> {
    let q: HashSet<String> = content_terms(query).into_iter().collect();
    if q.is_empty() || sents.is_empty() {
        return vec![0.0; sents.len()];
    }
    let docs: Vec<Vec<String>> = sents.iter().map(|s| content_terms(s.text)).collect();
    let n = docs.len() as f32;
    let avg = (docs.iter().map(Vec::len).sum::<usize>() as f32 / n).max(1.0);
    let mut df: HashMap<&str, f32> = HashMap::new();
    for d in &docs {
        for t in d.iter().filter(|t| q.contains(*t)).collect::<HashSet<_>>() {
            *df.entry(t.as_str()).or_default() += 1.0;
        }
    }
    docs.iter()
        .map(|d| {
            let len = d.len() as f32;
            let mut tf: HashMap<&str, f32> = HashMap::new();
            for t in d.iter().filter(|t| q.contains(*t)) {
                *tf.entry(t.as_str()).or_default() += 1.0;
            }
            tf.iter()
                .map(|(t, &f)| {
                    let df = df[t];
                    let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
                    idf * f * 2.2 / (f + 1.2 * (0.25 + 0.75 * len / avg))
                })
                .sum()
        })
        .collect()
}

/// Indices of the kept sentences, in input order. `cost(i, kept)` is what
/// sentence `i` adds to the budget given what is already kept (a context's
/// header the first time one of its sentences is kept).
pub fn select(
    sents: &[Sentence],
    scores: &[f32],
    budget: usize,
    dedupe: f32,
    mut cost: impl FnMut(usize, &[usize]) -> usize,
) -> Vec<usize> {
    let mut order: Vec<usize> = (0..sents.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    let mut kept: Vec<usize> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut used = 0usize;
    for i in order {
        let c = cost(i, &kept);
        if c == 0 || used + c > budget {
            continue;
        }
        let norm = normalize(sents[i].text);
        if seen.contains(&norm) {
            continue;
        }
        let v = sents[i].vec;
        if !v.is_empty() && kept.iter().any(|&j| sents[j].vec.len() == v.len() && pith_models::dot(v, sents[j].vec) >= dedupe) {
            continue;
        }
        seen.insert(norm);
        used += c;
        kept.push(i);
    }
    kept.sort_unstable();
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &'static str, pos: usize, vec: &'static [f32]) -> Sentence<'static> {
        Sentence { text, tokens: text.split_whitespace().count(), vec, group: 0, pos }
    }

    #[test]
    fn rare_query_terms_and_neighbours_win_and_order_is_kept() {
        let sents = vec![
            s("The show is an American drama.", 0, &[1.0, 0.0]),
            s("Season two premiered on April 25, 2018.", 1, &[0.6, 0.8]),
            s("It has thirteen episodes.", 2, &[0.0, 1.0]),
            s("Critics liked the acting.", 3, &[1.0, 0.0]),
        ];
        let q = [0.0, 1.0];
        let sc = scores("when did season two premiere", &q, &sents, &Params::default());
        assert!(sc[1] > sc[0] && sc[1] > sc[3], "{sc:?}");
        // Sentence 2 (dense match) gains from its neighbour 1 (lexical match).
        let kept = select(&sents, &sc, 12, 0.97, |i, _| sents[i].tokens);
        assert_eq!(kept, vec![1, 2]);
    }

    #[test]
    fn budget_is_never_exceeded_and_duplicates_are_dropped() {
        let sents = vec![
            s("alpha beta gamma", 0, &[1.0, 0.0]),
            s("Alpha, beta; gamma!", 1, &[0.0, 1.0]),
            s("delta epsilon", 2, &[0.0, 1.0]),
            s("zeta", 3, &[0.5, 0.5]),
        ];
        let sc = vec![3.0, 2.9, 1.0, 0.5];
        let kept = select(&sents, &sc, 5, 0.97, |i, _| sents[i].tokens);
        // 1 repeats 0's words; 2 repeats nothing but its vector equals 1's,
        // which was never kept, so it stays.
        assert_eq!(kept, vec![0, 2]);
        let kept = select(&sents, &sc, 4, 0.97, |i, _| sents[i].tokens);
        assert_eq!(kept, vec![0, 3]);
    }
}
