//! Local ONNX models for pith: where they live, how they are verified, how
//! text and images become vectors and how speech becomes text.
//!
//! This crate knows nothing about storage or HTTP. Each ONNX session runs on its
//! own thread behind a command channel ([`worker`]), so callers on any thread can
//! share one encoder without locking around `Session::run`.

pub mod catalog;
pub mod clap;
pub mod clip;
pub mod error;
pub mod image_encoder;
pub mod image_prep;
pub mod lingua;
pub mod llm;
pub mod manifest;
pub mod runtime;
pub mod text_encoder;
pub mod whisper;
pub mod worker;
pub mod xrag;

pub use catalog::ModelCache;
pub use clap::{ClapConfig, ClapEncoder};
pub use clip::{ClipConfig, ClipEncoder};
pub use error::{ModelError, Result};
pub use image_encoder::{ImageEncoder, ImageOutput};
pub use image_prep::{ImagePrep, Preprocessed};
pub use lingua::{LinguaConfig, TokenClassifier};
pub use llm::{LocalLm, Piece, Prompt, Sampling, XRAG_MARK};
pub use manifest::Manifest;
pub use text_encoder::TextEncoder;
pub use whisper::{Segment, Transcript, Whisper};
pub use xrag::{Bridge, BridgeConfig};

/// L2-normalise in place; a zero vector stays zero.
pub fn l2_normalize(v: &mut [f32]) {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
}

/// Define `fn $name(args) -> T` that runs `$body(args)` compiled for the CPU
/// feature `$feature` when the CPU has it (checked at run time), and the
/// baseline build of `$body` otherwise. `$body` should be
/// `#[inline(always)]` so each build gets its own copy of the loop.
#[macro_export]
macro_rules! cpu_dispatch {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty = $feature:tt $body:ident) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = $feature)]
                unsafe fn fast($($arg: $ty),*) -> $ret {
                    $body($($arg),*)
                }
                if std::arch::is_x86_feature_detected!($feature) {
                    // SAFETY: the CPU supports the feature `fast` is compiled for.
                    return unsafe { fast($($arg),*) };
                }
            }
            $body($($arg),*)
        }
    };
}

cpu_dispatch! {
    /// Dot product of two equal-length slices. It is the inner loop of every
    /// HNSW search (a tenth of a search server's CPU), so it keeps 16 partial sums
    /// the compiler can put in vector registers, and uses AVX2 when present.
    pub fn dot(a: &[f32], b: &[f32]) -> f32 = "avx2" dot_lanes
}

#[inline(always)]
fn dot_lanes(a: &[f32], b: &[f32]) -> f32 {
    const L: usize = 16;
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let (ca, cb) = (a.chunks_exact(L), b.chunks_exact(L));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    let mut acc = [0f32; L];
    for (x, y) in ca.zip(cb) {
        for i in 0..L {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

cpu_dispatch! {
    /// Squared Euclidean distance, vectorised like [`dot`] (graph building over
    /// float codes compares stored vectors with each other).
    pub fn l2_squared(a: &[f32], b: &[f32]) -> f32 = "avx2" l2_lanes
}

#[inline(always)]
fn l2_lanes(a: &[f32], b: &[f32]) -> f32 {
    const L: usize = 16;
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let (ca, cb) = (a.chunks_exact(L), b.chunks_exact(L));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| (x - y) * (x - y)).sum();
    let mut acc = [0f32; L];
    for (x, y) in ca.zip(cb) {
        for i in 0..L {
            let d = x[i] - y[i];
            acc[i] += d * d;
        }
    }
    acc.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod dot_tests {
    #[test]
    fn dot_matches_the_plain_sum_for_every_length() {
        for n in [0, 1, 15, 16, 17, 384, 1280, 1283] {
            let a: Vec<f32> = (0..n).map(|i| ((i * 7 % 13) as f32 - 6.0) / 7.0).collect();
            let b: Vec<f32> = (0..n).map(|i| ((i * 5 % 11) as f32 - 5.0) / 3.0).collect();
            let plain: f64 = a.iter().zip(&b).map(|(x, y)| *x as f64 * *y as f64).sum();
            assert!((super::dot(&a, &b) as f64 - plain).abs() < 1e-3, "n={n}");
            let l2: f64 = a.iter().zip(&b).map(|(x, y)| (*x as f64 - *y as f64).powi(2)).sum();
            assert!((super::l2_squared(&a, &b) as f64 - l2).abs() < 1e-3 * (1.0 + l2), "n={n}");
        }
    }
}
