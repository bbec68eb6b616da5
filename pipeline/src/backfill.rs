//! Backfill: give every item a vector in every space its loaded model
//! fills. This is how a newly added model (`pith models add clip`) reaches
//! photos indexed before it, and how a changed model re-embeds a store: the
//! new space (state `building`) is filled here while search keeps using the
//! old one, then takes over in one transaction (`Store::switch_space`).
//!
//! Text chunks are re-embedded from their stored text; images are decoded
//! again from their files (a file that is gone or unreadable is skipped: the
//! next scan removes or reports it). Work goes in batches, oldest chunk
//! first, and stops early when the caller cancels.

use serde::Serialize;

use crate::encoders::space;
use crate::engine::{Engine, Space};
use crate::error::Result;
use crate::ids::ChunkId;
use crate::ingest::Progress;

#[derive(Debug, Clone, Default, Serialize)]
pub struct BackfillReport {
    /// (space label, vectors added)
    pub added: Vec<(String, usize)>,
    pub skipped: usize,
    /// Labels whose new space took over from the old one.
    pub switched: Vec<String>,
}

const BATCH: usize = 64;

impl Engine {
    /// Fill every current space's missing vectors; switch finished
    /// `building` spaces over. Safe to run while ingest and search run.
    pub fn backfill(&self, progress: &dyn Progress) -> Result<BackfillReport> {
        let mut report = BackfillReport::default();
        for sp in self.spaces().into_iter().filter(|s| s.current) {
            let (added, skipped) = self.backfill_space(&sp, progress)?;
            if added > 0 {
                report.added.push((sp.row.label.clone(), added));
            }
            report.skipped += skipped;
            if progress.cancelled() {
                break;
            }
            if sp.row.state == "building" && self.reader()?.count_missing_vectors(sp.row.id, space::kinds_of(&sp.row.label))? <= skipped {
                self.switch_space(&sp)?;
                report.switched.push(sp.row.label.clone());
            }
        }
        if !report.added.is_empty() {
            self.checkpoint()?;
        }
        Ok(report)
    }

    fn backfill_space(&self, sp: &Space, progress: &dyn Progress) -> Result<(usize, usize)> {
        let kind = space::kinds_of(&sp.row.label);
        let (mut after, mut added, mut skipped) = (ChunkId(0), 0usize, 0usize);
        loop {
            if progress.cancelled() {
                break;
            }
            let batch = self.reader()?.chunks_missing_vectors(sp.row.id, kind, after, BATCH)?;
            let Some(last) = batch.last() else { break };
            after = last.0;
            let vectors = self.embed_for(&sp.row.label, &batch, &mut skipped)?;
            if vectors.is_empty() {
                continue;
            }
            let ids = self.store()?.add_vectors(sp.row.id, &vectors)?;
            let fresh: Vec<(ChunkId, Vec<f32>)> = vectors.into_iter().filter(|(c, _)| ids.contains(c)).collect();
            added += fresh.len();
            sp.ix.insert(&fresh);
            tracing::info!(space = %sp.row.label, added, "backfill progress");
        }
        Ok((added, skipped))
    }

    fn embed_for(
        &self,
        label: &str,
        batch: &[crate::store::spaces::MissingChunk],
        skipped: &mut usize,
    ) -> Result<Vec<(ChunkId, Vec<f32>)>> {
        let enc = self.encoders()?;
        if label == space::TEXT {
            let texts: Vec<&str> = batch.iter().map(|(_, t, _, _)| t.as_str()).collect();
            let vecs = enc.text.embed(&texts)?;
            return Ok(batch.iter().map(|b| b.0).zip(vecs).collect());
        }
        let mut ok = Vec::new();
        let (mut preps, mut clip_preps) = (Vec::new(), Vec::new());
        for (chunk, _, path, mime) in batch {
            let mime = mime.as_deref().unwrap_or("image/jpeg");
            match crate::decode::image::decode(std::path::Path::new(path), mime) {
                Ok(img) => {
                    if label == space::CLIP {
                        match &enc.clip {
                            Some(c) => clip_preps.push(c.prep.prepare(&img)),
                            None => return Ok(Vec::new()),
                        }
                    } else {
                        preps.push(enc.image.prep.prepare(&img));
                    }
                    ok.push(*chunk);
                }
                Err(e) => {
                    tracing::warn!(path, error = %e, "backfill: image skipped");
                    *skipped += 1;
                }
            }
        }
        if ok.is_empty() {
            return Ok(Vec::new());
        }
        let vecs: Vec<Vec<f32>> = match label {
            space::CLIP => enc.clip.as_ref().map(|c| c.embed_images(clip_preps)).transpose()?.unwrap_or_default(),
            space::CONSE => enc.image.encode(preps)?.iter().map(|o| enc.conse.vector(&o.logits)).collect(),
            _ => enc
                .image
                .encode(preps)?
                .into_iter()
                .map(|o| {
                    let mut f = o.features;
                    pith_models::l2_normalize(&mut f);
                    f
                })
                .collect(),
        };
        Ok(ok.into_iter().zip(vecs).collect())
    }

    /// Make a filled `building` space the active one for its label.
    fn switch_space(&self, sp: &Space) -> Result<()> {
        let retired = self.store()?.switch_space(sp.row.id)?;
        {
            let mut spaces = self.spaces.write().unwrap_or_else(|p| p.into_inner());
            spaces.retain(|s| !retired.contains(&s.row.id));
            for s in spaces.iter_mut().filter(|s| s.row.id == sp.row.id) {
                s.row.state = "active".into();
            }
        }
        for id in retired {
            let _ = std::fs::remove_dir_all(self.cfg.data_dir.join("vectors").join(id.to_string()));
        }
        tracing::info!(space = %sp.row.label, model = %sp.row.model, "new space complete; it now serves searches");
        Ok(())
    }
}
