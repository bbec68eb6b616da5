//! CLIP-family dual encoders that a user supplies (none can be downloaded here).
//!
//! Supported layout of a directory given to `pith models add clip DIR`:
//! - `visual.onnx`: one float32 input `[b,3,S,S]` (any name, e.g. `pixel_values`
//!   or `image`); output `image_embeds` if present, else the first output, `[b,D]`.
//! - `textual.onnx`: int64 input `input_ids` (or the first input) `[b,L]`, and
//!   `attention_mask` if the graph has it; output `text_embeds` if present,
//!   else the first output, `[b,D]`.
//! - `tokenizer.json`: a Hugging Face `tokenizers` file.
//! - `config.json`: `{"image_size": S, "mean": [..3], "std": [..3],
//!   "embed_dim": D, "context_length": L, "pad_id": 0, "interpolation": "bicubic"}`.
//!   Token sequences are truncated and padded to `context_length` (fixed-shape
//!   exports such as open_clip's need exactly that).
//!
//! This covers Hugging Face Optimum's split CLIP exports (`vision_model` +
//! projection as visual, `text_model` + projection as textual) and open_clip
//! exports. Outputs are L2-normalised here, whether or not the graph did it.

use std::borrow::Cow;
use std::path::Path;

use image::imageops::FilterType;
use ort::session::SessionInputValue;
use ort::value::Tensor;
use serde::{Deserialize, Serialize};
use tokenizers::Tokenizer;

use crate::error::{io_err, ModelError, Result};
use crate::image_prep::{ImagePrep, Preprocessed};
use crate::manifest::{install_user_model, Manifest};
use crate::runtime;
use crate::worker::Worker;

pub const FILES: [&str; 4] = ["visual.onnx", "textual.onnx", "tokenizer.json", "config.json"];

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClipConfig {
    pub image_size: u32,
    #[serde(default = "default_mean")]
    pub mean: [f32; 3],
    #[serde(default = "default_std")]
    pub std: [f32; 3],
    pub embed_dim: usize,
    #[serde(default = "default_ctx")]
    pub context_length: usize,
    #[serde(default)]
    pub pad_id: u32,
    #[serde(default)]
    pub interpolation: Option<String>,
}

fn default_mean() -> [f32; 3] {
    [0.481_454_66, 0.457_827_5, 0.408_210_73]
}
fn default_std() -> [f32; 3] {
    [0.268_629_54, 0.261_302_6, 0.275_777_1]
}
fn default_ctx() -> usize {
    77
}

/// Padded token ids for a text tower; -1 marks padding.
pub(crate) struct TextJob {
    ids: Vec<i64>,
    rows: usize,
    cols: usize,
}

/// The text tower of a dual encoder (CLIP, CLAP): `textual.onnx` with
/// `input_ids` (or its first input) and `attention_mask` if it has one.
pub(crate) fn text_tower(
    name: &str,
    root: std::path::PathBuf,
    tpath: std::path::PathBuf,
    threads: usize,
) -> Result<Worker<TextJob, Vec<Vec<f32>>>> {
    Worker::spawn(name, move || {
        let mut s = runtime::session(&root, &tpath, threads)?;
        let names = runtime::input_names(&s);
        let output = pick_output(&runtime::output_names(&s), "text_embeds")?;
        Ok(move |job: TextJob| {
            let mut inputs: Vec<(Cow<'_, str>, SessionInputValue<'_>)> = Vec::new();
            for (i, name) in names.iter().enumerate() {
                let data: Vec<i64> = if name == "attention_mask" {
                    job.ids.iter().map(|&id| i64::from(id != -1)).collect()
                } else if name == "input_ids" || i == 0 {
                    job.ids.iter().map(|&id| id.max(0)).collect()
                } else {
                    return Err(ModelError::Ort(format!("textual.onnx has unsupported input `{name}`")));
                };
                inputs.push((Cow::Owned(name.clone()), Tensor::from_array(([job.rows, job.cols], data))?.into()));
            }
            let out = s.run(inputs)?;
            rows_of(&out, &output, job.rows)
        })
    })
}

/// Tokenize, truncate and pad to `context_length` (-1 marks padding).
pub(crate) fn text_job(tokenizer: &Tokenizer, texts: &[&str], context_length: usize, pad_id: u32) -> Result<TextJob> {
    let encs = tokenizer.encode_batch(texts.to_vec(), true).map_err(|e| ModelError::Tokenizer(e.to_string()))?;
    let cols = context_length.max(1);
    // -1 marks padding so the mask can be derived on the worker; it becomes pad_id there.
    let pad = if pad_id == 0 { -1 } else { pad_id as i64 };
    let mut ids = vec![pad; texts.len() * cols];
    for (r, e) in encs.iter().enumerate() {
        for (c, &id) in e.get_ids().iter().take(cols).enumerate() {
            ids[r * cols + c] = id as i64;
        }
    }
    Ok(TextJob { ids, rows: texts.len(), cols })
}

pub struct ClipEncoder {
    visual: Worker<Vec<Preprocessed>, Vec<Vec<f32>>>,
    textual: Worker<TextJob, Vec<Vec<f32>>>,
    tokenizer: Tokenizer,
    pub prep: ImagePrep,
    pub config: ClipConfig,
}

impl ClipEncoder {
    pub fn read_config(dir: &Path) -> Result<ClipConfig> {
        let p = dir.join("config.json");
        let text = std::fs::read_to_string(&p).map_err(io_err(&p))?;
        serde_json::from_str(&text).map_err(|e| ModelError::Manifest { path: p, reason: e.to_string() })
    }

    pub fn load(models_root: &Path, dir: &Path, threads: usize) -> Result<Self> {
        Manifest::read_verified(dir)?;
        Self::load_unverified(models_root, dir, threads)
    }

    fn load_unverified(models_root: &Path, dir: &Path, threads: usize) -> Result<Self> {
        let config = Self::read_config(dir)?;
        let (tokenizer, _) = crate::text_encoder::load_tokenizers(&dir.join("tokenizer.json"), config.context_length)?;
        let prep = ImagePrep {
            resize_short: config.image_size,
            crop: config.image_size,
            mean: config.mean,
            std: config.std,
            filter: match config.interpolation.as_deref() {
                Some("bilinear") => FilterType::Triangle,
                _ => FilterType::CatmullRom,
            },
        };
        let (root, vpath, tpath) = (models_root.to_path_buf(), dir.join("visual.onnx"), dir.join("textual.onnx"));
        let side = config.image_size as usize;
        let visual = Worker::spawn("clip-visual", move || {
            let mut s = runtime::session(&root, &vpath, threads)?;
            let input = runtime::input_names(&s).first().cloned().ok_or_else(|| ModelError::Ort("visual.onnx has no input".into()))?;
            let output = pick_output(&runtime::output_names(&s), "image_embeds")?;
            Ok(move |batch: Vec<Preprocessed>| {
                let n = batch.len();
                let data: Vec<f32> = batch.into_iter().flat_map(|p| p.data).collect();
                let t = Tensor::from_array(([n, 3, side, side], data))?;
                let inputs: Vec<(Cow<'_, str>, SessionInputValue<'_>)> = vec![(Cow::Owned(input.clone()), t.into())];
                let out = s.run(inputs)?;
                rows_of(&out, &output, n)
            })
        })?;
        let textual = text_tower("clip-textual", models_root.to_path_buf(), tpath, threads)?;
        Ok(ClipEncoder { visual, textual, tokenizer, prep, config })
    }

    pub fn embed_images(&self, batch: Vec<Preprocessed>) -> Result<Vec<Vec<f32>>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        self.visual.call(batch)
    }

    pub fn embed_texts(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        self.textual.call(text_job(&self.tokenizer, texts, self.config.context_length, self.config.pad_id)?)
    }

    /// Validate a user-supplied export, copy it into `dest` and write its manifest.
    pub fn register(models_root: &Path, src: &Path, dest: &Path) -> Result<Manifest> {
        install_user_model(crate::catalog::CLIP_MODEL, &FILES, src, dest, |staged| {
            let config = Self::read_config(staged)?;
            // Prove both graphs run and agree on the embedding size before accepting them.
            let enc = Self::load_unverified(models_root, staged, 1)?;
            let side = config.image_size as usize;
            let a = enc.embed_images(vec![Preprocessed { data: vec![0.0; 3 * side * side], side: config.image_size }])?;
            let t = enc.embed_texts(&["a photo of a cat"])?;
            if a[0].len() != config.embed_dim || t[0].len() != config.embed_dim {
                return Err(ModelError::Shape { name: "embeddings".into(), shape: vec![a[0].len() as i64, t[0].len() as i64] });
            }
            Ok((config.embed_dim, serde_json::to_value(&config).unwrap_or_default()))
        })
    }
}

pub(crate) fn pick_output(names: &[String], preferred: &str) -> Result<String> {
    names
        .iter()
        .find(|n| n.as_str() == preferred)
        .or_else(|| names.first())
        .cloned()
        .ok_or_else(|| ModelError::Ort("model has no outputs".into()))
}

pub(crate) fn rows_of(out: &ort::session::SessionOutputs<'_>, name: &str, n: usize) -> Result<Vec<Vec<f32>>> {
    let v = out.get(name).ok_or_else(|| ModelError::Ort(format!("no output `{name}`")))?;
    let (shape, d) = v.try_extract_tensor::<f32>()?;
    let dims: Vec<i64> = shape.iter().copied().collect();
    if dims.len() != 2 || dims[0] as usize != n {
        return Err(ModelError::Shape { name: name.into(), shape: dims });
    }
    Ok(d.chunks(dims[1] as usize)
        .map(|c| {
            let mut v = c.to_vec();
            crate::l2_normalize(&mut v);
            v
        })
        .collect())
}
