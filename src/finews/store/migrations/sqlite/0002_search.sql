-- finews schema, version 2 (SQLite): the search index and story clusters. Keep in step
-- with postgres/0002_search.sql. Rows here are derived from items (finews.process.index
-- and finews.process.cluster) and written only by the store; `finews reindex` rebuilds them.

-- Terms of each item (title, body, chars), without a copy of the text: snippets come from
-- items.
-- The rowid (search_docs.doc) orders as publication time, so newest-first needs no sort
-- (see finews.store.search); a contentless table deletes by giving the terms again.
CREATE VIRTUAL TABLE search_fts USING fts5(
    title, body, chars,
    content = '',
    tokenize = 'unicode61 remove_diacritics 0'
);

-- Which revision of each item the index holds, and under which document id.
CREATE TABLE search_docs (
    item_id   INTEGER PRIMARY KEY REFERENCES items (id),
    doc       INTEGER NOT NULL,
    revision  INTEGER NOT NULL
);
CREATE UNIQUE INDEX search_docs_doc ON search_docs (doc);

-- The cluster (story) of each item: cluster_id is the id of its earliest report.
CREATE TABLE item_clusters (
    item_id     INTEGER PRIMARY KEY REFERENCES items (id),
    cluster_id  INTEGER NOT NULL,
    revision    INTEGER NOT NULL
);
CREATE INDEX item_clusters_cluster ON item_clusters (cluster_id);

-- Versions of the tokenizer and of the clustering rule the stored rows were made with.
CREATE TABLE derived_state (
    name     TEXT PRIMARY KEY,
    version  INTEGER NOT NULL
);
INSERT INTO derived_state (name, version) VALUES ('search', 1), ('clusters', 1);
