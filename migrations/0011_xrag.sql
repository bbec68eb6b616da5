-- xRAG tokens: per text chunk, the bridge's projection of its MiniLM
-- embedding into the local LM's input space (one "token" standing for the
-- chunk, `rag::xrag`), made at ingest so a context request only reads it.
-- `bridge` names the bridge that made it (`xrag-bridge@sha`): a token from
-- another bridge is remade on use. `vec` is f16 little-endian.
CREATE TABLE xrag_tokens (
    chunk_id INTEGER PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,
    bridge   TEXT NOT NULL,
    vec      BLOB NOT NULL
);
