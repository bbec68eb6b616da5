//! RAG context: retrieved chunks handed to an LLM in a fraction of the
//! tokens, with citations. `context.rs` retrieves and assembles;
//! sentences (`sentences.rs`, embedded once by `embed.rs`) are the unit of
//! extractive compression (`extractive.rs`, after RECOMP's extractive
//! compressor: query-aware sentence selection under a token budget);
//! `budget.rs` says which tokenizer counts the budget, `prompt.rs` writes
//! the cited block, `xrag.rs` hands passages over as one LM token each
//! (xRAG), and `text.rs` holds the word normalisation that scoring
//! and the evaluation share.

pub mod budget;
pub mod context;
pub mod embed;
pub mod extractive;
mod pack;
pub mod prompt;
pub mod sentences;
pub mod text;
pub mod tokens;
pub mod xrag;

pub use context::{Compression, Context, RagContext, RagRequest};
