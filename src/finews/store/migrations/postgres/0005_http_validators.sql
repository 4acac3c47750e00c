-- finews schema, version 5 (PostgreSQL): HTTP validators for conditional GET.
-- Keep in step with sqlite/0005_http_validators.sql.

-- The ETag and Last-Modified of the newest page a source's poll last stored, with the exact
-- request they answer (url plus sorted query), so the next poll can ask "changed since?"
-- and take a 304 as "nothing new". A cache: losing a row only costs one full fetch.
CREATE TABLE http_validators (
    source         TEXT PRIMARY KEY,
    request_url    TEXT NOT NULL,
    etag           TEXT,
    last_modified  TEXT,
    updated_at     TEXT NOT NULL
);
