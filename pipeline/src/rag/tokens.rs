//! Token-level compression, after Selective Context (Li et al., 2023) and
//! LLMLingua (Jiang et al., 2023): a small causal LM scores how surprising
//! each token is, `I(t) = −log2 p(t | prefix)`; words whose tokens the
//! model finds predictable carry little and are dropped first.
//!
//! Scores are query-agnostic, so they are computed once (at ingest when
//! `rag.token-scores` covers the item, else on first use) and stored with
//! each sentence; a request only selects. The unit dropped is a word (a
//! whitespace-separated run), scored by the sum of its tokens' bits, so a
//! word is never cut inside. Function words (the stopword list) go before
//! any content word, each group least informative first: on L-Eval's
//! multi-document QA, ranking all words by bits alone dropped answer words
//! that a function word could have paid for. Words that change meaning when lost are never
//! dropped: anything with a digit or a number word (numbers, dates, versions), URLs and
//! paths, code identifiers (`snake_case`, `camelCase`, `a.b`, `f()`, `::`),
//! negations, month names, capitalised words inside a sentence (names),
//! and each sentence's last word (its closing punctuation).

use pith_models::{LocalLm, TokenClassifier};

use crate::engine::Engine;

use crate::error::{PipelineError, Result};

/// Share of the budget extractive selection fills before words are
/// dropped (`extractive+tokens`): selection takes `budget / KEEP` tokens of
/// sentences, dropping brings them down to the budget.
pub const KEEP: f32 = 0.76;

/// Share of the budget that the best-ranked selected sentences fill and
/// keep whole (`extractive+tokens`): words are dropped from the rest.
pub const WHOLE: f32 = 0.7;

/// A token's end (bytes from its sentence's start) and its bits.
pub type TokenBits = Vec<(u16, f32)>;

/// What scores tokens (`rag.token-scorer`).
#[derive(Clone, Copy)]
pub enum Scorer<'a> {
    /// Self-information under the local LM (the default).
    SelfInformation(&'a LocalLm),
    /// An LLMLingua-2 classifier's keep probability, scaled to 0..25 so it
    /// is stored like bits; words take the *mean* of their tokens (as
    /// LLMLingua-2 aggregates), not the sum.
    Lingua(&'a TokenClassifier),
}

impl Scorer<'_> {
    /// Whether a word's score is its tokens' mean (else their sum).
    pub fn mean(&self) -> bool {
        matches!(self, Scorer::Lingua(_))
    }
}

/// Score `text`'s tokens: byte span and score each.
pub fn score_text(scorer: Scorer, text: &str) -> Result<Vec<(usize, usize, f32)>> {
    match scorer {
        Scorer::SelfInformation(lm) => {
            let enc = lm.tokenizer.encode(text, false).map_err(|e| PipelineError::Internal(format!("LM tokenizer: {e}")))?;
            let bits = lm.self_information(enc.get_ids())?;
            Ok(enc.get_offsets().iter().zip(bits).map(|(&(s, e), b)| (s, e, b)).collect())
        }
        Scorer::Lingua(c) => Ok(c.keep_probs(text)?.into_iter().map(|(s, e, p)| (s, e, p * 25.0)).collect()),
    }
}

impl Engine {
    /// The scorer `rag.token-scorer` names: `lm` (default) or `llmlingua2`
    /// (a registered classifier).
    pub fn token_scorer(&self) -> Result<Scorer<'_>> {
        let enc = self.encoders()?;
        match self.setting("rag.token-scorer").as_deref() {
            Some("llmlingua2") => enc.lingua.as_ref().map(Scorer::Lingua).ok_or_else(|| {
                PipelineError::BadInput(
                    "rag.token-scorer is llmlingua2 but no classifier is registered (`pith models add llmlingua2 DIR`)".into(),
                )
            }),
            _ => enc
                .lm()?
                .map(Scorer::SelfInformation)
                .ok_or_else(|| PipelineError::BadInput("token compression needs the language model: run `make models`".into())),
        }
    }
}

/// Token scores of sentences read together, in order (joined by spaces, so
/// each is scored in the context of those before it).
pub fn score_joined(scorer: Scorer, sents: &[&str]) -> Result<Vec<TokenBits>> {
    let mut spans = Vec::with_capacity(sents.len());
    let mut at = 0;
    for s in sents {
        spans.push((at, at + s.len()));
        at += s.len() + 1;
    }
    Ok(per_sentence(&spans, &score_text(scorer, &sents.join(" "))?))
}

/// Tokens of `text` grouped by the sentence (byte span) their first byte
/// falls in, with ends relative to the sentence.
pub fn per_sentence(spans: &[(usize, usize)], toks: &[(usize, usize, f32)]) -> Vec<TokenBits> {
    let mut out: Vec<TokenBits> = vec![Vec::new(); spans.len()];
    for &(s, e, b) in toks {
        // The sentence whose span holds the token's last byte (a token may
        // carry the space before a sentence).
        let at = e.saturating_sub(1).max(s);
        let i = spans.partition_point(|sp| sp.1 <= at);
        if let Some(sp) = spans.get(i).filter(|sp| sp.0 <= at) {
            let end = e.min(sp.1).saturating_sub(sp.0).min(u16::MAX as usize) as u16;
            out[i].push((end, b));
        }
    }
    out
}

const NEGATIONS: &[&str] = &["not", "no", "never", "nor", "none", "nothing", "nobody", "neither", "without", "cannot", "nowhere"];
/// Numbers written as words are numbers too.
const NUMBER_WORDS: &[&str] = &[
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
    "thirty",
    "forty",
    "fifty",
    "sixty",
    "seventy",
    "eighty",
    "ninety",
    "hundred",
    "thousand",
    "million",
    "billion",
    "trillion",
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "once",
    "twice",
    "half",
    "dozen",
];
const MONTHS: &[&str] = &[
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
];

/// Whether dropping this word could change what the text says.
pub fn protected(word: &str, first_in_sentence: bool) -> bool {
    let core = word.trim_matches(|c: char| !c.is_alphanumeric());
    let lower = core.to_lowercase();
    if word.chars().any(|c| c.is_ascii_digit()) || word.contains("://") || word.starts_with("www.") || word.contains('/') {
        return true;
    }
    let number_word = lower.split('-').all(|p| NUMBER_WORDS.contains(&p));
    if NEGATIONS.contains(&lower.as_str())
        || lower.ends_with("n't")
        || lower.ends_with("n’t")
        || MONTHS.contains(&lower.as_str())
        || number_word
    {
        return true;
    }
    let code = core.contains('_')
        || word.contains("::")
        || word.contains("()")
        || core.contains('.') && core.split('.').all(|p| !p.is_empty())
        || core.chars().skip(1).any(|c| c.is_uppercase()) && core.chars().any(|c| c.is_lowercase());
    if code {
        return true;
    }
    !first_in_sentence && core.chars().next().is_some_and(|c| c.is_uppercase())
}

/// A droppable word: its byte span in the sentence and its bits.
struct Word {
    start: usize,
    end: usize,
    bits: f32,
    tokens: usize,
    keep: bool,
}

fn words(text: &str, toks: &[(u16, f32)], mean: bool) -> Vec<Word> {
    let mut out: Vec<Word> = Vec::new();
    let mut at = 0;
    for w in text.split_whitespace() {
        let start = text[at..].find(w).map_or(at, |p| at + p);
        let end = start + w.len();
        at = end;
        out.push(Word { start, end, bits: 0.0, tokens: 0, keep: protected(w, out.is_empty()) });
    }
    if let Some(last) = out.last_mut() {
        last.keep = true;
    }
    // A function word between two protected capitalised words belongs to
    // them: "Treaty of Versailles", "Bank of England" are one name; without
    // it a quoted answer no longer reads as one.
    let stop = super::text::stopwords();
    let inside: Vec<bool> = (0..out.len())
        .map(|j| {
            j > 0
                && j + 1 < out.len()
                && !out[j].keep
                && out[j - 1].keep
                && out[j + 1].keep
                && [j - 1, j + 1].iter().all(|&k| text[out[k].start..].starts_with(char::is_uppercase))
                && stop.contains(text[out[j].start..out[j].end].to_lowercase().as_str())
        })
        .collect();
    for (w, keep) in out.iter_mut().zip(inside) {
        w.keep |= keep;
    }
    let mut prev_end = 0usize;
    for &(e, b) in toks {
        let e = e as usize;
        let last_byte = e.saturating_sub(1).max(prev_end);
        prev_end = e;
        if let Some(w) = out.iter_mut().find(|w| w.start <= last_byte && last_byte < w.end) {
            w.bits += b;
            w.tokens += 1;
        }
    }
    if mean {
        out.iter_mut().filter(|w| w.tokens > 0).for_each(|w| w.bits /= w.tokens as f32);
    }
    out
}

/// Drop the least informative unprotected words of `sents` (text, token
/// scores) until `count` of the joined result fits `budget`; returns each
/// sentence's remaining text (words joined by single spaces). A word's
/// score is the sum of its tokens' (or the mean, with `mean`).
pub fn drop_words(sents: &[(&str, &[(u16, f32)])], budget: usize, mean: bool, count: &dyn Fn(&str) -> usize) -> Vec<String> {
    drop_words_keeping(sents, &[], budget, mean, count)
}

/// [`drop_words`], never dropping from the sentences `whole` marks (the
/// best-ranked ones: a short answer usually sits in them, and a dropped
/// word breaks it; the words come from the extra sentences instead).
pub fn drop_words_keeping(
    sents: &[(&str, &[(u16, f32)])],
    whole: &[bool],
    budget: usize,
    mean: bool,
    count: &dyn Fn(&str) -> usize,
) -> Vec<String> {
    let mut ws: Vec<Vec<Word>> = sents.iter().map(|(t, b)| words(t, b, mean)).collect();
    for (w, _) in ws.iter_mut().zip(whole).filter(|x| *x.1) {
        w.iter_mut().for_each(|w| w.keep = true);
    }
    let mut kept: Vec<Vec<bool>> = ws.iter().map(|w| vec![true; w.len()]).collect();
    let mut order: Vec<(usize, usize)> =
        ws.iter().enumerate().flat_map(|(i, w)| w.iter().enumerate().filter(|x| !x.1.keep).map(move |(j, _)| (i, j))).collect();
    // Function words first (what LLMLingua-2's annotators drop most), then
    // content words; within each, the least informative first.
    let stop = super::text::stopwords();
    let function =
        |w: &Word, t: &str| stop.contains(t[w.start..w.end].trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase().as_str());
    let key = |&(i, j): &(usize, usize)| (!function(&ws[i][j], sents[i].0), ws[i][j].bits);
    order.sort_by(|a, b| {
        let (ka, kb) = (key(a), key(b));
        ka.0.cmp(&kb.0).then(ka.1.total_cmp(&kb.1)).then(a.cmp(b))
    });
    let render = |kept: &[Vec<bool>]| -> Vec<String> {
        sents
            .iter()
            .zip(&ws)
            .zip(kept)
            .map(|(((t, _), w), k)| w.iter().zip(k).filter(|x| *x.1).map(|(w, _)| &t[w.start..w.end]).collect::<Vec<_>>().join(" "))
            .collect()
    };
    let total = |kept: &[Vec<bool>]| count(&render(kept).join(" "));
    let mut now = total(&kept);
    let mut next = 0;
    while now > budget && next < order.len() {
        // Drop about as many words as tokens are over (a word is one or
        // more tokens), then measure again.
        let over = (now - budget).max(1);
        let mut dropped = 0;
        while dropped < over && next < order.len() {
            let (i, j) = order[next];
            kept[i][j] = false;
            dropped += 1;
            next += 1;
        }
        now = total(&kept);
    }
    render(&kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protected_words_are_numbers_dates_urls_code_negations_and_names() {
        for (w, first) in [
            ("2018,", false),
            ("3.5", false),
            ("https://x.org/a", false),
            ("parse_args()", false),
            ("HashMap", false),
            ("std::fs", false),
            ("not", false),
            ("didn't", false),
            ("April", false),
            ("Lisbon", false),
            ("v2", false),
            ("thirteen", false),
            ("twenty-five", false),
        ] {
            assert!(protected(w, first), "{w}");
        }
        for w in ["the", "very", "quickly,", "The"] {
            assert!(!protected(w, w == "The"), "{w}");
        }
    }

    #[test]
    fn a_function_word_inside_a_name_stays_with_it() {
        let text = "After the war the Treaty of Versailles was signed by the Allies in the west.";
        let toks: Vec<(u16, f32)> = text.match_indices(' ').map(|(i, _)| (i as u16, 0.1)).chain([(text.len() as u16, 0.1)]).collect();
        let words = |s: &str| s.split_whitespace().count();
        let kept = &drop_words(&[(text, &toks)], 4, false, &words)[0];
        assert!(kept.contains("Treaty of Versailles"), "{kept}");
        assert!(!kept.contains("the west"), "{kept}");
    }

    #[test]
    fn the_least_informative_words_go_first_and_protected_ones_stay() {
        let text = "The meeting is not on Monday but it was moved to Tuesday at 10.";
        // Bits per word, as tokens ending at each word's end.
        let info = [1.0, 9.0, 0.5, 0.2, 0.3, 8.0, 2.0, 0.4, 0.6, 5.0, 0.7, 6.0, 0.1, 7.0];
        let mut toks = Vec::new();
        let mut at = 0;
        for (w, b) in text.split(' ').zip(info) {
            let s = text[at..].find(w).unwrap() + at;
            at = s + w.len();
            toks.push((at as u16, b));
        }
        let words = |s: &str| s.split_whitespace().count();
        let out = drop_words(&[(text, &toks)], 10, false, &words);
        let kept = &out[0];
        assert!(words(kept) <= 10, "{kept}");
        for must in ["not", "Monday", "Tuesday", "10."] {
            assert!(kept.split(' ').any(|w| w == must), "{must} lost: {kept}");
        }
        assert!(!kept.contains(" at ") && !kept.contains(" it "), "{kept}");
        assert!(kept.contains("meeting"), "high information stays: {kept}");
    }

    #[test]
    fn tokens_go_to_the_sentence_holding_them_and_round_trip() {
        let spans = [(0, 10), (11, 20)];
        let toks = [(0, 4, 1.0), (4, 10, 2.0), (10, 15, 3.0), (15, 20, 4.0)];
        let per = per_sentence(&spans, &toks);
        assert_eq!(per[0], vec![(4, 1.0), (10, 2.0)]);
        assert_eq!(per[1], vec![(4, 3.0), (9, 4.0)]);
        let d = crate::store::sentences::decode_bits(&crate::store::sentences::encode_bits(&per[1]));
        assert_eq!(d, vec![(4, 3.0), (9, 4.0)]);
    }
}
