//! The pipeline's one error type. `is_user_error` separates what the caller
//! got wrong (bad query, unknown item) from what broke inside, so the web
//! layer can map it to HTTP in one place.

use std::path::PathBuf;

pub type Result<T, E = PipelineError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("{0}")]
    BadInput(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("unsupported file: {0}")]
    Unsupported(String),
    #[error(transparent)]
    Model(#[from] pith_models::ModelError),
    #[error("database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("text index: {0}")]
    TextIndex(String),
    #[error("vector index: {0}")]
    VectorIndex(String),
    #[error("io error on {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("store {dir} is being written by {holder}; stop it first (read-only commands such as search, status, similar and check work alongside it)")]
    Locked { dir: PathBuf, holder: String },
    /// A write was asked of a store opened read-only.
    #[error("the store is open read-only: {0}")]
    ReadOnly(&'static str),
    /// A bug, such as a worker thread that panicked.
    #[error("internal error: {0}")]
    Internal(String),
}

impl PipelineError {
    pub fn is_user_error(&self) -> bool {
        matches!(self, PipelineError::BadInput(_) | PipelineError::NotFound(_) | PipelineError::Unsupported(_))
    }
}

impl From<tantivy::TantivyError> for PipelineError {
    fn from(e: tantivy::TantivyError) -> Self {
        PipelineError::TextIndex(e.to_string())
    }
}

pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> PipelineError {
    let path = path.into();
    move |source| PipelineError::Io { path, source }
}
