//! `POST /v1/chat/completions` as a RAG proxy: retrieve for the last user
//! message, compress (`pith_pipeline::rag`), put the cited context into the
//! system message, and forward to an OpenAI-compatible upstream
//! (`--llm-upstream`), streaming its answer back (SSE) with the sources
//! appended. Without an upstream the built-in SmolLM2-135M answers — small,
//! but it keeps the RAG API working offline.
//!
//! An upstream that fails before answering is a 502 with its status and
//! message; one that closes mid-stream ends the stream cleanly (an error
//! event, the sources, `[DONE]`).

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use pith_pipeline::rag::{Compression, RagContext, RagRequest};
use pith_pipeline::search::Filters;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::rag::json_body;
use crate::state::AppState;

/// The model name the built-in answerer reports.
pub const BUILTIN_MODEL: &str = "pith-smollm2-135m";
/// Longest wait for an upstream's response head.
const UPSTREAM_WAIT: std::time::Duration = std::time::Duration::from_secs(120);
/// Largest non-streamed upstream body read.
const UPSTREAM_BODY_MAX: usize = 16 << 20;
/// Built-in answers generated at once (one model thread; more queue here
/// with a timeout rather than pile up behind it).
static BUILTIN_SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// An OpenAI-compatible server (`http://host:port/v1`).
pub struct Upstream {
    base: String,
    key: Option<String>,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Upstream {
    /// `url` is the server's base (with or without `/v1`); plain HTTP (a
    /// local llama.cpp, vLLM or Ollama server).
    pub fn new(url: &str, key: Option<String>) -> Result<Upstream, String> {
        let base = url.trim().trim_end_matches('/');
        if base.starts_with("https://") {
            return Err(
                "https upstreams are not supported: point --llm-upstream at a local http:// server (or a TLS-terminating proxy)".into()
            );
        }
        if !base.starts_with("http://") {
            return Err(format!("--llm-upstream must be an http:// URL, got `{url}`"));
        }
        let base = if base.ends_with("/v1") { base.to_string() } else { format!("{base}/v1") };
        let key = key.filter(|k| !k.is_empty());
        let host = base.trim_start_matches("http://").split(['/', ':']).next().unwrap_or("");
        if key.is_some() && !matches!(host, "127.0.0.1" | "localhost" | "[::1]" | "::1") {
            tracing::warn!(host, "the upstream key goes over plain HTTP to a host that is not this machine");
        }
        Ok(Upstream { base, key, client: Client::builder(TokioExecutor::new()).build_http() })
    }
}

/// pith's own options in a chat request (`"pith": {...}`).
#[derive(Debug, Default, Deserialize)]
struct PithOptions {
    k: Option<usize>,
    token_budget: Option<usize>,
    compression: Option<Compression>,
    #[serde(default)]
    filters: Filters,
    min_relevance: Option<f32>,
}

/// The text of a message's content (a string, or text parts).
fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect::<Vec<_>>().join("\n"),
        _ => String::new(),
    }
}

/// A message with every xRAG mark in its text defused.
fn without_marks(mut m: Value) -> Value {
    let defuse = |s: &str| s.replace(pith_models::XRAG_MARK, "<xrag>");
    if let Some(Value::String(r)) = m.get_mut("role") {
        *r = defuse(r);
    }
    match m.get_mut("content") {
        Some(Value::String(s)) => *s = defuse(s),
        Some(Value::Array(parts)) => {
            for p in parts {
                if let Some(Value::String(t)) = p.get_mut("text") {
                    *t = defuse(t);
                }
            }
        }
        _ => {}
    }
    m
}

/// "Sources:" lines for the cited contexts.
fn sources(ctx: &RagContext) -> String {
    if ctx.contexts.is_empty() {
        return String::new();
    }
    let lines: Vec<String> = ctx.contexts.iter().map(|c| format!("[{}] {}", c.citation, c.path)).collect();
    format!("\n\nSources:\n{}", lines.join("\n"))
}

/// The messages with the context added to the system message.
fn with_context(messages: &[Value], ctx: &RagContext) -> Vec<Value> {
    let block = if ctx.prompt.is_empty() {
        "No passage in the user's files matched this question; say so if you cannot answer without one.".to_string()
    } else {
        format!(
            "Answer from these passages of the user's files when they help, citing them as [1], [2]; say so when they do not answer.\n\n{}",
            ctx.prompt
        )
    };
    let mut out = messages.to_vec();
    match out.iter_mut().find(|m| m.get("role").and_then(Value::as_str) == Some("system")) {
        Some(sys) => {
            let prev = text_of(sys.get("content").unwrap_or(&Value::Null));
            sys["content"] = Value::String(format!("{prev}\n\n{block}"));
        }
        None => out.insert(0, json!({"role": "system", "content": block})),
    }
    out
}

/// Where the first SSE event in `buf` ends, and its separator's length.
fn event_end(buf: &[u8]) -> Option<(usize, usize)> {
    [&b"\r\n\r\n"[..], b"\n\n", b"\r\r"]
        .iter()
        .filter_map(|sep| buf.windows(sep.len()).position(|w| w == *sep).map(|p| (p, sep.len())))
        .min_by_key(|x| x.0)
}

fn sse(v: &Value) -> Bytes {
    Bytes::from(format!("data: {v}\n\n"))
}

fn chunk(id: &str, model: &str, delta: Value, finish: Option<&str>) -> Value {
    json!({"id": id, "object": "chat.completion.chunk", "created": now(), "model": model,
           "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn event_stream(rx: tokio::sync::mpsc::Receiver<Bytes>) -> Response {
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx)) });
    ([(header::CONTENT_TYPE, "text/event-stream"), (header::CACHE_CONTROL, "no-cache")], Body::from_stream(stream)).into_response()
}

#[utoipa::path(post, path = "/v1/chat/completions", request_body(content = Object, description = "An OpenAI chat request. pith retrieves for the last user message and adds the cited context to the system message; optional `pith`: {k, token_budget, compression, filters, min_relevance}; `compression: xrag` (built-in model only) gives it one xRAG token per retrieved passage."), responses((status = 200, description = "The upstream's (or the built-in model's) answer with the sources appended; `text/event-stream` when `stream` is true"), (status = 400, description = "Bad request", body = crate::openapi::ErrorBody), (status = 502, description = "The upstream failed", body = crate::openapi::ErrorBody), (status = 503, description = "No upstream and no built-in model", body = crate::openapi::ErrorBody)))]
pub async fn completions(State(st): State<AppState>, req: Request) -> Result<Response, ApiError> {
    let body: Value = json_body(&st, req).await?;
    let messages = body.get("messages").and_then(Value::as_array).cloned().unwrap_or_default();
    let question = messages
        .iter()
        .rev()
        .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        .map(|m| text_of(m.get("content").unwrap_or(&Value::Null)))
        .filter(|q| !q.trim().is_empty())
        .ok_or_else(|| ApiError::BadRequest("`messages` needs a user message with text".into()))?;
    let opts: PithOptions = match body.get("pith") {
        Some(v) => serde_json::from_value(v.clone()).map_err(|e| ApiError::BadRequest(format!("`pith`: {e}")))?,
        None => PithOptions::default(),
    };
    let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let compression = opts.compression.unwrap_or_default();
    let xrag = matches!(compression, Compression::Xrag | Compression::ExtractiveXrag);
    if xrag && st.llm_upstream.is_some() {
        return Err(ApiError::BadRequest(
            "xRAG compression hands the built-in model vectors, not text; an upstream LLM reads text: use `extractive` (or run pith without --llm-upstream)"
                .into(),
        ));
    }
    // Only the marks pith puts in the context become xRAG slots.
    let messages: Vec<Value> = messages.into_iter().map(without_marks).collect();
    let rag = RagRequest {
        k: opts.k.unwrap_or(8),
        // The built-in model reads ~300 tokens/s: a smaller context keeps
        // its first token within a couple of seconds.
        token_budget: opts.token_budget.unwrap_or(if st.llm_upstream.is_some() { 800 } else { 400 }),
        compression,
        filters: opts.filters,
        min_relevance: opts.min_relevance,
        ..RagRequest::new(question.chars().take(4000).collect::<String>())
    };
    let ctx = st.run(move |e| Ok(e.rag_context(&rag)?)).await?;
    let messages = with_context(&messages, &ctx);
    match st.llm_upstream.clone() {
        Some(up) => forward(up, body, messages, ctx, stream).await,
        None => builtin(st, body, messages, ctx, stream).await,
    }
}

async fn forward(up: Arc<Upstream>, mut body: Value, messages: Vec<Value>, ctx: RagContext, stream: bool) -> Result<Response, ApiError> {
    body["messages"] = Value::Array(messages);
    if let Some(o) = body.as_object_mut() {
        o.remove("pith");
    }
    let url = format!("{}/chat/completions", up.base);
    let mut rb = hyper::Request::post(&url).header(header::CONTENT_TYPE, "application/json");
    if let Some(k) = &up.key {
        rb = rb.header(header::AUTHORIZATION, format!("Bearer {k}"));
    }
    let req = rb.body(Full::new(Bytes::from(body.to_string()))).map_err(|e| ApiError::Internal(e.to_string()))?;
    let resp = tokio::time::timeout(UPSTREAM_WAIT, up.client.request(req))
        .await
        .map_err(|_| ApiError::BadGateway(format!("upstream {url} did not answer within {} s", UPSTREAM_WAIT.as_secs())))?
        .map_err(|e| ApiError::BadGateway(format!("upstream {url} unreachable: {e}")))?;
    let status = resp.status();
    if !status.is_success() {
        let bytes = http_body_util::Limited::new(resp.into_body(), 64 << 10).collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        let msg = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(String::from))
            .unwrap_or_else(|| text.chars().take(300).collect());
        return Err(ApiError::BadGateway(format!("upstream answered {status}: {msg}")));
    }
    if !stream {
        let bytes = http_body_util::Limited::new(resp.into_body(), UPSTREAM_BODY_MAX)
            .collect()
            .await
            .map_err(|e| ApiError::BadGateway(format!("upstream closed early or sent too much: {e}")))?
            .to_bytes();
        let mut v: Value = serde_json::from_slice(&bytes).map_err(|e| ApiError::BadGateway(format!("upstream sent no JSON: {e}")))?;
        if let Some(c) = v.pointer_mut("/choices/0/message/content") {
            let text = c.as_str().unwrap_or_default().to_string();
            *c = Value::String(text + &sources(&ctx));
        }
        let Some(o) = v.as_object_mut() else { return Err(ApiError::BadGateway("upstream answered JSON that is not an object".into())) };
        o.insert(
            "pith".into(),
            json!({"contexts": ctx.contexts.len(), "prompt_tokens": ctx.prompt_tokens, "compression_ratio": ctx.compression_ratio}),
        );
        return Ok(axum::Json(v).into_response());
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    tokio::spawn(async move {
        let mut body = resp.into_body().into_data_stream();
        let mut buf: Vec<u8> = Vec::new();
        let (mut id, mut model) = (String::from("pith"), String::from("upstream"));
        let mut done = false;
        // Forward one whole event; hold back [DONE] until the sources are out.
        let forward = async |event: Vec<u8>, id: &mut String, model: &mut String, done: &mut bool| -> bool {
            let text = String::from_utf8_lossy(&event);
            let data = text.lines().filter_map(|l| l.strip_prefix("data:")).map(str::trim).collect::<Vec<_>>().join("\n");
            if data == "[DONE]" {
                *done = true;
                return true;
            }
            if let Ok(v) = serde_json::from_str::<Value>(&data) {
                if let Some(s) = v["id"].as_str() {
                    *id = s.to_string();
                }
                if let Some(s) = v["model"].as_str() {
                    *model = s.to_string();
                }
            }
            if text.trim().is_empty() {
                return true;
            }
            let mut out = text.trim_end_matches(['\r', '\n']).replace("\r\n", "\n");
            out.push_str("\n\n");
            tx.send(Bytes::from(out)).await.is_ok()
        };
        while let Some(part) = body.next().await {
            let bytes = match part {
                Ok(b) => b,
                Err(e) => {
                    let _ = tx
                        .send(sse(&json!({"error": {"code": "upstream_error", "message": format!("upstream closed mid-answer: {e}")}})))
                        .await;
                    break;
                }
            };
            buf.extend_from_slice(&bytes);
            // Events end at a blank line: \n\n, \r\n\r\n or \r\r.
            while let Some((end, sep)) = event_end(&buf) {
                let event: Vec<u8> = buf.drain(..end + sep).collect();
                if !forward(event, &mut id, &mut model, &mut done).await {
                    return;
                }
            }
        }
        // What is left (an upstream that ignored `stream`, or no final blank line).
        if !buf.is_empty() {
            let rest = std::mem::take(&mut buf);
            if !forward(rest, &mut id, &mut model, &mut done).await {
                return;
            }
        }
        if !done {
            tracing::warn!("upstream stream ended without [DONE]");
        }
        let src = sources(&ctx);
        if !src.is_empty() {
            let _ = tx.send(sse(&chunk(&id, &model, json!({"content": src}), None))).await;
        }
        let _ = tx.send(Bytes::from("data: [DONE]\n\n")).await;
    });
    Ok(event_stream(rx))
}

async fn builtin(st: AppState, body: Value, messages: Vec<Value>, ctx: RagContext, stream: bool) -> Result<Response, ApiError> {
    let max_new =
        body.get("max_tokens").or_else(|| body.get("max_completion_tokens")).and_then(Value::as_u64).unwrap_or(256).clamp(1, 2048) as usize;
    let sampling = pith_models::Sampling {
        temperature: body.get("temperature").and_then(Value::as_f64).unwrap_or(0.0) as f32,
        top_p: body.get("top_p").and_then(Value::as_f64).unwrap_or(1.0) as f32,
        seed: body.get("seed").and_then(Value::as_u64).unwrap_or(0),
    };
    let msgs: Vec<(String, String)> = messages
        .iter()
        .map(|m| (m.get("role").and_then(Value::as_str).unwrap_or("user").to_string(), text_of(m.get("content").unwrap_or(&Value::Null))))
        .collect();
    // At most two answers at a time; others wait here, then get a 503.
    let permit = tokio::time::timeout(std::time::Duration::from_secs(30), BUILTIN_SLOTS.acquire())
        .await
        .map_err(|_| ApiError::Overloaded { retry_after: 10 })?
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let engine = st.engine.clone();
    let (tok_tx, tok_rx) = crossbeam_channel::unbounded::<u32>();
    // xRAG tokens in citation order, one per mark in the context block.
    let slots: Vec<Vec<f32>> = ctx
        .contexts
        .iter()
        .filter_map(|c| c.xrag.as_deref())
        .map(pith_pipeline::rag::xrag::decode_token)
        .collect::<Result<_, _>>()
        .map_err(ApiError::from)?;
    // Load the model and start generating on the blocking pool.
    let started = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
        let enc = engine.encoders()?;
        let lm = enc
            .lm()?
            .ok_or_else(|| ApiError::Unavailable("no --llm-upstream and the built-in model is not installed (`make models`)".into()))?;
        let refs: Vec<(&str, &str)> = msgs.iter().map(|(r, c)| (r.as_str(), c.as_str())).collect();
        let prompt = lm.chat_prompt(&refs, &slots).map_err(pith_pipeline::PipelineError::from)?;
        let len = prompt.len(lm.cfg.hidden_size);
        let room = lm.cfg.max_position_embeddings.saturating_sub(len);
        if room < 16 {
            return Err(ApiError::BadRequest(format!(
                "the conversation is {len} tokens; the built-in model reads at most {}",
                lm.cfg.max_position_embeddings
            )));
        }
        let gen = lm.start(prompt, max_new.min(room), sampling, Some(tok_tx)).map_err(pith_pipeline::PipelineError::from)?;
        Ok(gen)
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??;
    let id = format!("pith-{}", now());
    let slots_used = ctx.contexts.iter().filter(|c| c.xrag.is_some()).count();
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    let engine = st.engine.clone();
    let (sid, src) = (id.clone(), sources(&ctx));
    // Tokens → text deltas, on a blocking thread (the model's channel blocks).
    let worker = tokio::task::spawn_blocking(move || -> Result<(String, usize), ApiError> {
        let _permit = permit;
        let lm = engine.encoders().ok().and_then(|e| e.lm().ok().flatten());
        let mut ids: Vec<u32> = Vec::new();
        let mut sent = 0usize;
        let mut text = String::new();
        for t in tok_rx.iter() {
            let Some(lm) = lm else { break };
            ids.push(t);
            let now = lm.decode(&ids).unwrap_or_default();
            // Hold back a partial character (byte-level BPE).
            if now.len() > sent && !now.ends_with('\u{FFFD}') && now.is_char_boundary(sent) {
                let delta = now[sent..].to_string();
                sent = now.len();
                text.push_str(&delta);
                if stream && tx.blocking_send(sse(&chunk(&sid, BUILTIN_MODEL, json!({"content": delta}), None))).is_err() {
                    break;
                }
            }
        }
        // A client gone: dropping the receiver stops the model at its next token.
        drop(tok_rx);
        let result = started.wait().map_err(|e| ApiError::from(pith_pipeline::PipelineError::from(e)));
        if stream {
            if let Err(e) = &result {
                let _ = tx.blocking_send(sse(&json!({"error": {"code": e.code(), "message": e.to_string()}})));
            }
            let _ = tx.blocking_send(sse(&chunk(&sid, BUILTIN_MODEL, json!({"content": src}), None)));
            let _ = tx.blocking_send(sse(&chunk(&sid, BUILTIN_MODEL, json!({}), Some("stop"))));
            let _ = tx.blocking_send(Bytes::from("data: [DONE]\n\n"));
        }
        result.map(|_| (text, ids.len()))
    });
    if stream {
        return Ok(event_stream(rx));
    }
    let (text, n) = worker.await.map_err(|e| ApiError::Internal(e.to_string()))??;
    Ok((
        StatusCode::OK,
        axum::Json(json!({
            "id": id, "object": "chat.completion", "created": now(), "model": BUILTIN_MODEL,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text + &sources(&ctx)}, "finish_reason": "stop"}],
            "usage": {"completion_tokens": n},
            "pith": {"contexts": ctx.contexts.len(), "prompt_tokens": ctx.prompt_tokens, "compression_ratio": ctx.compression_ratio,
                     "xrag_tokens": slots_used},
        })),
    )
        .into_response())
}
