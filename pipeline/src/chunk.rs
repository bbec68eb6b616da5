//! Splitting long text into overlapping token windows, so every part of a long
//! document is embedded (MiniLM sees at most 256 tokens) and a hit can point at
//! the exact span (byte offsets into the extracted text).

use tokenizers::Tokenizer;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
    /// The model's input for this window: its tokens between the tokenizer's
    /// special tokens, so the text is tokenized once, here, not again to embed.
    pub ids: Vec<u32>,
}

/// Windows of `size` tokens that overlap by `overlap` tokens. `tok` must not
/// truncate.
pub fn chunk_spans(tok: &Tokenizer, text: &str, size: usize, overlap: usize) -> Result<Vec<Span>, String> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let enc = tok.encode(text, true).map_err(|e| format!("tokenizer: {e}"))?;
    let (ids, special) = (enc.get_ids(), enc.get_special_tokens_mask());
    let lead = special.iter().take_while(|&&m| m == 1).count();
    let trail = special[lead..].iter().rev().take_while(|&&m| m == 1).count();
    let body = lead..ids.len() - trail;
    let offs = &enc.get_offsets()[body.clone()];
    let window = |i: usize, j: usize| -> Vec<u32> {
        let mut w = ids[..lead].to_vec();
        w.extend_from_slice(&ids[body.start + i..body.start + j]);
        w.extend_from_slice(&ids[body.end..]);
        w
    };
    if offs.len() <= size {
        return Ok(vec![Span { start: 0, end: text.len(), ids: ids.to_vec() }]);
    }
    let step = size.saturating_sub(overlap).max(1);
    let mut out = Vec::new();
    let mut i = 0;
    while i < offs.len() {
        let j = (i + size).min(offs.len());
        let start = if i == 0 { 0 } else { offs[i].0 };
        let end = if j == offs.len() { text.len() } else { offs[j - 1].1 };
        let (start, end) = (floor_char(text, start), floor_char(text, end.max(start)));
        if end > start {
            out.push(Span { start, end, ids: window(i, j) });
        }
        if j == offs.len() {
            break;
        }
        i += step;
    }
    Ok(out)
}

fn floor_char(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}
