//! The RAG backend API: `POST /api/rag/context` hands an LLM application
//! compressed, cited context for a question (`pith_pipeline::rag`).

use axum::extract::{Request, State};
use axum::Json;
use pith_pipeline::rag::{RagContext, RagRequest};

use crate::error::ApiError;
use crate::state::AppState;

/// Read a JSON body into `T`, every problem a 400 that says what is wrong.
pub async fn json_body<T: serde::de::DeserializeOwned>(st: &AppState, req: Request) -> Result<T, ApiError> {
    let body =
        axum::body::to_bytes(req.into_body(), st.max_upload).await.map_err(|_| ApiError::TooLarge("request body too large".into()))?;
    serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))
}

#[utoipa::path(post, path = "/api/rag/context", request_body(content = RagRequest, description = "A question and how to compress what is retrieved for it. `compression`: `none`, `extractive` (default), `tokens`, `extractive+tokens`, `xrag` (each passage as one input embedding of the built-in model: `contexts[].xrag` is base64 f16, replacing the context's `<|xrag|>` mark in `prompt`) or `extractive+xrag` (the top passage as text, the rest as xRAG tokens). `filters`: `kind`, `path_prefix`, `after`, `before` (Unix seconds), `ext`."), responses((status = 200, description = "Contexts in rank order with citations, the assembled prompt block, token totals and timings", body = RagContext), (status = 400, description = "Bad parameter, or `xrag` without the xRAG bridge installed", body = crate::openapi::ErrorBody), (status = 401, description = "API key required", body = crate::openapi::ErrorBody), (status = 403, description = "Host not allowed", body = crate::openapi::ErrorBody), (status = 503, description = "Overloaded; retry after the Retry-After seconds", body = crate::openapi::ErrorBody)))]
pub async fn context(State(st): State<AppState>, req: Request) -> Result<Json<RagContext>, ApiError> {
    let r: RagRequest = json_body(&st, req).await?;
    if r.min_relevance.is_some_and(|x| !(0.0..=1.0).contains(&x)) {
        return Err(ApiError::BadRequest("`min_relevance` takes a number from 0 to 1".into()));
    }
    Ok(Json(st.run(move |e| Ok(e.rag_context(&r)?)).await?))
}
