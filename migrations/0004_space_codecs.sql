-- How each space label keeps its vectors (issue: embedding compression).
-- codec: a `CodecSetting` string such as `binary+rerank`, `pq16+rerank`,
-- `int8`; a label without a row keeps float32 in the default HNSW.
CREATE TABLE space_codecs (
    label TEXT PRIMARY KEY,
    codec TEXT NOT NULL
);
