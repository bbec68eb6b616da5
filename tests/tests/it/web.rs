//! Router tests, in-process with `tower::ServiceExt::oneshot`: every endpoint
//! and every error code.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use pith_web::{router, AppState};
use tower::ServiceExt;

use super::common::*;

struct Fixture {
    _dir: tempfile::TempDir,
    state: AppState,
    cat_id: i64,
    note_id: i64,
}

fn fixture() -> Fixture {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("files");
    photos(&dir, &["chelsea.png", "coffee.png"]);
    std::fs::write(dir.join("note.md"), "# Passport\nRenew the passport before the Lisbon trip.").unwrap();
    let e = engine(&d.path().join("store"));
    ingest_dir(&e, &dir);
    let cat_id = search(&e, "a cat", 1)[0].id.0;
    let note_id = search(&e, "passport", 1)[0].id.0;
    let mut state = AppState::new(Arc::new(e));
    state.roots = Arc::new(vec![dir.canonicalize().unwrap()]);
    state.max_upload = 2 << 20;
    Fixture { _dir: d, state, cat_id, note_id }
}

async fn call(st: &AppState, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let resp = router(st.clone()).oneshot(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    (parts.status, parts.headers, axum::body::to_bytes(body, usize::MAX).await.unwrap().to_vec())
}

async fn get(st: &AppState, uri: &str) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    call(st, Request::get(uri).body(Body::empty()).unwrap()).await
}

fn json(b: &[u8]) -> serde_json::Value {
    serde_json::from_slice(b).unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(b)))
}

fn error_code(b: &[u8]) -> String {
    json(b)["error"]["code"].as_str().unwrap().to_string()
}

fn multipart(field: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = "pithboundary7";
    let mut body = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"x.png\"\r\nContent-Type: application/octet-stream\r\n\r\n").into_bytes();
    body.extend(bytes);
    body.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_answers_and_every_error_has_one_shape() {
    let f = fixture();
    let st = &f.state;

    let (s, _, b) = get(st, "/healthz").await;
    assert_eq!((s, json(&b)["files"].as_i64()), (StatusCode::OK, Some(3)));

    let (s, _, b) = get(st, "/api/search?q=a+cat&k=2&kind=image&min_relevance=0").await;
    assert_eq!(s, StatusCode::OK);
    let v = json(&b);
    assert_eq!(v["results"][0]["id"].as_i64(), Some(f.cat_id));
    assert_eq!(v["results"].as_array().unwrap().len(), 2);
    assert!(v["results"][0]["relevance"].as_f64().is_some_and(|r| r > v["results"][1]["relevance"].as_f64().unwrap()));
    // By default the cut-off hides the photo that is no cat, and says so.
    let (_, _, b) = get(st, "/api/search?q=a+cat&k=2&kind=image").await;
    let v = json(&b);
    assert_eq!((v["results"].as_array().unwrap().len(), v["hidden"].as_u64()), (1, Some(1)), "{v}");
    let (s, _, _) = get(st, "/api/search?q=a+cat&min_relevance=2").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    let (s, _, b) = get(st, "/api/search?q=passport&kind=text&ext=md&offset=0").await;
    assert_eq!((s, json(&b)["results"][0]["id"].as_i64()), (StatusCode::OK, Some(f.note_id)));
    let (_, _, b) = get(st, "/api/search?q=passport&after=2999-01-01").await;
    assert!(json(&b)["results"].as_array().unwrap().is_empty());

    let post =
        Request::post("/api/search").header(header::CONTENT_TYPE, "application/json").body(Body::from(r#"{"q":"a cat","k":1}"#)).unwrap();
    let (s, _, b) = call(st, post).await;
    assert_eq!((s, json(&b)["results"][0]["id"].as_i64()), (StatusCode::OK, Some(f.cat_id)));

    let png = std::fs::read(testdata().join("skimage/chelsea.png")).unwrap();
    let (ct, body) = multipart("image", &png);
    let (s, _, b) = call(st, Request::post("/api/search").header(header::CONTENT_TYPE, ct).body(Body::from(body)).unwrap()).await;
    assert_eq!((s, json(&b)["results"][0]["id"].as_i64()), (StatusCode::OK, Some(f.cat_id)));

    let (s, _, b) = get(st, &format!("/api/items/{}", f.note_id)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(json(&b)["text"].as_str().unwrap().contains("Lisbon"));

    let (s, h, b) = get(st, &format!("/api/items/{}/thumbnail", f.cat_id)).await;
    assert_eq!((s, h[header::CONTENT_TYPE].to_str().unwrap()), (StatusCode::OK, "image/jpeg"));
    assert!(h[header::CACHE_CONTROL].to_str().unwrap().contains("immutable"));
    assert!(image::load_from_memory(&b).is_ok());
    let etag = h[header::ETAG].clone();
    let (s, _, _) = call(
        st,
        Request::get(format!("/api/items/{}/thumbnail", f.cat_id)).header(header::IF_NONE_MATCH, etag).body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_MODIFIED);

    let (s, _, b) = get(st, &format!("/api/items/{}/original", f.cat_id)).await;
    assert_eq!((s, b.len()), (StatusCode::OK, png.len()));

    let (s, _, b) = get(st, &format!("/api/items/{}/similar?k=2", f.cat_id)).await;
    assert_eq!((s, json(&b)["results"][0]["id"].as_i64()), (StatusCode::OK, Some(f.cat_id)));

    let (s, _, b) = get(st, "/api/status").await;
    assert_eq!((s, json(&b)["counts"]["files"].as_i64()), (StatusCode::OK, Some(3)));

    // Pages render, escape and link.
    let (s, _, b) = get(st, "/?q=a+cat").await;
    let html = String::from_utf8(b).unwrap();
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains(&format!("/api/items/{}/thumbnail", f.cat_id)) && html.contains("alt=\"chelsea.png\""));
    let (_, _, b) = get(st, "/?q=%3Cscript%3Ealert(1)%3C/script%3E").await;
    assert!(!String::from_utf8(b).unwrap().contains("<script>alert"));
    for uri in [format!("/items/{}", f.cat_id), format!("/items/{}", f.note_id), "/status".into(), "/".into(), "/static/style.css".into()] {
        assert_eq!(get(st, &uri).await.0, StatusCode::OK, "{uri}");
    }

    // 400s.
    for uri in [
        "/api/search",
        "/api/search?q=",
        "/api/search?q=x&k=abc",
        "/api/search?q=x&k=0",
        "/api/search?q=x&kind=hologram",
        "/api/search?q=x&after=yesterday",
        "/api/search?q=x&mode=magic",
        "/api/items/abc",
        "/api/items/-3/similar",
    ] {
        let (s, _, b) = get(st, uri).await;
        assert_eq!((s, error_code(&b).as_str()), (StatusCode::BAD_REQUEST, "bad_request"), "{uri}");
    }
    let long = format!("/api/search?q={}", "a".repeat(5000));
    assert_eq!(get(st, &long).await.0, StatusCode::BAD_REQUEST);
    let bad_json = Request::post("/api/search").header(header::CONTENT_TYPE, "application/json").body(Body::from("{nope")).unwrap();
    assert_eq!(call(st, bad_json).await.0, StatusCode::BAD_REQUEST);
    let (ct, body) = multipart("image", b"definitely not an image");
    let (s, _, b) = call(st, Request::post("/api/search").header(header::CONTENT_TYPE, ct).body(Body::from(body)).unwrap()).await;
    assert_eq!((s, error_code(&b).as_str()), (StatusCode::BAD_REQUEST, "bad_request"));

    // 404s.
    for uri in [
        "/api/items/999999",
        "/api/items/999999/thumbnail",
        "/api/items/999999/original",
        "/api/items/999999/similar",
        "/nope",
        "/items/999999",
    ] {
        let (s, _, b) = get(st, uri).await;
        assert_eq!((s, error_code(&b).as_str()), (StatusCode::NOT_FOUND, "not_found"), "{uri}");
    }
    // A text item has no thumbnail.
    assert_eq!(get(st, &format!("/api/items/{}/thumbnail", f.note_id)).await.0, StatusCode::NOT_FOUND);

    // 413: upload over the limit.
    let (ct, body) = multipart("image", &vec![0u8; 3 << 20]);
    let (s, _, b) = call(st, Request::post("/api/search").header(header::CONTENT_TYPE, ct).body(Body::from(body)).unwrap()).await;
    assert_eq!((s, error_code(&b).as_str()), (StatusCode::PAYLOAD_TOO_LARGE, "too_large"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_key_guards_every_route() {
    let f = fixture();
    let mut st = f.state.clone();
    st.api_key = Some(pith_web::state::ApiKey::new("s3cret"));
    for uri in ["/healthz", "/", "/api/search?q=cat", "/api/status", "/static/style.css"] {
        let (s, _, b) = get(&st, uri).await;
        assert_eq!((s, error_code(&b).as_str()), (StatusCode::UNAUTHORIZED, "unauthorized"), "{uri}");
    }
    let ok = Request::get("/api/search?q=cat").header("x-api-key", "s3cret").body(Body::empty()).unwrap();
    assert_eq!(call(&st, ok).await.0, StatusCode::OK);
    let bearer = Request::get("/api/status").header("authorization", "Bearer s3cret").body(Body::empty()).unwrap();
    assert_eq!(call(&st, bearer).await.0, StatusCode::OK);
    // `?key=` is URL-decoded (%63 is "c") and answered with a session cookie
    // that carries a derived token, never the key itself.
    let (s, h, _) = get(&st, "/?q=cat&key=s3%63ret").await;
    assert_eq!(s, StatusCode::OK);
    let cookie = h[header::SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_string();
    assert!(cookie.starts_with("pith_session=") && !cookie.contains("s3cret"), "{cookie}");
    let with_cookie = Request::get("/api/status").header("cookie", cookie.as_str()).body(Body::empty()).unwrap();
    assert_eq!(call(&st, with_cookie).await.0, StatusCode::OK);
    let raw_key_cookie = Request::get("/api/status").header("cookie", "pith_session=s3cret").body(Body::empty()).unwrap();
    assert_eq!(call(&st, raw_key_cookie).await.0, StatusCode::UNAUTHORIZED);
    let wrong = Request::get("/healthz").header("authorization", "Bearer nope").body(Body::empty()).unwrap();
    assert_eq!(call(&st, wrong).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overload_answers_503_with_retry_after() {
    let f = fixture();
    // One engine slot and no patience: a second concurrent request is refused.
    let st = f.state.clone().with_limits(1, Duration::from_millis(1));
    let slow = {
        let st = st.clone();
        tokio::spawn(async move {
            st.run(|_| {
                std::thread::sleep(Duration::from_millis(500));
                Ok(())
            })
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (s, h, b) = get(&st, "/api/search?q=cat").await;
    assert_eq!((s, error_code(&b).as_str()), (StatusCode::SERVICE_UNAVAILABLE, "overloaded"));
    assert!(h[header::RETRY_AFTER].to_str().unwrap().parse::<u64>().unwrap() >= 1);
    slow.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn original_replaced_by_a_symlink_out_of_the_roots_is_not_served() {
    let f = fixture();
    let st = &f.state;
    let note = json(&get(st, &format!("/api/items/{}", f.note_id)).await.2)["path"].as_str().unwrap().to_string();
    let (s, _, b) = get(st, &format!("/api/items/{}/original", f.note_id)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(String::from_utf8_lossy(&b).contains("Lisbon"));
    // After indexing, the file becomes a link to a file outside every root.
    let secret = f._dir.path().join("secret.txt");
    std::fs::write(&secret, "root password").unwrap();
    std::fs::remove_file(&note).unwrap();
    std::os::unix::fs::symlink(&secret, &note).unwrap();
    let (s, _, b) = get(st, &format!("/api/items/{}/original", f.note_id)).await;
    assert_eq!((s, error_code(&b).as_str()), (StatusCode::NOT_FOUND, "not_found"));
    assert!(!String::from_utf8_lossy(&b).contains("root password"));
    // A link to a folder is no regular file either.
    std::fs::remove_file(&note).unwrap();
    std::os::unix::fs::symlink(f._dir.path(), &note).unwrap();
    assert_eq!(get(st, &format!("/api/items/{}/original", f.note_id)).await.0, StatusCode::NOT_FOUND);
    // Traversal-looking ids are just bad ids.
    let (s, _, _) = get(st, "/api/items/..%2F..%2Fetc%2Fpasswd/original").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_host_names_are_refused_without_a_key() {
    let f = fixture();
    let with_host = |h: &str| Request::get("/api/search?q=cat").header(header::HOST, h).body(Body::empty()).unwrap();
    let (s, _, b) = call(&f.state, with_host("evil.example:7700")).await;
    assert_eq!((s, error_code(&b).as_str()), (StatusCode::FORBIDDEN, "forbidden"));
    for h in ["localhost:7700", "127.0.0.1:7700", "[::1]:7700"] {
        assert_eq!(call(&f.state, with_host(h)).await.0, StatusCode::OK, "{h}");
    }
    let mut allowed = f.state.clone();
    allowed.allow_hosts = Arc::new(vec!["nas.home".into()]);
    assert_eq!(call(&allowed, with_host("nas.home:7700")).await.0, StatusCode::OK);
    // With a key, the key is the guard: any host name, but the key is needed.
    let mut keyed = f.state.clone();
    keyed.api_key = Some(pith_web::state::ApiKey::new("k"));
    let req = Request::get("/api/search?q=cat").header(header::HOST, "evil.example").header("x-api-key", "k").body(Body::empty()).unwrap();
    assert_eq!(call(&keyed, req).await.0, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_uploads_are_4xx_never_5xx() {
    let f = fixture();
    let st = &f.state;
    let mut strip = Vec::new();
    image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(16000, 1, image::Rgb([9, 9, 9])))
        .write_to(&mut std::io::Cursor::new(&mut strip), image::ImageFormat::Png)
        .unwrap();
    // A 16000×1 strip is an image like any other (cropped, not resized to 4M×256).
    let (ct, body) = multipart("image", &strip);
    let (s, _, b) = call(st, Request::post("/api/search").header(header::CONTENT_TYPE, ct).body(Body::from(body)).unwrap()).await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    for (name, bytes) in [
        ("huge header", super::bad_input::png_claiming(100_000, 100_000)),
        ("bomb", super::bad_input::png_claiming(15_000, 15_000)),
        ("garbage", b"GIF89a not really".to_vec()),
    ] {
        let (ct, body) = multipart("image", &bytes);
        let (s, _, b) = call(st, Request::post("/api/search").header(header::CONTENT_TYPE, ct).body(Body::from(body)).unwrap()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{name}: {}", String::from_utf8_lossy(&b));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_is_served_and_lists_every_api_route() {
    let f = fixture();
    let (s, h, b) = get(&f.state, "/api/openapi.json").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h[header::CONTENT_TYPE], "application/json");
    let doc = json(&b);
    for p in [
        "/api/search",
        "/api/items/{id}",
        "/api/items/{id}/thumbnail",
        "/api/items/{id}/original",
        "/api/items/{id}/similar",
        "/api/status",
        "/healthz",
        "/api/rag/context",
        "/v1/embeddings",
        "/v1/models",
    ] {
        assert!(doc["paths"].get(p).is_some(), "{p} missing");
    }
}

async fn post_json(st: &AppState, uri: &str, body: serde_json::Value) -> (StatusCode, Vec<u8>) {
    let req = Request::post(uri).header(header::CONTENT_TYPE, "application/json").body(Body::from(body.to_string())).unwrap();
    let (s, _, b) = call(st, req).await;
    (s, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rag_context_answers_with_citations_and_refuses_bad_bodies() {
    let f = fixture();
    let (s, b) =
        post_json(&f.state, "/api/rag/context", serde_json::json!({"query": "passport renewal", "token_budget": 50, "min_relevance": 0}))
            .await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    let r = json(&b);
    assert_eq!(r["contexts"][0]["item_id"], f.note_id);
    assert_eq!(r["contexts"][0]["citation"], 1);
    assert!(r["prompt"].as_str().unwrap().starts_with("[1] "));
    assert!(r["prompt_tokens"].as_u64().unwrap() <= 50);
    for t in ["retrieve_ms", "sentences_ms", "compress_ms", "total_ms"] {
        assert!(r["timings"][t].is_number(), "{t}");
    }
    for bad in [
        serde_json::json!({"query": "x", "compression": "magic"}),
        serde_json::json!({"query": "x", "token_budget": 0}),
        serde_json::json!({"query": "", "token_budget": 10}),
        serde_json::json!({"query": "x", "tokenizer": "nope"}),
        serde_json::json!({"query": "x", "min_relevance": 3}),
        serde_json::json!({"k": 3}),
    ] {
        let (s, b) = post_json(&f.state, "/api/rag/context", bad.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {}", String::from_utf8_lossy(&b));
        assert_eq!(error_code(&b), "bad_request");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_embeddings_match_the_vectors_search_uses() {
    let f = fixture();
    let q = "renew the passport";
    let (s, b) = post_json(&f.state, "/v1/embeddings", serde_json::json!({"model": "pith-text", "input": [q, "a cat"]})).await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    let r = json(&b);
    assert_eq!(r["object"], "list");
    assert_eq!(r["data"].as_array().unwrap().len(), 2);
    let got: Vec<f32> = r["data"][0]["embedding"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect();
    let want = f.state.engine.encoders().unwrap().text.embed_one(q).unwrap();
    assert_eq!(got, want, "the API's vector must be the search query vector, bit for bit");
    assert!(r["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    // An image, as a data URL, gets the vector search by image uses.
    let png = std::fs::read(testdata().join("skimage/chelsea.png")).unwrap();
    let b64 = base64_encode(&png);
    let (s, b) =
        post_json(&f.state, "/v1/embeddings", serde_json::json!({"model": "pith-image", "input": format!("data:image/png;base64,{b64}")}))
            .await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    let got: Vec<f32> = json(&b)["data"][0]["embedding"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect();
    let img = image::load_from_memory(&png).unwrap();
    assert_eq!(got, f.state.engine.embed_image(&img).unwrap());
    for (bad, says) in [
        (serde_json::json!({"model": "pith-text", "input": [[101, 2023]]}), "token-array"),
        (serde_json::json!({"model": "pith-text", "input": [1, 2]}), "token-array"),
        (serde_json::json!({"model": "gpt-4", "input": "x"}), "unknown model"),
        (serde_json::json!({"model": "pith-image", "input": "https://example.com/cat.png"}), "does not fetch"),
        (serde_json::json!({"model": "pith-image", "input": "bm90IGFuIGltYWdl"}), "input 0"),
        (serde_json::json!({"model": "pith-text", "input": []}), "empty"),
    ] {
        let (s, b) = post_json(&f.state, "/v1/embeddings", bad.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}");
        assert!(json(&b)["error"]["message"].as_str().unwrap().contains(says), "{bad}: {}", String::from_utf8_lossy(&b));
    }
    let (s, _, b) = get(&f.state, "/v1/models").await;
    assert_eq!(s, StatusCode::OK);
    let ids: Vec<String> = json(&b)["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids, vec!["pith-text", "pith-image"]);
}

fn base64_encode(b: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in b.chunks(3) {
        let n = (c[0] as u32) << 16 | (*c.get(1).unwrap_or(&0) as u32) << 8 | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[tokio::test]
async fn documents_answer_with_pages_sections_kind_filters_and_their_text() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("files");
    std::fs::create_dir_all(&dir).unwrap();
    let fx = testdata().join("documents/docs");
    for f in ["report.pdf", "deck.pptx", "sign.png"] {
        std::fs::copy(fx.join(f), dir.join(f)).unwrap();
    }
    let e = engine(&d.path().join("store"));
    ingest_dir(&e, &dir);
    let mut st = AppState::new(Arc::new(e));
    st.roots = Arc::new(vec![dir.canonicalize().unwrap()]);

    let (s, _, b) = get(&st, "/api/search?q=herons+on+the+breakwater&kind=pdf").await;
    assert_eq!(s, StatusCode::OK);
    let hit = &json(&b)["results"][0];
    assert_eq!((hit["kind"].as_str(), hit["page"].as_u64()), (Some("pdf"), Some(3)), "{hit}");
    let id = hit["id"].as_i64().unwrap();
    // The item's text is served, and the original as a PDF.
    let (s, _, b) = get(&st, &format!("/api/items/{id}")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(json(&b)["text"].as_str().unwrap().contains("forty-two herons"));
    let (s, h, _) = get(&st, &format!("/api/items/{id}/original")).await;
    assert_eq!((s, h[header::CONTENT_TYPE].to_str().unwrap()), (StatusCode::OK, "application/pdf"));

    let (_, _, b) = get(&st, "/api/search?q=penguin+migration&kind=slides").await;
    assert_eq!(json(&b)["results"][0]["section"].as_str(), Some("Slide 2"));
    let (_, _, b) = get(&st, "/api/search?q=invoice+4471&kind=textimage").await;
    let r = json(&b);
    assert_eq!(r["results"].as_array().unwrap().len(), 1, "{r}");
    assert_eq!(r["results"][0]["section"].as_str(), Some("Text in image"));
    // The page shows the page link and the section; the chips offer the kinds.
    let (s, _, b) = get(&st, "/?q=herons+on+the+breakwater").await;
    let html = String::from_utf8_lossy(&b);
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains(&format!("/api/items/{id}/original#page=3")), "{html}");
    assert!(html.contains("Text in image") && html.contains("Spreadsheets"), "{html}");
    let (s, _, b) = get(&st, "/api/search?q=x&kind=manuscript").await;
    assert_eq!((s, error_code(&b).as_str()), (StatusCode::BAD_REQUEST, "bad_request"));
}
