//! The set of encoders a store uses, loaded once from the model cache.

use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use pith_models::catalog::{
    CLAP_MODEL, CLIP_MODEL, IMAGE_MODEL, LINGUA_MODEL, LM_MODEL, SPEECH_MODEL, TEXT_MODEL, XRAG_MODEL, XRAG_TUNED_MODEL,
};
use pith_models::{Bridge, ClapEncoder, ClipEncoder, ImageEncoder, LocalLm, ModelCache, TextEncoder, TokenClassifier, Whisper};

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
    /// A user-supplied CLAP model's joint space (sounds and text).
    pub const CLAP: &str = "clap";

    /// The kinds of item whose chunks a space holds vectors for. The text
    /// space embeds every chunk with text (documents, transcript segments,
    /// the words OCR found in a photo);
    /// the image spaces embed photos (video frames are embedded at ingest).
    pub fn kinds_of(label: &str) -> &'static [&'static str] {
        match label {
            TEXT => &["text", "pdf", "document", "spreadsheet", "slides", "ebook", "audio", "video", "image"],
            // CLAP segments exist only when the model was there at ingest.
            CLAP => &[],
            _ => &["image"],
        }
    }
}

pub struct Encoders {
    pub text: TextEncoder,
    pub image: ImageEncoder,
    pub conse: Conse,
    pub clip: Option<ClipEncoder>,
    pub clap: Option<ClapEncoder>,
    /// A user-supplied LLMLingua-2 token classifier (`rag.token-scorer llmlingua2`).
    pub lingua: Option<TokenClassifier>,
    speech: OnceLock<Option<Whisper>>,
    speech_lock: Mutex<()>,
    lm: OnceLock<Option<LocalLm>>,
    lm_lock: Mutex<()>,
    bridge: OnceLock<Option<Bridge>>,
    bridge_lock: Mutex<()>,
    models_root: PathBuf,
    threads: usize,
}

impl Encoders {
    pub fn load(cache: &ModelCache, threads: usize, conse: ConseConfig) -> Result<Encoders> {
        let text = TextEncoder::load(&cache.root, &cache.dir(TEXT_MODEL), threads)?;
        let image = ImageEncoder::load(&cache.root, &cache.dir(IMAGE_MODEL), threads)?;
        let conse = Conse::build(&text, &image.classes, &image.synonyms, conse, &cache.root.join("derived"))?;
        let clip = if cache.has(CLIP_MODEL) { Some(ClipEncoder::load(&cache.root, &cache.dir(CLIP_MODEL), threads)?) } else { None };
        let clap = if cache.has(CLAP_MODEL) { Some(ClapEncoder::load(&cache.root, &cache.dir(CLAP_MODEL), threads)?) } else { None };
        let lingua =
            if cache.has(LINGUA_MODEL) { Some(TokenClassifier::load(&cache.root, &cache.dir(LINGUA_MODEL), threads)?) } else { None };
        Ok(Encoders {
            text,
            image,
            conse,
            clip,
            clap,
            lingua,
            speech: OnceLock::new(),
            speech_lock: Mutex::new(()),
            lm: OnceLock::new(),
            lm_lock: Mutex::new(()),
            bridge: OnceLock::new(),
            bridge_lock: Mutex::new(()),
            models_root: cache.root.clone(),
            threads,
        })
    }

    /// Whisper, loaded the first time a recording is ingested; `None` when
    /// the model is not installed (recordings are then indexed by name and
    /// container metadata only).
    pub fn speech(&self) -> Result<Option<&Whisper>> {
        if let Some(w) = self.speech.get() {
            return Ok(w.as_ref());
        }
        let _g = self.speech_lock.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(w) = self.speech.get() {
            return Ok(w.as_ref());
        }
        let cache = ModelCache::new(&self.models_root);
        let w = if cache.has(SPEECH_MODEL) {
            Some(Whisper::load(&cache.root, &cache.dir(SPEECH_MODEL), self.threads.max(2))?)
        } else {
            tracing::warn!("speech model {SPEECH_MODEL} not installed (`make models`): recordings are indexed without transcripts");
            None
        };
        Ok(self.speech.get_or_init(|| w).as_ref())
    }

    /// The small causal LM (token scoring, offline answers), loaded on
    /// first use; `None` when not installed.
    pub fn lm(&self) -> Result<Option<&LocalLm>> {
        if let Some(l) = self.lm.get() {
            return Ok(l.as_ref());
        }
        let _g = self.lm_lock.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(l) = self.lm.get() {
            return Ok(l.as_ref());
        }
        let cache = ModelCache::new(&self.models_root);
        let l = if cache.has(LM_MODEL) {
            Some(LocalLm::load(&cache.root, &cache.dir(LM_MODEL), self.threads.max(2))?)
        } else {
            tracing::warn!("language model {LM_MODEL} not installed (`make models`): no token-level compression, no built-in answers");
            None
        };
        Ok(self.lm.get_or_init(|| l).as_ref())
    }

    /// The xRAG bridge (the user's tuned one, else the shipped one), loaded
    /// on first use; `None` when not installed.
    /// One trained for another LM or retriever is an error, not ignored.
    pub fn bridge(&self) -> Result<Option<&Bridge>> {
        if let Some(b) = self.bridge.get() {
            return Ok(b.as_ref());
        }
        let _g = self.bridge_lock.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(b) = self.bridge.get() {
            return Ok(b.as_ref());
        }
        let cache = ModelCache::new(&self.models_root);
        let name = if cache.has(XRAG_TUNED_MODEL) { XRAG_TUNED_MODEL } else { XRAG_MODEL };
        let b = if cache.has(name) {
            let b = Bridge::load(&cache.root, &cache.dir(name))?;
            let c = &b.config;
            if c.retriever != TEXT_MODEL || c.in_dim != self.text.dim || c.llm != LM_MODEL {
                return Err(crate::error::PipelineError::BadInput(format!(
                    "the xRAG bridge {} reads {} ({}) for {}; this pith embeds text with {TEXT_MODEL} ({}) and answers with {LM_MODEL}: retrain it (`make xrag`)",
                    b.id,
                    c.retriever,
                    c.in_dim,
                    c.llm,
                    self.text.dim
                )));
            }
            Some(b)
        } else {
            None
        };
        Ok(self.bridge.get_or_init(|| b).as_ref())
    }
}
