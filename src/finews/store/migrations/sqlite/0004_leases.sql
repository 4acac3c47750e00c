-- finews schema, version 4 (SQLite): several `finews run` workers on one database.
-- Keep in step with postgres/0004_leases.sql.

-- Who polls each source: one row per source, held by one worker until expires_at (worker
-- clock, UTC, microseconds, fixed width so that text order is time order). worker '' is
-- free. A holder renews well before expiry; a dead one's rows expire and are taken over.
CREATE TABLE source_leases (
    source      TEXT PRIMARY KEY,
    worker      TEXT NOT NULL DEFAULT '',
    expires_at  TEXT NOT NULL
);

-- The live workers (a heartbeat each, until expires_at), with what they hold and how many
-- more they want, so that a worker holding too many hands some to one holding too few.
-- machine identifies the process namespace the pid belongs to, so that a worker can tell
-- at once that another on its own machine is gone (its pid no longer exists).
CREATE TABLE daemon_workers (
    worker      TEXT PRIMARY KEY,
    machine     TEXT NOT NULL,
    pid         INTEGER NOT NULL,
    held        INTEGER NOT NULL DEFAULT 0,
    wants       INTEGER NOT NULL DEFAULT 0,
    started_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);

-- A full-text job in hand is claimed, so that another worker skips it until the claim
-- expires (a dead claimant's jobs are taken over like its sources).
ALTER TABLE fulltext_queue ADD COLUMN claimed_by TEXT;
ALTER TABLE fulltext_queue ADD COLUMN claimed_until TEXT;
