"""Every table as rows: the list of tables with their columns and keys, their rows exported
in key order and imported as they were (backups, ``finews copy-db``), and the checks of
finews's own invariants across them (``finews check``, with each engine's integrity check).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from finews.errors import StoreError
from finews.store.base import Store

__all__ = ["TABLES", "TABLE_KEYS", "consistency_problems", "export_rows", "import_statement"]

#: Every table with its columns, in the order ``export_rows`` yields them and ``import_rows``
#: takes them, parents before children. Both engines' migrations create exactly these.
TABLES: dict[str, tuple[str, ...]] = {
    "items": (
        "id",
        "source",
        "upstream_id",
        "title",
        "digest",
        "content",
        "url",
        "media",
        "category",
        "tag",
        "kind",
        "importance",
        "stocks",
        "author",
        "fulltext_key",
        "published_at",
        "fetched_at",
        "updated_at",
        "revision",
        "sanitizer",
    ),
    "item_revisions": (
        "item_id",
        "revision",
        "title",
        "digest",
        "content",
        "url",
        "media",
        "importance",
        "stocks",
        "author",
        "published_at",
        "replaced_at",
    ),
    "changes": ("seq", "item_id", "kind", "at"),
    "media_slugs": ("media", "slug"),
    "source_state": (
        "source",
        "last_attempt",
        "last_success",
        "last_error",
        "consecutive_failures",
        "next_poll",
        "cursor",
    ),
    # the daemon's pending full-text work and running totals (migration 0003)
    "fulltext_queue": (
        "source",
        "upstream_id",
        "state",
        "attempts",
        "next_attempt",
        "last_error",
        "queued_at",
    ),
    "source_stats": (
        "source",
        "polls",
        "failures",
        "items_new",
        "items_updated",
        "poll_seconds",
        "last_poll_seconds",
        "retry_after",
    ),
    # what went wrong with single items: dropped, left out of a derived step, or a value
    # replaced by normalising (migration 0008)
    "item_faults": ("source", "upstream_id", "stage", "detail", "at"),
    # each item's raw upstream data, compressed (migration 0010, finews.raw)
    "item_raw": ("item_id", "record", "record_format", "article", "article_format", "stored_at"),
    # whether each source's upstream looks changed (migration 0011)
    "source_formats": ("source", "alarm", "since", "errors", "had_items", "sample"),
    # which items are about which security, by key (migration 0012, stock_keys)
    "item_stocks": ("code", "item_id"),
    # a directory of security names (migration 0014, finews.store.securities)
    "securities": ("code", "name", "origin", "updated_at"),
    # watchlist rules (migration 0013, finews.alerts): the revision each item was matched at,
    # the items a mute rule hides, each story a rule has alerted, and the alert outbox
    "rule_marks": ("item_id", "revision"),
    "item_mutes": ("item_id", "rule"),
    "alert_stories": ("rule", "story", "kind", "item_id", "at"),
    "alert_outbox": (
        "id",
        "rule",
        "channel",
        "item_id",
        "story",
        "kind",
        "title",
        "body",
        "state",
        "attempts",
        "next_attempt",
        "claimed_by",
        "claimed_until",
        "last_error",
        "created_at",
        "sent_at",
    ),
}

#: Each table's primary key: its first columns, and the order of ``export_rows``.
TABLE_KEYS: dict[str, tuple[str, ...]] = {
    "items": ("id",),
    "item_revisions": ("item_id", "revision"),
    "changes": ("seq",),
    "media_slugs": ("media",),
    "source_state": ("source",),
    "fulltext_queue": ("source", "upstream_id"),
    "source_stats": ("source",),
    "item_faults": ("source", "upstream_id", "stage"),
    "item_raw": ("item_id",),
    "source_formats": ("source",),
    "item_stocks": ("code", "item_id"),
    "securities": ("code",),
    "rule_marks": ("item_id",),
    "item_mutes": ("item_id", "rule"),
    "alert_stories": ("rule", "story", "kind"),
    "alert_outbox": ("id",),
}

#: What ``import_rows`` does with a row whose key exists: items and source states take the
#: imported values; revisions and the change log are append-only, and a media name keeps
#: its first slug forever.
_REPLACE_ON_IMPORT = frozenset(
    {
        "items",
        "source_state",
        "fulltext_queue",
        "source_stats",
        "item_faults",
        "item_raw",
        "source_formats",
        "securities",
        "rule_marks",
        "alert_outbox",
    }
)


def _table(table: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The columns and key of ``table``, a key of :data:`TABLES`."""
    if table not in TABLES:
        raise StoreError(f"unknown table {table!r}; expected one of {', '.join(TABLES)}")
    return TABLES[table], TABLE_KEYS[table]


def export_rows(store: Store, table: str, *, batch: int = 1000) -> Iterator[list[tuple[Any, ...]]]:
    """Every row of ``table`` as raw column values in :data:`TABLES` order, in batches of
    up to ``batch`` rows, in primary-key order (text keys in the engine's collation)."""
    columns, key = _table(table)
    if batch < 1:
        raise StoreError(f"batch must be at least 1, not {batch}")
    positions = [columns.index(k) for k in key]
    select = f"SELECT {', '.join(columns)} FROM {table}"
    order = f" ORDER BY {', '.join(key)} LIMIT {int(batch)}"
    # keyset on the primary key: a row value comparison works on both engines
    after = f" WHERE ({', '.join(key)}) > ({', '.join('?' for _ in key)})"
    last: tuple[Any, ...] | None = None
    while True:
        if last is None:
            rows = store.query(select + order)
        else:
            rows = store.query(select + after + order, last)
        page = [tuple(row) for row in rows]
        if page:
            yield page
        if len(page) < batch:
            return
        last = tuple(page[-1][i] for i in positions)


def import_statement(table: str, rows: Sequence[tuple[Any, ...]]) -> str:
    """The statement that writes ``rows`` (as :func:`export_rows` yields them) into
    ``table``, keeping row ids and sequence numbers; a row whose key exists replaces it
    where ``table`` takes imported values, and stays in the append-only tables and
    ``media_slugs``. Checks the table and each row's length first."""
    columns, key = _table(table)
    for row in rows:
        if len(row) != len(columns):
            raise StoreError(
                f"{table}: a row has {len(row)} values, expected {len(columns)} "
                f"({', '.join(columns)})"
            )
    statement = (
        f"INSERT INTO {table} ({', '.join(columns)}) "
        f"VALUES ({', '.join('?' for _ in columns)}) ON CONFLICT ({', '.join(key)}) "
    )
    if table in _REPLACE_ON_IMPORT:
        rest = [c for c in columns if c not in key]
        statement += "DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in rest)
    else:
        statement += "DO NOTHING"
    return statement


def consistency_problems(store: Store) -> list[str]:
    """Checks of finews's own invariants, the same SQL on every engine."""
    problems = []
    checks = (
        (
            "SELECT COUNT(*) FROM changes c LEFT JOIN items i ON i.id = c.item_id "
            "WHERE i.id IS NULL",
            "change-log rows point at no item",
        ),
        (
            "SELECT COUNT(*) FROM item_revisions r LEFT JOIN items i ON i.id = r.item_id "
            "WHERE i.id IS NULL",
            "revision rows point at no item",
        ),
        (
            # an item at revision n keeps exactly its revisions 1 … n-1
            "SELECT COUNT(*) FROM items i WHERE i.revision <> 1 + "
            "(SELECT COUNT(*) FROM item_revisions r WHERE r.item_id = i.id "
            "AND r.revision BETWEEN 1 AND i.revision - 1) OR EXISTS "
            "(SELECT 1 FROM item_revisions r WHERE r.item_id = i.id "
            "AND (r.revision < 1 OR r.revision >= i.revision))",
            "items whose revision number does not match their kept revisions",
        ),
    )
    for statement, what in checks:
        count = int(store.query(statement)[0][0])
        if count:
            problems.append(f"{count} {what}")
    return problems
