-- finews schema, version 7 (SQLite): the older part of the story window kept on disk.
-- Keep in step with postgres/0007_story_spill.sql.

-- A cache, like the story window in memory it extends (finews.store.clusters): a writer
-- holds the fingerprints and candidate keys of at most a few thousand recent items in
-- memory and moves the oldest here, so its memory stays flat however many items the
-- 20-hour window spans. A row counts only while its revision is the item's current one;
-- rows published long before the items being clustered are deleted. moment is
-- published_at in microseconds since 1970.
CREATE TABLE story_prints (
    item_id   INTEGER PRIMARY KEY,
    revision  INTEGER NOT NULL,
    moment    INTEGER NOT NULL,
    print     BLOB NOT NULL
);
CREATE INDEX story_prints_moment ON story_prints (moment);

-- Each candidate key of each fingerprint above.
CREATE TABLE story_keys (
    key      INTEGER NOT NULL,
    moment   INTEGER NOT NULL,
    item_id  INTEGER NOT NULL,
    PRIMARY KEY (key, moment, item_id)
) WITHOUT ROWID;
