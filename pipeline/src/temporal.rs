//! Temporal token merging for video, after TempMe (Shen et al., 2024) and
//! ToMe (Bolya et al., 2023): consecutive frames that show the same thing
//! should not each cost an index entry.
//!
//! Each encoded frame is a token (its vectors, a size = frames it stands for,
//! and a frame span). A round of bipartite soft matching splits the tokens
//! into alternating sets A (even positions) and B (odd); every A token picks
//! the more similar of its two temporal neighbours (both in B), and the best
//! matches above `threshold` are merged into their B token by size-weighted
//! averages of every vector. Only neighbours merge, so every token keeps a
//! contiguous time span. Rounds repeat until no neighbour pair is similar
//! enough and the token count is within `budget`; past the threshold, merging
//! continues (most similar pairs first) only while the count exceeds the budget.
//!
//! TempMe merges inside a ViT, between its layers; pith's encoders are whole
//! ONNX graphs, so it merges their outputs between frames (see
//! docs/ARCHITECTURE.md).

/// One merged stretch of video.
#[derive(Debug, Clone)]
pub struct Token {
    /// Vectors, one per space; averaged with sizes as weights.
    pub vecs: Vec<Vec<f32>>,
    /// Frames this token stands for (encoded and skipped alike).
    pub size: usize,
    /// First and last frame index (inclusive).
    pub first: usize,
    pub last: usize,
}

/// Cosine similarity of the first vector (the one matching is judged on).
fn sim(a: &Token, b: &Token) -> f32 {
    let (x, y) = (&a.vecs[0], &b.vecs[0]);
    let (mut d, mut nx, mut ny) = (0f32, 0f32, 0f32);
    for (p, q) in x.iter().zip(y) {
        d += p * q;
        nx += p * p;
        ny += q * q;
    }
    if nx == 0.0 || ny == 0.0 {
        return 0.0;
    }
    d / (nx.sqrt() * ny.sqrt())
}

fn absorb(into: &mut Token, from: Token) {
    let (wa, wb) = (into.size as f32, from.size as f32);
    for (v, w) in into.vecs.iter_mut().zip(from.vecs) {
        for (x, y) in v.iter_mut().zip(w) {
            *x = (*x * wa + y * wb) / (wa + wb);
        }
    }
    into.size += from.size;
    into.first = into.first.min(from.first);
    into.last = into.last.max(from.last);
}

/// Merge until neighbours differ by more than `threshold` (cosine) and at
/// most `budget` tokens remain (`budget` ≥ 1).
pub fn merge(mut tokens: Vec<Token>, threshold: f32, budget: usize) -> Vec<Token> {
    let budget = budget.max(1);
    loop {
        let n = tokens.len();
        if n < 2 {
            return tokens;
        }
        // Each A token (even position) proposes its best B neighbour.
        let mut edges: Vec<(f32, usize, usize)> = Vec::new();
        for a in (0..n).step_by(2) {
            let mut best: Option<(f32, usize)> = None;
            for b in [a.wrapping_sub(1), a + 1] {
                if b < n {
                    let s = sim(&tokens[a], &tokens[b]);
                    if best.is_none_or(|(bs, _)| s > bs) {
                        best = Some((s, b));
                    }
                }
            }
            if let Some((s, b)) = best {
                edges.push((s, a, b));
            }
        }
        edges.sort_by(|x, y| y.0.total_cmp(&x.0));
        let over = n.saturating_sub(budget);
        let take: Vec<(usize, usize)> =
            edges.iter().enumerate().filter(|(i, (s, _, _))| *s >= threshold || *i < over).map(|(_, &(_, a, b))| (a, b)).collect();
        if take.is_empty() {
            return tokens;
        }
        // Fold each chosen A into its B, then drop the merged A tokens.
        let mut slots: Vec<Option<Token>> = tokens.into_iter().map(Some).collect();
        for &(a, b) in &take {
            if let Some(t) = slots[a].take() {
                if let Some(dst) = slots[b].as_mut() {
                    absorb(dst, t);
                }
            }
        }
        tokens = slots.into_iter().flatten().collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tok(i: usize, v: Vec<f32>) -> Token {
        Token { vecs: vec![v], size: 1, first: i, last: i }
    }

    #[test]
    fn static_stretches_collapse_and_cuts_survive() {
        // 10 frames of scene A, then 10 of scene B (orthogonal), small jitter.
        let mut t = Vec::new();
        for i in 0..20 {
            let j = (i % 3) as f32 * 0.01;
            t.push(tok(i, if i < 10 { vec![1.0, j, 0.0] } else { vec![0.0, j, 1.0] }));
        }
        let m = merge(t, 0.9, 100);
        assert_eq!(m.len(), 2, "{m:?}");
        assert_eq!((m[0].first, m[0].last, m[0].size), (0, 9, 10));
        assert_eq!((m[1].first, m[1].last, m[1].size), (10, 19, 10));
    }

    #[test]
    fn the_budget_forces_merges_and_spans_stay_contiguous() {
        let t: Vec<Token> = (0..30).map(|i| tok(i, vec![(i as f32).cos(), (i as f32).sin()])).collect();
        let m = merge(t, 2.0, 4);
        assert!(m.len() <= 4, "{}", m.len());
        assert_eq!(m.iter().map(|t| t.size).sum::<usize>(), 30);
        for w in m.windows(2) {
            assert_eq!(w[0].last + 1, w[1].first);
        }
        // Size-weighted average: a merged constant stays the constant.
        let m = merge(vec![tok(0, vec![2.0, 0.0]), tok(1, vec![2.0, 0.0]), tok(2, vec![2.0, 0.0])], 0.5, 1);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].vecs[0], vec![2.0, 0.0]);
    }
}
