//! PCA reduction before any other codec (after LeanVec): project onto the top
//! principal directions of the indexed data, then compress the shorter
//! vector. With `queries` the directions come from data and queries together
//! (each covariance normalised by its trace), for query distributions that
//! differ from the data (text queries against image embeddings).

use super::linalg::symmetric_eigen;
use super::params::{Reader, Writer};
use super::{Codec, CodecSpec};
use crate::error::{PipelineError, Result};

pub struct Pca {
    dim: usize,
    dims: usize,
    queries: bool,
    mean: Vec<f32>,
    /// `dims × dim`, orthonormal rows.
    comps: Vec<f32>,
    inner: Box<dyn Codec>,
}

fn covariance(x: &[f32], dim: usize, mean: &[f32]) -> Vec<f64> {
    let n = (x.len() / dim).max(1);
    let mut c = vec![0f64; dim * dim];
    let mut r = vec![0f64; dim];
    for row in x.chunks_exact(dim) {
        r.iter_mut().zip(row.iter().zip(mean)).for_each(|(r, (x, m))| *r = (x - m) as f64);
        for i in 0..dim {
            let ri = r[i];
            c[i * dim..(i + 1) * dim].iter_mut().zip(&r).for_each(|(c, rj)| *c += ri * rj);
        }
    }
    c.iter_mut().for_each(|v| *v /= n as f64);
    c
}

impl Pca {
    pub fn train(dim: usize, sample: &[f32], queries: Option<&[f32]>, dims: usize, inner: &CodecSpec) -> Result<Self> {
        if dims == 0 || dims > dim {
            return Err(PipelineError::BadInput(format!("pca{dims} must reduce {dim} dimensions to between 1 and {dim}")));
        }
        let n = sample.len() / dim;
        let mut mean = vec![0f32; dim];
        sample.chunks_exact(dim).for_each(|r| mean.iter_mut().zip(r).for_each(|(m, x)| *m += x / n as f32));
        let mut cov = covariance(sample, dim, &mean);
        if let Some(q) = queries.filter(|q| q.len() >= dim) {
            let cq = covariance(q, dim, &mean);
            let trace = |c: &[f64]| (0..dim).map(|i| c[i * dim + i]).sum::<f64>().max(1e-30);
            let (ta, tq) = (trace(&cov), trace(&cq));
            cov.iter_mut().zip(&cq).for_each(|(a, b)| *a = *a / ta + b / tq);
        }
        let (_, vecs) = symmetric_eigen(&cov, dim);
        let comps: Vec<f32> = vecs[..dims * dim].iter().map(|v| *v as f32).collect();
        let mut pca = Pca { dim, dims, queries: queries.is_some(), mean, comps, inner: Box::new(super::scalar::F32 { dim: dims }) };
        let projected: Vec<f32> = sample.chunks_exact(dim).flat_map(|r| pca.project(r)).collect();
        pca.inner = super::train(inner, dims, &projected, None)?;
        Ok(pca)
    }

    pub fn read(
        dim: usize,
        dims: usize,
        queries: bool,
        read_inner: impl FnOnce(usize, &mut Reader) -> Result<Box<dyn Codec>>,
        r: &mut Reader,
    ) -> Result<Self> {
        let mean = r.f32s(dim)?;
        let comps = r.f32s(dims * dim)?;
        let inner = read_inner(dims, r)?;
        Ok(Pca { dim, dims, queries, mean, comps, inner })
    }

    /// `comps · (x − mean)`.
    fn project(&self, x: &[f32]) -> Vec<f32> {
        let c: Vec<f32> = x.iter().zip(&self.mean).map(|(x, m)| x - m).collect();
        self.comps.chunks_exact(self.dim).map(|row| pith_models::dot(row, &c)).collect()
    }
}

impl Codec for Pca {
    fn spec(&self) -> CodecSpec {
        CodecSpec::Pca { dims: self.dims as u16, queries: self.queries, inner: Box::new(self.inner.spec()) }
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn code_words(&self) -> usize {
        self.inner.code_words()
    }
    fn encode(&self, v: &[f32], code: &mut [u32]) {
        self.inner.encode(&self.project(v), code);
    }
    fn decode(&self, code: &[u32], out: &mut [f32]) {
        let mut y = vec![0f32; self.dims];
        self.inner.decode(code, &mut y);
        out[..self.dim].copy_from_slice(&self.mean);
        for (row, yk) in self.comps.chunks_exact(self.dim).zip(&y) {
            out.iter_mut().zip(row).for_each(|(o, c)| *o += yk * c);
        }
    }
    /// `q·x̂ = q·mean + (comps q)·ŷ`: the inner codec's prepared query, then `q·mean`.
    fn prepare(&self, q: &[f32]) -> Vec<f32> {
        let y: Vec<f32> = self.comps.chunks_exact(self.dim).map(|row| pith_models::dot(row, q)).collect();
        let mut p = self.inner.prepare(&y);
        p.push(pith_models::dot(q, &self.mean));
        p
    }
    fn score(&self, p: &[f32], code: &[u32]) -> f32 {
        let (last, rest) = p.split_last().expect("prepared query");
        self.inner.score(rest, code) + last
    }
    fn distance(&self, a: &[u32], b: &[u32]) -> f32 {
        self.inner.distance(a, b)
    }
    fn write_params(&self, w: &mut Writer) {
        w.f32s(&self.mean);
        w.f32s(&self.comps);
        self.inner.write_params(w);
    }
}
