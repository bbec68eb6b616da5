//! `pith eval compress FILE.jsonl`: how much of the answer survives when a
//! long document is compressed to a token budget for a question, on
//! L-Eval-format files (one document per line: `input`, `instructions`,
//! `outputs`). Methods side by side: truncation (the first N tokens),
//! random sentences, and query-aware extractive selection.
//!
//! Answer retention: a file whose gold answers have a median of at most 5
//! words is *short-answer*: an answer is retained when its normalised words
//! appear contiguously in the normalised kept text (SQuAD normalisation,
//! `rag::text`). Otherwise an answer scores the share of its content words
//! (stopwords removed) that the kept text contains. Budgets count tokens of
//! pith's text tokenizer (MiniLM WordPiece), no special tokens, summed over
//! kept sentences. Sentence embeddings are computed once per document, as
//! ingest stores them; latency is per question (query embedding, scoring
//! and selection).

use std::collections::HashSet;
use std::path::Path;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::engine::EngineConfig;
use crate::error::{PipelineError, Result};
use crate::rag::extractive::{self, Params, Sentence};
use crate::rag::sentences;
use crate::rag::text::{content_terms, normalize};
use crate::rag::tokens;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    Truncation,
    Random,
    Extractive,
    /// Leading sentences to `budget / KEEP`, then the least informative words dropped.
    Tokens,
    /// Extractive selection to `budget / KEEP`, then word dropping.
    ExtractiveTokens,
}

impl Method {
    pub fn parse(s: &str) -> Option<Method> {
        match s.trim() {
            "truncation" => Some(Method::Truncation),
            "random" => Some(Method::Random),
            "extractive" => Some(Method::Extractive),
            "tokens" => Some(Method::Tokens),
            "extractive+tokens" => Some(Method::ExtractiveTokens),
            _ => None,
        }
    }
    pub fn as_str(&self) -> &'static str {
        match self {
            Method::Truncation => "truncation",
            Method::Random => "random",
            Method::Extractive => "extractive",
            Method::Tokens => "tokens",
            Method::ExtractiveTokens => "extractive+tokens",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub method: String,
    pub budget: usize,
    /// Mean answer retention over questions.
    pub retention: f64,
    /// Mean of document tokens / kept tokens.
    pub ratio: f64,
    pub kept_tokens: f64,
    pub latency_p50_ms: f64,
    /// Token methods: tokens dropped from the selected sentences per token kept.
    pub dropped_per_kept: Option<f64>,
    /// Token methods: protected words (numbers, negations, names...) of the
    /// selected sentences missing from the output (must be 0).
    pub protected_lost: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub file: String,
    /// `short` (exact answer kept) or `long` (share of answer words kept).
    pub answers: String,
    pub documents: usize,
    pub questions: usize,
    pub doc_tokens_mean: f64,
    /// Retention with the whole document kept (the ceiling).
    pub full_document: f64,
    pub sentences: usize,
    pub embed_seconds: f64,
    pub rows: Vec<Row>,
}

#[derive(Deserialize)]
struct Doc {
    input: String,
    instructions: Vec<String>,
    outputs: Vec<String>,
}

/// Whether `answer` survives in `kept` (see the module doc).
pub fn retention(answer: &str, kept: &str, short: bool) -> f64 {
    if short {
        let a = normalize(answer);
        if a.is_empty() {
            return 0.0;
        }
        return f64::from(u8::from(format!(" {} ", normalize(kept)).contains(&format!(" {a} "))));
    }
    let mut want: HashSet<String> = content_terms(answer).into_iter().collect();
    if want.is_empty() {
        want = normalize(answer).split(' ').filter(|w| !w.is_empty()).map(String::from).collect();
    }
    if want.is_empty() {
        return 0.0;
    }
    let have: HashSet<String> = normalize(kept).split(' ').map(String::from).collect();
    want.iter().filter(|w| have.contains(*w)).count() as f64 / want.len() as f64
}

/// Per method and budget: retention, ratio, kept tokens, latency per question.
struct Acc {
    method: Method,
    budget: usize,
    ret: Vec<f64>,
    ratio: Vec<f64>,
    kept: Vec<f64>,
    lat: Vec<f64>,
    /// Token methods: (tokens selected before dropping, tokens after).
    dropped: Vec<(f64, f64)>,
    protected_lost: usize,
}

impl Acc {
    fn new(method: Method, budget: usize) -> Acc {
        Acc { method, budget, ret: vec![], ratio: vec![], kept: vec![], lat: vec![], dropped: vec![], protected_lost: 0 }
    }
}

/// splitmix64: a seeded order for the random baseline.
fn shuffled(n: usize, seed: u64) -> Vec<usize> {
    let mut s = seed;
    let mut next = move || {
        s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut v: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        v.swap(i, (next() % (i as u64 + 1)) as usize);
    }
    v
}

/// Score the selected sentences together (the LM sees them in order),
/// drop words down to `budget`; the text and the tokens before dropping.
fn drop_to_budget(
    lm: &pith_models::LocalLm,
    sents: &[&str],
    whole: &[bool],
    budget: usize,
    count: &dyn Fn(&str) -> Result<usize>,
) -> Result<(String, usize)> {
    let joined = sents.join(" ");
    let before = count(&joined)?;
    if before <= budget || sents.is_empty() {
        return Ok((joined, before));
    }
    let bits = tokens::score_joined(tokens::Scorer::SelfInformation(lm), sents)?;
    let pairs: Vec<(&str, &[(u16, f32)])> = sents.iter().zip(&bits).map(|(s, b)| (*s, b.as_slice())).collect();
    let c = |t: &str| count(t).unwrap_or(usize::MAX);
    Ok((tokens::drop_words_keeping(&pairs, whole, budget, false, &c).join(" "), before))
}

/// Protected words of `sents` that `out` no longer has.
fn lost_protected(sents: &[&str], out: &str) -> usize {
    let have: HashSet<&str> = out.split_whitespace().collect();
    sents
        .iter()
        .flat_map(|s| s.split_whitespace().enumerate().map(|(i, w)| (i == 0, w)))
        .filter(|(first, w)| tokens::protected(w, *first) && !have.contains(w))
        .count()
}

pub fn run(file: &Path, cfg: &EngineConfig, methods: &[Method], budgets: &[usize], params: &Params) -> Result<Report> {
    let raw = std::fs::read_to_string(file).map_err(|e| PipelineError::BadInput(format!("{}: {e}", file.display())))?;
    let docs: Vec<Doc> = raw
        .lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| PipelineError::BadInput(format!("{} line {}: {e}", file.display(), i + 1))))
        .collect::<Result<_>>()?;
    let mut lens: Vec<usize> = docs.iter().flat_map(|d| d.outputs.iter().map(|a| a.split_whitespace().count())).collect();
    lens.sort_unstable();
    let short = lens.get(lens.len() / 2).is_some_and(|&m| m <= 5);
    let enc = crate::encoders::Encoders::load(&cfg.models, cfg.threads, cfg.conse.clone())?;
    let tok = enc.text.raw_tokenizer();
    let count = |t: &str| -> Result<usize> { Ok(tok.encode(t, false).map_err(|e| PipelineError::Internal(e.to_string()))?.len()) };
    let mut acc: Vec<Acc> = methods.iter().flat_map(|&m| budgets.iter().map(move |&b| Acc::new(m, b))).collect();
    let (mut full, mut questions, mut doc_tokens, mut n_sents, mut embed_s) = (0.0, 0usize, 0.0, 0usize, 0.0);
    for (di, d) in docs.iter().enumerate() {
        let spans = sentences::split(&d.input);
        let texts: Vec<&str> = spans.iter().map(|&(s, e)| &d.input[s..e]).collect();
        let tokens: Vec<usize> = texts.iter().map(|t| count(t)).collect::<Result<_>>()?;
        let t0 = Instant::now();
        let vecs = enc.text.embed(&texts)?;
        embed_s += t0.elapsed().as_secs_f64();
        n_sents += texts.len();
        let doc_enc = tok.encode(d.input.as_str(), false).map_err(|e| PipelineError::Internal(e.to_string()))?;
        let offsets = doc_enc.get_offsets();
        doc_tokens += offsets.len() as f64;
        let sents: Vec<Sentence> = texts
            .iter()
            .zip(&tokens)
            .zip(&vecs)
            .enumerate()
            .map(|(i, ((t, &n), v))| Sentence { text: t, tokens: n, vec: v, group: 0, pos: i })
            .collect();
        for (qi, (q, a)) in d.instructions.iter().zip(&d.outputs).enumerate() {
            questions += 1;
            full += retention(a, &d.input, short);
            for Acc { method: m, budget: b, ret, ratio, kept: kept_n, lat, dropped, protected_lost } in acc.iter_mut() {
                let t0 = Instant::now();
                let (kept, n) = match m {
                    Method::Truncation => {
                        if offsets.len() <= *b {
                            (d.input.clone(), offsets.len())
                        } else {
                            let mut cut = offsets[*b].0;
                            while !d.input.is_char_boundary(cut) {
                                cut -= 1;
                            }
                            (d.input[..cut].to_string(), *b)
                        }
                    }
                    Method::Random => {
                        let order = shuffled(sents.len(), (di * 1000 + qi) as u64);
                        let mut used = 0;
                        let mut keep = Vec::new();
                        for i in order {
                            if used + tokens[i] <= *b {
                                used += tokens[i];
                                keep.push(i);
                            }
                        }
                        keep.sort_unstable();
                        (keep.iter().map(|&i| texts[i]).collect::<Vec<_>>().join(" "), used)
                    }
                    Method::Extractive => {
                        let qv = enc.text.embed_one(q)?;
                        let sc = extractive::scores(q, &qv, &sents, params);
                        let keep = extractive::select(&sents, &sc, *b, params.dedupe, |i, _| tokens[i]);
                        (keep.iter().map(|&i| texts[i]).collect::<Vec<_>>().join(" "), keep.iter().map(|&i| tokens[i]).sum())
                    }
                    Method::Tokens | Method::ExtractiveTokens => {
                        let wide = (*b as f32 / tokens::KEEP) as usize;
                        let mut scores: Vec<f32> = Vec::new();
                        let keep: Vec<usize> = if *m == Method::Tokens {
                            let mut used = 0;
                            (0..sents.len())
                                .take_while(|&i| {
                                    used += tokens[i];
                                    used <= wide
                                })
                                .collect()
                        } else {
                            let qv = enc.text.embed_one(q)?;
                            scores = extractive::scores(q, &qv, &sents, params);
                            extractive::select(&sents, &scores, wide, params.dedupe, |i, _| tokens[i])
                        };
                        let lm = enc
                            .lm()?
                            .ok_or_else(|| PipelineError::BadInput("token methods need the language model: run `make models`".into()))?;
                        // The best-scored selected sentences, up to WHOLE of the budget, stay whole.
                        let mut whole = vec![false; keep.len()];
                        if !scores.is_empty() {
                            let mut by_score: Vec<usize> = (0..keep.len()).collect();
                            by_score.sort_by(|&x, &y| scores[keep[y]].total_cmp(&scores[keep[x]]));
                            let mut used = 0;
                            for k in by_score {
                                used += tokens[keep[k]];
                                if used as f32 > *b as f32 * tokens::WHOLE {
                                    break;
                                }
                                whole[k] = true;
                            }
                        }
                        let (out, before) = drop_to_budget(lm, &keep.iter().map(|&i| texts[i]).collect::<Vec<_>>(), &whole, *b, &count)?;
                        let after = count(&out)?;
                        dropped.push((before as f64, after as f64));
                        *protected_lost += lost_protected(&keep.iter().map(|&i| texts[i]).collect::<Vec<_>>(), &out);
                        (out, after)
                    }
                };
                lat.push(t0.elapsed().as_secs_f64() * 1e3);
                ret.push(retention(a, &kept, short));
                ratio.push(offsets.len() as f64 / n.max(1) as f64);
                kept_n.push(n as f64);
            }
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    Ok(Report {
        file: file.display().to_string(),
        answers: if short { "short" } else { "long" }.into(),
        documents: docs.len(),
        questions,
        doc_tokens_mean: doc_tokens / docs.len().max(1) as f64,
        full_document: full / questions.max(1) as f64,
        sentences: n_sents,
        embed_seconds: embed_s,
        rows: acc
            .iter()
            .map(|a| Row {
                dropped_per_kept: (!a.dropped.is_empty()).then(|| {
                    let (before, after) = a.dropped.iter().fold((0.0, 0.0), |s, d| (s.0 + d.0, s.1 + d.1));
                    (before - after) / after.max(1.0)
                }),
                protected_lost: a.protected_lost,
                method: a.method.as_str().into(),
                budget: a.budget,
                retention: mean(&a.ret),
                ratio: mean(&a.ratio),
                kept_tokens: mean(&a.kept),
                latency_p50_ms: super::percentile(&a.lat, 50.0),
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_answers_need_every_word_in_order_long_answers_score_a_share() {
        assert_eq!(retention("April 25 , 2018", "It premiered on April 25, 2018.", true), 1.0);
        assert_eq!(retention("April 25 , 2018", "It premiered on April 2018, the 25th.", true), 0.0);
        assert_eq!(retention("10", "It had 100 episodes", true), 0.0);
        let r = retention("Replace it by mail within forty days", "You can replace the permit by mail.", false);
        assert!((r - 2.0 / 5.0).abs() < 1e-9, "{r}");
    }

    #[test]
    fn shuffle_is_a_seeded_permutation() {
        let a = shuffled(50, 7);
        assert_eq!(a, shuffled(50, 7));
        assert_ne!(a, shuffled(50, 8));
        let mut s = a.clone();
        s.sort_unstable();
        assert_eq!(s, (0..50).collect::<Vec<_>>());
    }
}
