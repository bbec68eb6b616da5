//! The search request path: `SearchParams::to_request` (web API validation),
//! `Filters::sql` (checked by preparing and running it on an in-memory SQLite
//! database with pith's table shape), and tantivy's lenient query parser with
//! pith's analyzer, both on a bare in-RAM index and through
//! `TextIndex::search` on a small index of Unicode documents.
//!
//! Input: up to nine fields separated by 0xFF bytes, in the order
//! q, k, kind, path, after, before, offset, mode, ext; missing fields are None.
#![no_main]

use std::sync::{Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;
use pith_pipeline::ids::{ChunkId, ItemId};
use pith_pipeline::index::text::{analyzer, TextIndex, ANALYZER};
use pith_pipeline::store::ChunkDoc;
use pith_web::api::SearchParams;
use tantivy::query::QueryParser;
use tantivy::schema::{Schema, TextFieldIndexing, TextOptions, FAST, INDEXED, STORED, STRING};

struct Bare {
    parser: QueryParser,
}

fn bare() -> &'static Bare {
    static B: OnceLock<Bare> = OnceLock::new();
    B.get_or_init(|| {
        let mut s = Schema::builder();
        let text = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(ANALYZER)
                .set_index_option(tantivy::schema::IndexRecordOption::WithFreqsAndPositions),
        );
        s.add_u64_field("id", INDEXED | FAST | STORED);
        s.add_u64_field("item", INDEXED | FAST);
        let title = s.add_text_field("title", text.clone());
        let body = s.add_text_field("body", text);
        let path = s.add_text_field("path", tantivy::schema::TEXT);
        s.add_text_field("kind", STRING);
        let index = tantivy::Index::create_in_ram(s.build());
        index.tokenizers().register(ANALYZER, analyzer());
        let mut parser = QueryParser::for_index(&index, vec![title, body, path]);
        parser.set_field_boost(path, 0.5);
        Bare { parser }
    })
}

/// pith's own TextIndex in a temp dir, with a few documents.
fn text_index() -> &'static TextIndex {
    static T: OnceLock<(tempfile_dir::Dir, TextIndex)> = OnceLock::new();
    &T.get_or_init(|| {
        let dir = tempfile_dir::Dir::new();
        let idx = TextIndex::open(&dir.0).expect("open text index");
        let docs = [
            ("Cats and dogs", "notes/cats.md", "The cats were sleeping on the sofa all day."),
            ("Café menu", "menu/café.txt", "Crème brûlée\u{a0}costs €5; e\u{301}clair 3€."),
            ("日本語", "jp/天気.txt", "東京の天気は晴れです。日本語のテキスト。"),
            ("שלום", "he/שלום.txt", "שלום עולם, مرحبا بالعالم"),
            ("Emoji", "fun/😀.txt", "party 🎉 time 😀 with friends\r\nnext line"),
        ];
        let add: Vec<ChunkDoc> = docs
            .iter()
            .enumerate()
            .map(|(i, (title, path, text))| ChunkDoc {
                chunk_id: ChunkId(i as i64 + 1),
                item_id: ItemId(i as i64 + 1),
                kind: "text".into(),
                title: title.to_string(),
                path: path.to_string(),
                text: text.to_string(),
                labels: String::new(),
            })
            .collect();
        idx.apply(&[], &add).expect("index docs");
        (dir, idx)
    })
    .1
}

fn db() -> &'static Mutex<rusqlite::Connection> {
    static D: OnceLock<Mutex<rusqlite::Connection>> = OnceLock::new();
    D.get_or_init(|| {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        c.execute_batch(
            "CREATE TABLE items(id INTEGER PRIMARY KEY, kind TEXT, file_id INTEGER);
             CREATE TABLE files(id INTEGER PRIMARY KEY, path TEXT, mtime INTEGER);
             INSERT INTO files VALUES (1, '/docs/café.TXT', 1700000000), (2, '/img/写真.jpg', 0);
             INSERT INTO items VALUES (1, 'text', 1), (2, 'image', 2);",
        )
        .unwrap();
        Mutex::new(c)
    })
}

mod tempfile_dir {
    /// A directory removed at exit is not needed: libFuzzer exits with
    /// `_exit`, so this just picks a unique path under the temp dir.
    pub struct Dir(pub std::path::PathBuf);
    impl Dir {
        pub fn new() -> Dir {
            let p = std::env::temp_dir().join(format!("pith-fuzz-query-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&p);
            std::fs::create_dir_all(&p).unwrap();
            Dir(p)
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut f: Vec<Option<String>> = data.split(|&b| b == 0xFF).map(|s| Some(String::from_utf8_lossy(s).into_owned())).collect();
    f.resize(9, None);
    let p = SearchParams {
        q: f[0].clone(),
        k: f[1].clone(),
        kind: f[2].clone(),
        path: f[3].clone(),
        after: f[4].clone(),
        before: f[5].clone(),
        offset: f[6].clone(),
        mode: f[7].clone(),
        ext: f[8].clone(),
    };
    if let Ok(req) = p.to_request(10) {
        assert!(!req.q.trim().is_empty() && req.q.len() <= 4096);
        assert!(req.k >= 1 && req.k <= pith_web::api::MAX_K && req.offset <= 10_000);
        let (cond, args) = req.filters.sql();
        let sql = format!("SELECT count(*) FROM items i JOIN files f ON f.id = i.file_id WHERE {cond}");
        let c = db().lock().unwrap_or_else(|e| e.into_inner());
        let n: Result<i64, _> = c.query_row(&sql, rusqlite::params_from_iter(args.iter()), |r| r.get(0));
        if let Err(e) = n {
            panic!("filter SQL failed: {e}\n{sql}\n{args:?}");
        }
    }
    let q = f[0].as_deref().unwrap_or("");
    let (_query, _errors) = bare().parser.parse_query_lenient(q);
    let _ = bare().parser.parse_query(q);
    let _ = text_index().search(q, 10, None).expect("TextIndex::search never fails on a query");
});
