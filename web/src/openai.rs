//! OpenAI-compatible endpoints, so tools written for that API use pith's
//! encoders as they are: `POST /v1/embeddings` (`pith-text` for strings,
//! the same vectors `pith search` queries with; `pith-image` for images
//! as base64 or data URLs, the vectors search by image uses) and
//! `GET /v1/models`.

use axum::extract::{Request, State};
use axum::Json;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::rag::json_body;
use crate::state::AppState;

pub const TEXT_MODEL: &str = "pith-text";
pub const IMAGE_MODEL: &str = "pith-image";
/// Most inputs in one request.
pub const MAX_INPUTS: usize = 256;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct EmbeddingsRequest {
    /// A string or an array of strings (images: base64 or `data:` URLs).
    /// Token arrays are refused: pith tokenizes itself.
    #[schema(value_type = Object)]
    pub input: serde_json::Value,
    /// `pith-text` or `pith-image`.
    pub model: String,
    /// `float` (default) or `base64` (little-endian f32).
    #[serde(default)]
    pub encoding_format: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Embedding {
    pub object: &'static str,
    pub index: usize,
    /// Numbers, or a base64 string with `encoding_format: base64`.
    #[schema(value_type = Object)]
    pub embedding: serde_json::Value,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Usage {
    pub prompt_tokens: usize,
    pub total_tokens: usize,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EmbeddingsResponse {
    pub object: &'static str,
    pub data: Vec<Embedding>,
    pub model: String,
    pub usage: Usage,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Model {
    pub id: &'static str,
    pub object: &'static str,
    pub created: i64,
    pub owned_by: &'static str,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ModelList {
    pub object: &'static str,
    pub data: Vec<Model>,
}

/// The inputs as strings; token arrays and other shapes are a clear 400.
fn inputs(v: &serde_json::Value) -> Result<Vec<String>, ApiError> {
    let token_input =
        || ApiError::BadRequest("token-array input is not supported: send strings (pith tokenizes with its own model)".into());
    let out = match v {
        serde_json::Value::String(s) => vec![s.clone()],
        serde_json::Value::Array(a) if a.is_empty() => return Err(ApiError::BadRequest("`input` is empty".into())),
        serde_json::Value::Array(a) => a
            .iter()
            .map(|x| match x {
                serde_json::Value::String(s) => Ok(s.clone()),
                serde_json::Value::Number(_) | serde_json::Value::Array(_) => Err(token_input()),
                _ => Err(ApiError::BadRequest("`input` must be a string or an array of strings".into())),
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(ApiError::BadRequest("`input` must be a string or an array of strings".into())),
    };
    if out.len() > MAX_INPUTS {
        return Err(ApiError::BadRequest(format!("at most {MAX_INPUTS} inputs per request, got {}", out.len())));
    }
    Ok(out)
}

/// Image bytes from base64 or a `data:...;base64,` URL.
fn image_bytes(s: &str, i: usize) -> Result<Vec<u8>, ApiError> {
    let b64 = match s.strip_prefix("data:") {
        Some(rest) => {
            rest.split_once(";base64,").map(|x| x.1).ok_or_else(|| ApiError::BadRequest(format!("input {i}: a data URL must be base64")))?
        }
        None if s.starts_with("http://") || s.starts_with("https://") => {
            return Err(ApiError::BadRequest(format!("input {i}: pith does not fetch URLs; send the image as base64 or a data URL")))
        }
        None => s,
    };
    base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|e| ApiError::BadRequest(format!("input {i}: not base64 image data: {e}")))
}

#[utoipa::path(post, path = "/v1/embeddings", request_body = EmbeddingsRequest, responses((status = 200, description = "One embedding per input, in order", body = EmbeddingsResponse), (status = 400, description = "Bad input or unknown model", body = crate::openapi::ErrorBody), (status = 401, description = "API key required", body = crate::openapi::ErrorBody), (status = 503, description = "Overloaded", body = crate::openapi::ErrorBody)))]
pub async fn embeddings(State(st): State<AppState>, req: Request) -> Result<Json<EmbeddingsResponse>, ApiError> {
    let r: EmbeddingsRequest = json_body(&st, req).await?;
    let base64_out = match r.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(f) => return Err(ApiError::BadRequest(format!("`encoding_format` is float or base64, got `{f}`"))),
    };
    let texts = inputs(&r.input)?;
    let model = r.model.clone();
    let (vecs, tokens) = match model.as_str() {
        TEXT_MODEL => {
            st.run(move |e| {
                let enc = &e.encoders()?.text;
                let mut tokens = 0;
                let mut out = Vec::with_capacity(texts.len());
                // One at a time: exactly the vector a search for the same
                // text uses (no padding inside a batch).
                for t in &texts {
                    tokens += enc.raw_tokenizer().encode(t.as_str(), true).map(|x| x.len()).unwrap_or(0);
                    out.push(enc.embed_one(t).map_err(pith_pipeline::PipelineError::from)?);
                }
                Ok((out, tokens))
            })
            .await?
        }
        IMAGE_MODEL => {
            let bytes: Vec<Vec<u8>> = texts.iter().enumerate().map(|(i, s)| image_bytes(s, i)).collect::<Result<_, _>>()?;
            st.run(move |e| {
                let mut out = Vec::with_capacity(bytes.len());
                for (i, b) in bytes.iter().enumerate() {
                    let img =
                        pith_pipeline::decode::image::decode_bytes(b).map_err(|err| ApiError::BadRequest(format!("input {i}: {err}")))?;
                    out.push(e.embed_image(&img)?);
                }
                Ok((out, 0))
            })
            .await?
        }
        m => return Err(ApiError::BadRequest(format!("unknown model `{m}`: use `{TEXT_MODEL}` or `{IMAGE_MODEL}` (GET /v1/models)"))),
    };
    let data = vecs
        .into_iter()
        .enumerate()
        .map(|(index, v)| {
            let embedding = if base64_out {
                let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                serde_json::Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                serde_json::json!(v)
            };
            Embedding { object: "embedding", index, embedding }
        })
        .collect();
    Ok(Json(EmbeddingsResponse { object: "list", data, model, usage: Usage { prompt_tokens: tokens, total_tokens: tokens } }))
}

#[utoipa::path(get, path = "/v1/models", responses((status = 200, description = "The models /v1 endpoints accept", body = ModelList)))]
pub async fn models() -> Json<ModelList> {
    let m = |id| Model { id, object: "model", created: 0, owned_by: "pith" };
    Json(ModelList { object: "list", data: vec![m(TEXT_MODEL), m(IMAGE_MODEL)] })
}
