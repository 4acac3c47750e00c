-- finews schema, version 6 (SQLite): the search index and stories may follow the writes.
-- Keep in step with postgres/0006_derive_mark.sql.

-- How far along the change log the derived rows (the search index and item_clusters)
-- are: every change with seq <= this one is indexed and clustered. A writer may store items without deriving them (the daemon does, to keep its
-- write transaction short); finews.store.derive then works through the changes after the
-- mark in order, in its own transactions, and moves the mark. Until this version every
-- write derived its own items, so the whole log is derived already.
CREATE TABLE derive_mark (
    name  TEXT PRIMARY KEY,
    seq   BIGINT NOT NULL
);
INSERT INTO derive_mark (name, seq) SELECT 'derived', COALESCE(MAX(seq), 0) FROM changes;
