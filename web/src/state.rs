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
    /// Canonical folders originals may be served from (the watched roots
    /// and those recorded by `pith ingest`); nothing outside them is served.
    pub roots: Arc<Vec<PathBuf>>,
    pub api_key: Option<ApiKey>,
    /// Host names served without an API key besides loopback ones.
    pub allow_hosts: Arc<Vec<String>>,
    pub max_upload: usize,
    /// The OpenAI-compatible server `/v1/chat/completions` forwards to
    /// (`--llm-upstream`); the built-in small LM answers without one.
    pub llm_upstream: Option<Arc<crate::chat::Upstream>>,
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
            allow_hosts: Arc::new(Vec::new()),
            max_upload: 20 << 20,
            llm_upstream: None,
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

/// The API key, kept only as a hash: requests are compared in constant time
/// against it, and the login cookie holds a token derived from it, never the
/// key itself.
#[derive(Clone)]
pub struct ApiKey {
    hash: [u8; 32],
    cookie: String,
}

impl ApiKey {
    pub fn new(key: &str) -> ApiKey {
        let hash = *blake3::hash(key.as_bytes()).as_bytes();
        let cookie = blake3::derive_key("pith 2026 login cookie v1", key.as_bytes());
        ApiKey { hash, cookie: hex(&cookie) }
    }

    fn matches(&self, candidate: &str) -> bool {
        use subtle::ConstantTimeEq;
        blake3::hash(candidate.as_bytes()).as_bytes().ct_eq(&self.hash).into()
    }

    fn matches_cookie(&self, candidate: &str) -> bool {
        use subtle::ConstantTimeEq;
        candidate.len() == self.cookie.len() && bool::from(candidate.as_bytes().ct_eq(self.cookie.as_bytes()))
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// With an API key configured, every route needs it: header `x-api-key`,
/// `Authorization: Bearer KEY`, query `?key=KEY` (URL-decoded; answered with
/// a cookie), or the `pith_session` cookie.
pub async fn require_key(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let Some(key) = st.api_key.as_ref() else { return next.run(req).await };
    let h = req.headers();
    let header_key = h.get("x-api-key").and_then(|v| v.to_str().ok());
    let bearer = h.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    let cookie_ok = h
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|c| c.split(';').map(str::trim))
        .filter_map(|kv| kv.strip_prefix("pith_session="))
        .any(|t| key.matches_cookie(t));
    let query: Option<String> =
        req.uri().query().and_then(|q| form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "key").map(|(_, v)| v.into_owned()));
    let query_ok = query.as_deref().is_some_and(|k| key.matches(k));
    let ok = cookie_ok || query_ok || [header_key, bearer].into_iter().flatten().any(|k| key.matches(k));
    if !ok {
        return ApiError::Unauthorized.into_response();
    }
    let mut resp = next.run(req).await;
    if query_ok {
        if let Ok(v) = format!("pith_session={}; HttpOnly; SameSite=Strict; Path=/", key.cookie).parse() {
            resp.headers_mut().insert("set-cookie", v);
        }
    }
    resp
}

/// DNS rebinding guard: without an API key, only requests addressed to a
/// loopback name (or a host given with `--allow-host`) are served, so a web
/// page on another origin that rebinds its name to 127.0.0.1 gets 403.
pub async fn check_host(State(st): State<AppState>, req: Request, next: Next) -> Response {
    if st.api_key.is_some() {
        return next.run(req).await;
    }
    let host = req
        .headers()
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| req.uri().authority().map(|a| a.to_string()));
    match host {
        // No Host at all (HTTP/1.0 tools): no browser sends that, so no rebinding.
        None => next.run(req).await,
        Some(h) if host_allowed(&h, &st.allow_hosts) => next.run(req).await,
        Some(h) => ApiError::Forbidden(format!(
            "requests for host `{h}` are refused; pith answers loopback names only (start it with --allow-host {} or --api-key)",
            host_name(&h)
        ))
        .into_response(),
    }
}

fn host_name(h: &str) -> &str {
    if let Some(rest) = h.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    h.rsplit_once(':').filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit())).map_or(h, |(name, _)| name)
}

pub fn host_allowed(h: &str, allow: &[String]) -> bool {
    let name = host_name(h.trim()).trim_end_matches('.').to_ascii_lowercase();
    let loopback = name == "localhost" || name.ends_with(".localhost") || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    loopback || allow.iter().any(|a| a.eq_ignore_ascii_case(&name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_pass_and_others_do_not() {
        for h in ["localhost", "localhost:7700", "127.0.0.1:7700", "127.8.9.1", "[::1]:7700", "app.localhost"] {
            assert!(host_allowed(h, &[]), "{h}");
        }
        for h in ["evil.example", "evil.example:7700", "192.168.1.4:7700", "localhost.evil.example", "[::2]:80"] {
            assert!(!host_allowed(h, &[]), "{h}");
        }
        assert!(host_allowed("nas.home:7700", &["nas.home".to_string()]));
    }

    #[test]
    fn keys_compare_by_hash_and_the_cookie_is_not_the_key() {
        let k = ApiKey::new("s3cret key");
        assert!(k.matches("s3cret key") && !k.matches("s3cret kez") && !k.matches(""));
        assert!(!k.cookie.contains("s3cret"));
        assert!(k.matches_cookie(&k.cookie.clone()) && !k.matches_cookie("s3cret key"));
    }
}
