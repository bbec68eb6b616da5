//! Stored sentences with their embeddings (migration 0008), for extractive
//! RAG compression. Vectors are int8 with a per-sentence scale: the scores
//! they feed rank sentences, and int8 keeps cosines within about 0.01.

use std::collections::HashMap;

use rusqlite::{params, Transaction};

use super::Store;
use crate::error::Result;
use crate::ids::ItemId;

/// A sentence ready to store: byte span in the item's text, its token count
/// and its (unit-length) embedding.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSentence {
    pub start: usize,
    pub end: usize,
    pub tokens: usize,
    pub vec: Vec<f32>,
    /// The LM's self-information per token (`rag::tokens`), when scored.
    pub token_bits: Option<Vec<(u16, f32)>>,
}

/// Scale then int8 codes: `v ≈ code · scale`, scale = max |v| / 127.
pub fn encode_i8(v: &[f32]) -> Vec<u8> {
    let max = v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
    let mut out = Vec::with_capacity(4 + v.len());
    out.extend_from_slice(&scale.to_le_bytes());
    out.extend(v.iter().map(|x| (x / scale).round().clamp(-127.0, 127.0) as i8 as u8));
    out
}

pub fn decode_i8(b: &[u8]) -> Vec<f32> {
    if b.len() < 4 {
        return Vec::new();
    }
    let scale = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    b[4..].iter().map(|&c| c as i8 as f32 * scale).collect()
}

/// Token scores' stored form: per token a u16 end offset in the sentence
/// and the bits ×10 in a byte (0.1-bit steps up to 25.5 bits).
pub fn encode_bits(t: &[(u16, f32)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(t.len() * 3);
    for &(e, b) in t {
        out.extend_from_slice(&e.to_le_bytes());
        out.push((b * 10.0).round().clamp(0.0, 255.0) as u8);
    }
    out
}

pub fn decode_bits(b: &[u8]) -> Vec<(u16, f32)> {
    b.chunks_exact(3).map(|c| (u16::from_le_bytes([c[0], c[1]]), c[2] as f32 / 10.0)).collect()
}

pub(super) fn insert(tx: &Transaction, item: ItemId, sents: &[NewSentence]) -> Result<()> {
    let mut st = tx.prepare_cached(
        "INSERT OR REPLACE INTO sentences(item_id, ord, byte_start, byte_end, tokens, vec, token_bits) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for (ord, s) in sents.iter().enumerate() {
        let bits = s.token_bits.as_deref().map(encode_bits);
        st.execute(params![item, ord as i64, s.start as i64, s.end as i64, s.tokens as i64, encode_i8(&s.vec), bits])?;
    }
    Ok(())
}

impl Store {
    /// Stored sentences of each item, in order (items without any are
    /// absent). A store that a newer pith's writer has not opened yet
    /// (read-only beside an older one) lacks the table or the score
    /// column: then there is nothing stored, and contexts make their own.
    pub fn sentences_of_items(&self, items: &[ItemId]) -> Result<HashMap<ItemId, Vec<NewSentence>>> {
        let mut out: HashMap<ItemId, Vec<NewSentence>> = HashMap::new();
        let mut st = match self
            .conn
            .prepare_cached("SELECT byte_start, byte_end, tokens, vec, token_bits FROM sentences WHERE item_id = ?1 ORDER BY ord")
        {
            Ok(st) => st,
            Err(e) if e.to_string().contains("no such") => {
                tracing::debug!(error = %e, "store predates stored sentences");
                return Ok(out);
            }
            Err(e) => return Err(e.into()),
        };
        for &it in items {
            let rows = st.query_map([it], |r| {
                Ok(NewSentence {
                    start: r.get::<_, i64>(0)? as usize,
                    end: r.get::<_, i64>(1)? as usize,
                    tokens: r.get::<_, i64>(2)? as usize,
                    vec: decode_i8(&r.get::<_, Vec<u8>>(3)?),
                    token_bits: r.get::<_, Option<Vec<u8>>>(4)?.map(|b| decode_bits(&b)),
                })
            })?;
            let v: Vec<NewSentence> = rows.collect::<rusqlite::Result<_>>()?;
            if !v.is_empty() {
                out.insert(it, v);
            }
        }
        Ok(out)
    }

    /// Store the sentences of an item that has none yet (computed on first
    /// use); a no-op for an item deleted meanwhile.
    pub fn put_sentences(&mut self, item: ItemId, sents: &[NewSentence]) -> Result<()> {
        let tx = self.conn.transaction()?;
        let alive: bool = tx.query_row("SELECT EXISTS(SELECT 1 FROM items WHERE id = ?1)", [item], |r| r.get(0))?;
        if alive {
            tx.execute("DELETE FROM sentences WHERE item_id = ?1", [item])?;
            insert(&tx, item, sents)?;
        }
        tx.commit()?;
        Ok(())
    }
}

impl Store {
    /// Forget every stored token score (the scorer changed).
    pub fn clear_token_bits(&self) -> Result<()> {
        self.conn.execute("UPDATE sentences SET token_bits = NULL WHERE token_bits IS NOT NULL", [])?;
        Ok(())
    }

    /// Store token scores for sentences (by order) of an item.
    pub fn put_token_bits(&mut self, item: ItemId, bits: &[(usize, Vec<(u16, f32)>)]) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut st = tx.prepare_cached("UPDATE sentences SET token_bits = ?3 WHERE item_id = ?1 AND ord = ?2")?;
            for (ord, b) in bits {
                st.execute(params![item, *ord as i64, encode_bits(b)])?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int8_round_trip_keeps_cosines_close() {
        let v: Vec<f32> = (0..384).map(|i| ((i * 37 % 101) as f32 - 50.0) / 50.0).collect();
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        let v: Vec<f32> = v.iter().map(|x| x / n).collect();
        let d = decode_i8(&encode_i8(&v));
        assert_eq!(d.len(), v.len());
        let cos = pith_models::dot(&v, &d) / pith_models::dot(&d, &d).sqrt();
        assert!(cos > 0.999, "{cos}");
        assert_eq!(decode_i8(&encode_i8(&[0.0; 4])), vec![0.0; 4]);
    }
}
