//! `chunk::chunk_spans` with the real MiniLM tokenizer (untruncated, unpadded,
//! as ingest uses it): spans must be non-empty byte ranges on char boundaries.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use pith_pipeline::chunk::chunk_spans;
use tokenizers::Tokenizer;

fn tokenizer() -> &'static Tokenizer {
    static TOK: OnceLock<Tokenizer> = OnceLock::new();
    TOK.get_or_init(|| {
        let dir = std::env::var("PITH_MODELS").unwrap_or_else(|_| "/root/.cache/pith/models".into());
        let path = std::path::Path::new(&dir).join("minilm-l6-v2-int8/tokenizer.json");
        let mut tok = Tokenizer::from_file(&path).unwrap_or_else(|e| panic!("load {}: {e}", path.display()));
        tok.with_truncation(None).expect("disable truncation");
        tok.with_padding(None);
        tok
    })
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let size = 2 + data[0] as usize % 299; // 2..=300
    let overlap = data[1] as usize % size; // < size
    let text = String::from_utf8_lossy(&data[2..]);
    let spans = match chunk_spans(tokenizer(), &text, size, overlap) {
        Ok(s) => s,
        Err(_) => return,
    };
    if text.trim().is_empty() {
        assert!(spans.is_empty());
        return;
    }
    assert!(!spans.is_empty(), "non-blank text gave no spans");
    for s in &spans {
        assert!(s.start < s.end && s.end <= text.len(), "span {}..{} of {}", s.start, s.end, text.len());
        assert!(text.is_char_boundary(s.start) && text.is_char_boundary(s.end), "span {}..{} not on char boundaries", s.start, s.end);
        assert!(!s.ids.is_empty());
    }
    assert_eq!(spans[0].start, 0, "first span does not start at 0");
    assert_eq!(spans.last().unwrap().end, text.len(), "last span does not reach the end");
    assert!(spans.windows(2).all(|w| w[0].start <= w[1].start), "spans out of order");
});
