"""The reads of items (tables ``items`` and ``item_revisions``): one by key or row id, the
listings of :class:`~finews.store.base.ItemQuery` newest first in keyset pages, counts, and
which upstream ids are stored already. Items are written by :mod:`finews.store.items`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from finews.models import Item
from finews.sources.securities import security
from finews.store.base import ItemQuery, Store
from finews.store.columns import ITEM_COLUMNS, ROW_COLUMNS, in_list, item_from_row
from finews.store.stocks import common_stock, stock_condition
from finews.store.times import from_db_time, to_db_time

__all__ = [
    "count_items",
    "get_item",
    "get_item_by_id",
    "items",
    "known_ids",
    "revisions",
    "tagged_stocks",
]


def get_item(store: Store, source: str, upstream_id: str) -> Item | None:
    """One item by its natural key."""
    rows = store.query(
        f"SELECT {ITEM_COLUMNS} FROM items WHERE source = ? AND upstream_id = ?",
        (source, upstream_id),
    )
    return item_from_row(rows[0]) if rows else None


def get_item_by_id(store: Store, item_id: int) -> Item | None:
    """One item by row id."""
    rows = store.query(f"SELECT {ITEM_COLUMNS} FROM items WHERE id = ?", (item_id,))
    return item_from_row(rows[0]) if rows else None


def items(store: Store, query: ItemQuery) -> Iterator[Item]:
    """Items matching ``query``, newest first (streamed)."""
    common = query.stock is not None and common_stock(store, query.stock)
    filters, params = _item_filters(query, "items", common=common)
    if query.first_reports_only:
        # A later report of a story goes when an earlier one matches the same filters:
        # per row, a primary-key probe of item_clusters (and, for a later report, its
        # story's few members), so a listing stays a walk of its (…, published_at, id)
        # index. Written as COALESCE over a scalar subquery, not NOT EXISTS: PostgreSQL
        # turns NOT EXISTS into an anti-join it believes removes nearly every row, and
        # then sorts the whole table (0.9 s at a million items); a boolean expression
        # it estimates as keeping half, and walks the index (0.3 ms).
        earlier, earlier_args = _item_filters(query, "o", common=common)
        if earlier:
            filters.append(
                "COALESCE((SELECT FALSE FROM item_clusters c "
                "JOIN item_clusters m ON m.cluster_id = c.cluster_id "
                "JOIN items o ON o.id = m.item_id "
                "WHERE c.item_id = items.id AND c.cluster_id <> items.id "
                "AND (o.published_at, o.id) < (items.published_at, items.id) AND "
                + " AND ".join(earlier)
                + " LIMIT 1), TRUE)"
            )
            params.extend(earlier_args)
        else:  # every listing holds the story's leader, its earliest report
            filters.append(
                "COALESCE((SELECT c.cluster_id = items.id FROM item_clusters c "
                "WHERE c.item_id = items.id), TRUE)"
            )
    order = "ASC" if query.oldest_first else "DESC"
    cmp = ">" if query.oldest_first else "<"
    if query.through is not None:
        filters.append(f"(published_at, id) {'<=' if query.oldest_first else '>='} (?, ?)")
        params.extend([to_db_time(query.through[0]), query.through[1]])
    # Stream in keyset pages so a million-item export never holds the archive in memory.
    remaining = query.limit
    cursor = query.before
    while remaining is None or remaining > 0:
        where, args = list(filters), list(params)
        if cursor is not None:
            # a row value, which both engines answer from the (…, published_at, id)
            # index; the equivalent OR form made SQLite scan from the oldest item
            where.append(f"(published_at, id) {cmp} (?, ?)")
            args.extend([to_db_time(cursor[0]), cursor[1]])
        size = 2000 if remaining is None else min(2000, remaining)
        sql = f"SELECT {ROW_COLUMNS if query.without_content else ITEM_COLUMNS} FROM items"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY published_at {order}, id {order} LIMIT {int(size)}"
        rows = store.query(sql, args)
        page = [item_from_row(row) for row in rows]
        yield from page
        if len(page) < size:
            return
        last = page[-1]
        assert last.id is not None
        cursor = (last.published_at, last.id)
        if remaining is not None:
            remaining -= len(page)


def _item_filters(
    query: ItemQuery, table: str, *, common: bool = False
) -> tuple[list[str], list[Any]]:
    """The conditions of ``query``'s filters on ``table`` (a name or alias of ``items``);
    ``common`` as :func:`stock_condition` takes it."""
    filters: list[str] = []
    params: list[Any] = []
    if query.source is not None:
        filters.append(f"{table}.source = ?")
        params.append(query.source)
    if query.category is not None:
        filters.append(f"{table}.category = ?")
        params.append(query.category)
    if query.since is not None:
        filters.append(f"{table}.published_at >= ?")
        params.append(to_db_time(query.since))
    if query.until is not None:
        filters.append(f"{table}.published_at < ?")
        params.append(to_db_time(query.until))
    if query.important is not None:
        filters.append(f"{table}.importance {'>' if query.important else '='} 0")
    if query.stock is not None:
        condition, args = stock_condition(query.stock, table, common=common)
        filters.append(condition)
        params.extend(args)
    if query.muted is not None:
        # a mute rule's items (migration 0013, finews.alerts.reader)
        probe = f"EXISTS (SELECT 1 FROM item_mutes m WHERE m.item_id = {table}.id)"
        filters.append(probe if query.muted else "NOT " + probe)
    return filters, params


def tagged_stocks(store: Store) -> list[str]:
    """Every security some stored item is tagged with, in finews notation, sorted."""
    rows = store.query("SELECT DISTINCT stocks FROM items WHERE stocks <> ''")
    found = {security(code) for row in rows for code in str(row[0]).split(" ")}
    return sorted(code for code in found if code is not None)


def count_items(store: Store, source: str | None = None) -> int:
    """How many items (of one source)."""
    if source is None:
        rows = store.query("SELECT COUNT(*) FROM items")
    else:
        rows = store.query("SELECT COUNT(*) FROM items WHERE source = ?", (source,))
    return int(rows[0][0])


def known_ids(store: Store, source: str, upstream_ids: Sequence[str]) -> set[str]:
    """Which of these upstream ids are stored already."""
    known: set[str] = set()
    ids = list(upstream_ids)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks, padded = in_list(chunk)
        rows = store.query(
            f"SELECT upstream_id FROM items WHERE source = ? AND upstream_id IN ({marks})",
            [source, *padded],
        )
        known.update(row[0] for row in rows)
    return known


def revisions(store: Store, item_id: int) -> list[Item]:
    """Earlier revisions of an item, oldest first."""
    current = get_item_by_id(store, item_id)
    if current is None:
        return []
    rows = store.query(
        "SELECT revision, title, digest, content, url, media, importance, stocks, author, "
        "published_at FROM item_revisions WHERE item_id = ? ORDER BY revision",
        (item_id,),
    )
    result = []
    for row in rows:
        published = from_db_time(row[9])
        assert published is not None
        result.append(
            current.replace(
                revision=int(row[0]),
                title=row[1],
                digest=row[2],
                content=row[3],
                url=row[4],
                media=row[5],
                importance=int(row[6]),
                stocks=tuple(s for s in row[7].split(" ") if s),
                author=row[8],
                published_at=published,
            )
        )
    return result
