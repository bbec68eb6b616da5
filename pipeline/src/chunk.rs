//! Splitting long text into overlapping token windows, so every part of a long
//! document is embedded (MiniLM sees at most 256 tokens) and a hit can point at
//! the exact span (byte offsets into the extracted text).

use tokenizers::Tokenizer;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

/// Windows of `size` tokens that overlap by `overlap` tokens.
pub fn chunk_spans(tok: &Tokenizer, text: &str, size: usize, overlap: usize) -> Vec<Span> {
    if text.trim().is_empty() {
        return Vec::new();
    }
    let enc = match tok.encode(text, false) {
        Ok(e) => e,
        Err(_) => return vec![Span { start: 0, end: text.len() }],
    };
    let offs = enc.get_offsets();
    if offs.len() <= size {
        return vec![Span { start: 0, end: text.len() }];
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
            out.push(Span { start, end });
        }
        if j == offs.len() {
            break;
        }
        i += step;
    }
    out
}

fn floor_char(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}
