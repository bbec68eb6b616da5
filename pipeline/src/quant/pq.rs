//! Product quantisation: the vector is cut into `m` sub-vectors, each replaced
//! by the index of its nearest of 256 k-means centroids (one byte). A query
//! becomes a table of `m × 256` dot products, so scoring a code is `m` table
//! lookups (asymmetric distance computation).
//!
//! OPQ (Ge et al., 2013) first rotates the space so the sub-spaces carry
//! balanced, decorrelated variance: alternate PQ training on `X R` with the
//! orthogonal Procrustes update `R = polar(Xᵀ Ŷ)`.

use super::linalg::{at_b, kmeans, nearest, symmetric_eigen, times};
use super::params::{Reader, Writer};
use super::{bytes_of, bytes_of_mut, Codec, CodecSpec};
use crate::error::{PipelineError, Result};

const K: usize = 256;
const MAX_TRAIN: usize = 65_536;

pub struct Pq {
    dim: usize,
    m: usize,
    /// `m × K × (dim / m)`.
    centroids: Vec<f32>,
    /// `dim × dim`, applied as `x · R`.
    rotation: Option<Vec<f32>>,
    /// Centroid-to-centroid squared distances per sub-space (`m × K × K`),
    /// built on first use: graph building compares codes millions of times.
    sdc: std::sync::OnceLock<Vec<f32>>,
}

fn codebooks(y: &[f32], dim: usize, m: usize, iters: usize) -> Vec<f32> {
    let sub = dim / m;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(m);
    let mut books = vec![0f32; m * K * sub];
    std::thread::scope(|s| {
        let per = m.div_ceil(threads);
        for (t, chunk) in books.chunks_mut(per * K * sub).enumerate() {
            s.spawn(move || {
                for (i, book) in chunk.chunks_mut(K * sub).enumerate() {
                    let part = t * per + i;
                    let cols: Vec<f32> = y.chunks_exact(dim).flat_map(|r| r[part * sub..(part + 1) * sub].iter().copied()).collect();
                    let c = kmeans(&cols, sub, K, iters, 1234 + part as u64);
                    book[..c.len()].copy_from_slice(&c);
                    // Fewer rows than K: the spare centroids repeat the last one, never chosen first.
                    let filled = c.len() / sub;
                    for spare in filled..K {
                        book.copy_within((filled - 1) * sub..filled * sub, spare * sub);
                    }
                }
            });
        }
    });
    books
}

impl Pq {
    pub fn train(dim: usize, sample: &[f32], m: usize, opq: bool) -> Result<Self> {
        if m == 0 || !dim.is_multiple_of(m) {
            return Err(PipelineError::BadInput(format!("pq{m} needs a dimension divisible by {m}, got {dim}")));
        }
        let n = (sample.len() / dim).min(MAX_TRAIN);
        let x = &sample[..n * dim];
        if !opq {
            return Ok(Pq { dim, m, centroids: codebooks(x, dim, m, 20), rotation: None, sdc: Default::default() });
        }
        let mut r: Vec<f32> = (0..dim * dim).map(|i| if i / dim == i % dim { 1.0 } else { 0.0 }).collect();
        for _ in 0..6 {
            let y = times(x, dim, &r, dim);
            let pq = Pq { dim, m, centroids: codebooks(&y, dim, m, 8), rotation: None, sdc: Default::default() };
            let mut yhat = vec![0f32; y.len()];
            let mut code = vec![0u32; pq.code_words()];
            for (row, out) in y.chunks_exact(dim).zip(yhat.chunks_exact_mut(dim)) {
                pq.encode(row, &mut code);
                pq.decode(&code, out);
            }
            r = polar(&at_b(x, dim, &yhat, dim), dim);
        }
        let y = times(x, dim, &r, dim);
        Ok(Pq { dim, m, centroids: codebooks(&y, dim, m, 20), rotation: Some(r), sdc: Default::default() })
    }

    pub fn read(dim: usize, m: usize, opq: bool, r: &mut Reader) -> Result<Self> {
        if m == 0 || !dim.is_multiple_of(m) {
            return Err(PipelineError::VectorIndex(format!("pq{m} saved for dimension {dim}")));
        }
        let centroids = r.f32s(m * K * (dim / m))?;
        let rotation = if opq { Some(r.f32s(dim * dim)?) } else { None };
        Ok(Pq { dim, m, centroids, rotation, sdc: Default::default() })
    }

    fn rotate(&self, x: &[f32]) -> Vec<f32> {
        match &self.rotation {
            Some(r) => times(x, self.dim, r, self.dim),
            None => x.to_vec(),
        }
    }

    fn book(&self, part: usize) -> &[f32] {
        let sub = self.dim / self.m;
        &self.centroids[part * K * sub..(part + 1) * K * sub]
    }
}

/// The orthogonal factor of `m` (`d × d`): `M (MᵀM)^-1/2`.
fn polar(m: &[f64], d: usize) -> Vec<f32> {
    let mut mtm = vec![0f64; d * d];
    for i in 0..d {
        for j in 0..d {
            mtm[i * d + j] = (0..d).map(|k| m[k * d + i] * m[k * d + j]).sum();
        }
    }
    let (vals, vecs) = symmetric_eigen(&mtm, d);
    let floor = vals.first().copied().unwrap_or(1.0).abs() * 1e-12;
    // (MᵀM)^-1/2 = Σ_k v_k v_kᵀ / sqrt(λ_k)
    let mut inv = vec![0f64; d * d];
    for (k, l) in vals.iter().enumerate() {
        let w = 1.0 / l.max(floor).sqrt();
        let v = &vecs[k * d..(k + 1) * d];
        for i in 0..d {
            for j in 0..d {
                inv[i * d + j] += w * v[i] * v[j];
            }
        }
    }
    let mut r = vec![0f32; d * d];
    for i in 0..d {
        for j in 0..d {
            r[i * d + j] = (0..d).map(|k| m[i * d + k] * inv[k * d + j]).sum::<f64>() as f32;
        }
    }
    r
}

impl Codec for Pq {
    fn spec(&self) -> CodecSpec {
        CodecSpec::Pq { m: self.m as u16, opq: self.rotation.is_some() }
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn code_words(&self) -> usize {
        self.m.div_ceil(4)
    }
    fn encode(&self, v: &[f32], code: &mut [u32]) {
        let y = self.rotate(v);
        let sub = self.dim / self.m;
        let bytes = bytes_of_mut(code);
        bytes.fill(0);
        for part in 0..self.m {
            bytes[part] = nearest(&y[part * sub..(part + 1) * sub], self.book(part), sub) as u8;
        }
    }
    fn decode(&self, code: &[u32], out: &mut [f32]) {
        let sub = self.dim / self.m;
        let bytes = bytes_of(code);
        let mut y = vec![0f32; self.dim];
        for part in 0..self.m {
            let c = bytes[part] as usize;
            y[part * sub..(part + 1) * sub].copy_from_slice(&self.book(part)[c * sub..(c + 1) * sub]);
        }
        match &self.rotation {
            // x̂ = ŷ Rᵀ
            Some(r) => {
                for (i, o) in out.iter_mut().enumerate().take(self.dim) {
                    *o = y.iter().zip(&r[i * self.dim..(i + 1) * self.dim]).map(|(a, b)| a * b).sum();
                }
            }
            None => out[..self.dim].copy_from_slice(&y),
        }
    }
    /// `m × 256` table of sub-query · centroid.
    fn prepare(&self, q: &[f32]) -> Vec<f32> {
        let y = self.rotate(q);
        let sub = self.dim / self.m;
        let mut lut = vec![0f32; self.m * K];
        for part in 0..self.m {
            let qs = &y[part * sub..(part + 1) * sub];
            for (c, cent) in self.book(part).chunks_exact(sub).enumerate() {
                lut[part * K + c] = qs.iter().zip(cent).map(|(a, b)| a * b).sum();
            }
        }
        lut
    }
    fn score(&self, lut: &[f32], code: &[u32]) -> f32 {
        bytes_of(code)[..self.m].iter().enumerate().map(|(part, c)| lut[part * K + *c as usize]).sum()
    }
    fn distance(&self, a: &[u32], b: &[u32]) -> f32 {
        let sdc = self.sdc.get_or_init(|| {
            let sub = self.dim / self.m;
            let mut t = vec![0f32; self.m * K * K];
            for part in 0..self.m {
                let book = self.book(part);
                for i in 0..K {
                    for j in 0..K {
                        t[(part * K + i) * K + j] = pith_models::l2_squared(&book[i * sub..(i + 1) * sub], &book[j * sub..(j + 1) * sub]);
                    }
                }
            }
            t
        });
        let (a, b) = (bytes_of(a), bytes_of(b));
        (0..self.m).map(|part| sdc[(part * K + a[part] as usize) * K + b[part] as usize]).sum()
    }
    fn write_params(&self, w: &mut Writer) {
        w.f32s(&self.centroids);
        if let Some(r) = &self.rotation {
            w.f32s(r);
        }
    }
}
