"""What the site knows about its listings: how many pages each has, and where each page starts.

A listing (every item, important items, one category, one day) is cut into numbered pages
of ``page_size`` items counted from its **oldest** item: page 1 holds the oldest items, and a
page, once full, keeps its items when newer ones arrive. The first page of a listing (its
index) shows the newest ``page_size`` items and links to the highest full page.

For each listing the catalog keeps the key ``(published_at, id)`` of the newest item of every
full page (its *boundaries*) and how many items came after the last one. Any page is then one
keyset query (``items after boundary[n-2]``, oldest first, ``page_size`` of them), and a new
item costs one short query: :meth:`Catalog.apply` re-counts each affected listing from the
page the item falls into, reading only the items after that page's start. Because boundaries
are re-derived from the items themselves (never from counts carried forward), a change that
lands while the catalog is being built is fixed by applying its change-log entry later.

**Each story once.** A catalog made with ``first_reports_only`` (the site's ``dedupe``)
counts only what a listing shows when each story appears once: an item is left out of a
listing that holds an earlier report of its story (see
:attr:`~finews.store.base.ItemQuery.first_reports_only`). A new report can hide an item
stored earlier (it is now the story's second report) or two stories can merge, so a change
re-counts each listing from the earliest report of the changed item's story. Pages are
read as ranges between two boundaries (:meth:`ListingState.range`), so even a catalog that
missed such a move (an edit that split a story in two) shows a page one item longer or
shorter, never an item twice or not at all.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from finews.models import Item
from finews.publish.urls import (
    UNCATEGORIZED,
    Listing,
    article_path,
    category_of,
    day_bounds,
    listings_of,
    long_names,
)
from finews.store import Change, ItemQuery, Store
from finews.store.clusters import also_reported, items_by_id, shared_stories

__all__ = [
    "Affected",
    "Catalog",
    "Key",
    "ListingState",
    "day_first_reports",
    "item_key",
    "listing_items",
    "listing_query",
]

#: an item's place in every listing: (published_at, row id), the store's sort order
Key = tuple[datetime, int]

_TITLES = {"all": "全部消息", "important": "重要消息"}
_CHUNK = 500  # items per story lookup while scanning


def item_key(item: Item) -> Key:
    """An item's sort key in every listing."""
    assert item.id is not None, "only stored items are listed"
    return (item.published_at, item.id)


def listing_query(listing: Listing, **options: Any) -> ItemQuery:
    """The store query for a listing's items (``options`` add limit, cursor, order);
    items a mute rule hides are left out."""
    options.setdefault("muted", False)
    if listing.kind == "important":
        return ItemQuery(important=True, **options)
    if listing.kind == "category":
        category = "" if listing.name == UNCATEGORIZED else listing.name
        return ItemQuery(category=category, **options)
    if listing.kind == "day":
        day = listing.day
        assert day is not None
        since, until = day_bounds(day)
        return ItemQuery(since=since, until=until, **options)
    return ItemQuery(**options)


def listing_items(
    store: Store,
    listing: Listing,
    *,
    first_reports_only: bool,
    before: Key | None = None,
    through: Key | None = None,
    limit: int | None = None,
    oldest_first: bool = False,
    without_content: bool = False,
    day: Sequence[Item] | None = None,
) -> list[Item]:
    """A listing's items, as :func:`listing_query` with these options asks the store.

    A day listing that shows each story once is read whole (:func:`day_first_reports`;
    ``day``: what it returned for this listing already, so the pages of one day read it
    once) and cut here."""
    if not (first_reports_only and listing.kind == "day"):
        query = listing_query(
            listing,
            first_reports_only=first_reports_only,
            before=before,
            through=through,
            limit=limit,
            oldest_first=oldest_first,
            without_content=without_content,
        )
        return list(store.items(query))
    if day is None:
        day = day_first_reports(store, listing)
    shown = []
    for item in day:
        key = item_key(item)
        if oldest_first:
            if (before is not None and key <= before) or (through is not None and key > through):
                continue
        elif (before is not None and key >= before) or (through is not None and key < through):
            continue
        shown.append(item)
    if not oldest_first:
        shown.reverse()
    if limit is not None:
        shown = shown[:limit]
    if without_content:
        return shown
    full = {item.id: item for item in items_by_id(store, [i.id for i in shown if i.id])}
    return [full.get(item.id, item) for item in shown]


def day_first_reports(store: Store, listing: Listing) -> list[Item]:
    """A day listing's items when it shows each story once: the day read whole (every
    report, without text, oldest first) and each story's later reports left out here, as
    each of them is the first of its story in the day or not. The store's own test of each
    row (an earlier report of its story in the listing?) walks the story's reports in id
    order until it finds one of that day, which for a day deep into a story of thousands of
    reports was thousands of rows per item shown."""
    day = list(store.items(listing_query(listing, oldest_first=True, without_content=True)))
    stories = shared_stories(store, [item.id for item in day if item.id is not None])
    seen: set[int] = set()
    shown = []
    for item in day:
        story = stories.get(item.id) if item.id is not None else None
        if story is not None:
            if story[0] in seen:
                continue
            seen.add(story[0])
        shown.append(item)
    return shown


def _default_title(listing: Listing) -> str:
    if listing.kind == "day" and listing.day is not None:
        return f"{listing.day.year}年{listing.day.month}月{listing.day.day}日"
    return _TITLES.get(listing.kind, listing.name)


def _display_name(item: Item) -> str:
    return item.tag or item.media or category_of(item)


@dataclass(frozen=True, slots=True)
class ListingState:
    """One listing's pages: ``boundaries[n-1]`` is the key of the newest item on page ``n``;
    ``remainder`` items came after the last full page; ``newest`` is the newest item's key."""

    boundaries: tuple[Key, ...]
    remainder: int
    newest: Key
    title: str

    @property
    def pages(self) -> int:
        """How many full numbered pages the listing has."""
        return len(self.boundaries)

    def count(self, page_size: int) -> int:
        """How many items the listing holds."""
        return len(self.boundaries) * page_size + self.remainder

    def after(self, page: int) -> Key | None:
        """The keyset cursor that page ``page`` starts after (``None`` for page 1)."""
        return self.boundaries[page - 2] if page >= 2 else None

    def range(self, page: int) -> tuple[Key | None, Key]:
        """The keys page ``page`` (a full page) lies between: after the first (``None``
        for page 1), up to and including the second."""
        return self.after(page), self.boundaries[page - 1]

    @property
    def older_than_index(self) -> int | None:
        """The numbered page the first page links to as "older": the newest full page not
        entirely shown there, or ``None`` when the first page shows everything."""
        page = self.pages if self.remainder else self.pages - 1
        return page if page >= 1 else None


@dataclass(slots=True)
class _Counter:
    """Builds a :class:`ListingState` from keys arriving oldest first."""

    page_size: int
    title: str
    boundaries: list[Key] = field(default_factory=list)
    remainder: int = 0
    newest: Key | None = None

    def push(self, key: Key) -> None:
        self.remainder += 1
        self.newest = key
        if self.remainder == self.page_size:
            self.boundaries.append(key)
            self.remainder = 0

    def state(self) -> ListingState | None:
        if self.newest is None:
            return None
        return ListingState(tuple(self.boundaries), self.remainder, self.newest, self.title)


@dataclass(frozen=True, slots=True)
class Affected:
    """What a batch of changes touched: the items as they are now (with the other reports
    of their stories, whose "also reported by" changed), the article paths they no longer
    live at, per listing key the first numbered page that changed, and per listing key
    that now has fewer numbered pages how many it had (an item left for another day, or,
    each story once, a report that led was hidden by an earlier one arriving late): the
    pages past its new count are no longer part of the listing."""

    items: tuple[Item, ...] = ()
    moved: tuple[tuple[str, Item], ...] = ()
    first_pages: dict[str, int] = field(default_factory=dict)
    shrunk: dict[str, int] = field(default_factory=dict)


class Catalog:
    """Every listing's pages, the sources seen per category, and the change number
    (``seq``) the catalog reflects. Safe to read from several threads while one applies.
    ``first_reports_only``: count each story once per listing (the site's ``dedupe``)."""

    def __init__(self, page_size: int, *, first_reports_only: bool = False) -> None:
        self.page_size = page_size
        self.first_reports_only = first_reports_only
        self.seq = 0
        self._listings: dict[str, ListingState] = {}
        self._sources: dict[str, set[str]] = {}
        self._long: dict[str, str] = {}  # hashed path segment → category (urls.long_names)
        self._lock = threading.Lock()

    # --- reading ---------------------------------------------------------------------------
    def get(self, listing: Listing) -> ListingState | None:
        """A listing's state, ``None`` when it has no items."""
        return self._listings.get(listing.key)

    def listings(self) -> list[tuple[Listing, ListingState]]:
        """Every listing with items, sorted by key."""
        with self._lock:
            found = sorted(self._listings.items())
        return [(Listing.from_key(key), state) for key, state in found]

    def categories(self) -> list[tuple[Listing, ListingState]]:
        """Every category with items, the most recently active first."""
        found = [(lst, st) for lst, st in self.listings() if lst.kind == "category"]
        return sorted(found, key=lambda pair: pair[1].newest, reverse=True)

    def days(self) -> list[tuple[date, int]]:
        """Every day with items and its count, newest first."""
        found = []
        for listing, state in self.listings():
            if listing.kind == "day" and listing.day is not None:
                found.append((listing.day, state.count(self.page_size)))
        return sorted(found, reverse=True)

    def long_categories(self) -> dict[str, str]:
        """The categories whose names are too long for a path, by the digest their paths
        hold (what :func:`~.urls.resolve` needs to find their pages)."""
        with self._lock:
            return dict(self._long)

    def sources(self, category: str | None = None) -> list[str]:
        """The source ids seen (in one category, or anywhere), sorted."""
        with self._lock:
            if category is not None:
                return sorted(self._sources.get(category, ()))
            return sorted(set().union(*self._sources.values()))

    # --- building --------------------------------------------------------------------------
    @classmethod
    def scan(
        cls,
        store: Store,
        page_size: int,
        *,
        visit: Callable[[Item], None] | None = None,
        first_reports_only: bool = False,
        full_text: bool = True,
    ) -> Catalog:
        """Read every item once, oldest first, and count every listing's pages; ``visit``
        sees each item on the way (the static build writes its page there), hidden later
        reports included, with its full text unless ``full_text`` is false (counting alone
        never reads it)."""
        catalog = cls(page_size, first_reports_only=first_reports_only)
        catalog.seq = store.last_change_seq()
        counters: dict[str, _Counter] = {}
        stories = _Stories() if first_reports_only else None
        sizes: dict[int, int] = {}  # each story counted once while its reports go by

        def count(item: Item, story: tuple[int, int] | None) -> None:
            if visit is not None:
                visit(item)
            catalog._note_source(item)
            key = item_key(item)
            for listing in listings_of(item):
                shown = stories is None or story is None or stories.first_in(listing.key, story[0])
                if not shown:
                    continue
                counter = counters.get(listing.key)
                if counter is None:
                    counter = counters[listing.key] = _Counter(page_size, _default_title(listing))
                if listing.kind == "category":
                    counter.title = _display_name(item)
                counter.push(key)
            # a story's last report gone by: it is not asked about again
            if stories is not None and story is not None and stories.seen(*story):
                sizes.pop(story[0], None)

        query = ItemQuery(oldest_first=True, without_content=visit is None or not full_text)
        if stories is None:
            for item in store.items(query):
                count(item, None)
        else:
            chunk: list[Item] = []
            for item in store.items(query):
                chunk.append(item)
                if len(chunk) == _CHUNK:
                    _count_chunk(store, chunk, count, sizes)
                    chunk = []
            _count_chunk(store, chunk, count, sizes)
        for name, counter in counters.items():
            state = counter.state()
            if state is not None:
                catalog._listings[name] = state
        return catalog

    def apply(
        self,
        store: Store,
        changes: Sequence[Change],
        *,
        also: Iterable[int] = (),
        reports: bool = True,
    ) -> Affected:
        """Bring the catalog up to date with ``changes`` (read from the store's change log)
        and say what they touched. ``also``: items whose story changed besides (the other
        reports a story had when its pages were last made, before one of them left it):
        their pages, and their place in listings that show each story once. ``reports``:
        include the other reports of the changed items' stories in :attr:`Affected.items`
        (whose pages changed); without, they are read only to re-count listings that show
        each story once, and without their full text."""
        if not changes:
            return Affected()
        items: dict[int, Item] = {}
        moved: list[tuple[str, Item]] = []
        lowest: dict[str, Key] = {}

        def touch(version: Item, item_id: int) -> None:
            key = (version.published_at, item_id)
            for listing in listings_of(version):
                if listing.key not in lowest or key < lowest[listing.key]:
                    lowest[listing.key] = key

        edited = {change.item_id for change in changes if change.kind != "new"}
        changed = list(dict.fromkeys(change.item_id for change in changes))
        for item_id in changed:
            item = store.get_item_by_id(item_id)
            if item is None:
                continue
            items[item_id] = item
            self._note_source(item)
            versions = [item]
            if item_id in edited:
                versions += store.revisions(item_id)
            path = article_path(item)
            for version in versions:
                old_path = article_path(version)
                if old_path != path and old_path not in (p for p, _ in moved):
                    moved.append((old_path, item))
                touch(version, item_id)
        # the other reports of each changed item's story: their "also reported by" changed,
        # and (each story once) a new earlier report or a merge may hide one of them
        told: set[int] = set()  # reports read already with the story of another change
        for item_id in changed:
            if item_id not in items or item_id in told:
                continue
            if not reports and not self.first_reports_only:
                break
            for other in also_reported(store, item_id, full_text=reports):
                assert other.id is not None
                told.add(other.id)
                if reports and other.id not in items:
                    items[other.id] = other
                if self.first_reports_only:
                    touch(other, other.id)
        for item_id in also:
            found = items.get(item_id) or store.get_item_by_id(item_id)
            if found is None:
                continue
            items[item_id] = found
            if self.first_reports_only:
                touch(found, item_id)
        first_pages: dict[str, int] = {}
        shrunk: dict[str, int] = {}
        for name, key in sorted(lowest.items()):
            before = self._listings.get(name)
            first_pages[name] = self._recount(store, Listing.from_key(name), key)
            after = self._listings.get(name)
            if before is not None and (after.pages if after else 0) < before.pages:
                shrunk[name] = before.pages
        self.seq = max(self.seq, max(change.seq for change in changes))
        return Affected(tuple(items.values()), tuple(moved), first_pages, shrunk)

    def _note_source(self, item: Item) -> None:
        category = category_of(item)
        known = self._sources.get(category)
        if known is None or item.source not in known:
            with self._lock:
                self._sources.setdefault(category, set()).add(item.source)
                if known is None:
                    self._long.update(long_names([category]))

    def _recount(self, store: Store, listing: Listing, lowest: Key) -> int:
        """Re-derive a listing's pages from the one holding ``lowest``; return its number."""
        old = self._listings.get(listing.key)
        bounds = list(old.boundaries) if old else []
        start = bisect_left(bounds, lowest)
        del bounds[start:]
        counter = _Counter(self.page_size, old.title if old else _default_title(listing), bounds)
        counter.newest = bounds[-1] if bounds else None
        found = listing_items(
            store,
            listing,
            before=counter.newest,
            oldest_first=True,
            first_reports_only=self.first_reports_only,
            without_content=True,
        )
        for item in found:
            if listing.kind == "category":
                counter.title = _display_name(item)
            counter.push(item_key(item))
        state = counter.state()
        with self._lock:
            if state is None:
                self._listings.pop(listing.key, None)
            else:
                self._listings[listing.key] = state
        return start + 1

    # --- persistence (the static build keeps its catalog between runs) --------------------
    def to_json(self) -> dict[str, Any]:
        """The catalog as plain JSON values."""
        listings = {
            name: {
                "boundaries": [_key_json(key) for key in state.boundaries],
                "remainder": state.remainder,
                "newest": _key_json(state.newest),
                "title": state.title,
            }
            for name, state in sorted(self._listings.items())
        }
        sources = {cat: sorted(ids) for cat, ids in sorted(self._sources.items())}
        return {
            "page_size": self.page_size,
            "first_reports_only": self.first_reports_only,
            "seq": self.seq,
            "listings": listings,
            "sources": sources,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Catalog:
        """A catalog saved by :meth:`to_json` (``ValueError``/``KeyError`` when malformed)."""
        first_only = data.get("first_reports_only", False)
        if not isinstance(first_only, bool):
            raise ValueError(f"first_reports_only is not true or false: {first_only!r}")
        catalog = cls(int(data["page_size"]), first_reports_only=first_only)
        catalog.seq = int(data["seq"])
        for name, value in data["listings"].items():
            Listing.from_key(name)
            catalog._listings[name] = ListingState(
                tuple(_key_value(key) for key in value["boundaries"]),
                int(value["remainder"]),
                _key_value(value["newest"]),
                str(value["title"]),
            )
        for category, ids in data["sources"].items():
            catalog._sources[category] = {str(i) for i in ids}
        catalog._long = long_names(catalog._sources)
        return catalog


class _Stories:
    """While a scan walks the archive oldest first: which stories told more than once each
    listing has shown already. A story is forgotten once all its reports went by, so this
    holds only the stories still open around the scan's position."""

    def __init__(self) -> None:
        self._shown: dict[int, set[str]] = {}
        self._left: dict[int, int] = {}

    def first_in(self, listing: str, story: int) -> bool:
        """Whether a report of ``story`` is the first in ``listing`` (then it counts
        there, and the story's later reports do not)."""
        shown = self._shown.setdefault(story, set())
        if listing in shown:
            return False
        shown.add(listing)
        return True

    def seen(self, story: int, reports: int) -> bool:
        """One report of ``story`` (told ``reports`` times) went by; whether it was the
        last."""
        left = self._left.get(story, reports) - 1
        if left <= 0:
            self._left.pop(story, None)
            self._shown.pop(story, None)
            return True
        self._left[story] = left
        return False


def _count_chunk(
    store: Store,
    chunk: Sequence[Item],
    count: Callable[[Item, tuple[int, int] | None], None],
    sizes: dict[int, int],
) -> None:
    """Count items with the stories of those told more than once (two short queries per
    chunk; ``sizes`` keeps the stories counted so far, so none is counted twice)."""
    if not chunk:
        return
    ids = [item.id for item in chunk if item.id is not None]
    stories = shared_stories(store, ids, sizes)
    for item in chunk:
        count(item, stories.get(item.id) if item.id is not None else None)


def _key_json(key: Key) -> list[Any]:
    return [key[0].isoformat(), key[1]]


def _key_value(value: Iterable[Any]) -> Key:
    moment, item_id = value
    parsed = datetime.fromisoformat(moment)
    if parsed.tzinfo is None:
        raise ValueError(f"naive time in catalog: {moment!r}")
    return (parsed, int(item_id))
