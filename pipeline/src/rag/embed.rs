//! Sentence embeddings of a text, made once (at ingest, or on first use by
//! a context request) and stored: a context request then embeds only its
//! query. Each sentence is tokenized once; that encoding gives both the
//! model's input and the sentence's token count for budgets.

use pith_models::TextEncoder;

use super::sentences;
use crate::error::{PipelineError, Result};
use crate::store::NewSentence;

/// Sentences of each text with their token counts and embeddings, embedded
/// in one call so the encoder batches them together.
pub fn embed_sentences(enc: &TextEncoder, texts: &[&str]) -> Result<Vec<Vec<NewSentence>>> {
    let tok = enc.raw_tokenizer();
    let mut spans = Vec::with_capacity(texts.len());
    // Only the ids and the word-token count are kept: a tokenizer `Encoding`
    // holds each token's string and offsets too, ~100 bytes a token, which
    // for a 1,000-page PDF was tens of MB held through the whole embedding.
    let mut ids: Vec<Vec<u32>> = Vec::new();
    let mut counts: Vec<usize> = Vec::new();
    for t in texts {
        let s = sentences::split(t);
        for &(a, b) in &s {
            let e = tok.encode(&t[a..b], true).map_err(|e| PipelineError::Internal(format!("tokenizer: {e}")))?;
            counts.push(e.get_special_tokens_mask().iter().filter(|&&m| m == 0).count());
            ids.push(e.get_ids().to_vec());
        }
        spans.push(s);
    }
    let refs: Vec<&[u32]> = ids.iter().map(Vec::as_slice).collect();
    let mut vecs = enc.embed_ids(&refs)?.into_iter();
    let mut counts = counts.into_iter();
    Ok(spans
        .into_iter()
        .map(|s| {
            s.into_iter()
                .map(|(start, end)| NewSentence {
                    start,
                    end,
                    tokens: counts.next().unwrap_or(0),
                    vec: vecs.next().unwrap_or_default(),
                    token_bits: None,
                })
                .collect()
        })
        .collect())
}

/// Add token scores to `sents` of `text` (one scoring pass over the whole
/// text, so each token is judged in context).
pub fn score_sentences(scorer: super::tokens::Scorer, text: &str, sents: &mut [NewSentence]) -> Result<()> {
    let spans: Vec<(usize, usize)> = sents.iter().map(|s| (s.start, s.end)).collect();
    let toks = super::tokens::score_text(scorer, text)?;
    for (s, b) in sents.iter_mut().zip(super::tokens::per_sentence(&spans, &toks)) {
        s.token_bits = Some(b);
    }
    Ok(())
}
