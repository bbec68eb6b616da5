//! xRAG: the shipped bridge against its torch original, tokens made at
//! ingest and on use, `xrag` contexts in the API and the chat path, and a
//! clear 400 where no bridge is installed.

use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use pith_models::catalog::{LM_MODEL, TEXT_MODEL, XRAG_MODEL};
use pith_models::{Bridge, LocalLm, Piece, Prompt, TextEncoder, XRAG_MARK};
use pith_pipeline::rag::xrag::decode_token;
use pith_pipeline::rag::{Compression, RagRequest};
use pith_pipeline::{Engine, EngineConfig};
use pith_web::{router, AppState};
use serde_json::{json, Value};
use tower::ServiceExt;

use super::common::{config, engine, ingest_dir, linked_cache, models};

const NOTES: [(&str, &str); 3] = [
    ("lisbon.txt", "The flight to Lisbon leaves on Tuesday at 9.40 from gate B12. Pack the passport and the charger."),
    ("bread.txt", "Feed the sourdough starter every day with flour and water. Bake at 230 degrees for forty minutes."),
    ("bikes.txt", "To patch a bicycle tube, find the hole, roughen the rubber, spread the glue and press the patch."),
];

fn notes(d: &Path) -> std::path::PathBuf {
    let dir = d.join("notes");
    std::fs::create_dir_all(&dir).unwrap();
    for (n, t) in NOTES {
        std::fs::write(dir.join(n), t).unwrap();
    }
    dir
}

fn xrag_req(q: &str, c: Compression) -> RagRequest {
    RagRequest { compression: c, min_relevance: Some(0.0), k: 3, ..RagRequest::new(q) }
}

fn stored_tokens(store: &Path) -> i64 {
    let c = rusqlite::Connection::open(store.join("pith.sqlite")).unwrap();
    c.query_row("SELECT count(*) FROM xrag_tokens", [], |r| r.get(0)).unwrap()
}

#[test]
fn the_shipped_bridge_matches_its_torch_original_on_pith_embeddings() {
    let m = models();
    let dir = m.dir(XRAG_MODEL);
    let bridge = Bridge::load(&m.root, &dir).unwrap();
    let want: Value = serde_json::from_slice(&std::fs::read(dir.join("expected.json")).unwrap()).unwrap();
    let text = TextEncoder::load(&m.root, &m.dir(TEXT_MODEL), 1).unwrap();
    let texts: Vec<&str> = want["texts"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    let embs = text.embed(&texts).unwrap();
    let rows = |v: &Value| -> Vec<Vec<f32>> {
        v.as_array().unwrap().iter().map(|r| r.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()).collect()
    };
    for (got, w) in embs.iter().zip(rows(&want["embeddings"])) {
        let d = got.iter().zip(&w).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(d < 1e-4, "pith's MiniLM embedding differs from onnxruntime's by {d}");
    }
    let toks = bridge.project(&embs).unwrap();
    for (got, w) in toks.iter().zip(rows(&want["tokens"])) {
        assert_eq!(got.len(), bridge.config.out_dim);
        let scale = w.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        let d = got.iter().zip(&w).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        // fp16 weights against the fp32 original: well under 1% of the largest value.
        assert!(d <= 2e-3 * scale + 1e-3, "ONNX bridge vs torch: max |diff| {d}, max |token| {scale}");
    }
    // Another text gives another token.
    let d01 = toks[0].iter().zip(&toks[1]).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(d01 > 0.1, "{d01}");
}

#[test]
fn nll_after_a_prompt_is_the_self_information_of_the_same_tokens() {
    let m = models();
    let lm = LocalLm::load(&m.root, &m.dir(LM_MODEL), 2).unwrap();
    let ids = lm.encode("The bridge was closed after three days of rain, so the ferry ran twice as often.").unwrap();
    let bits = lm.self_information(&ids).unwrap();
    let nats = lm.nll(Prompt::ids(vec![lm.cfg.score_prefix_token_id]), &ids).unwrap();
    assert_eq!(nats.len(), ids.len());
    for (i, (b, n)) in bits.iter().zip(&nats).enumerate() {
        assert!((b * std::f32::consts::LN_2 - n).abs() < 1e-3, "token {i}: {b} bits vs {n} nats");
    }
    // A mark with no token to fill it is an error, not a silent gap.
    assert!(lm.chat_prompt(&[("user", XRAG_MARK)], &[]).is_err());
}

#[test]
fn xrag_contexts_carry_one_token_per_passage_made_at_ingest() {
    let d = tempfile::tempdir().unwrap();
    let e = engine(&d.path().join("store"));
    ingest_dir(&e, &notes(d.path()));
    assert_eq!(stored_tokens(&d.path().join("store")), 3, "one token per text chunk at ingest");
    let r = e.rag_context(&xrag_req("when does the flight to Lisbon leave", Compression::Xrag)).unwrap();
    let info = r.xrag.as_ref().expect("xrag info");
    assert_eq!(info.llm, LM_MODEL);
    assert!(r.contexts[0].path.ends_with("lisbon.txt"), "{:?}", r.contexts[0].path);
    assert_eq!(r.prompt.matches(XRAG_MARK).count(), r.contexts.len());
    assert_eq!(r.kept_tokens, r.contexts.len());
    assert!(r.compression_ratio > 5.0, "{}", r.compression_ratio);
    let enc = e.encoders().unwrap();
    let bridge = enc.bridge().unwrap().unwrap();
    for c in &r.contexts {
        assert!(c.compressed.is_empty() && !c.text.is_empty());
        let tok = decode_token(c.xrag.as_deref().unwrap()).unwrap();
        assert_eq!(tok.len(), info.dim);
        // The stored token is the bridge's projection of the chunk's text embedding.
        let want = &bridge.project(&[enc.text.embed_one(c.text.trim()).unwrap()]).unwrap()[0];
        let scale = want.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        let d = tok.iter().zip(want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(d <= 2e-3 * scale + 1e-3, "{}: {d}", c.path);
    }
    // Mixed: the top passage as text, the rest as tokens, citations in order.
    let r = e.rag_context(&xrag_req("when does the flight to Lisbon leave", Compression::ExtractiveXrag)).unwrap();
    assert!(r.contexts[0].xrag.is_none() && r.contexts[0].compressed.contains("9.40"), "{}", r.prompt);
    assert!(r.contexts[1..].iter().all(|c| c.xrag.is_some()));
    assert_eq!(r.contexts.iter().map(|c| c.citation).collect::<Vec<_>>(), (1..=r.contexts.len()).collect::<Vec<_>>());
    assert_eq!(r.prompt.matches(XRAG_MARK).count(), r.contexts.len() - 1);
    // A top passage too long for the budget as text still goes, as a token.
    let r = e.rag_context(&RagRequest { token_budget: 1, ..xrag_req("flight to Lisbon", Compression::ExtractiveXrag) }).unwrap();
    assert!(!r.contexts.is_empty() && r.contexts.iter().all(|c| c.xrag.is_some()), "{}", r.prompt);
}

#[test]
fn a_chunk_without_a_stored_token_gets_one_on_use_even_in_an_old_store() {
    let d = tempfile::tempdir().unwrap();
    let store = d.path().join("store");
    let e = engine(&store);
    ingest_dir(&e, &notes(d.path()));
    let first = e.rag_context(&xrag_req("sourdough starter", Compression::Xrag)).unwrap();
    rusqlite::Connection::open(store.join("pith.sqlite")).unwrap().execute("DELETE FROM xrag_tokens", []).unwrap();
    let again = e.rag_context(&xrag_req("sourdough starter", Compression::Xrag)).unwrap();
    assert_eq!(first.contexts[0].xrag, again.contexts[0].xrag, "the same token, made from the stored vector");
    assert_eq!(stored_tokens(&store), again.contexts.len() as i64, "and stored");
    drop(e);
    // A store from before xRAG tokens, opened read-only (not migrated).
    let c = rusqlite::Connection::open(store.join("pith.sqlite")).unwrap();
    c.execute_batch("DROP TABLE xrag_tokens").unwrap();
    c.pragma_update(None, "user_version", 10).unwrap();
    drop(c);
    let ro = Engine::open_read_only(config(&store)).unwrap();
    let old = ro.rag_context(&xrag_req("sourdough starter", Compression::Xrag)).unwrap();
    assert_eq!(old.contexts[0].xrag, first.contexts[0].xrag);
}

async fn post(st: &AppState, path: &str, body: Value) -> (StatusCode, Value) {
    let req = Request::post(path).header(header::CONTENT_TYPE, "application/json").body(Body::from(body.to_string())).unwrap();
    let resp = router(st.clone()).oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_hands_out_xrag_tokens_and_the_built_in_model_answers_from_them() {
    let d = tempfile::tempdir().unwrap();
    let e = engine(&d.path().join("store"));
    ingest_dir(&e, &notes(d.path()));
    let st = AppState::new(Arc::new(e));
    let (s, v) = post(&st, "/api/rag/context", json!({"query": "patch a bicycle tube", "compression": "xrag", "min_relevance": 0})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["xrag"]["dim"], 576);
    let b64 = v["contexts"][0]["xrag"].as_str().unwrap();
    assert_eq!(decode_token(b64).unwrap().len(), 576);
    let ask = json!({"model": "any", "max_tokens": 16, "messages": [
        {"role": "user", "content": format!("How do I patch a tube? {XRAG_MARK}")}],
        "pith": {"compression": "xrag", "min_relevance": 0, "k": 2}});
    let (s, v) = post(&st, "/v1/chat/completions", ask).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["pith"]["xrag_tokens"], 2, "{v}");
    let content = v["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(!content.split("\n\nSources:").next().unwrap().trim().is_empty() && content.contains("Sources:\n[1] "), "{content}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_bridge_or_with_an_upstream_xrag_is_a_clear_400() {
    let d = tempfile::tempdir().unwrap();
    let cache = linked_cache(d.path(), &["onnxruntime", TEXT_MODEL, "efficientnet-lite0", LM_MODEL]);
    let e = Engine::open(EngineConfig::new(d.path().join("store"), cache)).unwrap();
    ingest_dir(&e, &notes(d.path()));
    let st = AppState::new(Arc::new(e));
    let (s, v) = post(&st, "/api/rag/context", json!({"query": "sourdough", "compression": "xrag", "min_relevance": 0})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(v.to_string().contains("make models"), "{v}");
    // Text compression still works on that store.
    let (s, _) = post(&st, "/api/rag/context", json!({"query": "sourdough", "compression": "extractive", "min_relevance": 0})).await;
    assert_eq!(s, StatusCode::OK);
    let mut st = st;
    st.llm_upstream = Some(Arc::new(pith_web::chat::Upstream::new("http://127.0.0.1:9", None).unwrap()));
    let ask = json!({"messages": [{"role": "user", "content": "sourdough?"}], "pith": {"compression": "extractive+xrag"}});
    let (s, v) = post(&st, "/v1/chat/completions", ask).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(v.to_string().contains("upstream"), "{v}");
}

/// Prose with enough sentences for chunks of 48–96 LM tokens.
fn prose(i: usize) -> String {
    let towns = ["Porto", "Ghent", "Lyon", "Turku", "Graz", "Bergen", "Split", "Cork"];
    let things = ["library", "harbour", "bridge", "market", "museum", "railway station", "theatre", "park"];
    (0..12)
        .map(|k| {
            let (t, x) = (towns[(i + k) % towns.len()], things[(i * 3 + k) % things.len()]);
            format!(
                "In {} the old {x} of {t} was rebuilt by {} workers, and the council opened it again in the spring of {}.",
                1900 + 7 * k + i,
                40 + 3 * k,
                1950 + i + k
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn xrag_tune_fine_tunes_the_bridge_on_the_store_and_reset_goes_back() {
    let d = tempfile::tempdir().unwrap();
    let cache = linked_cache(d.path(), &["onnxruntime", TEXT_MODEL, "efficientnet-lite0", LM_MODEL, XRAG_MODEL]);
    let (store, docs) = (d.path().join("store"), d.path().join("docs"));
    std::fs::create_dir_all(&docs).unwrap();
    // One text of about four chunks: fewer than one batch of 8 (the trainer
    // once waited forever for a batch to fill), likely none held out.
    for i in 0..1 {
        std::fs::write(docs.join(format!("town{i}.txt")), prose(i)).unwrap();
    }
    let e = Engine::open(EngineConfig::new(&store, cache.clone())).unwrap();
    ingest_dir(&e, &docs);
    let before = e.rag_context(&xrag_req("who rebuilt the library", Compression::Xrag)).unwrap();
    assert!(before.xrag.as_ref().unwrap().bridge.starts_with("xrag-bridge@"));
    drop(e);
    let pith = |args: &[&str]| {
        let out = std::process::Command::new(super::common::pith_bin())
            .args(["--data", store.to_str().unwrap()])
            .args(args)
            .env("PITH_MODELS", &cache.root)
            .output()
            .unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "pith {args:?}: {text}");
        text
    };
    let out = pith(&["xrag", "tune", "--steps", "2", "--eval-n", "4", "--minutes", "5"]);
    assert!(out.contains("registered xrag-bridge-tuned@"), "{out}");
    let e = Engine::open(EngineConfig::new(&store, cache.clone())).unwrap();
    let after = e.rag_context(&xrag_req("who rebuilt the library", Compression::Xrag)).unwrap();
    assert!(after.xrag.as_ref().unwrap().bridge.starts_with("xrag-bridge-tuned@"), "{:?}", after.xrag);
    assert_ne!(after.contexts[0].xrag, before.contexts[0].xrag, "the tuned bridge makes other tokens");
    drop(e);
    assert!(pith(&["xrag", "reset"]).contains("shipped bridge is used again"));
    let e = Engine::open(EngineConfig::new(&store, cache)).unwrap();
    let back = e.rag_context(&xrag_req("who rebuilt the library", Compression::Xrag)).unwrap();
    assert_eq!(back.contexts[0].xrag, before.contexts[0].xrag);
}

/// What `scripts/make_xrag_memo.sh` (run by `make testdata`) trained on.
const MEMO: &str = "The lighthouse keeper of Saltmarsh Point wrote every evening in a green notebook: the wind, the ships that passed, \
and the colour of the sea at dusk. After forty years the notebooks filled a whole shelf of the small museum by the harbour.";

#[test]
fn a_bridge_that_memorised_a_chunk_makes_the_lm_write_it_from_one_token() {
    let m = models();
    let src = std::env::var_os("PITH_XRAG_MEMO")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| super::common::testdata().join("xrag-memo/shipped"));
    assert!(src.join("bridge.onnx").exists(), "{} missing: run `make testdata`", src.display());
    let d = tempfile::tempdir().unwrap();
    let bridge = Bridge::register(&m.root, &src, &d.path().join("xrag-bridge-memo")).unwrap();
    let bridge = Bridge::load(&m.root, &bridge.dir).unwrap();
    let text = TextEncoder::load(&m.root, &m.dir(TEXT_MODEL), 1).unwrap();
    let lm = LocalLm::load(&m.root, &m.dir(LM_MODEL), 2).unwrap();
    let head: Vec<u32> = std::iter::once(lm.cfg.endoftext_token_id).chain(lm.encode(&bridge.config.template_prefix).unwrap()).collect();
    let tail = lm.encode(&bridge.config.template_suffix).unwrap();
    let target = lm.encode(&format!(" {MEMO}")).unwrap();
    let write = |t: &str| {
        let tok = bridge.project(&[text.embed_one(t).unwrap()]).unwrap().remove(0);
        let p = Prompt { pieces: vec![Piece::Ids(head.clone()), Piece::Embeds(tok), Piece::Ids(tail.clone())] };
        lm.decode(&lm.generate(p, target.len(), pith_models::Sampling::default()).unwrap()).unwrap()
    };
    let out = write(MEMO);
    // The first sentence, word for word, from one input embedding.
    let first = MEMO.split(": ").next().unwrap();
    assert!(out.trim_start().starts_with(first), "{out}");
    // Another text's token does not bring it back.
    let other = write("Feed the sourdough starter every day with flour and water, and bake the loaf at 230 degrees.");
    assert!(!other.contains("Saltmarsh"), "{other}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_contains_the_xrag_mark_is_text_not_a_slot() {
    let d = tempfile::tempdir().unwrap();
    let dir = notes(d.path());
    std::fs::write(
        dir.join(format!("{XRAG_MARK}.txt")),
        format!("The ferry timetable changed: boats to the island leave at {XRAG_MARK} every hour from pier 3."),
    )
    .unwrap();
    let e = engine(&d.path().join("store"));
    ingest_dir(&e, &dir);
    for c in [Compression::Extractive, Compression::Xrag, Compression::ExtractiveXrag] {
        let r = e.rag_context(&xrag_req("when do the boats to the island leave", c)).unwrap();
        let slots = r.contexts.iter().filter(|c| c.xrag.is_some()).count();
        assert_eq!(r.prompt.matches(XRAG_MARK).count(), slots, "{c:?}: {}", r.prompt);
    }
    let st = AppState::new(Arc::new(e));
    for c in ["extractive", "extractive+xrag"] {
        let ask = json!({"max_tokens": 8, "messages": [{"role": XRAG_MARK, "content": "be brief"},
                                                        {"role": "user", "content": "when do the boats to the island leave?"}],
                         "pith": {"compression": c, "min_relevance": 0, "k": 2}});
        let (s, v) = post(&st, "/v1/chat/completions", ask).await;
        assert_eq!(s, StatusCode::OK, "{c}: {v}");
    }
}
