//! JSON API handlers (documented with curl examples in docs/API.md).

use std::path::Path;

use axum::body::Body;
use axum::extract::{Multipart, Path as UrlPath, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use pith_pipeline::search::{Filters, Fusion, Hubness, Mode, SearchRequest};
use pith_pipeline::{Kind, SearchHit};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::state::AppState;
use pith_pipeline::ids::ItemId;

pub const MAX_K: usize = 200;

/// Search parameters as they arrive (query string or JSON body); all optional
/// strings so that a malformed value becomes a clear 400, not a rejection.
#[derive(Debug, Default, Clone, Deserialize, Serialize, utoipa::IntoParams, utoipa::ToSchema)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// The query (required, at most 4096 bytes).
    pub q: Option<String>,
    /// Results per page, 1 to 200 (default 10).
    pub k: Option<String>,
    /// `all`, `text`, `image`, `audio` or `video`.
    pub kind: Option<String>,
    /// Only files whose path starts with this.
    pub path: Option<String>,
    /// Modified on or after: YYYY-MM-DD or Unix seconds.
    pub after: Option<String>,
    /// Modified before: YYYY-MM-DD or Unix seconds.
    pub before: Option<String>,
    /// Results to skip, at most 10000.
    pub offset: Option<String>,
    /// `hybrid` (default), `bm25` or `vector`.
    pub mode: Option<String>,
    /// Comma-separated file extensions.
    pub ext: Option<String>,
    /// Hide hits whose calibrated relevance is below this (0 to 1; 0 shows
    /// weaker matches too). Default: the store's `search.min-relevance`.
    pub min_relevance: Option<String>,
    /// `convex` (default) or `rrf`.
    pub fusion: Option<String>,
    /// Share of dense retrieval in convex fusion, 0 to 1 (the "semantic ratio").
    pub semantic_ratio: Option<String>,
    /// Hubness correction for cross-modal spaces: `none`, `csls`, `qbnorm`, `dbnorm`.
    pub hubness: Option<String>,
}

fn num(v: &Option<String>, name: &str, default: usize) -> Result<usize, ApiError> {
    match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(default),
        Some(s) => s.parse().map_err(|_| ApiError::BadRequest(format!("`{name}` must be a non-negative integer, got `{s}`"))),
    }
}

impl SearchParams {
    pub fn to_request(&self, default_k: usize) -> Result<SearchRequest, ApiError> {
        let q = self.q.clone().unwrap_or_default();
        if q.trim().is_empty() {
            return Err(ApiError::BadRequest("`q` is required".into()));
        }
        if q.len() > 4096 {
            return Err(ApiError::BadRequest("`q` is longer than 4096 bytes".into()));
        }
        let k = num(&self.k, "k", default_k)?;
        if k == 0 || k > MAX_K {
            return Err(ApiError::BadRequest(format!("`k` must be between 1 and {MAX_K}")));
        }
        let offset = num(&self.offset, "offset", 0)?;
        if offset > 10_000 {
            return Err(ApiError::BadRequest("`offset` must be at most 10000".into()));
        }
        let kind = match self.kind.as_deref().map(str::trim).filter(|s| !s.is_empty() && *s != "all") {
            None => None,
            Some(s) => Some(Kind::parse(s).ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "`kind` must be all, text, image, audio, video, pdf, document, spreadsheet, slides, ebook or textimage, got `{s}`"
                ))
            })?),
        };
        let date = |v: &Option<String>, name: &str| -> Result<Option<i64>, ApiError> {
            match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                None => Ok(None),
                Some(s) => pith_pipeline::dates::parse_date(s)
                    .map(Some)
                    .ok_or_else(|| ApiError::BadRequest(format!("`{name}` must be YYYY-MM-DD or Unix seconds, got `{s}`"))),
            }
        };
        let mode = match self.mode.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => Mode::Hybrid,
            Some(s) => Mode::parse(s).ok_or_else(|| ApiError::BadRequest(format!("`mode` must be hybrid, bm25 or vector, got `{s}`")))?,
        };
        Ok(SearchRequest {
            q,
            k,
            offset,
            filters: Filters {
                kind,
                path_prefix: self.path.clone().filter(|p| !p.trim().is_empty()),
                after: date(&self.after, "after")?,
                before: date(&self.before, "before")?,
                ext: self.ext.as_deref().unwrap_or("").split(',').map(|e| e.trim().to_string()).filter(|e| !e.is_empty()).collect(),
            },
            mode,
            min_relevance: unit(&self.min_relevance, "min_relevance")?,
            fusion: match trimmed(&self.fusion) {
                None => None,
                Some(s) => {
                    Some(Fusion::parse(s).ok_or_else(|| ApiError::BadRequest(format!("`fusion` must be convex or rrf, got `{s}`")))?)
                }
            },
            semantic_ratio: unit(&self.semantic_ratio, "semantic_ratio")?,
            hubness: match trimmed(&self.hubness) {
                None => None,
                Some(s) => Some(
                    Hubness::parse(s)
                        .ok_or_else(|| ApiError::BadRequest(format!("`hubness` must be none, csls, qbnorm or dbnorm, got `{s}`")))?,
                ),
            },
        })
    }
}

fn trimmed(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// An optional number from 0 to 1.
fn unit(v: &Option<String>, name: &str) -> Result<Option<f32>, ApiError> {
    match trimmed(v) {
        None => Ok(None),
        Some(s) => match s.parse::<f32>() {
            Ok(x) if (0.0..=1.0).contains(&x) => Ok(Some(x)),
            _ => Err(ApiError::BadRequest(format!("`{name}` must be a number from 0 to 1, got `{s}`"))),
        },
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SearchResponse {
    pub query: String,
    pub k: usize,
    pub offset: usize,
    pub took_ms: f64,
    pub results: Vec<SearchHit>,
    /// Candidates hidden by the relevance cut-off (`min_relevance=0` shows them).
    pub hidden: usize,
}

pub async fn run_search(st: &AppState, req: SearchRequest) -> Result<SearchResponse, ApiError> {
    let t = std::time::Instant::now();
    let (query, k, offset) = (req.q.clone(), req.k, req.offset);
    let r = st.run(move |e| Ok(e.search_results(&req)?)).await?;
    Ok(SearchResponse { query, k, offset, took_ms: t.elapsed().as_secs_f64() * 1e3, results: r.hits, hidden: r.hidden })
}

#[utoipa::path(get, path = "/api/search", params(SearchParams), responses((status = 200, description = "Ranked items", body = SearchResponse), (status = 400, description = "Bad parameter", body = crate::openapi::ErrorBody), (status = 401, description = "API key required", body = crate::openapi::ErrorBody), (status = 403, description = "Host not allowed", body = crate::openapi::ErrorBody), (status = 503, description = "Overloaded; retry after the Retry-After seconds", body = crate::openapi::ErrorBody)))]
pub async fn search_get(
    State(st): State<AppState>,
    q: Result<Query<SearchParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<SearchResponse>, ApiError> {
    let Query(p) = q.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    Ok(Json(run_search(&st, p.to_request(10)?).await?))
}

#[utoipa::path(post, path = "/api/search", request_body(content = crate::openapi::SearchBody, description = "The GET fields as JSON (numbers accepted). A multipart body with an `image` part searches by image instead."), responses((status = 200, description = "Ranked items", body = SearchResponse), (status = 413, description = "Body too large", body = crate::openapi::ErrorBody), (status = 400, description = "Bad parameter", body = crate::openapi::ErrorBody), (status = 401, description = "API key required", body = crate::openapi::ErrorBody), (status = 403, description = "Host not allowed", body = crate::openapi::ErrorBody), (status = 503, description = "Overloaded; retry after the Retry-After seconds", body = crate::openapi::ErrorBody)))]
/// JSON body with the GET fields, or multipart with an `image` part (search by image).
pub async fn search_post(State(st): State<AppState>, req: Request) -> Result<Response, ApiError> {
    let ctype = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    if ctype.starts_with("multipart/form-data") {
        let mp = Multipart::from_request_parts(req, &st).await?;
        let (bytes, k) = read_image_upload(mp).await?;
        let hits = image_search(&st, bytes, k).await?;
        return Ok(Json(SearchResponse { query: String::new(), k, offset: 0, took_ms: 0.0, results: hits, hidden: 0 }).into_response());
    }
    let body =
        axum::body::to_bytes(req.into_body(), st.max_upload).await.map_err(|_| ApiError::TooLarge("request body too large".into()))?;
    let v: serde_json::Value = serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))?;
    if !v.is_object() {
        return Err(ApiError::BadRequest("the JSON body must be an object".into()));
    }
    // Strings everywhere; numbers also for the numeric fields; null = absent.
    const NUMERIC: [&str; 4] = ["k", "offset", "min_relevance", "semantic_ratio"];
    let s = |k: &str| -> Result<Option<String>, ApiError> {
        match v.get(k) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(x)) => Ok(Some(x.clone())),
            Some(n @ serde_json::Value::Number(_)) if NUMERIC.contains(&k) => Ok(Some(n.to_string())),
            Some(_) => {
                Err(ApiError::BadRequest(format!("`{k}` must be a string{}", if NUMERIC.contains(&k) { " or a number" } else { "" })))
            }
        }
    };
    let p = SearchParams {
        q: s("q")?,
        k: s("k")?,
        kind: s("kind")?,
        path: s("path")?,
        after: s("after")?,
        before: s("before")?,
        offset: s("offset")?,
        mode: s("mode")?,
        ext: s("ext")?,
        min_relevance: s("min_relevance")?,
        fusion: s("fusion")?,
        semantic_ratio: s("semantic_ratio")?,
        hubness: s("hubness")?,
    };
    Ok(Json(run_search(&st, p.to_request(10)?).await?).into_response())
}

trait FromParts {
    async fn from_request_parts(req: Request, st: &AppState) -> Result<Multipart, ApiError>;
}

impl FromParts for Multipart {
    async fn from_request_parts(req: Request, st: &AppState) -> Result<Multipart, ApiError> {
        use axum::extract::FromRequest;
        Multipart::from_request(req, st).await.map_err(|e| ApiError::BadRequest(format!("bad multipart request: {}", e.body_text())))
    }
}

/// The bytes of the `image` part and an optional `k` part.
pub async fn read_image_upload(mut mp: Multipart) -> Result<(Vec<u8>, usize), ApiError> {
    let mut image = None;
    let mut k = 24;
    while let Some(field) = mp.next_field().await? {
        match field.name().unwrap_or("") {
            "image" => image = Some(field.bytes().await?.to_vec()),
            "k" => {
                let t = field.text().await?;
                k = t.trim().parse().map_err(|_| ApiError::BadRequest(format!("`k` must be an integer, got `{t}`")))?;
            }
            _ => {}
        }
    }
    let image =
        image.filter(|b| !b.is_empty()).ok_or_else(|| ApiError::BadRequest("multipart body needs a non-empty `image` part".into()))?;
    Ok((image, k.clamp(1, MAX_K)))
}

pub async fn image_search(st: &AppState, bytes: Vec<u8>, k: usize) -> Result<Vec<SearchHit>, ApiError> {
    // The same bounded decoder as ingest: a hostile upload is a 400, never a 5xx.
    st.run(move |e| Ok(e.search_by_image_bytes(&bytes, k)?)).await
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ItemResponse {
    #[serde(flatten)]
    pub item: pith_pipeline::store::ItemRow,
    pub thumbnail: Option<String>,
    pub original: String,
    pub text: Option<String>,
}

pub fn parse_id(s: &str) -> Result<ItemId, ApiError> {
    s.parse::<i64>()
        .ok()
        .filter(|&i| i > 0)
        .map(ItemId)
        .ok_or_else(|| ApiError::BadRequest(format!("item id must be a positive integer, got `{s}`")))
}

pub async fn load_item(st: &AppState, id: ItemId) -> Result<ItemResponse, ApiError> {
    st.run(move |e| {
        let item = e.item(id)?;
        // Documents' text, and the words OCR found in a photo (if any).
        let textual = pith_pipeline::types::Kind::parse(&item.kind).is_some_and(|k| k.is_textual());
        let text = if textual || item.kind == "image" { Some(e.item_text(id)?).filter(|t| textual || !t.trim().is_empty()) } else { None };
        Ok(ItemResponse {
            thumbnail: item.has_thumbnail.then(|| format!("/api/items/{id}/thumbnail")),
            original: format!("/api/items/{id}/original"),
            item,
            text,
        })
    })
    .await
}

#[utoipa::path(get, path = "/api/items/{id}", params(("id" = String, Path, description = "Item id (a positive integer)")), responses((status = 200, description = "The item, with its text", body = ItemResponse), (status = 404, description = "No such item", body = crate::openapi::ErrorBody), (status = 400, description = "Bad parameter", body = crate::openapi::ErrorBody), (status = 401, description = "API key required", body = crate::openapi::ErrorBody), (status = 403, description = "Host not allowed", body = crate::openapi::ErrorBody), (status = 503, description = "Overloaded; retry after the Retry-After seconds", body = crate::openapi::ErrorBody)))]
pub async fn item(State(st): State<AppState>, UrlPath(id): UrlPath<String>) -> Result<Json<ItemResponse>, ApiError> {
    Ok(Json(load_item(&st, parse_id(&id)?).await?))
}

#[utoipa::path(get, path = "/api/items/{id}/thumbnail", params(("id" = String, Path, description = "Item id (a positive integer)")), responses((status = 200, description = "JPEG thumbnail", content_type = "image/jpeg", body = Vec<u8>), (status = 304, description = "Not modified"), (status = 404, description = "No such item or no thumbnail", body = crate::openapi::ErrorBody), (status = 400, description = "Bad parameter", body = crate::openapi::ErrorBody), (status = 401, description = "API key required", body = crate::openapi::ErrorBody), (status = 403, description = "Host not allowed", body = crate::openapi::ErrorBody), (status = 503, description = "Overloaded; retry after the Retry-After seconds", body = crate::openapi::ErrorBody)))]
pub async fn thumbnail(State(st): State<AppState>, UrlPath(id): UrlPath<String>, headers: HeaderMap) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    // Item ids are never reused and an item never changes (a changed file gets
    // a new item), so a thumbnail URL is immutable.
    let etag = format!("\"thumb-{id}\"");
    if headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
        return Ok(StatusCode::NOT_MODIFIED.into_response());
    }
    let (mime, bytes) = st.run(move |e| Ok(e.thumbnail(id)?)).await?;
    Ok((
        [(header::CONTENT_TYPE, mime), (header::CACHE_CONTROL, "public, max-age=31536000, immutable".to_string()), (header::ETAG, etag)],
        bytes,
    )
        .into_response())
}

/// One time-spanned piece of an item: a transcript segment or a merged
/// stretch of video frames (text empty).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SegmentOut {
    pub chunk_id: pith_pipeline::ids::ChunkId,
    /// Seconds from the start of the recording.
    pub start: Option<f64>,
    pub end: Option<f64>,
    pub text: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SegmentsResponse {
    pub item: ItemId,
    pub kind: String,
    pub segments: Vec<SegmentOut>,
}

#[utoipa::path(get, path = "/api/items/{id}/segments", params(("id" = String, Path, description = "Item id (a positive integer)")), responses((status = 200, description = "The item's segments in order, with their time spans (audio, video; other items have one per chunk without times)", body = SegmentsResponse), (status = 404, description = "No such item", body = crate::openapi::ErrorBody), (status = 400, description = "Bad parameter", body = crate::openapi::ErrorBody), (status = 401, description = "API key required", body = crate::openapi::ErrorBody), (status = 403, description = "Host not allowed", body = crate::openapi::ErrorBody), (status = 503, description = "Overloaded; retry after the Retry-After seconds", body = crate::openapi::ErrorBody)))]
pub async fn segments(State(st): State<AppState>, UrlPath(id): UrlPath<String>) -> Result<Json<SegmentsResponse>, ApiError> {
    let id = parse_id(&id)?;
    Ok(Json(st.run(move |e| load_segments(e, id)).await?))
}

pub fn load_segments(e: &pith_pipeline::Engine, id: ItemId) -> Result<SegmentsResponse, ApiError> {
    let item = e.item(id)?;
    let secs = |ms: Option<i64>| ms.map(|v| v as f64 / 1000.0);
    let segments = e
        .chunks_of_item(id)?
        .into_iter()
        .map(|c| SegmentOut { chunk_id: c.id, start: secs(c.start_ms), end: secs(c.end_ms), text: c.text })
        .collect();
    Ok(SegmentsResponse { item: id, kind: item.kind, segments })
}

#[utoipa::path(get, path = "/api/items/{id}/original", params(("id" = String, Path, description = "Item id (a positive integer)"), ("Range" = Option<String>, Header, description = "One byte range, e.g. `bytes=0-1023` (seeking in audio and video)")), responses((status = 200, description = "The original file (its own media type), served only from inside the indexed folders", content_type = "*/*", body = Vec<u8>), (status = 206, description = "The requested byte range (Content-Range says which)", content_type = "*/*", body = Vec<u8>), (status = 416, description = "The range lies outside the file"), (status = 404, description = "No such item, or the file is gone or outside the folders", body = crate::openapi::ErrorBody), (status = 400, description = "Bad parameter", body = crate::openapi::ErrorBody), (status = 401, description = "API key required", body = crate::openapi::ErrorBody), (status = 403, description = "Host not allowed", body = crate::openapi::ErrorBody), (status = 503, description = "Overloaded; retry after the Retry-After seconds", body = crate::openapi::ErrorBody)))]
pub async fn original(State(st): State<AppState>, UrlPath(id): UrlPath<String>, headers: HeaderMap) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let roots = st.roots.clone();
    let (item, file, real) = st
        .run(move |e| {
            let item = e.item(id)?;
            let mut allowed: Vec<std::path::PathBuf> = roots.as_ref().clone();
            allowed.extend(e.roots()?);
            let (file, real) = open_inside(Path::new(&item.path), &allowed)
                .map_err(|why| ApiError::NotFound(format!("the original of item {id} is not served: {why}")))?;
            Ok((item, file, real))
        })
        .await?;
    let mime = item.mime.clone().unwrap_or_else(|| guess_mime(&real).to_string());
    let name = real.file_name().map(|n| n.to_string_lossy().replace('"', "")).unwrap_or_default();
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let range = crate::range::parse(headers.get(header::RANGE).and_then(|v| v.to_str().ok()), len);
    let mut file = tokio::fs::File::from_std(file);
    let (status, body, content_range) = match range {
        crate::range::RangeReq::Full => (StatusCode::OK, Body::from_stream(tokio_util::io::ReaderStream::new(file)), None),
        crate::range::RangeReq::Partial(a, b) => {
            use tokio::io::{AsyncReadExt, AsyncSeekExt};
            file.seek(std::io::SeekFrom::Start(a)).await.map_err(|e| ApiError::Internal(format!("seek: {e}")))?;
            let part = file.take(b - a + 1);
            (StatusCode::PARTIAL_CONTENT, Body::from_stream(tokio_util::io::ReaderStream::new(part)), Some(format!("bytes {a}-{b}/{len}")))
        }
        crate::range::RangeReq::Unsatisfiable => (StatusCode::RANGE_NOT_SATISFIABLE, Body::empty(), Some(format!("bytes */{len}"))),
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Some(cr) = content_range.and_then(|v| HeaderValue::from_str(&v).ok()) {
        h.insert(header::CONTENT_RANGE, cr);
    }
    h.insert(header::CONTENT_TYPE, HeaderValue::from_str(&mime).unwrap_or(HeaderValue::from_static("application/octet-stream")));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    if let Ok(v) = HeaderValue::from_str(&format!("inline; filename=\"{}\"", name.replace(|c: char| !c.is_ascii() || c.is_control(), "_")))
    {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

/// Open `path` and check what was actually opened, not what the path said a
/// moment ago: the real path of the open descriptor must lie inside a
/// canonical root and be a regular file. A file swapped for a symlink to
/// `/etc/passwd` after indexing is therefore refused, whatever the timing.
pub fn open_inside(path: &Path, roots: &[std::path::PathBuf]) -> Result<(std::fs::File, std::path::PathBuf), String> {
    let file = std::fs::File::open(path).map_err(|_| "it is gone".to_string())?;
    let md = file.metadata().map_err(|e| e.to_string())?;
    if !md.is_file() {
        return Err("it is not a regular file".into());
    }
    let real = real_path(&file, path)?;
    let inside = roots.iter().filter_map(|r| r.canonicalize().ok()).any(|r| real.starts_with(&r));
    if !inside {
        return Err("it lies outside the indexed folders".into());
    }
    Ok((file, real))
}

#[cfg(target_os = "linux")]
fn real_path(file: &std::fs::File, _path: &Path) -> Result<std::path::PathBuf, String> {
    use std::os::fd::AsRawFd;
    std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())).map_err(|e| e.to_string())
}

#[cfg(not(target_os = "linux"))]
fn real_path(_file: &std::fs::File, path: &Path) -> Result<std::path::PathBuf, String> {
    path.canonicalize().map_err(|e| e.to_string())
}

fn guess_mime(p: &Path) -> &'static str {
    match p.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("txt" | "md" | "csv" | "log" | "rs" | "py" | "toml" | "json" | "yaml" | "yml") => "text/plain; charset=utf-8",
        // Never render stored HTML as a page from pith's origin.
        Some("html" | "htm") => "text/plain; charset=utf-8",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        _ => "application/octet-stream",
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct KParam {
    /// How many, 1 to 200 (default 12).
    pub k: Option<String>,
}

#[utoipa::path(get, path = "/api/items/{id}/similar", params(("id" = String, Path, description = "Item id (a positive integer)"), KParam), responses((status = 200, description = "Items like this one", body = SearchResponse), (status = 404, description = "No such item", body = crate::openapi::ErrorBody), (status = 400, description = "Bad parameter", body = crate::openapi::ErrorBody), (status = 401, description = "API key required", body = crate::openapi::ErrorBody), (status = 403, description = "Host not allowed", body = crate::openapi::ErrorBody), (status = 503, description = "Overloaded; retry after the Retry-After seconds", body = crate::openapi::ErrorBody)))]
pub async fn similar(
    State(st): State<AppState>,
    UrlPath(id): UrlPath<String>,
    q: Result<Query<KParam>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<SearchResponse>, ApiError> {
    let id = parse_id(&id)?;
    let Query(p) = q.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let k = num(&p.k, "k", 12)?.clamp(1, MAX_K);
    let t = std::time::Instant::now();
    let results = st.run(move |e| Ok(e.similar(id, k)?)).await?;
    Ok(Json(SearchResponse { query: format!("similar:{id}"), k, offset: 0, took_ms: t.elapsed().as_secs_f64() * 1e3, results, hidden: 0 }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct StatusResponse {
    #[serde(flatten)]
    pub engine: pith_pipeline::engine::Status,
    pub watch: Option<pith_pipeline::watch::WatchSnapshot>,
}

pub async fn load_status(st: &AppState) -> Result<StatusResponse, ApiError> {
    let watch = st.watch.as_ref().map(|w| w.snapshot());
    let engine = st.run(|e| Ok(e.status(20)?)).await?;
    Ok(StatusResponse { engine, watch })
}

#[utoipa::path(get, path = "/api/status", responses((status = 200, description = "Counts, spaces, errors, watcher", body = StatusResponse), (status = 400, description = "Bad parameter", body = crate::openapi::ErrorBody), (status = 401, description = "API key required", body = crate::openapi::ErrorBody), (status = 403, description = "Host not allowed", body = crate::openapi::ErrorBody), (status = 503, description = "Overloaded; retry after the Retry-After seconds", body = crate::openapi::ErrorBody)))]
pub async fn status(State(st): State<AppState>) -> Result<Json<StatusResponse>, ApiError> {
    Ok(Json(load_status(&st).await?))
}

#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "Alive", body = crate::openapi::Health), (status = 400, description = "Bad parameter", body = crate::openapi::ErrorBody), (status = 401, description = "API key required", body = crate::openapi::ErrorBody), (status = 403, description = "Host not allowed", body = crate::openapi::ErrorBody), (status = 503, description = "Overloaded; retry after the Retry-After seconds", body = crate::openapi::ErrorBody)))]
pub async fn healthz(State(st): State<AppState>) -> Result<Json<crate::openapi::Health>, ApiError> {
    let files = st.run(|e| Ok(e.status(0)?.counts.files)).await?;
    Ok(Json(crate::openapi::Health { status: "ok".into(), files }))
}

/// Body of `PUT /api/spaces/{label}/codec`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CodecBody {
    /// `default` (float32 in hnsw_rs), `f32` (float32 in pith's graph), `f16`,
    /// `int8`, `int4`, `binary`, `rbq2`..`rbq4`, `pq16`, `pq32`, `opq16`,
    /// `pca96+int8`, ...; `+rerank` re-ranks with float32 from disk.
    pub codec: String,
}

#[utoipa::path(put, path = "/api/spaces/{label}/codec", params(("label" = String, Path, description = "Space label: text, visual, conse, clip or clap")), request_body = CodecBody, responses((status = 200, description = "Re-encoded; the new footprint of each space with this label", body = Vec<pith_pipeline::index::IndexFootprint>), (status = 400, description = "Unknown space or codec, or a codec that does not fit the dimension", body = crate::openapi::ErrorBody), (status = 401, description = "API key required", body = crate::openapi::ErrorBody), (status = 403, description = "Host not allowed", body = crate::openapi::ErrorBody), (status = 503, description = "Overloaded, or the store is open read-only", body = crate::openapi::ErrorBody)))]
/// Change how a space keeps its vectors. The space is re-encoded beside the
/// live index, which keeps answering searches until the swap; the request
/// returns when the new index is in place.
pub async fn set_codec(
    State(st): State<AppState>,
    UrlPath(label): UrlPath<String>,
    body: axum::body::Bytes,
) -> Result<Json<Vec<pith_pipeline::index::IndexFootprint>>, ApiError> {
    let b: CodecBody = serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))?;
    Ok(Json(st.run(move |e| Ok(e.set_codec(&label, &b.codec)?)).await?))
}

pub async fn not_found() -> ApiError {
    ApiError::NotFound("no such route".into())
}
