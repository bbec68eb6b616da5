-- New stores keep float32 in pith's own graph (deterministic builds, faster
-- searches; issue: retrieval quality). Stores that already have spaces keep
-- the hnsw_rs graph they were built with until a codec is set: recorded here
-- as the setting `hnsw_rs`, so opening them rebuilds nothing.
INSERT OR IGNORE INTO space_codecs(label, codec) SELECT DISTINCT label, 'hnsw_rs' FROM spaces;
