//! CLAP-style audio–text dual encoders that a user supplies (none can be
//! downloaded here), for finding sounds that are not speech ("a dog barking",
//! "rain on a window").
//!
//! Supported layout of a directory given to `pith models add clap DIR`:
//! - `audio.onnx`: one float32 input `[b, N]`, a mono waveform of
//!   `N = sample_rate × window_seconds` samples in [-1, 1] (any input name);
//!   output `audio_embeds` if present, else the first output, `[b, D]`.
//!   Exports that take a spectrogram instead of a waveform are not supported.
//! - `textual.onnx`, `tokenizer.json`: as for CLIP (`clip.rs`).
//! - `config.json`: `{"sample_rate": 48000, "window_seconds": 10,
//!   "embed_dim": D, "context_length": L, "pad_id": 0}`.
//!
//! A recording is cut into consecutive windows (the last one zero-padded);
//! each window's embedding is one time-spanned segment. Outputs are
//! L2-normalised here.

use std::borrow::Cow;
use std::path::Path;

use ort::session::SessionInputValue;
use ort::value::Tensor;
use serde::{Deserialize, Serialize};
use tokenizers::Tokenizer;

use crate::clip::{pick_output, rows_of, text_job, text_tower, TextJob};
use crate::error::{io_err, ModelError, Result};
use crate::manifest::{install_user_model, Manifest};
use crate::runtime;
use crate::worker::Worker;

pub const FILES: [&str; 4] = ["audio.onnx", "textual.onnx", "tokenizer.json", "config.json"];

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClapConfig {
    pub sample_rate: u32,
    pub window_seconds: f64,
    pub embed_dim: usize,
    #[serde(default = "default_ctx")]
    pub context_length: usize,
    #[serde(default)]
    pub pad_id: u32,
}

fn default_ctx() -> usize {
    77
}

impl ClapConfig {
    /// Samples in one window.
    pub fn window_samples(&self) -> usize {
        (self.sample_rate as f64 * self.window_seconds).round().max(1.0) as usize
    }
}

pub struct ClapEncoder {
    audio: Worker<Vec<Vec<f32>>, Vec<Vec<f32>>>,
    textual: Worker<TextJob, Vec<Vec<f32>>>,
    tokenizer: Tokenizer,
    pub config: ClapConfig,
}

impl ClapEncoder {
    pub fn read_config(dir: &Path) -> Result<ClapConfig> {
        let p = dir.join("config.json");
        let text = std::fs::read_to_string(&p).map_err(io_err(&p))?;
        let c: ClapConfig = serde_json::from_str(&text).map_err(|e| ModelError::Manifest { path: p.clone(), reason: e.to_string() })?;
        if c.sample_rate < 1000 || !(0.5..=60.0).contains(&c.window_seconds) {
            return Err(ModelError::Manifest { path: p, reason: "sample_rate must be ≥ 1000 and window_seconds within 0.5..60".into() });
        }
        Ok(c)
    }

    pub fn load(models_root: &Path, dir: &Path, threads: usize) -> Result<Self> {
        Manifest::read_verified(dir)?;
        Self::load_unverified(models_root, dir, threads)
    }

    fn load_unverified(models_root: &Path, dir: &Path, threads: usize) -> Result<Self> {
        let config = Self::read_config(dir)?;
        let (tokenizer, _) = crate::text_encoder::load_tokenizers(&dir.join("tokenizer.json"), config.context_length)?;
        let (root, apath) = (models_root.to_path_buf(), dir.join("audio.onnx"));
        let n = config.window_samples();
        let audio = Worker::spawn("clap-audio", move || {
            let mut s = runtime::session(&root, &apath, threads)?;
            let input = runtime::input_names(&s).first().cloned().ok_or_else(|| ModelError::Ort("audio.onnx has no input".into()))?;
            let output = pick_output(&runtime::output_names(&s), "audio_embeds")?;
            Ok(move |windows: Vec<Vec<f32>>| {
                let b = windows.len();
                let mut data = Vec::with_capacity(b * n);
                for mut w in windows {
                    w.resize(n, 0.0);
                    data.extend(w);
                }
                let t = Tensor::from_array(([b, n], data))?;
                let inputs: Vec<(Cow<'_, str>, SessionInputValue<'_>)> = vec![(Cow::Owned(input.clone()), t.into())];
                let out = s.run(inputs)?;
                rows_of(&out, &output, b)
            })
        })?;
        let textual = text_tower("clap-textual", models_root.to_path_buf(), dir.join("textual.onnx"), threads)?;
        Ok(ClapEncoder { audio, textual, tokenizer, config })
    }

    /// Embed windows of mono audio at `config.sample_rate` (shorter ones are zero-padded).
    pub fn embed_audio(&self, windows: Vec<Vec<f32>>) -> Result<Vec<Vec<f32>>> {
        if windows.is_empty() {
            return Ok(Vec::new());
        }
        self.audio.call(windows)
    }

    pub fn embed_texts(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        self.textual.call(text_job(&self.tokenizer, texts, self.config.context_length, self.config.pad_id)?)
    }

    /// Validate a user-supplied export, copy it into `dest` and write its manifest.
    pub fn register(models_root: &Path, src: &Path, dest: &Path) -> Result<Manifest> {
        install_user_model(crate::catalog::CLAP_MODEL, &FILES, src, dest, |staged| {
            let config = Self::read_config(staged)?;
            // Prove both graphs run and agree on the embedding size before accepting them.
            let enc = Self::load_unverified(models_root, staged, 1)?;
            let a = enc.embed_audio(vec![vec![0.0; config.window_samples()]])?;
            let t = enc.embed_texts(&["a dog barking"])?;
            if a[0].len() != config.embed_dim || t[0].len() != config.embed_dim {
                return Err(ModelError::Shape { name: "embeddings".into(), shape: vec![a[0].len() as i64, t[0].len() as i64] });
            }
            Ok((config.embed_dim, serde_json::to_value(&config).unwrap_or_default()))
        })
    }
}
