-- finews schema, version 1 (SQLite). Keep in step with postgres/0001_init.sql.
CREATE TABLE items (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    source        TEXT NOT NULL,
    upstream_id   TEXT NOT NULL,
    title         TEXT NOT NULL,
    digest        TEXT NOT NULL DEFAULT '',
    content       TEXT NOT NULL DEFAULT '',
    url           TEXT,
    media         TEXT,
    category      TEXT NOT NULL DEFAULT '',
    tag           TEXT NOT NULL DEFAULT '',
    kind          TEXT NOT NULL DEFAULT 'news',
    importance    INTEGER NOT NULL DEFAULT 0,
    stocks        TEXT NOT NULL DEFAULT '',
    author        TEXT,
    fulltext_key  TEXT,
    published_at  TEXT NOT NULL,
    fetched_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    revision      INTEGER NOT NULL DEFAULT 1,
    UNIQUE (source, upstream_id)
);
CREATE INDEX items_published ON items (published_at, id);
CREATE INDEX items_source_published ON items (source, published_at, id);
CREATE INDEX items_category_published ON items (category, published_at, id);

CREATE TABLE item_revisions (
    item_id       INTEGER NOT NULL REFERENCES items (id),
    revision      INTEGER NOT NULL,
    title         TEXT NOT NULL,
    digest        TEXT NOT NULL,
    content       TEXT NOT NULL,
    url           TEXT,
    media         TEXT,
    importance    INTEGER NOT NULL,
    stocks        TEXT NOT NULL,
    author        TEXT,
    published_at  TEXT NOT NULL,
    replaced_at   TEXT NOT NULL,
    PRIMARY KEY (item_id, revision)
);

CREATE TABLE changes (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    item_id  INTEGER NOT NULL REFERENCES items (id),
    kind     TEXT NOT NULL,
    at       TEXT NOT NULL
);

CREATE TABLE media_slugs (
    media  TEXT PRIMARY KEY,
    slug   TEXT NOT NULL
);

CREATE TABLE source_state (
    source                TEXT PRIMARY KEY,
    last_attempt          TEXT,
    last_success          TEXT,
    last_error            TEXT,
    consecutive_failures  INTEGER NOT NULL DEFAULT 0,
    next_poll             TEXT,
    cursor                TEXT
);
