-- Files on disk (or virtual documents such as an eval corpus), one row each.
CREATE TABLE files (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    path        TEXT NOT NULL UNIQUE,
    size        INTEGER NOT NULL,
    mtime       INTEGER NOT NULL,          -- seconds since the epoch
    hash        TEXT NOT NULL,             -- blake3 of the content
    ingested_at INTEGER NOT NULL
);

-- A searchable thing made from a file. One per file today; audio and video
-- will add several (time-spanned segments) per file.
CREATE TABLE items (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,  -- AUTOINCREMENT: ids are never reused, so a stale index entry can never point at a new item
    file_id   INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    kind      TEXT NOT NULL,               -- text | image | (audio | video later)
    title     TEXT NOT NULL,
    mime      TEXT,
    width     INTEGER,
    height    INTEGER,
    labels    TEXT,                        -- e.g. top ImageNet classes, comma-separated
    start_ms  INTEGER,                     -- segment span inside the file, for media
    end_ms    INTEGER
);
CREATE INDEX items_file ON items(file_id);

-- The unit that is embedded and indexed: a text window or a whole image.
CREATE TABLE chunks (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    item_id    INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    ord        INTEGER NOT NULL,
    byte_start INTEGER,
    byte_end   INTEGER,
    start_ms   INTEGER,
    end_ms     INTEGER,
    text       TEXT
);
CREATE INDEX chunks_item ON chunks(item_id);

-- Embedding spaces (text, conse, visual, clip...).
CREATE TABLE spaces (
    id    INTEGER PRIMARY KEY,
    name  TEXT NOT NULL UNIQUE,
    model TEXT NOT NULL,
    dim   INTEGER NOT NULL
);

-- Vectors are the source of truth for the ANN indexes. `codec` leaves room
-- for several compressed representations of the same vector.
CREATE TABLE vectors (
    chunk_id INTEGER NOT NULL REFERENCES chunks(id) ON DELETE CASCADE,
    space_id INTEGER NOT NULL REFERENCES spaces(id),
    codec    TEXT NOT NULL DEFAULT 'f32',
    data     BLOB NOT NULL,
    PRIMARY KEY (chunk_id, space_id, codec)
);
CREATE INDEX vectors_space ON vectors(space_id);

CREATE TABLE thumbnails (
    item_id INTEGER PRIMARY KEY REFERENCES items(id) ON DELETE CASCADE,
    mime    TEXT NOT NULL,
    data    BLOB NOT NULL
);

CREATE TABLE ingest_errors (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    path   TEXT NOT NULL,
    reason TEXT NOT NULL,
    at     INTEGER NOT NULL
);
CREATE INDEX ingest_errors_path ON ingest_errors(path);
