//! The OpenAPI document, generated from the handlers' `#[utoipa::path]`
//! annotations and the response types, served at `/api/openapi.json`. The
//! committed copy in `docs/openapi.json` is compared with it by a test, so
//! the document cannot drift from the code (`PITH_BLESS=1 cargo test -p
//! pith-web openapi` rewrites it).

use serde::Serialize;
use utoipa::OpenApi;

/// Every error: `{ "error": { "code": "...", "message": "..." } }`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// bad_request | unauthorized | forbidden | not_found | too_large | overloaded | internal
    pub code: String,
    pub message: String,
}

/// The JSON body of `POST /api/search`: the GET parameters, with `k` and
/// `offset` also accepted as integers.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SearchBody {
    pub q: String,
    #[schema(schema_with = int_or_string)]
    pub k: Option<String>,
    pub kind: Option<String>,
    pub path: Option<String>,
    pub after: Option<String>,
    pub before: Option<String>,
    #[schema(schema_with = int_or_string)]
    pub offset: Option<String>,
    pub mode: Option<String>,
    pub ext: Option<String>,
    #[schema(schema_with = number_or_string)]
    pub min_relevance: Option<String>,
    pub fusion: Option<String>,
    #[schema(schema_with = number_or_string)]
    pub semantic_ratio: Option<String>,
    pub hubness: Option<String>,
}

fn int_or_string() -> utoipa::openapi::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
    Schema::OneOf(
        OneOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(Type::String))
            .item(ObjectBuilder::new().schema_type(Type::Integer))
            .item(ObjectBuilder::new().schema_type(Type::Null))
            .build(),
    )
}

fn number_or_string() -> utoipa::openapi::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
    Schema::OneOf(
        OneOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(Type::String))
            .item(ObjectBuilder::new().schema_type(Type::Number))
            .item(ObjectBuilder::new().schema_type(Type::Null))
            .build(),
    )
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    pub status: String,
    pub files: i64,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "pith",
        description = "Search your own files: JSON API. Auth, when the server has a key: `Authorization: Bearer KEY` or `x-api-key: KEY`."
    ),
    paths(
        crate::api::search_get,
        crate::api::search_post,
        crate::api::item,
        crate::api::thumbnail,
        crate::api::original,
        crate::api::segments,
        crate::api::similar,
        crate::api::status,
        crate::api::set_codec,
        crate::api::healthz,
        crate::rag::context,
        crate::openai::embeddings,
        crate::openai::models,
        crate::chat::completions
    ),
    components(schemas(ErrorBody, ErrorDetail, Health, SearchBody))
)]
pub struct ApiDoc;

/// The document as pretty JSON.
pub fn json() -> String {
    ApiDoc::openapi().to_pretty_json().unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

pub async fn serve() -> impl axum::response::IntoResponse {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], json())
}

#[cfg(test)]
mod tests {
    #[test]
    fn committed_openapi_document_matches_the_code() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json");
        let now = super::json() + "\n";
        if std::env::var_os("PITH_BLESS").is_some() {
            std::fs::write(&path, &now).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(committed == now, "docs/openapi.json is out of date: run `PITH_BLESS=1 cargo test -p pith-web openapi` and commit it");
    }
}
