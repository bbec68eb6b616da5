//! `pith eval xrag FILE`: how much of a text one xRAG token carries.
//!
//! **Reconstruction** (L-Eval `.jsonl` or a BEIR folder): texts are cut
//! into chunks of 48–96 LM tokens at sentence ends (as the bridge was
//! trained, `scripts/train_xrag.py`); for `--chunks` of them, evenly spread,
//! the LM's NLL per token of the chunk's text after the training template
//! `<|endoftext|>Background: [X] means the same as:` with in place of `[X]`:
//! (a) nothing, (b) the chunk's own xRAG token, (c) another chunk's token
//! (chunk k gets chunk k + n/2's), (d) the chunk's full text. The share of
//! the (a)→(d) gap that (b) closes says how much the token carries; (c)
//! should close almost none (a token that helps any text is a prior, not
//! the chunk).
//!
//! **Question answering** (L-Eval): per question, the document's chunks are
//! ranked by MiniLM cosine to the question and the top one is kept when it
//! contains a gold answer (normalised, `rag::text`). Then, with
//! `<|endoftext|>Background: <context>\nQuestion: q\nAnswer:` (the stage-2
//! template), four contexts: none, the xRAG token, extractive sentences of
//! the chunk to 50 pith tokens, the full chunk. Per condition: the gold
//! answer's NLL per token, answer containment in a greedy answer (first
//! line, ≤ 32 tokens), prefill positions, prefill FLOPs (2 × the LM's
//! non-embedding weights per position) and the latency of prefill plus
//! answer.

use std::path::Path;
use std::time::Instant;

use pith_models::{LocalLm, Piece, Prompt, Sampling};
use serde::Serialize;

use crate::encoders::Encoders;
use crate::engine::EngineConfig;
use crate::error::{PipelineError, Result};
use crate::rag::extractive::{self, Params, Sentence};
use crate::rag::sentences;
use crate::rag::text::normalize;

const MIN_TOK: usize = 48;
const MAX_TOK: usize = 96;
const EXTRACTIVE_BUDGET: usize = 50;
const ANSWER_MAX: usize = 32;

#[derive(Debug, Clone, Serialize)]
pub struct Recon {
    pub chunks: usize,
    pub target_tokens: usize,
    pub a_no_context: f64,
    pub b_own_xrag: f64,
    pub c_other_xrag: f64,
    pub d_full_text: f64,
    pub gap_closed_b: f64,
    pub gap_closed_c: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct QaRow {
    pub condition: String,
    pub questions: usize,
    /// Mean NLL per token of the gold answer (nats).
    pub answer_nll: f64,
    /// Share of greedy answers that contain a gold answer.
    pub containment: f64,
    /// Mean prompt positions the LM reads before answering.
    pub prefill_tokens: f64,
    /// Mean prefill GFLOPs (2 × non-embedding weights × positions).
    pub prefill_gflops: f64,
    /// Mean milliseconds for prefill and the greedy answer.
    pub latency_ms: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub file: String,
    pub format: String,
    pub bridge: String,
    pub llm: String,
    pub reconstruction: Recon,
    /// Questions whose top chunk holds a gold answer, of all questions.
    pub qa_used: usize,
    pub qa_total: usize,
    pub qa: Vec<QaRow>,
    pub seconds: f64,
}

#[derive(serde::Deserialize)]
struct LevalDoc {
    input: String,
    #[serde(default)]
    instructions: Vec<String>,
    #[serde(default)]
    outputs: Vec<String>,
}

/// Sentences packed into chunks of MIN_TOK..=MAX_TOK LM tokens (a sentence
/// longer than MAX_TOK is skipped, as in training).
fn lm_chunks(text: &str, lm: &LocalLm) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let (mut cur, mut n) = (String::new(), 0usize);
    for (s, e) in sentences::split(text) {
        let sent = text[s..e].trim();
        let k = lm.encode(sent)?.len();
        if k > MAX_TOK {
            // As the trainer's chunk_texts: what is ready is kept, the long sentence skipped.
            if n >= MIN_TOK {
                out.push(std::mem::take(&mut cur));
            }
            cur.clear();
            n = 0;
            continue;
        }
        if n + k > MAX_TOK {
            if n >= MIN_TOK {
                out.push(std::mem::take(&mut cur));
            }
            cur.clear();
            n = 0;
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(sent);
        n += k;
    }
    if n >= MIN_TOK {
        out.push(cur);
    }
    Ok(out)
}

fn read_input(file: &Path) -> Result<(String, Vec<LevalDoc>)> {
    if file.is_dir() {
        let corpus = file.join("corpus.jsonl");
        let raw = std::fs::read_to_string(&corpus).map_err(|e| PipelineError::BadInput(format!("{}: {e}", corpus.display())))?;
        let docs = raw
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .map(|v| LevalDoc { input: v["text"].as_str().unwrap_or("").to_string(), instructions: vec![], outputs: vec![] })
            .collect();
        return Ok(("beir".into(), docs));
    }
    let raw = std::fs::read_to_string(file).map_err(|e| PipelineError::BadInput(format!("{}: {e}", file.display())))?;
    let docs = raw
        .lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| PipelineError::BadInput(format!("{} line {}: {e}", file.display(), i + 1))))
        .collect::<Result<_>>()?;
    Ok(("leval".into(), docs))
}

/// Non-embedding weights of the LM (attention, MLP), from its config.
fn weights(lm: &LocalLm) -> f64 {
    let c = &lm.cfg;
    let (h, kv) = (c.hidden_size as f64, (c.num_key_value_heads * c.head_dim) as f64);
    let attn = 2.0 * h * h + 2.0 * h * kv;
    let mlp = 3.0 * h * c.intermediate_size as f64;
    c.num_hidden_layers as f64 * (attn + mlp)
}

pub fn run(file: &Path, cfg: &EngineConfig, n_chunks: usize, n_questions: usize) -> Result<Report> {
    let t0 = Instant::now();
    let (format, docs) = read_input(file)?;
    let enc = Encoders::load(&cfg.models, cfg.threads, cfg.conse.clone())?;
    let lm = enc.lm()?.ok_or_else(|| PipelineError::BadInput("the local LM is not installed: run `make models`".into()))?;
    let bridge = enc.bridge()?.ok_or_else(|| PipelineError::BadInput("the xRAG bridge is not installed: run `make models`".into()))?;
    let (pre, suf) = (lm.encode(&bridge.config.template_prefix)?, lm.encode(&bridge.config.template_suffix)?);
    let bos = lm.cfg.endoftext_token_id;
    let head: Vec<u32> = std::iter::once(bos).chain(pre.iter().copied()).collect();

    // Reconstruction.
    let mut all = Vec::new();
    for d in &docs {
        all.extend(lm_chunks(&d.input, lm)?);
        if all.len() > 200 * n_chunks.max(1) {
            break;
        }
    }
    if all.len() < 2 {
        return Err(PipelineError::BadInput(format!("{}: fewer than two chunks of {MIN_TOK}+ tokens", file.display())));
    }
    let n = n_chunks.clamp(2, all.len());
    let picked: Vec<&str> = (0..n).map(|i| all[i * all.len() / n].as_str()).collect();
    let tokens = bridge.project(&enc.text.embed(&picked)?)?;
    let mut sums = [0.0f64; 4];
    let mut count = 0usize;
    for (k, text) in picked.iter().enumerate() {
        let target = lm.encode(text)?;
        let other = &tokens[(k + n / 2) % n];
        let with = |x: Option<Piece>| Prompt {
            pieces: [Some(Piece::Ids(head.clone())), x, Some(Piece::Ids(suf.clone()))].into_iter().flatten().collect(),
        };
        let prompts = [
            with(None),
            with(Some(Piece::Embeds(tokens[k].clone()))),
            with(Some(Piece::Embeds(other.clone()))),
            with(Some(Piece::Ids(target.clone()))),
        ];
        for (s, p) in sums.iter_mut().zip(prompts) {
            *s += lm.nll(p, &target)?.iter().map(|&x| x as f64).sum::<f64>();
        }
        count += target.len();
    }
    let [a, b, c, d] = sums.map(|s| s / count.max(1) as f64);
    let gap = (a - d).max(1e-9);
    let reconstruction = Recon {
        chunks: n,
        target_tokens: count,
        a_no_context: a,
        b_own_xrag: b,
        c_other_xrag: c,
        d_full_text: d,
        gap_closed_b: (a - b) / gap,
        gap_closed_c: (a - c) / gap,
    };

    // Question answering.
    let mut cases: Vec<(String, Vec<String>, String)> = Vec::new();
    let mut qa_total = 0;
    for d in docs.iter().filter(|d| !d.instructions.is_empty()) {
        let chunks = lm_chunks(&d.input, lm)?;
        if chunks.is_empty() {
            continue;
        }
        let refs: Vec<&str> = chunks.iter().map(String::as_str).collect();
        let vecs = enc.text.embed(&refs)?;
        for (q, a) in d.instructions.iter().zip(&d.outputs) {
            qa_total += 1;
            if cases.len() >= n_questions {
                continue;
            }
            let qv = enc.text.embed_one(q)?;
            let best = vecs
                .iter()
                .enumerate()
                .max_by(|x, y| pith_models::dot(&qv, x.1).total_cmp(&pith_models::dot(&qv, y.1)))
                .map_or(0, |(i, _)| i);
            let golds: Vec<String> = a.split(" | ").map(str::trim).filter(|g| !g.is_empty()).map(String::from).collect();
            let hay = normalize(&chunks[best]);
            if golds.iter().any(|g| !normalize(g).is_empty() && hay.contains(&normalize(g))) {
                cases.push((q.clone(), golds, chunks[best].clone()));
            }
        }
    }
    let flops_per_pos = 2.0 * weights(lm);
    let conditions = ["none", "xrag", "extractive-50", "full-chunk"];
    let mut acc = vec![(0.0f64, 0usize, 0usize, 0.0f64, 0.0f64); conditions.len()];
    let ctx_tokens: Vec<Vec<f32>> = {
        let texts: Vec<&str> = cases.iter().map(|c| c.2.as_str()).collect();
        bridge.project(&enc.text.embed(&texts)?)?
    };
    let pith_tok = enc.text.raw_tokenizer();
    for (i, (q, golds, chunk)) in cases.iter().enumerate() {
        let extract = extractive_text(&enc, pith_tok, q, chunk)?;
        let qa_tail = lm.encode(&format!("\nQuestion: {q}\nAnswer:"))?;
        let answer = lm.encode(&format!(" {}", golds[0]))?;
        for (ci, cond) in conditions.iter().enumerate() {
            let context = match *cond {
                "none" => None,
                "xrag" => Some(Piece::Embeds(ctx_tokens[i].clone())),
                "extractive-50" => Some(Piece::Ids(lm.encode(&format!(" {extract}"))?)),
                _ => Some(Piece::Ids(lm.encode(&format!(" {chunk}"))?)),
            };
            let pieces = match context {
                None => vec![Piece::Ids(std::iter::once(bos).chain(lm.encode(&format!("Question: {q}\nAnswer:"))?).collect())],
                Some(c) => vec![Piece::Ids(head.clone()), c, Piece::Ids(qa_tail.clone())],
            };
            let prompt = Prompt { pieces };
            let positions = prompt.len(lm.cfg.hidden_size);
            let nll = lm.nll(prompt.clone(), &answer)?;
            let t = Instant::now();
            let out = lm.generate(prompt, ANSWER_MAX, Sampling::default())?;
            let ms = t.elapsed().as_secs_f64() * 1e3;
            let text = lm.decode(&out)?;
            let first = normalize(text.lines().find(|l| !l.trim().is_empty()).unwrap_or(""));
            let hit = golds.iter().any(|g| !normalize(g).is_empty() && first.contains(&normalize(g)));
            let a = &mut acc[ci];
            a.0 += nll.iter().map(|&x| x as f64).sum::<f64>() / nll.len().max(1) as f64;
            a.1 += usize::from(hit);
            a.2 += positions;
            a.3 += ms;
            a.4 += 1.0;
        }
    }
    let qa = conditions
        .iter()
        .zip(&acc)
        .map(|(c, a)| {
            let m = a.4.max(1.0);
            QaRow {
                condition: c.to_string(),
                questions: a.4 as usize,
                answer_nll: a.0 / m,
                containment: a.1 as f64 / m,
                prefill_tokens: a.2 as f64 / m,
                prefill_gflops: a.2 as f64 / m * flops_per_pos / 1e9,
                latency_ms: a.3 / m,
            }
        })
        .collect();
    Ok(Report {
        file: file.display().to_string(),
        format,
        bridge: bridge.id.clone(),
        llm: lm.name.clone(),
        reconstruction,
        qa_used: cases.len(),
        qa_total,
        qa,
        seconds: t0.elapsed().as_secs_f64(),
    })
}

/// The chunk's sentences chosen for the question up to
/// EXTRACTIVE_BUDGET pith tokens, in their order.
fn extractive_text(enc: &Encoders, tok: &tokenizers::Tokenizer, q: &str, chunk: &str) -> Result<String> {
    let spans = sentences::split(chunk);
    let texts: Vec<&str> = spans.iter().map(|&(s, e)| &chunk[s..e]).collect();
    let vecs = enc.text.embed(&texts)?;
    let counts: Vec<usize> = texts.iter().map(|t| tok.encode(*t, false).map(|e| e.len()).unwrap_or(0)).collect();
    let sents: Vec<Sentence> = texts
        .iter()
        .zip(&counts)
        .zip(&vecs)
        .enumerate()
        .map(|(i, ((t, &n), v))| Sentence { text: t, tokens: n, vec: v, group: 0, pos: i })
        .collect();
    let p = Params::default();
    let sc = extractive::scores(q, &enc.text.embed_one(q)?, &sents, &p);
    let mut sel = extractive::select(&sents, &sc, EXTRACTIVE_BUDGET, p.dedupe, |i, _| sents[i].tokens);
    sel.sort_unstable();
    Ok(sel.iter().map(|&i| texts[i]).collect::<Vec<_>>().join(" "))
}
