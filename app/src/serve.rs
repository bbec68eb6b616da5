//! `pith serve` (web UI + API, optionally watching folders) and `pith watch`
//! (watching only). The first ingest runs in the background while the page is
//! already up; SIGINT/SIGTERM stop accepting requests, let the current batch
//! finish, and flush the indexes (the next start's scan resumes the rest).

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use pith_pipeline::watch::{watch, WatchStatus};
use pith_pipeline::{Engine, EngineConfig};
use pith_web::AppState;

use crate::cli::ServeArgs;

fn roots(dirs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    dirs.iter()
        .map(|d| {
            if !d.is_dir() {
                bail!("{} is not a folder", d.display());
            }
            d.canonicalize().with_context(|| format!("resolving {}", d.display()))
        })
        .collect()
}

/// Say which of pith's own folders a root contains: they are excluded.
pub fn tell_excluded(engine: &Engine, roots: &[PathBuf]) {
    for r in roots {
        for own in engine.policy.own_dirs_inside(r) {
            eprintln!("note: {} lies inside {}; pith's own files there are never indexed", own.display(), r.display());
        }
    }
}

fn start_watcher(engine: &Arc<Engine>, roots: &[PathBuf]) -> (Arc<WatchStatus>, Option<std::thread::JoinHandle<()>>) {
    tell_excluded(engine, roots);
    let status = Arc::new(WatchStatus::new(roots));
    if roots.is_empty() {
        return (status, None);
    }
    let (e, r, s) = (engine.clone(), roots.to_vec(), status.clone());
    let h = std::thread::Builder::new().name("watcher".into()).spawn(move || watch(e, r, s)).ok();
    (status, h)
}

/// Let the watcher finish its current batch, then flush the indexes.
fn stop(engine: &Engine, status: &WatchStatus, watcher: Option<std::thread::JoinHandle<()>>) -> Result<()> {
    status.stop.store(true, Ordering::Relaxed);
    if let Some(h) = watcher {
        let _ = h.join();
    }
    engine.checkpoint()?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

pub fn serve(cfg: EngineConfig, args: ServeArgs) -> Result<()> {
    let roots = roots(&args.watch)?;
    let engine = Arc::new(Engine::open(cfg)?);
    // Load the models off the request path so the first text search is
    // fast. The image model's session starts on the first photo or search
    // by image (a text-only store never holds it).
    {
        let e = engine.clone();
        std::thread::spawn(move || {
            if let Err(err) = e.encoders() {
                tracing::error!(error = %err, "loading models failed");
            }
        });
    }
    let (status, watcher) = start_watcher(&engine, &roots);
    if roots.is_empty() {
        // Without a watcher (whose startup scan backfills), fill new spaces here.
        let e = engine.clone();
        std::thread::spawn(move || match e.backfill(&pith_pipeline::ingest::NoProgress) {
            Ok(r) if !r.added.is_empty() => tracing::info!(?r, "backfill done"),
            Ok(_) => {}
            Err(err) => tracing::error!(error = %err, "backfill failed"),
        });
    }
    let mut state = AppState::new(engine.clone());
    state.watch = (!roots.is_empty()).then(|| status.clone());
    state.roots = Arc::new(roots.clone());
    state.api_key = args.api_key.filter(|k| !k.is_empty()).map(|k| pith_web::state::ApiKey::new(&k));
    state.allow_hosts = Arc::new(args.allow_host.iter().map(|h| h.trim().to_ascii_lowercase()).collect());
    state.max_upload = args.max_upload;
    if let Some(url) = &args.llm_upstream {
        state.llm_upstream = Some(Arc::new(pith_web::chat::Upstream::new(url, args.llm_key.clone()).map_err(anyhow::Error::msg)?));
    }
    let app = pith_web::router(state);
    let rt = runtime()?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(&args.addr).await.with_context(|| format!("binding {}", args.addr))?;
        let addr = listener.local_addr()?;
        println!("pith is serving http://{addr}/");
        for r in &roots {
            println!("watching {}", r.display());
        }
        axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await?;
        anyhow::Ok(())
    })?;
    drop(rt);
    stop(&engine, &status, watcher)
}

pub fn watch_only(cfg: EngineConfig, dirs: Vec<PathBuf>) -> Result<()> {
    let roots = roots(&dirs)?;
    if roots.is_empty() {
        bail!("give at least one folder to watch");
    }
    let engine = Arc::new(Engine::open(cfg)?);
    let (status, watcher) = start_watcher(&engine, &roots);
    for r in &roots {
        println!("watching {}", r.display());
    }
    runtime()?.block_on(shutdown_signal());
    stop(&engine, &status, watcher)
}
