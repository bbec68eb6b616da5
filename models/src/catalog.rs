//! The model cache directory and the names of the models pith knows.

use std::path::{Path, PathBuf};

pub const RUNTIME: &str = "onnxruntime";
pub const TEXT_MODEL: &str = "minilm-l6-v2-int8";
pub const IMAGE_MODEL: &str = "efficientnet-lite0";
pub const CLIP_MODEL: &str = "clip";
pub const SPEECH_MODEL: &str = "whisper-tiny-en";
pub const CLAP_MODEL: &str = "clap";
/// The small causal LM (token scoring, offline answers).
pub const LM_MODEL: &str = "smollm2-135m";
/// pith's xRAG bridge (retriever embedding → one LM input embedding).
pub const XRAG_MODEL: &str = "xrag-bridge";
/// The bridge `pith xrag tune` fine-tuned on a user's own text (used in
/// place of the shipped one while it exists).
pub const XRAG_TUNED_MODEL: &str = "xrag-bridge-tuned";
/// A user-supplied LLMLingua-2 token classifier.
pub const LINGUA_MODEL: &str = "llmlingua2";

/// Root of the model cache: `PITH_MODELS`, else `~/.cache/pith/models`.
#[derive(Debug, Clone)]
pub struct ModelCache {
    pub root: PathBuf,
}

impl ModelCache {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        ModelCache { root: root.into() }
    }

    pub fn from_env() -> Self {
        if let Some(p) = std::env::var_os("PITH_MODELS") {
            return ModelCache::new(p);
        }
        let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
        ModelCache::new(home.join(".cache/pith/models"))
    }

    pub fn dir(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    pub fn has(&self, name: &str) -> bool {
        self.dir(name).join("manifest.json").exists()
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Identity of an installed model: its catalog name and the start of the
    /// sha256 of its weights (`minilm-l6-v2-int8@1f2e3d4c5b6a`), so replacing
    /// a model's files with other weights yields another identity (and
    /// another embedding space).
    pub fn model_id(&self, name: &str) -> Option<String> {
        let m = crate::Manifest::read(&self.dir(name)).ok()?;
        let mut weights: Vec<&str> = m.files.iter().filter(|f| f.path.ends_with(".onnx")).map(|f| f.sha256.as_str()).collect();
        if weights.is_empty() {
            weights = m.files.iter().map(|f| f.sha256.as_str()).collect();
        }
        let joined = weights.join("+");
        let short = if weights.len() == 1 {
            joined[..joined.len().min(12)].to_string()
        } else {
            crate::manifest::sha256_hex(joined.as_bytes())[..12].to_string()
        };
        Some(format!("{name}@{short}"))
    }
}
