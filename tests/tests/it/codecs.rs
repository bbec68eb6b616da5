//! Compressed vector spaces (`pith config set space.text.codec ...`): the
//! same answers, filters, deletes and restarts as float32, in less RAM.

use std::path::Path;

use pith_pipeline::search::{Filters, Mode};
use pith_pipeline::store::{Kind, NewChunk, NewFile, NewItem};
use pith_pipeline::{PipelineError, SearchRequest};

use super::common::*;

const NOTES: &[(&str, &str)] = &[
    ("bread", "Sourdough bread needs a lively starter, a long cold proof and a very hot oven."),
    ("bikes", "To fix a flat bicycle tyre, find the puncture, patch the inner tube and pump it up."),
    ("tax", "The quarterly tax return is due at the end of the month; keep every receipt."),
    ("garden", "Tomatoes in the garden want six hours of sun and deep watering twice a week."),
    ("violin", "Violin practice: scales first, then the slow movement of the concerto."),
    ("python", "A Python list comprehension builds a new list from an iterable in one line."),
    ("whales", "Humpback whales migrate thousands of kilometres to warm breeding waters."),
    ("coffee", "Grind the coffee beans just before brewing for a sweeter espresso."),
    ("mortgage", "Refinancing the mortgage at a lower interest rate cuts the monthly payment."),
    ("chess", "In chess, control the centre early and castle before launching an attack."),
    ("running", "Marathon training builds weekly mileage slowly, with one long run each Sunday."),
    ("volcano", "The volcano erupted overnight, sending ash and lava down the northern slope."),
    ("knitting", "Knitting a scarf: cast on forty stitches and alternate knit and purl rows."),
    ("rocket", "The rocket's second stage fired for six minutes to reach orbit."),
    ("cats", "The cat sleeps most of the day and hunts moths on the windowsill at night."),
    ("wine", "Red wine from the valley is aged in oak barrels for two years."),
    ("printer", "The office printer jams when the paper tray is overfilled."),
    ("dentist", "The dentist appointment moved to Thursday at nine in the morning."),
    ("camping", "Pitch the tent on level ground and keep food sealed away from bears."),
    ("guitar", "Tune the guitar's low E string first, then match the others to it."),
    ("vaccine", "The flu vaccine is offered every autumn at the local clinic."),
    ("football", "The football team won the cup final with a goal in extra time."),
    ("sushi", "Sushi rice is seasoned with vinegar, sugar and salt while still warm."),
    ("lighthouse", "The old lighthouse keeper trimmed the lamp wick every evening at dusk."),
];

fn write_notes(dir: &Path) {
    std::fs::create_dir_all(dir.join("more")).unwrap();
    for (i, (name, text)) in NOTES.iter().enumerate() {
        let sub = if i % 2 == 0 { dir.to_path_buf() } else { dir.join("more") };
        std::fs::write(sub.join(format!("{name}.txt")), text).unwrap();
    }
}

fn vector_top(e: &pith_pipeline::Engine, q: &str, filters: Filters) -> Vec<String> {
    let mut r = SearchRequest::new(q, 5);
    r.mode = Mode::Vector;
    // The codec is under test, not the relevance cut-off.
    r.min_relevance = Some(0.0);
    r.filters = filters;
    e.search(&r).unwrap().iter().map(file_name).collect()
}

const QUERIES: &[(&str, &str)] = &[
    ("how do I repair a punctured bike wheel", "bikes.txt"),
    ("when is my appointment to get my teeth checked", "dentist.txt"),
    ("making espresso taste better", "coffee.txt"),
    ("large sea mammals travelling to breed", "whales.txt"),
    ("lava and ash from a mountain", "volcano.txt"),
];

#[test]
fn binary_codec_space_answers_like_float32_through_filters_deletes_and_restarts() {
    let d = tempfile::tempdir().unwrap();
    let notes = d.path().join("notes");
    write_notes(&notes);
    let data = d.path().join("store");
    let e = engine(&data);
    ingest_dir(&e, &notes);
    let before: Vec<Vec<String>> = QUERIES.iter().map(|(q, _)| vector_top(&e, q, Filters::default())).collect();
    for ((q, want), got) in QUERIES.iter().zip(&before) {
        assert_eq!(got[0], *want, "float32 baseline for {q:?}: {got:?}");
    }

    let f = e.set_codec("text", "binary+rerank").unwrap();
    assert_eq!((f[0].codec.as_str(), f[0].bytes_per_vector), ("binary+rerank", 48), "{f:?}");
    for ((q, _), want) in QUERIES.iter().zip(&before) {
        assert_eq!(&vector_top(&e, q, Filters::default())[..1], &want[..1], "binary+rerank changed the top hit for {q:?}");
    }
    // A filter that lets through a dozen of the 24 notes.
    let more = notes.join("more").canonicalize().unwrap().to_string_lossy().into_owned();
    let only_more = Filters { path_prefix: Some(more), ..Default::default() };
    let top = vector_top(&e, "when is my appointment to get my teeth checked", only_more.clone());
    assert_eq!(top[0], "dentist.txt", "{top:?}");
    let top = vector_top(&e, "large sea mammals travelling to breed", only_more);
    assert!(!top.is_empty() && !top.contains(&"whales.txt".to_string()), "whales.txt is outside the filter: {top:?}");

    // Deletes and new files go through the codes too.
    std::fs::remove_file(notes.join("whales.txt")).unwrap();
    std::fs::write(notes.join("orchard.txt"), "Apple trees in the orchard are pruned in late winter before the buds open.").unwrap();
    ingest_dir(&e, &notes);
    let top = vector_top(&e, "large sea mammals travelling to breed", Filters::default());
    assert!(!top.contains(&"whales.txt".to_string()), "a deleted file came back: {top:?}");
    assert_eq!(vector_top(&e, "when should fruit trees be cut back", Filters::default())[0], "orchard.txt");
    drop(e);

    // Restart: the codec, codes and graph come back from disk and agree with the store.
    let e = engine(&data);
    let st = e.status(0).unwrap();
    let text = st.spaces.iter().find(|s| s.label == "text").unwrap();
    assert_eq!((text.index.codec.as_str(), text.index.bytes_per_vector), ("binary+rerank", 48), "{:?}", text.index);
    assert!(text.index.disk_bytes > 0);
    assert!(e.check().unwrap().is_consistent());
    assert_eq!(vector_top(&e, "how do I repair a punctured bike wheel", Filters::default())[0], "bikes.txt");
    assert_eq!(vector_top(&e, "when should fruit trees be cut back", Filters::default())[0], "orchard.txt");

    // Each setting builds in its own folder; the old one goes after the swap.
    let id = e.space_id("text").unwrap();
    let folders = || -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(data.join("vectors"))
            .unwrap()
            .flatten()
            .map(|x| x.file_name().to_string_lossy().into_owned())
            .filter(|n| n == &id.to_string() || n.starts_with(&format!("{id}-")))
            .collect();
        v.sort();
        v
    };
    assert_eq!(folders(), vec![format!("{id}-coded-binary+rerank")]);
    e.set_codec("text", "binary").unwrap();
    assert_eq!(folders(), vec![format!("{id}-coded-binary")]);
    assert_eq!(vector_top(&e, "how do I repair a punctured bike wheel", Filters::default())[0], "bikes.txt");
    // Asking for the codec a space already has changes nothing.
    e.set_codec("text", "binary").unwrap();
    assert_eq!(folders(), vec![format!("{id}-coded-binary")]);

    // Float32 in pith's own graph (the default), then hnsw_rs (what stores
    // made before it keep), then the default again: answers stay.
    let f = e.set_codec("text", "f32").unwrap();
    assert_eq!((f[0].codec.as_str(), f[0].bytes_per_vector), ("f32", 1536));
    assert_eq!(folders(), vec![format!("{id}-coded-f32")]);
    assert_eq!(vector_top(&e, "making espresso taste better", Filters::default())[0], "coffee.txt");
    let f = e.set_codec("text", "hnsw_rs").unwrap();
    assert!(f[0].codec.starts_with("hnsw_rs"), "{f:?}");
    assert_eq!(vector_top(&e, "making espresso taste better", Filters::default())[0], "coffee.txt");
    assert_eq!(folders(), vec![id.to_string()]);
    let f = e.set_codec("text", "default").unwrap();
    assert_eq!(f[0].codec, "f32", "{f:?}");
    assert_eq!(folders(), vec![format!("{id}-coded-f32")]);
    assert!(e.check().unwrap().is_consistent());
}

#[test]
fn pq_on_a_space_too_small_to_train_falls_back_to_exact_search_and_bad_settings_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let notes = d.path().join("notes");
    write_notes(&notes);
    let e = engine(&d.path().join("store"));
    ingest_dir(&e, &notes);
    // 24 vectors: PQ needs 1000 to train, so the space scans its floats exactly until then.
    let f = e.set_codec("text", "pq16+rerank").unwrap();
    assert_eq!(f[0].bytes_per_vector, 384 * 4, "untrained PQ keeps float rows: {f:?}");
    for (q, want) in QUERIES {
        assert_eq!(vector_top(&e, q, Filters::default())[0], *want, "{q}");
    }
    let err = e.set_codec("text", "pq7").unwrap_err();
    assert!(matches!(err, PipelineError::BadInput(_)) && err.to_string().contains("divisible"), "{err}");
    let err = e.set_codec("no-such-space", "binary").unwrap_err();
    assert!(err.to_string().contains("no space"), "{err}");
    assert!(e.set_codec("text", "zstd").is_err());
}

#[test]
fn nan_vectors_are_refused_before_they_reach_the_store() {
    let d = tempfile::tempdir().unwrap();
    let e = engine(&d.path().join("store"));
    let text = e.space_id("text").unwrap();
    let mut v = vec![0.05f32; 384];
    v[7] = f32::NAN;
    let file = NewFile {
        path: "/virtual/broken.txt".into(),
        size: 5,
        mtime: 0,
        hash: "x".into(),
        items: vec![NewItem {
            kind: Kind::Text,
            title: "broken".into(),
            mime: None,
            width: None,
            height: None,
            labels: None,
            thumbnail: None,
            span_ms: None,
            chunks: vec![NewChunk { start: 0, end: 5, text: Some("hello".into()), vectors: vec![(text, v)], ..Default::default() }],
            sentences: Vec::new(),
        }],
        notes: Vec::new(),
    };
    assert!(file.non_finite_vector().unwrap().contains("NaN"));
    let err = e.index_files(&[file]).unwrap_err();
    assert!(matches!(err, PipelineError::BadInput(_)) && err.to_string().contains("NaN"), "{err}");
    assert_eq!(e.status(0).unwrap().counts.files, 0);
}
