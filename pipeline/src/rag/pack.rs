//! Packing retrieved passages into the token budget: choose sentences
//! (`none`: whole passages; `extractive`: by score), drop words when the
//! method says so (`tokens`), then assemble the cited block and trim the
//! weakest sentence until the block, headers included, fits.

use std::collections::HashMap;

use super::budget::Counter;
use super::context::{Compression, Context, Passage, RagRequest};
use super::extractive::{self, Params, Sentence};
use super::prompt;
use super::tokens;
use crate::engine::Engine;
use crate::error::{PipelineError, Result};
use crate::ids::ItemId;
use crate::store::{ItemRow, NewSentence};

pub(super) struct Inputs<'a> {
    pub req: &'a RagRequest,
    pub counter: &'a Counter,
    pub qvec: &'a [f32],
    pub passages: &'a [Passage],
    pub texts: &'a HashMap<ItemId, String>,
    pub rows: &'a HashMap<ItemId, ItemRow>,
    pub stored: &'a HashMap<ItemId, Vec<NewSentence>>,
}

pub(super) struct Packed {
    pub contexts: Vec<Context>,
    pub prompt: String,
    pub original_tokens: usize,
    pub kept_tokens: usize,
}

/// One sentence of a passage.
struct Sent<'a> {
    text: &'a str,
    tokens: usize,
    vec: &'a [f32],
    /// Its index among the item's stored sentences.
    ord: usize,
    start: usize,
    /// Token scores stored with it (`rag::tokens`), if any.
    bits: Option<&'a [(u16, f32)]>,
}

/// A passage ready to pack.
struct Cand<'a> {
    item: ItemId,
    text: &'a str,
    /// Byte span of `text` in the item's text.
    span: (usize, usize),
    /// Tokens of `text`.
    tokens: usize,
    sents: Vec<Sent<'a>>,
    header: String,
    header_tokens: usize,
}

impl Engine {
    pub(super) fn pack(&self, x: &Inputs) -> Result<Packed> {
        let (req, counter) = (x.req, x.counter);
        let empty = String::new();
        let mut cands = Vec::with_capacity(x.passages.len());
        for (n, p) in x.passages.iter().enumerate() {
            let text = x.texts.get(&p.item).unwrap_or(&empty);
            let row = x.rows.get(&p.item).ok_or_else(|| PipelineError::Internal(format!("item {} vanished", p.item)))?;
            let (a, b) = (p.start.min(text.len()), p.end.min(text.len()));
            // Whole sentences that overlap the passage.
            let sents = x
                .stored
                .get(&p.item)
                .map(|ss| {
                    ss.iter()
                        .enumerate()
                        .filter(|(_, s)| s.end <= text.len() && s.start < p.end && s.end > p.start)
                        .filter_map(|(ord, s)| {
                            let t = text.get(s.start..s.end)?;
                            let tokens = if counter.is_default { s.tokens } else { counter.count(t) };
                            Some(Sent { text: t, tokens, vec: &s.vec, ord, start: s.start, bits: s.token_bits.as_deref() })
                        })
                        .collect()
                })
                .unwrap_or_default();
            // The passage widened to its whole first and last sentences, so
            // the cited span holds everything the compressed text quotes.
            let sents: Vec<Sent> = sents;
            let a = sents.first().map_or(a, |s| s.start.min(a));
            let b = sents.iter().map(|s| s.start + s.text.len()).max().map_or(b, |e| e.max(b));
            let header = prompt::header(n + 1, &p.source(row));
            let body = text.get(a..b).unwrap_or("");
            cands.push(Cand {
                item: p.item,
                text: body,
                span: (a, b),
                tokens: counter.count(body),
                sents,
                header_tokens: counter.count(&header) + 2,
                header,
            });
        }
        let original_tokens: usize = cands.iter().map(|c| c.tokens).sum();
        let drops = matches!(req.compression, Compression::Tokens | Compression::ExtractiveTokens);
        let budget = if drops { (req.token_budget as f32 / tokens::KEEP) as usize } else { req.token_budget };
        let (mut kept, mut weakest) = choose(req, x.qvec, &cands, budget);
        let mut dropped: HashMap<(usize, usize), String> = HashMap::new();
        if drops {
            // Extractive: the best-ranked sentences, up to WHOLE of the budget, stay whole.
            let mut whole = std::collections::HashSet::new();
            if req.compression == Compression::ExtractiveTokens {
                let mut used = 0;
                for &(g, j) in weakest.iter().rev() {
                    used += cands[g].sents[j].tokens;
                    if used as f32 > req.token_budget as f32 * tokens::WHOLE {
                        break;
                    }
                    whole.insert((g, j));
                }
            }
            dropped = self.drop_words(&cands, &kept, &whole, counter, req.token_budget)?;
        }
        loop {
            let (block, per) = build(&cands, &kept, &dropped, req.compression);
            let tokens = counter.count(&block);
            if tokens <= req.token_budget || weakest.is_empty() {
                if tokens > req.token_budget {
                    return Ok(Packed { contexts: Vec::new(), prompt: String::new(), original_tokens, kept_tokens: 0 });
                }
                let mut contexts = Vec::new();
                let mut kept_tokens = 0;
                for (i, (citation, compressed)) in per.into_iter().enumerate().filter_map(|(i, x)| x.map(|x| (i, x))) {
                    let p = &x.passages[i];
                    let row = &x.rows[&p.item];
                    let text = x.texts.get(&p.item).unwrap_or(&empty);
                    let kt = counter.count(&compressed);
                    kept_tokens += kt;
                    contexts.push(Context {
                        original_tokens: cands[i].tokens,
                        kept_tokens: kt,
                        compressed,
                        ..p.context(row, text, cands[i].span, citation)
                    });
                }
                return Ok(Packed { contexts, prompt: block, original_tokens, kept_tokens });
            }
            let (g, pos) = weakest.remove(0);
            kept[g].retain(|&p| p != pos);
        }
    }

    /// Drop the least informative words of the kept sentences so their
    /// text, with the headers of the passages they open, fits `budget`.
    /// Sentences scored at ingest have their token bits; when a kept one
    /// has none, every unscored sentence of its passage is scored now in
    /// one pass (so a score depends on the passage, not on what this query
    /// kept) and stored.
    fn drop_words(
        &self,
        cands: &[Cand],
        kept: &[Vec<usize>],
        whole: &std::collections::HashSet<(usize, usize)>,
        counter: &Counter,
        budget: usize,
    ) -> Result<HashMap<(usize, usize), String>> {
        let scorer = self.token_scorer()?;
        let mut bits: HashMap<(usize, usize), Vec<(u16, f32)>> = HashMap::new();
        for (g, ks) in kept.iter().enumerate() {
            let c = &cands[g];
            for &j in ks {
                if let Some(b) = c.sents[j].bits {
                    bits.insert((g, j), b.to_vec());
                }
            }
            if ks.iter().all(|j| bits.contains_key(&(g, *j))) {
                continue;
            }
            let missing: Vec<usize> = (0..c.sents.len()).filter(|&j| c.sents[j].bits.is_none()).collect();
            // The passage's unscored sentences as one text (the LM reads them in order).
            let parts: Vec<&str> = missing.iter().map(|&j| c.sents[j].text).collect();
            let per = tokens::score_joined(scorer, &parts)?;
            let mut to_store = Vec::new();
            for (&j, b) in missing.iter().zip(per) {
                to_store.push((c.sents[j].ord, b.clone()));
                bits.insert((g, j), b);
            }
            if let Some(mut store) = self.try_store() {
                if let Err(e) = store.put_token_bits(c.item, &to_store) {
                    tracing::warn!(error = %e, "could not store token scores");
                }
            }
        }
        let order: Vec<(usize, usize)> = kept.iter().enumerate().flat_map(|(g, ks)| ks.iter().map(move |&j| (g, j))).collect();
        let headers: usize = kept.iter().enumerate().filter(|(_, k)| !k.is_empty()).map(|(g, _)| cands[g].header_tokens).sum();
        let empty = Vec::new();
        let pairs: Vec<(&str, &[(u16, f32)])> =
            order.iter().map(|&(g, j)| (cands[g].sents[j].text, bits.get(&(g, j)).unwrap_or(&empty).as_slice())).collect();
        let count = |t: &str| counter.count(t);
        let keep_whole: Vec<bool> = order.iter().map(|k| whole.contains(k)).collect();
        let out = tokens::drop_words_keeping(&pairs, &keep_whole, budget.saturating_sub(headers), scorer.mean(), &count);
        Ok(order.into_iter().zip(out).collect())
    }
}

/// Kept sentence positions per passage, and all kept ones weakest first
/// (what the final fitting loop drops).
#[allow(clippy::type_complexity)]
fn choose(req: &RagRequest, qvec: &[f32], cands: &[Cand], budget: usize) -> (Vec<Vec<usize>>, Vec<(usize, usize)>) {
    let mut kept: Vec<Vec<usize>> = vec![Vec::new(); cands.len()];
    let mut scored: Vec<(usize, usize, f32)> = Vec::new();
    match req.compression {
        Compression::Tokens => {
            // Leading sentences of each passage in rank order, while they fit.
            let mut used = 0;
            'passages: for (i, c) in cands.iter().enumerate() {
                let mut opened = false;
                for (j, s) in c.sents.iter().enumerate() {
                    let cost = s.tokens + if opened { 1 } else { c.header_tokens };
                    // The first sentence always goes in: dropping words may
                    // still fit it (else the final trim removes it).
                    if used + cost > budget && used > 0 {
                        break 'passages;
                    }
                    used += cost;
                    opened = true;
                    kept[i].push(j);
                    scored.push((i, j, -((i * 10_000 + j) as f32)));
                }
            }
        }
        Compression::None => {
            let mut used = 0;
            for (i, c) in cands.iter().enumerate() {
                let cost = c.header_tokens + c.tokens;
                if used + cost <= budget {
                    used += cost;
                    kept[i] = (0..c.sents.len()).collect();
                    scored.extend((0..c.sents.len()).map(|j| (i, j, -(i as f32))));
                }
            }
        }
        // xRAG passages never reach packing (`xrag.rs`); the top one of a mixed request is extractive.
        Compression::Extractive | Compression::ExtractiveTokens | Compression::Xrag | Compression::ExtractiveXrag => {
            let flat: Vec<Sentence> = cands
                .iter()
                .enumerate()
                .flat_map(|(g, c)| {
                    c.sents.iter().enumerate().map(move |(pos, s)| Sentence { text: s.text, tokens: s.tokens, vec: s.vec, group: g, pos })
                })
                .collect();
            let params = Params::default();
            let sc = extractive::scores(&req.query, qvec, &flat, &params);
            let sel = extractive::select(&flat, &sc, budget, params.dedupe, |i, chosen| {
                let g = flat[i].group;
                let opened = chosen.iter().any(|&j| flat[j].group == g);
                flat[i].tokens + if opened { 1 } else { cands[g].header_tokens }
            });
            for i in sel {
                kept[flat[i].group].push(flat[i].pos);
                scored.push((flat[i].group, flat[i].pos, sc[i]));
            }
        }
    }
    scored.sort_by(|a, b| a.2.total_cmp(&b.2));
    (kept, scored.into_iter().map(|(g, j, _)| (g, j)).collect())
}

/// The prompt block and, per passage, its citation and compressed text
/// (`None` when nothing of it is kept). Citations are renumbered 1.. over
/// kept passages, in rank order.
fn build(
    cands: &[Cand],
    kept: &[Vec<usize>],
    dropped: &HashMap<(usize, usize), String>,
    how: Compression,
) -> (String, Vec<Option<(usize, String)>>) {
    let mut parts = Vec::new();
    let mut per = Vec::with_capacity(cands.len());
    for (i, c) in cands.iter().enumerate() {
        let mut ks = kept[i].clone();
        ks.sort_by_key(|&j| c.sents[j].start);
        if ks.is_empty() {
            per.push(None);
            continue;
        }
        let body = if how == Compression::None && ks.len() == c.sents.len() {
            c.text.to_string()
        } else {
            ks.iter()
                .map(|&j| dropped.get(&(i, j)).map_or(c.sents[j].text, String::as_str))
                .filter(|t| !t.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        };
        let n = parts.len() + 1;
        let header = renumber(&c.header, n);
        parts.push((header, body.clone()));
        per.push(Some((n, body)));
    }
    (prompt::assemble(&parts), per)
}

/// `[7] rest` → `[n] rest`.
fn renumber(header: &str, n: usize) -> String {
    match header.find("] ") {
        Some(p) => format!("[{n}]{}", &header[p + 1..]),
        None => header.to_string(),
    }
}
