//! pith's HTTP face: server-rendered pages (askama), a JSON API, and the
//! error mapping between them and the engine. Handlers never touch the engine
//! on the async runtime: every engine call runs in `spawn_blocking`, behind a
//! concurrency limit that turns overload into 503 + Retry-After.

pub mod api;
pub mod chat;
pub mod error;
pub mod openai;
pub mod openapi;
pub mod pages;
pub mod rag;
pub mod range;
pub mod state;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;

pub use error::ApiError;
pub use state::AppState;

/// The whole application router.
pub fn router(state: AppState) -> Router {
    let max_upload = state.max_upload;
    Router::new()
        .route("/", get(pages::search_page))
        .route("/items/{id}", get(pages::item_page))
        .route("/status", get(pages::status_page))
        .route("/search/image", post(pages::search_by_image_page))
        .route("/static/style.css", get(pages::stylesheet))
        .route("/healthz", get(api::healthz))
        .route("/api/search", get(api::search_get).post(api::search_post))
        .route("/api/items/{id}", get(api::item))
        .route("/api/items/{id}/thumbnail", get(api::thumbnail))
        .route("/api/items/{id}/original", get(api::original))
        .route("/api/items/{id}/segments", get(api::segments))
        .route("/api/items/{id}/similar", get(api::similar))
        .route("/api/status", get(api::status))
        .route("/api/spaces/{label}/codec", axum::routing::put(api::set_codec))
        .route("/api/rag/context", post(rag::context))
        .route("/v1/embeddings", post(openai::embeddings))
        .route("/v1/models", get(openai::models))
        .route("/v1/chat/completions", post(chat::completions))
        .route("/api/openapi.json", get(openapi::serve))
        .fallback(api::not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), state::require_key))
        .layer(axum::middleware::from_fn_with_state(state.clone(), state::check_host))
        .layer(DefaultBodyLimit::max(max_upload))
        .with_state(state)
}
