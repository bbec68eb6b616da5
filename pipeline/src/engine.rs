//! The engine: one store directory (SQLite + tantivy + one HNSW per space) and
//! the encoders. Synchronous and thread-safe; the web layer calls it from
//! blocking tasks.
//!
//! Two ways to open a store. [`Engine::open`] is the writer: it takes the
//! store's exclusive lock (one writer per store, see `store::lock`), repairs
//! the indexes and checkpoints them. [`Engine::open_read_only`] is for
//! `search`, `status`, `similar` and `check` while a writer runs: it takes no
//! lock, writes nothing, and catches the in-memory graphs up with SQLite.
//! Reads (search, hydration, status) use a pool of read-only SQLite
//! connections, so in WAL mode they never wait for the writer.
//!
//! Write order is SQLite first (one transaction per batch), then the derived
//! indexes. A crash between the two leaves indexes behind or ahead of SQLite;
//! [`Engine::open`] repairs them, and search only returns ids that SQLite still
//! has, so no result ever points at nothing.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, RwLock};

use crate::policy::IgnorePolicy;
use crate::store::lock::WriterLock;
use crate::store::spaces::SpaceRow;
use crate::store::{ReadPool, Reader};

use pith_models::ModelCache;
use serde::Serialize;

use crate::conse::ConseConfig;
use crate::encoders::{space, Encoders};
use crate::error::{io_err, PipelineError, Result};
use crate::ids::{ChunkId, FileId, ItemId, SpaceId};
use crate::index::coded::{CodecSetting, CodedIndex};
use crate::index::text::TextIndex;
use crate::index::vector::VectorIndex;
use crate::index::{AnnIndex, IndexFootprint};
use crate::quant::CodecSpec;
use crate::store::{Counts, ErrorRow, NewFile, Store, Written};

#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub data_dir: PathBuf,
    pub models: ModelCache,
    /// Inference threads per model (see `TextEncoder::load` for how the
    /// text model uses them).
    pub threads: usize,
    /// Text files are read up to this many bytes.
    pub max_text_bytes: u64,
    pub chunk_tokens: usize,
    pub chunk_overlap: usize,
    pub conse: ConseConfig,
    pub rrf_k: f32,
    pub weights: crate::types::Weights,
    pub video: crate::types::VideoConfig,
    /// Text in images and scanned PDF pages.
    pub ocr: crate::decode::ocr::OcrConfig,
}

impl EngineConfig {
    pub fn new(data_dir: impl Into<PathBuf>, models: ModelCache) -> Self {
        EngineConfig {
            data_dir: data_dir.into(),
            models,
            threads: 2,
            max_text_bytes: 8 << 20,
            chunk_tokens: 200,
            chunk_overlap: 40,
            conse: ConseConfig::default(),
            rrf_k: 60.0,
            weights: Default::default(),
            video: Default::default(),
            ocr: Default::default(),
        }
    }

    pub fn default_data_dir() -> PathBuf {
        if let Some(p) = std::env::var_os("PITH_DATA") {
            return PathBuf::from(p);
        }
        let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
        home.join(".local/share/pith")
    }
}

pub struct Engine {
    pub cfg: EngineConfig,
    /// What ingest and the watcher never index.
    pub policy: IgnorePolicy,
    /// The writer connection; `None` when opened read-only.
    store: Option<Mutex<Store>>,
    readers: ReadPool,
    _lock: Option<WriterLock>,
    pub(crate) text: TextIndex,
    /// Every live space (see `store::spaces`), with its graph.
    pub(crate) spaces: RwLock<Vec<Space>>,
    /// Serialises codec changes and checkpoints (both rebuild and save indexes).
    maintenance: Mutex<()>,
    encoders: OnceLock<Encoders>,
    encoders_lock: Mutex<()>,
    /// Store settings (the `settings` table), read at open, written through.
    settings: RwLock<HashMap<String, String>>,
    /// Hubness statistics per space, built on first use (`search::banks`)
    /// and kept up to date by writes.
    pub(crate) hubs: RwLock<HashMap<SpaceId, crate::hubness::HubTable>>,
    /// Tokenizers that count RAG budgets, loaded on first use (`rag::budget`).
    pub(crate) tokenizers: RwLock<HashMap<String, std::sync::Arc<tokenizers::Tokenizer>>>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Consistency {
    pub chunks: usize,
    pub text_docs: usize,
    pub text_missing: usize,
    pub text_extra: usize,
    pub vectors_missing: usize,
    pub vectors_extra: usize,
}

impl Consistency {
    pub fn is_consistent(&self) -> bool {
        self.text_missing + self.text_extra + self.vectors_missing + self.vectors_extra == 0
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Status {
    pub data_dir: String,
    pub counts: Counts,
    pub spaces: Vec<SpaceStatus>,
    pub errors: Vec<ErrorRow>,
}

/// A live embedding space and its graph.
#[derive(Clone)]
pub struct Space {
    pub row: SpaceRow,
    /// Its model is the one loaded now: ingest writes here, backfill fills it.
    pub current: bool,
    pub ix: Arc<dyn AnnIndex>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SpaceStatus {
    pub label: String,
    pub model: String,
    pub dim: usize,
    pub state: String,
    pub vectors: usize,
    /// Items' chunks still waiting for a vector in this space.
    pub pending: usize,
    /// Codec, bytes per vector, RAM and disk.
    pub index: IndexFootprint,
}

/// The spaces the installed models fill: (label, model identity, dim).
fn wanted_spaces(models: &pith_models::ModelCache) -> Vec<(&'static str, String, usize)> {
    let id = |n: &str| models.model_id(n).unwrap_or_else(|| n.to_string());
    let (text, image) = (id(pith_models::catalog::TEXT_MODEL), id(pith_models::catalog::IMAGE_MODEL));
    let mut out =
        vec![(space::TEXT, text.clone(), 384), (space::CONSE, format!("conse({image}+{text})"), 384), (space::VISUAL, image, 1280)];
    if models.has(pith_models::catalog::CLIP_MODEL) {
        if let Ok(c) = pith_models::ClipEncoder::read_config(&models.dir(pith_models::catalog::CLIP_MODEL)) {
            out.push((space::CLIP, id(pith_models::catalog::CLIP_MODEL), c.embed_dim));
        }
    }
    if models.has(pith_models::catalog::CLAP_MODEL) {
        if let Ok(c) = pith_models::ClapEncoder::read_config(&models.dir(pith_models::catalog::CLAP_MODEL)) {
            out.push((space::CLAP, id(pith_models::catalog::CLAP_MODEL), c.embed_dim));
        }
    }
    out
}

fn dir_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir).map_or(0, |d| d.flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum())
}

/// Each (space, codec setting) has its own folder, so re-encoding never
/// writes where the live index keeps its files.
/// The codec name that returns a space to float32 in pith's own graph, what
/// a new store uses (no setting recorded).
pub const DEFAULT_INDEX: &str = "default";
/// The setting that keeps float32 in an hnsw_rs graph: what stores made
/// before pith had its own graph keep (migration 0005) until a codec is set.
pub const HNSW_RS_INDEX: &str = "hnsw_rs";

fn coded_dir(data_dir: &std::path::Path, id: SpaceId, setting: &CodecSetting) -> PathBuf {
    data_dir.join("vectors").join(format!("{id}-coded-{setting}"))
}

/// Delete the vector folders of `id` other than `keep` (older codecs' indexes).
fn tidy_vector_dirs(data_dir: &std::path::Path, id: SpaceId, keep: &std::path::Path) {
    let plain = vectors_dir(data_dir, id);
    let prefix = format!("{id}-coded-");
    let Ok(entries) = std::fs::read_dir(data_dir.join("vectors")) else { return };
    for e in entries.flatten() {
        let p = e.path();
        let ours = p == plain || e.file_name().to_string_lossy().starts_with(&prefix);
        if ours && p != keep {
            let _ = std::fs::remove_dir_all(&p);
        }
    }
}

fn vectors_dir(data_dir: &std::path::Path, id: SpaceId) -> PathBuf {
    data_dir.join("vectors").join(id.to_string())
}

impl Engine {
    /// Open (or create) a store as its one writer.
    pub fn open(cfg: EngineConfig) -> Result<Engine> {
        std::fs::create_dir_all(&cfg.data_dir).map_err(io_err(&cfg.data_dir))?;
        let lock = WriterLock::acquire(&cfg.data_dir)?;
        let db = cfg.data_dir.join("pith.sqlite");
        let store = Store::open(&db)?;
        let text = match TextIndex::open(&cfg.data_dir.join("text")) {
            Ok(t) => t,
            Err(e @ PipelineError::Locked { .. }) => return Err(e),
            Err(e) => {
                // A corrupt or half-deleted tantivy dir is derived data: start
                // it afresh, and reconcile refills it from SQLite.
                tracing::warn!(error = %e, "text index unreadable; rebuilding it from the store");
                let dir = cfg.data_dir.join("text");
                let _ = std::fs::remove_dir_all(&dir);
                TextIndex::open(&dir)?
            }
        };
        let wanted = wanted_spaces(&cfg.models);
        for (label, model, dim) in &wanted {
            store.register_space(label, model, *dim)?;
        }
        let spaces = load_spaces(&store, &wanted, &cfg.data_dir, false)?;
        let settings = store.settings()?;
        let engine = Engine {
            policy: IgnorePolicy::new(&[&cfg.data_dir, &cfg.models.root]),
            readers: ReadPool::new(&db),
            cfg,
            store: Some(Mutex::new(store)),
            _lock: Some(lock),
            text,
            spaces: RwLock::new(spaces),
            maintenance: Mutex::new(()),
            encoders: OnceLock::new(),
            encoders_lock: Mutex::new(()),
            settings: RwLock::new(settings),
            hubs: RwLock::new(HashMap::new()),
            tokenizers: RwLock::new(HashMap::new()),
        };
        engine.reconcile()?;
        Ok(engine)
    }

    /// Open an existing store for reading only, alongside a running writer.
    pub fn open_read_only(cfg: EngineConfig) -> Result<Engine> {
        let db = cfg.data_dir.join("pith.sqlite");
        if !db.exists() {
            return Err(PipelineError::NotFound(format!(
                "no store in {} (run `pith ingest DIR` or `pith serve --watch DIR` first)",
                cfg.data_dir.display()
            )));
        }
        let readers = ReadPool::new(&db);
        let text = TextIndex::open_read_only(&cfg.data_dir.join("text"))?;
        let spaces = load_spaces(&*readers.get()?, &wanted_spaces(&cfg.models), &cfg.data_dir, true)?;
        // A store last opened by an older pith has no settings table yet.
        let settings = readers.get()?.settings().unwrap_or_default();
        let engine = Engine {
            policy: IgnorePolicy::new(&[&cfg.data_dir, &cfg.models.root]),
            readers,
            cfg,
            store: None,
            _lock: None,
            text,
            spaces: RwLock::new(spaces),
            maintenance: Mutex::new(()),
            encoders: OnceLock::new(),
            encoders_lock: Mutex::new(()),
            settings: RwLock::new(settings),
            hubs: RwLock::new(HashMap::new()),
            tokenizers: RwLock::new(HashMap::new()),
        };
        // The writer checkpoints its graphs on a timer: add what the dump
        // lacks, in memory only.
        engine.catch_up_vectors(false)?;
        Ok(engine)
    }

    pub fn is_read_only(&self) -> bool {
        self.store.is_none()
    }

    /// The writer connection (errors on a read-only engine).
    pub(crate) fn store(&self) -> Result<MutexGuard<'_, Store>> {
        match &self.store {
            Some(m) => Ok(m.lock().unwrap_or_else(|p| p.into_inner())),
            None => Err(PipelineError::ReadOnly("this command only reads the store")),
        }
    }

    /// The writer connection if it is free right now (None when read-only or busy).
    pub(crate) fn try_store(&self) -> Option<MutexGuard<'_, Store>> {
        match self.store.as_ref()?.try_lock() {
            Ok(g) => Some(g),
            Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }

    /// A read connection: sees the last commit, never waits for the writer.
    pub(crate) fn reader(&self) -> Result<Reader<'_>> {
        self.readers.get()
    }

    /// Encoders, loaded on first use (status and listing never need them).
    pub fn encoders(&self) -> Result<&Encoders> {
        if let Some(e) = self.encoders.get() {
            return Ok(e);
        }
        let _g = self.encoders_lock.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = self.encoders.get() {
            return Ok(e);
        }
        let e = Encoders::load(&self.cfg.models, self.cfg.threads, self.cfg.conse.clone())?;
        Ok(self.encoders.get_or_init(|| e))
    }

    /// The active space of a label (what search uses).
    pub fn space(&self, label: &str) -> Option<(SpaceId, Arc<dyn AnnIndex>)> {
        let spaces = self.spaces.read().unwrap_or_else(|p| p.into_inner());
        spaces.iter().find(|s| s.row.label == label && s.row.state == "active").map(|s| (s.row.id, s.ix.clone()))
    }

    /// The space of a label that the loaded model fills (where ingest writes).
    pub fn current_space(&self, label: &str) -> Option<(SpaceId, Arc<dyn AnnIndex>)> {
        let spaces = self.spaces.read().unwrap_or_else(|p| p.into_inner());
        spaces.iter().find(|s| s.row.label == label && s.current).map(|s| (s.row.id, s.ix.clone()))
    }

    /// Every live space.
    pub fn spaces(&self) -> Vec<Space> {
        self.spaces.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Id of the space ingest writes for this label.
    pub fn space_id(&self, label: &str) -> Option<SpaceId> {
        self.current_space(label).map(|s| s.0)
    }

    /// Compare indexes with SQLite and report (without changing anything).
    pub fn check(&self) -> Result<Consistency> {
        let store = self.reader()?;
        let sql = store.chunk_ids()?;
        let tix = self.text.ids()?;
        let mut c = Consistency {
            chunks: sql.len(),
            text_docs: tix.len(),
            text_missing: sql.difference(&tix).count(),
            text_extra: tix.difference(&sql).count(),
            ..Default::default()
        };
        for Space { row, ix, .. } in self.spaces() {
            let id = row.id;
            let want = store.vector_ids_of_space(id)?;
            let have = ix.live_ids();
            c.vectors_missing += want.difference(&have).count();
            c.vectors_extra += have.difference(&want).count();
        }
        Ok(c)
    }

    /// Bring every index in line with SQLite (the writer only).
    pub fn reconcile(&self) -> Result<Consistency> {
        if self.is_read_only() {
            return Err(PipelineError::ReadOnly("repairs need the writer: stop the running pith, then `pith check --repair`"));
        }
        let before = self.check()?;
        if before.is_consistent() {
            return Ok(before);
        }
        tracing::warn!(?before, "indexes differ from the store; repairing");
        let store = self.reader()?;
        let sql = store.chunk_ids()?;
        let tix = self.text.ids()?;
        let extra: Vec<ChunkId> = tix.difference(&sql).copied().collect();
        let missing: Vec<ChunkId> = sql.difference(&tix).copied().collect();
        drop(store);
        if !extra.is_empty() {
            self.text.apply_raw(&[], &extra, &[])?;
        }
        for ids in missing.chunks(2000) {
            let docs = self.reader()?.chunk_docs(ids)?;
            self.text.apply_raw(&[], &[], &docs)?;
        }
        self.catch_up_vectors(true)?;
        self.check()
    }

    /// Make each graph hold exactly the store's vectors, streaming them in
    /// batches (a space is never loaded whole). `save`: also dump the graphs.
    fn catch_up_vectors(&self, save: bool) -> Result<()> {
        const BATCH: usize = 4096;
        for Space { row, ix, .. } in self.spaces() {
            let id = row.id;
            let want = self.reader()?.vector_ids_of_space(id)?;
            let have = ix.live_ids();
            let extra: Vec<ChunkId> = have.difference(&want).copied().collect();
            let missing: Vec<ChunkId> = want.difference(&have).copied().collect();
            if extra.is_empty() && missing.is_empty() {
                continue;
            }
            if have.is_empty() || extra.len() * 4 > have.len() {
                ix.rebuild(want.len(), &mut |add| {
                    self.reader()?.for_each_vector_batch(id, None, BATCH, |b| {
                        add(&b);
                        Ok(())
                    })
                })?;
            } else {
                ix.remove(&extra);
                self.reader()?.for_each_vector_batch(id, Some(&missing), BATCH, |b| {
                    ix.insert(&b);
                    Ok(())
                })?;
            }
            if save {
                ix.save(&vectors_dir(&self.cfg.data_dir, id))?;
            }
        }
        Ok(())
    }

    /// Store whole files (replacing older versions) and index them.
    pub fn index_files(&self, files: &[NewFile]) -> Result<Vec<Written>> {
        if files.is_empty() {
            return Ok(Vec::new());
        }
        if let Some((f, why)) = files.iter().find_map(|f| f.non_finite_vector().map(|w| (f, w))) {
            return Err(PipelineError::BadInput(format!("{}: {why}", f.path)));
        }
        let written = self.store()?.write_files(files)?;
        let mut del_items = Vec::new();
        let mut del_chunks = Vec::new();
        let mut new_chunks = Vec::new();
        for w in &written {
            for &(c, it) in &w.removed {
                del_chunks.push(c);
                del_items.push(it);
            }
            new_chunks.extend(w.chunk_ids.iter().copied());
        }
        del_items.sort_unstable();
        del_items.dedup();
        let docs = self.store()?.chunk_docs(&new_chunks)?;
        self.text.apply(&del_items, &docs)?;
        let mut per_space: HashMap<SpaceId, Vec<(ChunkId, Vec<f32>)>> = HashMap::new();
        for (f, w) in files.iter().zip(&written) {
            for (c, cid) in f.items.iter().flat_map(|it| &it.chunks).zip(&w.chunk_ids) {
                for (sid, v) in &c.vectors {
                    per_space.entry(*sid).or_default().push((*cid, v.clone()));
                }
            }
        }
        for Space { row, ix, .. } in self.spaces() {
            ix.remove(&del_chunks);
            if let Some(v) = per_space.get(&row.id) {
                ix.insert(v);
            }
        }
        self.update_hubs(&del_chunks, &per_space);
        Ok(written)
    }

    /// Remove files (by stored path) from the store and every index.
    pub fn delete_paths(&self, paths: &[String]) -> Result<usize> {
        let mut removed = Vec::new();
        {
            let mut store = self.store()?;
            for p in paths {
                removed.extend(store.delete_file(p)?);
            }
        }
        let mut items: Vec<ItemId> = removed.iter().map(|(_, it)| *it).collect();
        items.sort_unstable();
        items.dedup();
        self.text.apply(&items, &[])?;
        let chunks: Vec<ChunkId> = removed.iter().map(|(c, _)| *c).collect();
        for s in self.spaces() {
            s.ix.remove(&chunks);
        }
        self.update_hubs(&chunks, &HashMap::new());
        Ok(items.len())
    }

    /// Persist vector graphs, compacting those with many tombstones.
    /// Searches go on meanwhile (see `index::vector`). A read-only engine
    /// never writes: this is then a no-op.
    pub fn checkpoint(&self) -> Result<()> {
        if self.is_read_only() {
            return Ok(());
        }
        let _maint = self.maintenance.lock().unwrap_or_else(|p| p.into_inner());
        for Space { row, ix, .. } in self.spaces() {
            let id = row.id;
            if ix.needs_compaction() {
                ix.rebuild(ix.len(), &mut |add| {
                    self.reader()?.for_each_vector_batch(id, None, 4096, |b| {
                        add(&b);
                        Ok(())
                    })
                })?;
            }
            ix.save(&vectors_dir(&self.cfg.data_dir, id))?;
        }
        self.refresh_hubs()
    }

    /// Up to `limit` float32 vectors of the active space `label`, flattened
    /// (for `pith bench compression`).
    pub fn space_vectors(&self, label: &str, limit: usize) -> Result<(usize, Vec<f32>)> {
        let (id, ix) = self.space(label).ok_or_else(|| PipelineError::BadInput(format!("no active space `{label}`")))?;
        let mut out = Vec::new();
        self.reader()?.for_each_vector_batch(id, None, 4096, |b| {
            for (_, v) in b {
                if out.len() < limit * ix.dim() {
                    out.extend(v);
                }
            }
            Ok(())
        })?;
        Ok((ix.dim(), out))
    }

    fn footprint(&self, s: &Space) -> IndexFootprint {
        let mut f = s.ix.footprint();
        if f.disk_bytes == 0 {
            f.disk_bytes = dir_bytes(&vectors_dir(&self.cfg.data_dir, s.row.id));
        }
        f
    }

    /// Keep the vectors of every space labelled `label` with `codec`: a
    /// `CodecSetting` such as `binary+rerank` or `f32` (codes in pith's own
    /// graph), or `default` (float32 in hnsw_rs, as a store starts).
    /// The new index is built from the store in its own folder beside the
    /// old one, which keeps answering searches until the swap: no downtime.
    /// The setting is recorded only once the new index is built.
    pub fn set_codec(&self, label: &str, codec: &str) -> Result<Vec<IndexFootprint>> {
        let _maint = self.maintenance.lock().unwrap_or_else(|p| p.into_inner());
        let name = codec.trim();
        let legacy = name.eq_ignore_ascii_case(HNSW_RS_INDEX);
        let f32_graph = CodecSetting { spec: CodecSpec::F32, rerank: false };
        let setting: CodecSetting = if legacy || name.eq_ignore_ascii_case(DEFAULT_INDEX) { f32_graph.clone() } else { name.parse()? };
        // What the store records: nothing for the default.
        let row = if legacy { Some(HNSW_RS_INDEX.to_string()) } else { (setting != f32_graph).then(|| setting.to_string()) };
        let targets: Vec<Space> = self.spaces().into_iter().filter(|s| s.row.label == label).collect();
        if targets.is_empty() {
            let known: Vec<String> = self.spaces().into_iter().map(|s| s.row.label).collect();
            return Err(PipelineError::BadInput(format!("no space `{label}` (this store has: {})", known.join(", "))));
        }
        for s in &targets {
            setting.spec.check_dim(s.row.dim)?;
        }
        if self.reader()?.space_codecs()?.get(label) == row.as_ref() {
            return Ok(targets.iter().map(|s| self.footprint(s)).collect());
        }
        let mut built = Vec::new();
        for s in &targets {
            let dir = if legacy { vectors_dir(&self.cfg.data_dir, s.row.id) } else { coded_dir(&self.cfg.data_dir, s.row.id, &setting) };
            let ix: Arc<dyn AnnIndex> = if legacy {
                Arc::new(VectorIndex::empty(&s.row.label, s.row.dim))
            } else {
                // Not the live folder (that has another setting): leftovers only.
                let _ = std::fs::remove_dir_all(&dir);
                Arc::new(CodedIndex::open(&s.row.label, s.row.dim, setting.clone(), &dir, false)?)
            };
            let want = self.reader()?.vector_ids_of_space(s.row.id)?;
            ix.rebuild(want.len(), &mut |add| {
                self.reader()?.for_each_vector_batch(s.row.id, None, 4096, |b| {
                    add(&b);
                    Ok(())
                })
            })?;
            ix.save(&dir)?;
            built.push((s.row.id, ix, dir));
        }
        self.store()?.set_space_codec(label, row.as_deref())?;
        let mut out = Vec::new();
        for (id, ix, dir) in built {
            {
                let mut spaces = self.spaces.write().unwrap_or_else(|p| p.into_inner());
                if let Some(slot) = spaces.iter_mut().find(|x| x.row.id == id) {
                    slot.ix = ix.clone();
                }
            }
            tidy_vector_dirs(&self.cfg.data_dir, id, &dir);
            if let Some(s) = self.spaces().into_iter().find(|x| x.row.id == id) {
                out.push(self.footprint(&s));
            }
        }
        // Whatever was written during the rebuild went to the old index; add it.
        self.catch_up_vectors(true)?;
        Ok(out)
    }

    /// Keep loaded hubness tables in step with the gallery.
    fn update_hubs(&self, removed: &[ChunkId], added: &HashMap<SpaceId, Vec<(ChunkId, Vec<f32>)>>) {
        let mut hubs = self.hubs.write().unwrap_or_else(|p| p.into_inner());
        for (sid, t) in hubs.iter_mut() {
            if !removed.is_empty() {
                t.remove(removed);
            }
            if let Some(v) = added.get(sid) {
                t.add(v);
            }
        }
    }

    pub fn image_item_ids(&self) -> Result<Vec<ItemId>> {
        self.reader()?.image_item_ids()
    }

    /// A store setting (see `set_setting` for the keys).
    pub fn setting(&self, key: &str) -> Option<String> {
        self.settings.read().unwrap_or_else(|p| p.into_inner()).get(key).cloned()
    }

    /// Every store setting.
    pub fn settings(&self) -> HashMap<String, String> {
        self.settings.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Set (or with `None` clear) a store setting; the caller has validated
    /// the value (`search::settings`).
    pub(crate) fn put_setting(&self, key: &str, value: Option<&str>) -> Result<()> {
        self.store()?.set_setting(key, value)?;
        let mut s = self.settings.write().unwrap_or_else(|p| p.into_inner());
        match value {
            Some(v) => s.insert(key.to_string(), v.to_string()),
            None => s.remove(key),
        };
        Ok(())
    }

    /// Remember a folder or file the user asked to index (canonical path).
    pub fn add_root(&self, path: &str) -> Result<()> {
        self.store()?.add_root(path)
    }

    /// Folders and files the user asked to index.
    pub fn roots(&self) -> Result<Vec<PathBuf>> {
        Ok(self.reader()?.roots()?.into_iter().map(PathBuf::from).collect())
    }

    pub fn record_error(&self, path: &str, reason: &str) -> Result<()> {
        self.store()?.record_error(path, reason)
    }

    pub fn status(&self, errors: usize) -> Result<Status> {
        let store = self.reader()?;
        let mut spaces = Vec::new();
        for s in self.spaces() {
            let index = self.footprint(&s);
            spaces.push(SpaceStatus {
                vectors: s.ix.len(),
                index,
                pending: if s.current { store.count_missing_vectors(s.row.id, space::kinds_of(&s.row.label))? } else { 0 },
                label: s.row.label,
                model: s.row.model,
                dim: s.row.dim,
                state: s.row.state,
            });
        }
        Ok(Status { data_dir: self.cfg.data_dir.display().to_string(), counts: store.counts()?, spaces, errors: store.errors(errors)? })
    }

    pub fn item(&self, id: ItemId) -> Result<crate::store::ItemRow> {
        self.reader()?.item(id)?.ok_or_else(|| PipelineError::NotFound(format!("item {id}")))
    }

    /// The item's chunks in order (for a recording: its segments with times).
    pub fn chunks_of_item(&self, id: ItemId) -> Result<Vec<crate::store::ChunkRow>> {
        self.reader()?.chunks_of_item(id)
    }

    /// The item's extracted text, reassembled from its (overlapping) chunks, capped at 256 KiB.
    pub fn item_text(&self, id: ItemId) -> Result<String> {
        self.item_text_to(id, 0)
    }

    /// The item's text up to at least byte `need` (and 256 KiB), in the
    /// coordinates chunk offsets use: overlaps are cut, and a gap between
    /// chunks is filled (a recording's segments are one space apart, a
    /// document's pages and sections a blank line), so `text[chunk.start..chunk.end]` is that chunk.
    pub fn item_text_to(&self, id: ItemId, need: usize) -> Result<String> {
        let max = (256usize << 10).max(need);
        let chunks = self.reader()?.chunks_of_item(id)?;
        let mut out = String::new();
        let mut at = 0usize;
        for c in chunks {
            let (start, end) = (c.start.max(0) as usize, c.end.max(0) as usize);
            if end <= at {
                continue;
            }
            if start > at {
                // Segments are one space apart; pages and sections a blank line.
                let fill = if start - at >= 2 { '\n' } else { ' ' };
                out.extend(std::iter::repeat_n(fill, start - at));
                at = start;
            }
            let mut cut = at.saturating_sub(start).min(c.text.len());
            while !c.text.is_char_boundary(cut) {
                cut += 1;
            }
            out.push_str(&c.text[cut..]);
            at = start + c.text.len();
            if out.len() > max {
                break;
            }
        }
        Ok(out)
    }

    pub fn thumbnail(&self, id: ItemId) -> Result<(String, Vec<u8>)> {
        self.reader()?.thumbnail(id)?.ok_or_else(|| PipelineError::NotFound(format!("thumbnail of item {id}")))
    }

    pub fn file_row(&self, path: &str) -> Result<Option<crate::store::FileRow>> {
        self.reader()?.file_by_path(path)
    }

    pub fn paths_under(&self, prefix: &str) -> Result<Vec<String>> {
        self.reader()?.paths_under(prefix)
    }

    pub fn touch_file(&self, id: FileId, mtime: i64) -> Result<()> {
        self.store()?.touch_file(id, mtime)
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        if self.is_read_only() {
            return;
        }
        if let Err(e) = self.checkpoint() {
            tracing::warn!(error = %e, "checkpoint on close failed; indexes will be repaired at next start");
        }
    }
}

fn load_spaces(store: &Store, wanted: &[(&'static str, String, usize)], data_dir: &std::path::Path, read_only: bool) -> Result<Vec<Space>> {
    let codecs = store.space_codecs().unwrap_or_else(|e| {
        tracing::warn!(error = %e, "space codec settings unreadable; spaces keep float32");
        Default::default()
    });
    let mut out = Vec::new();
    for row in store.live_spaces()? {
        let current = wanted.iter().any(|(l, m, d)| *l == row.label && *m == row.model && *d == row.dim);
        let (ix, dir) = open_index(&row, codecs.get(&row.label).map(String::as_str), data_dir, read_only);
        if !read_only {
            // Folders of earlier codecs (a change interrupted by a crash) go.
            tidy_vector_dirs(data_dir, row.id, &dir);
        }
        out.push(Space { row, current, ix });
    }
    Ok(out)
}

/// A space's index: float32 in pith's own graph by default, codes
/// (`index::coded`) when the label has a codec setting, or float32 in hnsw_rs
/// for the setting `hnsw_rs`. A setting that cannot be used keeps float32.
fn open_index(row: &SpaceRow, codec: Option<&str>, data_dir: &std::path::Path, read_only: bool) -> (Arc<dyn AnnIndex>, PathBuf) {
    let legacy = || {
        let dir = vectors_dir(data_dir, row.id);
        (Arc::new(VectorIndex::load_or_empty(&row.label, row.dim, &dir)) as Arc<dyn AnnIndex>, dir)
    };
    let setting = match codec {
        Some(c) if c == HNSW_RS_INDEX => return legacy(),
        // A reader on a store no writer has opened since pith had its own
        // graph (migration 0005 not yet applied): keep the hnsw_rs dump.
        None if read_only
            && vectors_dir(data_dir, row.id).exists()
            && !coded_dir(data_dir, row.id, &CodecSetting { spec: CodecSpec::F32, rerank: false }).exists() =>
        {
            return legacy()
        }
        None => CodecSetting { spec: CodecSpec::F32, rerank: false },
        Some(c) => match c.parse::<CodecSetting>() {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(space = %row.label, error = %e, "bad codec setting; keeping float32");
                CodecSetting { spec: CodecSpec::F32, rerank: false }
            }
        },
    };
    let dir = coded_dir(data_dir, row.id, &setting);
    match CodedIndex::open(&row.label, row.dim, setting, &dir, read_only) {
        Ok(c) => (Arc::new(c), dir),
        Err(e) => {
            tracing::warn!(space = %row.label, error = %e, "codec setting unusable; keeping float32 in hnsw_rs");
            legacy()
        }
    }
}
