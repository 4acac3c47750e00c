"""Full-text search's SQL: SQLite FTS5 and PostgreSQL ``tsvector``, one interface, the same
hits on the same data. The terms and the query text come made (:mod:`finews.derive.search`
makes them with :mod:`finews.process.index`); here they are written, matched and paged.

Each indexed item has a document id that orders as its publication time: the seconds since
2000 times 256, plus a slot that tells apart items of the same second (:func:`doc_base`;
taken in the order they are indexed, so usually in id order; a 257th item of one second
takes the next second's first slot). On SQLite it is the FTS5 rowid, so newest-first reads
the index in rowid order and stops at the page end, and a date range is a rowid range: a
common term at a million items costs no sort. Small gaps between consecutive ids keep the
index small (measured: a quarter smaller than ids holding the item id in their low 32 bits).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from finews.errors import StoreError
from finews.models import Item
from finews.store.columns import ITEM_COLUMNS, in_list, item_from_row

if TYPE_CHECKING:
    from finews.store.base import Store, Transaction

__all__ = [
    "Filters",
    "clear_index",
    "copy_counts",
    "doc_base",
    "earlier_copies",
    "held_doc",
    "index_counts",
    "indexed_text",
    "items_by_id",
    "lead_texts",
    "matching_docs",
    "newest_docs",
    "place_doc",
    "stale_index_ids",
    "write_doc",
]

_EPOCH_2000 = 946_684_800
_SLOT_BITS = 8
_SLOTS = 1 << _SLOT_BITS


def doc_base(published_at: datetime) -> int:
    """The first document id of an item published at ``published_at`` (the second's first
    slot; seconds since 2000, clamped to 1932–2068)."""
    seconds = math.floor(published_at.timestamp()) - _EPOCH_2000
    return max(-(2**31), min(seconds, 2**31 - 1)) << _SLOT_BITS


def _time_bound(moment: datetime) -> int:
    """The smallest document id published at or after ``moment``."""
    seconds = math.ceil(moment.timestamp()) - _EPOCH_2000
    return max(-(2**31), min(seconds, 2**31)) << _SLOT_BITS


@dataclass(frozen=True, slots=True)
class Filters:
    """What a search keeps besides matching: a source, a time range (``until`` exclusive),
    important items only or none of them."""

    source: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    important: bool | None = None


def _fts5(store: Store) -> bool:
    return store.engine == "sqlite"


# --- writing -----------------------------------------------------------------------------
def held_doc(tx: Transaction, item_id: int) -> tuple[int, int] | None:
    """The document id and revision the index holds for an item (``None``: not indexed)."""
    row = tx.execute(
        "SELECT doc, revision FROM search_docs WHERE item_id = ?", (item_id,)
    ).fetchone()
    return None if row is None else (int(row[0]), int(row[1]))


def place_doc(tx: Transaction, published_at: datetime, held: tuple[int, int] | None) -> int:
    """The document id for an item published at ``published_at``: the one it holds when in
    the same second (its place among that second's items), else the next free one."""
    base = doc_base(published_at)
    if held is not None and base <= held[0] < base + _SLOTS:
        return held[0]
    while True:
        highest = tx.execute(
            "SELECT MAX(doc) FROM search_docs WHERE doc >= ? AND doc < ?", (base, base + _SLOTS)
        ).fetchone()[0]
        if highest is None:
            return base
        if int(highest) + 1 < base + _SLOTS:
            return int(highest) + 1
        base += _SLOTS


def indexed_text(tx: Transaction, item_id: int, revision: int) -> tuple[str, str, str]:
    """The title, digest and content of the revision the index holds (SQLite's contentless
    FTS5 table needs the very terms it indexed to remove them)."""
    old = tx.execute(
        "SELECT title, digest, content FROM item_revisions WHERE item_id = ? AND revision = ? "
        "UNION ALL SELECT title, digest, content FROM items WHERE id = ? AND revision = ?",
        (item_id, revision, item_id, revision),
    ).fetchone()
    if old is None:
        raise StoreError(
            f"item {item_id}: the search index holds revision {revision}, which is no "
            "longer stored; run `finews reindex`"
        )
    return str(old[0]), str(old[1]), str(old[2])


def write_doc(
    tx: Transaction,
    item_id: int,
    doc: int,
    revision: int,
    terms: tuple[str, str, str] | str,
    *,
    old: tuple[int, tuple[str, str, str]] | None = None,
) -> None:
    """Index an item as document ``doc`` at ``revision``: ``terms`` are FTS5's (title,
    body, chars) columns on SQLite, with the ``old`` document's (id, columns) to remove
    first, or a ``tsvector`` text on PostgreSQL."""
    if _fts5(tx.store):
        assert isinstance(terms, tuple)
        if old is not None:
            tx.execute(
                "INSERT INTO search_fts (search_fts, rowid, title, body, chars) "
                "VALUES ('delete', ?, ?, ?, ?)",
                (old[0], *old[1]),
            )
        tx.execute(
            "INSERT INTO search_fts (rowid, title, body, chars) VALUES (?, ?, ?, ?)",
            (doc, *terms),
        )
        tx.execute(
            "INSERT INTO search_docs (item_id, doc, revision) VALUES (?, ?, ?) "
            "ON CONFLICT (item_id) DO UPDATE SET doc = excluded.doc, "
            "revision = excluded.revision",
            (item_id, doc, revision),
        )
    else:
        assert isinstance(terms, str)
        tx.execute(
            "INSERT INTO search_docs (item_id, doc, revision, terms) "
            "VALUES (?, ?, ?, CAST(? AS tsvector)) ON CONFLICT (item_id) DO UPDATE SET "
            "doc = excluded.doc, revision = excluded.revision, terms = excluded.terms",
            (item_id, doc, revision, terms),
        )


def clear_index(tx: Transaction, version: int) -> None:
    """Empty the index, recording the tokenizer ``version`` that fills it next."""
    if _fts5(tx.store):
        tx.execute("INSERT INTO search_fts (search_fts) VALUES ('delete-all')")
    tx.execute("DELETE FROM search_docs")
    tx.execute("UPDATE derived_state SET version = ? WHERE name = 'search'", (version,))


def stale_index_ids(store: Store, after: int, limit: int) -> list[int]:
    """Ids after ``after`` of items missing from the index or held at an older revision."""
    rows = store.query(
        "SELECT i.id FROM items i LEFT JOIN search_docs d ON d.item_id = i.id "
        "WHERE i.id > ? AND (d.item_id IS NULL OR d.revision <> i.revision) "
        f"ORDER BY i.id LIMIT {int(limit)}",
        (after,),
    )
    return [int(r[0]) for r in rows]


def index_counts(store: Store) -> tuple[int, int, int, int | None]:
    """Items, indexed items, items indexed at an older revision, and the tokenizer version
    the index was built by."""
    items = int(store.query("SELECT COUNT(*) FROM items")[0][0])
    indexed = int(store.query("SELECT COUNT(*) FROM search_docs")[0][0])
    stale = int(
        store.query(
            "SELECT COUNT(*) FROM search_docs d JOIN items i ON i.id = d.item_id "
            "WHERE d.revision <> i.revision"
        )[0][0]
    )
    rows = store.query("SELECT version FROM derived_state WHERE name = 'search'")
    return items, indexed, stale, int(rows[0][0]) if rows else None


# --- reading -----------------------------------------------------------------------------
def _match(store: Store, match: str, filters: Filters) -> tuple[str, str, list[Any]]:
    """FROM/WHERE for the hits of a query (``d`` is search_docs), the document id
    column, and the parameters. ``match`` is the engine's query text (FTS5's expression or
    a ``tsquery``)."""
    params: list[Any] = [match]
    if _fts5(store):
        sql = "FROM search_fts f JOIN search_docs d ON d.doc = f.rowid"
        where = ["search_fts MATCH ?"]
        doc = "f.rowid"
    else:
        sql = "FROM search_docs d"
        where = ["d.terms @@ CAST(? AS tsquery)"]
        doc = "d.doc"
    if filters.since is not None:
        where.append(f"{doc} >= ?")
        params.append(_time_bound(filters.since))
    if filters.until is not None:
        where.append(f"{doc} < ?")
        params.append(_time_bound(filters.until))
    if filters.source is not None or filters.important is not None:
        sql += " JOIN items i ON i.id = d.item_id"
        if filters.source is not None:
            where.append("i.source = ?")
            params.append(filters.source)
        if filters.important is not None:
            where.append("i.importance > 0" if filters.important else "i.importance = 0")
    return f"{sql} WHERE {' AND '.join(where)}", doc, params


def newest_docs(
    store: Store, match: str, filters: Filters, offset: int, limit: int
) -> list[tuple[int, int]]:
    """(document id, item id) of the hits from ``offset`` on, at most ``limit``, newest
    first."""
    if not _fts5(store):
        return _pg_newest(store, match, filters, offset + limit)[offset:]
    body, doc, params = _match(store, match, filters)
    page = f"LIMIT {int(limit)} OFFSET {int(offset)}"
    sql = f"SELECT {doc}, d.item_id {body} ORDER BY {doc} DESC {page}"
    return [(int(r[0]), int(r[1])) for r in store.query(sql, params)]


def lead_texts(store: Store, ids: Sequence[int], lead: int) -> dict[int, tuple[str, str]]:
    """Each item's title and the first ``lead`` characters of its digest (of its text when
    it has no digest): what relevance is scored on."""
    params: list[Any]
    if _fts5(store):
        marks, params = in_list(ids)
        wanted = f"id IN ({marks})"
    else:
        # one array parameter: a thousand separate ones cost PostgreSQL up to twice as long
        wanted, params = "id = ANY(?)", [list(ids)]
    rows = store.query(
        f"SELECT id, title, CASE WHEN digest = '' THEN SUBSTR(content, 1, {int(lead)}) "
        f"ELSE digest END FROM items WHERE {wanted}",
        params,
    )
    # (a digest is cut here: SUBSTR costs SQLite more than reading it whole)
    return {int(r[0]): (str(r[1]), str(r[2])[:lead]) for r in rows}


# PostgreSQL cannot read matches newest first from its term index (GIN): a query either
# asks the index for every match and sorts them, or walks the documents newest first
# (the `doc` index) testing each one. Which is fast depends on how many documents match,
# and the planner guesses that from sampled statistics: for a term outside the most
# common ones it guesses ~0.5 %, so a rare term was walked through the whole archive
# (100,000 items: 0.3-0.5 s; a million: seconds) and a common one could be sorted in
# full. So the steps are chosen here, from what the archive shows, not from statistics:
# 1. test the newest `_pg_walk` documents one by one: a common term fills the page;
# 2. else, if the window's rate of matches predicts fewer older matches than the
#    documents a walk would test (or few: `_pg_rare`), ask the GIN index for at most
#    about twice that many, in no order (no ORDER BY, so walking is no option for the
#    planner), counted, and sorted in the same statement: a rare term ends here;
# 3. else go on testing older documents, in windows four times as large each time.
# Relevance takes the newest window of them and ranks them as on SQLite. The hits
# and their order are SQLite's; only the cost differs. What stays slow: a term rare among
# the newest documents and common long ago walks back to where it was common.


#: PostgreSQL: how many of the newest documents step 1 tests (step 3 widens it 4×)
PG_WALK = 200
#: PostgreSQL: how many matches step 2 takes from the term index at least (10 for each
#: wanted hit when more) before giving up on it
PG_RARE = 5_000


def _pg_newest(store: Store, match: str, filters: Filters, wanted: int) -> list[tuple[int, int]]:
    """The newest ``wanted`` hits (document id, item id), newest first, in the steps
    above."""
    tsquery = match
    low = None if filters.since is None else _time_bound(filters.since)
    high = None if filters.until is None else _time_bound(filters.until)
    found: list[tuple[int, int]] = []
    size = PG_WALK
    probed = False
    while True:
        need = wanted - len(found)
        span, span_params = _doc_span("doc", low, high)
        join, conditions, filter_params = _pg_item_filters(filters, "w")
        rows = store.query(
            f"SELECT w.doc, w.item_id FROM (SELECT doc, item_id, terms "
            f"FROM search_docs WHERE {span} ORDER BY doc DESC LIMIT {size}) w{join} "
            f"WHERE w.terms @@ CAST(? AS tsquery){conditions} ORDER BY w.doc DESC LIMIT {need}",
            [*span_params, tsquery, *filter_params],
        )
        found += [(int(r[0]), int(r[1])) for r in rows]
        if len(rows) == need:
            return found
        # the whole window was tested: where it ends, and whether older documents remain
        count, edge, top, oldest = store.query(
            f"SELECT COUNT(*), MIN(doc), MAX(doc), (SELECT MIN(doc) FROM search_docs "
            f"WHERE {span}) FROM (SELECT doc FROM search_docs WHERE {span} "
            f"ORDER BY doc DESC LIMIT {size}) w",
            [*span_params, *span_params],
        )[0]
        if int(count) < size:
            return found
        high = int(edge)
        if not probed:
            probed = True
            # the matches older than the window if they came at the window's rate
            # (document ids are publication times), and how many documents a walk
            # would test for the rest: ask the term index when it has fewer to give
            older = len(found) * (high - int(oldest)) / max(int(top) - high, 1)
            walk = (wanted - len(found)) * size / max(len(found), 1)
            cap = int(max(PG_RARE, 10 * wanted, min(2 * older, walk)))
            if older <= max(PG_RARE, walk):
                hits, total = _pg_few(
                    store, tsquery, filters, (low, high), wanted - len(found), cap
                )
                if total <= cap:
                    return found + hits
        size *= 4


def _pg_few(
    store: Store,
    tsquery: str,
    filters: Filters,
    span: tuple[int | None, int],
    need: int,
    cap: int,
) -> tuple[list[tuple[int, int]], int]:
    """Step 2: the newest ``need`` of at most ``cap`` + 1 matches from the term index
    with a document id in ``span`` (from, to), and how many it took."""
    where, span_params = _doc_span("d.doc", *span)
    join, conditions, filter_params = _pg_item_filters(filters, "d")
    rows = store.query(
        "WITH m AS MATERIALIZED (SELECT d.doc, d.item_id FROM search_docs d"
        f"{join} WHERE d.terms @@ CAST(? AS tsquery) AND {where}{conditions} "
        f"LIMIT {cap + 1}) "
        "SELECT n.total, p.doc, p.item_id "
        "FROM (SELECT COUNT(*) AS total FROM m) n "
        "LEFT JOIN LATERAL (SELECT doc, item_id FROM m ORDER BY doc DESC "
        f"LIMIT {need}) p ON TRUE",
        [tsquery, *span_params, *filter_params],
    )
    hits = [(int(r[1]), int(r[2])) for r in rows if r[1] is not None]
    return hits, int(rows[0][0])


def matching_docs(store: Store, match: str, filters: Filters, docs: Sequence[int]) -> set[int]:
    """Which of ``docs`` match the query and its filters."""
    if not docs:
        return set()
    body, column, params = _match(store, match, filters)
    marks, padded = in_list(docs)
    rows = store.query(f"SELECT {column} {body} AND {column} IN ({marks})", [*params, *padded])
    return {int(r[0]) for r in rows}


def items_by_id(store: Store, ids: Sequence[int]) -> dict[int, Item]:
    if not ids:
        return {}
    marks, params = in_list(ids)
    rows = store.query(f"SELECT {ITEM_COLUMNS} FROM items WHERE id IN ({marks})", params)
    return {int(row[0]): item_from_row(row) for row in rows}


def earlier_copies(store: Store, ids: Sequence[int]) -> dict[int, list[int]]:
    """For each item id, the document ids of the earlier reports of its story."""
    if not ids:
        return {}
    marks, params = in_list(ids)
    rows = store.query(
        "SELECT h.item_id, dm.doc FROM item_clusters h "
        "JOIN item_clusters m ON m.cluster_id = h.cluster_id AND m.item_id <> h.item_id "
        "JOIN search_docs dh ON dh.item_id = h.item_id "
        "JOIN search_docs dm ON dm.item_id = m.item_id "
        f"WHERE h.item_id IN ({marks}) AND dm.doc < dh.doc",
        params,
    )
    found: dict[int, list[int]] = {}
    for item_id, doc in rows:
        found.setdefault(int(item_id), []).append(int(doc))
    return found


def copy_counts(store: Store, ids: Sequence[int]) -> dict[int, int]:
    """For each item id, how many other reports its story has."""
    if not ids:
        return {}
    marks, params = in_list(ids)
    rows = store.query(
        "SELECT h.item_id, COUNT(*) - 1 FROM item_clusters h "
        "JOIN item_clusters m ON m.cluster_id = h.cluster_id "
        f"WHERE h.item_id IN ({marks}) GROUP BY h.item_id",
        params,
    )
    return {int(r[0]): int(r[1]) for r in rows}


def _doc_span(column: str, low: int | None, high: int | None) -> tuple[str, list[Any]]:
    """The condition that ``column`` lies from ``low`` (inclusive) to ``high`` (exclusive),
    either end open when ``None``."""
    parts: list[str] = []
    params: list[Any] = []
    if low is not None:
        parts.append(f"{column} >= ?")
        params.append(low)
    if high is not None:
        parts.append(f"{column} < ?")
        params.append(high)
    return " AND ".join(parts) or "TRUE", params


def _pg_item_filters(filters: Filters, alias: str) -> tuple[str, str, list[Any]]:
    """The join to ``items`` and the conditions on it of a query's source and importance
    filters (for search_docs as ``alias``); empty without those filters."""
    if filters.source is None and filters.important is None:
        return "", "", []
    conditions = ""
    params: list[Any] = []
    if filters.source is not None:
        conditions += " AND i.source = ?"
        params.append(filters.source)
    if filters.important is not None:
        conditions += " AND i.importance > 0" if filters.important else " AND i.importance = 0"
    return f" JOIN items i ON i.id = {alias}.item_id", conditions, params
