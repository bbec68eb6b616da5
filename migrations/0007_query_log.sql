-- Text queries users searched for, kept only when the store setting
-- `search.log-queries` is on (opt-in): the most recent ones join the query
-- bank that hubness normalisation compares gallery items with.
CREATE TABLE query_log (
    text TEXT PRIMARY KEY,
    last_at INTEGER NOT NULL,
    times INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX query_log_recent ON query_log(last_at);
