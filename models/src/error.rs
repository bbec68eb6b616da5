//! One error type for everything that can go wrong while finding, verifying,
//! loading or running a model. Messages name the command that fixes the problem.

use std::path::PathBuf;

pub type Result<T, E = ModelError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("model `{name}` is not installed in {dir}: run `make models` (or `python3 scripts/fetch_models.py`)")]
    Missing { name: String, dir: PathBuf },
    #[error("model `{name}`: file {file} fails its sha256 check (expected {expected}, found {found}); run `make models` to rebuild it")]
    Checksum { name: String, file: String, expected: String, found: String },
    #[error("invalid model manifest {path}: {reason}")]
    Manifest { path: PathBuf, reason: String },
    #[error("ONNX Runtime library not found (looked in {looked}); set ORT_DYLIB_PATH or run `make models`")]
    RuntimeMissing { looked: String },
    #[error("ONNX Runtime: {0}")]
    Ort(String),
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error("model output `{name}` has unexpected shape {shape:?}")]
    Shape { name: String, shape: Vec<i64> },
    #[error("image: {0}")]
    Image(String),
    /// The caller's input stream failed (e.g. audio that stopped decoding).
    #[error("input: {0}")]
    Input(String),
    #[error("encoder thread `{0}` has stopped")]
    WorkerGone(String),
    #[error("io error on {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

impl<T> From<ort::Error<T>> for ModelError {
    fn from(e: ort::Error<T>) -> Self {
        ModelError::Ort(e.to_string())
    }
}

pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> ModelError {
    let path = path.into();
    move |source| ModelError::Io { path, source }
}
