-- finews schema, version 13 (SQLite): watchlist rules, mutes and the alert outbox.
-- Keep in step with postgres/0013_rules_alerts.sql.

-- Which revision of each item the rules have matched (finews.alerts.reader): an item is
-- matched once per revision, whichever deriver (inline or the daemon's) reaches it first.
CREATE TABLE rule_marks (
    item_id   INTEGER PRIMARY KEY REFERENCES items (id),
    revision  INTEGER NOT NULL
);

-- Items a mute rule matched: hidden from pages, feeds and API lists (ItemQuery.muted),
-- still stored and searchable. One row per item and rule, so that removing a rule from the
-- settings unhides its items (the daemon drops the rows of rules no longer muting).
CREATE TABLE item_mutes (
    item_id  INTEGER NOT NULL REFERENCES items (id),
    rule     TEXT NOT NULL,
    PRIMARY KEY (item_id, rule)
);
CREATE INDEX item_mutes_rule ON item_mutes (rule);

-- Each story a rule has alerted, once per kind ('first', and 'important' for a rule's
-- one follow-up when the story becomes important): a later report of the story adds
-- nothing. story is item_clusters.cluster_id (the item's own id before it has one).
CREATE TABLE alert_stories (
    rule     TEXT NOT NULL,
    story    INTEGER NOT NULL,
    kind     TEXT NOT NULL,
    item_id  INTEGER NOT NULL,
    at       TEXT NOT NULL,
    PRIMARY KEY (rule, story, kind)
);

-- The outbox: one row per alert and channel, written in the deriving transaction and
-- delivered by the sender (finews.alerts.sender). channel is the notify URL's scheme and
-- a digest of it (the URL itself, a secret, stays in the settings). state: pending,
-- sending (claimed by a sender until claimed_until), sent, failed (given up).
CREATE TABLE alert_outbox (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    rule           TEXT NOT NULL,
    channel        TEXT NOT NULL,
    item_id        INTEGER NOT NULL,
    story          INTEGER NOT NULL,
    kind           TEXT NOT NULL,
    title          TEXT NOT NULL,
    body           TEXT NOT NULL,
    state          TEXT NOT NULL DEFAULT 'pending',
    attempts       INTEGER NOT NULL DEFAULT 0,
    next_attempt   TEXT NOT NULL,
    claimed_by     TEXT,
    claimed_until  TEXT,
    last_error     TEXT,
    created_at     TEXT NOT NULL,
    sent_at        TEXT
);
CREATE INDEX alert_outbox_due ON alert_outbox (state, next_attempt);
CREATE INDEX alert_outbox_channel ON alert_outbox (rule, channel, state);
