//! Query banks and hubness tables (see `crate::hubness` for the methods).
//!
//! A cross-modal space's query bank is text pith already has, never the
//! user's evaluation queries: ConSE's class prompts (one vector per
//! ImageNet class), a sample of the store's own text chunks (the first
//! chunks by id, up to `TEXT_BANK`), and, when the user opted in with
//! `search.log-queries on`, the newest searched texts (up to `QUERY_BANK`;
//! once there are `MIN_LOGGED`, they are the whole bank).
//! Sample sizes are rounded down to a power of two, so the bank changes
//! only when what it samples doubles. CLIP's bank is its text encoder's
//! embedding of the class names and the logged queries. A table is built the
//! first time a search in that space uses a correction, kept up to date by
//! every write, and rebuilt at a checkpoint when stale (`HubTable::stale`:
//! the bank changed, or a quarter of the gallery was added or removed).

use crate::encoders::space;
use crate::engine::Engine;
use crate::error::Result;
use crate::hubness::{HubParams, HubTable, Hubness};
use crate::ids::SpaceId;

/// Store text chunks in a bank at most.
pub const TEXT_BANK: usize = 2048;
/// Logged queries (`search.log-queries on`) in a bank at most, newest first.
pub const QUERY_BANK: usize = 2048;
/// Logged queries needed before they make the bank (and DBNorm the default).
pub const MIN_LOGGED: usize = 128;

/// `n` rounded down to a power of two (0 below 16), so a bank changes
/// only when what it samples doubles.
fn bucket(n: usize) -> usize {
    if n < 16 {
        0
    } else {
        1usize << (usize::BITS - 1 - n.leading_zeros())
    }
}

impl Engine {
    /// The correction a space applies: `space.<label>.hubness` if set;
    /// otherwise DBNorm for a cross-modal space once the store has logged
    /// `MIN_LOGGED` queries (its bank is then real queries), else none
    /// (with only class prompts and store text as the bank, no correction
    /// helped: docs/BENCHMARKS.md, "Hubness").
    pub fn hubness_of(&self, label: &str) -> Hubness {
        if let Some(h) = self.setting(&format!("space.{label}.hubness")).and_then(|s| Hubness::parse(&s)) {
            return h;
        }
        let cross = matches!(label, space::CONSE | space::CLIP);
        if cross && self.logged_query_count().unwrap_or(0) > 0 {
            Hubness::DbNorm
        } else {
            Hubness::None
        }
    }

    /// The query bank of a space and its key (`bank_key`: what it is made of).
    pub(crate) fn query_bank(&self, label: &str) -> Result<(Vec<Vec<f32>>, String)> {
        let enc = self.encoders()?;
        // Real queries stand for the query distribution better than any
        // stand-in: once logged, they replace the prompts and the text.
        let queries = self.logged_queries()?;
        let mut bank: Vec<Vec<f32>> = Vec::new();
        match label {
            space::CONSE => {
                if queries.is_empty() {
                    bank = enc.conse.class_vectors().to_vec();
                    if let Some(text_sid) = self.space_id(space::TEXT) {
                        let n = bucket(self.reader()?.count_vectors(text_sid)?.min(TEXT_BANK));
                        bank.extend(self.reader()?.first_vectors(text_sid, n)?.into_iter().map(|(_, v)| v));
                    }
                }
                for part in queries.chunks(256) {
                    let refs: Vec<&str> = part.iter().map(String::as_str).collect();
                    bank.extend(enc.text.embed(&refs)?);
                }
            }
            space::CLIP => {
                if let Some(clip) = &enc.clip {
                    let texts: Vec<String> = if queries.is_empty() {
                        enc.conse.class_names().iter().map(|n| format!("a photo of a {n}")).collect()
                    } else {
                        queries
                    };
                    for part in texts.chunks(64) {
                        let refs: Vec<&str> = part.iter().map(String::as_str).collect();
                        bank.extend(clip.embed_texts(&refs)?);
                    }
                }
            }
            _ => {}
        }
        Ok((bank, self.bank_key(label)?))
    }

    fn build_hub_table(&self, sid: SpaceId, label: &str) -> Result<HubTable> {
        let (bank, key) = self.query_bank(label)?;
        let dim = self.spaces().iter().find(|s| s.row.id == sid).map_or(0, |s| s.row.dim);
        let mut gallery = Vec::new();
        self.reader()?.for_each_vector_batch(sid, None, 4096, |b| {
            gallery.extend(b);
            Ok(())
        })?;
        gallery.sort_by_key(|g| g.0);
        let t = std::time::Instant::now();
        let table = HubTable::build(dim, &bank, key, &gallery, HubParams::default());
        tracing::info!(
            space = label,
            gallery = gallery.len(),
            bank = bank.len(),
            ms = t.elapsed().as_millis() as u64,
            "hubness table built"
        );
        Ok(table)
    }

    /// Run `f` on the space's table, building it first if needed.
    pub(crate) fn with_hub_table<R>(&self, sid: SpaceId, label: &str, f: impl FnOnce(&HubTable) -> R) -> Result<R> {
        {
            let hubs = self.hubs.read().unwrap_or_else(|p| p.into_inner());
            if let Some(t) = hubs.get(&sid) {
                return Ok(f(t));
            }
        }
        let table = self.build_hub_table(sid, label)?;
        let mut hubs = self.hubs.write().unwrap_or_else(|p| p.into_inner());
        let t = match hubs.entry(sid) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => e.insert(self.caught_up(sid, table)?),
        };
        Ok(f(t))
    }

    /// A table built from a snapshot, brought up to the index as it is now
    /// (called under the `hubs` write lock, so no write slips between:
    /// writes that came during the build are in the index already, later
    /// ones wait for the lock and then update the table).
    fn caught_up(&self, sid: SpaceId, mut table: HubTable) -> Result<HubTable> {
        let Some((_, ix)) = self.spaces().into_iter().find(|s| s.row.id == sid).map(|s| (s.row.id, s.ix)) else { return Ok(table) };
        let live = ix.live_ids();
        let have = table.item_ids();
        let gone: Vec<_> = have.difference(&live).copied().collect();
        let missing: Vec<_> = live.difference(&have).copied().collect();
        if !gone.is_empty() {
            table.remove(&gone);
        }
        if !missing.is_empty() {
            table.add(&self.reader()?.vectors_by_ids(sid, &missing)?);
        }
        Ok(table)
    }

    /// The logged queries a bank takes: the newest, as many as the log's
    /// size rounded down to a power of two.
    fn logged_queries(&self) -> Result<Vec<String>> {
        let n = self.logged_query_count()?;
        if n == 0 {
            return Ok(Vec::new());
        }
        self.reader()?.recent_queries(n)
    }

    /// How many logged queries a bank takes: none below `MIN_LOGGED`.
    fn logged_query_count(&self) -> Result<usize> {
        // A store an older pith made may lack the table (a reader never migrates).
        let n = bucket(self.reader()?.count_logged_queries().unwrap_or(0).min(QUERY_BANK));
        Ok(if n < MIN_LOGGED { 0 } else { n })
    }

    /// What `query_bank` is made of, without embedding anything (a
    /// checkpoint compares it with a table's to know if it is stale).
    fn bank_key(&self, label: &str) -> Result<String> {
        let enc = self.encoders()?;
        let classes = enc.conse.class_vectors().len();
        Ok(match label {
            space::CONSE => match self.logged_query_count()? {
                0 => {
                    let have = match self.space_id(space::TEXT) {
                        Some(sid) => self.reader()?.count_vectors(sid)?.min(TEXT_BANK),
                        None => 0,
                    };
                    format!("{label}:classes={classes}+text={}+queries=0", bucket(have))
                }
                q => format!("{label}:classes=0+text=0+queries={q}"),
            },
            space::CLIP if enc.clip.is_some() => match self.logged_query_count()? {
                0 => format!("{label}:classes={}+queries=0", enc.conse.class_names().len()),
                q => format!("{label}:classes=0+queries={q}"),
            },
            _ => format!("{label}:none"),
        })
    }

    /// At a checkpoint: rebuild the loaded tables that went stale.
    pub(crate) fn refresh_hubs(&self) -> Result<()> {
        let loaded: Vec<SpaceId> = self.hubs.read().unwrap_or_else(|p| p.into_inner()).keys().copied().collect();
        for sid in loaded {
            let Some(label) = self.spaces().into_iter().find(|s| s.row.id == sid).map(|s| s.row.label) else { continue };
            let key = self.bank_key(&label)?;
            let stale = self.hubs.read().unwrap_or_else(|p| p.into_inner()).get(&sid).is_some_and(|t| t.stale(&key));
            if stale {
                let table = self.build_hub_table(sid, &label)?;
                let mut hubs = self.hubs.write().unwrap_or_else(|p| p.into_inner());
                let table = self.caught_up(sid, table)?;
                hubs.insert(sid, table);
            }
        }
        Ok(())
    }

    /// k-occurrence statistics of a space's gallery under `queries` (text),
    /// with each correction: `pith eval hubness`.
    pub fn hubness_report(&self, label: &str, queries: &[String], k: usize) -> Result<Vec<(Hubness, crate::hubness::HubnessReport)>> {
        let (sid, ix) = self.space(label).ok_or_else(|| crate::error::PipelineError::BadInput(format!("no active space `{label}`")))?;
        let enc = self.encoders()?;
        let gallery: Vec<crate::ids::ChunkId> = {
            let mut g: Vec<_> = ix.live_ids().into_iter().collect();
            g.sort();
            g
        };
        let mut vecs = Vec::new();
        for part in queries.chunks(256) {
            let refs: Vec<&str> = part.iter().map(String::as_str).collect();
            match label {
                space::CLIP => vecs.extend(enc.clip.as_ref().map(|c| c.embed_texts(&refs)).transpose()?.unwrap_or_default()),
                space::CLAP => vecs.extend(enc.clap.as_ref().map(|c| c.embed_texts(&refs)).transpose()?.unwrap_or_default()),
                _ => vecs.extend(enc.text.embed(&refs)?),
            }
        }
        // One search per query; each correction rescores the same candidates.
        let raw: Vec<Vec<(crate::ids::ChunkId, f32)>> =
            vecs.iter().map(|v| super::candidates::ranked(ix.search(v, 100.max(k), None))).collect();
        let mut out = Vec::new();
        for method in Hubness::ALL {
            let mut lists = Vec::new();
            for hits in &raw {
                let mut hits = hits.clone();
                if method != Hubness::None {
                    self.with_hub_table(sid, label, |t| t.rescore(method, &mut hits))?;
                }
                lists.push(hits.into_iter().map(|h| h.0).collect::<Vec<_>>());
            }
            out.push((method, crate::hubness::k_occurrence(&lists, &gallery, k)));
        }
        Ok(out)
    }
}
