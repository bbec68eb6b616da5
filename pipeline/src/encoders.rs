//! The set of encoders a store uses, loaded once from the model cache.

use pith_models::catalog::{CLIP_MODEL, IMAGE_MODEL, TEXT_MODEL};
use pith_models::{ClipEncoder, ImageEncoder, ModelCache, TextEncoder};

use crate::conse::{Conse, ConseConfig};
use crate::error::Result;

/// Names of the embedding spaces.
pub mod space {
    /// MiniLM embeddings of text chunks.
    pub const TEXT: &str = "text";
    /// ConSE vectors of images, in the MiniLM space.
    pub const CONSE: &str = "conse";
    /// EfficientNet pooled features of images (image→image only).
    pub const VISUAL: &str = "visual";
    /// A user-supplied CLIP model's joint space.
    pub const CLIP: &str = "clip";

    /// The kind of item whose chunks a space holds vectors for.
    pub fn kind_of(label: &str) -> &'static str {
        if label == TEXT {
            "text"
        } else {
            "image"
        }
    }
}

pub struct Encoders {
    pub text: TextEncoder,
    pub image: ImageEncoder,
    pub conse: Conse,
    pub clip: Option<ClipEncoder>,
}

impl Encoders {
    pub fn load(cache: &ModelCache, threads: usize, conse: ConseConfig) -> Result<Encoders> {
        let text = TextEncoder::load(&cache.root, &cache.dir(TEXT_MODEL), threads)?;
        let image = ImageEncoder::load(&cache.root, &cache.dir(IMAGE_MODEL), threads)?;
        let conse = Conse::build(&text, &image.classes, &image.synonyms, conse, &cache.root.join("derived"))?;
        let clip = if cache.has(CLIP_MODEL) { Some(ClipEncoder::load(&cache.root, &cache.dir(CLIP_MODEL), threads)?) } else { None };
        Ok(Encoders { text, image, conse, clip })
    }
}
