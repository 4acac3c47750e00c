-- finews schema, version 11 (PostgreSQL): has an upstream changed its format?
-- Keep in step with sqlite/0011_source_formats.sql. (0010 is the raw-record migration.)

-- One row per source that has been polled since this migration. alarm holds what looked
-- wrong with the last reply ("upstream format changed? …"), NULL while replies look as
-- expected; since is when the alarm was raised (UTC text); errors counts every reply that
-- looked changed (the finews_source_format_errors_total metric); had_items says that a
-- reply of this source once held items, so that an empty one afterwards is suspicious;
-- sample is the file under data_dir holding the latest such reply (capped, redacted).
CREATE TABLE source_formats (
    source     TEXT PRIMARY KEY,
    alarm      TEXT,
    since      TEXT,
    errors     INTEGER NOT NULL DEFAULT 0,
    had_items  INTEGER NOT NULL DEFAULT 0,
    sample     TEXT
);
