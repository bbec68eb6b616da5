-- Sentences of an item's text with their embeddings, for extractive RAG
-- compression: computed at ingest (or on first use) so a context request
-- only embeds its query. Byte offsets are into the item's extracted text
-- (the same coordinates as chunks.byte_start). `vec` is int8 with one f32
-- scale per sentence (a quarter of f32), `tokens` the count in pith's text
-- tokenizer.
CREATE TABLE sentences (
    item_id    INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    ord        INTEGER NOT NULL,
    byte_start INTEGER NOT NULL,
    byte_end   INTEGER NOT NULL,
    tokens     INTEGER NOT NULL,
    vec        BLOB NOT NULL,
    PRIMARY KEY (item_id, ord)
) WITHOUT ROWID;
