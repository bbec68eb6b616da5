//! Query-aware extractive compression, after RECOMP's extractive compressor
//! (Xu, Shi & Choi, 2023): score every sentence of the retrieved text for
//! the query, keep the best under a token budget, output them in document
//! order. Sentences are kept whole or dropped, never cut.
//!
//! Each sentence's score (the variant measured best on L-Eval, against a
//! Python reference: docs/BENCHMARKS.md, "Context compression"):
//! - `dense_i = v·e_i − γ·(c·e_i)`: cosine to the query minus γ times the
//!   cosine to the pool's centroid `c` (a sentence like every other one —
//!   boilerplate, navigation — says little about this question);
//! - `lex_i`: BM25 of the query's *rare* content words (in at most 5% of
//!   the sentences: names, numbers, specific terms) over the pool, divided
//!   by the best sentence's; common query words only add noise;
//! - `s_i = dense_i + λ·lex_i`, then the neighbourhood, since answers sit
//!   next to the sentence that matches the question's words:
//!   `score_i = s_i + 0.3·s_{i−1} + 0.1·s_{i+1} + 0.1·s_{i−2}` (same source).
//!
//! Selection walks sentences by score and, after each, tries the sentence
//! that follows it (the answer often comes right after its cue). A sentence
//! is skipped when it no longer fits (a later, shorter one may) or repeats
//! a kept one (same normalised words, or cosine ≥ `dedupe`).

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
    /// Weight λ of the normalised rare-term BM25 score.
    pub lexical: f32,
    /// Weight γ of the similarity to the pool's centroid (subtracted).
    pub typicality: f32,
    /// A query term is rare when at most this share of sentences has it.
    pub rare: f32,
    /// Weights of the sentence before, after, and two before.
    pub neighbours: [f32; 3],
    /// Cosine at or above which two sentences count as the same.
    pub dedupe: f32,
}

impl Default for Params {
    fn default() -> Self {
        Params { lexical: 0.3, typicality: 0.3, rare: 0.05, neighbours: [0.3, 0.1, 0.1], dedupe: 0.97 }
    }
}

/// Scores in input order.
pub fn scores(query: &str, qvec: &[f32], sents: &[Sentence], p: &Params) -> Vec<f32> {
    let lex = bm25(query, sents, p.rare);
    let max_lex = lex.iter().copied().fold(0.0f32, f32::max);
    let dim = qvec.len();
    let mut centroid = vec![0f32; dim];
    for s in sents.iter().filter(|s| s.vec.len() == dim) {
        centroid.iter_mut().zip(s.vec).for_each(|(c, x)| *c += x);
    }
    pith_models::l2_normalize(&mut centroid);
    let base: Vec<f32> = sents
        .iter()
        .zip(&lex)
        .map(|(s, &l)| {
            let dense =
                if s.vec.len() == dim { pith_models::dot(qvec, s.vec) - p.typicality * pith_models::dot(&centroid, s.vec) } else { 0.0 };
            dense + if max_lex > 0.0 { p.lexical * l / max_lex } else { 0.0 }
        })
        .collect();
    let at = positions(sents);
    let near = |s: &Sentence, d: isize| -> f32 {
        let pos = s.pos as isize + d;
        if pos < 0 {
            return 0.0;
        }
        at.get(&(s.group, pos as usize)).map_or(0.0, |&j| base[j])
    };
    let [prev, next, prev2] = p.neighbours;
    sents.iter().enumerate().map(|(i, s)| base[i] + prev * near(s, -1) + next * near(s, 1) + prev2 * near(s, -2)).collect()
}

fn positions(sents: &[Sentence]) -> HashMap<(usize, usize), usize> {
    sents.iter().enumerate().map(|(i, s)| ((s.group, s.pos), i)).collect()
}

/// Okapi BM25 (k1 1.2, b 0.75) of the query's rare content terms (in at
/// least one and at most `rare` of the sentences) in each sentence.
fn bm25(query: &str, sents: &[Sentence], rare: f32) -> Vec<f32> {
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
    let cap = (rare * n).max(1.0);
    df.retain(|_, d| *d <= cap);
    let q: HashSet<String> = q.into_iter().filter(|t| df.contains_key(t.as_str())).collect();
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
    let at = positions(sents);
    let mut kept: Vec<usize> = Vec::new();
    let mut taken: HashSet<usize> = HashSet::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut used = 0usize;
    for i in order {
        let successor = at.get(&(sents[i].group, sents[i].pos + 1)).copied();
        for j in std::iter::once(i).chain(successor) {
            if taken.contains(&j) || sents[j].tokens == 0 {
                continue;
            }
            let c = cost(j, &kept);
            if used + c > budget {
                continue;
            }
            let norm = normalize(sents[j].text);
            let v = sents[j].vec;
            let repeats = seen.contains(&norm)
                || !v.is_empty() && kept.iter().any(|&k| sents[k].vec.len() == v.len() && pith_models::dot(v, sents[k].vec) >= dedupe);
            if repeats {
                continue;
            }
            seen.insert(norm);
            taken.insert(j);
            used += c;
            kept.push(j);
        }
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
        // Sentence 2 (dense match) gains from sentence 1 before it (the
        // lexical match) and ranks first; its successor comes along.
        assert!(sc[2] > sc[1], "{sc:?}");
        let kept = select(&sents, &sc, 12, 0.97, |i, _| sents[i].tokens);
        assert_eq!(kept, vec![2, 3]);
        let kept = select(&sents, &sc, 11, 0.97, |i, _| if i == 3 { 9 } else { sents[i].tokens });
        assert_eq!(kept, vec![1, 2], "a successor that does not fit is skipped");
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
