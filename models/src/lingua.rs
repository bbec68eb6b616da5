//! LLMLingua-2-style token classifiers (Pan et al., 2024): a BERT or
//! XLM-R encoder exported to ONNX that gives every token a probability of
//! being *kept* in a faithful compression. No such weights reach this
//! machine; a user supplies the export (`pith models add llmlingua2 DIR`)
//! and the tests use a tiny generated model with the same signature.
//!
//! Supported layout:
//! - `model.onnx`: inputs `input_ids` and `attention_mask` (int64
//!   `[b, seq]`; `token_type_ids` too if the graph has it, all zeros);
//!   output `logits` if present, else the first, float `[b, seq, 2]`;
//! - `tokenizer.json`: the model's BERT WordPiece or XLM-R SentencePiece
//!   tokenizer (with its special tokens around each window);
//! - `config.json`: `{"max_length": 512, "keep_label": 1}`.
//!
//! Long texts are classified in windows of `max_length` tokens (special
//! tokens included). The keep probability is `softmax(logits)[keep_label]`.

use std::borrow::Cow;
use std::path::Path;

use ort::session::SessionInputValue;
use ort::value::Tensor;
use serde::{Deserialize, Serialize};
use tokenizers::Tokenizer;

use crate::error::{io_err, ModelError, Result};
use crate::manifest::{install_user_model, Manifest};
use crate::runtime;
use crate::worker::Worker;

pub const FILES: [&str; 3] = ["model.onnx", "tokenizer.json", "config.json"];

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LinguaConfig {
    #[serde(default = "default_max")]
    pub max_length: usize,
    #[serde(default = "default_keep")]
    pub keep_label: usize,
}

fn default_max() -> usize {
    512
}
fn default_keep() -> usize {
    1
}

/// One window: token ids with specials, and their mask.
struct Window {
    ids: Vec<i64>,
}

pub struct TokenClassifier {
    worker: Worker<Window, Vec<f32>>,
    tokenizer: Tokenizer,
    /// The special tokens the tokenizer puts before and after a text.
    lead: Vec<u32>,
    trail: Vec<u32>,
    pub config: LinguaConfig,
}

impl TokenClassifier {
    pub fn read_config(dir: &Path) -> Result<LinguaConfig> {
        let p = dir.join("config.json");
        let text = std::fs::read_to_string(&p).map_err(io_err(&p))?;
        let c: LinguaConfig = serde_json::from_str(&text).map_err(|e| ModelError::Manifest { path: p.clone(), reason: e.to_string() })?;
        if !(8..=8192).contains(&c.max_length) || c.keep_label > 1 {
            return Err(ModelError::Manifest { path: p, reason: "max_length must be 8..=8192 and keep_label 0 or 1".into() });
        }
        Ok(c)
    }

    pub fn load(models_root: &Path, dir: &Path, threads: usize) -> Result<Self> {
        Manifest::read_verified(dir)?;
        Self::load_unverified(models_root, dir, threads)
    }

    fn load_unverified(models_root: &Path, dir: &Path, threads: usize) -> Result<Self> {
        let config = Self::read_config(dir)?;
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json")).map_err(|e| ModelError::Tokenizer(e.to_string()))?;
        tokenizer.with_padding(None);
        tokenizer.with_truncation(None).map_err(|e| ModelError::Tokenizer(e.to_string()))?;
        let probe = tokenizer.encode("a", true).map_err(|e| ModelError::Tokenizer(e.to_string()))?;
        let (ids, mask) = (probe.get_ids(), probe.get_special_tokens_mask());
        let nl = mask.iter().take_while(|&&m| m == 1).count();
        let nt = mask[nl..].iter().rev().take_while(|&&m| m == 1).count();
        let (lead, trail) = (ids[..nl].to_vec(), ids[ids.len() - nt..].to_vec());
        let (root, path, keep) = (models_root.to_path_buf(), dir.join("model.onnx"), config.keep_label);
        let worker = Worker::spawn("llmlingua2", move || {
            let mut s = runtime::session(&root, &path, threads)?;
            let inputs = runtime::input_names(&s);
            let outs = runtime::output_names(&s);
            let out = outs
                .iter()
                .find(|o| *o == "logits")
                .or(outs.first())
                .cloned()
                .ok_or_else(|| ModelError::Ort("model.onnx has no output".into()))?;
            for need in ["input_ids", "attention_mask"] {
                if !inputs.iter().any(|i| i == need) {
                    return Err(ModelError::Ort(format!("model.onnx has no input `{need}` (inputs: {})", inputs.join(", "))));
                }
            }
            let types = inputs.iter().any(|i| i == "token_type_ids");
            Ok(move |w: Window| {
                let n = w.ids.len();
                let mut feed: Vec<(Cow<'_, str>, SessionInputValue<'_>)> = vec![
                    (Cow::Borrowed("input_ids"), Tensor::from_array(([1usize, n], w.ids))?.into()),
                    (Cow::Borrowed("attention_mask"), Tensor::from_array(([1usize, n], vec![1i64; n]))?.into()),
                ];
                if types {
                    feed.push((Cow::Borrowed("token_type_ids"), Tensor::from_array(([1usize, n], vec![0i64; n]))?.into()));
                }
                let res = s.run(feed)?;
                let (shape, logits) =
                    res.get(out.as_str()).ok_or_else(|| ModelError::Ort(format!("no output `{out}`")))?.try_extract_tensor::<f32>()?;
                if shape.len() != 3 || shape[1] as usize != n || shape[2] < 2 {
                    return Err(ModelError::Shape { name: out.clone(), shape: shape.to_vec() });
                }
                let c = shape[2] as usize;
                Ok((0..n)
                    .map(|i| {
                        let row = &logits[i * c..(i + 1) * c];
                        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                        let sum: f32 = row.iter().map(|x| (x - max).exp()).sum();
                        (row[keep] - max).exp() / sum
                    })
                    .collect())
            })
        })?;
        Ok(TokenClassifier { worker, tokenizer, lead, trail, config })
    }

    /// Every token of `text` (no specials) as its byte span and keep
    /// probability.
    pub fn keep_probs(&self, text: &str) -> Result<Vec<(usize, usize, f32)>> {
        let enc = self.tokenizer.encode(text, false).map_err(|e| ModelError::Tokenizer(e.to_string()))?;
        let (ids, offs) = (enc.get_ids(), enc.get_offsets());
        let room = self.config.max_length.saturating_sub(self.lead.len() + self.trail.len()).max(1);
        let mut out = Vec::with_capacity(ids.len());
        for (part, spans) in ids.chunks(room).zip(offs.chunks(room)) {
            let w: Vec<i64> = self.lead.iter().chain(part).chain(&self.trail).map(|&x| x as i64).collect();
            let probs = self.worker.call(Window { ids: w })?;
            let first = self.lead.len();
            for (j, &(s, e)) in spans.iter().enumerate() {
                out.push((s, e, probs.get(first + j).copied().unwrap_or(0.5)));
            }
        }
        Ok(out)
    }

    /// Validate a user-supplied export, copy it into `dest` and write its manifest.
    pub fn register(models_root: &Path, src: &Path, dest: &Path) -> Result<Manifest> {
        install_user_model(crate::catalog::LINGUA_MODEL, &FILES, src, dest, |staged| {
            let config = Self::read_config(staged)?;
            let m = Self::load_unverified(models_root, staged, 1)?;
            let p = m.keep_probs("The meeting moved to Tuesday.")?;
            if p.is_empty() || p.iter().any(|x| !(0.0..=1.0).contains(&x.2)) {
                return Err(ModelError::Ort("the classifier gave no keep probabilities".into()));
            }
            Ok((2, serde_json::to_value(&config).unwrap_or_default()))
        })
    }
}
