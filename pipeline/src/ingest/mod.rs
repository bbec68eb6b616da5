//! Ingestion: walk roots, skip what is unchanged, decode and chunk on worker
//! threads while the encoder threads embed the previous batch, then write each
//! batch to the store and indexes in one go. One bad file yields one error
//! record and never stops the run.

pub use crate::policy;
mod media;
mod prepare;
pub mod video;
mod walk;

use std::path::{Path, PathBuf};
use std::time::Instant;

use crossbeam_channel::{bounded, unbounded};
use serde::Serialize;

use crate::encoders::space;
use crate::engine::Engine;
use crate::error::{PipelineError, Result};
use crate::store::{Kind, NewChunk, NewFile, NewItem};
pub use prepare::{Meta, Place, Prepared, OCR_SECTION};
pub use walk::{mtime_secs as walk_mtime, FileEntry};

/// Receives progress; the CLI draws a bar, the daemon updates its status.
pub trait Progress: Send + Sync {
    fn set_total(&self, _n: u64) {}
    fn inc(&self, _path: &str) {}
    /// When true, no new files are started; what is in flight is written.
    fn cancelled(&self) -> bool {
        false
    }
}

pub struct NoProgress;
impl Progress for NoProgress {}

#[derive(Debug, Clone, Default, Serialize)]
pub struct IngestReport {
    pub files_seen: usize,
    pub added: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub removed: usize,
    pub skipped_unsupported: usize,
    pub failed: usize,
    pub text_chunks: usize,
    pub images: usize,
    /// PDF pages with text indexed, and photos whose words OCR read.
    pub pdf_pages: usize,
    pub ocr_images: usize,
    /// Per video: frames decoded, encoder calls, tokens stored.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub videos: Vec<(String, video::VideoStats)>,
    pub seconds: f64,
}

const TEXT_BATCH: usize = 512;
const IMAGE_BATCH: usize = 16;
/// Files prepared ahead of the next one to write (see `run_jobs`).
const REORDER_WINDOW: usize = 64;

/// Ingest files and folders named by the user; files under a folder root
/// that vanished are removed. Each root is its own scope for the ignore
/// policy, and the vector graphs are checkpointed at the end.
pub fn ingest(engine: &Engine, roots: &[PathBuf], progress: &dyn Progress) -> Result<IngestReport> {
    let scoped: Vec<(PathBuf, PathBuf)> = roots.iter().map(|r| (r.clone(), r.clone())).collect();
    for r in roots {
        if let Ok(c) = r.canonicalize() {
            engine.add_root(&path_key(&c))?;
        }
    }
    let report = ingest_scoped(engine, &scoped, progress)?;
    // Items indexed before a model was added or changed get its vectors now.
    let filled = engine.backfill(progress)?;
    if !filled.added.is_empty() || !filled.switched.is_empty() {
        tracing::info!(?filled, "backfill done");
    }
    engine.checkpoint()?;
    Ok(report)
}

/// Ingest paths that changed under watched roots (filesystem events). Each
/// path is judged by the ignore policy relative to the root it lies under,
/// exactly as the scan of that root would; no checkpoint is taken (the
/// watcher does that on a timer).
pub fn ingest_changed(engine: &Engine, roots: &[PathBuf], paths: &[PathBuf], progress: &dyn Progress) -> Result<IngestReport> {
    let scoped: Vec<(PathBuf, PathBuf)> = paths
        .iter()
        .filter_map(|p| roots.iter().filter(|r| p.starts_with(r)).max_by_key(|r| r.as_os_str().len()).map(|r| (r.clone(), p.clone())))
        .collect();
    ingest_scoped(engine, &scoped, progress)
}

fn ingest_scoped(engine: &Engine, scoped: &[(PathBuf, PathBuf)], progress: &dyn Progress) -> Result<IngestReport> {
    let t0 = Instant::now();
    let mut report = IngestReport::default();
    let mut entries = Vec::new();
    for (scope, path) in scoped {
        let walked = walk::walk(scope, path, &engine.policy)?;
        report.removed += remove_vanished(engine, &walked)?;
        for (path, reason) in &walked.errors {
            engine.record_error(path, reason)?;
            report.failed += 1;
        }
        entries.extend(walked.files);
    }
    report.files_seen = entries.len();
    progress.set_total(entries.len() as u64);
    let mut jobs = Vec::new();
    for e in entries {
        let existing = engine.file_row(&e.path)?;
        match existing {
            Some(f) if f.size == e.size as i64 && f.mtime == e.mtime => {
                report.unchanged += 1;
                progress.inc(&e.path);
            }
            other => jobs.push((e, other)),
        }
    }
    run_jobs(engine, jobs, progress, &mut report)?;
    report.seconds = t0.elapsed().as_secs_f64();
    Ok(report)
}

/// Ingest in-memory documents `(id, title, text)`; the id stands in for the path.
pub fn ingest_documents(engine: &Engine, docs: Vec<(String, String, String)>, progress: &dyn Progress) -> Result<IngestReport> {
    let t0 = Instant::now();
    let mut report = IngestReport { files_seen: docs.len(), ..Default::default() };
    progress.set_total(docs.len() as u64);
    let enc = engine.encoders()?;
    std::thread::scope(|s| -> Result<()> {
        let writer = Writer::spawn(s, engine, progress);
        let mut batch = Batch::default();
        for (id, title, text) in docs {
            let body = if title.is_empty() { text } else { format!("{title}\n{text}") };
            let meta = Meta {
                path: id,
                size: body.len() as u64,
                mtime: 0,
                hash: blake3::hash(body.as_bytes()).to_hex().to_string(),
                existed: false,
            };
            let spans = match crate::chunk::chunk_spans(enc.text.raw_tokenizer(), &body, engine.cfg.chunk_tokens, engine.cfg.chunk_overlap)
            {
                Ok(s) => s,
                Err(reason) => {
                    engine.record_error(&meta.path, &reason)?;
                    report.failed += 1;
                    progress.inc(&meta.path);
                    continue;
                }
            };
            let title = if title.is_empty() { meta.path.clone() } else { title };
            batch.push(Prepared::Text {
                meta,
                kind: Kind::Text,
                title,
                mime: None,
                labels: None,
                text: body,
                spans,
                places: vec![],
                notes: vec![],
            });
            if batch.full() {
                writer.send(batch.encode(engine, &mut report)?);
            }
        }
        writer.send(batch.encode(engine, &mut report)?);
        writer.finish(&mut report)
    })?;
    engine.checkpoint()?;
    report.seconds = t0.elapsed().as_secs_f64();
    Ok(report)
}

fn remove_vanished(engine: &Engine, walked: &walk::Walked) -> Result<usize> {
    let stored = engine.paths_under(&walked.prefix)?;
    let seen: std::collections::HashSet<&str> = walked.files.iter().map(|f| f.path.as_str()).collect();
    let errored: std::collections::HashSet<&str> = walked.errors.iter().map(|(p, _)| p.as_str()).collect();
    let dir_prefix = format!("{}/", walked.prefix.trim_end_matches('/'));
    let gone: Vec<String> = stored
        .into_iter()
        .filter(|p| {
            if walked.refused {
                return p == &walked.prefix || p.starts_with(&dir_prefix);
            }
            let mine =
                if walked.vanished { p == &walked.prefix || p.starts_with(&dir_prefix) } else { walked.is_dir || p == &walked.prefix };
            mine && !seen.contains(p.as_str()) && !errored.contains(p.as_str())
        })
        .collect();
    if gone.is_empty() {
        return Ok(0);
    }
    engine.delete_paths(&gone)
}

fn run_jobs(
    engine: &Engine,
    jobs: Vec<(FileEntry, Option<crate::store::FileRow>)>,
    progress: &dyn Progress,
    report: &mut IngestReport,
) -> Result<()> {
    if jobs.is_empty() {
        return Ok(());
    }
    let enc = engine.encoders()?;
    // Files are prepared in parallel but written in walk order: a result
    // waits in `pending` until those before it are out. Two ingests of the
    // same files thus assign the same ids and fill the indexes in the same
    // order, so they give the same rankings. Jobs are handed out only
    // `REORDER_WINDOW` ahead of the next file to write, which bounds what
    // waits (a slow video holds back at most that many prepared files).
    let (job_tx, job_rx) = unbounded();
    let mut jobs = jobs.into_iter().enumerate();
    for j in jobs.by_ref().take(REORDER_WINDOW) {
        let _ = job_tx.send(j);
    }
    let (res_tx, res_rx) = bounded::<(usize, Prepared)>(64);
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 4);
    let ctx = prepare::Ctx { engine, enc, ocr: engine.ocr_config() };
    std::thread::scope(|s| -> Result<()> {
        for _ in 0..workers {
            let (rx, tx, ctx) = (job_rx.clone(), res_tx.clone(), &ctx);
            s.spawn(move || {
                for (i, (entry, existing)) in rx {
                    if progress.cancelled() {
                        break;
                    }
                    if tx.send((i, ctx.prepare(entry, existing))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(res_tx);
        drop(job_rx);
        let writer = Writer::spawn(s, engine, progress);
        let mut batch = Batch::default();
        let mut pending = std::collections::BTreeMap::new();
        let mut next = 0usize;
        let mut job_tx = Some(job_tx);
        for (i, p) in &res_rx {
            pending.insert(i, p);
            while let Some(p) = pending.remove(&next) {
                next += 1;
                match jobs.next() {
                    Some(j) => {
                        if let Some(tx) = &job_tx {
                            let _ = tx.send(j);
                        }
                    }
                    // No more jobs: workers end once the queue drains.
                    None => job_tx = None,
                }
                match p {
                    Prepared::Unchanged { path, file_id, mtime } => {
                        engine.touch_file(file_id, mtime)?;
                        report.unchanged += 1;
                        progress.inc(&path);
                    }
                    Prepared::Skipped { path } => {
                        report.skipped_unsupported += 1;
                        progress.inc(&path);
                    }
                    Prepared::Failed { path, reason, existed } => {
                        if existed {
                            engine.delete_paths(std::slice::from_ref(&path))?;
                        }
                        engine.record_error(&path, &reason)?;
                        report.failed += 1;
                        progress.inc(&path);
                    }
                    other => {
                        batch.push(other);
                        if batch.full() {
                            writer.send(batch.encode(engine, report)?);
                        }
                    }
                }
            }
        }
        writer.send(batch.encode(engine, report)?);
        writer.finish(report)
    })
}

/// Files encoded and ready to write, and files the encoders rejected.
#[derive(Default)]
struct Encoded {
    files: Vec<NewFile>,
    failed: Vec<(String, String)>,
}

/// Writes encoded batches on its own thread, so the store and index updates
/// of one batch overlap with the encoding of the next.
struct Writer<'scope> {
    tx: Option<crossbeam_channel::Sender<Encoded>>,
    handle: std::thread::ScopedJoinHandle<'scope, Result<IngestReport>>,
}

impl<'scope> Writer<'scope> {
    fn spawn<'env>(s: &'scope std::thread::Scope<'scope, 'env>, engine: &'env Engine, progress: &'env dyn Progress) -> Self {
        let (tx, rx) = bounded::<Encoded>(1);
        let handle = s.spawn(move || -> Result<IngestReport> {
            let mut counts = IngestReport::default();
            for mut batch in rx {
                if batch.files.is_empty() && batch.failed.is_empty() {
                    continue;
                }
                // An encoder that returns NaN or infinity must not reach an index.
                let (bad, good): (Vec<NewFile>, Vec<NewFile>) = batch.files.drain(..).partition(|f| f.non_finite_vector().is_some());
                batch.failed.extend(bad.iter().map(|f| (f.path.clone(), f.non_finite_vector().unwrap_or_default())));
                batch.files = good;
                let written = engine.index_files(&batch.files)?;
                for w in &written {
                    if w.removed.is_empty() {
                        counts.added += 1;
                    } else {
                        counts.updated += 1;
                    }
                }
                for f in &batch.files {
                    progress.inc(&f.path);
                }
                for (p, r) in batch.failed {
                    engine.record_error(&p, &r)?;
                    counts.failed += 1;
                    progress.inc(&p);
                }
            }
            Ok(counts)
        });
        Writer { tx: Some(tx), handle }
    }

    fn send(&self, batch: Encoded) {
        // A failed send means the writer stopped on an error; `finish` reports it.
        if let Some(tx) = &self.tx {
            let _ = tx.send(batch);
        }
    }

    fn finish(mut self, report: &mut IngestReport) -> Result<()> {
        self.tx.take();
        let counts = self.handle.join().map_err(|_| PipelineError::Internal("ingest writer thread panicked".into()))??;
        report.added += counts.added;
        report.updated += counts.updated;
        report.failed += counts.failed;
        Ok(())
    }
}

/// Every text chunk's xRAG token (`rag::xrag`), made from its text-space
/// vector by the bridge when one is installed. A bridge that fails costs
/// the tokens (made on first use instead), never the files.
fn attach_xrag(engine: &Engine, enc: &crate::encoders::Encoders, files: &mut [NewFile]) {
    let Some(sid) = engine.space_id(space::TEXT) else { return };
    let bridge = match enc.bridge() {
        Ok(Some(b)) => b,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(error = %e, "xRAG tokens not made at ingest");
            return;
        }
    };
    let chunks = files.iter_mut().flat_map(|f| f.items.iter_mut()).flat_map(|i| i.chunks.iter_mut());
    let mut with_text: Vec<(&mut NewChunk, Vec<f32>)> = chunks
        .filter(|c| c.text.as_deref().is_some_and(|t| !t.trim().is_empty()))
        .filter_map(|c| {
            let v = c.vectors.iter().find(|(s, v)| *s == sid && !v.is_empty()).map(|(_, v)| v.clone())?;
            Some((c, v))
        })
        .collect();
    let inputs: Vec<Vec<f32>> = with_text.iter().map(|(_, v)| v.clone()).collect();
    match bridge.project(&inputs) {
        Ok(tokens) => {
            for ((c, _), t) in with_text.iter_mut().zip(tokens) {
                c.xrag = Some((bridge.id.clone(), t));
            }
        }
        Err(e) => tracing::warn!(error = %e, "xRAG tokens not made at ingest"),
    }
}

#[derive(Default)]
struct Batch {
    texts: Vec<Prepared>,
    images: Vec<Prepared>,
    audios: Vec<Prepared>,
    videos: Vec<Prepared>,
    text_chunks: usize,
}

impl Batch {
    fn push(&mut self, p: Prepared) {
        match &p {
            Prepared::Text { spans, .. } => {
                self.text_chunks += spans.len();
                self.texts.push(p);
            }
            Prepared::Image { .. } => self.images.push(p),
            Prepared::Audio { segments, .. } => {
                self.text_chunks += segments.len();
                self.audios.push(p);
            }
            Prepared::Video { .. } => self.videos.push(p),
            _ => {}
        }
    }

    fn full(&self) -> bool {
        self.text_chunks >= TEXT_BATCH || self.images.len() >= IMAGE_BATCH
    }

    fn encode(&mut self, engine: &Engine, report: &mut IngestReport) -> Result<Encoded> {
        let texts = std::mem::take(&mut self.texts);
        let images = std::mem::take(&mut self.images);
        let audios = std::mem::take(&mut self.audios);
        let videos = std::mem::take(&mut self.videos);
        self.text_chunks = 0;
        if texts.is_empty() && images.is_empty() && audios.is_empty() && videos.is_empty() {
            return Ok(Encoded::default());
        }
        let mut files = Vec::new();
        let mut failed: Vec<(String, String)> = Vec::new();
        let enc = engine.encoders()?;
        for p in audios {
            if let Prepared::Audio { meta, title, mime, seconds, segments, sounds, labels, notes } = p {
                let item = recording_item(engine, enc, Kind::Audio, title, mime, seconds, &segments, &sounds, labels)?;
                report.text_chunks += item.chunks.len();
                files.push(NewFile { path: meta.path, size: meta.size, mtime: meta.mtime, hash: meta.hash, items: vec![item], notes });
            }
        }
        for p in videos {
            if let Prepared::Video { meta, title, mime, watched } = p {
                report.videos.push((meta.path.clone(), watched.stats.clone()));
                let (item, notes) = video_item(engine, enc, title, mime, watched)?;
                report.text_chunks += item.chunks.len();
                files.push(NewFile { path: meta.path, size: meta.size, mtime: meta.mtime, hash: meta.hash, items: vec![item], notes });
            }
        }
        if !texts.is_empty() {
            let sid = engine.space_id(space::TEXT).ok_or_else(|| PipelineError::NotFound("text space".into()))?;
            let mut all: Vec<&[u32]> = Vec::new();
            for p in &texts {
                if let Prepared::Text { spans, .. } = p {
                    all.extend(spans.iter().map(|s| s.ids.as_slice()));
                }
            }
            let mut vecs = enc.text.embed_ids(&all)?.into_iter();
            let mut sentences = if engine.stores_sentence_vectors() {
                let bodies: Vec<&str> =
                    texts.iter().filter_map(|p| if let Prepared::Text { text, .. } = p { Some(text.as_str()) } else { None }).collect();
                crate::rag::embed::embed_sentences(&enc.text, &bodies)?
            } else {
                Vec::new()
            }
            .into_iter();
            for p in texts {
                if let Prepared::Text { meta, kind, title, mime, labels, text, spans, places, notes } = p {
                    let chunks: Vec<NewChunk> = spans
                        .iter()
                        .enumerate()
                        .map(|(i, s)| {
                            let place = places.get(i).cloned().unwrap_or_default();
                            NewChunk {
                                xrag: None,
                                page: place.page,
                                section: place.section,
                                start: s.start,
                                end: s.end,
                                text: Some(text[s.start..s.end].to_string()),
                                span_ms: None,
                                vectors: vec![(sid, vecs.next().unwrap_or_default())],
                            }
                        })
                        .collect();
                    report.text_chunks += chunks.len();
                    // Pages with text (each page's chunks are consecutive).
                    report.pdf_pages += places.iter().filter_map(|p| p.page).collect::<std::collections::BTreeSet<_>>().len();
                    let mut file = new_file(meta, kind, title, mime, None, labels, None, chunks, notes);
                    file.items[0].sentences = sentences.next().unwrap_or_default();
                    if !file.items[0].sentences.is_empty() && engine.scores_tokens_for(&file.path) {
                        let scored = engine
                            .token_scorer()
                            .and_then(|sc| crate::rag::embed::score_sentences(sc, &text, &mut file.items[0].sentences));
                        if let Err(e) = scored {
                            file.notes.push(format!("token scores not computed: {e}"));
                        }
                    }
                    files.push(file);
                }
            }
        }
        if !images.is_empty() {
            let (conse_id, visual_id) = (engine.space_id(space::CONSE), engine.space_id(space::VISUAL));
            let clip_id = engine.space_id(space::CLIP);
            let mut preps = Vec::new();
            let mut clip_preps = Vec::new();
            for p in &images {
                if let Prepared::Image { prep, clip_prep, .. } = p {
                    preps.push(prep.clone());
                    if let Some(c) = clip_prep {
                        clip_preps.push(c.clone());
                    }
                }
            }
            let outs = enc.image.encode(preps)?;
            // The words OCR found, embedded in the text space in one call.
            let text_id = engine.space_id(space::TEXT);
            let ocr_ids: Vec<&[u32]> = images
                .iter()
                .filter_map(|p| if let Prepared::Image { ocr: Some((_, spans)), .. } = p { Some(spans) } else { None })
                .flat_map(|spans| spans.iter().map(|s| s.ids.as_slice()))
                .collect();
            let mut ocr_vecs = if ocr_ids.is_empty() || text_id.is_none() { Vec::new() } else { enc.text.embed_ids(&ocr_ids)? }.into_iter();
            let clip_vecs = match (&enc.clip, clip_preps.len() == images.len()) {
                (Some(c), true) => Some(c.embed_images(clip_preps)?),
                _ => None,
            };
            for (i, (p, out)) in images.into_iter().zip(outs).enumerate() {
                if let Prepared::Image { meta, title, mime, width, height, thumbnail, ocr, notes, .. } = p {
                    // Taken first, so the next photo's words get their own vectors.
                    let mut words = Vec::new();
                    if let (Some((text, spans)), Some(tid)) = (ocr, text_id) {
                        for s in spans {
                            words.push(NewChunk {
                                xrag: None,
                                page: None,
                                section: Some(prepare::OCR_SECTION.into()),
                                start: s.start,
                                end: s.end,
                                span_ms: None,
                                text: Some(text[s.start..s.end].to_string()),
                                vectors: vec![(tid, ocr_vecs.next().unwrap_or_default())],
                            });
                        }
                    }
                    let mut vectors = Vec::new();
                    if let Some(id) = conse_id {
                        vectors.push((id, enc.conse.vector(&out.logits)));
                    }
                    if let Some(id) = visual_id {
                        let mut f = out.features.clone();
                        pith_models::l2_normalize(&mut f);
                        vectors.push((id, f));
                    }
                    if let (Some(id), Some(cv)) = (clip_id, clip_vecs.as_ref()) {
                        vectors.push((id, cv[i].clone()));
                    }
                    if vectors.iter().any(|(_, v)| v.iter().any(|x| !x.is_finite())) {
                        failed.push((meta.path.clone(), "encoder produced non-finite values".into()));
                        continue;
                    }
                    let labels = enc.conse.labels(&out.logits, 3).join(", ");
                    report.images += 1;
                    report.ocr_images += usize::from(!words.is_empty());
                    // The picture first: "more like this" and thumbnails use chunk 0.
                    let mut chunks =
                        vec![NewChunk { xrag: None, page: None, section: None, start: 0, end: 0, span_ms: None, text: None, vectors }];
                    chunks.extend(words);
                    files.push(new_file(
                        meta,
                        Kind::Image,
                        title,
                        Some(mime),
                        Some((width, height)),
                        Some(labels),
                        Some(thumbnail),
                        chunks,
                        notes,
                    ));
                }
            }
        }
        attach_xrag(engine, enc, &mut files);
        Ok(Encoded { files, failed })
    }
}

/// A recording as one item whose chunks are its transcript segments (text,
/// byte span in the joined transcript, time span, a text-space vector) and,
/// with a CLAP model, its sound windows (time span, a CLAP vector); a
/// recording with neither gets one chunk covering its whole length.
#[allow(clippy::too_many_arguments)]
fn recording_item(
    engine: &Engine,
    enc: &crate::encoders::Encoders,
    kind: Kind,
    title: String,
    mime: String,
    seconds: f64,
    segments: &[pith_models::Segment],
    sounds: &[(f64, f64, Vec<f32>)],
    labels: String,
) -> Result<NewItem> {
    let ms = |s: f64| (s * 1000.0).round() as i64;
    let total = ms(seconds);
    let mut chunks = Vec::with_capacity(segments.len().max(1));
    if segments.is_empty() && (sounds.is_empty() || engine.space_id(space::CLAP).is_none()) {
        chunks.push(NewChunk {
            xrag: None,
            page: None,
            section: None,
            start: 0,
            end: 0,
            span_ms: Some((0, total)),
            text: None,
            vectors: vec![],
        });
    } else if !segments.is_empty() {
        let sid = engine.space_id(space::TEXT).ok_or_else(|| PipelineError::NotFound("text space".into()))?;
        let texts: Vec<&str> = segments.iter().map(|s| s.text.as_str()).collect();
        let vecs = enc.text.embed(&texts)?;
        let mut at = 0usize;
        for (s, v) in segments.iter().zip(vecs) {
            let (start, end) = (at, at + s.text.len());
            at = end + 1; // segments are joined with one space
            let span = (ms(s.start).clamp(0, total), ms(s.end).clamp(0, total));
            chunks.push(NewChunk {
                xrag: None,
                page: None,
                section: None,
                start,
                end,
                span_ms: Some((span.0, span.1.max(span.0))),
                text: Some(s.text.clone()),
                vectors: vec![(sid, v)],
            });
        }
    }
    if let Some(sid) = engine.space_id(space::CLAP) {
        for (a, b, v) in sounds {
            let span = (ms(*a).clamp(0, total), ms(*b).clamp(0, total));
            chunks.push(NewChunk {
                xrag: None,
                page: None,
                section: None,
                start: 0,
                end: 0,
                span_ms: Some((span.0, span.1.max(span.0))),
                text: None,
                vectors: vec![(sid, v.clone())],
            });
        }
    }
    Ok(NewItem {
        kind,
        title,
        mime: Some(mime),
        width: None,
        height: None,
        labels: Some(labels),
        thumbnail: None,
        span_ms: Some((0, total)),
        chunks,
        sentences: Vec::new(),
    })
}

/// A video as one item: its merged visual segments (visual, ConSE and CLIP
/// vectors, no text) and its transcript segments (text), all time-spanned;
/// the poster frame is its thumbnail.
fn video_item(
    engine: &Engine,
    enc: &crate::encoders::Encoders,
    title: String,
    mime: String,
    w: video::Watched,
) -> Result<(NewItem, Vec<String>)> {
    let spoken = w.speech.as_ref().map(|h| h.segments.clone()).unwrap_or_default();
    let sounds = w.speech.as_ref().map(|h| h.sounds.clone()).unwrap_or_default();
    let mut labels = vec![crate::dates::clock(w.seconds)];
    // What the frames look like overall (duration-weighted logits).
    if !w.segments.is_empty() {
        let n = w.segments[0].logits.len();
        let mut avg = vec![0f32; n];
        for s in &w.segments {
            let wt = (s.end_ms - s.start_ms).max(1) as f32;
            avg.iter_mut().zip(&s.logits).for_each(|(a, l)| *a += l * wt);
        }
        labels.extend(enc.conse.labels(&avg, 3));
    }
    let mut item = recording_item(engine, enc, Kind::Video, title, mime, w.seconds, &spoken, &sounds, labels.join(", "))?;
    item.chunks.retain(|c| c.text.is_some() || !c.vectors.is_empty()); // frames stand in for the silence placeholder
    let (conse_id, visual_id, clip_id) = (engine.space_id(space::CONSE), engine.space_id(space::VISUAL), engine.space_id(space::CLIP));
    for s in w.segments {
        let mut vectors = Vec::new();
        if let Some(id) = visual_id {
            vectors.push((id, s.visual));
        }
        if let Some(id) = conse_id {
            vectors.push((id, enc.conse.vector(&s.logits)));
        }
        if let (Some(id), Some(c)) = (clip_id, s.clip) {
            vectors.push((id, c));
        }
        item.chunks.push(NewChunk {
            xrag: None,
            page: None,
            section: None,
            start: 0,
            end: 0,
            span_ms: Some((s.start_ms, s.end_ms)),
            text: None,
            vectors,
        });
    }
    if item.chunks.is_empty() {
        item.chunks.push(NewChunk {
            xrag: None,
            page: None,
            section: None,
            start: 0,
            end: 0,
            span_ms: item.span_ms,
            text: None,
            vectors: vec![],
        });
    }
    item.thumbnail = match &w.poster {
        Some(p) => Some(crate::decode::image::thumbnail_jpeg(p)?),
        None => None,
    };
    let mut notes = w.notes;
    if let Some(h) = w.speech {
        notes.extend(h.notes);
    }
    tracing::info!(frames = w.stats.frames_decoded, encoded = w.stats.encoder_calls, tokens = w.stats.tokens, "video indexed");
    Ok((item, notes))
}

#[allow(clippy::too_many_arguments)]
fn new_file(
    meta: Meta,
    kind: Kind,
    title: String,
    mime: Option<String>,
    dims: Option<(u32, u32)>,
    labels: Option<String>,
    thumbnail: Option<Vec<u8>>,
    chunks: Vec<NewChunk>,
    notes: Vec<String>,
) -> NewFile {
    NewFile {
        path: meta.path,
        size: meta.size,
        mtime: meta.mtime,
        hash: meta.hash,
        items: vec![NewItem {
            kind,
            title,
            mime,
            width: dims.map(|d| d.0),
            height: dims.map(|d| d.1),
            labels,
            thumbnail,
            span_ms: None,
            chunks,
            sentences: Vec::new(),
        }],
        notes,
    }
}

/// The string form in which a path is stored.
pub fn path_key(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}
