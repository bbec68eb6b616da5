//! Compressed vectors: one [`Codec`] trait for every way pith shrinks an
//! embedding (after qdrant's `EncodedVectors`): train on a sample, encode,
//! prepare a query once, then score the query against codes without
//! decompressing them.
//!
//! Why: a 384-dimensional float32 embedding costs 1,536 bytes per chunk per
//! space; binary codes cost 48, PQ16 16. A graph walk over codes plus a
//! re-rank of a few hundred candidates with full vectors read from disk keeps
//! recall while RAM holds only codes and the graph (`index::coded`).
//!
//! Conventions: codes are `u32` words (so every codec's code is 4-aligned and
//! can be reinterpreted as bytes or f32/f16 without copies); scores are
//! approximate inner products `q·x̂` where `x̂` is the vector a code stands
//! for. L2 search adds `‖x̂‖²` (the index keeps it beside the code).
//! `distance` between two codes is `‖x̂a − x̂b‖²`, used to build graphs.

mod binary;
mod linalg;
pub use linalg::Rng;
mod params;
mod pca;
mod pq;
mod scalar;
mod spec;

pub use spec::CodecSpec;

use crate::error::{PipelineError, Result};
use params::{Reader, Writer};

/// How vectors compare: inner product (pith's unit-length embeddings, so
/// cosine) or Euclidean distance (SIFT-style descriptors).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    Dot,
    L2,
}

impl std::str::FromStr for Metric {
    type Err = PipelineError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "dot" | "ip" | "cosine" => Ok(Metric::Dot),
            "l2" => Ok(Metric::L2),
            _ => Err(PipelineError::BadInput(format!("unknown metric `{s}` (dot, cosine or l2)"))),
        }
    }
}

/// A trained vector codec. Object safe: indexes hold `Arc<dyn Codec>`.
pub trait Codec: Send + Sync {
    fn spec(&self) -> CodecSpec;
    /// Input dimension.
    fn dim(&self) -> usize;
    /// Code length in u32 words.
    fn code_words(&self) -> usize;
    /// Bytes per code (what a vector costs in RAM).
    fn code_bytes(&self) -> usize {
        self.code_words() * 4
    }
    fn encode(&self, v: &[f32], code: &mut [u32]);
    fn decode(&self, code: &[u32], out: &mut [f32]);
    /// The query prepared once per search (a copy, scaled weights, or lookup
    /// tables, depending on the codec). Its length never equals
    /// `code_words()` unless the code is the float vector itself.
    fn prepare(&self, q: &[f32]) -> Vec<f32>;
    /// Approximate `q·x̂` for a prepared query.
    fn score(&self, prepared: &[f32], code: &[u32]) -> f32;
    /// `‖x̂a − x̂b‖²` between two codes.
    fn distance(&self, a: &[u32], b: &[u32]) -> f32;
    /// Trained parameters (codebooks, ranges, rotations), for `save`.
    fn write_params(&self, w: &mut Writer);
}

const MAGIC: &[u8; 4] = b"PQC1";

/// Train a codec of `spec` on `sample` (rows of `dim` floats, flattened).
/// `queries` (optional, same layout) lets PCA fit the query distribution too.
pub fn train(spec: &CodecSpec, dim: usize, sample: &[f32], queries: Option<&[f32]>) -> Result<Box<dyn Codec>> {
    if dim == 0 || !sample.len().is_multiple_of(dim) {
        return Err(PipelineError::BadInput(format!("training sample of {} floats is not rows of {dim}", sample.len())));
    }
    let n = sample.len() / dim;
    if n < spec.min_training() {
        return Err(PipelineError::BadInput(format!("codec {spec} needs at least {} training vectors, got {n}", spec.min_training())));
    }
    if sample.iter().any(|x| !x.is_finite()) {
        return Err(PipelineError::BadInput("training vectors contain NaN or infinity".into()));
    }
    Ok(match spec {
        CodecSpec::F32 => Box::new(scalar::F32 { dim }),
        CodecSpec::F16 => Box::new(scalar::F16 { dim }),
        CodecSpec::Int8 => Box::new(scalar::Sq::train(dim, sample, 8)),
        CodecSpec::Int4 => Box::new(scalar::Sq::train(dim, sample, 4)),
        CodecSpec::Binary { levels } => Box::new(binary::Residual::train(dim, sample, *levels as usize)),
        CodecSpec::Pq { m, opq } => Box::new(pq::Pq::train(dim, sample, *m as usize, *opq)?),
        CodecSpec::Pca { dims, queries: use_q, inner } => {
            Box::new(pca::Pca::train(dim, sample, if *use_q { queries } else { None }, *dims as usize, inner)?)
        }
    })
}

/// Serialise a trained codec (spec, dimension, parameters).
pub fn to_bytes(c: &dyn Codec) -> Vec<u8> {
    let mut w = Writer::default();
    w.bytes(MAGIC);
    w.str(&c.spec().to_string());
    w.u32(c.dim() as u32);
    c.write_params(&mut w);
    w.into_inner()
}

/// Read back what [`to_bytes`] wrote.
pub fn from_bytes(bytes: &[u8]) -> Result<Box<dyn Codec>> {
    let mut r = Reader::new(bytes);
    if r.take(4)? != MAGIC {
        return Err(PipelineError::VectorIndex("not a pith codec file".into()));
    }
    let spec: CodecSpec = r.str()?.parse()?;
    let dim = r.u32()? as usize;
    read_codec(&spec, dim, &mut r)
}

fn read_codec(spec: &CodecSpec, dim: usize, r: &mut Reader) -> Result<Box<dyn Codec>> {
    Ok(match spec {
        CodecSpec::F32 => Box::new(scalar::F32 { dim }),
        CodecSpec::F16 => Box::new(scalar::F16 { dim }),
        CodecSpec::Int8 | CodecSpec::Int4 => Box::new(scalar::Sq::read(dim, if *spec == CodecSpec::Int8 { 8 } else { 4 }, r)?),
        CodecSpec::Binary { levels } => Box::new(binary::Residual::read(dim, *levels as usize, r)?),
        CodecSpec::Pq { m, opq } => Box::new(pq::Pq::read(dim, *m as usize, *opq, r)?),
        CodecSpec::Pca { dims, queries, inner } => {
            Box::new(pca::Pca::read(dim, *dims as usize, *queries, |d, r| read_codec(inner, d, r), r)?)
        }
    })
}

/// Reinterpret code words as bytes.
pub(crate) fn bytes_of(code: &[u32]) -> &[u8] {
    bytemuck::cast_slice(code)
}

pub(crate) fn bytes_of_mut(code: &mut [u32]) -> &mut [u8] {
    bytemuck::cast_slice_mut(code)
}

/// Encode many rows into one flat word buffer.
pub fn encode_all(c: &dyn Codec, rows: &[f32]) -> Vec<u32> {
    let (d, w) = (c.dim(), c.code_words());
    let n = rows.len() / d;
    let mut out = vec![0u32; n * w];
    for (row, code) in rows.chunks_exact(d).zip(out.chunks_exact_mut(w)) {
        c.encode(row, code);
    }
    out
}

#[cfg(test)]
mod tests;
