//! One HNSW graph (hnsw_rs) per embedding space, keyed by chunk id.
//!
//! hnsw_rs cannot delete, so removed chunks become tombstones filtered during
//! search; when tombstones pass a quarter of the graph it is rebuilt from the
//! vectors in SQLite. The graph is dumped to disk at checkpoints and reloaded
//! at startup; whatever the dump lacks or has extra is repaired from SQLite.
//!
//! Concurrency: searches never wait for writers. The graph sits behind an
//! `Arc` that a search clones; hnsw_rs inserts through `&self`. Writers
//! (insert, remove, dump, the swap at the end of a rebuild) take `gate`, so a
//! dump never sees a half-inserted point. A rebuild builds the new graph
//! without the gate while changes keep going to the old one and to a log,
//! then replays the log onto the new graph before swapping: nothing that
//! happened during the rebuild is lost.

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use hnsw_rs::prelude::*;

use crate::error::{io_err, PipelineError, Result};
use crate::ids::ChunkId;

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

#[derive(Default)]
struct Sets {
    present: HashSet<ChunkId>,
    tombstones: HashSet<ChunkId>,
}

enum Op {
    Insert(Vec<(ChunkId, Vec<f32>)>),
    Remove(Vec<ChunkId>),
}

pub struct VectorIndex {
    pub name: String,
    pub dim: usize,
    graph: RwLock<Arc<Graph>>,
    sets: RwLock<Sets>,
    gate: Mutex<Option<Vec<Op>>>,
    dirty: AtomicBool,
}

fn new_graph(capacity: usize) -> Graph {
    Hnsw::new(M, capacity.max(1024), MAX_LAYER, EF_CONSTRUCTION, UnitDot)
}

/// A rebuild in progress: see [`VectorIndex::begin_rebuild`].
pub struct Rebuild {
    graph: Graph,
    present: HashSet<ChunkId>,
}

impl Rebuild {
    /// Add vectors from the store (any number of batches).
    pub fn add(&mut self, items: &[(ChunkId, Vec<f32>)], dim: usize) {
        let refs: Vec<(&Vec<f32>, usize)> =
            items.iter().filter(|(id, v)| v.len() == dim && !self.present.contains(id)).map(|(id, v)| (v, id.label())).collect();
        self.graph.parallel_insert(&refs);
        self.present.extend(refs.iter().map(|(_, id)| ChunkId::from_label(*id)));
    }
}

impl VectorIndex {
    fn from_graph(name: &str, dim: usize, graph: Graph, present: HashSet<ChunkId>) -> Self {
        VectorIndex {
            name: name.to_string(),
            dim,
            graph: RwLock::new(Arc::new(graph)),
            sets: RwLock::new(Sets { present, tombstones: HashSet::new() }),
            gate: Mutex::new(None),
            dirty: AtomicBool::new(false),
        }
    }

    pub fn empty(name: &str, dim: usize) -> Self {
        Self::from_graph(name, dim, new_graph(0), HashSet::new())
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
        let present: HashSet<ChunkId> = graph.get_point_indexation().into_iter().map(|p| ChunkId::from_label(p.get_origin_id())).collect();
        let found_dim = graph.get_point_indexation().into_iter().next().map_or(dim, |p| p.get_v().len());
        if found_dim != dim {
            return Err(PipelineError::VectorIndex(format!("dimension {found_dim} != {dim}")));
        }
        Ok(Some(Self::from_graph(name, dim, graph, present)))
    }

    fn graph(&self) -> Arc<Graph> {
        self.graph.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn gate(&self) -> std::sync::MutexGuard<'_, Option<Vec<Op>>> {
        self.gate.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Write the graph to `dir` atomically (dump into a sibling, then swap).
    /// Searches go on meanwhile; writers wait.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let _gate = self.gate();
        if !self.dirty.load(Ordering::Acquire) && dir.exists() {
            return Ok(());
        }
        let tmp = dir.with_extension("tmp");
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).map_err(io_err(&tmp))?;
        let empty = self.sets.read().unwrap_or_else(|p| p.into_inner()).present.is_empty();
        if !empty {
            self.graph().file_dump(&tmp, BASENAME).map_err(|e| PipelineError::VectorIndex(e.to_string()))?;
        }
        let old = dir.with_extension("old");
        let _ = std::fs::remove_dir_all(&old);
        if dir.exists() {
            std::fs::rename(dir, &old).map_err(io_err(dir))?;
        }
        std::fs::rename(&tmp, dir).map_err(io_err(dir))?;
        let _ = std::fs::remove_dir_all(&old);
        self.dirty.store(false, Ordering::Release);
        Ok(())
    }

    pub fn insert(&self, items: &[(ChunkId, Vec<f32>)]) {
        if items.is_empty() {
            return;
        }
        let mut gate = self.gate();
        if let Some(log) = gate.as_mut() {
            log.push(Op::Insert(items.to_vec()));
        }
        self.insert_into(&self.graph(), items);
    }

    fn insert_into(&self, graph: &Graph, items: &[(ChunkId, Vec<f32>)]) {
        let fresh: Vec<(&Vec<f32>, usize)> = {
            let sets = self.sets.read().unwrap_or_else(|p| p.into_inner());
            items.iter().filter(|(id, v)| v.len() == self.dim && !sets.present.contains(id)).map(|(id, v)| (v, id.label())).collect()
        };
        if fresh.len() > 64 {
            graph.parallel_insert(&fresh);
        } else {
            for (v, id) in &fresh {
                graph.insert((v.as_slice(), *id));
            }
        }
        let mut sets = self.sets.write().unwrap_or_else(|p| p.into_inner());
        for (_, label) in fresh {
            let id = ChunkId::from_label(label);
            sets.present.insert(id);
            sets.tombstones.remove(&id);
        }
        self.dirty.store(true, Ordering::Release);
    }

    pub fn remove(&self, ids: &[ChunkId]) {
        if ids.is_empty() {
            return;
        }
        let mut gate = self.gate();
        if let Some(log) = gate.as_mut() {
            log.push(Op::Remove(ids.to_vec()));
        }
        self.remove_ids(ids);
    }

    fn remove_ids(&self, ids: &[ChunkId]) {
        let mut sets = self.sets.write().unwrap_or_else(|p| p.into_inner());
        for id in ids {
            if sets.present.contains(id) {
                sets.tombstones.insert(*id);
                self.dirty.store(true, Ordering::Release);
            }
        }
    }

    /// Ids in the graph that are not tombstoned.
    pub fn live_ids(&self) -> HashSet<ChunkId> {
        let sets = self.sets.read().unwrap_or_else(|p| p.into_inner());
        sets.present.difference(&sets.tombstones).copied().collect()
    }

    pub fn len(&self) -> usize {
        let sets = self.sets.read().unwrap_or_else(|p| p.into_inner());
        sets.present.len() - sets.tombstones.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether tombstones are now a large enough share to rebuild.
    pub fn needs_compaction(&self) -> bool {
        let sets = self.sets.read().unwrap_or_else(|p| p.into_inner());
        sets.tombstones.len() > 64 && sets.tombstones.len() * 4 > sets.present.len()
    }

    /// Start a rebuild: from now on every change is also logged. Call this
    /// *before* reading the store's vectors, feed them to the returned
    /// builder, then [`finish_rebuild`](Self::finish_rebuild).
    pub fn begin_rebuild(&self, capacity: usize) -> Rebuild {
        *self.gate() = Some(Vec::new());
        Rebuild { graph: new_graph(capacity), present: HashSet::new() }
    }

    /// Replay what changed since `begin_rebuild` onto the new graph and swap it in.
    pub fn finish_rebuild(&self, rb: Rebuild) {
        let mut gate = self.gate();
        let log = gate.take().unwrap_or_default();
        let Rebuild { graph, present } = rb;
        {
            let mut sets = self.sets.write().unwrap_or_else(|p| p.into_inner());
            *sets = Sets { present, tombstones: HashSet::new() };
        }
        for op in log {
            match op {
                Op::Insert(items) => self.insert_into(&graph, &items),
                Op::Remove(ids) => self.remove_ids(&ids),
            }
        }
        *self.graph.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(graph);
        self.dirty.store(true, Ordering::Release);
    }

    /// Replace the graph with one built from exactly these vectors.
    pub fn rebuild_with(&self, items: &[(ChunkId, Vec<f32>)]) {
        let mut rb = self.begin_rebuild(items.len());
        rb.add(items, self.dim);
        self.finish_rebuild(rb);
    }

    /// Top `k` (id, cosine similarity), skipping tombstones and ids outside
    /// `allowed`. With a filter, the candidate list grows with how little of
    /// the graph the filter lets through (`selectivity` = allowed / live).
    pub fn search(&self, q: &[f32], k: usize, allowed: Option<&HashSet<ChunkId>>) -> Vec<(ChunkId, f32)> {
        if q.len() != self.dim || k == 0 {
            return Vec::new();
        }
        let graph = self.graph();
        let sets = self.sets.read().unwrap_or_else(|p| p.into_inner());
        if sets.present.is_empty() {
            return Vec::new();
        }
        let tomb = &sets.tombstones;
        let filter = |label: &usize| {
            let id = ChunkId::from_label(*label);
            !tomb.contains(&id) && allowed.is_none_or(|a| a.contains(&id))
        };
        let oversample = match allowed {
            Some(a) => (sets.present.len() / a.len().max(1)).clamp(1, 16),
            None => 1,
        };
        let ef = (k.max(64) * oversample).min(4096);
        let found =
            if tomb.is_empty() && allowed.is_none() { graph.search(q, k, ef) } else { graph.search_filter(q, k, ef, Some(&filter)) };
        found.into_iter().filter(|n| filter(&n.d_id)).map(|n| (ChunkId::from_label(n.d_id), 1.0 - n.distance)).collect()
    }
}

impl super::AnnIndex for VectorIndex {
    fn dim(&self) -> usize {
        self.dim
    }
    fn insert(&self, items: &[(ChunkId, Vec<f32>)]) {
        VectorIndex::insert(self, items)
    }
    fn remove(&self, ids: &[ChunkId]) {
        VectorIndex::remove(self, ids)
    }
    fn search(&self, q: &[f32], k: usize, allowed: Option<&HashSet<ChunkId>>) -> Vec<(ChunkId, f32)> {
        VectorIndex::search(self, q, k, allowed)
    }
    fn live_ids(&self) -> HashSet<ChunkId> {
        VectorIndex::live_ids(self)
    }
    fn len(&self) -> usize {
        VectorIndex::len(self)
    }
    fn needs_compaction(&self) -> bool {
        VectorIndex::needs_compaction(self)
    }
    fn rebuild(&self, capacity: usize, feed: super::Feed<'_>) -> Result<()> {
        let mut rb = self.begin_rebuild(capacity);
        let dim = self.dim;
        let r = feed(&mut |batch| rb.add(batch, dim));
        // Even when the feed failed, swap in what was built plus the logged
        // changes only if the feed completed; otherwise keep the old graph.
        match r {
            Ok(()) => {
                self.finish_rebuild(rb);
                Ok(())
            }
            Err(e) => {
                *self.gate() = None;
                Err(e)
            }
        }
    }
    fn save(&self, dir: &Path) -> Result<()> {
        VectorIndex::save(self, dir)
    }
    /// RAM is estimated: vectors plus hnsw_rs's links (2M ids and distances
    /// per node at layer 0, behind reference-counted points).
    fn footprint(&self) -> super::IndexFootprint {
        let n = self.len();
        let per = self.dim * 4;
        super::IndexFootprint {
            codec: "hnsw_rs (f32)".into(),
            bytes_per_vector: per,
            ram_bytes: n * (per + 2 * M * 16 + 64),
            disk_bytes: 0,
        }
    }
}

/// Exact top `k` by cosine over the given vectors (filtered search over a
/// small allowed set: exact and cheaper than walking the graph).
pub fn exact_top_k(q: &[f32], k: usize, vectors: impl IntoIterator<Item = (ChunkId, Vec<f32>)>) -> Vec<(ChunkId, f32)> {
    let mut scored: Vec<(ChunkId, f32)> =
        vectors.into_iter().filter(|(_, v)| v.len() == q.len()).map(|(id, v)| (id, pith_models::dot(q, &v))).collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    scored.truncate(k);
    scored
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
        let items: Vec<(ChunkId, Vec<f32>)> = (1..200).map(|i| (ChunkId(i as i64), unit(i, 16))).collect();
        ix.insert(&items);
        let q = unit(42, 16);
        assert_eq!(ix.search(&q, 1, None)[0].0, ChunkId(42));
        ix.remove(&[ChunkId(42)]);
        assert!(ix.search(&q, 10, None).iter().all(|(id, _)| *id != ChunkId(42)));
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("space");
        ix.save(&dir).unwrap();
        let back = VectorIndex::load_or_empty("t", 16, &dir);
        // Tombstones are not persisted: reconciliation against the store re-applies them.
        assert_eq!(back.len(), 199);
        assert_eq!(back.search(&unit(7, 16), 1, None)[0].0, ChunkId(7));
    }

    #[test]
    fn changes_during_a_rebuild_are_not_lost() {
        let ix = VectorIndex::empty("t", 16);
        let items: Vec<(ChunkId, Vec<f32>)> = (1..100).map(|i| (ChunkId(i as i64), unit(i, 16))).collect();
        ix.insert(&items);
        // The store's snapshot: ids 1..100. While the new graph is built,
        // id 500 is inserted and id 3 deleted.
        let mut rb = ix.begin_rebuild(100);
        ix.insert(&[(ChunkId(500), unit(500, 16))]);
        ix.remove(&[ChunkId(3)]);
        rb.add(&items, 16);
        ix.finish_rebuild(rb);
        let live = ix.live_ids();
        assert!(live.contains(&ChunkId(500)) && !live.contains(&ChunkId(3)) && live.len() == 99, "{}", live.len());
        assert_eq!(ix.search(&unit(500, 16), 1, None)[0].0, ChunkId(500));
    }

    #[test]
    fn exact_scan_matches_brute_force_order() {
        let q = unit(5, 16);
        let top = exact_top_k(&q, 3, (1..50).map(|i| (ChunkId(i as i64), unit(i, 16))));
        assert_eq!(top[0].0, ChunkId(5));
        assert!(top.windows(2).all(|w| w[0].1 >= w[1].1));
    }
}
