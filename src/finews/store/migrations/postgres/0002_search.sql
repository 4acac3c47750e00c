-- finews schema, version 2 (PostgreSQL): the search index and story clusters. Keep in step
-- with sqlite/0002_search.sql. Rows here are derived from items (finews.process.index and
-- finews.process.cluster) and written only by the store; `finews reindex` rebuilds them.

-- Terms of each item as a tsvector built from a literal (title A, body B, chars D); doc
-- orders as publication time, as the rowid of SQLite's search_fts does.
CREATE TABLE search_docs (
    item_id   BIGINT PRIMARY KEY REFERENCES items (id),
    doc       BIGINT NOT NULL,
    revision  INTEGER NOT NULL,
    terms     TSVECTOR NOT NULL
);
CREATE INDEX search_docs_terms ON search_docs USING GIN (terms);
CREATE UNIQUE INDEX search_docs_doc ON search_docs (doc);

-- The cluster (story) of each item: cluster_id is the id of its earliest report.
CREATE TABLE item_clusters (
    item_id     BIGINT PRIMARY KEY REFERENCES items (id),
    cluster_id  BIGINT NOT NULL,
    revision    INTEGER NOT NULL
);
CREATE INDEX item_clusters_cluster ON item_clusters (cluster_id);

-- Versions of the tokenizer and of the clustering rule the stored rows were made with.
CREATE TABLE derived_state (
    name     TEXT PRIMARY KEY,
    version  INTEGER NOT NULL
);
INSERT INTO derived_state (name, version) VALUES ('search', 1), ('clusters', 1);
