"""Full-text search: the :class:`Search` reader that indexes items as the change log brings
them, and the search API (:func:`search`, :func:`query_from_params`, :func:`reindex`,
:func:`sync_index`, :func:`index_status`). The SQL is :mod:`finews.store.search`'s.

Both engines index the terms of :mod:`finews.process.index` (overlapping Han bigrams,
single Han characters, lower-case words and numbers) and run the same parsed query (each
Chinese term in any of its Simplified and Traditional forms, an ``OR`` group), so a
query finds exactly the same items on either, in the same order: newest first, or under
``order="relevance"`` ranked by one function computed in Python from the stored text
(:func:`_relevance`). Snippets and highlights are computed in Python from the stored text,
the same way for both.

The index follows every write: :class:`Search` is a reader of the change log
(:mod:`finews.derive.driver`), inside ``upsert_items``'s transaction or a deriving round.
``finews reindex`` (:func:`reindex`) rebuilds it; :func:`sync_index` indexes only what is
missing or stale (after ``copy_db``, which writes raw rows, or an upgrade that added the
index).

Document ids order as publication times (:func:`finews.store.search.doc_base`).

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

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from markupsafe import Markup

from finews.config import parse_bool
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
from finews.store import ItemQuery, Store, Transaction
from finews.store.search import (
    Filters,
    clear_index,
    copy_counts,
    earlier_copies,
    held_doc,
    index_counts,
    indexed_text,
    items_by_id,
    lead_texts,
    matching_docs,
    newest_docs,
    place_doc,
    stale_index_ids,
    write_doc,
)

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "MAX_OFFSET",
    "ORDERS",
    "RELEVANCE_WINDOW",
    "IndexStatus",
    "Search",
    "SearchHit",
    "SearchQuery",
    "SearchResults",
    "index_item",
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


class Search:
    """The search index as a reader of the change log: each item's terms at its current
    revision (an item held at that revision already is skipped)."""

    stage = "index"

    def __init__(self, store: Store) -> None:
        self.store = store

    def update(self, tx: Transaction, items: Sequence[tuple[int, Item]]) -> None:
        for item_id, item in items:
            index_item(tx, item_id, item)

    def forget(self) -> None:
        """Nothing is cached between rounds."""


def index_item(tx: Transaction, item_id: int, item: Item) -> None:
    """Bring the index up to date for one stored item (``item.revision`` is its stored
    revision), inside ``tx``."""
    held = held_doc(tx, item_id)
    if held is not None and held[1] == item.revision:
        return
    doc = place_doc(tx, item.published_at, held)
    terms = doc_terms(item.title, item.digest, item.content)
    if tx.store.engine == "sqlite":
        old = None
        if held is not None:
            indexed = doc_terms(*indexed_text(tx, item_id, held[1]))
            old = (held[0], indexed.fts_columns())
        write_doc(tx, item_id, doc, item.revision, terms.fts_columns(), old=old)
    else:
        write_doc(tx, item_id, doc, item.revision, terms.tsvector())


# --- finding -------------------------------------------------------------------------------
def _match_of(store: Store, parsed: ParsedQuery, query: SearchQuery) -> tuple[str, Filters]:
    """The engine's query text (FTS5's expression, or a ``tsquery``) and the filters."""
    match = parsed.fts5() if store.engine == "sqlite" else parsed.tsquery()
    return match, Filters(query.source, query.since, query.until, query.important)


def _search_docs(
    store: Store, parsed: ParsedQuery, query: SearchQuery, offset: int, limit: int
) -> list[tuple[int, int]]:
    """(document id, item id) of one page of hits, in the query's order."""
    match, filters = _match_of(store, parsed, query)
    if query.order == "newest":
        return newest_docs(store, match, filters, offset, limit)
    window = newest_docs(store, match, filters, 0, RELEVANCE_WINDOW)
    return _ranked(store, parsed, window)[offset : offset + limit]


def _matching_docs(
    store: Store, parsed: ParsedQuery, query: SearchQuery, docs: Sequence[int]
) -> set[int]:
    match, filters = _match_of(store, parsed, query)
    return matching_docs(store, match, filters, docs)


def _ranked(
    store: Store, parsed: ParsedQuery, window: Sequence[tuple[int, int]]
) -> list[tuple[int, int]]:
    """The (document id, item id) of ``window`` best first by :func:`_relevance` of
    their stored titles and digests, newest first among equals (both engines)."""
    if not window:
        return []
    texts = lead_texts(store, [item_id for _, item_id in window], LEAD_CHARS)
    needles = _needles(parsed.needles)
    scored = [
        (-_relevance(needles, *texts.get(item_id, ("", ""))), -doc, item_id)
        for doc, item_id in window
    ]
    scored.sort()
    return [(-doc, item_id) for _, doc, item_id in scored]


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
    store: Store, parsed: ParsedQuery, query: SearchQuery, wanted: int
) -> tuple[list[int], bool]:
    """Item ids of the hits from position 0 up to ``wanted``, and whether there are more;
    each story once when ``query.dedupe`` (a hit goes when an earlier report of its story
    also matches)."""
    if not query.dedupe:
        hits = _search_docs(store, parsed, query, 0, wanted + 1)
        return [item_id for _, item_id in hits[:wanted]], len(hits) > wanted
    kept: list[int] = []
    position = 0
    chunk = max(wanted * 2, 50)
    while len(kept) <= wanted:
        hits = _search_docs(store, parsed, query, position, chunk)
        earlier = earlier_copies(store, [item_id for _, item_id in hits])
        shadowing = _matching_docs(
            store, parsed, query, sorted({doc for found in earlier.values() for doc in found})
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
    if (stock := code_query(query.text)) is not None:
        return _code_search(store, query, stock)
    parsed = parse_query(query.text)
    found, more = _kept_hits(store, parsed, query, query.offset + query.limit)
    page = found[query.offset :]
    items = items_by_id(store, page)
    copies = copy_counts(store, page)
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
    wanted = query.offset + query.limit
    parsed = parse_query(" ".join(mention_terms(stock)) or query.text)
    text_ids, text_more = _kept_hits(store, parsed, query, wanted)
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
    found.update(items_by_id(store, [i for i in text_ids if i not in found]))
    ordered = sorted(found.values(), key=lambda item: (item.published_at, item.id), reverse=True)
    if query.order == "relevance":
        needles = _needles(parsed.needles)
        ordered.sort(key=lambda item: -_relevance(needles, item.title, item.digest[:LEAD_CHARS]))
    page = [item for item in ordered[query.offset : wanted] if item.id is not None]
    copies = copy_counts(store, [item.id for item in page if item.id is not None])
    hits = tuple(_hit(item, parsed, copies.get(item.id or 0, 0)) for item in page)
    more = text_more or len(ordered) > wanted
    return SearchResults(query=query, parsed=parsed, hits=hits, more=more)


def index_status(store: Store) -> IndexStatus:
    """How many items the index holds, how many at an old revision, and whether it was
    built by this tokenizer."""
    items, indexed, stale, version = index_counts(store)
    return IndexStatus(
        items=items, indexed=indexed, stale=stale, version_ok=version == TOKENIZER_VERSION
    )


def sync_index(
    store: Store, *, batch: int = 500, progress: Callable[[int], None] | None = None
) -> int:
    """Index every item that is missing from the index or indexed at an older revision;
    return how many. Cheap when the index is complete."""
    done = 0
    after = 0
    while True:
        ids = stale_index_ids(store, after, batch)
        if not ids:
            return done
        items = items_by_id(store, ids)
        with store.transaction() as tx:
            tx.lock_derived()
            for item_id, item in items.items():
                index_item(tx, item_id, item)
        done += len(ids)
        after = ids[-1]
        if progress is not None:
            progress(done)


def reindex(
    store: Store, *, batch: int = 500, progress: Callable[[int], None] | None = None
) -> int:
    """Rebuild the whole index (after a tokenizer change, or to repair it); return how
    many items it holds."""
    with store.transaction() as tx:
        tx.lock_derived()
        clear_index(tx, TOKENIZER_VERSION)
    return sync_index(store, batch=batch, progress=progress)
