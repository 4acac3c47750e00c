-- finews schema, version 8 (PostgreSQL): what went wrong with single items, kept.
-- Keep in step with sqlite/0008_item_faults.sql.

-- One bad item never costs another: an item the store refused is dropped from its page,
-- an item whose search entry or story could not be made is left out of them, and a value
-- normalising replaced (a date out of range) is changed; each leaves a row here, the
-- latest per item and stage, with what happened and the upstream's value. stage is
-- 'normalize', 'store', 'index' or 'stories'; at is UTC text like every stored time.
CREATE TABLE item_faults (
    source       TEXT NOT NULL,
    upstream_id  TEXT NOT NULL,
    stage        TEXT NOT NULL,
    detail       TEXT NOT NULL,
    at           TEXT NOT NULL,
    PRIMARY KEY (source, upstream_id, stage)
);
