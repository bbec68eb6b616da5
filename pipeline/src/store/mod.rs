//! SQLite (WAL) is the source of truth: files, items, chunks, vectors,
//! thumbnails and ingest errors. The text and vector indexes are derived from
//! it and are repaired from it at startup.

pub mod lock;
mod migrate;
pub mod rows;
pub mod sentences;
pub mod spaces;
pub mod xrag;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

use crate::error::Result;
pub use rows::*;
pub use sentences::NewSentence;

pub struct Store {
    pub conn: Connection,
    /// The columns chunk rows are read with: a read-only connection to a
    /// store an older pith wrote (no `chunks.page`) reads them as NULL.
    chunk_cols: &'static str,
}

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

pub fn vec_to_blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub fn blob_to_vec(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

impl Store {
    pub fn open(path: &Path) -> Result<Store> {
        let mut conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        migrate::migrate(&mut conn)?;
        Ok(Store { conn, chunk_cols: ChunkRow::COLS })
    }

    /// A read-only connection. In WAL mode it reads the last committed
    /// state without waiting for the writer, and the writer never waits for it.
    pub fn open_reader(path: &Path) -> Result<Store> {
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "query_only", "ON")?;
        let has_pages = conn.prepare("SELECT page, section FROM chunks LIMIT 0").is_ok();
        Ok(Store { conn, chunk_cols: if has_pages { ChunkRow::COLS } else { ChunkRow::COLS_BEFORE_PAGES } })
    }

    pub fn add_root(&self, path: &str) -> Result<()> {
        self.conn.execute("INSERT OR IGNORE INTO roots(path, added_at) VALUES (?1, ?2)", params![path, now()])?;
        Ok(())
    }

    pub fn roots(&self) -> Result<Vec<String>> {
        let mut st = self.conn.prepare("SELECT path FROM roots ORDER BY path")?;
        let rows = st.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn file_by_path(&self, path: &str) -> Result<Option<FileRow>> {
        Ok(self.conn.query_row("SELECT id, path, size, mtime, hash FROM files WHERE path = ?1", [path], FileRow::from_row).optional()?)
    }

    /// Paths of all files whose path starts with `prefix`.
    pub fn paths_under(&self, prefix: &str) -> Result<Vec<String>> {
        let mut st = self.conn.prepare("SELECT path FROM files WHERE substr(path, 1, length(?1)) = ?1")?;
        let rows = st.query_map([prefix], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn touch_file(&self, id: FileId, mtime: i64) -> Result<()> {
        self.conn.execute("UPDATE files SET mtime = ?2 WHERE id = ?1", params![id, mtime])?;
        Ok(())
    }

    /// Chunk ids of every item of a file (what the indexes must drop when it goes).
    pub fn chunk_ids_of_file(&self, file_id: FileId) -> Result<Vec<(ChunkId, ItemId)>> {
        let mut st = self.conn.prepare("SELECT c.id, c.item_id FROM chunks c JOIN items i ON i.id = c.item_id WHERE i.file_id = ?1")?;
        let rows = st.query_map([file_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Replace (or insert) whole files in one transaction: each file with all
    /// its items (a document, a photo, or the time-spanned segments of a
    /// recording). Returns, per file, the new item and chunk ids (chunks in
    /// item order) and the removed (chunk, item) ids.
    pub fn write_files(&mut self, files: &[NewFile]) -> Result<Vec<Written>> {
        let tx = self.conn.transaction()?;
        let mut out = Vec::with_capacity(files.len());
        for f in files {
            let old_file: Option<FileId> = tx.query_row("SELECT id FROM files WHERE path = ?1", [&f.path], |r| r.get(0)).optional()?;
            let mut removed = Vec::new();
            if let Some(fid) = old_file {
                let mut st =
                    tx.prepare_cached("SELECT c.id, c.item_id FROM chunks c JOIN items i ON i.id = c.item_id WHERE i.file_id = ?1")?;
                removed = st.query_map([fid], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
                tx.execute("DELETE FROM files WHERE id = ?1", [fid])?;
            }
            tx.execute(
                "INSERT INTO files(path, size, mtime, hash, ingested_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![f.path, f.size as i64, f.mtime, f.hash, now()],
            )?;
            let file_id = FileId(tx.last_insert_rowid());
            let mut item_ids = Vec::with_capacity(f.items.len());
            let mut chunk_ids = Vec::new();
            for it in &f.items {
                let (start_ms, end_ms) = (it.span_ms.map(|s| s.0), it.span_ms.map(|s| s.1));
                tx.prepare_cached(
                    "INSERT INTO items(file_id, kind, title, mime, width, height, labels, start_ms, end_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                )?
                .execute(params![file_id, it.kind.as_str(), it.title, it.mime, it.width, it.height, it.labels, start_ms, end_ms])?;
                let item_id = ItemId(tx.last_insert_rowid());
                if let Some(thumb) = &it.thumbnail {
                    tx.execute("INSERT INTO thumbnails(item_id, mime, data) VALUES (?1, 'image/jpeg', ?2)", params![item_id, thumb])?;
                }
                for (ord, c) in it.chunks.iter().enumerate() {
                    tx.prepare_cached(
                        "INSERT INTO chunks(item_id, ord, byte_start, byte_end, start_ms, end_ms, text, page, section) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    )?
                    .execute(params![
                        item_id,
                        ord as i64,
                        c.start as i64,
                        c.end as i64,
                        c.span_ms.map(|s| s.0),
                        c.span_ms.map(|s| s.1),
                        c.text,
                        c.page,
                        c.section
                    ])?;
                    let cid = ChunkId(tx.last_insert_rowid());
                    for (space, v) in &c.vectors {
                        tx.prepare_cached("INSERT INTO vectors(chunk_id, space_id, codec, data) VALUES (?1, ?2, 'f32', ?3)")?
                            .execute(params![cid, space, vec_to_blob(v)])?;
                    }
                    if let Some((bridge, v)) = &c.xrag {
                        xrag::insert(&tx, cid, bridge, v)?;
                    }
                    chunk_ids.push(cid);
                }
                sentences::insert(&tx, item_id, &it.sentences)?;
                item_ids.push(item_id);
            }
            tx.execute("DELETE FROM ingest_errors WHERE path = ?1", [&f.path])?;
            for note in &f.notes {
                tx.execute("INSERT INTO ingest_errors(path, reason, at) VALUES (?1, ?2, ?3)", params![f.path, note, now()])?;
            }
            out.push(Written { item_ids, chunk_ids, removed });
        }
        tx.commit()?;
        Ok(out)
    }

    /// Delete a file and everything made from it; returns removed (chunk, item) ids.
    pub fn delete_file(&mut self, path: &str) -> Result<Vec<(ChunkId, ItemId)>> {
        let tx = self.conn.transaction()?;
        let fid: Option<FileId> = tx.query_row("SELECT id FROM files WHERE path = ?1", [path], |r| r.get(0)).optional()?;
        let mut removed = Vec::new();
        if let Some(fid) = fid {
            let mut st = tx.prepare("SELECT c.id, c.item_id FROM chunks c JOIN items i ON i.id = c.item_id WHERE i.file_id = ?1")?;
            removed = st.query_map([fid], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
            drop(st);
            tx.execute("DELETE FROM files WHERE id = ?1", [fid])?;
        }
        tx.execute("DELETE FROM ingest_errors WHERE path = ?1", [path])?;
        tx.commit()?;
        Ok(removed)
    }

    pub fn record_error(&self, path: &str, reason: &str) -> Result<()> {
        self.conn.execute("DELETE FROM ingest_errors WHERE path = ?1", [path])?;
        self.conn.execute("INSERT INTO ingest_errors(path, reason, at) VALUES (?1, ?2, ?3)", params![path, reason, now()])?;
        Ok(())
    }

    pub fn errors(&self, limit: usize) -> Result<Vec<ErrorRow>> {
        let mut st = self.conn.prepare("SELECT path, reason, at FROM ingest_errors ORDER BY id DESC LIMIT ?1")?;
        let rows = st.query_map([limit as i64], |r| Ok(ErrorRow { path: r.get(0)?, reason: r.get(1)?, at: r.get(2)? }))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn counts(&self) -> Result<Counts> {
        let q = |sql: &str| -> Result<i64> { Ok(self.conn.query_row(sql, [], |r| r.get(0))?) };
        Ok(Counts {
            files: q("SELECT count(*) FROM files")?,
            text_items: q("SELECT count(*) FROM items WHERE kind = 'text'")?,
            image_items: q("SELECT count(*) FROM items WHERE kind = 'image'")?,
            audio_items: q("SELECT count(*) FROM items WHERE kind = 'audio'")?,
            video_items: q("SELECT count(*) FROM items WHERE kind = 'video'")?,
            document_items: q("SELECT count(*) FROM items WHERE kind IN ('pdf', 'document', 'spreadsheet', 'slides', 'ebook')")?,
            ocr_items: q("SELECT count(DISTINCT c.item_id) FROM chunks c JOIN items i ON i.id = c.item_id \
                 WHERE i.kind = 'image' AND coalesce(c.text, '') != ''")?,
            chunks: q("SELECT count(*) FROM chunks")?,
            vectors: q("SELECT count(*) FROM vectors")?,
            errors: q("SELECT count(*) FROM ingest_errors")?,
        })
    }

    /// Every live chunk with what the text index needs.
    pub fn all_chunk_docs(&self) -> Result<Vec<ChunkDoc>> {
        self.chunk_docs_where("1", [])
    }

    pub fn chunk_docs(&self, ids: &[ChunkId]) -> Result<Vec<ChunkDoc>> {
        let mut out = Vec::new();
        for id in ids {
            out.extend(self.chunk_docs_where("c.id = ?1", [*id])?);
        }
        Ok(out)
    }

    fn chunk_docs_where<P: rusqlite::Params>(&self, cond: &str, p: P) -> Result<Vec<ChunkDoc>> {
        let sql = format!(
            "SELECT c.id, c.item_id, i.kind, i.title, f.path, coalesce(c.text, ''), coalesce(i.labels, '') \
             FROM chunks c JOIN items i ON i.id = c.item_id JOIN files f ON f.id = i.file_id WHERE {cond}"
        );
        let mut st = self.conn.prepare(&sql)?;
        let rows = st.query_map(p, |r| {
            Ok(ChunkDoc {
                chunk_id: r.get(0)?,
                item_id: r.get(1)?,
                kind: r.get(2)?,
                title: r.get(3)?,
                path: r.get(4)?,
                text: r.get(5)?,
                labels: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// All vectors of a space, as (chunk id, vector).
    pub fn vectors_of_space(&self, space_id: SpaceId) -> Result<Vec<(ChunkId, Vec<f32>)>> {
        let mut st = self.conn.prepare("SELECT chunk_id, data FROM vectors WHERE space_id = ?1 AND codec = 'f32'")?;
        let rows = st.query_map([space_id], |r| Ok((r.get(0)?, blob_to_vec(&r.get::<_, Vec<u8>>(1)?))))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Vectors of a space in batches of `batch`, so a whole space is never
    /// held in memory at once; `only` restricts to these chunk ids.
    pub fn for_each_vector_batch(
        &self,
        space_id: SpaceId,
        only: Option<&[ChunkId]>,
        batch: usize,
        mut f: impl FnMut(Vec<(ChunkId, Vec<f32>)>) -> Result<()>,
    ) -> Result<()> {
        let mut buf = Vec::with_capacity(batch);
        let mut push = |id: ChunkId, data: Vec<u8>, buf: &mut Vec<(ChunkId, Vec<f32>)>| -> Result<()> {
            buf.push((id, blob_to_vec(&data)));
            if buf.len() >= batch {
                f(std::mem::take(buf))?;
            }
            Ok(())
        };
        match only {
            None => {
                let mut st = self.conn.prepare("SELECT chunk_id, data FROM vectors WHERE space_id = ?1 AND codec = 'f32'")?;
                let mut rows = st.query([space_id])?;
                while let Some(r) = rows.next()? {
                    push(r.get(0)?, r.get(1)?, &mut buf)?;
                }
            }
            Some(ids) => {
                let mut st = self.conn.prepare_cached(
                    "SELECT chunk_id, data FROM vectors WHERE space_id = ?1 AND codec = 'f32' AND chunk_id IN (SELECT value FROM json_each(?2))",
                )?;
                for part in ids.chunks(batch.max(1)) {
                    let list = format!("[{}]", part.iter().map(ChunkId::to_string).collect::<Vec<_>>().join(","));
                    let mut rows = st.query(params![space_id, list])?;
                    while let Some(r) = rows.next()? {
                        push(r.get(0)?, r.get(1)?, &mut buf)?;
                    }
                }
            }
        }
        if !buf.is_empty() {
            f(buf)?;
        }
        Ok(())
    }

    /// The vectors of these chunks in one space (chunks without one are absent).
    pub fn vectors_by_ids(&self, space_id: SpaceId, ids: &[ChunkId]) -> Result<Vec<(ChunkId, Vec<f32>)>> {
        let mut out = Vec::with_capacity(ids.len());
        self.for_each_vector_batch(space_id, Some(ids), 2048, |b| {
            out.extend(b);
            Ok(())
        })?;
        Ok(out)
    }

    pub fn vector_ids_of_space(&self, space_id: SpaceId) -> Result<std::collections::HashSet<ChunkId>> {
        let mut st = self.conn.prepare("SELECT chunk_id FROM vectors WHERE space_id = ?1 AND codec = 'f32'")?;
        let rows = st.query_map([space_id], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Ids of every image item (the gallery of a caption evaluation).
    pub fn image_item_ids(&self) -> Result<Vec<ItemId>> {
        let mut st = self.conn.prepare("SELECT id FROM items WHERE kind = 'image' ORDER BY id")?;
        let rows = st.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Item id of each chunk id given (ids that no longer exist are absent).
    pub fn items_of_chunks(&self, ids: &[ChunkId]) -> Result<std::collections::HashMap<ChunkId, ItemId>> {
        let mut out = std::collections::HashMap::with_capacity(ids.len());
        // One cached statement whatever the number of ids (no SQL text built per search).
        let list = format!("[{}]", ids.iter().map(ChunkId::to_string).collect::<Vec<_>>().join(","));
        let mut st = self.conn.prepare_cached("SELECT id, item_id FROM chunks WHERE id IN (SELECT value FROM json_each(?1))")?;
        let rows = st.query_map([list], |r| Ok((r.get(0)?, r.get(1)?)))?;
        for row in rows {
            let (c, it) = row?;
            out.insert(c, it);
        }
        Ok(out)
    }

    pub fn vector(&self, chunk_id: ChunkId, space_id: SpaceId) -> Result<Option<Vec<f32>>> {
        let mut st = self.conn.prepare_cached("SELECT data FROM vectors WHERE chunk_id = ?1 AND space_id = ?2 AND codec = 'f32'")?;
        Ok(st.query_row(params![chunk_id, space_id], |r| r.get::<_, Vec<u8>>(0)).optional()?.map(|b| blob_to_vec(&b)))
    }

    // Search hydrates every hit with these, so their statements are cached.
    pub fn item(&self, item_id: ItemId) -> Result<Option<ItemRow>> {
        let mut st = self.conn.prepare_cached(ItemRow::BY_ID)?;
        Ok(st.query_row([item_id], ItemRow::from_row).optional()?)
    }

    pub fn chunk(&self, chunk_id: ChunkId) -> Result<Option<ChunkRow>> {
        let mut st = self.conn.prepare_cached(&format!("SELECT {} FROM chunks WHERE id = ?1", self.chunk_cols))?;
        Ok(st.query_row([chunk_id], ChunkRow::from_row).optional()?)
    }

    /// Every chunk of an item, in order.
    pub fn chunks_of_item(&self, item_id: ItemId) -> Result<Vec<ChunkRow>> {
        let mut st = self.conn.prepare(&format!("SELECT {} FROM chunks WHERE item_id = ?1 ORDER BY ord", self.chunk_cols))?;
        let rows = st.query_map([item_id], ChunkRow::from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn first_chunk_of_item(&self, item_id: ItemId) -> Result<Option<ChunkRow>> {
        let mut st =
            self.conn.prepare_cached(&format!("SELECT {} FROM chunks WHERE item_id = ?1 ORDER BY ord LIMIT 1", self.chunk_cols))?;
        Ok(st.query_row([item_id], ChunkRow::from_row).optional()?)
    }

    pub fn thumbnail(&self, item_id: ItemId) -> Result<Option<(String, Vec<u8>)>> {
        let mut st = self.conn.prepare_cached("SELECT mime, data FROM thumbnails WHERE item_id = ?1")?;
        Ok(st.query_row([item_id], |r| Ok((r.get(0)?, r.get(1)?))).optional()?)
    }

    /// Chunk ids that pass a filter, for filtered search.
    pub fn chunk_ids_matching(&self, f: &crate::types::Filters) -> Result<std::collections::HashSet<ChunkId>> {
        let (cond, args) = f.sql();
        let sql = format!("SELECT c.id FROM chunks c JOIN items i ON i.id = c.item_id JOIN files f ON f.id = i.file_id WHERE {cond}");
        let mut st = self.conn.prepare(&sql)?;
        let rows = st.query_map(rusqlite::params_from_iter(args.iter()), |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Live chunk ids (all of them), for reconciliation.
    pub fn chunk_ids(&self) -> Result<std::collections::HashSet<ChunkId>> {
        let mut st = self.conn.prepare("SELECT id FROM chunks")?;
        let rows = st.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// Read connections for searches and status, reused across calls so their
/// cached statements stay warm. Any number may be out at once.
pub struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<Store>>,
}

pub struct Reader<'a> {
    store: Option<Store>,
    pool: &'a ReadPool,
}

impl ReadPool {
    const KEEP: usize = 16;

    pub fn new(path: &Path) -> ReadPool {
        ReadPool { path: path.to_path_buf(), idle: Mutex::new(Vec::new()) }
    }

    pub fn get(&self) -> Result<Reader<'_>> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let store = match idle {
            Some(s) => s,
            None => Store::open_reader(&self.path)?,
        };
        Ok(Reader { store: Some(store), pool: self })
    }
}

impl std::ops::Deref for Reader<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        self.store.as_ref().expect("reader present until drop")
    }
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        if let Some(s) = self.store.take() {
            let mut idle = self.pool.idle.lock().unwrap_or_else(|p| p.into_inner());
            if idle.len() < ReadPool::KEEP {
                idle.push(s);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(title: &str, ms: (i64, i64)) -> NewItem {
        let chunk = |a, b| NewChunk {
            xrag: None,
            page: None,
            section: None,
            start: 0,
            end: 5,
            span_ms: Some((a, b)),
            text: Some(format!("{title} {a}")),
            vectors: vec![],
        };
        NewItem {
            kind: Kind::Text,
            title: title.into(),
            mime: None,
            width: None,
            height: None,
            labels: None,
            thumbnail: None,
            span_ms: Some(ms),
            chunks: vec![chunk(ms.0, ms.0 + 500), chunk(ms.0 + 500, ms.1)],
            sentences: Vec::new(),
        }
    }

    #[test]
    fn one_file_yields_many_time_spanned_items() {
        let d = tempfile::tempdir().unwrap();
        let mut s = Store::open(&d.path().join("s.sqlite")).unwrap();
        let file = NewFile {
            path: "/rec/meeting.wav".into(),
            size: 10,
            mtime: 1,
            hash: "h".into(),
            items: vec![segment("intro", (0, 1000)), segment("tuesday", (1000, 2000))],
            notes: vec![],
        };
        let w = s.write_files(std::slice::from_ref(&file)).unwrap();
        assert_eq!((w[0].item_ids.len(), w[0].chunk_ids.len()), (2, 4));
        let spans: Vec<(i64, i64)> = s
            .conn
            .prepare("SELECT start_ms, end_ms FROM items ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(spans, vec![(0, 1000), (1000, 2000)]);
        // Replacing the file reports every old (chunk, item) pair; deleting it removes all.
        let w2 = s.write_files(std::slice::from_ref(&file)).unwrap();
        assert_eq!(w2[0].removed.len(), 4);
        assert_eq!(s.delete_file("/rec/meeting.wav").unwrap().len(), 4);
        assert_eq!(s.counts().unwrap().chunks, 0);
    }
}
