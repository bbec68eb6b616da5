//! Turning bytes on disk into text or pixels, defensively: size caps, decoder
//! limits and clear reasons for everything refused.

pub mod audio;
pub mod child;
pub mod detect;
pub mod image;
pub mod ocr;
pub mod office;
pub mod pdf;
pub mod text;
pub mod video;

pub use detect::{detect, Detected};
