//! Stored xRAG tokens (migration 0011): per text chunk, the bridge's
//! projection of its embedding into the LM's input space, f16, with the
//! bridge that made it.

use std::collections::HashMap;

use rusqlite::{params, OptionalExtension, Transaction};

use super::Store;
use crate::error::Result;
use crate::ids::ChunkId;

pub(super) fn insert(tx: &Transaction, chunk: ChunkId, bridge: &str, v: &[f32]) -> Result<()> {
    tx.prepare_cached("INSERT OR REPLACE INTO xrag_tokens(chunk_id, bridge, vec) VALUES (?1, ?2, ?3)")?.execute(params![
        chunk,
        bridge,
        pith_models::xrag::to_f16_bytes(v)
    ])?;
    Ok(())
}

impl Store {
    /// The tokens `bridge` made for these chunks (others are absent).
    pub fn xrag_tokens(&self, chunks: &[ChunkId], bridge: &str) -> Result<HashMap<ChunkId, Vec<f32>>> {
        let mut out = HashMap::new();
        let mut st = match self.conn.prepare_cached("SELECT vec FROM xrag_tokens WHERE chunk_id = ?1 AND bridge = ?2") {
            Ok(st) => st,
            // A store from before xRAG tokens (read-only: not migrated): all made on use.
            Err(e) if e.to_string().contains("no such") => return Ok(out),
            Err(e) => return Err(e.into()),
        };
        for &c in chunks {
            if let Some(b) = st.query_row(params![c, bridge], |r| r.get::<_, Vec<u8>>(0)).optional()? {
                out.insert(c, pith_models::xrag::from_f16_bytes(&b));
            }
        }
        Ok(out)
    }

    /// Store tokens made on use; chunks deleted meanwhile are skipped.
    pub fn put_xrag_tokens(&mut self, bridge: &str, tokens: &[(ChunkId, Vec<f32>)]) -> Result<()> {
        let tx = self.conn.transaction()?;
        for (c, v) in tokens {
            let alive: bool = tx.query_row("SELECT EXISTS(SELECT 1 FROM chunks WHERE id = ?1)", [c], |r| r.get(0))?;
            if alive {
                insert(&tx, *c, bridge, v)?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Items with text (what `pith xrag tune` trains on), in id order.
    pub fn text_item_ids(&self) -> Result<Vec<crate::ids::ItemId>> {
        let mut st = self.conn.prepare("SELECT DISTINCT item_id FROM chunks WHERE coalesce(text, '') != '' ORDER BY item_id")?;
        let ids = st.query_map([], |r| r.get(0))?.collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(ids)
    }

    /// Chunks with a token from `bridge`, and all chunks with text.
    pub fn xrag_coverage(&self, bridge: &str) -> Result<(i64, i64)> {
        let have = self.conn.query_row("SELECT count(*) FROM xrag_tokens WHERE bridge = ?1", [bridge], |r| r.get(0))?;
        let all = self.conn.query_row("SELECT count(*) FROM chunks WHERE coalesce(text, '') != ''", [], |r| r.get(0))?;
        Ok((have, all))
    }
}
