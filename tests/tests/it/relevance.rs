//! Retrieval quality: the relevance cut-off, deterministic rankings, and the
//! search settings.

use pith_pipeline::search::{Hubness, Kind, SearchRequest};
use pith_pipeline::Filters;

use super::common::{engine, file_name, ingest_dir, photos};

const PHOTOS: &[&str] = &["chelsea.png", "rocket.jpg", "astronaut.png", "hubble_deep_field.jpg", "motorcycle_left.png", "coffee.png"];

fn images(q: &str, min_relevance: Option<f32>) -> SearchRequest {
    SearchRequest { filters: Filters { kind: Some(Kind::Image), ..Default::default() }, min_relevance, ..SearchRequest::new(q, 10) }
}

#[test]
fn the_cut_off_hides_absent_things_and_keeps_the_cat() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("photos");
    photos(&dir, PHOTOS);
    let e = engine(&d.path().join("store"));
    ingest_dir(&e, &dir);
    let t = e.calibration().threshold;
    let cat = e.search_results(&images("a cat", Some(t))).unwrap();
    assert_eq!(file_name(&cat.hits[0]), "chelsea.png", "{:?}", cat.hits);
    assert!(cat.hidden > 0, "the other photos are no cats");
    let absent = e.search_results(&images("a spreadsheet of tax numbers", Some(t))).unwrap();
    assert!(absent.hits.is_empty(), "{:?}", absent.hits.iter().map(|h| (&h.path, h.relevance)).collect::<Vec<_>>());
    assert_eq!(absent.hidden, PHOTOS.len());
    // Off, every photo comes back, each with its relevance.
    let all = e.search_results(&images("a spreadsheet of tax numbers", Some(0.0))).unwrap();
    assert_eq!(all.hits.len(), PHOTOS.len());
    assert!(all.hits.iter().all(|h| h.relevance.is_some_and(|r| r < t)));
    // The store setting applies when a request does not say.
    e.set_setting("search.min-relevance", Some(&t.to_string())).unwrap();
    assert!(e.search(&images("a spreadsheet of tax numbers", None)).unwrap().is_empty());
}

fn notes(dir: &std::path::Path) {
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    let texts = [
        ("bikes", "Patch a punctured inner tube: find the hole, roughen it, glue, press the patch."),
        ("orchard", "Prune apple and pear trees in late winter while they are dormant."),
        ("coffee", "Grind the beans finer if the espresso runs fast and tastes sour."),
        ("bread", "A sourdough starter needs flour and water every day and a warm kitchen."),
        ("garden", "Tomatoes want sun, deep watering and a stake against the wind."),
        ("tea", "Green tea brews best below boiling, for two minutes at most."),
    ];
    for (i, (n, t)) in texts.iter().enumerate() {
        let sub = if i % 2 == 0 { dir.to_path_buf() } else { dir.join("sub") };
        for copy in 0..3 {
            std::fs::write(sub.join(format!("{n}-{copy}.txt")), format!("{t} Note {copy}.")).unwrap();
        }
    }
}

#[test]
fn two_ingests_of_the_same_files_rank_the_same() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("notes");
    notes(&dir);
    let rankings = |store: &str| {
        let e = engine(&d.path().join(store));
        ingest_dir(&e, &dir);
        ["fixing a flat bicycle tyre", "when to cut fruit trees", "coffee tastes sour", "tea"]
            .iter()
            .map(|q| {
                e.search(&SearchRequest { min_relevance: Some(0.0), ..SearchRequest::new(*q, 10) })
                    .unwrap()
                    .iter()
                    .map(|h| (file_name(h), h.id, format!("{:.6}", h.score)))
                    .collect::<Vec<_>>()
            })
            .collect::<Vec<_>>()
    };
    let (a, b) = (rankings("one"), rankings("two"));
    assert_eq!(a, b);
    assert!(a[0][0].0.starts_with("bikes"), "{:?}", a[0]);
}

#[test]
fn search_settings_are_validated_stored_and_used() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("photos");
    photos(&dir, &PHOTOS[..3]);
    let e = engine(&d.path().join("store"));
    ingest_dir(&e, &dir);
    for (k, v) in [("search.fusion", "rrf"), ("search.semantic-ratio", "0.4"), ("space.conse.hubness", "csls")] {
        e.set_setting(k, Some(v)).unwrap();
        assert_eq!(e.setting(k).as_deref(), Some(v));
    }
    assert_eq!(e.hubness_of("conse"), Hubness::Csls);
    for (k, v) in [
        ("search.fusion", "best"),
        ("search.semantic-ratio", "1.5"),
        ("space.conse.hubness", "magic"),
        ("space.nope.hubness", "csls"),
        ("search.colour", "red"),
        ("space.hubness", "csls"),
        ("space..hubness", "csls"),
    ] {
        assert!(e.set_setting(k, Some(v)).is_err(), "{k} = {v} was accepted");
    }
    // Every correction answers (the table is built on first use).
    for h in Hubness::ALL {
        let hits = e.search(&SearchRequest { hubness: Some(h), ..images("a cat", Some(0.0)) }).unwrap();
        assert_eq!(file_name(&hits[0]), "chelsea.png", "{h}");
    }
    e.set_setting("search.fusion", Some("default")).unwrap();
    assert_eq!(e.setting("search.fusion"), None);
}

#[test]
fn logged_queries_are_opt_in_make_the_bank_and_switch_hubness_on() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("photos");
    photos(&dir, PHOTOS);
    let e = engine(&d.path().join("store"));
    ingest_dir(&e, &dir);
    // Off by default: nothing is kept.
    e.search(&images("a cat on a sofa", None)).unwrap();
    assert_eq!(e.query_log_len().unwrap(), 0);
    assert_eq!(e.hubness_of("conse"), Hubness::None);
    e.set_setting("search.log-queries", Some("on")).unwrap();
    e.search(&images("a cat on a sofa", None)).unwrap();
    e.search(&images("a cat on a sofa", None)).unwrap();
    assert_eq!(e.query_log_len().unwrap(), 1, "the same text is one entry");
    // With enough real queries they become the bank, and DBNorm the default.
    let others: Vec<String> = (0..140).map(|i| format!("a photo of thing number {i} on a table")).collect();
    e.import_query_log(&others).unwrap();
    assert_eq!(e.hubness_of("conse"), Hubness::DbNorm);
    assert_eq!(e.hubness_of("text"), Hubness::None, "text search is not cross-modal");
    let hits = e.search(&images("a cat", None)).unwrap();
    assert_eq!(file_name(&hits[0]), "chelsea.png");
    // An explicit setting wins; turning logging off forgets the log.
    e.set_setting("space.conse.hubness", Some("none")).unwrap();
    assert_eq!(e.hubness_of("conse"), Hubness::None);
    e.set_setting("space.conse.hubness", None).unwrap();
    e.set_setting("search.log-queries", Some("off")).unwrap();
    assert_eq!(e.query_log_len().unwrap(), 0);
    assert_eq!(e.hubness_of("conse"), Hubness::None);
    assert!(e.set_setting("search.log-queries", Some("maybe")).is_err());
    // Back to the default (off) forgets too.
    e.set_setting("search.log-queries", Some("on")).unwrap();
    e.import_query_log(&others).unwrap();
    e.set_setting("search.log-queries", Some("default")).unwrap();
    assert_eq!(e.query_log_len().unwrap(), 0);
}
