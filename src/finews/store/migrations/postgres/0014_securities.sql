-- finews schema, version 14 (PostgreSQL): a directory of security names.
-- Keep in step with sqlite/0014_securities.sql. (0013 is the rules and alerts migration.)

-- One row per security (code in finews notation, finews.sources.securities): the name an
-- upstream attached to it (THS stock[].name, CLS stock_list[].name) or the full list
-- East Money's quote list gives (finews securities refresh), where from (origin: a source
-- id or "eastmoney_quotes") and when it was last written (UTC text). The newest name wins:
-- a renamed company shows its new name once any upstream says so.
CREATE TABLE securities (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    origin      TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
