//! A user-supplied LLMLingua-2 token classifier (here a tiny generated one
//! with the same signature): registered, windowed like the numpy
//! reference, and used as the token scorer for context compression.

use pith_models::TokenClassifier;
use pith_pipeline::rag::{Compression, RagRequest};
use pith_pipeline::Engine;

use super::common::*;

#[test]
fn a_registered_llmlingua2_classifier_scores_tokens_like_the_reference_and_compresses() {
    let tiny = testdata().join("tiny-lingua");
    assert!(tiny.join("model.onnx").exists(), "run `make testdata` (scripts/make_tiny_lingua.py)");
    let d = tempfile::tempdir().unwrap();
    let cache = linked_cache(d.path(), &["onnxruntime", "minilm-l6-v2-int8", "efficientnet-lite0"]);
    let err = TokenClassifier::register(&cache.root, &testdata().join("tiny-clip"), &cache.dir("llmlingua2")).unwrap_err().to_string();
    assert!(err.contains("model.onnx"), "{err}");
    TokenClassifier::register(&cache.root, &tiny, &cache.dir("llmlingua2")).unwrap();
    let c = TokenClassifier::load(&cache.root, &cache.dir("llmlingua2"), 1).unwrap();
    let want: serde_json::Value = serde_json::from_slice(&std::fs::read(tiny.join("expected.json")).unwrap()).unwrap();
    let got = c.keep_probs(want["text"].as_str().unwrap()).unwrap();
    let probs = want["keep_probs"].as_array().unwrap();
    assert_eq!(got.len(), probs.len(), "one probability per token, across windows of 14");
    for (i, ((s, e, p), w)) in got.iter().zip(probs).enumerate() {
        assert!((p - w.as_f64().unwrap() as f32).abs() < 1e-5, "token {i}: {p} vs {w}");
        assert_eq!([*s as u64, *e as u64], [want["offsets"][i][0].as_u64().unwrap(), want["offsets"][i][1].as_u64().unwrap()]);
    }

    let mut cfg = config(&d.path().join("store"));
    cfg.models = cache;
    let e = Engine::open(cfg).unwrap();
    let dir = d.path().join("n");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("bridge.txt"), want["text"].as_str().unwrap()).unwrap();
    ingest_dir(&e, &dir);
    e.set_setting("rag.token-scorer", Some("llmlingua2")).unwrap();
    let req = |budget| RagRequest {
        compression: Compression::Tokens,
        token_budget: budget,
        min_relevance: Some(0.0),
        ..RagRequest::new("bridge")
    };
    let whole = e.rag_context(&RagRequest { compression: Compression::None, ..req(500) }).unwrap();
    // A quarter of the text's tokens must go (the header, a temp path, stays).
    let budget = whole.prompt_tokens - whole.contexts[0].original_tokens / 4;
    let r = e.rag_context(&req(budget)).unwrap();
    assert!(r.prompt_tokens <= budget && r.kept_tokens < whole.kept_tokens, "{}", r.prompt);
    let kept = &r.contexts[0].compressed;
    for w in ["not", "14", "March", "2027,", "then."] {
        assert!(kept.split_whitespace().any(|k| k == w), "{w} dropped: {kept}");
    }
    assert!(e.set_setting("rag.token-scorer", Some("gpt")).is_err());
}
