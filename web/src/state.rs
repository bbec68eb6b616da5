//! Shared state and the engine gate: engine calls run on the blocking pool,
//! at most `permits` at a time; a request that waits too long gets 503.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use pith_pipeline::watch::WatchStatus;
use pith_pipeline::Engine;
use tokio::sync::Semaphore;

use crate::error::ApiError;

#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<Engine>,
    pub watch: Option<Arc<WatchStatus>>,
    /// Roots originals may be served from; empty means "anything in the store".
    pub roots: Arc<Vec<PathBuf>>,
    pub api_key: Option<Arc<str>>,
    pub max_upload: usize,
    gate: Arc<Semaphore>,
    wait: Duration,
}

impl AppState {
    pub fn new(engine: Arc<Engine>) -> Self {
        AppState {
            engine,
            watch: None,
            roots: Arc::new(Vec::new()),
            api_key: None,
            max_upload: 20 << 20,
            gate: Arc::new(Semaphore::new(8)),
            wait: Duration::from_secs(5),
        }
    }

    pub fn with_limits(mut self, permits: usize, wait: Duration) -> Self {
        self.gate = Arc::new(Semaphore::new(permits.max(1)));
        self.wait = wait;
        self
    }

    /// Run `f` with the engine on the blocking pool.
    pub async fn run<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Engine) -> Result<T, ApiError> + Send + 'static,
    {
        let permit = match tokio::time::timeout(self.wait, self.gate.clone().acquire_owned()).await {
            Ok(Ok(p)) => p,
            _ => return Err(ApiError::Overloaded { retry_after: 2 }),
        };
        let engine = self.engine.clone();
        let out = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            f(&engine)
        })
        .await
        .map_err(|e| ApiError::Internal(format!("worker failed: {e}")))?;
        out
    }
}

/// With an API key configured, every route needs it: header `x-api-key`,
/// `Authorization: Bearer KEY`, query `?key=KEY`, or the `pith_key` cookie.
pub async fn require_key(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let Some(key) = st.api_key.as_deref() else { return next.run(req).await };
    let h = req.headers();
    let header_key = h.get("x-api-key").and_then(|v| v.to_str().ok());
    let bearer = h.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    let cookie = h
        .get("cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.split(';').map(str::trim).find_map(|kv| kv.strip_prefix("pith_key=")));
    let query = req.uri().query().and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("key=")));
    let ok = [header_key, bearer, cookie, query].into_iter().flatten().any(|k| constant_eq(k, key));
    if !ok {
        return ApiError::Unauthorized.into_response();
    }
    let set_cookie = query.is_some();
    let mut resp = next.run(req).await;
    if set_cookie {
        if let Ok(v) = format!("pith_key={key}; HttpOnly; SameSite=Strict; Path=/").parse() {
            resp.headers_mut().insert("set-cookie", v);
        }
    }
    resp
}

fn constant_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
