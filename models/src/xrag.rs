//! The xRAG bridge (Cheng et al. 2024, "xRAG: Extreme Context Compression
//! for Retrieval-augmented Generation with One Token"): a 2-layer MLP that
//! maps a text chunk's MiniLM embedding (384, L2-normalised, as pith's text
//! space stores it) to ONE input embedding of the local LM (576 for
//! SmolLM2-135M), where it stands in for the chunk's whole text.
//!
//! pith trains the bridge itself (`scripts/train_xrag.py`, frozen LM and
//! retriever) and ships it in the repository (`models/xrag/`), installed into
//! the model cache by `make models`. A bridge is only meaningful for the LM
//! and retriever it was trained against: `config.json` names both and
//! [`Bridge::check`] refuses a mismatch. The session lives on its own thread
//! behind a channel ([`Worker`]); a call projects a batch of embeddings.

use std::borrow::Cow;
use std::path::Path;

use ort::session::SessionInputValue;
use ort::value::Tensor;
use serde::{Deserialize, Serialize};

use crate::error::{io_err, ModelError, Result};
use crate::manifest::Manifest;
use crate::runtime;
use crate::worker::Worker;

/// The files of a bridge directory.
pub const FILES: [&str; 5] = ["bridge.onnx", "config.json", "expected.json", "train.json", "eval.json"];

/// What a bridge was trained for (`config.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BridgeConfig {
    /// Retriever embedding size (MiniLM: 384).
    pub in_dim: usize,
    /// LM hidden size (SmolLM2-135M: 576).
    pub out_dim: usize,
    /// Catalog name of the LM it feeds.
    pub llm: String,
    /// Catalog name of the retriever whose embeddings it reads.
    pub retriever: String,
    /// The training template around the xRAG token: `prefix [X] suffix`.
    pub template_prefix: String,
    pub template_suffix: String,
}

pub struct Bridge {
    worker: Worker<Vec<f32>, Vec<f32>>,
    pub config: BridgeConfig,
    /// `xrag-bridge@<sha256 prefix>`: which bridge made a stored vector.
    pub id: String,
}

impl Bridge {
    /// Load a verified bridge directory (`bridge.onnx`, `config.json`).
    pub fn load(models_root: &Path, dir: &Path) -> Result<Bridge> {
        let m = Manifest::read_verified(dir)?;
        Self::open(models_root, m)
    }

    /// Validate a bridge `scripts/ship_xrag.py` wrote into `src` (a run of
    /// `pith xrag tune`), copy it into `dest` and write its manifest.
    pub fn register(models_root: &Path, src: &Path, dest: &Path) -> Result<Manifest> {
        let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "xrag-bridge".into());
        crate::manifest::install_user_model(&name, &FILES, src, dest, |staged| {
            let sha = crate::manifest::sha256_hex(&std::fs::read(staged.join("bridge.onnx")).map_err(io_err(staged.join("bridge.onnx")))?);
            let m = Manifest {
                name: name.clone(),
                kind: "xrag-bridge".into(),
                sources: vec![],
                files: vec![crate::manifest::FileEntry { path: "bridge.onnx".into(), sha256: sha, bytes: 0 }],
                inputs: vec![],
                outputs: vec![],
                dim: 0,
                preprocess: serde_json::Value::Null,
                dir: staged.to_path_buf(),
            };
            let b = Self::open(models_root, m)?;
            let probe = b.project(&[vec![1.0 / (b.config.in_dim as f32).sqrt(); b.config.in_dim]])?;
            if probe.first().is_none_or(|t| t.iter().any(|x| !x.is_finite())) {
                return Err(ModelError::Ort("the tuned bridge gives no finite token".into()));
            }
            Ok((b.config.out_dim, serde_json::Value::Null))
        })
    }

    fn open(models_root: &Path, m: Manifest) -> Result<Bridge> {
        let p = m.file("config.json");
        let text = std::fs::read_to_string(&p).map_err(io_err(&p))?;
        let config: BridgeConfig =
            serde_json::from_str(&text).map_err(|e| ModelError::Manifest { path: p.clone(), reason: e.to_string() })?;
        if !(1..=16384).contains(&config.in_dim) || !(1..=16384).contains(&config.out_dim) {
            return Err(ModelError::Manifest { path: p, reason: "in_dim and out_dim must be 1..=16384".into() });
        }
        let sha = m.files.iter().find(|f| f.path == "bridge.onnx").map(|f| f.sha256.clone()).unwrap_or_default();
        let id = format!("{}@{}", m.name, &sha[..sha.len().min(12)]);
        let (root, path, c) = (models_root.to_path_buf(), m.file("bridge.onnx"), config.clone());
        let worker = Worker::spawn(&m.name, move || {
            let mut s = runtime::session_with(&root, &path, 1, runtime::Memory::Default)?;
            let (inp, out) = (runtime::input_names(&s), runtime::output_names(&s));
            if inp.first().map(String::as_str) != Some("embedding") || out.first().map(String::as_str) != Some("token") {
                return Err(ModelError::Ort(format!("bridge.onnx must map `embedding` to `token`, has {inp:?} -> {out:?}")));
            }
            Ok(move |rows: Vec<f32>| {
                let n = rows.len() / c.in_dim;
                let feed: Vec<(Cow<'_, str>, SessionInputValue<'_>)> =
                    vec![(Cow::Borrowed("embedding"), Tensor::from_array(([n, c.in_dim], rows))?.into())];
                let res = s.run(feed)?;
                let (shape, v) =
                    res.get("token").ok_or_else(|| ModelError::Ort("no output `token`".into()))?.try_extract_tensor::<f32>()?;
                if shape.len() != 2 || shape[0] as usize != n || shape[1] as usize != c.out_dim {
                    return Err(ModelError::Shape { name: "token".into(), shape: shape.to_vec() });
                }
                Ok(v.to_vec())
            })
        })?;
        Ok(Bridge { worker, config, id })
    }

    /// Refuse a bridge trained for another LM or retriever.
    pub fn check(&self, llm: &str, hidden: usize, retriever: &str, dim: usize) -> Result<()> {
        let c = &self.config;
        if c.llm != llm || c.out_dim != hidden || c.retriever != retriever || c.in_dim != dim {
            return Err(ModelError::Ort(format!(
                "the xRAG bridge {} was trained for {} ({}) reading {} ({}); this store uses {llm} ({hidden}) and {retriever} ({dim}): retrain it (`make xrag`)",
                self.id, c.llm, c.out_dim, c.retriever, c.in_dim
            )));
        }
        Ok(())
    }

    /// One LM input embedding per retriever embedding.
    pub fn project(&self, embeddings: &[Vec<f32>]) -> Result<Vec<Vec<f32>>> {
        if embeddings.is_empty() {
            return Ok(Vec::new());
        }
        let d = self.config.in_dim;
        if let Some(bad) = embeddings.iter().find(|e| e.len() != d) {
            return Err(ModelError::Ort(format!("the xRAG bridge reads {d}-dimensional embeddings, got {}", bad.len())));
        }
        let mut out = Vec::with_capacity(embeddings.len());
        // Batches of 256 keep one call's tensors small.
        for part in embeddings.chunks(256) {
            let flat = self.worker.call(part.concat())?;
            out.extend(flat.chunks_exact(self.config.out_dim).map(<[f32]>::to_vec));
        }
        Ok(out)
    }
}

/// f16 little-endian bytes of a vector (how bridge vectors are stored and
/// handed out: half the bytes, far below the bridge's own error).
pub fn to_f16_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|&x| half::f16::from_f32(x).to_le_bytes()).collect()
}

pub fn from_f16_bytes(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(2).map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_bytes_round_trip_within_half_precision() {
        let v = [0.0f32, 1.0, -2.5, 3.25, 40.0, -1e-3];
        let back = from_f16_bytes(&to_f16_bytes(&v));
        assert_eq!(back.len(), v.len());
        for (a, b) in v.iter().zip(&back) {
            assert!((a - b).abs() <= a.abs() * 1e-3 + 1e-6, "{a} vs {b}");
        }
    }
}
