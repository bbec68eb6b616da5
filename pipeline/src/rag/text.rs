//! Word-level text normalisation shared by sentence scoring, deduplication
//! and the answer-retention metric of `pith eval compress` (the same rules
//! as SQuAD's answer normalisation: lower case, punctuation to spaces,
//! articles dropped).

use std::collections::HashSet;
use std::sync::OnceLock;

/// English function words (`stopwords.txt`). Negations ("no", "not",
/// "nor") are deliberately absent: they change what a sentence says.
pub fn stopwords() -> &'static HashSet<&'static str> {
    static WORDS: OnceLock<HashSet<&'static str>> = OnceLock::new();
    WORDS.get_or_init(|| include_str!("stopwords.txt").lines().map(str::trim).filter(|w| !w.is_empty()).collect())
}

/// Lower case, every non-alphanumeric character a space, articles dropped,
/// single spaces.
pub fn normalize(s: &str) -> String {
    words(s).collect::<Vec<_>>().join(" ")
}

fn words(s: &str) -> impl Iterator<Item = String> + '_ {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .filter(|w| !matches!(w.as_str(), "a" | "an" | "the"))
}

/// Normalised words that are not stopwords, in order (with repeats).
pub fn content_terms(s: &str) -> Vec<String> {
    let stop = stopwords();
    words(s).filter(|w| !stop.contains(w.as_str())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_follows_squad() {
        assert_eq!(normalize("The  U.S.-based Co., an \"A\" player!"), "u s based co player");
        assert_eq!(content_terms("Is it not the 3rd of April?"), vec!["not", "3rd", "april"]);
    }
}
