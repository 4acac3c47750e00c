-- finews schema, version 12 (PostgreSQL): which items are about which security, indexed.
-- Keep in step with sqlite/0012_item_stocks.sql.

-- One row per item and key (finews.store.base.stock_keys): each security the item is
-- tagged with, in lower case as stored, and each 5- or 6-digit run of its title and
-- digest (a code named there). A security's page, feeds, /api/items?stock= and a search
-- for a code look its items up here by key instead of reading every item. Written in the
-- same transaction as the item; the rows of items stored before this migration are
-- written by the migration itself (SqlStore.migrate, in Python).
CREATE TABLE item_stocks (
    code     TEXT NOT NULL,
    item_id  BIGINT NOT NULL REFERENCES items (id),
    PRIMARY KEY (code, item_id)
);
CREATE INDEX item_stocks_item ON item_stocks (item_id);
