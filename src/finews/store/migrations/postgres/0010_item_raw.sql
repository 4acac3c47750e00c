-- finews schema, version 10 (PostgreSQL): each item's raw upstream record, kept.
-- Keep in step with sqlite/0010_item_raw.sql.

-- What the upstream sent for an item, so that a fixed parser or normaliser can repair
-- history (finews reparse): ``record`` is the item's own part of the list reply (the JSON
-- object, the feed entry), ``article`` the reply of its full-text request (the article
-- HTML). Each is zlib-compressed UTF-8 (or the reply's bytes), its ``*_format`` saying how:
-- 'zlib:json', 'zlib:xml', 'zlib:html'. NULL when not kept (an item stored before this
-- version, a record over the size cap). One row per item, the latest record read.
CREATE TABLE item_raw (
    item_id         BIGINT PRIMARY KEY REFERENCES items (id),
    record          BYTEA,
    record_format   TEXT,
    article         BYTEA,
    article_format  TEXT,
    stored_at       TEXT NOT NULL
);
