use pith_models::ClapEncoder;
use pith_pipeline::search::{Filters, Mode, SearchRequest};
use pith_pipeline::{Engine, Kind};

use super::common::*;

/// A user-supplied CLAP export (a tiny random-weight one `make testdata`
/// generates with the supported signatures, 8 kHz, 2 s windows) registers;
/// recordings are resampled, cut into windows and embedded in a `clap`
/// space whose vectors match numpy's; a text query searches that space.
#[test]
fn a_registered_clap_model_makes_sounds_searchable() {
    let tiny = testdata().join("tiny-clap");
    assert!(tiny.join("audio.onnx").exists(), "run `make testdata` (scripts/make_tiny_clap.py)");
    let d = tempfile::tempdir().unwrap();
    let cache = linked_cache(d.path(), &["onnxruntime", "minilm-l6-v2-int8", "efficientnet-lite0", "whisper-tiny-en"]);
    let err = ClapEncoder::register(&cache.root, &testdata().join("tiny-clip"), &cache.dir("clap")).unwrap_err().to_string();
    assert!(err.contains("audio.onnx"), "{err}");
    assert_eq!(ClapEncoder::register(&cache.root, &tiny, &cache.dir("clap")).unwrap().dim, 8);

    let expected: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(tiny.join("expected.json")).unwrap()).unwrap();
    let vec = |k: &str| -> Vec<f32> { expected[k].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect() };
    let mut cfg = config(&d.path().join("store"));
    cfg.models = cache;
    let e = Engine::open(cfg).unwrap();
    let clap = e.encoders().unwrap().clap.as_ref().expect("clap encoder loaded");
    let caption = expected["caption"].as_str().unwrap();
    let t = clap.embed_texts(&[caption]).unwrap().remove(0);
    assert!(pith_models::dot(&t, &vec("text_embedding")) > 0.9999, "{t:?}");

    let dir = d.path().join("sounds");
    std::fs::create_dir_all(&dir).unwrap();
    for n in ["early.wav", "late.wav"] {
        std::fs::copy(tiny.join(n), dir.join(n)).unwrap();
    }
    let r = ingest_dir(&e, &dir);
    assert_eq!((r.added, r.failed), (2, 0), "{r:?}");
    // One 2 s window per recording, stored as numpy computes it from the 8 kHz signal.
    let (_, ix) = e.space("clap").unwrap();
    assert_eq!(ix.len(), 2);
    for (k, name) in [("early_embedding", "early.wav"), ("late_embedding", "late.wav")] {
        let hit = ix.search(&vec(k), 1, None)[0];
        assert!(hit.1 > 0.99, "{name}: cosine {}", hit.1);
        let stem = name.trim_end_matches(".wav");
        let item = e.search(&SearchRequest { mode: Mode::Bm25, ..SearchRequest::new(stem, 1) }).unwrap()[0].id;
        assert!(e.chunks_of_item(item).unwrap().iter().any(|c| c.id == hit.0), "{name}: the nearest window is not its own");
    }
    // A text query reaches the sounds through the clap list, best window first.
    let req = SearchRequest {
        filters: Filters { kind: Some(Kind::Audio), ..Default::default() },
        mode: Mode::Vector,
        // A tiny generated model: its cosines mean nothing to the calibration.
        min_relevance: Some(0.0),
        ..SearchRequest::new(caption, 2)
    };
    let hits = e.search(&req).unwrap();
    assert_eq!(hits[0].ranks.get("clap"), Some(&1), "{hits:#?}");
    let best = expected["best_for_caption"].as_str().unwrap();
    assert!(hits[0].path.ends_with(&format!("{best}.wav")), "{hits:#?}");
    assert_eq!((hits[0].start, hits[0].end), (Some(0.0), Some(2.0)));
}
