//! A space kept as compressed codes (`quant`) in pith's own HNSW
//! (`index::codes`), with its float32 vectors in a file on disk for
//! re-ranking (`index::rerank`): RAM holds codes, links and the id maps.
//! Chosen per space with `pith config set space.<label>.codec <codec>[+rerank]`.
//!
//! Rows: every inserted vector is appended to `rows.f32` and gets the next
//! row number, which is its label in the graph. `rows[row]` is its chunk id;
//! `present[chunk]` is the chunk's current row. A row is live when it is its
//! chunk's current row and the chunk is not tombstoned; re-inserting a chunk
//! leaves its old row behind as garbage until the next rebuild.
//!
//! Training: a codec needs a sample. Until the space has
//! `CodecSpec::min_training` vectors, search scans the float rows exactly;
//! `needs_compaction` then asks for a rebuild, which trains on the store's
//! vectors. It asks again whenever the space has grown fourfold since the
//! codec was trained (up to 65,536 training vectors).
//!
//! Concurrency: as `index::vector`: searches read-lock the state (writers
//! hold it only for one batch); a rebuild builds a whole new state without
//! any lock while changes are logged, then replays the log and swaps.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use super::codes::{CodeDist, CodeGraph};
use super::rerank::RerankFile;
use super::IndexFootprint;
use crate::error::{io_err, PipelineError, Result};
use crate::ids::ChunkId;
use crate::quant::{self, Codec, CodecSpec, Metric};

/// Training sample cap.
const MAX_SAMPLE: usize = 65_536;

/// A codec setting: the codec and whether to re-rank with float32 from disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodecSetting {
    pub spec: CodecSpec,
    pub rerank: bool,
}

impl std::str::FromStr for CodecSetting {
    type Err = PipelineError;
    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim().to_ascii_lowercase();
        let (spec, rerank) = match s.strip_suffix("+rerank") {
            Some(head) => (head, true),
            None => (s.as_str(), false),
        };
        Ok(CodecSetting { spec: spec.parse()?, rerank })
    }
}

impl std::fmt::Display for CodecSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}", self.spec, if self.rerank { "+rerank" } else { "" })
    }
}

/// The best codec whose code fits `bytes` per vector of dimension `dim`,
/// ordered by the recall measured in docs/BENCHMARKS.md (MiniLM, msmarco):
/// float32, float16, int8, then residual binary (4, 3, 2 bits), binary, PQ32,
/// PQ16, PQ8; every compressed codec re-ranks with float32 from disk.
pub fn codec_for_budget(bytes: usize, dim: usize) -> Result<CodecSetting> {
    let ladder = ["f32", "f16", "int8", "rbq4", "rbq3", "rbq2", "binary", "pq32", "pq16", "pq8"];
    for name in ladder {
        let spec: CodecSpec = name.parse()?;
        if spec.check_dim(dim).is_ok() && spec.code_bytes(dim) <= bytes {
            return Ok(CodecSetting { rerank: spec != CodecSpec::F32, spec });
        }
    }
    Err(PipelineError::BadInput(format!("no codec fits {bytes} bytes per {dim}-d vector (the smallest, pq8, needs 8)")))
}

struct State {
    codec: Option<Arc<dyn Codec>>,
    graph: Option<CodeGraph>,
    file: Arc<RerankFile>,
    rows: Vec<ChunkId>,
    present: HashMap<ChunkId, usize>,
    tombstones: HashSet<ChunkId>,
    trained_on: usize,
}

impl State {
    fn live(&self, row: usize) -> bool {
        let id = self.rows[row];
        self.present.get(&id) == Some(&row) && !self.tombstones.contains(&id)
    }

    fn live_count(&self) -> usize {
        self.present.len() - self.tombstones.len()
    }

    /// Append vectors not already live; encode them if a codec is trained.
    fn add(&mut self, items: &[(ChunkId, Vec<f32>)], dim: usize) -> Result<()> {
        let fresh: Vec<&(ChunkId, Vec<f32>)> = items
            .iter()
            .filter(|(_, v)| v.len() == dim && v.iter().all(|x| x.is_finite()))
            .filter(|(id, _)| !self.present.contains_key(id) || self.tombstones.contains(id))
            .collect();
        if fresh.is_empty() {
            return Ok(());
        }
        let flat: Vec<f32> = fresh.iter().flat_map(|(_, v)| v.iter().copied()).collect();
        let first = self.file.append(&flat)?;
        let mut points = Vec::new();
        for (i, (id, v)) in fresh.into_iter().enumerate() {
            let row = first + i;
            self.rows.push(*id);
            self.present.insert(*id, row);
            self.tombstones.remove(id);
            if let Some(g) = &self.graph {
                points.push((g.dist.point(v), row));
            }
        }
        if let Some(g) = self.graph.as_mut() {
            g.insert(&points);
        }
        Ok(())
    }

    fn remove(&mut self, ids: &[ChunkId]) {
        for id in ids {
            if self.present.contains_key(id) {
                self.tombstones.insert(*id);
            }
        }
    }
}

enum Op {
    Insert(Vec<(ChunkId, Vec<f32>)>),
    Remove(Vec<ChunkId>),
}

pub struct CodedIndex {
    pub name: String,
    pub dim: usize,
    read_only: bool,
    setting: CodecSetting,
    dir: PathBuf,
    state: RwLock<State>,
    gate: Mutex<Option<Vec<Op>>>,
    /// Held across a whole rebuild and a whole save, so the two never
    /// interleave (a save would otherwise delete a rebuild's new row file).
    maint: Mutex<()>,
    dirty: AtomicBool,
    generation: AtomicU64,
}

/// Files of one generation: `rows-G.f32` (float32 rows), `ids-G.bin` (row →
/// chunk id), `codec-G.bin`, `graph-G.bin`. `index.json` names the current
/// generation and is written last, so it is the commit point of a save; a
/// rebuild starts a new generation and never touches the files of the one
/// readers may be using. Older generations are deleted after the commit.
fn file(dir: &Path, what: &str, generation: u64) -> PathBuf {
    let ext = if what == "rows" { "f32" } else { "bin" };
    dir.join(format!("{what}-{generation}.{ext}"))
}

fn rows_path(dir: &Path, generation: u64) -> PathBuf {
    file(dir, "rows", generation)
}

/// The generation of a file named `what-G.ext`.
fn generation_of(name: &str) -> Option<u64> {
    let stem = name.rsplit_once('.')?.0;
    stem.rsplit_once('-')?.1.parse().ok()
}

/// Highest generation any file in `dir` carries.
fn newest_generation(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|d| d.flatten().filter_map(|e| generation_of(&e.file_name().to_string_lossy())).max().unwrap_or(0))
        .unwrap_or(0)
}

impl CodedIndex {
    /// Open the index kept in `dir` (created when missing). What cannot be
    /// read back starts empty; the engine then refills it from the store.
    /// A `read_only` index never writes to `dir` (rows it adds stay in memory).
    pub fn open(name: &str, dim: usize, setting: CodecSetting, dir: &Path, read_only: bool) -> Result<Self> {
        setting.spec.check_dim(dim)?;
        if !read_only {
            std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        }
        let (state, generation) = match Self::load(dim, &setting, dir, read_only) {
            Ok(s) => s,
            Err(e) => {
                if dir.join("index.json").exists() {
                    tracing::warn!(space = name, error = %e, "coded index unreadable; it will be rebuilt from the store");
                }
                // Never reuse a generation whose files may still be on disk.
                let generation = newest_generation(dir) + 1;
                let file = if read_only {
                    RerankFile::memory(dim)
                } else {
                    let _ = std::fs::remove_file(dir.join("index.json"));
                    RerankFile::create(&rows_path(dir, generation), dim)?
                };
                (empty_state(file), generation)
            }
        };
        Ok(CodedIndex {
            name: name.to_string(),
            dim,
            read_only,
            setting,
            dir: dir.to_path_buf(),
            state: RwLock::new(state),
            gate: Mutex::new(None),
            maint: Mutex::new(()),
            dirty: AtomicBool::new(false),
            generation: AtomicU64::new(generation),
        })
    }

    fn load(dim: usize, setting: &CodecSetting, dir: &Path, read_only: bool) -> Result<(State, u64)> {
        let bad = |why: &str| PipelineError::VectorIndex(format!("{}: {why}", dir.display()));
        let meta = std::fs::read_to_string(dir.join("index.json")).map_err(io_err(dir.join("index.json")))?;
        let meta: serde_json::Value = serde_json::from_str(&meta).map_err(|e| PipelineError::VectorIndex(e.to_string()))?;
        let generation = meta["generation"].as_u64().ok_or_else(|| bad("index.json has no generation"))?;
        let trained_on = meta["trained_on"].as_u64().unwrap_or(0) as usize;
        if meta["codec"].as_str() != Some(&setting.spec.to_string()) {
            return Err(bad("saved with another codec"));
        }
        let ids_path = file(dir, "ids", generation);
        let ids = std::fs::read(&ids_path).map_err(io_err(&ids_path))?;
        let rows: Vec<ChunkId> = ids.chunks_exact(8).map(|c| ChunkId(i64::from_le_bytes(c.try_into().unwrap_or([0; 8])))).collect();
        let path = rows_path(dir, generation);
        let rows_file = if read_only {
            RerankFile::open_read_only(&path, dim, rows.len())?
        } else {
            let f = RerankFile::open(&path, dim)?;
            if f.len() < rows.len() {
                return Err(bad("row file is shorter than its ids"));
            }
            // Rows appended after the last save are dropped; reconciliation re-adds them.
            f.truncate(rows.len())?;
            f
        };
        let codec_path = file(dir, "codec", generation);
        let mut state = empty_state(rows_file);
        if codec_path.exists() {
            let codec: Arc<dyn Codec> = Arc::from(quant::from_bytes(&std::fs::read(&codec_path).map_err(io_err(&codec_path))?)?);
            if codec.spec() != setting.spec || codec.dim() != dim {
                return Err(bad("codec file does not match the setting or the dimension"));
            }
            let graph = CodeGraph::load(&file(dir, "graph", generation), codec.clone(), Metric::Dot)?;
            // Graph nodes are rows, in order.
            if graph.len() > rows.len() || graph.labels().iter().enumerate().any(|(node, label)| node != *label) {
                return Err(bad("graph and row ids disagree"));
            }
            state.codec = Some(codec);
            state.graph = Some(graph);
        }
        for (row, id) in rows.iter().enumerate() {
            state.present.insert(*id, row);
        }
        state.rows = rows;
        state.trained_on = trained_on;
        // Rows the graph lacks (ids saved after the graph) are encoded now.
        if let (Some(g), Some(c)) = (state.graph.as_mut(), state.codec.as_ref()) {
            let d = CodeDist::new(c.clone(), Metric::Dot);
            let mut buf = vec![0f32; dim];
            let mut points = Vec::new();
            for row in g.len()..state.rows.len() {
                state.file.read(row, &mut buf)?;
                points.push((d.point(&buf), row));
            }
            g.insert(&points);
        }
        Ok((state, generation))
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    fn gate(&self) -> std::sync::MutexGuard<'_, Option<Vec<Op>>> {
        self.gate.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn setting(&self) -> &CodecSetting {
        &self.setting
    }

    /// Whether a codec has been trained (else searches scan floats).
    pub fn trained(&self) -> bool {
        self.read().codec.is_some()
    }

    fn try_insert(&self, items: &[(ChunkId, Vec<f32>)]) -> Result<()> {
        let mut gate = self.gate();
        if let Some(log) = gate.as_mut() {
            log.push(Op::Insert(items.to_vec()));
        }
        self.write().add(items, self.dim)?;
        self.dirty.store(true, Ordering::Release);
        Ok(())
    }

    /// Candidates from the graph (or an exact scan before training), then
    /// exact re-ranking when the setting asks for it.
    fn search_state(&self, st: &State, q: &[f32], k: usize, allowed: Option<&HashSet<ChunkId>>) -> Result<Vec<(ChunkId, f32)>> {
        let ok = |row: usize| st.live(row) && allowed.is_none_or(|a| a.contains(&st.rows[row]));
        let Some(graph) = &st.graph else {
            let rows = (0..st.rows.len()).filter(|r| ok(*r));
            return Ok(st.file.rerank(q, Metric::Dot, rows, k)?.into_iter().map(|(r, s)| (st.rows[r], s)).collect());
        };
        let live = st.live_count().max(1);
        let oversample = allowed.map_or(1, |a| (live / a.len().max(1)).clamp(1, 16));
        let want = if self.setting.rerank { k.max(100) } else { k };
        let ef = (want.max(64) * oversample).min(4096);
        // The graph's own distance: building one per search would prepare a
        // dummy query (PQ16: 30 µs) just to learn the layout.
        let query = graph.dist.query(q);
        let found = graph.search(&query, want, ef, Some(&ok));
        if self.setting.rerank {
            let exact = st.file.rerank(q, Metric::Dot, found.iter().map(|(r, _)| *r), k)?;
            Ok(exact.into_iter().map(|(r, s)| (st.rows[r], s)).collect())
        } else {
            Ok(found.into_iter().take(k).map(|(r, s)| (st.rows[r], s)).collect())
        }
    }

    /// RAM and disk use.
    pub fn footprint(&self) -> IndexFootprint {
        let st = self.read();
        let code = st.codec.as_ref().map_or(self.dim * 4, |c| c.code_bytes());
        let maps = st.rows.len() * 8 + st.present.len() * 24 + st.tombstones.len() * 16;
        let ram = st.graph.as_ref().map_or(0, |g| g.ram_bytes()) + maps;
        let disk = std::fs::read_dir(&self.dir).map_or(0, |d| d.flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum());
        IndexFootprint { codec: self.setting.to_string(), bytes_per_vector: code, ram_bytes: ram, disk_bytes: disk }
    }
}

fn empty_state(file: RerankFile) -> State {
    State {
        codec: None,
        graph: None,
        file: Arc::new(file),
        rows: Vec::new(),
        present: HashMap::new(),
        tombstones: HashSet::new(),
        trained_on: 0,
    }
}

impl super::AnnIndex for CodedIndex {
    fn dim(&self) -> usize {
        self.dim
    }

    fn footprint(&self) -> IndexFootprint {
        CodedIndex::footprint(self)
    }

    fn insert(&self, items: &[(ChunkId, Vec<f32>)]) {
        if items.is_empty() {
            return;
        }
        if let Err(e) = self.try_insert(items) {
            // The store still has the vectors: the next start's reconciliation adds them.
            tracing::error!(space = %self.name, error = %e, "could not append vectors to the coded index");
        }
    }

    fn remove(&self, ids: &[ChunkId]) {
        if ids.is_empty() {
            return;
        }
        let mut gate = self.gate();
        if let Some(log) = gate.as_mut() {
            log.push(Op::Remove(ids.to_vec()));
        }
        self.write().remove(ids);
        self.dirty.store(true, Ordering::Release);
    }

    fn search(&self, q: &[f32], k: usize, allowed: Option<&HashSet<ChunkId>>) -> Vec<(ChunkId, f32)> {
        if q.len() != self.dim || k == 0 {
            return Vec::new();
        }
        let st = self.read();
        self.search_state(&st, q, k, allowed).unwrap_or_else(|e| {
            tracing::error!(space = %self.name, error = %e, "coded index search failed");
            Vec::new()
        })
    }

    fn live_ids(&self) -> HashSet<ChunkId> {
        let st = self.read();
        st.present.keys().filter(|id| !st.tombstones.contains(id)).copied().collect()
    }

    fn len(&self) -> usize {
        self.read().live_count()
    }

    fn needs_compaction(&self) -> bool {
        let st = self.read();
        let live = st.live_count();
        let garbage = st.rows.len() - live;
        let untrained = st.codec.is_none() && live >= self.setting.spec.min_training();
        let outgrown = st.codec.is_some() && st.trained_on < MAX_SAMPLE && live >= 1024 && live >= 4 * st.trained_on;
        untrained || outgrown || (garbage > 64 && garbage * 4 > st.rows.len())
    }

    fn rebuild(&self, capacity: usize, feed: super::Feed<'_>) -> Result<()> {
        let _maint = self.maint.lock().unwrap_or_else(|p| p.into_inner());
        *self.gate() = Some(Vec::new());
        let built = (|| -> Result<(State, u64)> {
            let generation = self.generation.load(Ordering::Acquire) + 1;
            let file = if self.read_only {
                RerankFile::memory(self.dim)
            } else {
                RerankFile::create(&rows_path(&self.dir, generation), self.dim)?
            };
            let mut st = empty_state(file);
            st.rows.reserve(capacity);
            let mut sample: Vec<f32> = Vec::new();
            let mut failed = None;
            feed(&mut |batch| {
                if failed.is_some() {
                    return;
                }
                let before = st.rows.len();
                if let Err(e) = st.add(batch, self.dim) {
                    failed = Some(e);
                    return;
                }
                let mut buf = vec![0f32; self.dim];
                for row in before..st.rows.len() {
                    if sample.len() < MAX_SAMPLE * self.dim && st.file.read(row, &mut buf).is_ok() {
                        sample.extend_from_slice(&buf);
                    }
                }
            })?;
            if let Some(e) = failed {
                return Err(e);
            }
            let n = sample.len() / self.dim;
            if n >= self.setting.spec.min_training() {
                let codec: Arc<dyn Codec> = Arc::from(quant::train(&self.setting.spec, self.dim, &sample, None)?);
                drop(sample);
                let dist = CodeDist::new(codec.clone(), Metric::Dot);
                let mut graph = CodeGraph::new(codec.clone(), Metric::Dot, st.rows.len());
                let mut buf = vec![0f32; self.dim];
                for start in (0..st.rows.len()).step_by(4096) {
                    let mut points = Vec::with_capacity(4096);
                    for row in start..(start + 4096).min(st.rows.len()) {
                        st.file.read(row, &mut buf)?;
                        points.push((dist.point(&buf), row));
                    }
                    graph.insert(&points);
                }
                st.codec = Some(codec);
                st.graph = Some(graph);
                st.trained_on = n;
            }
            Ok((st, generation))
        })();
        let (mut st, generation) = match built {
            Ok(b) => b,
            Err(e) => {
                *self.gate() = None;
                return Err(e);
            }
        };
        let mut gate = self.gate();
        for op in gate.take().unwrap_or_default() {
            match op {
                Op::Insert(items) => st.add(&items, self.dim)?,
                Op::Remove(ids) => st.remove(&ids),
            }
        }
        // The old generation's files stay until the next save commits this one.
        *self.write() = st;
        self.generation.store(generation, Ordering::Release);
        self.dirty.store(true, Ordering::Release);
        drop(gate);
        Ok(())
    }

    /// Writes this generation's codec, row ids and graph beside its row
    /// file, then `index.json` (the commit point), then deletes older
    /// generations. The `dir` argument is ignored: a coded index lives where
    /// it was opened.
    fn save(&self, _dir: &Path) -> Result<()> {
        let _maint = self.maint.lock().unwrap_or_else(|p| p.into_inner());
        let _gate = self.gate();
        if self.read_only || !self.dirty.load(Ordering::Acquire) {
            return Ok(());
        }
        let st = self.read();
        let generation = self.generation.load(Ordering::Acquire);
        st.file.sync()?;
        let write = |path: PathBuf, bytes: &[u8]| -> Result<()> {
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, bytes).map_err(io_err(&tmp))?;
            std::fs::File::open(&tmp).and_then(|f| f.sync_all()).map_err(io_err(&tmp))?;
            std::fs::rename(&tmp, &path).map_err(io_err(&path))
        };
        let ids: Vec<u8> = st.rows.iter().flat_map(|id| id.0.to_le_bytes()).collect();
        write(file(&self.dir, "ids", generation), &ids)?;
        if let (Some(c), Some(g)) = (&st.codec, &st.graph) {
            write(file(&self.dir, "codec", generation), &quant::to_bytes(c.as_ref()))?;
            g.save(&file(&self.dir, "graph", generation))?;
        }
        let meta = serde_json::json!({
            "codec": self.setting.spec.to_string(), "generation": generation, "trained_on": st.trained_on, "rows": st.rows.len(),
        });
        write(self.dir.join("index.json"), meta.to_string().as_bytes())?;
        if let Ok(d) = std::fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        if let Ok(entries) = std::fs::read_dir(&self.dir) {
            for e in entries.flatten() {
                if generation_of(&e.file_name().to_string_lossy()).is_some_and(|g| g < generation) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        self.dirty.store(false, Ordering::Release);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::AnnIndex;
    use super::*;

    fn unit(seed: usize, dim: usize) -> Vec<f32> {
        let mut v: Vec<f32> = (0..dim).map(|i| (((seed * 7919 + i * 104729) % 1000) as f32 / 500.0) - 1.0).collect();
        pith_models::l2_normalize(&mut v);
        v
    }

    fn items(range: std::ops::Range<usize>, dim: usize) -> Vec<(ChunkId, Vec<f32>)> {
        range.map(|i| (ChunkId(i as i64), unit(i, dim))).collect()
    }

    #[test]
    fn trains_when_big_enough_keeps_changes_made_during_the_rebuild_and_reloads() {
        let d = tempfile::tempdir().unwrap();
        let setting: CodecSetting = "int8+rerank".parse().unwrap();
        let ix = CodedIndex::open("t", 16, setting.clone(), d.path(), false).unwrap();
        ix.insert(&items(1..40, 16));
        assert!(ix.needs_compaction() && !ix.trained(), "39 vectors are enough to train int8");
        assert_eq!(ix.search(&unit(7, 16), 1, None)[0].0, ChunkId(7), "exact scan before training");
        let store = items(1..40, 16);
        ix.rebuild(40, &mut |add| {
            // Changes while the new index is built go to the old one and a log.
            ix.insert(&[(ChunkId(500), unit(500, 16))]);
            ix.remove(&[ChunkId(3)]);
            add(&store);
            Ok(())
        })
        .unwrap();
        assert!(ix.trained() && !ix.needs_compaction());
        let live = ix.live_ids();
        assert!(live.contains(&ChunkId(500)) && !live.contains(&ChunkId(3)) && live.len() == 39, "{}", live.len());
        assert_eq!(ix.search(&unit(500, 16), 1, None)[0].0, ChunkId(500));
        assert!(ix.search(&unit(3, 16), 40, None).iter().all(|(id, _)| *id != ChunkId(3)));
        ix.save(d.path()).unwrap();
        drop(ix);
        let back = CodedIndex::open("t", 16, setting.clone(), d.path(), false).unwrap();
        assert!(back.trained());
        // Tombstones are not saved (reconciliation with the store re-applies them); rows are.
        assert_eq!(back.len(), 40);
        assert_eq!(back.search(&unit(21, 16), 1, None)[0].0, ChunkId(21));
        // A read-only reader adds rows in memory and never writes the files.
        let before: Vec<(String, u64)> = std::fs::read_dir(d.path())
            .unwrap()
            .flatten()
            .map(|e| (e.file_name().to_string_lossy().into(), e.metadata().unwrap().len()))
            .collect();
        let ro = CodedIndex::open("t", 16, setting, d.path(), true).unwrap();
        ro.insert(&[(ChunkId(900), unit(900, 16))]);
        assert_eq!(ro.search(&unit(900, 16), 1, None)[0].0, ChunkId(900));
        let mut after: Vec<(String, u64)> = std::fs::read_dir(d.path())
            .unwrap()
            .flatten()
            .map(|e| (e.file_name().to_string_lossy().into(), e.metadata().unwrap().len()))
            .collect();
        let mut before = before;
        before.sort();
        after.sort();
        assert_eq!(before, after, "a read-only index wrote to the store");
    }

    #[test]
    fn a_budget_picks_the_best_codec_that_fits() {
        let pick = |b| codec_for_budget(b, 384).unwrap().to_string();
        assert_eq!(pick(4096), "f32");
        assert_eq!(pick(384), "int8+rerank");
        assert_eq!(pick(64), "binary+rerank");
        assert_eq!(pick(16), "pq16+rerank");
        assert!(codec_for_budget(4, 384).is_err());
    }
}
