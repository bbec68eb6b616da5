//! Sentence splitting for extractive compression: the unit a context keeps
//! or drops, so it must never cut a sentence in half, and never break an
//! abbreviation ("Dr.", "U.S.", "e.g."), a decimal ("3.5"), a URL, a code
//! line or a list item. Rules, in order:
//! - a line break ends a sentence when the next line starts a list item,
//!   a heading or a new paragraph (blank line), or when the line itself
//!   ends a sentence; a fenced code block (```) is one unit;
//! - HTML-like block tags written into text (`<P>`, `<Li>`, `<Td>`, as
//!   in Wikipedia dumps) end a sentence;
//! - `.`, `!`, `?` (and closing quotes or brackets after them) end a
//!   sentence only when whitespace follows; a `.` also needs the next word
//!   to start with an upper-case letter, a digit, a quote or a bracket, and
//!   the word before it must not be a known abbreviation, an initial ("J."),
//!   or a dotted acronym ("U.S.");
//! - a piece longer than `MAX_BYTES` (a table row, a run-on line) is split
//!   at the last whitespace before the limit: a budget could never fit it.
//!
//! Spans are byte ranges into the input, trimmed of surrounding whitespace.

/// Longest piece kept whole (about 250 tokens of English).
pub const MAX_BYTES: usize = 1200;

const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "cf", "al", "inc", "ltd", "co", "corp", "no", "nos",
    "fig", "figs", "vol", "pp", "p", "ed", "eds", "approx", "est", "dept", "univ", "gen", "gov", "sen", "rep", "rev", "capt", "col", "lt",
    "sgt", "mt", "ft", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "a.m", "p.m", "u.s", "u.k",
    "ph.d", "b.c", "a.d", "op", "art", "sec", "ch", "max", "min", "misc", "viz",
];

/// Tags that end a unit; table cells too, so an infobox row's label and
/// value ("Created by", "Bruce Miller") are units a budget can keep.
const BLOCK_TAGS: &[&str] = &[
    "p",
    "li",
    "tr",
    "td",
    "th",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "table",
    "thead",
    "tbody",
    "tfoot",
    "caption",
    "ul",
    "ol",
    "dl",
    "dd",
    "dt",
    "br",
    "div",
    "blockquote",
];

/// Sentence spans of `text`, in order.
pub fn split(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for (s, e) in blocks(text) {
        split_block(text, s, e, &mut out);
    }
    let mut capped = Vec::with_capacity(out.len());
    for (s, e) in out {
        cap(text, s, e, &mut capped);
    }
    capped
}

/// Paragraph-level pieces: code fences kept whole, line breaks that end a
/// unit, block tags.
fn blocks(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_fence = false;
    let mut offs = Vec::new();
    let mut at = 0;
    for l in text.split_inclusive('\n') {
        offs.push((at, l));
        at += l.len();
    }
    for (i, &(at, line)) in offs.iter().enumerate() {
        let t = line.trim();
        if t.starts_with("```") {
            if in_fence {
                in_fence = false;
                push(text, start, at + line.len(), &mut out);
                start = at + line.len();
            } else {
                push_tags(text, start, at, &mut out);
                in_fence = true;
                start = at;
            }
            continue;
        }
        if in_fence {
            continue;
        }
        let end = at + line.len();
        let next = offs.get(i + 1).map(|(_, l)| l.trim_start());
        let breaks = t.is_empty()
            || next.is_none_or(|n| n.is_empty() || starts_item(n) || n.starts_with('#'))
            || t.ends_with(['.', '!', '?', ':', ';'])
            || starts_item(t)
            || t.starts_with('#');
        if breaks {
            push_tags(text, start, end, &mut out);
            start = end;
        }
    }
    if in_fence {
        push(text, start, text.len(), &mut out);
    } else {
        push_tags(text, start, text.len(), &mut out);
    }
    out
}

fn starts_item(line: &str) -> bool {
    let b = line.as_bytes();
    if b.len() >= 2 && matches!(b[0], b'-' | b'*' | b'+') && b[1] == b' ' {
        return true;
    }
    if line.starts_with("• ") {
        return true;
    }
    let digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
    digits > 0 && digits < 4 && b.len() > digits + 1 && matches!(b[digits], b'.' | b')') && b[digits + 1] == b' '
}

/// Split `[s, e)` at block tags (the tags themselves are dropped).
fn push_tags(text: &str, s: usize, e: usize, out: &mut Vec<(usize, usize)>) {
    let piece = &text[s..e];
    let mut from = 0;
    let mut i = 0;
    let b = piece.as_bytes();
    while i < b.len() {
        if b[i] == b'<' {
            if let Some(len) = block_tag_len(&piece[i..]) {
                push(text, s + from, s + i, out);
                i += len;
                from = i;
                continue;
            }
        }
        i += 1;
    }
    push(text, s + from, e, out);
}

/// Length of a block tag at the start of `s` (`<P>`, `</Li>`, `<Tr class=x>`).
fn block_tag_len(s: &str) -> Option<usize> {
    // Only a short tag counts: look at the next 42 bytes, not the whole rest.
    let close = s.as_bytes().iter().take(42).position(|&b| b == b'>')?;
    let inner = s[1..close].trim_start_matches('/');
    let name: String = inner.chars().take_while(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_lowercase();
    let rest = &inner[name.len()..];
    let ok = BLOCK_TAGS.contains(&name.as_str()) && (rest.is_empty() || rest.starts_with([' ', '_', '/']));
    ok.then_some(close + 1)
}

fn push(text: &str, s: usize, e: usize, out: &mut Vec<(usize, usize)>) {
    let piece = &text[s..e];
    let lead = piece.len() - piece.trim_start().len();
    let trail = piece.len() - piece.trim_end().len();
    if lead + trail < piece.len() {
        out.push((s + lead, e - trail));
    }
}

/// Sentence boundaries inside one block.
fn split_block(text: &str, s: usize, e: usize, out: &mut Vec<(usize, usize)>) {
    let piece = &text[s..e];
    if piece.starts_with("```") {
        out.push((s, e));
        return;
    }
    let chars: Vec<(usize, char)> = piece.char_indices().collect();
    let mut from = 0;
    let mut i = 0;
    while i < chars.len() {
        let (at, c) = chars[i];
        if matches!(c, '.' | '!' | '?' | '…' | '。' | '！' | '？') {
            // Closing punctuation stays with the sentence.
            let mut j = i + 1;
            while j < chars.len() && matches!(chars[j].1, '"' | '\'' | ')' | ']' | '”' | '’' | '»' | '.' | '!' | '?') {
                j += 1;
            }
            let cjk = matches!(c, '。' | '！' | '？');
            let ws = j < chars.len() && chars[j].1.is_whitespace();
            if (ws || cjk) && j < chars.len() {
                let mut k = j;
                while k < chars.len() && chars[k].1.is_whitespace() {
                    k += 1;
                }
                let next = chars.get(k).map(|x| x.1);
                if cjk || c != '.' || period_ends(piece, at, next) {
                    let end = chars.get(j).map_or(piece.len(), |x| x.0);
                    push(text, s + from, s + end, out);
                    from = chars.get(k).map_or(piece.len(), |x| x.0);
                    i = k;
                    continue;
                }
            }
            i = j;
            continue;
        }
        i += 1;
    }
    push(text, s + from, e, out);
}

/// Whether the `.` at byte `at` of `piece` ends a sentence, given the next
/// non-space character.
fn period_ends(piece: &str, at: usize, next: Option<char>) -> bool {
    let Some(n) = next else { return true };
    if !(n.is_uppercase() || n.is_ascii_digit() || matches!(n, '"' | '\'' | '(' | '[' | '“' | '‘' | '<' | '*' | '-')) {
        return false;
    }
    let word_start =
        piece[..at].char_indices().rev().find(|&(_, c)| c.is_whitespace() || c == '(' || c == '"').map_or(0, |(p, c)| p + c.len_utf8());
    let word = &piece[word_start..at];
    if word.is_empty() {
        return true;
    }
    let lower = word.to_lowercase();
    if ABBREVIATIONS.contains(&lower.as_str()) {
        return false;
    }
    // An initial ("J. K. Rowling") or a dotted acronym ("U.S.", "O.T.").
    let mut chars = word.chars();
    if chars.next().is_some_and(|c| c.is_uppercase()) && chars.next().is_none() {
        return false;
    }
    if word.contains('.') && word.split('.').all(|p| p.chars().count() <= 2) {
        return false;
    }
    true
}

/// Split an over-long piece at whitespace so every piece fits `MAX_BYTES`.
fn cap(text: &str, mut s: usize, e: usize, out: &mut Vec<(usize, usize)>) {
    while e - s > MAX_BYTES {
        let mut limit = s + MAX_BYTES;
        while !text.is_char_boundary(limit) {
            limit -= 1;
        }
        let cut = text[s..limit].rfind(char::is_whitespace).map(|p| s + p).filter(|&p| p > s).unwrap_or(limit);
        push(text, s, cut, out);
        s = cut;
        while s < e && text[s..].starts_with(char::is_whitespace) {
            s += text[s..].chars().next().map_or(1, char::len_utf8);
        }
    }
    if e > s {
        push(text, s, e, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sents(t: &str) -> Vec<&str> {
        split(t).into_iter().map(|(s, e)| &t[s..e]).collect()
    }

    #[test]
    fn plain_sentences_split_after_terminators() {
        assert_eq!(sents("It rained. Then it stopped! Did it? Yes."), vec!["It rained.", "Then it stopped!", "Did it?", "Yes."]);
    }

    #[test]
    fn abbreviations_initials_and_acronyms_stay_whole() {
        let t = "Dr. Smith met J. K. Rowling in the U.S. in May. She agreed, e.g. on the plan.";
        assert_eq!(sents(t), vec!["Dr. Smith met J. K. Rowling in the U.S. in May.", "She agreed, e.g. on the plan."]);
        assert_eq!(sents("Mix 3.5 g at 4 p.m. today. Done."), vec!["Mix 3.5 g at 4 p.m. today.", "Done."]);
        assert_eq!(sents("Leave from gate B12. Pack the A4 paper. Go."), vec!["Leave from gate B12.", "Pack the A4 paper.", "Go."]);
    }

    #[test]
    fn decimals_urls_and_code_are_not_split() {
        let t = "See https://example.com/a.b?x=1.5 for v2.0.1 details. Call foo.bar() then x.y.";
        assert_eq!(sents(t), vec!["See https://example.com/a.b?x=1.5 for v2.0.1 details.", "Call foo.bar() then x.y."]);
        let code = "Run this:\n```\nlet x = 1. max(2);\nprint(x). Done\n```\nAfter.";
        assert_eq!(sents(code), vec!["Run this:", "```\nlet x = 1. max(2);\nprint(x). Done\n```", "After."]);
    }

    #[test]
    fn list_items_and_paragraphs_are_units() {
        let t = "Steps\n- open the lid\n- pour 2.5 l\n1. stir\n2) wait\n\nNext paragraph\ncontinues here.";
        assert_eq!(sents(t), vec!["Steps", "- open the lid", "- pour 2.5 l", "1. stir", "2) wait", "Next paragraph\ncontinues here."]);
    }

    #[test]
    fn block_tags_end_sentences() {
        let t = "<H1> Title </H1> <P> First one. Second one </P> <Li> item </Li>";
        assert_eq!(sents(t), vec!["Title", "First one.", "Second one", "item"]);
    }

    #[test]
    fn lower_case_after_period_does_not_split_and_long_pieces_are_capped() {
        assert_eq!(sents("approx. five of them. Fine."), vec!["approx. five of them.", "Fine."]);
        let long = "word ".repeat(600);
        let parts = split(&long);
        assert!(parts.len() >= 3 && parts.iter().all(|(s, e)| e - s <= MAX_BYTES), "{parts:?}");
        assert!(parts.windows(2).all(|w| w[0].1 <= w[1].0));
    }

    #[test]
    fn multi_byte_spaces_before_a_period_do_not_panic() {
        assert_eq!(sents("a\u{a0}b. C d."), vec!["a\u{a0}b.", "C d."]);
        assert_eq!(sents("10\u{a0}km. The\u{3000}end. Ok"), vec!["10\u{a0}km.", "The\u{3000}end.", "Ok"]);
        let many = "<".repeat(100_000);
        assert_eq!(split(&many).len(), 100_000usize.div_ceil(MAX_BYTES));
    }

    #[test]
    fn spans_are_char_boundaries_and_cover_all_words() {
        let t = "Ünïcödé façade. Ça va? Ja! 東京。大阪。 End";
        let parts = split(t);
        let joined: Vec<&str> = parts.iter().map(|&(s, e)| &t[s..e]).collect();
        assert_eq!(joined, vec!["Ünïcödé façade.", "Ça va?", "Ja!", "東京。", "大阪。", "End"]);
    }
}
