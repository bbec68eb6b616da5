use pith_models::ClipEncoder;
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
    let d = tempfile::tempdir().unwrap();
    let cache = linked_cache(d.path(), &["onnxruntime", "minilm-l6-v2-int8", "efficientnet-lite0"]);
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

/// The bug: `pith models add clip` gave photos indexed before it no CLIP
/// vectors, and a space was keyed by name only, so another model could mix
/// its vectors into an old space.
#[test]
fn spaces_are_name_model_dim_and_new_ones_are_backfilled() {
    let tiny = testdata().join("tiny-clip");
    let d = tempfile::tempdir().unwrap();
    let cache = linked_cache(d.path(), &["onnxruntime", "minilm-l6-v2-int8", "efficientnet-lite0"]);
    let store = d.path().join("store");
    let dir = d.path().join("imgs");
    photos(&dir, &["chelsea.png", "coffee.png"]);
    let open = || {
        let mut cfg = config(&store);
        cfg.models = cache.clone();
        Engine::open(cfg).unwrap()
    };
    let clip_status = |e: &Engine| e.status(0).unwrap().spaces.into_iter().filter(|s| s.label == "clip").collect::<Vec<_>>();
    {
        let e = open();
        ingest_dir(&e, &dir);
        assert!(clip_status(&e).is_empty());
    }
    // A CLIP model arrives after the photos were indexed.
    ClipEncoder::register(&cache.root, &tiny, &cache.dir("clip")).unwrap();
    let model = cache.model_id("clip").unwrap();
    {
        let e = open();
        let st = clip_status(&e);
        assert_eq!((st.len(), st[0].pending, st[0].vectors, st[0].model.as_str()), (1, 2, 0, model.as_str()), "{st:?}");
        let r = ingest_dir(&e, &dir);
        assert_eq!(r.unchanged, 2, "{r:?}");
        let st = clip_status(&e);
        assert_eq!((st[0].pending, st[0].vectors, st[0].state.as_str()), (0, 2, "active"), "{st:?}");
        assert!(e.check().unwrap().is_consistent());
    }
    // Pretend the active clip space was made by other weights: the loaded
    // model then gets a space of its own, filled in the background while
    // search keeps the old one, which is retired once the new one is full.
    {
        let c = rusqlite::Connection::open(store.join("pith.sqlite")).unwrap();
        let n = c
            .execute("UPDATE spaces SET model = 'clip@0ldweights000', name = 'clip:clip@0ldweights000:8' WHERE label = 'clip'", [])
            .unwrap();
        assert_eq!(n, 1);
    }
    let e = open();
    let st = clip_status(&e);
    assert_eq!(st.len(), 2, "{st:?}");
    let building = st.iter().find(|s| s.state == "building").expect("a building space");
    assert_eq!((building.model.as_str(), building.pending), (model.as_str(), 2));
    let old = e.space("clip").unwrap().0;
    ingest_dir(&e, &dir);
    let st = clip_status(&e);
    assert_eq!(st.len(), 1, "{st:?}");
    assert_eq!((st[0].model.as_str(), st[0].state.as_str(), st[0].vectors), (model.as_str(), "active", 2));
    assert_ne!(e.space("clip").unwrap().0, old);
    let c = rusqlite::Connection::open(store.join("pith.sqlite")).unwrap();
    let left: i64 = c.query_row("SELECT count(*) FROM vectors WHERE space_id = ?1", [old], |r| r.get(0)).unwrap();
    assert_eq!(left, 0, "the retired space's vectors are dropped");
    assert!(e.check().unwrap().is_consistent());
}
