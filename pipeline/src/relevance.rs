//! Calibrated relevance: dense search returns "something" for every query,
//! so pith maps each hit's raw cosine to a probability of being relevant and
//! hides what falls below one global threshold.
//!
//! After "Relevance Filtering for Embedding-based Retrieval" (Rossi et al.,
//! CIKM 2024, the Cosine Adapter): the mapping is query-dependent, through
//! features of the query's own score distribution, so a hit at cosine 0.45 is
//! relevant for a query whose best is 0.47 and noise for one whose best is
//! 0.80. Features of a hit with cosine `s` in a list whose top-`K` scores have
//! maximum `top`, mean `μ` and deviation `σ` (`K = 10`):
//! `s`, `top − s`, `(s − μ) / σ`, and BM25 agreement `1 / rank_bm25` (0 when
//! BM25 did not find it). A logistic model per space family (text: the
//! query and the hit in the same modality; cross-modal: ConSE, CLIP, CLAP)
//! turns them into `P(relevant)`: `σ(b + w·f)`. `pith calibrate` fits it on
//! labelled data (Newton's method on the log-loss, small L2 penalty); the
//! default below was fitted on data that is not pith's evaluation data (see
//! `Calibration::default`).
//!
//! Not for: ranking. Relevance only decides what is shown.

use serde::{Deserialize, Serialize};

pub const FEATURES: usize = 4;
/// Top scores of a list that describe the query's score distribution.
pub const TOP_K: usize = 10;

/// A hit's features (see the module doc).
pub type Features = [f32; FEATURES];

pub fn features(s: f32, list_top: &[f32], bm25_rank: Option<usize>) -> Features {
    let k = list_top.len().clamp(1, TOP_K);
    let top = list_top.iter().take(k).copied().fold(s, f32::max);
    let n = list_top.len().min(k).max(1) as f32;
    let mean = if list_top.is_empty() { s } else { list_top.iter().take(k).sum::<f32>() / n };
    let var = list_top.iter().take(k).map(|x| (x - mean).powi(2)).sum::<f32>() / n;
    let z = (s - mean) / var.sqrt().max(0.01);
    [s, top - s, z, bm25_rank.map_or(0.0, |r| 1.0 / r as f32)]
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Logistic {
    pub w: [f32; FEATURES],
    pub b: f32,
}

impl Logistic {
    pub fn prob(&self, f: &Features) -> f32 {
        let t = self.b + self.w.iter().zip(f).map(|(w, x)| w * x).sum::<f32>();
        1.0 / (1.0 + (-t).exp())
    }
}

/// Which model a list's hits go through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Text,
    Cross,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    pub text: Logistic,
    pub cross: Logistic,
    /// Hits with a relevance below this are hidden unless asked for.
    pub threshold: f32,
    /// What it was fitted on (shown by `pith config get`).
    pub fitted_on: String,
}

impl Default for Calibration {
    /// Fitted by `pith calibrate` on data that is not pith's evaluation
    /// data (docs/BENCHMARKS.md, "Relevance cut-off", has the commands):
    /// - text: `leval-nq` (Wikipedia passages, Natural Questions questions;
    ///   `scripts/make_beir_sets.py`), with LEval's multi-document questions
    ///   as *absent* queries (their hits are all non-relevant), every
    ///   feature, `--keep 0.98`;
    /// - cross-modal: the COCO-mini captions of odd-id images, with the
    ///   leval-nq questions as absent queries, features `s,gap` (the z-score
    ///   lets the best hit of an absent query through: one standout photo
    ///   is not a match), `--keep 0.8` (ConSE puts many true caption–photo
    ///   pairs at cosines no higher than unrelated queries reach, so keeping
    ///   more of them lets "a spreadsheet of tax numbers" find a photo of a
    ///   book page).
    fn default() -> Self {
        Calibration {
            text: Logistic { w: [5.411_037, -0.486_226_74, 0.371_020_88, 1.093_520_6], b: -2.191_937_7 },
            cross: Logistic { w: [6.002_786_6, -8.212_658, 0.0, 0.0], b: -1.251_278_2 },
            threshold: 0.5,
            fitted_on: "built-in default".into(),
        }
    }
}

impl Calibration {
    pub fn relevance(&self, family: Family, f: &Features) -> f32 {
        match family {
            Family::Text => self.text.prob(f),
            Family::Cross => self.cross.prob(f),
        }
    }
}

/// Fit a logistic model by Newton's method with an L2 penalty `lambda` on
/// the weights (not the bias). Features are standardised while fitting and
/// the result folded back, so the returned model takes raw features.
pub fn fit(samples: &[(Features, bool)], lambda: f64) -> Logistic {
    let n = samples.len().max(1) as f64;
    let mut mean = [0f64; FEATURES];
    let mut sd = [0f64; FEATURES];
    for (f, _) in samples {
        for j in 0..FEATURES {
            mean[j] += f[j] as f64 / n;
        }
    }
    for (f, _) in samples {
        for j in 0..FEATURES {
            sd[j] += (f[j] as f64 - mean[j]).powi(2) / n;
        }
    }
    for s in sd.iter_mut() {
        *s = s.sqrt().max(1e-6);
    }
    const P: usize = FEATURES + 1;
    let x: Vec<[f64; P]> = samples
        .iter()
        .map(|(f, _)| {
            let mut r = [1f64; P];
            for j in 0..FEATURES {
                r[j + 1] = (f[j] as f64 - mean[j]) / sd[j];
            }
            r
        })
        .collect();
    let y: Vec<f64> = samples.iter().map(|(_, l)| if *l { 1.0 } else { 0.0 }).collect();
    let mut beta = [0f64; P];
    for _ in 0..50 {
        let mut g = [0f64; P];
        let mut h = [[0f64; P]; P];
        for (xi, yi) in x.iter().zip(&y) {
            let t: f64 = xi.iter().zip(&beta).map(|(a, b)| a * b).sum();
            let p = 1.0 / (1.0 + (-t).exp());
            for a in 0..P {
                g[a] += (p - yi) * xi[a];
                for b in 0..P {
                    h[a][b] += p * (1.0 - p) * xi[a] * xi[b];
                }
            }
        }
        for a in 1..P {
            g[a] += lambda * beta[a];
            h[a][a] += lambda;
        }
        h[0][0] += 1e-9;
        let step = solve(h, g);
        let mut moved = 0f64;
        for a in 0..P {
            beta[a] -= step[a];
            moved = moved.max(step[a].abs());
        }
        if moved < 1e-8 {
            break;
        }
    }
    let mut w = [0f32; FEATURES];
    let mut b = beta[0];
    for j in 0..FEATURES {
        w[j] = (beta[j + 1] / sd[j]) as f32;
        b -= beta[j + 1] * mean[j] / sd[j];
    }
    Logistic { w, b: b as f32 }
}

/// Solve `a·x = g` by Gaussian elimination with partial pivoting.
#[allow(clippy::needless_range_loop)]
fn solve<const P: usize>(mut a: [[f64; P]; P], mut g: [f64; P]) -> [f64; P] {
    for c in 0..P {
        let p = (c..P).max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs())).unwrap_or(c);
        a.swap(c, p);
        g.swap(c, p);
        let d = if a[c][c].abs() < 1e-12 { 1e-12 } else { a[c][c] };
        for r in c + 1..P {
            let f = a[r][c] / d;
            for k in c..P {
                a[r][k] -= f * a[c][k];
            }
            g[r] -= f * g[c];
        }
    }
    let mut x = [0f64; P];
    for c in (0..P).rev() {
        let s: f64 = (c + 1..P).map(|k| a[c][k] * x[k]).sum();
        let d = if a[c][c].abs() < 1e-12 { 1e-12 } else { a[c][c] };
        x[c] = (g[c] - s) / d;
    }
    x
}

/// The threshold that keeps `keep` (e.g. 0.95) of the relevant samples.
pub fn threshold_keeping(model: &Logistic, samples: &[(Features, bool)], keep: f64) -> f32 {
    let mut rel: Vec<f32> = samples.iter().filter(|s| s.1).map(|s| model.prob(&s.0)).collect();
    if rel.is_empty() {
        return 0.5;
    }
    rel.sort_by(|a, b| b.total_cmp(a));
    let i = ((keep * rel.len() as f64).ceil() as usize).clamp(1, rel.len()) - 1;
    rel[i]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_hand_computed() {
        // top-3 list 0.8, 0.6, 0.4: mean 0.6, σ = sqrt(0.08/3) = 0.1633.
        let f = features(0.6, &[0.8, 0.6, 0.4], Some(2));
        assert!((f[0] - 0.6).abs() < 1e-6);
        assert!((f[1] - 0.2).abs() < 1e-6);
        assert!(f[2].abs() < 1e-5);
        assert!((f[3] - 0.5).abs() < 1e-6);
        let f = features(0.8, &[0.8, 0.6, 0.4], None);
        assert!((f[2] - 0.2 / 0.163_299).abs() < 1e-3);
        assert_eq!(f[3], 0.0);
    }

    #[test]
    fn fit_separates_by_score_and_recovers_a_known_model() {
        // Labels drawn from a known logistic model in the first feature.
        let truth = Logistic { w: [12.0, 0.0, 0.0, 0.0], b: -6.0 };
        let mut samples = Vec::new();
        let mut state = 7u64;
        for i in 0..4000 {
            let s = (i % 100) as f32 / 100.0;
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let u = (state >> 40) as f32 / (1u64 << 24) as f32;
            let f = [s, 0.3, (i % 7) as f32, 0.0];
            samples.push((f, u < truth.prob(&f)));
        }
        let m = fit(&samples, 1e-3);
        assert!((m.w[0] - 12.0).abs() < 2.0, "{m:?}");
        assert!((m.b / m.w[0] + 0.5).abs() < 0.05, "{m:?}");
        assert!(m.w[2].abs() < 0.3, "{m:?}");
        let t = threshold_keeping(&m, &samples, 0.95);
        let kept = samples.iter().filter(|s| s.1 && m.prob(&s.0) >= t).count() as f64;
        let rel = samples.iter().filter(|s| s.1).count() as f64;
        assert!(kept / rel >= 0.95);
    }
}
