//! `Engine::rag_context`: retrieve chunks for a question, fuse them at
//! chunk level (a long document contributes every passage that matches, not
//! only its best), drop those below the calibrated relevance cut-off, merge
//! overlapping passages of one item into one context, then compress them to
//! the token budget and assemble a prompt block with numbered citations.
//!
//! The budget covers the whole prompt block, headers included, counted by
//! the request's tokenizer; it is checked on the assembled text, so it holds
//! however a tokenizer merges across sentence joins.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::embed::embed_sentences;
use crate::engine::Engine;
use crate::error::{PipelineError, Result};
use crate::ids::{ChunkId, ItemId};
use crate::relevance::features;
use crate::search::fusion::{self, Fusion};
use crate::search::{ChunkList, Filters, SearchRequest};
use crate::store::NewSentence;

/// How retrieved text is shortened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// Whole passages in rank order while they fit.
    None,
    /// Query-aware sentence selection (`extractive.rs`).
    #[default]
    Extractive,
    /// Whole passages in rank order, then the least informative words
    /// dropped (`tokens.rs`).
    Tokens,
    /// Sentence selection, then word dropping: fits more sentences.
    #[serde(rename = "extractive+tokens")]
    ExtractiveTokens,
    /// Each passage as ONE token of the local LM (`xrag.rs`): a vector,
    /// not text. Needs the xRAG bridge.
    Xrag,
    /// The top passage as extractive text, the rest as xRAG tokens.
    #[serde(rename = "extractive+xrag")]
    ExtractiveXrag,
}

impl Compression {
    pub fn parse(s: &str) -> Option<Compression> {
        match s.trim() {
            "none" => Some(Compression::None),
            "extractive" => Some(Compression::Extractive),
            "tokens" => Some(Compression::Tokens),
            "extractive+tokens" => Some(Compression::ExtractiveTokens),
            "xrag" => Some(Compression::Xrag),
            "extractive+xrag" => Some(Compression::ExtractiveXrag),
            _ => None,
        }
    }
}

fn default_k() -> usize {
    10
}
fn default_budget() -> usize {
    500
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RagRequest {
    pub query: String,
    /// Passages to retrieve (1..=50).
    #[serde(default = "default_k")]
    pub k: usize,
    /// Most tokens of the assembled prompt block, headers included.
    #[serde(default = "default_budget")]
    pub token_budget: usize,
    #[serde(default)]
    pub compression: Compression,
    #[serde(default)]
    pub filters: Filters,
    /// A registered tokenizer's name (`pith` by default).
    #[serde(default)]
    pub tokenizer: Option<String>,
    /// Drop passages whose calibrated relevance is below this (0 keeps all);
    /// the store's `search.min-relevance` when absent.
    #[serde(default)]
    pub min_relevance: Option<f32>,
}

impl RagRequest {
    pub fn new(query: impl Into<String>) -> RagRequest {
        RagRequest {
            query: query.into(),
            k: default_k(),
            token_budget: default_budget(),
            compression: Compression::default(),
            filters: Filters::default(),
            tokenizer: None,
            min_relevance: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Context {
    /// The `[n]` that cites it in `prompt`.
    pub citation: usize,
    pub item_id: ItemId,
    pub chunk_ids: Vec<ChunkId>,
    pub kind: String,
    pub path: String,
    pub title: String,
    /// Character offsets of the passage in the item's text.
    pub start: usize,
    pub end: usize,
    /// Seconds into a recording or video.
    pub start_s: Option<f64>,
    pub end_s: Option<f64>,
    /// PDF page (1-based) and document section the passage lies in.
    pub page: Option<u32>,
    pub section: Option<String>,
    pub relevance: Option<f32>,
    pub text: String,
    pub compressed: String,
    pub original_tokens: usize,
    pub kept_tokens: usize,
    /// `xrag` compression: the passage as one LM input embedding, f16
    /// little-endian, base64; it replaces this context's mark in `prompt`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub xrag: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Timings {
    pub retrieve_ms: f64,
    pub sentences_ms: f64,
    pub compress_ms: f64,
    pub total_ms: f64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RagContext {
    pub query: String,
    pub contexts: Vec<Context>,
    /// Contexts under numbered headers, ready for a system message.
    pub prompt: String,
    pub tokenizer: String,
    /// Tokens of every retrieved passage, uncompressed.
    pub original_tokens: usize,
    /// Tokens of the kept text (without headers).
    pub kept_tokens: usize,
    /// Tokens of `prompt` (never above the budget).
    pub prompt_tokens: usize,
    /// `original_tokens / kept_tokens`.
    pub compression_ratio: f32,
    /// Passages dropped by the relevance cut-off.
    pub hidden: usize,
    /// With `xrag` compression: the bridge and LM the tokens are for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub xrag: Option<super::xrag::XragInfo>,
    pub timings: Timings,
}

/// A passage: one or more overlapping chunks of one item.
pub(super) struct Passage {
    pub(super) item: ItemId,
    pub(super) chunks: Vec<ChunkId>,
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) ms: Option<(i64, i64)>,
    /// PDF page and document section of its first chunk (a passage never
    /// spans two: each page or section is chunked on its own).
    pub(super) page: Option<u32>,
    pub(super) section: Option<String>,
    pub(super) relevance: Option<f32>,
}

impl Passage {
    /// What its header names.
    pub(super) fn source<'a>(&'a self, row: &'a crate::store::ItemRow) -> super::prompt::Source<'a> {
        super::prompt::Source {
            title: &row.title,
            path: &row.path,
            seconds: self.ms.map(|(a, b)| (a as f64 / 1e3, b as f64 / 1e3)),
            page: self.page,
            section: self.section.as_deref(),
        }
    }

    /// Its entry in the response, cited as `citation`, spanning bytes
    /// `span` of the item's `text`; what compression made is left empty.
    pub(super) fn context(&self, row: &crate::store::ItemRow, text: &str, span: (usize, usize), citation: usize) -> Context {
        let (a, b) = (floor(text, span.0), floor(text, span.1.max(span.0)));
        Context {
            citation,
            item_id: self.item,
            chunk_ids: self.chunks.clone(),
            kind: row.kind.clone(),
            path: row.path.clone(),
            title: row.title.clone(),
            start: text[..a].chars().count(),
            end: text[..b].chars().count(),
            start_s: self.ms.map(|m| m.0 as f64 / 1e3),
            end_s: self.ms.map(|m| m.1 as f64 / 1e3),
            page: self.page,
            section: self.section.clone(),
            relevance: self.relevance,
            text: text[a..b].to_string(),
            compressed: String::new(),
            original_tokens: 0,
            kept_tokens: 0,
            xrag: None,
        }
    }
}

/// `i` moved down to a char boundary of `s`.
pub(super) fn floor(s: &str, i: usize) -> usize {
    let mut b = i.min(s.len());
    while !s.is_char_boundary(b) {
        b -= 1;
    }
    b
}

impl Engine {
    pub fn rag_context(&self, req: &RagRequest) -> Result<RagContext> {
        let t0 = Instant::now();
        if req.token_budget == 0 || req.token_budget > 200_000 {
            return Err(PipelineError::BadInput(format!("token_budget must be 1..=200000, got {}", req.token_budget)));
        }
        let k = req.k.clamp(1, 50);
        let counter = self.token_counter(req.tokenizer.as_deref())?;
        let mut sreq = SearchRequest::new(req.query.clone(), k);
        sreq.filters = req.filters.clone();
        sreq.min_relevance = req.min_relevance;
        let lists = self.retrieve_chunks(&sreq)?;
        let opts = self.search_options(&sreq);
        let (passages, hidden) = self.passages(&lists, k, &opts)?;
        let qvec = lists.iter().find(|l| l.name == crate::encoders::space::TEXT).and_then(|l| l.query.as_ref()).map(|q| q.1.clone());
        let retrieve_ms = t0.elapsed().as_secs_f64() * 1e3;

        let t1 = Instant::now();
        let items: Vec<ItemId> = passages.iter().map(|p| p.item).collect::<HashSet<_>>().into_iter().collect();
        let (texts, rows) = self.item_texts(&passages)?;
        let stored = self.sentences_for(&items, &texts)?;
        let sentences_ms = t1.elapsed().as_secs_f64() * 1e3;

        let t2 = Instant::now();
        let qvec = match qvec {
            Some(v) => v,
            None => self.encoders()?.text.embed_one(req.query.trim())?,
        };
        let (text_passages, xrag_passages) = match req.compression {
            Compression::Xrag => (&passages[..0], &passages[..]),
            Compression::ExtractiveXrag => passages.split_at(passages.len().min(1)),
            _ => (&passages[..], &passages[..0]),
        };
        let text_req = RagRequest {
            compression: if req.compression == Compression::ExtractiveXrag { Compression::Extractive } else { req.compression },
            ..req.clone()
        };
        let mut out = self.pack(&super::pack::Inputs {
            req: &text_req,
            counter: &counter,
            qvec: &qvec,
            passages: text_passages,
            texts: &texts,
            rows: &rows,
            stored: &stored,
        })?;
        // A mark in a file's own text or title is not a slot: only those
        // the xRAG contexts add below are.
        out.prompt = out.prompt.replace(pith_models::XRAG_MARK, "<xrag>");
        let mut xrag = None;
        if matches!(req.compression, Compression::Xrag | Compression::ExtractiveXrag) {
            let count = |t: &str| counter.count(t);
            // A top passage that did not fit as text goes as a token with the rest.
            let xrag_passages = if out.contexts.is_empty() { &passages[..] } else { xrag_passages };
            let super::xrag::XragContexts { info, contexts, parts } =
                self.xrag_contexts(xrag_passages, &texts, &rows, out.contexts.len() + 1, &count)?;
            out.original_tokens += contexts.iter().map(|c| c.original_tokens).sum::<usize>();
            out.kept_tokens += contexts.len();
            let block = super::prompt::assemble(&parts);
            out.prompt = [out.prompt.as_str(), block.as_str()].into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>().join("\n\n");
            out.contexts.extend(contexts);
            xrag = Some(info);
        }
        let compress_ms = t2.elapsed().as_secs_f64() * 1e3;
        let ratio = if out.kept_tokens > 0 { out.original_tokens as f32 / out.kept_tokens as f32 } else { 0.0 };
        Ok(RagContext {
            query: req.query.clone(),
            prompt_tokens: counter.count(&out.prompt),
            contexts: out.contexts,
            prompt: out.prompt,
            tokenizer: counter.name.clone(),
            original_tokens: out.original_tokens,
            kept_tokens: out.kept_tokens,
            compression_ratio: ratio,
            hidden,
            xrag,
            timings: Timings { retrieve_ms, sentences_ms, compress_ms, total_ms: t0.elapsed().as_secs_f64() * 1e3 },
        })
    }

    /// Fused chunks with text, best first, above the cut-off, merged per
    /// item where they overlap; and how many the cut-off dropped.
    fn passages(&self, lists: &[ChunkList], k: usize, opts: &crate::search::settings::Options) -> Result<(Vec<Passage>, usize)> {
        let fused = match opts.fusion {
            Fusion::Rrf => {
                fusion::rrf(&lists.iter().map(|l| (l.weight, l.hits.iter().map(|h| h.0).collect())).collect::<Vec<_>>(), opts.rrf_k)
            }
            Fusion::Convex => fusion::convex(
                &lists.iter().map(|l| fusion::Scored { weight: l.weight, dense: l.dense, hits: l.hits.clone() }).collect::<Vec<_>>(),
                opts.semantic_ratio,
            ),
        };
        let bm25: HashMap<ChunkId, usize> =
            lists.iter().filter(|l| !l.dense).flat_map(|l| l.hits.iter().enumerate().map(|(r, h)| (h.0, r + 1))).collect();
        let reader = self.reader()?;
        let mut out: Vec<Passage> = Vec::new();
        let mut hidden = 0;
        let mut taken = 0;
        for (c, _) in fused.into_iter().take(k * 4 + 20) {
            if taken >= k {
                break;
            }
            let Some(row) = reader.chunk(c)? else { continue };
            if row.text.trim().is_empty() {
                continue;
            }
            let rel = self.chunk_relevance(lists, c, &bm25, opts, &reader)?;
            if rel.is_some_and(|r| r < opts.min_relevance) {
                hidden += 1;
                continue;
            }
            taken += 1;
            let (start, end) = (row.start.max(0) as usize, row.end.max(0) as usize);
            let ms = row.start_ms.zip(row.end_ms);
            // Overlapping or touching chunks of one item become one passage.
            if let Some(p) =
                out.iter_mut().find(|p| p.item == row.item_id && start <= p.end && end >= p.start && p.ms.is_none() && ms.is_none())
            {
                p.start = p.start.min(start);
                p.end = p.end.max(end);
                p.chunks.push(c);
                continue;
            }
            out.push(Passage { item: row.item_id, chunks: vec![c], start, end, ms, page: row.page, section: row.section, relevance: rel });
        }
        // A later chunk can bridge two passages of one item: merge until none overlap.
        while let Some((i, j)) = (0..out.len()).flat_map(|i| (i + 1..out.len()).map(move |j| (i, j))).find(|&(i, j)| {
            let (a, b) = (&out[i], &out[j]);
            a.item == b.item && a.ms.is_none() && b.ms.is_none() && b.start <= a.end && b.end >= a.start
        }) {
            let b = out.remove(j);
            let a = &mut out[i];
            a.start = a.start.min(b.start);
            a.end = a.end.max(b.end);
            a.chunks.extend(b.chunks);
            a.relevance = a.relevance.or(b.relevance);
        }
        Ok((out, hidden))
    }

    /// A chunk's calibrated relevance from the first dense list that scored
    /// it, else from its stored vector in the text space.
    fn chunk_relevance(
        &self,
        lists: &[ChunkList],
        c: ChunkId,
        bm25: &HashMap<ChunkId, usize>,
        opts: &crate::search::settings::Options,
        reader: &crate::store::Store,
    ) -> Result<Option<f32>> {
        let dense: Vec<&ChunkList> = lists.iter().filter(|l| l.dense).collect();
        if let Some((l, s)) = dense.iter().find_map(|l| l.raw.get(&c).map(|s| (l, *s))) {
            return Ok(Some(opts.calibration.relevance(l.family, &features(s, &l.top, bm25.get(&c).copied()))));
        }
        for l in dense {
            let Some((sid, qv)) = &l.query else { continue };
            if let Some(v) = reader.vector(c, *sid)? {
                let f = features(pith_models::dot(qv, &v), &l.top, bm25.get(&c).copied());
                return Ok(Some(opts.calibration.relevance(l.family, &f)));
            }
        }
        Ok(None)
    }

    /// Each item's text (as far as its passages reach) and row.
    #[allow(clippy::type_complexity)]
    fn item_texts(&self, passages: &[Passage]) -> Result<(HashMap<ItemId, String>, HashMap<ItemId, crate::store::ItemRow>)> {
        let mut need: HashMap<ItemId, usize> = HashMap::new();
        for p in passages {
            let n = need.entry(p.item).or_default();
            *n = (*n).max(p.end + 4096);
        }
        let mut texts = HashMap::new();
        let mut rows = HashMap::new();
        for (it, n) in need {
            texts.insert(it, self.item_text_to(it, n)?);
            rows.insert(it, self.item(it)?);
        }
        Ok((texts, rows))
    }

    /// Sentences stored for each item (absent: none stored yet).
    pub fn stored_sentences(&self, items: &[ItemId]) -> Result<HashMap<ItemId, Vec<NewSentence>>> {
        self.reader()?.sentences_of_items(items)
    }

    /// Stored sentences of each item; those ingested without them are
    /// embedded now and stored when the writer is free.
    fn sentences_for(&self, items: &[ItemId], texts: &HashMap<ItemId, String>) -> Result<HashMap<ItemId, Vec<NewSentence>>> {
        let mut have = self.reader()?.sentences_of_items(items)?;
        let missing: Vec<ItemId> = items.iter().copied().filter(|i| !have.contains_key(i)).collect();
        if missing.is_empty() {
            return Ok(have);
        }
        let bodies: Vec<&str> = missing.iter().map(|i| texts.get(i).map_or("", String::as_str)).collect();
        let made = embed_sentences(&self.encoders()?.text, &bodies)?;
        for (it, s) in missing.into_iter().zip(made) {
            if let Some(mut store) = self.try_store() {
                if let Err(e) = store.put_sentences(it, &s) {
                    tracing::warn!(error = %e, item = %it, "could not store sentences");
                }
            }
            have.insert(it, s);
        }
        Ok(have)
    }
}
