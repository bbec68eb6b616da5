//! pith's engine: ingest, decode, index, search and evaluate. Synchronous, no
//! web framework; everything here is callable from a CLI, a test or a
//! blocking task in the web layer.

pub mod backfill;
pub mod chunk;
pub mod conse;
pub mod dates;
pub mod decode;
pub mod encoders;
pub mod engine;
pub mod error;
pub mod eval;
pub mod hubness;
pub mod ids;
pub mod index;
pub mod ingest;
pub mod policy;
pub mod quant;
pub mod rag;
pub mod relevance;
pub mod search;
pub mod snippet;
pub mod store;
pub mod temporal;
pub mod types;
pub mod watch;

pub use engine::{Engine, EngineConfig};
pub use error::{PipelineError, Result};
pub use search::{Filters, Mode, SearchHit, SearchRequest};
pub use store::Kind;
