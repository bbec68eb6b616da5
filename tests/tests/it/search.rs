use pith_pipeline::search::{Filters, Mode, SearchRequest};
use pith_pipeline::Kind;

use super::common::*;

const PHOTOS: &[&str] = &["astronaut.png", "chelsea.png", "coffee.png", "horse.png", "motorcycle_right.png", "rocket.jpg"];

#[test]
fn text_queries_find_the_right_photos() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("photos");
    photos(&dir, PHOTOS);
    let e = engine(&d.path().join("store"));
    let r = ingest_dir(&e, &dir);
    assert_eq!((r.added, r.images, r.failed), (6, 6, 0), "{r:?}");
    for (q, want) in [("a cat", "chelsea.png"), ("a cup of coffee", "coffee.png"), ("a motorcycle", "motorcycle_right.png")] {
        let hits = search(&e, q, 3);
        assert_eq!(file_name(&hits[0]), want, "query {q:?}: {:?}", hits.iter().map(file_name).collect::<Vec<_>>());
    }
    // Image results carry a thumbnail reference that resolves to a JPEG.
    let hits = search(&e, "a cat", 1);
    assert!(hits[0].thumbnail.is_some());
    let (mime, bytes) = e.thumbnail(hits[0].id).unwrap();
    assert_eq!(mime, "image/jpeg");
    assert!(image::load_from_memory(&bytes).unwrap().width() <= 512);
}

#[test]
fn more_like_this_ranks_the_photo_itself_first() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("photos");
    photos(&dir, PHOTOS);
    let e = engine(&d.path().join("store"));
    ingest_dir(&e, &dir);
    for name in ["chelsea.png", "rocket.jpg"] {
        let id =
            search(&e, name.trim_end_matches(".png").trim_end_matches(".jpg"), 10).into_iter().find(|h| file_name(h) == name).unwrap().id;
        let similar = e.similar(id, 3).unwrap();
        assert_eq!(similar[0].id, id, "{name}");
        assert!(similar.len() == 3 && similar.iter().all(|h| h.kind == "image"));
    }
}

#[test]
fn reingesting_unchanged_files_does_no_encoder_work() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("mixed");
    photos(&dir, &["chelsea.png", "coffee.png"]);
    std::fs::write(dir.join("notes.md"), "# Groceries\nbuy oat milk and espresso beans\n").unwrap();
    let e = engine(&d.path().join("store"));
    ingest_dir(&e, &dir);
    let enc = e.encoders().unwrap();
    let (t, i) = (enc.text.calls(), enc.image.calls());
    let r = ingest_dir(&e, &dir);
    assert_eq!((r.unchanged, r.added, r.updated), (3, 0, 0), "{r:?}");
    // Touching a file without changing its content is also no encoder work.
    let f = std::fs::File::options().write(true).open(dir.join("notes.md")).unwrap();
    f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5)).unwrap();
    let r = ingest_dir(&e, &dir);
    assert_eq!(r.unchanged, 3, "{r:?}");
    assert_eq!((enc.text.calls(), enc.image.calls()), (t, i));
}

/// A store of text (or one long PDF) never pays for the image model's
/// session: it starts on the first photo.
#[test]
fn a_text_only_store_never_starts_the_image_session() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("notes");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("notes.md"), "# Groceries\nbuy oat milk and espresso beans\n").unwrap();
    let e = engine(&d.path().join("store"));
    ingest_dir(&e, &dir);
    assert_eq!(file_name(&search(&e, "espresso beans", 1)[0]), "notes.md");
    let enc = e.encoders().unwrap();
    assert!(!enc.image.started() && enc.image.calls() == 0);
    photos(&dir, &["chelsea.png"]);
    let r = ingest_dir(&e, &dir);
    assert_eq!((r.added, r.images), (1, 1), "{r:?}");
    assert!(enc.image.started() && enc.image.calls() >= 1);
    assert_eq!(file_name(&search(&e, "a cat", 1)[0]), "chelsea.png");
}

#[test]
fn changed_and_deleted_files_are_reflected_everywhere() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("notes");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("a.txt"), "The invoice for 2023 is attached: total 420 euros.").unwrap();
    std::fs::write(dir.join("b.txt"), "Recipe: slow roasted tomatoes with garlic.").unwrap();
    photos(&dir, &["chelsea.png"]);
    let e = engine(&d.path().join("store"));
    ingest_dir(&e, &dir);
    assert_eq!(file_name(&search(&e, "invoice 2023", 1)[0]), "a.txt");

    std::fs::write(dir.join("a.txt"), "Minutes of the rowing club meeting, nothing about money.").unwrap();
    let f = std::fs::File::options().write(true).open(dir.join("a.txt")).unwrap();
    f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5)).unwrap();
    std::fs::remove_file(dir.join("chelsea.png")).unwrap();
    let r = ingest_dir(&e, &dir);
    assert_eq!((r.updated, r.removed), (1, 1), "{r:?}");
    let bm25 = |q: &str| e.search(&SearchRequest { mode: Mode::Bm25, ..SearchRequest::new(q, 10) }).unwrap();
    assert!(bm25("invoice").is_empty(), "old content still indexed");
    assert_eq!(file_name(&bm25("rowing club")[0]), "a.txt");
    assert!(search(&e, "a cat", 10).iter().all(|h| file_name(h) != "chelsea.png"));
    assert_eq!(e.status(0).unwrap().counts.image_items, 0);
    assert!(e.check().unwrap().is_consistent());
}

#[test]
fn filters_restrict_kind_extension_and_path() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("root");
    photos(&dir.join("pics"), &["chelsea.png"]);
    std::fs::create_dir_all(dir.join("docs")).unwrap();
    std::fs::write(dir.join("docs/cat.md"), "# Cat care\nOur cat sleeps on the sofa all day.").unwrap();
    std::fs::write(dir.join("docs/cat.txt"), "A cat is a small furry animal.").unwrap();
    let e = engine(&d.path().join("store"));
    ingest_dir(&e, &dir);
    let run = |f: Filters| e.search(&SearchRequest { filters: f, ..SearchRequest::new("cat", 10) }).unwrap();
    let imgs = run(Filters { kind: Some(Kind::Image), ..Default::default() });
    assert_eq!(imgs.iter().map(file_name).collect::<Vec<_>>(), vec!["chelsea.png"]);
    let md = run(Filters { ext: vec!["md".into()], ..Default::default() });
    assert_eq!(md.iter().map(file_name).collect::<Vec<_>>(), vec!["cat.md"]);
    let docs = run(Filters { path_prefix: Some(dir.join("docs").to_string_lossy().into()), ..Default::default() });
    assert_eq!(docs.len(), 2);
    let future = run(Filters { after: Some(4_000_000_000), ..Default::default() });
    assert!(future.is_empty());
    // Snippets highlight the stemmed query term.
    let hit = run(Filters { ext: vec!["md".into()], ..Default::default() }).remove(0);
    assert!(hit.highlights.iter().any(|&(a, b)| hit.snippet[a..b].eq_ignore_ascii_case("cat")), "{hit:?}");
}

#[test]
fn hidden_and_pithignored_paths_are_skipped() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("root");
    std::fs::create_dir_all(dir.join("private")).unwrap();
    std::fs::create_dir_all(dir.join(".hidden")).unwrap();
    std::fs::write(dir.join(".pithignore"), "private/\n*.log\n").unwrap();
    std::fs::write(dir.join("private/secret.txt"), "zebra secret").unwrap();
    std::fs::write(dir.join(".hidden/x.txt"), "zebra hidden").unwrap();
    std::fs::write(dir.join("run.log"), "zebra log").unwrap();
    std::fs::write(dir.join("ok.txt"), "zebra visible").unwrap();
    let e = engine(&d.path().join("store"));
    let r = ingest_dir(&e, &dir);
    assert_eq!(r.files_seen, 1, "{r:?}");
    let hits = e.search(&SearchRequest { mode: Mode::Bm25, ..SearchRequest::new("zebra", 10) }).unwrap();
    assert_eq!(hits.iter().map(file_name).collect::<Vec<_>>(), vec!["ok.txt"]);
}

#[test]
fn long_text_is_chunked_and_hits_point_at_the_matching_chunk() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("t");
    std::fs::create_dir_all(&dir).unwrap();
    let filler = "The committee reviewed the quarterly figures and agreed to meet again. ".repeat(80);
    let text = format!("{filler}The lighthouse keeper fed the seagulls every morning. {filler}");
    std::fs::write(dir.join("long.txt"), &text).unwrap();
    let e = engine(&d.path().join("store"));
    let r = ingest_dir(&e, &dir);
    assert!(r.text_chunks >= 5, "{r:?}");
    let hit = e.search(&SearchRequest { mode: Mode::Bm25, ..SearchRequest::new("lighthouse seagulls", 1) }).unwrap().remove(0);
    let span = &text[hit.chunk_start as usize..hit.chunk_end as usize];
    assert!(span.contains("lighthouse keeper"), "chunk {}..{}", hit.chunk_start, hit.chunk_end);
    assert!(hit.snippet.contains("lighthouse"));
}
