//! Derived indexes: BM25 text and HNSW vectors.

pub mod text;
pub mod vector;
