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
        if let Some(sp) = text[start..best.max(start)].find(char::is_whitespace) {
            start += sp + 1;
        }
    }
    let end = floor(text, (start + max).min(text.len()));
    let mut s: String = text[start..end].replace(['\n', '\r', '\t'], " ");
    let hl: Vec<(usize, usize)> =
        matches.iter().filter(|m| m.0 >= start && m.1 <= end).map(|m| (m.0 - start, m.1 - start)).collect();
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
}
