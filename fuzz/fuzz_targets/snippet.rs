//! `snippet::snippet`: the window must be a substring of the (whitespace-
//! flattened) text and every highlight a char-boundary range inside it.
//! Input: 2 bytes of `max`, then text and query separated by the first 0xFF.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pith_pipeline::snippet::snippet;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let max = u16::from_le_bytes([data[0], data[1]]) as usize % 1024;
    let rest = &data[2..];
    let (t, q) = match rest.iter().position(|&b| b == 0xFF) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &b""[..]),
    };
    let text = String::from_utf8_lossy(t);
    let q = String::from_utf8_lossy(q);
    let (s, hl) = snippet(&text, &q, max);
    let body = s.strip_suffix('…').unwrap_or(&s);
    let flat = text.replace(['\n', '\r', '\t'], " ");
    assert!(flat.contains(body), "snippet {body:?} not in text {flat:?}");
    assert!(body.len() <= max, "snippet of {} bytes for max {max}", body.len());
    for &(a, b) in &hl {
        assert!(a < b && b <= body.len(), "highlight {a}..{b} outside snippet of {} bytes", body.len());
        assert!(body.is_char_boundary(a) && body.is_char_boundary(b), "highlight {a}..{b} not on char boundaries");
    }
});
