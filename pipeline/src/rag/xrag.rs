//! xRAG contexts (Cheng et al. 2024): each retrieved passage handed to the
//! local LM as ONE input embedding, the bridge's projection of its MiniLM
//! vector (`pith_models::xrag`). The token of a passage is that of its
//! best-ranked chunk, made at ingest and stored (`store::xrag`); a chunk
//! without one (ingested before the bridge was installed, or by another
//! bridge) gets it now from its stored text vector, stored when the
//! writer is free.
//!
//! In the prompt block each xRAG passage reads `[n] header` then
//! [`XRAG_MARK`]: the local LM's chat path replaces each mark by its
//! token; an API client splices the returned vectors the same way.

use std::collections::HashMap;

use base64::Engine as _;
use pith_models::XRAG_MARK;

use super::context::{Context, Passage};
use super::prompt;
use crate::encoders::space;
use crate::engine::Engine;
use crate::error::{PipelineError, Result};
use crate::ids::{ChunkId, ItemId};
use crate::store::ItemRow;

/// Which bridge made the tokens, and for which LM (in every xRAG response).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct XragInfo {
    /// `xrag-bridge@sha256-prefix`.
    pub bridge: String,
    /// The LM whose input embeddings the tokens are (catalog name).
    pub llm: String,
    /// Values per token (the LM's hidden size).
    pub dim: usize,
    /// The string in `prompt` that each token replaces, in citation order.
    pub mark: String,
}

/// xRAG contexts and their prompt parts (header, mark).
pub(super) struct XragContexts {
    pub info: XragInfo,
    pub contexts: Vec<Context>,
    pub parts: Vec<(String, String)>,
}

impl Engine {
    /// One xRAG token per chunk (stored, else made now from the chunk's
    /// text vector, else from its text).
    pub fn xrag_tokens(&self, chunks: &[ChunkId]) -> Result<(XragInfo, Vec<Vec<f32>>)> {
        let enc = self.encoders()?;
        let bridge = enc
            .bridge()?
            .ok_or_else(|| PipelineError::BadInput("xRAG needs the xRAG bridge, which is not installed: run `make models`".into()))?;
        let info =
            XragInfo { bridge: bridge.id.clone(), llm: bridge.config.llm.clone(), dim: bridge.config.out_dim, mark: XRAG_MARK.into() };
        let reader = self.reader()?;
        let mut have = reader.xrag_tokens(chunks, &bridge.id)?;
        let missing: Vec<ChunkId> = chunks.iter().copied().filter(|c| !have.contains_key(c)).collect();
        if !missing.is_empty() {
            let sid = self.space_id(space::TEXT);
            let mut inputs = Vec::with_capacity(missing.len());
            for &c in &missing {
                let stored = match sid {
                    Some(s) => reader.vector(c, s)?,
                    None => None,
                };
                let v = match stored {
                    Some(v) if v.len() == bridge.config.in_dim => v,
                    _ => {
                        let text = reader.chunk(c)?.map(|r| r.text).unwrap_or_default();
                        enc.text.embed_one(text.trim())?
                    }
                };
                inputs.push(v);
            }
            let made: Vec<(ChunkId, Vec<f32>)> = missing.into_iter().zip(bridge.project(&inputs)?).collect();
            if let Some(mut store) = self.try_store() {
                if let Err(e) = store.put_xrag_tokens(&bridge.id, &made) {
                    tracing::warn!(error = %e, "could not store xRAG tokens");
                }
            }
            have.extend(made);
        }
        let tokens = chunks.iter().map(|c| have.remove(c).unwrap_or_default()).collect();
        Ok((info, tokens))
    }

    /// The store's text for training a bridge on it (`pith xrag tune`):
    /// each item's text, in id order, up to `max_bytes` in all.
    pub fn texts_for_xrag(&self, max_bytes: usize) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let mut total = 0;
        for id in self.reader()?.text_item_ids()? {
            if total >= max_bytes {
                break;
            }
            let t = self.item_text_to(id, max_bytes - total)?;
            total += t.len();
            out.push(t);
        }
        Ok(out)
    }

    /// Contexts for `passages`, each as one xRAG token, cited from
    /// `first_citation`; and their prompt parts (header, mark).
    pub(super) fn xrag_contexts(
        &self,
        passages: &[Passage],
        texts: &HashMap<ItemId, String>,
        rows: &HashMap<ItemId, ItemRow>,
        first_citation: usize,
        count: &dyn Fn(&str) -> usize,
    ) -> Result<XragContexts> {
        let best: Vec<ChunkId> = passages.iter().filter_map(|p| p.chunks.first().copied()).collect();
        let (info, tokens) = self.xrag_tokens(&best)?;
        let empty = String::new();
        let mut contexts = Vec::with_capacity(passages.len());
        let mut parts = Vec::with_capacity(passages.len());
        for (i, (p, tok)) in passages.iter().zip(tokens).enumerate() {
            let row = rows.get(&p.item).ok_or_else(|| PipelineError::Internal(format!("item {} vanished", p.item)))?;
            let text = texts.get(&p.item).unwrap_or(&empty);
            let citation = first_citation + i;
            parts.push((prompt::header(citation, &p.source(row)).replace(XRAG_MARK, "<xrag>"), XRAG_MARK.to_string()));
            let c = p.context(row, text, (p.start, p.end), citation);
            contexts.push(Context {
                original_tokens: count(&c.text),
                kept_tokens: 1,
                xrag: Some(base64::engine::general_purpose::STANDARD.encode(pith_models::xrag::to_f16_bytes(&tok))),
                ..c
            });
        }
        Ok(XragContexts { info, contexts, parts })
    }
}

/// A base64 f16 token back to floats (what a client does with `xrag`).
pub fn decode_token(b64: &str) -> Result<Vec<f32>> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| PipelineError::BadInput(format!("an xRAG token is not base64: {e}")))?;
    Ok(pith_models::xrag::from_f16_bytes(&bytes))
}
