"""Full-text search in the store: SQLite FTS5 and PostgreSQL ``tsvector``, one interface,
the same hits on the same data.

Both engines index the terms of :mod:`finews.process.index` (overlapping Han bigrams,
single Han characters, lower-case words and numbers) and run the same parsed query (each
Chinese term in any of its Simplified and Traditional forms, an ``OR`` group), so a
query finds exactly the same items on either, in the same order: newest first, or under
``order="relevance"`` ranked by one function computed in Python from the stored text
(:func:`_relevance`). Snippets and highlights are computed in Python from the stored text,
the same way for both.

The index follows every write: :meth:`SearchMixin._index_item` runs inside
``upsert_items``'s transaction for each new or edited item. ``finews reindex``
(:func:`reindex`) rebuilds it; :func:`sync_index` indexes only what is missing or stale
(after ``copy_db``, which writes raw rows, or an upgrade that added the index).

Each indexed item has a document id that orders as its publication time: the seconds since
2000 times 256, plus a slot that tells apart items of the same second (:func:`doc_base`;
taken in the order they are indexed, so usually in id order; a 257th item of one second
takes the next second's first slot). On SQLite it is the FTS5 rowid, so newest-first reads
the index in rowid order and stops at the page end, and a date range is a rowid range: a
common term at a million items costs no sort. Small gaps between consecutive ids keep the
index small (measured: a quarter smaller than ids holding the item id in their low 32 bits).

Relevance order ranks the newest :data:`RELEVANCE_WINDOW` matches: for news the newest
matches are the ones worth ranking, and it bounds the cost of a query that matches half the
archive. Relevance pages end with the window; newest-first pages go through every match.
The score (:func:`_relevance`) counts where the query's words occur in the title and in the
start of the digest (of the text when there is no digest), a hit in the title weighing three
times one in the digest, repeated hits adding less and less and a long field less than a
short one (BM25's term-frequency part with fixed field lengths); a match whose words are
only further down in the text scores 0. Equal scores go newest first. Both engines rank the
same rows with this one function, so their relevance pages are the same. It has no corpus
statistics (IDF) on purpose: FTS5's bm25, used before, counts each phrase's matches in the
whole archive for its IDF, visiting every one, so a common word cost as much as counting
all its matches (同比增长, 401,072 of a million items: 57 ms on a quiet machine), while
finding the newest 1,000 takes 1–2 ms; reading their titles and digests and scoring them
takes 4–8 ms more, at any archive size (BENCHMARKS.md).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from finews.config import parse_bool
from finews.errors import StoreError
from finews.models import Item
from finews.normalize.times import parse_bound
from finews.process.index import (
    TOKENIZER_VERSION,
    ParsedQuery,
    QueryError,
    doc_terms,
    highlight,
    parse_query,
    plain_text,
    snippet,
)
from finews.sources.securities import code_query, mention_terms
from finews.store.columns import ITEM_COLUMNS, in_list

if TYPE_CHECKING:
    from finews.store.base import Store, Transaction

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "MAX_OFFSET",
    "ORDERS",
    "IndexStatus",
    "SearchHit",
    "SearchMixin",
    "SearchQuery",
    "SearchResults",
    "doc_base",
    "index_status",
    "query_from_params",
    "reindex",
    "search",
    "sync_index",
]

#: Result orders: newest first (the default), or most relevant first.
ORDERS = ("newest", "relevance")
MAX_LIMIT = 200
DEFAULT_LIMIT = 20
#: Deepest result reachable by paging (a query is refined long before this).
MAX_OFFSET = 10_000
#: How many of the newest matches the relevance order ranks.
RELEVANCE_WINDOW = 1_000

#: Relevance: a hit in the title weighs this many times one in the digest.
TITLE_WEIGHT = 3.0
#: Relevance: the usual length, in characters, of a title and of a digest; a longer field's
#: hits weigh less (and a shorter one's more).
TITLE_CHARS = 30
DIGEST_CHARS = 120
#: Relevance: how much of the digest counts (its first characters), or of the text of an
#: item without a digest.
LEAD_CHARS = 300
#: Relevance: how soon repeated hits stop adding (BM25's k1, here for the first hit to
#: count two thirds of all at the usual length), and how much length counts (BM25's b).
_SATURATION = 0.5
_LENGTH_EFFECT = 0.75

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
class SearchQuery:
    """What a reader asked: the text, filters, order and page.

    ``until`` is exclusive; ``dedupe`` shows each story once, by its earliest report that
    matches (see :func:`search`). A wrong value raises :class:`QueryError`.
    """

    text: str
    source: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    important: bool | None = None
    order: str = "newest"
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    dedupe: bool = False

    def __post_init__(self) -> None:
        if self.order not in ORDERS:
            raise QueryError(f"order {self.order!r}: use one of {', '.join(ORDERS)}")
        if not 1 <= self.limit <= MAX_LIMIT:
            raise QueryError(f"limit {self.limit}: give a number from 1 to {MAX_LIMIT}")
        if not 0 <= self.offset <= MAX_OFFSET:
            raise QueryError(f"offset {self.offset}: give a number from 0 to {MAX_OFFSET}")
        for name in ("since", "until"):
            moment = getattr(self, name)
            if moment is not None and moment.tzinfo is None:
                raise QueryError(f"{name}: give a timezone-aware time")
        if self.since and self.until and self.since >= self.until:
            raise QueryError("since must be earlier than until")


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One found item, its title and a snippet with hits in ``<mark>`` (escaped HTML), and
    how many other reports of the same story the store holds."""

    item: Item
    title_html: Markup
    snippet_html: Markup
    copies: int = 0


@dataclass(frozen=True, slots=True)
class SearchResults:
    """One page of hits; ``more`` when a next page exists."""

    query: SearchQuery
    parsed: ParsedQuery
    hits: tuple[SearchHit, ...]
    more: bool

    @property
    def next_offset(self) -> int | None:
        """The ``offset`` of the next page, ``None`` on the last."""
        if not self.more:
            return None
        return self.query.offset + self.query.limit


@dataclass(frozen=True, slots=True)
class IndexStatus:
    """How complete the search index is."""

    items: int
    indexed: int
    stale: int
    version_ok: bool

    @property
    def ok(self) -> bool:
        """Every item indexed at its current revision, by this tokenizer."""
        return self.version_ok and self.indexed == self.items and self.stale == 0


class SearchMixin:
    """The search SQL, mixed into :class:`~finews.store.base.SqlStore`."""

    # provided by SqlStore
    engine: str
    query: Callable[..., list[Any]]
    transaction: Callable[[], Any]

    @property
    def _fts5(self) -> bool:
        return self.engine == "sqlite"

    # --- writing -------------------------------------------------------------------------
    def _index_items(self, tx: Transaction, written: Sequence[tuple[int, Item]]) -> None:
        """Index items just written (inside the write); an item written twice in one batch
        is indexed once, as it stands at the end."""
        for item_id, item in dict(written).items():
            self._index_item(tx, item_id, item)

    def _index_item(self, tx: Transaction, item_id: int, item: Item, revision: int = 0) -> None:
        """Bring the index up to date for one item just written (inside the write);
        ``revision`` 0 reads the stored one."""
        if not revision:
            tx.execute("SELECT revision FROM items WHERE id = ?", (item_id,))
            row = tx.fetchone()
            if row is None:
                raise StoreError(f"item {item_id}: not stored, cannot index it")
            revision = int(row[0])
        tx.execute("SELECT doc, revision FROM search_docs WHERE item_id = ?", (item_id,))
        held = tx.fetchone()
        old_doc = None if held is None else int(held[0])
        base = doc_base(item.published_at)
        if old_doc is not None and base <= old_doc < base + _SLOTS:
            doc = old_doc  # same second: keep its place among that second's items
        else:
            doc = self._free_doc(tx, base)
        terms = doc_terms(item.title, item.digest, item.content)
        if self._fts5:
            if held is not None:
                self._unindex_fts5(tx, item_id, int(held[0]), int(held[1]))
            title, body, chars = terms.fts_columns()
            tx.execute(
                "INSERT INTO search_fts (rowid, title, body, chars) VALUES (?, ?, ?, ?)",
                (doc, title, body, chars),
            )
            tx.execute(
                "INSERT INTO search_docs (item_id, doc, revision) VALUES (?, ?, ?) "
                "ON CONFLICT (item_id) DO UPDATE SET doc = excluded.doc, "
                "revision = excluded.revision",
                (item_id, doc, revision),
            )
        else:
            tx.execute(
                "INSERT INTO search_docs (item_id, doc, revision, terms) "
                "VALUES (?, ?, ?, CAST(? AS tsvector)) ON CONFLICT (item_id) DO UPDATE SET "
                "doc = excluded.doc, revision = excluded.revision, terms = excluded.terms",
                (item_id, doc, revision, terms.tsvector()),
            )

    def _free_doc(self, tx: Transaction, base: int) -> int:
        """The next free document id from ``base`` on (the next second's when full)."""
        while True:
            tx.execute(
                "SELECT MAX(doc) FROM search_docs WHERE doc >= ? AND doc < ?",
                (base, base + _SLOTS),
            )
            highest = tx.fetchone()[0]
            if highest is None:
                return base
            if int(highest) + 1 < base + _SLOTS:
                return int(highest) + 1
            base += _SLOTS

    def _unindex_fts5(self, tx: Transaction, item_id: int, doc: int, revision: int) -> None:
        """Remove an item's row from the contentless FTS5 table, which needs the very terms
        it indexed: they are rebuilt from the revision the index holds."""
        tx.execute(
            "SELECT title, digest, content FROM item_revisions WHERE item_id = ? AND revision = ? "
            "UNION ALL SELECT title, digest, content FROM items WHERE id = ? AND revision = ?",
            (item_id, revision, item_id, revision),
        )
        old = tx.fetchone()
        if old is None:
            raise StoreError(
                f"item {item_id}: the search index holds revision {revision}, which is no "
                "longer stored; run `finews reindex`"
            )
        title, body, chars = doc_terms(old[0], old[1], old[2]).fts_columns()
        tx.execute(
            "INSERT INTO search_fts (search_fts, rowid, title, body, chars) "
            "VALUES ('delete', ?, ?, ?, ?)",
            (doc, title, body, chars),
        )

    def _clear_index(self, tx: Transaction) -> None:
        if self._fts5:
            tx.execute("INSERT INTO search_fts (search_fts) VALUES ('delete-all')")
        tx.execute("DELETE FROM search_docs")
        tx.execute(
            "UPDATE derived_state SET version = ? WHERE name = 'search'", (TOKENIZER_VERSION,)
        )

    def _stale_index_ids(self, after: int, limit: int) -> list[int]:
        rows = self.query(
            "SELECT i.id FROM items i LEFT JOIN search_docs d ON d.item_id = i.id "
            "WHERE i.id > ? AND (d.item_id IS NULL OR d.revision <> i.revision) "
            f"ORDER BY i.id LIMIT {int(limit)}",
            (after,),
        )
        return [int(r[0]) for r in rows]

    def _index_ids(self, ids: Sequence[int]) -> None:
        marks, params = in_list(ids)
        rows = self.query(f"SELECT {ITEM_COLUMNS} FROM items WHERE id IN ({marks})", params)
        items = [_row_item(row) for row in rows]
        with self.transaction() as tx:
            tx.lock_derived()
            for item in items:
                assert item.id is not None
                self._index_item(tx, item.id, item, item.revision)

    # --- reading -------------------------------------------------------------------------
    def _match(self, parsed: ParsedQuery, query: SearchQuery) -> tuple[str, str, list[Any]]:
        """FROM/WHERE for the hits of a query (``d`` is search_docs), the document id
        column, and the parameters."""
        params: list[Any] = []
        if self._fts5:
            sql = "FROM search_fts f JOIN search_docs d ON d.doc = f.rowid"
            where = ["search_fts MATCH ?"]
            params.append(parsed.fts5())
            doc = "f.rowid"
        else:
            sql = "FROM search_docs d"
            where = ["d.terms @@ CAST(? AS tsquery)"]
            params.append(parsed.tsquery())
            doc = "d.doc"
        if query.since is not None:
            where.append(f"{doc} >= ?")
            params.append(_time_bound(query.since))
        if query.until is not None:
            where.append(f"{doc} < ?")
            params.append(_time_bound(query.until))
        if query.source is not None or query.important is not None:
            sql += " JOIN items i ON i.id = d.item_id"
            if query.source is not None:
                where.append("i.source = ?")
                params.append(query.source)
            if query.important is not None:
                where.append("i.importance > 0" if query.important else "i.importance = 0")
        return f"{sql} WHERE {' AND '.join(where)}", doc, params

    def _search_docs(
        self, parsed: ParsedQuery, query: SearchQuery, offset: int, limit: int
    ) -> list[tuple[int, int]]:
        """(document id, item id) of one page of hits, in the query's order."""
        if not self._fts5:
            return self._pg_search_docs(parsed, query, offset, limit)
        body, doc, params = self._match(parsed, query)
        page = f"LIMIT {int(limit)} OFFSET {int(offset)}"
        if query.order == "newest":
            sql = f"SELECT {doc}, d.item_id {body} ORDER BY {doc} DESC {page}"
            return [(int(r[0]), int(r[1])) for r in self.query(sql, params)]
        sql = f"SELECT {doc}, d.item_id {body} ORDER BY {doc} DESC LIMIT {RELEVANCE_WINDOW}"
        window = [(int(r[0]), int(r[1])) for r in self.query(sql, params)]
        return self._ranked(parsed, window)[offset : offset + limit]

    def _ranked(
        self, parsed: ParsedQuery, window: Sequence[tuple[int, int]]
    ) -> list[tuple[int, int]]:
        """The (document id, item id) of ``window`` best first by :func:`_relevance` of
        their stored titles and digests, newest first among equals (both engines)."""
        if not window:
            return []
        ids = [item_id for _, item_id in window]
        params: list[Any]
        if self._fts5:
            marks, params = in_list(ids)
            wanted = f"id IN ({marks})"
        else:
            # one array parameter: a thousand separate ones cost PostgreSQL up to twice as long
            wanted, params = "id = ANY(?)", [ids]
        rows = self.query(
            f"SELECT id, title, CASE WHEN digest = '' THEN SUBSTR(content, 1, {LEAD_CHARS}) "
            f"ELSE digest END FROM items WHERE {wanted}",
            params,
        )
        # (a digest is cut here: SUBSTR costs SQLite more than reading it whole)
        texts = {int(r[0]): (str(r[1]), str(r[2])[:LEAD_CHARS]) for r in rows}
        needles = _needles(parsed.needles)
        scored = [
            (-_relevance(needles, *texts.get(item_id, ("", ""))), -doc, item_id)
            for doc, item_id in window
        ]
        scored.sort()
        return [(-doc, item_id) for _, doc, item_id in scored]

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
    # Relevance takes the newest RELEVANCE_WINDOW so and ranks them as on SQLite. The hits
    # and their order are SQLite's; only the cost differs. What stays slow: a term rare among
    # the newest documents and common long ago walks back to where it was common.

    #: PostgreSQL: how many of the newest documents step 1 tests (step 3 widens it 4×)
    _pg_walk = 200
    #: PostgreSQL: how many matches step 2 takes from the term index at least (10 for each
    #: wanted hit when more) before giving up on it
    _pg_rare = 5_000

    def _pg_search_docs(
        self, parsed: ParsedQuery, query: SearchQuery, offset: int, limit: int
    ) -> list[tuple[int, int]]:
        if query.order == "newest":
            return self._pg_newest(parsed, query, offset + limit)[offset:]
        hits = self._pg_newest(parsed, query, RELEVANCE_WINDOW)
        return self._ranked(parsed, hits)[offset : offset + limit]

    def _pg_newest(
        self, parsed: ParsedQuery, query: SearchQuery, wanted: int
    ) -> list[tuple[int, int]]:
        """The newest ``wanted`` hits (document id, item id), newest first, in the steps
        above."""
        tsquery = parsed.tsquery()
        low = None if query.since is None else _time_bound(query.since)
        high = None if query.until is None else _time_bound(query.until)
        found: list[tuple[int, int]] = []
        size = self._pg_walk
        probed = False
        while True:
            need = wanted - len(found)
            span, span_params = _doc_span("doc", low, high)
            join, filters, filter_params = _pg_item_filters(query, "w")
            rows = self.query(
                f"SELECT w.doc, w.item_id FROM (SELECT doc, item_id, terms "
                f"FROM search_docs WHERE {span} ORDER BY doc DESC LIMIT {size}) w{join} "
                f"WHERE w.terms @@ CAST(? AS tsquery){filters} ORDER BY w.doc DESC LIMIT {need}",
                [*span_params, tsquery, *filter_params],
            )
            found += [(int(r[0]), int(r[1])) for r in rows]
            if len(rows) == need:
                return found
            # the whole window was tested: where it ends, and whether older documents remain
            count, edge, top, oldest = self.query(
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
                cap = int(max(self._pg_rare, 10 * wanted, min(2 * older, walk)))
                if older <= max(self._pg_rare, walk):
                    hits, total = self._pg_few(
                        tsquery, query, (low, high), wanted - len(found), cap
                    )
                    if total <= cap:
                        return found + hits
            size *= 4

    def _pg_few(
        self,
        tsquery: str,
        query: SearchQuery,
        span: tuple[int | None, int],
        need: int,
        cap: int,
    ) -> tuple[list[tuple[int, int]], int]:
        """Step 2: the newest ``need`` of at most ``cap`` + 1 matches from the term index
        with a document id in ``span`` (from, to), and how many it took."""
        where, span_params = _doc_span("d.doc", *span)
        join, filters, filter_params = _pg_item_filters(query, "d")
        rows = self.query(
            "WITH m AS MATERIALIZED (SELECT d.doc, d.item_id FROM search_docs d"
            f"{join} WHERE d.terms @@ CAST(? AS tsquery) AND {where}{filters} "
            f"LIMIT {cap + 1}) "
            "SELECT n.total, p.doc, p.item_id "
            "FROM (SELECT COUNT(*) AS total FROM m) n "
            "LEFT JOIN LATERAL (SELECT doc, item_id FROM m ORDER BY doc DESC "
            f"LIMIT {need}) p ON TRUE",
            [tsquery, *span_params, *filter_params],
        )
        hits = [(int(r[1]), int(r[2])) for r in rows if r[1] is not None]
        return hits, int(rows[0][0])

    def _matching_docs(
        self, parsed: ParsedQuery, query: SearchQuery, docs: Sequence[int]
    ) -> set[int]:
        """Which of ``docs`` match the query and its filters."""
        if not docs:
            return set()
        body, column, params = self._match(parsed, query)
        marks, padded = in_list(docs)
        rows = self.query(f"SELECT {column} {body} AND {column} IN ({marks})", [*params, *padded])
        return {int(r[0]) for r in rows}

    def _items_by_id(self, ids: Sequence[int]) -> dict[int, Item]:
        if not ids:
            return {}
        marks, params = in_list(ids)
        rows = self.query(f"SELECT {ITEM_COLUMNS} FROM items WHERE id IN ({marks})", params)
        return {int(row[0]): _row_item(row) for row in rows}

    def _earlier_copies(self, ids: Sequence[int]) -> dict[int, list[int]]:
        """For each item id, the document ids of the earlier reports of its story."""
        if not ids:
            return {}
        marks, params = in_list(ids)
        rows = self.query(
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

    def _copy_counts(self, ids: Sequence[int]) -> dict[int, int]:
        if not ids:
            return {}
        marks, params = in_list(ids)
        rows = self.query(
            "SELECT h.item_id, COUNT(*) - 1 FROM item_clusters h "
            "JOIN item_clusters m ON m.cluster_id = h.cluster_id "
            f"WHERE h.item_id IN ({marks}) GROUP BY h.item_id",
            params,
        )
        return {int(r[0]): int(r[1]) for r in rows}

    def _index_counts(self) -> tuple[int, int, int, bool]:
        items = int(self.query("SELECT COUNT(*) FROM items")[0][0])
        indexed = int(self.query("SELECT COUNT(*) FROM search_docs")[0][0])
        stale = int(
            self.query(
                "SELECT COUNT(*) FROM search_docs d JOIN items i ON i.id = d.item_id "
                "WHERE d.revision <> i.revision"
            )[0][0]
        )
        rows = self.query("SELECT version FROM derived_state WHERE name = 'search'")
        return items, indexed, stale, bool(rows) and int(rows[0][0]) == TOKENIZER_VERSION


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


def _pg_item_filters(query: SearchQuery, alias: str) -> tuple[str, str, list[Any]]:
    """The join to ``items`` and the conditions on it of a query's source and importance
    filters (for search_docs as ``alias``); empty without those filters."""
    if query.source is None and query.important is None:
        return "", "", []
    filters = ""
    params: list[Any] = []
    if query.source is not None:
        filters += " AND i.source = ?"
        params.append(query.source)
    if query.important is not None:
        filters += " AND i.importance > 0" if query.important else " AND i.importance = 0"
    return f" JOIN items i ON i.id = {alias}.item_id", filters, params


_DIGITS = "0-9\uff10-\uff19"
_LETTERS = "a-zA-Z\uff21-\uff3a\uff41-\uff5a"


@dataclass(frozen=True, slots=True)
class _Needles:
    """A query's needles (its terms' Han, letter and digit runs, in each script) as
    :func:`_relevance` counts them in unfolded text: ``plain`` as they are (Han characters
    have no case and no other width), ``patterns`` a word or number (ASCII: what a query's
    letters and digits fold to) in either case and in full width, as a whole run (etf not
    inside netflix, 5 not inside 500), and other letters in either case."""

    plain: tuple[str, ...]
    patterns: tuple[re.Pattern[str], ...]


@lru_cache(maxsize=256)
def _needles(needles: tuple[str, ...]) -> _Needles:
    plain: list[str] = []
    patterns: list[re.Pattern[str]] = []
    for needle in needles:
        if needle.isascii() and needle:
            chars = [
                re.escape(c + c.upper() + chr(ord(c) + 0xFEE0) + chr(ord(c.upper()) + 0xFEE0))
                for c in needle
            ]
            kind = _DIGITS if needle[0].isdigit() else _LETTERS
            # the look-behind after the first character, not before it: the scan for that
            # character then runs in C (four times faster)
            first, rest = f"[{chars[0]}]", "".join(f"[{c}]" for c in chars[1:])
            patterns.append(re.compile(f"{first}(?<![{kind}]{first}){rest}(?![{kind}])"))
        elif needle.upper() != needle.lower():
            patterns.append(re.compile(re.escape(needle), re.IGNORECASE))
        elif needle:
            plain.append(needle)
    return _Needles(tuple(plain), tuple(patterns))


def _relevance(needles: _Needles, title: str, digest: str) -> float:
    """An item's relevance to a query (higher is better): for each needle and each of the
    title and the digest that has it ``n`` times, ``weight * n / (n + k)``, ``k`` growing
    with the field's length (BM25's term-frequency part, per field, with fixed usual
    lengths instead of the archive's averages: no corpus statistics, the same on both
    engines). One hit in a title of usual length counts 2.0, in a digest 0.67; ten hits
    count 0.95 of all a field can give."""
    score = 0.0
    for text, weight, usual in ((title, TITLE_WEIGHT, TITLE_CHARS), (digest, 1.0, DIGEST_CHARS)):
        if "<" in text or "&" in text:
            text = plain_text(text)  # as indexed (most titles and digests have no markup)
        if not text:
            continue
        k = _SATURATION * (1 - _LENGTH_EFFECT + _LENGTH_EFFECT * len(text) / usual)
        for needle in needles.plain:
            n = text.count(needle)
            if n:
                score += weight * n / (n + k)
        for pattern in needles.patterns:
            n = len(pattern.findall(text))
            if n:
                score += weight * n / (n + k)
    return score


def _row_item(row: Sequence[Any]) -> Item:
    from finews.store.base import SqlStore

    return SqlStore._row_to_item(row)


def _backend(store: Store) -> SearchMixin:
    if not isinstance(store, SearchMixin):
        raise StoreError(f"{type(store).__name__} has no search index")
    return store


# --- the public functions ------------------------------------------------------------------


def _when(name: str, value: str, *, end: bool) -> datetime:
    try:
        return parse_bound(value, end=end)
    except ValueError as exc:
        raise QueryError(f"{name}: {exc}") from exc


def _whole(name: str, value: str, low: int, high: int) -> int:
    text = value.strip()
    if not text.isascii() or not text.isdigit() or not low <= int(text) <= high:
        raise QueryError(f"{name}: {value[:40]!r} is not a whole number from {low} to {high}")
    return int(text)


def _flag(name: str, value: str) -> bool:
    flag = parse_bool(value)
    if flag is None:
        raise QueryError(f"{name}: {value[:40]!r} is not true or false")
    return flag


def query_from_params(params: Mapping[str, str], *, dedupe: bool = False) -> SearchQuery:
    """A :class:`SearchQuery` from text parameters, as the web page, the JSON API and the
    feed take them: ``q``, ``source``, ``since``, ``until`` (dates are Beijing days,
    ``until`` inclusive), ``important``, ``order``, ``limit``, ``offset`` and ``all``
    (every report, not each story once; the default is ``dedupe``). A wrong one raises
    :class:`QueryError` naming it."""
    text = params.get("q", "")
    if not text.strip():
        raise QueryError("q: give something to search for, e.g. q=央行 or q=600519")
    source = params.get("source") or None
    if source is not None and len(source) > 200:
        raise QueryError("source: give a source id of at most 200 characters")
    since = _when("since", params["since"], end=False) if params.get("since") else None
    until = _when("until", params["until"], end=True) if params.get("until") else None
    important = _flag("important", params["important"]) if params.get("important") else None
    order = params.get("order") or "newest"
    if order not in ORDERS:
        raise QueryError(f"order: {order[:40]!r} is not one of {', '.join(ORDERS)}")
    limit = _whole("limit", params["limit"], 1, MAX_LIMIT) if params.get("limit") else None
    offset = _whole("offset", params["offset"], 0, MAX_OFFSET) if params.get("offset") else 0
    every = _flag("all", params["all"]) if params.get("all") else not dedupe
    return SearchQuery(
        text=text,
        source=source,
        since=since,
        until=until,
        important=important,
        order=order,
        limit=limit or DEFAULT_LIMIT,
        offset=offset,
        dedupe=not every,
    )


def _body_text(item: Item) -> str:
    body = plain_text(item.content)
    digest = plain_text(item.digest)
    if digest and digest not in body:
        return f"{digest} {body}".strip()
    return body or digest


def _hit(item: Item, parsed: ParsedQuery, copies: int) -> SearchHit:
    return SearchHit(
        item=item,
        title_html=highlight(item.title or "（无标题）", parsed.needles),
        snippet_html=snippet(_body_text(item), parsed.needles),
        copies=copies,
    )


def _kept_hits(
    backend: SearchMixin, parsed: ParsedQuery, query: SearchQuery, wanted: int
) -> tuple[list[int], bool]:
    """Item ids of the hits from position 0 up to ``wanted``, and whether there are more;
    each story once when ``query.dedupe`` (a hit goes when an earlier report of its story
    also matches)."""
    if not query.dedupe:
        hits = backend._search_docs(parsed, query, 0, wanted + 1)
        return [item_id for _, item_id in hits[:wanted]], len(hits) > wanted
    kept: list[int] = []
    position = 0
    chunk = max(wanted * 2, 50)
    while len(kept) <= wanted:
        hits = backend._search_docs(parsed, query, position, chunk)
        earlier = backend._earlier_copies([item_id for _, item_id in hits])
        shadowing = backend._matching_docs(
            parsed, query, sorted({doc for found in earlier.values() for doc in found})
        )
        for _, item_id in hits:
            if not any(doc in shadowing for doc in earlier.get(item_id, ())):
                kept.append(item_id)
        position += len(hits)
        if len(hits) < chunk or position >= MAX_OFFSET + MAX_LIMIT:
            break
    return kept[:wanted], len(kept) > wanted


def search(store: Store, query: SearchQuery) -> SearchResults:
    """One page of hits of ``query`` (raises :class:`QueryError` for an empty or too long
    query, with a message for the reader)."""
    backend = _backend(store)
    if (stock := code_query(query.text)) is not None:
        return _code_search(store, query, stock)
    parsed = parse_query(query.text)
    found, more = _kept_hits(backend, parsed, query, query.offset + query.limit)
    page = found[query.offset :]
    items = backend._items_by_id(page)
    copies = backend._copy_counts(page)
    hits = tuple(_hit(items[i], parsed, copies.get(i, 0)) for i in page if i in items)
    return SearchResults(query=query, parsed=parsed, hits=hits, more=more)


def _code_search(store: Store, query: SearchQuery, stock: str) -> SearchResults:
    """A search for one security code (:func:`~finews.sources.securities.code_query`):
    the items an upstream tagged with it in any notation, or naming its code in the title
    or digest (:class:`~finews.store.ItemQuery` ``stock``), together with the text hits
    of its code's digits (a mainland or Hong Kong code; the query as written otherwise),
    each once. The tags are not in the search index, so this asks the store's listing; the
    union is ordered as the query asks (relevance: tagged items without the code in their
    text score 0, and go newest first after those that name it)."""
    from finews.store.base import ItemQuery  # base imports this module

    backend = _backend(store)
    wanted = query.offset + query.limit
    parsed = parse_query(" ".join(mention_terms(stock)) or query.text)
    text_ids, text_more = _kept_hits(backend, parsed, query, wanted)
    listing = ItemQuery(
        source=query.source,
        since=query.since,
        until=query.until,
        important=query.important,
        stock=stock,
        first_reports_only=query.dedupe,
        limit=wanted + 1,
    )
    found = {item.id: item for item in store.items(listing) if item.id is not None}
    found.update(backend._items_by_id([i for i in text_ids if i not in found]))
    ordered = sorted(found.values(), key=lambda item: (item.published_at, item.id), reverse=True)
    if query.order == "relevance":
        needles = _needles(parsed.needles)
        ordered.sort(key=lambda item: -_relevance(needles, item.title, item.digest[:LEAD_CHARS]))
    page = [item for item in ordered[query.offset : wanted] if item.id is not None]
    copies = backend._copy_counts([item.id for item in page if item.id is not None])
    hits = tuple(_hit(item, parsed, copies.get(item.id or 0, 0)) for item in page)
    more = text_more or len(ordered) > wanted
    return SearchResults(query=query, parsed=parsed, hits=hits, more=more)


def index_status(store: Store) -> IndexStatus:
    """How many items the index holds, how many at an old revision, and whether it was
    built by this tokenizer."""
    items, indexed, stale, version_ok = _backend(store)._index_counts()
    return IndexStatus(items=items, indexed=indexed, stale=stale, version_ok=version_ok)


def sync_index(
    store: Store, *, batch: int = 500, progress: Callable[[int], None] | None = None
) -> int:
    """Index every item that is missing from the index or indexed at an older revision;
    return how many. Cheap when the index is complete."""
    backend = _backend(store)
    done = 0
    after = 0
    while True:
        ids = backend._stale_index_ids(after, batch)
        if not ids:
            return done
        backend._index_ids(ids)
        done += len(ids)
        after = ids[-1]
        if progress is not None:
            progress(done)


def reindex(
    store: Store, *, batch: int = 500, progress: Callable[[int], None] | None = None
) -> int:
    """Rebuild the whole index (after a tokenizer change, or to repair it); return how
    many items it holds."""
    backend = _backend(store)
    with backend.transaction() as tx:
        tx.lock_derived()
        backend._clear_index(tx)
    return sync_index(store, batch=batch, progress=progress)
