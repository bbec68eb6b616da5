use pith_models::{ClipEncoder, ModelCache};
use pith_pipeline::search::{Filters, Mode, SearchRequest};
use pith_pipeline::{Engine, Kind};

use super::common::*;

/// A user-supplied CLIP export (here a tiny random-weight one the test data
/// step generates with the same signatures) registers, embeds images and
/// queries in its own space, and is searched.
#[test]
fn a_registered_clip_model_adds_a_searchable_space() {
    let tiny = testdata().join("tiny-clip");
    assert!(tiny.join("visual.onnx").exists(), "run `make testdata` (scripts/make_tiny_clip.py)");
    let real = models();
    let d = tempfile::tempdir().unwrap();
    let cache_dir = d.path().join("models");
    std::fs::create_dir_all(&cache_dir).unwrap();
    for name in ["onnxruntime", "minilm-l6-v2-int8", "efficientnet-lite0"] {
        std::os::unix::fs::symlink(real.dir(name), cache_dir.join(name)).unwrap();
    }
    let cache = ModelCache::new(&cache_dir);
    // A directory missing a file is refused with a clear message.
    let err = ClipEncoder::register(&cache.root, &testdata().join("skimage"), &cache.dir("clip")).unwrap_err().to_string();
    assert!(err.contains("visual.onnx"), "{err}");
    let m = ClipEncoder::register(&cache.root, &tiny, &cache.dir("clip")).unwrap();
    assert_eq!(m.dim, 8);

    let expected: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(tiny.join("expected.json")).unwrap()).unwrap();
    let vec = |k: &str| -> Vec<f32> { expected[k].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect() };

    let mut cfg = config(&d.path().join("store"));
    cfg.models = cache;
    let e = Engine::open(cfg).unwrap();
    let clip = e.encoders().unwrap().clip.as_ref().expect("clip encoder loaded");
    let t = clip.embed_texts(&[expected["caption"].as_str().unwrap()]).unwrap().remove(0);
    assert!(pith_models::dot(&t, &vec("text_embedding")) > 0.9999, "{t:?}");

    let dir = d.path().join("imgs");
    photos(&dir, &["chelsea.png"]);
    std::fs::copy(tiny.join("red.png"), dir.join("red.png")).unwrap();
    ingest_dir(&e, &dir);
    let (sid, ix) = e.space("clip").unwrap();
    assert_eq!(ix.len(), 2);
    // The stored vector of the red image is the numpy reference (preprocessing + model I/O).
    let hits = ix.search(&vec("red_image_embedding"), 1, None);
    assert!(hits[0].1 > 0.9999, "{hits:?}");
    let _ = sid;
    let req = SearchRequest {
        filters: Filters { kind: Some(Kind::Image), ..Default::default() },
        mode: Mode::Vector,
        ..SearchRequest::new(expected["caption"].as_str().unwrap(), 2)
    };
    let hits = e.search(&req).unwrap();
    assert!(hits.iter().any(|h| h.ranks.contains_key("clip")), "{hits:?}");
}
