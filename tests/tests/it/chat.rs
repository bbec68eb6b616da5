//! The RAG chat proxy against a scripted OpenAI-compatible upstream (on a
//! free local port): context injected, answers streamed with sources, and
//! upstream failures turned into clear errors; against a real llama.cpp
//! server (llama-cpp-python, built by `make testdata`); and the built-in model.

use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::http::{header, Request, StatusCode};
use axum::response::IntoResponse;
use pith_web::{router, AppState};
use serde_json::{json, Value};
use tower::ServiceExt;

use super::common::{engine, ingest_dir};

/// Serve a scripted upstream; the model name picks the behaviour. Returns
/// its base URL and the requests it received.
async fn upstream() -> (String, Arc<Mutex<Vec<Value>>>) {
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let log = seen.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
            let log = log.clone();
            async move {
                log.lock().unwrap().push(body.clone());
                let chunk = |t: &str| format!("data: {}\n\n", json!({"id": "up-1", "object": "chat.completion.chunk", "model": "up", "choices": [{"index": 0, "delta": {"content": t}}]}));
                match body["model"].as_str().unwrap_or("") {
                    "fail" => (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(json!({"error": {"message": "model exploded"}}))).into_response(),
                    "cut" => {
                        // One chunk, a pause (so it goes out), then the connection breaks.
                        let first = chunk("Half an");
                        let parts = futures_util::stream::unfold(0, move |n| {
                            let first = first.clone();
                            async move {
                                match n {
                                    0 => Some((Ok(Bytes::from(first)), 1)),
                                    1 => {
                                        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                                        Some((Err(std::io::Error::other("connection reset")), 2))
                                    }
                                    _ => None,
                                }
                            }
                        });
                        ([(header::CONTENT_TYPE, "text/event-stream")], Body::from_stream(parts)).into_response()
                    }
                    "crlf" => {
                        let text = format!("{}{}data: [DONE]\r\n\r\n", chunk("The flight ").replace("\n\n", "\r\n\r\n"), chunk("leaves Tuesday.").replace("\n\n", "\r\n\r\n"));
                        ([(header::CONTENT_TYPE, "text/event-stream")], text).into_response()
                    }
                    _ if body["stream"] == true => {
                        let text = format!("{}{}data: [DONE]\n\n", chunk("The flight leaves "), chunk("Tuesday [1]."));
                        ([(header::CONTENT_TYPE, "text/event-stream")], text).into_response()
                    }
                    _ => axum::Json(json!({"id": "up-2", "object": "chat.completion", "model": "up",
                        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Tuesday [1]."}, "finish_reason": "stop"}]}))
                    .into_response(),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), seen)
}

fn state(d: &std::path::Path, up: Option<&str>) -> AppState {
    let dir = d.join("notes");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("trip.txt"), "The flight to Lisbon leaves on Tuesday at 9.40 from gate B12. Pack the passport.").unwrap();
    std::fs::write(dir.join("bread.txt"), "Feed the sourdough starter every day with flour and water.").unwrap();
    let e = engine(&d.join("store"));
    ingest_dir(&e, &dir);
    let mut st = AppState::new(Arc::new(e));
    st.llm_upstream = up.map(|u| Arc::new(pith_web::chat::Upstream::new(u, Some("sk-test".into())).unwrap()));
    st
}

async fn chat(st: &AppState, body: Value) -> (StatusCode, String, String) {
    let req =
        Request::post("/v1/chat/completions").header(header::CONTENT_TYPE, "application/json").body(Body::from(body.to_string())).unwrap();
    let resp = router(st.clone()).oneshot(req).await.unwrap();
    let status = resp.status();
    let ctype = resp.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
    (status, ctype, String::from_utf8_lossy(&bytes).into_owned())
}

fn ask(model: &str, stream: bool) -> Value {
    json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": "When does the flight to Lisbon leave?"}],
           "pith": {"min_relevance": 0}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_injects_cited_context_and_streams_the_answer_with_sources() {
    let (url, seen) = upstream().await;
    let d = tempfile::tempdir().unwrap();
    let st = state(d.path(), Some(&url));
    let (s, ctype, body) = chat(&st, ask("ok", true)).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(ctype, "text/event-stream");
    let first = body.find("The flight leaves").expect("upstream chunk forwarded");
    let src = body.find("Sources:").expect("sources appended");
    let done = body.rfind("data: [DONE]").unwrap();
    assert!(first < src && src < done && body.matches("[DONE]").count() == 1, "{body}");
    assert!(body.contains("trip.txt"), "{body}");
    let sent = seen.lock().unwrap().last().cloned().unwrap();
    let system = sent["messages"][0]["content"].as_str().unwrap();
    assert_eq!(sent["messages"][0]["role"], "system");
    assert!(system.contains("[1] ") && system.contains("Tuesday at 9.40"), "{system}");
    assert!(sent.get("pith").is_none(), "pith's own options stay here");
    // Events separated by CRLF blank lines (sse-starlette, llama-cpp-python) are forwarded too.
    let (s, _, body) = chat(&st, ask("crlf", true)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(body.contains("The flight ") && body.contains("leaves Tuesday.") && body.contains("Sources:"), "{body}");
    assert!(body.find("leaves Tuesday.").unwrap() < body.find("Sources:").unwrap() && body.matches("[DONE]").count() == 1, "{body}");
    // Not streaming: one JSON answer with the sources in the message.
    let (s, _, body) = chat(&st, ask("ok", false)).await;
    assert_eq!(s, StatusCode::OK);
    let v: Value = serde_json::from_str(&body).unwrap();
    let content = v["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(content.starts_with("Tuesday [1].") && content.contains("Sources:\n[1] "), "{content}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_failures_are_a_clear_502_or_a_clean_end_of_stream() {
    let (url, _) = upstream().await;
    let d = tempfile::tempdir().unwrap();
    let st = state(d.path(), Some(&url));
    let (s, _, body) = chat(&st, ask("fail", true)).await;
    assert_eq!(s, StatusCode::BAD_GATEWAY, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["code"], "upstream_error");
    assert!(v["error"]["message"].as_str().unwrap().contains("500") && body.contains("model exploded"), "{body}");
    // Closed mid-answer: what came is forwarded, then an error event, the sources and [DONE].
    let (s, _, body) = chat(&st, ask("cut", true)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(body.contains("Half an") && body.contains("closed mid-answer") && body.ends_with("data: [DONE]\n\n"), "{body}");
    // Nothing listening.
    let dead = state(&d.path().join("b"), Some("http://127.0.0.1:9"));
    let (s, _, body) = chat(&dead, ask("ok", false)).await;
    assert_eq!(s, StatusCode::BAD_GATEWAY, "{body}");
    assert!(body.contains("unreachable"), "{body}");
    // Bad requests never reach the upstream.
    let (s, _, _) = chat(&st, json!({"model": "ok", "messages": [{"role": "system", "content": "hi"}]})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(pith_web::chat::Upstream::new("https://api.example.com/v1", None).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_upstream_the_built_in_model_answers() {
    let d = tempfile::tempdir().unwrap();
    let st = state(d.path(), None);
    let mut q = ask("any", false);
    q["max_tokens"] = json!(12);
    let (s, _, body) = chat(&st, q.clone()).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["model"], pith_web::chat::BUILTIN_MODEL);
    let content = v["choices"][0]["message"]["content"].as_str().unwrap();
    let answer = content.split("\n\nSources:").next().unwrap();
    assert!(!answer.trim().is_empty() && content.contains("Sources:\n[1] "), "{content}");
    q["stream"] = json!(true);
    let (s, ctype, body) = chat(&st, q).await;
    assert_eq!((s, ctype.as_str()), (StatusCode::OK, "text/event-stream"));
    let deltas = body.matches("chat.completion.chunk").count();
    assert!(deltas >= 3 && body.ends_with("data: [DONE]\n\n"), "{body}");
}

/// The llama.cpp server (`scripts/llama_server.sh`, run by `make testdata`)
/// on a free port; killed when dropped.
struct LlamaServer {
    child: std::process::Child,
    url: String,
}

impl Drop for LlamaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn llama_server(log: &std::path::Path) -> LlamaServer {
    let dir = std::env::var_os("PITH_LLAMA_CPP")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/pith/llama-cpp"));
    assert!(dir.join("ok").exists(), "llama.cpp server missing in {}: run `make testdata`", dir.display());
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let out = std::fs::File::create(log).unwrap();
    let child = std::process::Command::new(dir.join("bin/python"))
        .args(["-m", "llama_cpp.server", "--host", "127.0.0.1", "--port", &port.to_string(), "--n_ctx", "2048", "--n_threads", "2"])
        .arg("--model")
        .arg(dir.join("smollm2-135m-instruct-q4_1.gguf"))
        .args(["--model_alias", "smollm2"])
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    let mut server = LlamaServer { child, url: format!("http://127.0.0.1:{port}") };
    // Up when /v1/models answers 200.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    loop {
        use std::io::{Read, Write};
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            s.set_read_timeout(Some(std::time::Duration::from_secs(2))).unwrap();
            let _ = s.write_all(b"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
            let mut head = [0u8; 12];
            if s.read_exact(&mut head).is_ok() && head.ends_with(b"200") {
                return server;
            }
        }
        let exited = server.child.try_wait().unwrap();
        assert!(
            exited.is_none() && std::time::Instant::now() < deadline,
            "llama.cpp server did not start ({exited:?}): {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_llama_cpp_upstream_answers_through_the_proxy() {
    let d = tempfile::tempdir().unwrap();
    let server = llama_server(&d.path().join("llama.log"));
    let st = state(d.path(), Some(&server.url));
    let mut q = ask("smollm2", true);
    q["max_tokens"] = json!(16);
    q["temperature"] = json!(0);
    let (s, ctype, body) = chat(&st, q.clone()).await;
    assert_eq!((s, ctype.as_str()), (StatusCode::OK, "text/event-stream"), "{body}");
    // The answer streams as deltas from llama.cpp (sse-starlette events), then pith's sources and one [DONE].
    let events: Vec<Value> = body
        .split("\n\n")
        .filter_map(|e| e.trim().strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str(d).unwrap_or_else(|e| panic!("{e}: {d}")))
        .collect();
    let text: String = events.iter().filter_map(|e| e["choices"][0]["delta"]["content"].as_str()).collect();
    let (answer, sources) = text.split_once("Sources:").unwrap_or_else(|| panic!("no sources in {body}"));
    assert!(!answer.trim().is_empty(), "llama.cpp answered nothing: {body}");
    assert!(sources.contains("trip.txt") && body.ends_with("data: [DONE]\n\n") && body.matches("[DONE]").count() == 1, "{body}");
    // Not streaming: one JSON answer with the sources in the message.
    q["stream"] = json!(false);
    let (s, _, body) = chat(&st, q).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let content = v["choices"][0]["message"]["content"].as_str().unwrap();
    let (answer, sources) = content.split_once("Sources:").unwrap_or_else(|| panic!("{content}"));
    assert!(!answer.trim().is_empty() && sources.contains("[1] "), "{content}");
    assert!(v["usage"]["prompt_tokens"].as_u64().unwrap_or(0) > 20, "the injected context reached llama.cpp: {body}");
}
