//! BM25 over chunks with tantivy. One document per chunk, keyed by the chunk id
//! (a u64 fast field) and carrying its item id, so a file's documents can be
//! deleted with one term. English stemming and stopwords on title and body.

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};

use tantivy::collector::{FilterCollector, TopDocs};
use tantivy::query::QueryParser;
use tantivy::schema::{Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, FAST, INDEXED, STORED, STRING};
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, StopWordFilter, TextAnalyzer,
};
use tantivy::{doc, Index, IndexReader, IndexWriter, ReloadPolicy, Term};

use crate::error::{PipelineError, Result};
use crate::ids::{ChunkId, ItemId};
use crate::store::ChunkDoc;

pub const ANALYZER: &str = "pith_en";

pub struct TextIndex {
    index: Index,
    reader: IndexReader,
    writer: Mutex<Option<IndexWriter>>,
    f_id: Field,
    f_item: Field,
    f_title: Field,
    f_body: Field,
    f_path: Field,
    f_kind: Field,
}

pub fn analyzer() -> TextAnalyzer {
    let mut b = TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .dynamic();
    if let Some(stop) = StopWordFilter::new(Language::English) {
        b = b.filter_dynamic(stop);
    }
    b.filter_dynamic(Stemmer::new(Language::English)).build()
}

fn schema() -> Schema {
    let mut s = Schema::builder();
    let text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default().set_tokenizer(ANALYZER).set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    s.add_u64_field("id", INDEXED | FAST | STORED);
    s.add_u64_field("item", INDEXED | FAST);
    s.add_text_field("title", text.clone());
    s.add_text_field("body", text);
    s.add_text_field("path", tantivy::schema::TEXT);
    s.add_text_field("kind", STRING);
    s.build()
}

impl TextIndex {
    pub fn open(dir: &Path) -> Result<TextIndex> {
        std::fs::create_dir_all(dir).map_err(crate::error::io_err(dir))?;
        let mmap = tantivy::directory::MmapDirectory::open(dir).map_err(|e| PipelineError::TextIndex(e.to_string()))?;
        let index = Index::open_or_create(mmap, schema())?;
        Self::with_index(index)
    }

    /// Open for searching only (never takes tantivy's writer lock); a store
    /// without a text index yet searches an empty one.
    pub fn open_read_only(dir: &Path) -> Result<TextIndex> {
        let index = if dir.join("meta.json").exists() { Index::open_in_dir(dir)? } else { Index::create_in_ram(schema()) };
        Self::with_index(index)
    }

    fn with_index(index: Index) -> Result<TextIndex> {
        index.tokenizers().register(ANALYZER, analyzer());
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        let s = index.schema();
        let f = |n: &str| s.get_field(n).map_err(|e| PipelineError::TextIndex(e.to_string()));
        Ok(TextIndex {
            f_id: f("id")?,
            f_item: f("item")?,
            f_title: f("title")?,
            f_body: f("body")?,
            f_path: f("path")?,
            f_kind: f("kind")?,
            index,
            reader,
            writer: Mutex::new(None),
        })
    }

    fn with_writer<T>(&self, f: impl FnOnce(&mut IndexWriter, &Self) -> Result<T>) -> Result<T> {
        let mut guard = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            let w = self.index.writer_with_num_threads(1, 64_000_000).map_err(|e| match e {
                tantivy::TantivyError::LockFailure(..) => {
                    PipelineError::Locked { dir: Default::default(), holder: "another process (tantivy's writer lock)".into() }
                }
                other => other.into(),
            })?;
            *guard = Some(w);
        }
        f(guard.as_mut().expect("writer just set"), self)
    }

    /// Delete every document of these items and add these chunks, then commit.
    pub fn apply(&self, delete_items: &[ItemId], add: &[ChunkDoc]) -> Result<()> {
        self.apply_raw(delete_items, &[], add)
    }

    /// As [`apply`], also deleting single chunk ids (reconciliation).
    pub fn apply_raw(&self, delete_items: &[ItemId], delete_chunks: &[ChunkId], add: &[ChunkDoc]) -> Result<()> {
        if delete_items.is_empty() && delete_chunks.is_empty() && add.is_empty() {
            return Ok(());
        }
        self.with_writer(|w, me| {
            for &it in delete_items {
                w.delete_term(Term::from_field_u64(me.f_item, it.0 as u64));
            }
            for &c in delete_chunks {
                w.delete_term(Term::from_field_u64(me.f_id, c.0 as u64));
            }
            for d in add {
                let body = if d.labels.is_empty() { d.text.clone() } else { format!("{} {}", d.text, d.labels) };
                w.add_document(doc!(
                    me.f_id => d.chunk_id.0 as u64,
                    me.f_item => d.item_id.0 as u64,
                    me.f_title => d.title.clone(),
                    me.f_body => body,
                    me.f_path => d.path.clone(),
                    me.f_kind => d.kind.clone(),
                ))?;
            }
            w.commit()?;
            Ok(())
        })?;
        self.reader.reload()?;
        Ok(())
    }

    /// Chunk ids of all live documents.
    pub fn ids(&self) -> Result<HashSet<ChunkId>> {
        self.reader.reload()?;
        let searcher = self.reader.searcher();
        let mut out = HashSet::new();
        for seg in searcher.segment_readers() {
            let col = seg.fast_fields().u64("id")?;
            for doc in seg.doc_ids_alive() {
                if let Some(v) = col.first(doc) {
                    out.insert(ChunkId(v as i64));
                }
            }
        }
        Ok(out)
    }

    /// Top `n` chunk ids by BM25 for a user query (lenient parsing: never
    /// fails on syntax). A filter is applied inside the collector, so a
    /// selective filter still yields its best `n` matches. A query that
    /// tantivy parses into something it then cannot run (`foo:*` names a
    /// field that does not exist) is searched again as plain words.
    /// Searches `query` in tantivy's query syntax. A query tantivy cannot
    /// run (an error, or a panic inside its scorers: the query fuzz target
    /// once hit a phrase-scorer debug assertion) is searched again as plain
    /// words, so user input never fails or panics a search.
    pub fn search(&self, query: &str, n: usize, allowed: Option<&Arc<HashSet<ChunkId>>>) -> Result<Vec<(ChunkId, f32)>> {
        match self.search_guarded(query, n, allowed) {
            Ok(hits) => Ok(hits),
            Err(e) => {
                let plain: String = query.chars().map(|c| if c.is_alphanumeric() { c } else { ' ' }).collect();
                tracing::debug!(error = %e, "query syntax failed; searching its words");
                if plain.trim().is_empty() {
                    return Ok(Vec::new());
                }
                self.search_guarded(&plain, n, allowed)
            }
        }
    }

    fn search_guarded(&self, query: &str, n: usize, allowed: Option<&Arc<HashSet<ChunkId>>>) -> Result<Vec<(ChunkId, f32)>> {
        let run = std::panic::AssertUnwindSafe(|| self.search_parsed(query, n, allowed));
        std::panic::catch_unwind(run).unwrap_or_else(|_| {
            tracing::warn!(query, "tantivy panicked on this query");
            Err(PipelineError::Internal("the text index panicked on this query".into()))
        })
    }

    fn search_parsed(&self, query: &str, n: usize, allowed: Option<&Arc<HashSet<ChunkId>>>) -> Result<Vec<(ChunkId, f32)>> {
        let searcher = self.reader.searcher();
        let mut qp = QueryParser::for_index(&self.index, vec![self.f_title, self.f_body, self.f_path]);
        qp.set_field_boost(self.f_path, 0.5);
        let (q, _errors) = qp.parse_query_lenient(query);
        let top = TopDocs::with_limit(n.max(1)).order_by_score();
        let docs = match allowed {
            None => searcher.search(&q, &top)?,
            Some(a) => {
                let a = a.clone();
                let filtered = FilterCollector::new("id".to_string(), move |id: u64| a.contains(&ChunkId(id as i64)), top);
                searcher.search(&q, &filtered)?
            }
        };
        let mut out = Vec::with_capacity(docs.len());
        for (score, addr) in docs {
            let col = searcher.segment_reader(addr.segment_ord).fast_fields().u64("id")?;
            if let Some(id) = col.first(addr.doc_id) {
                out.push((ChunkId(id as i64), score));
            }
        }
        Ok(out)
    }

    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    pub fn kind_field(&self) -> Field {
        self.f_kind
    }
}
