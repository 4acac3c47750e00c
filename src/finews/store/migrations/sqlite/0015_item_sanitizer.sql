-- finews schema, version 15 (SQLite): the sanitiser version of each stored body.
-- Keep in step with postgres/0015_item_sanitizer.sql.

-- The SANITIZER_VERSION (finews.normalize.sanitize) whose rules made the item's stored
-- full text (content): set by normalize_item, the one place that sanitises, and written
-- with the text it describes (a re-poll that keeps the stored text keeps its version).
-- NULL is unknown: the items stored before this version, and any body stored by a path
-- that skipped the normaliser (a direct upsert_items, a bench). Pages insert a body of
-- the current version as it is and sanitise any other again as they render it.
ALTER TABLE items ADD COLUMN sanitizer INTEGER;
