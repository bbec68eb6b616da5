-- Folders (and single files) the user asked pith to index, canonical. The
-- server serves originals only from inside these (and its --watch roots),
-- checked on the real path at request time.
CREATE TABLE roots (
    path     TEXT PRIMARY KEY,
    added_at INTEGER NOT NULL
);
