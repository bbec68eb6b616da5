//! Local ONNX models for pith: where they live, how they are verified, and how
//! text and images become vectors.
//!
//! This crate knows nothing about storage or HTTP. Each ONNX session runs on its
//! own thread behind a command channel ([`worker`]), so callers on any thread can
//! share one encoder without locking around `Session::run`.

pub mod catalog;
pub mod clip;
pub mod error;
pub mod image_prep;
pub mod image_encoder;
pub mod manifest;
pub mod runtime;
pub mod text_encoder;
pub mod worker;

pub use catalog::ModelCache;
pub use clip::{ClipConfig, ClipEncoder};
pub use error::{ModelError, Result};
pub use image_encoder::{ImageEncoder, ImageOutput};
pub use image_prep::{ImagePrep, Preprocessed};
pub use manifest::Manifest;
pub use text_encoder::TextEncoder;

/// L2-normalise in place; a zero vector stays zero.
pub fn l2_normalize(v: &mut [f32]) {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
}

/// Dot product of two equal-length slices.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
