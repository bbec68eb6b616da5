//! Speech recognition with Whisper on ONNX Runtime: `encoder.onnx` and a
//! KV-cache `decoder.onnx` converted from CTranslate2 weights by
//! `scripts/export_whisper.py`. The log-mel front end (`mel`) and greedy
//! decoding with timestamp tokens (`rules`) are Rust.
//!
//! Long audio is transcribed in 30 s windows; each next window starts at the
//! last complete timestamp of the previous one, as openai-whisper does.
//! Audio arrives in chunks from a callback, so a long recording is never held
//! whole: at most one window plus one chunk is buffered.

pub mod mel;
pub mod rules;

use std::borrow::Cow;
use std::path::Path;

use ort::session::{Session, SessionInputValue};
use ort::value::{DynValue, Tensor};
use tokenizers::Tokenizer;

use crate::error::{ModelError, Result};
use crate::manifest::Manifest;
use crate::runtime;
use crate::worker::Worker;
use mel::{MelFrontEnd, HOP, N_FRAMES, N_SAMPLES, SAMPLE_RATE};
use rules::{apply_rules, argmax, cut_window, log_prob, Specials, LOGPROB_THRESHOLD, NO_SPEECH_THRESHOLD};

/// Most tokens sampled per window (openai-whisper's `sample_len`).
const MAX_TOKENS: usize = 224;

/// A piece of transcript with its time span in the recording, in seconds.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Segment {
    pub start: f64,
    pub end: f64,
    pub text: String,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Transcript {
    pub segments: Vec<Segment>,
    /// Seconds of audio read.
    pub seconds: f64,
    pub windows: usize,
}

impl Transcript {
    pub fn text(&self) -> String {
        self.segments.iter().map(|s| s.text.as_str()).collect::<Vec<_>>().join(" ")
    }
}

#[derive(serde::Deserialize)]
struct Dims {
    decoder_layers: usize,
    d_model: usize,
    vocab: usize,
}

#[derive(serde::Deserialize)]
struct Ct2Config {
    suppress_ids: Vec<u32>,
    suppress_ids_begin: Vec<u32>,
}

pub struct Whisper {
    worker: Worker<Vec<f32>, Decoded>,
    tokenizer: Tokenizer,
    front: MelFrontEnd,
    specials: Specials,
    pub name: String,
}

impl Whisper {
    /// Load a verified model directory (encoder.onnx, decoder.onnx,
    /// tokenizer.json, config.json, dims.json). Both sessions live on one
    /// thread with `threads` intra-op threads; windows queue there.
    pub fn load(models_root: &Path, dir: &Path, threads: usize) -> Result<Self> {
        let m = Manifest::read_verified(dir)?;
        let read = |name: &str| std::fs::read(m.file(name)).map_err(|e| ModelError::Io { path: m.file(name), source: e });
        let dims: Dims = serde_json::from_slice(&read("dims.json")?).map_err(|e| ModelError::Ort(format!("dims.json: {e}")))?;
        let cfg: Ct2Config = serde_json::from_slice(&read("config.json")?).map_err(|e| ModelError::Ort(format!("config.json: {e}")))?;
        let tokenizer = Tokenizer::from_file(m.file("tokenizer.json")).map_err(|e| ModelError::Tokenizer(e.to_string()))?;
        let id = |t: &str| tokenizer.token_to_id(t).ok_or_else(|| ModelError::Tokenizer(format!("no token {t}")));
        let no_timestamps = id("<|notimestamps|>")?;
        let specials = Specials {
            eot: id("<|endoftext|>")?,
            sot: id("<|startoftranscript|>")?,
            no_timestamps,
            no_speech: id("<|nocaptions|>")?,
            timestamp_begin: no_timestamps + 1,
            suppress: cfg.suppress_ids,
            suppress_begin: cfg.suppress_ids_begin,
        };
        if specials.timestamp_begin as usize + 1501 != dims.vocab {
            return Err(ModelError::Ort(format!("vocabulary of {} does not end in 1501 timestamps after {no_timestamps}", dims.vocab)));
        }
        let (root, enc_path, dec_path, sp) = (models_root.to_path_buf(), m.file("encoder.onnx"), m.file("decoder.onnx"), specials.clone());
        let worker = Worker::spawn(&m.name, move || {
            let mut enc = runtime::session_with(&root, &enc_path, threads, runtime::Memory::Lean)?;
            let mut dec = runtime::session_with(&root, &dec_path, threads, runtime::Memory::Lean)?;
            Ok(move |mel: Vec<f32>| decode_window(&mut enc, &mut dec, &dims, &sp, mel))
        })?;
        Ok(Whisper { worker, tokenizer, front: MelFrontEnd::new(), specials, name: m.name })
    }

    /// The tokens (text and timestamps, no prompt) of one window of audio
    /// (16 kHz mono, at most 30 s; shorter is padded); none when the window
    /// holds no speech (see `rules::NO_SPEECH_THRESHOLD`).
    pub fn window_tokens(&self, audio: &[f32]) -> Result<Vec<u32>> {
        let d = self.worker.call(self.front.log_mel(audio))?;
        if d.no_speech_prob > NO_SPEECH_THRESHOLD && d.avg_logprob < LOGPROB_THRESHOLD {
            return Ok(Vec::new());
        }
        Ok(d.tokens)
    }

    pub fn text_of(&self, tokens: &[u32]) -> Result<String> {
        let ids: Vec<u32> = tokens.iter().copied().filter(|&t| t < self.specials.eot).collect();
        Ok(self.tokenizer.decode(&ids, true).map_err(|e| ModelError::Tokenizer(e.to_string()))?.trim().to_string())
    }

    /// Transcribe audio pulled from `next` (16 kHz mono chunks of any size;
    /// `None` at the end).
    pub fn transcribe(&self, next: &mut dyn FnMut() -> Result<Option<Vec<f32>>>) -> Result<Transcript> {
        let mut buf: Vec<f32> = Vec::new();
        let mut buf_start = 0usize; // sample index of buf[0]
        let mut seek = 0usize; // mel frame where the next window starts
        let mut eof = false;
        let mut out = Transcript::default();
        loop {
            while !eof && buf_start + buf.len() < seek * HOP + N_SAMPLES {
                match next()? {
                    Some(c) => buf.extend_from_slice(&c),
                    None => eof = true,
                }
            }
            let total = buf_start + buf.len();
            let total_frames = total / HOP;
            if seek >= total_frames {
                break;
            }
            let from = seek * HOP - buf_start;
            let window = &buf[from..(from + N_SAMPLES).min(buf.len())];
            let size = if eof { (total_frames - seek).min(N_FRAMES) } else { N_FRAMES };
            let tokens = self.window_tokens(window)?;
            out.windows += 1;
            let cut = cut_window(&tokens, size, &self.specials);
            let offset = (seek * HOP) as f64 / SAMPLE_RATE as f64;
            for (s, e, toks) in cut.segments {
                let text = self.text_of(&toks)?;
                if !text.is_empty() {
                    out.segments.push(Segment { start: offset + s, end: offset + e, text });
                }
            }
            seek += cut.advance_frames;
            // Forget samples before the next window.
            let keep_from = (seek * HOP).min(total) - buf_start;
            buf.drain(..keep_from);
            buf_start += keep_from;
        }
        out.seconds = (buf_start + buf.len()) as f64 / SAMPLE_RATE as f64;
        Ok(out)
    }
}

/// A window's greedy decoding and the numbers the silence rule needs.
struct Decoded {
    tokens: Vec<u32>,
    no_speech_prob: f32,
    avg_logprob: f32,
}

/// Encoder once, then greedy decoding with the KV cache (one token per step).
/// The cross-attention keys/values and the cache stay ONNX values between
/// steps (no copies through Rust vectors).
fn decode_window(enc: &mut Session, dec: &mut Session, dims: &Dims, sp: &Specials, mel: Vec<f32>) -> Result<Decoded> {
    let mel_t = Tensor::from_array(([1usize, mel::N_MELS, N_FRAMES], mel))?;
    let mut outs = enc.run(vec![(Cow::Borrowed("mel"), SessionInputValue::from(mel_t))])?;
    let mut take = |name: &str| outs.remove(name).ok_or_else(|| ModelError::Ort(format!("encoder has no output `{name}`")));
    let (ck, cv) = (take("cross_k")?, take("cross_v")?);
    let (l, d) = (dims.decoder_layers, dims.d_model);
    let mut past_k: DynValue = Tensor::from_array(([l, 1, 0, d], Vec::<f32>::new()))?.into_dyn();
    let mut past_v: DynValue = Tensor::from_array(([l, 1, 0, d], Vec::<f32>::new()))?.into_dyn();
    let mut feed = vec![sp.sot as i64];
    let mut seq: Vec<u32> = Vec::new();
    let (mut no_speech_prob, mut sum_logprob) = (0f32, 0f32);
    for _ in 0..MAX_TOKENS {
        let n = feed.len();
        let inputs: Vec<(Cow<'_, str>, SessionInputValue<'_>)> = vec![
            (Cow::Borrowed("tokens"), Tensor::from_array(([1usize, n], std::mem::take(&mut feed)))?.into()),
            (Cow::Borrowed("past_k"), (&past_k).into()),
            (Cow::Borrowed("past_v"), (&past_v).into()),
            (Cow::Borrowed("cross_k"), (&ck).into()),
            (Cow::Borrowed("cross_v"), (&cv).into()),
        ];
        let mut outs = dec.run(inputs)?;
        let mut logits = {
            let v = outs.get("logits").ok_or_else(|| ModelError::Ort("decoder has no output `logits`".into()))?;
            v.try_extract_tensor::<f32>()?.1.to_vec()
        };
        let mut take = |name: &str| outs.remove(name).ok_or_else(|| ModelError::Ort(format!("decoder has no output `{name}`")));
        let (k, v) = (take("present_k")?, take("present_v")?);
        drop(outs);
        (past_k, past_v) = (k, v);
        if seq.is_empty() {
            no_speech_prob = log_prob(&logits, sp.no_speech as usize).exp();
        }
        apply_rules(&mut logits, &seq, sp);
        let next = argmax(&logits);
        sum_logprob += log_prob(&logits, next as usize);
        if next == sp.eot {
            break;
        }
        seq.push(next);
        feed = vec![next as i64];
    }
    let avg_logprob = sum_logprob / (seq.len() + 1) as f32;
    Ok(Decoded { tokens: seq, no_speech_prob, avg_logprob })
}
