//! PDFs, Office files, e-books and the words in images (issue 14), on the
//! fixtures `scripts/make_doc_fixtures.py` writes in `make testdata`.

use std::path::{Path, PathBuf};

use pith_pipeline::decode::ocr::OcrConfig;
use pith_pipeline::types::{Filters, Kind};
use pith_pipeline::{SearchHit, SearchRequest};

use super::common::*;

fn fixtures() -> PathBuf {
    let p = testdata().join("documents");
    assert!(p.join("manifest.json").exists(), "document fixtures missing in {}: run `make testdata`", p.display());
    p
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// The best hit with the default relevance cut-off (as users see results).
fn top(e: &pith_pipeline::Engine, q: &str) -> SearchHit {
    let hits = e.search(&SearchRequest::new(q, 5)).unwrap();
    assert!(!hits.is_empty(), "no hit for {q:?}");
    hits.into_iter().next().unwrap()
}

#[test]
fn a_folder_of_documents_is_searchable_by_page_and_section_and_each_bad_file_is_one_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("docs");
    copy_dir(&fixtures().join("docs"), &dir);
    let e = engine(&tmp.path().join("store"));
    let r = ingest_dir(&e, &dir);
    assert_eq!(r.failed, 4, "{r:?}");
    assert_eq!(r.added, 10, "{r:?}");
    assert_eq!(r.pdf_pages, 7, "{r:?}");
    assert_eq!(r.ocr_images, 1, "{r:?}");

    let errors = e.status(20).unwrap().errors;
    let reason = |name: &str| errors.iter().find(|x| x.path.ends_with(name)).map(|x| x.reason.clone()).unwrap_or_default();
    assert!(reason("locked.pdf").contains("encrypted"), "{errors:?}");
    assert!(reason("bomb.docx").contains("zip bomb"), "{errors:?}");
    assert!(reason("laughs.odt").contains("entities"), "{errors:?}");
    assert!(reason("cells.xlsx").contains("cells"), "{errors:?}");

    // A phrase from page 3 finds the PDF at page 3, titled from its metadata.
    let h = top(&e, "herons resting on the northern breakwater");
    assert_eq!((file_name(&h).as_str(), h.kind.as_str(), h.page), ("report.pdf", "pdf", Some(3)));
    assert_eq!(h.title, "Quarterly Lighthouse Report");
    // A page without a text layer is read by OCR.
    let h = top(&e, "orchard ladder leans against the old stone wall");
    assert_eq!((file_name(&h).as_str(), h.page), ("scanned.pdf", Some(2)));
    // Words in a photo, shown as its matched section.
    let h = top(&e, "invoice number 4471");
    assert_eq!((file_name(&h).as_str(), h.kind.as_str()), ("sign.png", "image"));
    assert_eq!(h.section.as_deref(), Some("Text in image"));
    assert!(h.snippet.contains("4471"), "{h:?}");

    let cases = [
        ("penguin migration along the coast", "deck.pptx", "slides", "Slide 2"),
        ("replacement telescope lens", "budget.xlsx", "spreadsheet", "Expenses, rows"),
        ("silver fox watched the workshop", "novel.epub", "ebook", "Chapter Two"),
        ("turn the compost heap every fortnight", "notes.docx", "document", "Compost"),
        ("morning ferry departs from pier nine", "memo.odt", "document", "Ferry Schedule"),
        ("volcanic ash grounds flights", "talk.odp", "slides", "Slide 2"),
        ("copper kettle for the tea room", "ledger.ods", "spreadsheet", "Ledger, row"),
    ];
    for (q, file, kind, section) in cases {
        let h = top(&e, q);
        assert_eq!((file_name(&h).as_str(), h.kind.as_str()), (file, kind), "{q}: {h:?}");
        let s = h.section.clone().unwrap_or_default();
        assert!(s.starts_with(section), "{q}: section {s:?}, want {section:?}");
    }

    // Kind filters: only PDFs; only photos with words.
    let only = |kind: Kind, q: &str| -> Vec<String> {
        let req = SearchRequest {
            min_relevance: Some(0.0),
            filters: Filters { kind: Some(kind), ..Default::default() },
            ..SearchRequest::new(q, 20)
        };
        e.search(&req).unwrap().iter().map(file_name).collect()
    };
    let pdfs = only(Kind::Pdf, "lighthouse orchard");
    assert!(!pdfs.is_empty() && pdfs.iter().all(|f| f.ends_with(".pdf")), "{pdfs:?}");
    assert_eq!(only(Kind::TextImage, "invoice due friday"), vec!["sign.png".to_string()]);
    // RAG contexts cite the page and the section.
    let ctx = e
        .rag_context(&pith_pipeline::rag::RagRequest {
            k: 3,
            ..pith_pipeline::rag::RagRequest::new("How many herons did the keeper count?")
        })
        .unwrap();
    assert_eq!(ctx.contexts.first().and_then(|c| c.page), Some(3), "{:?}", ctx.contexts);
    assert!(ctx.prompt.contains("report.pdf, p. 3)"), "{}", ctx.prompt);
    let counts = e.status(0).unwrap().counts;
    assert_eq!((counts.document_items, counts.ocr_items), (9, 1), "{counts:?}");
}

#[test]
fn ocr_reads_clean_renders_with_under_five_percent_character_errors() {
    let r = pith_pipeline::eval::ocr::run(&fixtures().join("ocr"), None, &OcrConfig::default()).unwrap();
    assert_eq!(r.files.len(), 12);
    assert!(r.cer <= 0.05, "CER {:.3}: {:?}", r.cer, r.files);
    // The cheap test sends every clean text render to OCR...
    assert_eq!(r.test_recall, 1.0, "{:?}", r.files);
}

#[test]
fn ocr_reads_noisy_blurred_and_leaning_renders_once_straightened() {
    // Before deskewing, the 5° renders came back as broken, reordered lines
    // (CER 0.40); noise and blur cost nothing.
    let r = pith_pipeline::eval::ocr::run(&fixtures().join("ocr-hard"), None, &OcrConfig::default()).unwrap();
    assert_eq!(r.files.len(), 36);
    let rot: Vec<f64> = r.files.iter().filter(|f| f.file.starts_with("rot-")).map(|f| f.cer).collect();
    assert!(rot.iter().sum::<f64>() / rot.len() as f64 <= 0.05, "{:?}", r.files);
    assert!(r.cer <= 0.05, "CER {:.3}", r.cer);
}

#[test]
fn photos_without_words_do_not_pass_the_text_test() {
    // ...and none of these scikit-image photos (the wheel's `text.png` and
    // `page.png` do carry words and are left out).
    for name in ["chelsea.png", "coffee.png", "astronaut.png", "rocket.jpg", "motorcycle_left.png", "hubble_deep_field.jpg"] {
        let img = pith_pipeline::decode::image::decode(&testdata().join("skimage").join(name), "").unwrap();
        let t = pith_pipeline::decode::ocr::looks_like_text(&img);
        assert!(!t.pass, "{name}: {t:?}");
    }
    let page = pith_pipeline::decode::image::decode(&testdata().join("skimage/page.png"), "").unwrap();
    assert!(pith_pipeline::decode::ocr::looks_like_text(&page).pass, "page.png is a photographed book page");
}

#[test]
fn a_changed_pdf_is_reindexed_and_a_removed_one_leaves_the_index() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("docs");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(fixtures().join("docs/report.pdf"), dir.join("a.pdf")).unwrap();
    let e = engine(&tmp.path().join("store"));
    assert_eq!(ingest_dir(&e, &dir).added, 1);
    assert_eq!(file_name(&top(&e, "herons on the breakwater")), "a.pdf");
    // Replace it with the scanned one: the herons go, the orchard comes.
    std::fs::copy(fixtures().join("docs/scanned.pdf"), dir.join("a.pdf")).unwrap();
    let t = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    std::fs::File::options().write(true).open(dir.join("a.pdf")).unwrap().set_modified(t).unwrap();
    let r = ingest_dir(&e, &dir);
    assert_eq!(r.updated, 1, "{r:?}");
    let h = top(&e, "orchard ladder stone wall");
    assert_eq!((file_name(&h).as_str(), h.page), ("a.pdf", Some(2)));
    assert!(search(&e, "herons resting on the breakwater", 5).iter().all(|h| h.snippet.to_lowercase().find("heron").is_none()));
    std::fs::remove_file(dir.join("a.pdf")).unwrap();
    assert_eq!(ingest_dir(&e, &dir).removed, 1);
    assert!(search(&e, "orchard ladder", 5).is_empty());
}

#[test]
fn with_ocr_off_a_scanned_page_is_a_note_and_the_text_pages_are_indexed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("docs");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(fixtures().join("docs/scanned.pdf"), dir.join("scanned.pdf")).unwrap();
    let e = engine(&tmp.path().join("store"));
    e.set_setting("ocr.mode", Some("off")).unwrap();
    assert_eq!(ingest_dir(&e, &dir).added, 1);
    let errors = e.status(20).unwrap().errors;
    assert!(errors.iter().any(|x| x.reason.contains("page 2: a scanned page")), "{errors:?}");
    let h = top(&e, "this cover page introduces the orchard survey");
    assert_eq!((file_name(&h).as_str(), h.page), ("scanned.pdf", Some(1)));
    assert!(e
        .search(&SearchRequest::new("ladder leans against the stone wall near the cider press", 5))
        .unwrap()
        .iter()
        .all(|h| h.page != Some(2)));
}
