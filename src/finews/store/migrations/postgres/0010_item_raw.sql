-- finews schema, version 10 (PostgreSQL): each item's raw upstream record, kept.
-- Keep in step with sqlite/0010_item_raw.sql.

-- What the upstream sent for an item, so that a fixed parser or normaliser can repair
-- history (finews reparse): ``record`` is the item's own part of the list reply (the JSON
-- object as received, the feed entry as parsed), ``article`` the body of its full-text
-- reply as sent (the article HTML). Each is zlib-compressed, its ``*_format`` saying so
-- and what it is: 'zlib:json', 'zlib:feed-entry', 'zlib:article'. NULL when not kept (a
-- part over the 1 MB cap). One row per item, written when the item is stored new or
-- changed; items stored before this version have none.
CREATE TABLE item_raw (
    item_id         BIGINT PRIMARY KEY REFERENCES items (id),
    record          BYTEA,
    record_format   TEXT,
    article         BYTEA,
    article_format  TEXT,
    stored_at       TEXT NOT NULL
);
