//! The space registry in SQLite. A space is (label, model, dim): the label
//! is what search asks for ("text", "clip"), the model is an identity that
//! changes when the weights change (`ModelCache::model_id`). Changing the
//! model behind a label registers a new space in state `building`; the
//! backfill fills it and then makes it `active`, retiring the old one.

use rusqlite::{params, OptionalExtension};

use super::Store;
use crate::error::Result;
use crate::ids::{ChunkId, SpaceId};

/// Logged queries kept at most (the hubness bank takes up to 2,048).
pub const QUERY_LOG_MAX: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SpaceRow {
    pub id: SpaceId,
    pub label: String,
    pub model: String,
    pub dim: usize,
    /// active | building | retired
    pub state: String,
}

/// A chunk waiting for a vector: (chunk id, chunk text, file path, mime).
pub type MissingChunk = (ChunkId, String, String, Option<String>);

const COLS: &str = "id, coalesce(label, name), model, dim, state";

fn row(r: &rusqlite::Row) -> rusqlite::Result<SpaceRow> {
    Ok(SpaceRow { id: r.get(0)?, label: r.get(1)?, model: r.get(2)?, dim: r.get::<_, i64>(3)? as usize, state: r.get(4)? })
}

/// A chunk of the right kind (`?2`, a JSON list) without a vector in space `?1`.
/// A space over photos only (`["image"]`) embeds pixels: a photo's picture
/// chunk, which has no text (its OCR chunks have). Every other space embeds
/// text: chunks with text, whatever their item's kind.
const MISSING: &str = "i.kind IN (SELECT value FROM json_each(?2)) \
     AND (CASE WHEN ?2 = '[\"image\"]' THEN c.text IS NULL ELSE coalesce(c.text, '') != '' END) \
     AND NOT EXISTS (SELECT 1 FROM vectors v WHERE v.chunk_id = c.id AND v.space_id = ?1)";

fn kinds_json(kinds: &[&str]) -> String {
    serde_json::to_string(kinds).unwrap_or_else(|_| "[]".into())
}

fn family(model: &str) -> &str {
    model.split('@').next().unwrap_or(model)
}

impl Store {
    /// The space for (label, model, dim), registering it if new: `active`
    /// when the label has no active space yet, else `building`. A space
    /// registered before models had identities (no `@`) is adopted by the
    /// same model family.
    pub fn register_space(&self, label: &str, model: &str, dim: usize) -> Result<SpaceRow> {
        let key = format!("{label}:{model}:{dim}");
        let found = self.conn.query_row(&format!("SELECT {COLS} FROM spaces WHERE name = ?1"), [&key], row).optional()?;
        if let Some(s) = found {
            if s.state != "retired" {
                return Ok(s);
            }
        }
        let legacy: Option<SpaceId> = self
            .conn
            .query_row(
                "SELECT id FROM spaces WHERE coalesce(label, name) = ?1 AND model = ?2 AND dim = ?3 AND state = 'active'",
                params![label, family(model), dim as i64],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(id) = legacy {
            self.conn.execute("UPDATE spaces SET model = ?2, name = ?3 WHERE id = ?1", params![id, model, key])?;
            return self.space_row(id);
        }
        let active: Option<SpaceId> = self
            .conn
            .query_row("SELECT id FROM spaces WHERE coalesce(label, name) = ?1 AND state = 'active'", [label], |r| r.get(0))
            .optional()?;
        let state = if active.is_some() { "building" } else { "active" };
        self.conn.execute(
            "INSERT INTO spaces(name, model, dim, label, state) VALUES (?1, ?2, ?3, ?4, ?5) \
             ON CONFLICT(name) DO UPDATE SET state = excluded.state",
            params![key, model, dim as i64, label, state],
        )?;
        let id = self.conn.query_row("SELECT id FROM spaces WHERE name = ?1", [&key], |r| r.get(0))?;
        tracing::info!(label, model, dim, state, "registered embedding space");
        self.space_row(id)
    }

    pub fn space_row(&self, id: SpaceId) -> Result<SpaceRow> {
        Ok(self.conn.query_row(&format!("SELECT {COLS} FROM spaces WHERE id = ?1"), [id], row)?)
    }

    /// Codec settings by space label (labels without one keep float32).
    pub fn space_codecs(&self) -> Result<std::collections::HashMap<String, String>> {
        let mut st = self.conn.prepare("SELECT label, codec FROM space_codecs")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Set (or with `None` clear) the codec of a space label.
    pub fn set_space_codec(&self, label: &str, codec: Option<&str>) -> Result<()> {
        match codec {
            Some(c) => self.conn.execute(
                "INSERT INTO space_codecs(label, codec) VALUES (?1, ?2) ON CONFLICT(label) DO UPDATE SET codec = excluded.codec",
                params![label, c],
            )?,
            None => self.conn.execute("DELETE FROM space_codecs WHERE label = ?1", [label])?,
        };
        Ok(())
    }

    /// Store settings (`settings` table), by key.
    pub fn settings(&self) -> Result<std::collections::HashMap<String, String>> {
        let mut st = self.conn.prepare("SELECT key, value FROM settings")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Set (or with `None` clear) one setting.
    pub fn set_setting(&self, key: &str, value: Option<&str>) -> Result<()> {
        match value {
            Some(v) => self.conn.execute(
                "INSERT INTO settings(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![key, v],
            )?,
            None => self.conn.execute("DELETE FROM settings WHERE key = ?1", [key])?,
        };
        Ok(())
    }

    /// Remember a searched text (`search.log-queries`), keeping only the
    /// newest `QUERY_LOG_MAX`: older ones are never used, so never kept.
    pub fn log_query(&self, text: &str, at: i64) -> Result<()> {
        self.conn.execute(
            "INSERT INTO query_log(text, last_at) VALUES (?1, ?2) ON CONFLICT(text) DO UPDATE SET last_at = excluded.last_at, times = times + 1",
            params![text, at],
        )?;
        self.conn.execute(
            "DELETE FROM query_log WHERE last_at < (SELECT last_at FROM query_log ORDER BY last_at DESC LIMIT 1 OFFSET ?1)",
            [QUERY_LOG_MAX as i64],
        )?;
        Ok(())
    }

    /// The `n` most recently searched texts (ties by text).
    pub fn recent_queries(&self, n: usize) -> Result<Vec<String>> {
        let mut st = self.conn.prepare_cached("SELECT text FROM query_log ORDER BY last_at DESC, text LIMIT ?1")?;
        let rows = st.query_map([n as i64], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn count_logged_queries(&self) -> Result<usize> {
        Ok(self.conn.query_row("SELECT count(*) FROM query_log", [], |r| r.get::<_, i64>(0))? as usize)
    }

    /// Forget every logged query.
    pub fn clear_query_log(&self) -> Result<()> {
        self.conn.execute("DELETE FROM query_log", [])?;
        Ok(())
    }

    /// The first `n` vectors of a space by chunk id (a deterministic sample).
    pub fn first_vectors(&self, space_id: SpaceId, n: usize) -> Result<Vec<(ChunkId, Vec<f32>)>> {
        let mut st = self
            .conn
            .prepare_cached("SELECT chunk_id, data FROM vectors WHERE space_id = ?1 AND codec = 'f32' ORDER BY chunk_id LIMIT ?2")?;
        let rows = st.query_map(params![space_id, n as i64], |r| Ok((r.get::<_, ChunkId>(0)?, r.get::<_, Vec<u8>>(1)?)))?;
        let mut out = Vec::new();
        for r in rows {
            let (id, b) = r?;
            out.push((id, super::blob_to_vec(&b)));
        }
        Ok(out)
    }

    /// Every space that is not retired.
    pub fn live_spaces(&self) -> Result<Vec<SpaceRow>> {
        let mut st = self.conn.prepare(&format!("SELECT {COLS} FROM spaces WHERE state != 'retired' ORDER BY id"))?;
        let rows = st.query_map([], row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Make `id` the active space of its label; the previously active one is
    /// retired and its vectors dropped. One transaction.
    pub fn switch_space(&mut self, id: SpaceId) -> Result<Vec<SpaceId>> {
        let tx = self.conn.transaction()?;
        let label: String = tx.query_row("SELECT coalesce(label, name) FROM spaces WHERE id = ?1", [id], |r| r.get(0))?;
        let old: Vec<SpaceId> = {
            let mut st = tx.prepare("SELECT id FROM spaces WHERE coalesce(label, name) = ?1 AND id != ?2 AND state != 'retired'")?;
            let rows = st.query_map(params![label, id], |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        for o in &old {
            tx.execute("DELETE FROM vectors WHERE space_id = ?1", [o])?;
            tx.execute("UPDATE spaces SET state = 'retired' WHERE id = ?1", [o])?;
        }
        tx.execute("UPDATE spaces SET state = 'active' WHERE id = ?1", [id])?;
        tx.commit()?;
        Ok(old)
    }

    /// Chunks of items of these `kinds` that lack a vector in `space_id`,
    /// after chunk id `after`, in id order: (chunk id, chunk text, file path,
    /// mime). See `MISSING` for which chunks a space embeds.
    pub fn chunks_missing_vectors(&self, space_id: SpaceId, kinds: &[&str], after: ChunkId, limit: usize) -> Result<Vec<MissingChunk>> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT c.id, coalesce(c.text, ''), f.path, i.mime FROM chunks c JOIN items i ON i.id = c.item_id JOIN files f ON f.id = i.file_id \
             WHERE {MISSING} AND c.id > ?3 ORDER BY c.id LIMIT ?4"
        ))?;
        let rows =
            st.query_map(params![space_id, kinds_json(kinds), after, limit as i64], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn count_missing_vectors(&self, space_id: SpaceId, kinds: &[&str]) -> Result<usize> {
        let n: i64 = self.conn.query_row(
            &format!("SELECT count(*) FROM chunks c JOIN items i ON i.id = c.item_id WHERE {MISSING}"),
            params![space_id, kinds_json(kinds)],
            |r| r.get(0),
        )?;
        Ok(n as usize)
    }

    pub fn count_vectors(&self, space_id: SpaceId) -> Result<usize> {
        let n: i64 = self.conn.query_row("SELECT count(*) FROM vectors WHERE space_id = ?1", [space_id], |r| r.get(0))?;
        Ok(n as usize)
    }

    /// Add vectors to one space (backfill); chunks deleted meanwhile are skipped.
    pub fn add_vectors(&mut self, space_id: SpaceId, vectors: &[(ChunkId, Vec<f32>)]) -> Result<Vec<ChunkId>> {
        let tx = self.conn.transaction()?;
        let mut added = Vec::new();
        for (chunk, v) in vectors {
            let n = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO vectors(chunk_id, space_id, codec, data) SELECT ?1, ?2, 'f32', ?3 WHERE EXISTS (SELECT 1 FROM chunks WHERE id = ?1)",
                )?
                .execute(params![chunk, space_id, super::vec_to_blob(v)])?;
            if n > 0 {
                added.push(*chunk);
            }
        }
        tx.commit()?;
        Ok(added)
    }
}
