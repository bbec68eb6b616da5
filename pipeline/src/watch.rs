//! Keeping folders indexed: a startup scan reconciles what changed while pith
//! was down, then filesystem events (debounced) re-ingest just the touched
//! paths once their size and mtime have settled, so a file still being written
//! is never ingested half-way. When inotify watches run out, pith falls back to
//! periodic full scans and says so in the status.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use notify::RecursiveMode;
use serde::Serialize;

use crate::engine::Engine;
use crate::ingest::{ingest, ingest_changed, Progress};
use crate::policy::Skip;

/// Shared, lock-light view of the daemon for the status page.
#[derive(Default)]
pub struct WatchStatus {
    pub roots: Vec<String>,
    mode: Mutex<String>,
    pub queued: AtomicUsize,
    pub done: AtomicU64,
    pub total: AtomicU64,
    pub busy: AtomicBool,
    pub stop: AtomicBool,
    pub last_scan: AtomicI64,
    last_error: Mutex<Option<String>>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WatchSnapshot {
    pub roots: Vec<String>,
    pub mode: String,
    pub queued: usize,
    pub busy: bool,
    pub done: u64,
    pub total: u64,
    pub last_scan: i64,
    pub last_error: Option<String>,
}

impl WatchStatus {
    pub fn new(roots: &[PathBuf]) -> Self {
        WatchStatus {
            roots: roots.iter().map(|r| crate::ingest::path_key(r)).collect(),
            mode: Mutex::new("starting".into()),
            ..Default::default()
        }
    }

    fn set_mode(&self, m: &str) {
        *self.mode.lock().unwrap_or_else(|p| p.into_inner()) = m.to_string();
    }

    fn set_error(&self, e: Option<String>) {
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = e;
    }

    pub fn snapshot(&self) -> WatchSnapshot {
        WatchSnapshot {
            roots: self.roots.clone(),
            mode: self.mode.lock().unwrap_or_else(|p| p.into_inner()).clone(),
            queued: self.queued.load(Ordering::Relaxed),
            busy: self.busy.load(Ordering::Relaxed),
            done: self.done.load(Ordering::Relaxed),
            total: self.total.load(Ordering::Relaxed),
            last_scan: self.last_scan.load(Ordering::Relaxed),
            last_error: self.last_error.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        }
    }
}

impl Progress for WatchStatus {
    fn set_total(&self, n: u64) {
        self.done.store(0, Ordering::Relaxed);
        self.total.store(n, Ordering::Relaxed);
    }
    fn inc(&self, _path: &str) {
        self.done.fetch_add(1, Ordering::Relaxed);
    }
    fn cancelled(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// How long a path must be quiet before it is ingested.
const SETTLE: Duration = Duration::from_millis(400);
/// Full rescan period when events are unavailable.
const POLL_EVERY: Duration = Duration::from_secs(20);
/// Vector graphs are written to disk this long after the first unsaved
/// change, or after this many changed files, whichever comes first. Until
/// then SQLite holds the changes, and a crash only costs a repair at start.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(30);
const CHECKPOINT_AFTER: usize = 1000;

fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

fn run_ingest(engine: &Engine, roots: &[PathBuf], changed: Option<&[PathBuf]>, status: &WatchStatus) {
    status.busy.store(true, Ordering::Relaxed);
    let r = match changed {
        None => ingest(engine, roots, status),
        Some(paths) => ingest_changed(engine, roots, paths, status),
    };
    match r {
        Ok(r) => {
            tracing::info!(added = r.added, updated = r.updated, removed = r.removed, failed = r.failed, "ingest pass done");
            status.set_error(None);
        }
        Err(e) => {
            tracing::error!(error = %e, "ingest pass failed");
            status.set_error(Some(e.to_string()));
        }
    }
    status.busy.store(false, Ordering::Relaxed);
}

/// Run the watcher on the current thread until `status.stop` is set.
pub fn watch(engine: Arc<Engine>, roots: Vec<PathBuf>, status: Arc<WatchStatus>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let mut debouncer = match notify_debouncer_full::new_debouncer(Duration::from_millis(250), None, tx) {
        Ok(d) => Some(d),
        Err(e) => {
            tracing::warn!(error = %e, "filesystem events unavailable; falling back to periodic scans");
            None
        }
    };
    let mut polling = debouncer.is_none();
    if let Some(d) = debouncer.as_mut() {
        for r in &roots {
            if let Err(e) = d.watch(r, RecursiveMode::Recursive) {
                let limit = matches!(e.kind, notify::ErrorKind::MaxFilesWatch)
                    || matches!(&e.kind, notify::ErrorKind::Io(io) if io.raw_os_error() == Some(libc::ENOSPC));
                let why = if limit { "inotify watch limit reached (fs.inotify.max_user_watches)" } else { "cannot watch" };
                tracing::warn!(root = %r.display(), error = %e, "{why}; falling back to periodic scans");
                status.set_error(Some(format!("{why}: {e}; scanning every {}s instead", POLL_EVERY.as_secs())));
                polling = true;
            }
        }
    }
    status.set_mode(if polling { "periodic scan (no filesystem events)" } else { "watching (filesystem events)" });
    for r in &roots {
        for own in engine.policy.own_dirs_inside(r) {
            tracing::warn!(root = %r.display(), excluded = %own.display(), "pith's own files lie inside a watched folder; they are excluded");
        }
    }
    // Startup scan: reconcile everything that changed while pith was down.
    run_ingest(&engine, &roots, None, &status);
    status.last_scan.store(now_secs(), Ordering::Relaxed);

    let mut pending: HashMap<PathBuf, (Instant, Option<(u64, i64)>)> = HashMap::new();
    let mut last_poll = Instant::now();
    let checkers: Vec<(PathBuf, crate::policy::Checker)> =
        roots.iter().map(|r| (r.clone(), crate::policy::Checker::new(&engine.policy, r))).collect();
    // Events for paths the policy refuses (hidden files, pith's own store
    // inside a root) are dropped here, so they never cause work.
    let wanted = |p: &std::path::Path| {
        checkers
            .iter()
            .filter(|(r, _)| p.starts_with(r))
            .max_by_key(|(r, _)| r.as_os_str().len())
            .is_some_and(|(_, c)| matches!(c.check(p, false), None | Some(Skip::Outside(_))))
    };
    // Recordings and videos are ingested on their own thread: a long video
    // takes minutes, and documents and photos changed meanwhile must not
    // wait behind it. Both lanes write through the engine's own locks.
    let (media_tx, media_rx) = std::sync::mpsc::channel::<Vec<PathBuf>>();
    let media_lane = {
        let (engine, roots, status) = (engine.clone(), roots.clone(), status.clone());
        std::thread::Builder::new().name("pith-media-ingest".into()).spawn(move || {
            for paths in media_rx {
                if status.stop.load(Ordering::Relaxed) {
                    break;
                }
                run_ingest(&engine, &roots, Some(&paths), &status);
            }
        })
    };
    let media_tx = match media_lane {
        Ok(_) => Some(media_tx),
        Err(e) => {
            tracing::warn!(error = %e, "no media ingest thread; recordings and videos share the main lane");
            None
        }
    };
    let mut unsaved = 0usize;
    let mut first_unsaved: Option<Instant> = None;
    while !status.stop.load(Ordering::Relaxed) {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(Ok(events)) => {
                for ev in events {
                    if matches!(ev.event.kind, notify::EventKind::Access(_)) {
                        continue;
                    }
                    for p in ev.event.paths.iter().filter(|p| wanted(p)) {
                        pending.insert(p.clone(), (Instant::now(), stat(p)));
                    }
                }
            }
            Ok(Err(errs)) => {
                for e in errs {
                    tracing::warn!(error = %e, "watch error");
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => polling = true,
        }
        // Ready: quiet for SETTLE and size/mtime unchanged since last seen.
        let mut ready = Vec::new();
        pending.retain(|p, (seen, sig)| {
            if seen.elapsed() < SETTLE {
                return true;
            }
            let now = stat(p);
            if now != *sig {
                *seen = Instant::now();
                *sig = now;
                return true;
            }
            ready.push(p.clone());
            false
        });
        status.queued.store(pending.len(), Ordering::Relaxed);
        if !ready.is_empty() {
            ready.sort();
            ready.dedup();
            unsaved += ready.len();
            let (media, other): (Vec<PathBuf>, Vec<PathBuf>) = match &media_tx {
                Some(_) => ready.into_iter().partition(|p| crate::decode::detect::is_media_path(p) && !p.is_dir()),
                None => (Vec::new(), ready),
            };
            if let (Some(tx), false) = (&media_tx, media.is_empty()) {
                let _ = tx.send(media);
            }
            if !other.is_empty() {
                run_ingest(&engine, &roots, Some(&other), &status);
            }
            first_unsaved.get_or_insert_with(Instant::now);
        }
        if polling && last_poll.elapsed() >= POLL_EVERY {
            run_ingest(&engine, &roots, None, &status);
            status.last_scan.store(now_secs(), Ordering::Relaxed);
            last_poll = Instant::now();
        }
        if unsaved >= CHECKPOINT_AFTER || first_unsaved.is_some_and(|t| t.elapsed() >= CHECKPOINT_EVERY) {
            if let Err(e) = engine.checkpoint() {
                tracing::warn!(error = %e, "checkpoint failed; the next one retries");
            }
            unsaved = 0;
            first_unsaved = None;
        }
    }
    drop(debouncer);
    // The media lane is not joined: a video in hand may take minutes, and a
    // write cut short by exit is repaired at the next start like any crash.
    drop(media_tx);
    status.set_mode("stopped");
}

fn stat(p: &std::path::Path) -> Option<(u64, i64)> {
    std::fs::metadata(p).ok().map(|m| (m.len(), crate::ingest::walk_mtime(&m)))
}
