//! A short window of a chunk around the query terms, with the byte ranges of
//! the matched words. Terms are compared after the same analysis as the BM25
//! index (lower case, English stem), so "cats" highlights "cat".

use std::collections::HashSet;

use tantivy::tokenizer::TokenStream;

thread_local! {
    static ANALYZER: std::cell::RefCell<tantivy::tokenizer::TextAnalyzer> = std::cell::RefCell::new(crate::index::text::analyzer());
}

pub fn snippet(text: &str, q: &str, max: usize) -> (String, Vec<(usize, usize)>) {
    ANALYZER.with(|an| snippet_with(&mut an.borrow_mut(), text, q, max))
}

fn snippet_with(an: &mut tantivy::tokenizer::TextAnalyzer, text: &str, q: &str, max: usize) -> (String, Vec<(usize, usize)>) {
    let mut terms = HashSet::new();
    {
        let mut ts = an.token_stream(q);
        while ts.advance() {
            terms.insert(ts.token().text.clone());
        }
    }
    let mut matches = Vec::new();
    let mut ts = an.token_stream(text);
    while ts.advance() {
        let t = ts.token();
        if terms.contains(&t.text) {
            matches.push((t.offset_from, t.offset_to));
        }
    }
    // Start a little before the window with the most matches.
    let best = (0..matches.len())
        .max_by_key(|&i| (matches[i..].iter().take_while(|m| m.1 <= matches[i].0 + max).count(), usize::MAX - i))
        .map(|i| matches[i].0)
        .unwrap_or(0);
    let mut start = floor(text, best.saturating_sub(max / 6));
    if start > 0 {
        // Skip to just after the first whitespace character; it may be
        // several bytes long (NBSP is two), so step over the whole char.
        if let Some((sp, ch)) = text[start..best.max(start)].char_indices().find(|(_, c)| c.is_whitespace()) {
            start += sp + ch.len_utf8();
        }
    }
    let end = floor(text, (start + max).min(text.len()));
    let mut s: String = text[start..end].replace(['\n', '\r', '\t'], " ");
    let hl: Vec<(usize, usize)> = matches.iter().filter(|m| m.0 >= start && m.1 <= end).map(|m| (m.0 - start, m.1 - start)).collect();
    if end < text.len() {
        s.push('…');
    }
    (s, hl)
}

fn floor(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stemmed_terms_are_highlighted() {
        let text = "Nothing here. The cats were sleeping on the sofa all day.";
        let (s, hl) = snippet(text, "cat sleeps", 200);
        let words: Vec<&str> = hl.iter().map(|&(a, b)| &s[a..b]).collect();
        assert_eq!(words, vec!["cats", "sleeping"]);
    }

    #[test]
    fn nbsp_before_the_match_is_stepped_over_whole() {
        // The bug: the window start skipped one byte past a two-byte NBSP.
        let text = format!("{}\u{a0}word{} target here", "x".repeat(150), "y ".repeat(20));
        let (s, hl) = snippet(&text, "target", 60);
        assert!(hl.iter().all(|&(a, b)| &s[a..b] == "target"));
    }

    fn unicode_text() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let piece = prop_oneof![
            Just("\u{a0}".to_string()),
            Just("e\u{301}".to_string()),
            Just("😀".to_string()),
            Just("漢字".to_string()),
            Just("שלום".to_string()),
            Just("\r\n".to_string()),
            Just("\u{200f}".to_string()),
            Just(" ".to_string()),
            "[a-zA-Z]{1,8}",
            any::<char>().prop_map(|c| c.to_string()),
        ];
        proptest::collection::vec(piece, 0..300).prop_map(|v| v.concat())
    }

    proptest::proptest! {
        #[test]
        fn snippet_is_a_window_of_the_text_on_char_boundaries(text in unicode_text(), q in unicode_text(), max in 1usize..400) {
            let (s, hl) = snippet(&text, &q, max);
            let body = s.strip_suffix('…').unwrap_or(&s);
            let flat = text.replace(['\n', '\r', '\t'], " ");
            proptest::prop_assert!(flat.contains(body), "snippet {body:?} not in text");
            for &(a, b) in &hl {
                proptest::prop_assert!(a < b && b <= body.len() && body.is_char_boundary(a) && body.is_char_boundary(b));
            }
        }
    }
}
