//! RAG context: citations map to sources and spans, the budget holds for
//! any tokenizer, sentences are stored at ingest (or made on first use).

use std::path::Path;

use pith_pipeline::rag::{Compression, RagRequest};
use pith_pipeline::Engine;

use super::common::{engine, ingest_dir};

const LISBON: &str = "Travel notes for the spring trip. The flight to Lisbon leaves on Tuesday at 9.40 from gate B12. \
Pack the passport and the charger. The hotel is near the river, a short walk from the tram stop. \
Breakfast is served until ten. The museum of tiles opens at 10 a.m. and is closed on Mondays.";
const BREAD: &str = "Sourdough notes. Feed the starter with flour and water every day. \
A warm kitchen makes it rise faster. Bake at 230 degrees for forty minutes with steam for the first fifteen.";
const BIKES: &str = "Bike repair. To patch a tube, find the hole, roughen the rubber, spread the glue and press the patch. \
Check the tyre for the thorn that caused it, or the next tube goes flat too.";

fn store(d: &Path) -> Engine {
    let dir = d.join("notes");
    std::fs::create_dir_all(&dir).unwrap();
    for (n, t) in [("lisbon.txt", LISBON), ("bread.txt", BREAD), ("bikes.txt", BIKES)] {
        std::fs::write(dir.join(n), t).unwrap();
    }
    let e = engine(&d.join("store"));
    ingest_dir(&e, &dir);
    e
}

fn req(q: &str, budget: usize) -> RagRequest {
    RagRequest { token_budget: budget, min_relevance: Some(0.0), ..RagRequest::new(q) }
}

#[test]
fn citations_map_to_their_sources_and_spans() {
    let d = tempfile::tempdir().unwrap();
    let e = store(d.path());
    let r = e.rag_context(&req("when does the flight to Lisbon leave", 60)).unwrap();
    assert!(r.prompt_tokens <= 60, "{}", r.prompt);
    let first = &r.contexts[0];
    assert_eq!(first.citation, 1);
    assert!(first.path.ends_with("lisbon.txt"), "{:?}", first.path);
    assert!(first.compressed.contains("The flight to Lisbon leaves on Tuesday at 9.40 from gate B12."), "{}", first.compressed);
    assert!(r.prompt.starts_with("[1] "), "{}", r.prompt);
    for c in &r.contexts {
        // The span is character offsets into the item's text, and every kept
        // sentence is a whole sentence of it.
        let text = e.item_text(c.item_id).unwrap();
        let span: String = text.chars().skip(c.start).take(c.end - c.start).collect();
        assert_eq!(span, c.text);
        assert!(r.prompt.contains(&format!("[{}] ", c.citation)));
        for s in c.compressed.split_inclusive(". ") {
            assert!(c.text.contains(s.trim()), "{s:?} is not from {}", c.path);
        }
        assert!(c.kept_tokens <= c.original_tokens);
    }
    assert!(r.kept_tokens < r.original_tokens, "a 60-token budget must compress: {} of {}", r.kept_tokens, r.original_tokens);
    // Without compression whole passages come, in rank order, while they fit.
    let none = e.rag_context(&RagRequest { compression: Compression::None, ..req("when does the flight to Lisbon leave", 400) }).unwrap();
    assert_eq!(none.contexts[0].compressed, none.contexts[0].text);
    assert!(none.prompt_tokens <= 400);
}

#[test]
fn the_budget_is_never_exceeded_for_any_budget_query_or_compression() {
    let d = tempfile::tempdir().unwrap();
    let e = store(d.path());
    let pith = e.token_counter(None).unwrap();
    let queries = ["flight gate", "how long to bake bread", "patch a bike tube", "museum hours", "zebra quantum"];
    let mut seed = 7u64;
    for i in 0..40 {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let budget = 1 + (seed >> 33) as usize % 160;
        let compression = if i % 3 == 0 { Compression::None } else { Compression::Extractive };
        let r = e.rag_context(&RagRequest { compression, ..req(queries[i % queries.len()], budget) }).unwrap();
        assert!(r.prompt_tokens <= budget, "budget {budget}: {} tokens\n{}", r.prompt_tokens, r.prompt);
        assert_eq!(pith.count(&r.prompt), r.prompt_tokens);
        assert_eq!(r.contexts.is_empty(), r.prompt.is_empty());
    }
}

/// A word-level tokenizer: every word and every punctuation run is a token.
const WORDS_TOKENIZER: &str = r#"{"version":"1.0","truncation":null,"padding":null,"added_tokens":[],"normalizer":null,
"pre_tokenizer":{"type":"Whitespace"},"post_processor":null,"decoder":null,
"model":{"type":"WordLevel","vocab":{"[UNK]":0},"unk_token":"[UNK]"}}"#;

#[test]
fn a_registered_tokenizer_counts_the_budget() {
    let d = tempfile::tempdir().unwrap();
    let e = store(d.path());
    let file = d.path().join("words.json");
    std::fs::write(&file, WORDS_TOKENIZER).unwrap();
    e.add_tokenizer("words", &file).unwrap();
    assert_eq!(e.tokenizers().unwrap(), vec!["words".to_string()]);
    let r = e.rag_context(&RagRequest { tokenizer: Some("words".into()), ..req("bake the sourdough bread", 40) }).unwrap();
    assert_eq!(r.tokenizer, "words");
    let words = r.prompt.split(|c: char| c.is_whitespace()).filter(|w| !w.is_empty()).count();
    assert!(r.prompt_tokens <= 40 && r.prompt_tokens >= words, "{} tokens, {words} words:\n{}", r.prompt_tokens, r.prompt);
    // A file's own truncation must not cap the counts.
    std::fs::write(
        &file,
        WORDS_TOKENIZER
            .replace(r#""truncation":null"#, r#""truncation":{"direction":"Right","max_length":4,"strategy":"LongestFirst","stride":0}"#),
    )
    .unwrap();
    e.add_tokenizer("capped", &file).unwrap();
    let r = e.rag_context(&RagRequest { tokenizer: Some("capped".into()), ..req("bake the sourdough bread", 40) }).unwrap();
    assert!(r.prompt_tokens > 4 && r.prompt_tokens <= 40, "{}", r.prompt_tokens);
    let err = e.rag_context(&RagRequest { tokenizer: Some("gpt9".into()), ..req("bread", 40) }).unwrap_err();
    assert!(err.to_string().contains("no tokenizer `gpt9`"), "{err}");
    assert!(e.add_tokenizer("../evil", &file).is_err());
    std::fs::write(&file, "not json").unwrap();
    assert!(e.add_tokenizer("broken", &file).is_err());
}

#[test]
fn sentences_are_stored_at_ingest_or_made_and_kept_on_first_use() {
    let d = tempfile::tempdir().unwrap();
    let e = store(d.path());
    let lisbon = super::common::search(&e, "Lisbon flight", 1)[0].id;
    let stored = e.stored_sentences(&[lisbon]).unwrap();
    assert_eq!(stored[&lisbon].len(), 6, "{:?}", stored[&lisbon].iter().map(|s| (s.start, s.end)).collect::<Vec<_>>());
    // Off: ingest stores none; the first context request makes and keeps them.
    let d2 = tempfile::tempdir().unwrap();
    let e2 = engine(&d2.path().join("store"));
    e2.set_setting("rag.sentence-vectors", Some("off")).unwrap();
    std::fs::create_dir_all(d2.path().join("n")).unwrap();
    std::fs::write(d2.path().join("n/lisbon.txt"), LISBON).unwrap();
    ingest_dir(&e2, &d2.path().join("n"));
    let id = super::common::search(&e2, "Lisbon flight", 1)[0].id;
    assert!(e2.stored_sentences(&[id]).unwrap().is_empty());
    let r = e2.rag_context(&req("when does the flight leave", 60)).unwrap();
    assert!(r.contexts[0].compressed.contains("Tuesday at 9.40"), "{}", r.prompt);
    let made = e2.stored_sentences(&[id]).unwrap();
    assert_eq!(made[&id].len(), 6);
    // The same sentences and (int8) vectors as ingest makes.
    for (a, b) in made[&id].iter().zip(&stored[&lisbon]) {
        assert_eq!((a.start, a.end, a.tokens), (b.start, b.end, b.tokens));
        assert!(pith_models::dot(&a.vec, &b.vec) > 0.99);
    }
    assert!(e.set_setting("rag.sentence-vectors", Some("maybe")).is_err());
}

const BRIDGE: &str = "Road works update from the city office. The old bridge will not open before 14 March 2027, and the ferry runs every \
twenty minutes in the meantime, which the council said was the best that it could really do for now. Details are at \
https://example.org/bridge and the script that checks the schedule calls parse_args() first.";

#[test]
fn token_dropping_fits_the_budget_and_keeps_every_protected_word() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("n");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("bridge.txt"), BRIDGE).unwrap();
    let e = engine(&d.path().join("store"));
    e.set_setting("rag.token-scores", Some(&dir.to_string_lossy())).unwrap();
    ingest_dir(&e, &dir);
    let id = super::common::search(&e, "bridge", 1)[0].id;
    let stored = e.stored_sentences(&[id]).unwrap();
    assert!(stored[&id].iter().all(|s| s.token_bits.as_ref().is_some_and(|b| !b.is_empty())), "scored at ingest");
    let whole = e.rag_context(&RagRequest { compression: Compression::None, ..req("when does the bridge open", 500) }).unwrap();
    // A tenth, then a fifth of the text's tokens must go: every sentence is
    // still selected (the budget over KEEP covers the text) and words go.
    let text = whole.contexts[0].original_tokens;
    for budget in [whole.prompt_tokens - text / 10, whole.prompt_tokens - text / 5] {
        let r = e.rag_context(&RagRequest { compression: Compression::Tokens, ..req("when does the bridge open", budget) }).unwrap();
        assert!(r.prompt_tokens <= budget, "{}: {}", r.prompt_tokens, r.prompt);
        assert!(r.prompt_tokens < whole.prompt_tokens, "words were dropped");
        let kept = &r.contexts[0].compressed;
        for w in ["not", "14", "March", "2027,", "https://example.org/bridge", "parse_args()"] {
            assert!(kept.split_whitespace().any(|k| k == w), "{w} dropped at {budget}: {kept}");
        }
    }
    let budget = whole.prompt_tokens - text / 3;
    let both =
        e.rag_context(&RagRequest { compression: Compression::ExtractiveTokens, ..req("when does the bridge open", budget) }).unwrap();
    let kept = &both.contexts[0].compressed;
    assert!(both.prompt_tokens <= budget, "{}", both.prompt);
    assert!(kept.split_whitespace().any(|w| w == "not") && kept.contains("14 March 2027"), "{}", both.prompt);
}

const HARBOUR: &str = "Notes on the harbour town. The market is held in the square on most days of the week. \
The old lighthouse was painted white and red in the last century. The ferry to the island leaves from the end of the pier. \
Fishing boats come back in the early morning with their catch. The museum shows maps and models of the ships that were built here. \
Many visitors walk along the sea wall in the evening when the weather is fine.";

#[test]
fn extractive_tokens_keeps_the_best_sentence_whole() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("n");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("harbour.txt"), HARBOUR).unwrap();
    let e = engine(&d.path().join("store"));
    ingest_dir(&e, &dir);
    let q = "where does the ferry to the island leave from";
    let whole = e.rag_context(&RagRequest { compression: Compression::None, ..req(q, 500) }).unwrap();
    let budget = whole.prompt_tokens * 3 / 5;
    let r = e.rag_context(&RagRequest { compression: Compression::ExtractiveTokens, ..req(q, budget) }).unwrap();
    assert!(r.prompt_tokens <= budget, "{}", r.prompt);
    let kept = &r.contexts[0].compressed;
    assert!(kept.contains("The ferry to the island leaves from the end of the pier."), "{kept}");
    // Words went from the other sentences.
    let others = kept.replace("The ferry to the island leaves from the end of the pier.", "");
    let other_words = HARBOUR.split_whitespace().count() - 12;
    assert!(others.split_whitespace().count() < other_words, "{kept}");
}

#[test]
fn read_only_context_on_a_store_an_older_pith_wrote_makes_its_own_sentences() {
    let d = tempfile::tempdir().unwrap();
    drop(store(d.path()));
    let db = d.path().join("store/pith.sqlite");
    for (sql, version) in [
        ("ALTER TABLE chunks DROP COLUMN page; ALTER TABLE chunks DROP COLUMN section", 9),
        ("ALTER TABLE sentences DROP COLUMN token_bits", 8),
        ("DROP TABLE sentences", 7),
    ] {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute_batch(sql).unwrap();
        c.pragma_update(None, "user_version", version).unwrap();
        drop(c);
        let e = Engine::open_read_only(super::common::config(&d.path().join("store"))).unwrap();
        let r = e.rag_context(&req("when does the flight to Lisbon leave", 60)).unwrap();
        assert!(r.contexts[0].compressed.contains("9.40"), "schema {version}: {}", r.prompt);
    }
}

#[test]
fn the_cli_sets_and_shows_the_rag_settings() {
    let d = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(super::common::pith_bin())
            .args(["--data", d.path().join("store").to_str().unwrap()])
            .args(args)
            .env("PITH_MODELS", super::common::models().root)
            .output()
            .unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
    };
    assert!(run(&["config", "set", "rag.token-scores", "on"]).0);
    assert!(run(&["config", "set", "rag.sentence-vectors", "off"]).0);
    let (ok, msg) = run(&["config", "set", "rag.token-scorer", "gpt"]);
    assert!(!ok && msg.contains("lm or llmlingua2"), "{msg}");
    let (ok, shown) = run(&["config", "get"]);
    assert!(ok && shown.contains("rag.token-scores = on") && shown.contains("rag.sentence-vectors = off"), "{shown}");
}
