-- finews schema, version 3 (SQLite): the daemon's persisted work and health.
-- Keep in step with postgres/0003_health.sql.

-- Full text still to fetch, one row per item, queued before the item is stored: a crash in
-- between leaves a row whose item the next poll stores, never a stored item nobody fetches.
-- A row is deleted once the text is in; state 'failed' keeps an item that used up its
-- attempts visible.
CREATE TABLE fulltext_queue (
    source        TEXT NOT NULL,
    upstream_id   TEXT NOT NULL,
    state         TEXT NOT NULL DEFAULT 'pending',
    attempts      INTEGER NOT NULL DEFAULT 0,
    next_attempt  TEXT NOT NULL,
    last_error    TEXT,
    queued_at     TEXT NOT NULL,
    PRIMARY KEY (source, upstream_id)
);
CREATE INDEX fulltext_queue_due ON fulltext_queue (state, next_attempt);

-- Running totals per source, kept by `finews run`, so that /metrics of any process (the web
-- app included) can report fetches, errors, durations and items stored from the database.
CREATE TABLE source_stats (
    source             TEXT PRIMARY KEY,
    polls              INTEGER NOT NULL DEFAULT 0,
    failures           INTEGER NOT NULL DEFAULT 0,
    items_new          INTEGER NOT NULL DEFAULT 0,
    items_updated      INTEGER NOT NULL DEFAULT 0,
    poll_seconds       REAL NOT NULL DEFAULT 0,
    last_poll_seconds  REAL,
    retry_after        REAL
);

-- items stored in a window, per source (health counts and the fetch-delay median)
CREATE INDEX items_source_fetched ON items (source, fetched_at);
