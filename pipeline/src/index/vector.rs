//! One HNSW graph (hnsw_rs) per embedding space, keyed by chunk id.
//!
//! hnsw_rs cannot delete, so removed chunks become tombstones filtered during
//! search; when tombstones pass a quarter of the graph it is rebuilt from the
//! vectors in SQLite. The graph is dumped to disk at checkpoints and reloaded
//! at startup; whatever the dump lacks or has extra is repaired from SQLite.

use std::collections::HashSet;
use std::path::Path;
use std::sync::RwLock;

use hnsw_rs::prelude::*;

use crate::error::{io_err, PipelineError, Result};

/// `1 - a·b` for unit vectors, clamped at 0 so norms a hair above 1 never
/// produce a negative distance (hnsw_rs's `DistDot` asserts on that).
#[derive(Default, Clone, Copy)]
pub struct UnitDot;

impl Distance<f32> for UnitDot {
    fn eval(&self, a: &[f32], b: &[f32]) -> f32 {
        (1.0 - pith_models::dot(a, b)).max(0.0)
    }
}

type Graph = Hnsw<'static, f32, UnitDot>;

const M: usize = 16;
const EF_CONSTRUCTION: usize = 200;
const MAX_LAYER: usize = 16;
const BASENAME: &str = "graph";

struct Inner {
    graph: Graph,
    present: HashSet<usize>,
    tombstones: HashSet<usize>,
    dirty: bool,
}

pub struct VectorIndex {
    pub name: String,
    pub dim: usize,
    inner: RwLock<Inner>,
}

fn new_graph(capacity: usize) -> Graph {
    Hnsw::new(M, capacity.max(1024), MAX_LAYER, EF_CONSTRUCTION, UnitDot)
}

impl VectorIndex {
    pub fn empty(name: &str, dim: usize) -> Self {
        VectorIndex {
            name: name.to_string(),
            dim,
            inner: RwLock::new(Inner { graph: new_graph(0), present: HashSet::new(), tombstones: HashSet::new(), dirty: false }),
        }
    }

    /// Load a dump from `dir`, or an empty index if there is none or it is unreadable.
    pub fn load_or_empty(name: &str, dim: usize, dir: &Path) -> Self {
        match Self::load(name, dim, dir) {
            Ok(Some(ix)) => ix,
            Ok(None) => Self::empty(name, dim),
            Err(e) => {
                tracing::warn!(space = name, error = %e, "vector index dump unreadable; it will be rebuilt from the store");
                Self::empty(name, dim)
            }
        }
    }

    fn load(name: &str, dim: usize, dir: &Path) -> Result<Option<Self>> {
        if !dir.join(format!("{BASENAME}.hnsw.graph")).exists() {
            return Ok(None);
        }
        // The loader must outlive the graph it loads; graphs live for the
        // process, so the loader is leaked (once per load, a few bytes).
        // hnsw_rs unwraps on some malformed dumps; a panic here means "corrupt", not "crash".
        let load = || {
            let io: &'static mut HnswIo = Box::leak(Box::new(HnswIo::new(dir, BASENAME)));
            io.load_hnsw::<f32, UnitDot>()
        };
        let graph: Graph = std::panic::catch_unwind(std::panic::AssertUnwindSafe(load))
            .map_err(|_| PipelineError::VectorIndex("corrupt dump".into()))?
            .map_err(|e| PipelineError::VectorIndex(e.to_string()))?;
        let present: HashSet<usize> = graph.get_point_indexation().into_iter().map(|p| p.get_origin_id()).collect();
        let found_dim = graph.get_point_indexation().into_iter().next().map_or(dim, |p| p.get_v().len());
        if found_dim != dim {
            return Err(PipelineError::VectorIndex(format!("dimension {found_dim} != {dim}")));
        }
        Ok(Some(VectorIndex {
            name: name.to_string(),
            dim,
            inner: RwLock::new(Inner { graph, present, tombstones: HashSet::new(), dirty: false }),
        }))
    }

    /// Write the graph to `dir` atomically (dump into a sibling, then swap).
    pub fn save(&self, dir: &Path) -> Result<()> {
        let mut inner = self.inner.write().unwrap_or_else(|p| p.into_inner());
        if !inner.dirty && dir.exists() {
            return Ok(());
        }
        let tmp = dir.with_extension("tmp");
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).map_err(io_err(&tmp))?;
        if !inner.present.is_empty() {
            inner.graph.file_dump(&tmp, BASENAME).map_err(|e| PipelineError::VectorIndex(e.to_string()))?;
        }
        let old = dir.with_extension("old");
        let _ = std::fs::remove_dir_all(&old);
        if dir.exists() {
            std::fs::rename(dir, &old).map_err(io_err(dir))?;
        }
        std::fs::rename(&tmp, dir).map_err(io_err(dir))?;
        let _ = std::fs::remove_dir_all(&old);
        inner.dirty = false;
        Ok(())
    }

    pub fn insert(&self, items: &[(usize, Vec<f32>)]) {
        if items.is_empty() {
            return;
        }
        let mut inner = self.inner.write().unwrap_or_else(|p| p.into_inner());
        let fresh: Vec<(&Vec<f32>, usize)> = items
            .iter()
            .filter(|(id, v)| v.len() == self.dim && !inner.present.contains(id))
            .map(|(id, v)| (v, *id))
            .collect();
        if fresh.len() > 64 {
            inner.graph.parallel_insert(&fresh);
        } else {
            for (v, id) in &fresh {
                inner.graph.insert((v.as_slice(), *id));
            }
        }
        for (_, id) in fresh {
            inner.present.insert(id);
            inner.tombstones.remove(&id);
        }
        inner.dirty = true;
    }

    pub fn remove(&self, ids: &[usize]) {
        let mut inner = self.inner.write().unwrap_or_else(|p| p.into_inner());
        for id in ids {
            if inner.present.contains(id) {
                inner.tombstones.insert(*id);
                inner.dirty = true;
            }
        }
    }

    /// Ids in the graph that are not tombstoned.
    pub fn live_ids(&self) -> HashSet<usize> {
        let inner = self.inner.read().unwrap_or_else(|p| p.into_inner());
        inner.present.difference(&inner.tombstones).copied().collect()
    }

    pub fn len(&self) -> usize {
        let inner = self.inner.read().unwrap_or_else(|p| p.into_inner());
        inner.present.len() - inner.tombstones.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether tombstones are now a large enough share to rebuild.
    pub fn needs_compaction(&self) -> bool {
        let inner = self.inner.read().unwrap_or_else(|p| p.into_inner());
        inner.tombstones.len() > 64 && inner.tombstones.len() * 4 > inner.present.len()
    }

    /// Replace the graph with one built from exactly these vectors.
    pub fn rebuild(&self, items: &[(usize, Vec<f32>)]) {
        let graph = new_graph(items.len());
        let refs: Vec<(&Vec<f32>, usize)> = items.iter().filter(|(_, v)| v.len() == self.dim).map(|(id, v)| (v, *id)).collect();
        graph.parallel_insert(&refs);
        let present = refs.iter().map(|(_, id)| *id).collect();
        let mut inner = self.inner.write().unwrap_or_else(|p| p.into_inner());
        *inner = Inner { graph, present, tombstones: HashSet::new(), dirty: true };
    }

    /// Top `k` (id, cosine similarity), skipping tombstones and ids outside `allowed`.
    pub fn search(&self, q: &[f32], k: usize, allowed: Option<&HashSet<usize>>) -> Vec<(usize, f32)> {
        if q.len() != self.dim || k == 0 {
            return Vec::new();
        }
        let inner = self.inner.read().unwrap_or_else(|p| p.into_inner());
        if inner.present.is_empty() {
            return Vec::new();
        }
        let tomb = &inner.tombstones;
        let filter = |id: &usize| !tomb.contains(id) && allowed.is_none_or(|a| a.contains(id));
        let ef = k.max(64);
        let found = if tomb.is_empty() && allowed.is_none() {
            inner.graph.search(q, k, ef)
        } else {
            inner.graph.search_filter(q, k, ef, Some(&filter))
        };
        found.into_iter().filter(|n| filter(&n.d_id)).map(|n| (n.d_id, 1.0 - n.distance)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(seed: usize, dim: usize) -> Vec<f32> {
        let mut v: Vec<f32> = (0..dim).map(|i| (((seed * 7919 + i * 104729) % 1000) as f32 / 500.0) - 1.0).collect();
        pith_models::l2_normalize(&mut v);
        v
    }

    #[test]
    fn tombstoned_ids_never_come_back_and_dump_reloads() {
        let ix = VectorIndex::empty("t", 16);
        let items: Vec<(usize, Vec<f32>)> = (1..200).map(|i| (i, unit(i, 16))).collect();
        ix.insert(&items);
        let q = unit(42, 16);
        assert_eq!(ix.search(&q, 1, None)[0].0, 42);
        ix.remove(&[42]);
        assert!(ix.search(&q, 10, None).iter().all(|(id, _)| *id != 42));
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("space");
        ix.save(&dir).unwrap();
        let back = VectorIndex::load_or_empty("t", 16, &dir);
        // Tombstones are not persisted: reconciliation against the store re-applies them.
        assert_eq!(back.len(), 199);
        assert_eq!(back.search(&unit(7, 16), 1, None)[0].0, 7);
    }
}
