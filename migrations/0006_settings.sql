-- Store-wide settings (issue: retrieval quality): per-space hubness
-- (`space.conse.hubness`), fusion defaults (`search.fusion`,
-- `search.semantic-ratio`), the relevance cut-off (`search.min-relevance`)
-- and a fitted calibration (`search.calibration`, JSON).
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
