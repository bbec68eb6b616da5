//! Binary sign codes and their residual multi-bit refinement (after BEBR,
//! training-free variant): level 1 stores `sign(x − mean)`, level `l` the sign
//! of what the levels before it left over, each level with one scale
//! (`mean |residual|`, the least-squares optimum for a sign code). So
//! `x̂ = mean + Σ_l s_l · b_l` with `b_l ∈ {−1, +1}^d`, `levels` bits per
//! dimension.
//!
//! Scoring a float query never unpacks bits: the query becomes a table of
//! partial sums per code byte (256 entries per 8 dimensions), so
//! `Σ_i q_i b_i = 2 · Σ_bytes table[byte] − Σ_i q_i`, shared by all levels.
//! Two codes compare by popcounts (`distance`), which is what graph building uses.

use super::params::{Reader, Writer};
use super::{bytes_of, Codec, CodecSpec};
use crate::error::Result;

pub struct Residual {
    dim: usize,
    levels: usize,
    mean: Vec<f32>,
    scales: Vec<f32>,
}

impl Residual {
    pub fn train(dim: usize, sample: &[f32], levels: usize) -> Self {
        let n = sample.len() / dim;
        let mut mean = vec![0f32; dim];
        for row in sample.chunks_exact(dim) {
            mean.iter_mut().zip(row).for_each(|(m, x)| *m += x);
        }
        mean.iter_mut().for_each(|m| *m /= n as f32);
        let mut resid: Vec<f32> = sample.chunks_exact(dim).flat_map(|row| row.iter().zip(&mean).map(|(x, m)| x - m)).collect();
        let mut scales = Vec::with_capacity(levels);
        for _ in 0..levels {
            let s = resid.iter().map(|r| r.abs() as f64).sum::<f64>() / resid.len() as f64;
            let s = s as f32;
            resid.iter_mut().for_each(|r| *r -= if *r >= 0.0 { s } else { -s });
            scales.push(s);
        }
        Residual { dim, levels, mean, scales }
    }

    pub fn read(dim: usize, levels: usize, r: &mut Reader) -> Result<Self> {
        Ok(Residual { dim, levels, mean: r.f32s(dim)?, scales: r.f32s(levels)? })
    }

    fn words_per_level(&self) -> usize {
        self.dim.div_ceil(32)
    }

    fn bit(level: &[u32], i: usize) -> bool {
        level[i / 32] >> (i % 32) & 1 == 1
    }
}

impl Codec for Residual {
    fn spec(&self) -> CodecSpec {
        CodecSpec::Binary { levels: self.levels as u8 }
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn code_words(&self) -> usize {
        self.levels * self.words_per_level()
    }
    fn encode(&self, v: &[f32], code: &mut [u32]) {
        code.fill(0);
        let mut r: Vec<f32> = v.iter().zip(&self.mean).map(|(x, m)| x - m).collect();
        for (level, s) in code.chunks_exact_mut(self.words_per_level()).zip(&self.scales) {
            for (i, r) in r.iter_mut().enumerate() {
                if *r >= 0.0 {
                    level[i / 32] |= 1 << (i % 32);
                    *r -= s;
                } else {
                    *r += s;
                }
            }
        }
    }
    fn decode(&self, code: &[u32], out: &mut [f32]) {
        out[..self.dim].copy_from_slice(&self.mean);
        for (level, s) in code.chunks_exact(self.words_per_level()).zip(&self.scales) {
            for (i, o) in out.iter_mut().enumerate().take(self.dim) {
                *o += if Self::bit(level, i) { *s } else { -*s };
            }
        }
    }
    /// 256 partial sums per code byte, then `Σ q` and `q·mean`.
    fn prepare(&self, q: &[f32]) -> Vec<f32> {
        let nbytes = self.dim.div_ceil(8);
        let mut p = vec![0f32; nbytes * 256 + 2];
        for j in 0..nbytes {
            let t = &mut p[j * 256..(j + 1) * 256];
            for v in 1..256usize {
                let low = v.trailing_zeros() as usize;
                let i = j * 8 + low;
                t[v] = t[v & (v - 1)] + if i < self.dim { q[i] } else { 0.0 };
            }
        }
        p[nbytes * 256] = q.iter().sum();
        p[nbytes * 256 + 1] = q.iter().zip(&self.mean).map(|(a, b)| a * b).sum();
        p
    }
    fn score(&self, p: &[f32], code: &[u32]) -> f32 {
        let nbytes = self.dim.div_ceil(8);
        let (sum_q, q_mean) = (p[nbytes * 256], p[nbytes * 256 + 1]);
        let mut total = q_mean;
        for (level, s) in code.chunks_exact(self.words_per_level()).zip(&self.scales) {
            let bytes = &bytes_of(level)[..nbytes];
            let set: f32 = bytes.iter().enumerate().map(|(j, b)| p[j * 256 + *b as usize]).sum();
            total += s * (2.0 * set - sum_q);
        }
        total
    }
    /// `‖Σ_l s_l (b_al − b_bl)‖²` by popcounts: per pair of levels, dimensions
    /// where both levels differ count +4 when the two differences agree in sign.
    fn distance(&self, a: &[u32], b: &[u32]) -> f32 {
        let w = self.words_per_level();
        if self.levels == 1 {
            return 4.0 * self.scales[0] * self.scales[0] * hamming(a, b) as f32;
        }
        let mut total = 0f32;
        for l in 0..self.levels {
            for m in l..self.levels {
                let mut dot = 0i64;
                for k in 0..w {
                    let (al, bl, am, bm) = (a[l * w + k], b[l * w + k], a[m * w + k], b[m * w + k]);
                    let both = (al ^ bl) & (am ^ bm);
                    let opposite = al ^ am;
                    dot += (both & !opposite).count_ones() as i64 - (both & opposite).count_ones() as i64;
                }
                let term = 4.0 * self.scales[l] * self.scales[m] * dot as f32;
                total += if l == m { term } else { 2.0 * term };
            }
        }
        total.max(0.0)
    }
    fn write_params(&self, w: &mut Writer) {
        w.f32s(&self.mean);
        w.f32s(&self.scales);
    }
}

pith_models::cpu_dispatch! {
    /// Differing bits of two codes, with the CPU's popcount instruction when it
    /// has one (the x86-64 baseline does not, and the software fallback is 3×
    /// slower in graph building).
    fn hamming(a: &[u32], b: &[u32]) -> u32 = "popcnt" hamming_plain
}

#[inline(always)]
fn hamming_plain(a: &[u32], b: &[u32]) -> u32 {
    a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
}
