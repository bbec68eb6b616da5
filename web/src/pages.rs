//! Server-rendered pages. They work without JavaScript: the query, filters and
//! page live in the URL, so links are shareable and the back button works.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Multipart, Path as UrlPath, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::api::{self, SearchParams};
use crate::error::ApiError;
use crate::state::AppState;

const PAGE_SIZE: usize = 24;

pub struct Hit {
    pub id: pith_pipeline::ids::ItemId,
    pub kind: String,
    pub title: String,
    pub path: String,
    pub thumb: Option<String>,
    /// Snippet split into (text, highlighted) runs; askama escapes each.
    pub runs: Vec<(String, bool)>,
    /// Audio and video: where the matched segment starts (seconds, for
    /// `#t=` media fragments) and its span as text ("1:02–1:09").
    pub start: Option<String>,
    pub span: Option<String>,
    /// PDFs: the matched page (the original opens there, `#page=`).
    pub page: Option<u32>,
    /// Documents: the matched section ("Slide 3", a heading, "Text in image").
    pub section: Option<String>,
}

impl From<pith_pipeline::SearchHit> for Hit {
    fn from(h: pith_pipeline::SearchHit) -> Self {
        let mut runs = Vec::new();
        let mut at = 0;
        for &(a, b) in &h.highlights {
            if a < at || a > b || b > h.snippet.len() || !h.snippet.is_char_boundary(a) || !h.snippet.is_char_boundary(b) {
                continue;
            }
            runs.push((h.snippet[at..a].to_string(), false));
            runs.push((h.snippet[a..b].to_string(), true));
            at = b;
        }
        runs.push((h.snippet[at..].to_string(), false));
        let start = h.start.map(|s| format!("{s:.1}"));
        let span = h.start.zip(h.end).map(|(a, b)| format!("{}–{}", pith_pipeline::dates::clock(a), pith_pipeline::dates::clock(b)));
        Hit {
            id: h.id,
            kind: h.kind,
            title: h.title,
            path: h.path,
            thumb: h.thumbnail,
            runs,
            start,
            span,
            page: h.page,
            section: h.section,
        }
    }
}

pub struct Chip {
    pub label: &'static str,
    pub href: String,
    pub active: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "search.html")]
pub struct SearchPage {
    pub q: String,
    pub kind: String,
    pub chips: Vec<Chip>,
    pub images: Vec<Hit>,
    pub texts: Vec<Hit>,
    pub error: Option<String>,
    pub empty_reason: Option<String>,
    pub page: usize,
    pub prev: Option<String>,
    pub next: Option<String>,
    pub took_ms: String,
    pub heading: String,
    /// "Show N weaker matches": the same search with the cut-off off.
    pub weaker: Option<(usize, String)>,
}

#[derive(Debug, Deserialize, Default)]
pub struct PageParams {
    #[serde(flatten)]
    pub search: SearchParams,
    pub page: Option<String>,
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A link to the search page with every filter of `p` kept, the kind set
/// to `kind` and the page to `page` (pagination and chips never drop a filter).
fn url(p: &SearchParams, kind: &str, page: usize) -> String {
    let mut u = format!("/?q={}", enc(p.q.as_deref().unwrap_or("")));
    if !kind.is_empty() && kind != "all" {
        u.push_str(&format!("&kind={}", enc(kind)));
    }
    for (name, v) in [
        ("path", &p.path),
        ("ext", &p.ext),
        ("after", &p.after),
        ("before", &p.before),
        ("mode", &p.mode),
        ("min_relevance", &p.min_relevance),
        ("semantic_ratio", &p.semantic_ratio),
        ("fusion", &p.fusion),
        ("hubness", &p.hubness),
    ] {
        if let Some(v) = v.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            u.push_str(&format!("&{name}={}", enc(v)));
        }
    }
    if page > 1 {
        u.push_str(&format!("&page={page}"));
    }
    u
}

fn split(hits: Vec<pith_pipeline::SearchHit>) -> (Vec<Hit>, Vec<Hit>) {
    // A photo found by the words in it is listed with those words.
    let (i, t): (Vec<_>, Vec<_>) = hits
        .into_iter()
        .map(Hit::from)
        .partition(|h| h.kind == "image" && h.section.as_deref() != Some(pith_pipeline::ingest::OCR_SECTION));
    (i, t)
}

pub async fn search_page(State(st): State<AppState>, q: Result<Query<PageParams>, axum::extract::rejection::QueryRejection>) -> Response {
    let p = q.map(|Query(p)| p).unwrap_or_default();
    let query = p.search.q.clone().unwrap_or_default();
    let kind = p.search.kind.clone().unwrap_or_default();
    let page: usize = p.page.as_deref().and_then(|s| s.parse().ok()).unwrap_or(1).clamp(1, 400);
    let chips = [
        ("All", "all"),
        ("Images", "image"),
        ("Text", "text"),
        ("PDF", "pdf"),
        ("Documents", "document"),
        ("Spreadsheets", "spreadsheet"),
        ("Slides", "slides"),
        ("E-books", "ebook"),
        ("Text in image", "textimage"),
        ("Audio", "audio"),
        ("Video", "video"),
    ]
    .into_iter()
    .map(|(label, k)| Chip { label, href: url(&p.search, k, 1), active: (kind.is_empty() && k == "all") || kind == k })
    .collect();
    let mut page_view = SearchPage {
        q: query.clone(),
        kind: kind.clone(),
        chips,
        images: vec![],
        texts: vec![],
        error: None,
        empty_reason: None,
        page,
        prev: None,
        next: None,
        took_ms: String::new(),
        heading: String::new(),
        weaker: None,
    };
    if query.trim().is_empty() {
        return page_view.into_response();
    }
    let mut sp = p.search.clone();
    sp.k = Some(PAGE_SIZE.to_string());
    sp.offset = Some(((page - 1) * PAGE_SIZE).to_string());
    match sp.to_request(PAGE_SIZE) {
        Err(e) => page_view.error = Some(e.to_string()),
        Ok(req) => match api::run_search(&st, req).await {
            Err(e) => page_view.error = Some(e.to_string()),
            Ok(r) => {
                let n = r.results.len();
                page_view.took_ms = format!("{:.0}", r.took_ms);
                if r.hidden > 0 {
                    let all = SearchParams { min_relevance: Some("0".into()), ..p.search.clone() };
                    page_view.weaker = Some((r.hidden, url(&all, &kind, 1)));
                }
                if n == 0 && r.hidden > 0 && page == 1 {
                    page_view.empty_reason = Some("Nothing indexed matches this well enough.".into());
                } else if n == 0 {
                    page_view.empty_reason = Some(empty_reason(&st, page, &kind).await);
                }
                if page > 1 {
                    page_view.prev = Some(url(&p.search, &kind, page - 1));
                }
                if n == PAGE_SIZE {
                    page_view.next = Some(url(&p.search, &kind, page + 1));
                }
                (page_view.images, page_view.texts) = split(r.results);
            }
        },
    }
    page_view.into_response()
}

async fn empty_reason(st: &AppState, page: usize, kind: &str) -> String {
    if page > 1 {
        return "No more results on this page; go back to the first page.".into();
    }
    let counts = st.run(|e| Ok(e.status(0)?.counts)).await.ok();
    match counts {
        Some(c) if c.files == 0 => {
            "Nothing is indexed yet. Add a folder with `pith ingest DIR` or `pith serve --watch DIR`; the status page shows progress."
                .into()
        }
        Some(c) if kind == "image" && c.image_items == 0 => "No images are indexed yet.".into(),
        Some(c) if kind == "text" && c.text_items == 0 => "No text documents are indexed yet.".into(),
        Some(c) if kind == "audio" && c.audio_items == 0 => "No recordings are indexed yet.".into(),
        Some(c) if kind == "video" && c.video_items == 0 => "No videos are indexed yet.".into(),
        Some(c) if ["pdf", "document", "spreadsheet", "slides", "ebook"].contains(&kind) && c.document_items == 0 => {
            "No PDFs, Office documents or e-books are indexed yet.".into()
        }
        Some(c) if kind == "textimage" && c.ocr_items == 0 => {
            "No images with text are indexed yet (OCR needs Tesseract: apt-get install tesseract-ocr tesseract-ocr-eng).".into()
        }
        _ => "No indexed item matches these words or filters. Try fewer or other words, or the All filter.".into(),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "item.html")]
pub struct ItemPage {
    pub id: pith_pipeline::ids::ItemId,
    pub kind: String,
    pub title: String,
    pub path: String,
    pub size: String,
    pub modified: String,
    pub dims: Option<String>,
    pub labels: Option<String>,
    pub text: Option<String>,
    pub images: Vec<Hit>,
    pub texts: Vec<Hit>,
    pub q: String,
    /// Audio and video: play from here (`?t=` seconds), and the segments
    /// as (start seconds, "m:ss", text) links.
    pub t: String,
    pub segments: Vec<(String, String, String)>,
}

#[derive(Debug, Deserialize, Default)]
pub struct ItemParams {
    pub t: Option<String>,
}

pub async fn item_page(
    State(st): State<AppState>,
    UrlPath(id): UrlPath<String>,
    q: Result<Query<ItemParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let id = api::parse_id(&id)?;
    let t = q.ok().and_then(|Query(p)| p.t).and_then(|t| t.parse::<f64>().ok()).filter(|t| t.is_finite() && *t >= 0.0).unwrap_or(0.0);
    let it = api::load_item(&st, id).await?;
    let media = it.item.kind == "audio" || it.item.kind == "video";
    let segments = if media {
        st.run(move |e| api::load_segments(e, id))
            .await?
            .segments
            .into_iter()
            .filter_map(|s| s.start.map(|a| (format!("{a:.1}"), pith_pipeline::dates::clock(a), s.text)))
            .collect()
    } else {
        Vec::new()
    };
    let similar = st.run(move |e| Ok(e.similar(id, 13)?)).await.unwrap_or_default();
    let i = it.item;
    let (images, texts) = split(similar.into_iter().filter(|h| h.id != id).take(12).collect());
    Ok(ItemPage {
        id,
        kind: i.kind,
        title: i.title,
        path: i.path,
        size: human_size(i.size),
        modified: pith_pipeline::dates::format_date(i.mtime),
        dims: i.width.zip(i.height).map(|(w, h)| format!("{w} × {h}")),
        labels: i.labels.filter(|l| !l.is_empty()),
        text: if media { None } else { it.text },
        images,
        texts,
        q: String::new(),
        t: format!("{t:.1}"),
        segments,
    }
    .into_response())
}

fn human_size(b: i64) -> String {
    let b = b as f64;
    if b >= 1e9 {
        format!("{:.1} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.1} MB", b / 1e6)
    } else if b >= 1e3 {
        format!("{:.0} KB", b / 1e3)
    } else {
        format!("{b} bytes")
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "status.html")]
pub struct StatusPage {
    pub q: String,
    pub roots: Vec<String>,
    pub mode: String,
    pub busy: bool,
    pub progress: String,
    pub queued: usize,
    pub files: i64,
    pub texts: i64,
    pub images: i64,
    pub audios: i64,
    pub videos: i64,
    pub chunks: i64,
    pub spaces: Vec<pith_pipeline::engine::SpaceStatus>,
    pub errors: Vec<(String, String, String)>,
    pub watch_error: Option<String>,
}

pub async fn status_page(State(st): State<AppState>) -> Result<Response, ApiError> {
    let s = api::load_status(&st).await?;
    let w = s.watch;
    let c = s.engine.counts;
    let mut spaces = s.engine.spaces;
    spaces.sort_by(|a, b| (&a.label, &a.state).cmp(&(&b.label, &b.state)));
    Ok(StatusPage {
        q: String::new(),
        roots: w.as_ref().map(|w| w.roots.clone()).unwrap_or_default(),
        mode: w.as_ref().map_or("not watching (search only)".into(), |w| w.mode.clone()),
        busy: w.as_ref().is_some_and(|w| w.busy),
        progress: w.as_ref().map_or(String::new(), |w| format!("{} / {}", w.done, w.total)),
        queued: w.as_ref().map_or(0, |w| w.queued),
        files: c.files,
        texts: c.text_items,
        images: c.image_items,
        audios: c.audio_items,
        videos: c.video_items,
        chunks: c.chunks,
        spaces,
        errors: s.engine.errors.into_iter().map(|e| (e.path, e.reason, pith_pipeline::dates::format_date(e.at))).collect(),
        watch_error: w.and_then(|w| w.last_error),
    }
    .into_response())
}

pub async fn search_by_image_page(
    State(st): State<AppState>,
    mp: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Response, ApiError> {
    let mp = mp.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let (bytes, _) = api::read_image_upload(mp).await?;
    let hits = api::image_search(&st, bytes, PAGE_SIZE).await?;
    let (images, texts) = split(hits);
    Ok(SearchPage {
        q: String::new(),
        kind: "image".into(),
        chips: vec![],
        empty_reason: images.is_empty().then(|| "No images are indexed yet.".to_string()),
        images,
        texts,
        error: None,
        page: 1,
        prev: None,
        next: None,
        took_ms: String::new(),
        heading: "Images like the one you uploaded".into(),
        weaker: None,
    }
    .into_response())
}

pub async fn stylesheet() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")],
        include_str!("../static/style.css"),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pagination_and_chips_keep_every_filter() {
        let p = SearchParams {
            q: Some("a b".into()),
            path: Some("/x y".into()),
            ext: Some("pdf,md".into()),
            after: Some("2023-01-01".into()),
            before: Some("2024-01-01".into()),
            mode: Some("bm25".into()),
            ..Default::default()
        };
        let u = url(&p, "text", 3);
        for part in ["q=a+b", "kind=text", "path=%2Fx+y", "ext=pdf%2Cmd", "after=2023-01-01", "before=2024-01-01", "mode=bm25", "page=3"] {
            assert!(u.contains(part), "{part} missing from {u}");
        }
        assert!(!url(&p, "all", 1).contains("kind="));
    }

    proptest::proptest! {
        /// Whatever highlight ranges arrive (even ones off char boundaries),
        /// the runs the template renders are the snippet, in order.
        #[test]
        fn hit_runs_always_rebuild_the_snippet(snippet in "\\PC{0,80}", ranges in proptest::collection::vec((0usize..200, 0usize..200), 0..6)) {
            let hit = pith_pipeline::SearchHit {
                id: pith_pipeline::ids::ItemId(1), kind: "text".into(), path: "/x".into(), title: "t".into(), snippet: snippet.clone(),
                highlights: ranges, score: 0.0, relevance: None, features: None, chunk_id: pith_pipeline::ids::ChunkId(1), chunk_start: 0, chunk_end: 0, start: None, end: None, page: None, section: None, thumbnail: None, ranks: Default::default(),
            };
            let h = Hit::from(hit);
            let joined: String = h.runs.iter().map(|(t, _)| t.as_str()).collect();
            proptest::prop_assert_eq!(joined, snippet);
        }
    }
}
