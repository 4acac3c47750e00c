"""Every page of the site, read from the store and the catalog and rendered by one renderer.

The live app and the static build both ask :class:`Pages` for their pages, so they serve the
same bytes (the live app adds only the change number a page shows, for its live updates).
Every method reads the store: call them from a worker thread in async code.

With the site's ``dedupe`` on, every listing (home, source pages, days, important, feeds)
shows each story once, by its earliest report in that listing; the other reports stay at
their own article pages and in the "also reported by" list of each report's page.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import quote

from finews.models import Item
from finews.publish.catalog import Catalog, day_first_reports, listing_items, listing_query
from finews.publish.feeds import FeedInfo, render_feed
from finews.publish.hot import HotStory, rank
from finews.publish.settings import SiteSettings
from finews.publish.site import WATCH_ROWS, Reports, Section, SiteRenderer, display_name
from finews.publish.urls import (
    Article,
    Listing,
    article_path,
    board_feed_path,
    category_of,
    feed_path,
    listing_path,
    segment,
    stock_page_path,
    stock_path,
)
from finews.store import ItemQuery, Store
from finews.store.clusters import items_by_id, shared_stories, story_keys
from finews.store.securities import all_names
from finews.store.stocks import named_stocks, stock_mention

__all__ = ["NEAREST", "Pages"]

#: other reports of its story an article page lists, at most: the nearest in time; a
#: longer story gets its own page (``/story/<id>/``), linked as "and N more"
NEAREST = 20
#: stories whose reports' keys are kept (a build renders a story's articles close together)
_STORIES = 64
#: story sizes kept, at most (of stories told more than once)
_SIZES = 100_000

#: securities whose item keys are kept (a security's numbered pages are cut from them)
_STOCKS = 16
#: day listings kept read whole (each story once), while their pages are made one by one
_DAYS = 4

#: ids per look-up of which items' stories were told more than once
_SPAN = 500
#: spans remembered (a static build walks ids mostly in order, backfills aside)
_SPANS = 8


class Pages:
    """The site's pages over one store, one catalog and one renderer."""

    def __init__(self, store: Store, catalog: Catalog, renderer: SiteRenderer) -> None:
        self.store = store
        self.catalog = catalog
        self.renderer = renderer
        self.settings: SiteSettings = renderer.settings
        self._last_feed: tuple[tuple[str, int], list[Item]] | None = None
        self._last_stock: tuple[tuple[str, int], list[Item]] | None = None
        self._last_hot: tuple[tuple[datetime, int, int], list[HotStory]] | None = None
        self._stock_keys: OrderedDict[tuple[str, int], list[tuple[datetime, int]]] = OrderedDict()
        # which items of recently asked id spans are in stories told more than once (item
        # → story), the sizes of the stories seen, and the keys of every report of recently
        # shown stories, as of the catalog's change number (a change drops them)
        self._shared: OrderedDict[int, dict[int, int]] = OrderedDict()
        self._sizes: dict[int, int] = {}
        self._keys: OrderedDict[int, list[tuple[datetime, int]]] = OrderedDict()
        self._shared_seq = -1
        # day listings (each story once) read whole, as of the catalog's change number
        self._days: OrderedDict[str, list[Item]] = OrderedDict()
        self._shared_lock = threading.Lock()  # the live app renders in several threads
        self._names: tuple[int, Mapping[str, str]] | None = None
        # article pages list the other reports of their story, also where a caller asks
        # the renderer directly (the static build does), and name the securities they tag
        renderer.stories = self.also_reported
        renderer.names = self.security_names

    def _items(self, query: ItemQuery) -> list[Item]:
        return list(self.store.items(query))

    def _query(self, listing: Listing, **options: Any) -> ItemQuery:
        return listing_query(listing, first_reports_only=self.settings.dedupe, **options)

    def _rows(self, listing: Listing, **options: Any) -> list[Item]:
        """A listing's items as its rows show them: without their full text."""
        day = None
        if self.settings.dedupe and listing.kind == "day":
            day = self._day(listing)
        return listing_items(
            self.store,
            listing,
            first_reports_only=self.settings.dedupe,
            without_content=True,
            day=day,
            **options,
        )

    def _day(self, listing: Listing) -> list[Item]:
        """A day listing's items, each story once, read once for all its pages (until the
        catalog's next change)."""
        with self._shared_lock:
            self._fresh()
            day = self._days.get(listing.key)
            if day is not None:
                self._days.move_to_end(listing.key)
                return day
        day = day_first_reports(self.store, listing)
        with self._shared_lock:
            self._days[listing.key] = day
            while len(self._days) > _DAYS:
                self._days.popitem(last=False)
        return day

    def also_reported(self, item: Item) -> Reports:
        """The other reports of an item's story an article page lists: the ``NEAREST``
        in time, and how many more (see :class:`~.site.Reports`). Most items are a story's
        only report: whether an item is not is looked up for a span of ids at once, so a
        build rendering every article asks the store once per span; the keys of a story's
        reports are read once per story, then each page reads only the reports it shows."""
        if item.id is None:
            return Reports()
        story = self._story_of(item.id)
        if story is None:
            return Reports()
        keys = self._story_keys(story)
        mine = (item.published_at, item.id)
        at = bisect_left(keys, mine)
        if at == len(keys) or keys[at] != mine:  # the story changed since: read it again
            return Reports()
        low, high = at - 1, at + 1
        chosen: list[tuple[datetime, int]] = []
        while len(chosen) < NEAREST and (low >= 0 or high < len(keys)):
            # the nearer of the next earlier and the next later report; a tie goes earlier
            if high >= len(keys) or (
                low >= 0 and mine[0] - keys[low][0] <= keys[high][0] - mine[0]
            ):
                chosen.append(keys[low])
                low -= 1
            else:
                chosen.append(keys[high])
                high += 1
        chosen.sort()
        found = {other.id: other for other in items_by_id(self.store, [k[1] for k in chosen])}
        shown = [found[key[1]] for key in chosen if key[1] in found]
        return Reports(
            shown,
            more=len(keys) - 1 - len(chosen),
            story=keys[0][1],
            leads=keys[0][1] == item.id,
        )

    def security_names(self) -> Mapping[str, str]:
        """The directory of security names (code → name), read once per change."""
        names = self._names
        if names is None or names[0] != self.catalog.seq:
            names = self._names = (self.catalog.seq, all_names(self.store))
        return names[1]

    def _fresh(self) -> None:
        """Forget what was read about stories before the catalog's last change (call with
        the lock held)."""
        if self._shared_seq != self.catalog.seq:
            self._shared.clear()
            self._sizes.clear()
            self._keys.clear()
            self._days.clear()
            self._shared_seq = self.catalog.seq

    def _story_of(self, item_id: int) -> int | None:
        """The story of an item told more than once, else ``None``."""
        start = item_id - item_id % _SPAN
        with self._shared_lock:
            self._fresh()
            shared = self._shared.get(start)
            if shared is None:
                span = shared_stories(self.store, range(start, start + _SPAN), self._sizes)
                shared = {item: story for item, (story, _) in span.items()}
                self._shared[start] = shared
                while len(self._shared) > _SPANS:
                    self._shared.popitem(last=False)
                if len(self._sizes) > _SIZES:  # a whole build's stories: count again
                    self._sizes.clear()
            else:
                self._shared.move_to_end(start)
        return shared.get(item_id)

    def _story_keys(self, story: int) -> list[tuple[datetime, int]]:
        with self._shared_lock:
            self._fresh()
            keys = self._keys.get(story)
            if keys is not None:
                self._keys.move_to_end(story)
                return keys
        keys = story_keys(self.store, story)
        with self._shared_lock:
            self._keys[story] = keys
            while len(self._keys) > _STORIES:
                self._keys.popitem(last=False)
        return keys

    def story(self, story: int, page: int = 1) -> str | None:
        """Page ``page`` of a story's own page (its reports, earliest first, ``page_size``
        a page), or ``None`` when no article links there: no such story, a story short
        enough that its articles list every report, or a page past its last."""
        keys = self._story_keys(story)
        if len(keys) <= NEAREST + 1 or keys[0][1] != story:
            return None
        size = self.settings.page_size
        pages = (len(keys) + size - 1) // size
        if not 1 <= page <= pages:
            return None
        chosen = keys[(page - 1) * size : page * size]
        found = {item.id: item for item in items_by_id(self.store, [k[1] for k in chosen])}
        items = [found[key[1]] for key in chosen if key[1] in found]
        return self.renderer.story(story, items=items, page=page, pages=pages, count=len(keys))

    def story_pages(self, story: int) -> int:
        """How many pages a story's own page has (0: it has none)."""
        keys = self._story_keys(story)
        if len(keys) <= NEAREST + 1 or keys[0][1] != story:
            return 0
        return (len(keys) + self.settings.page_size - 1) // self.settings.page_size

    def home(self, *, live_seq: int | None = None) -> str:
        """The newest items of every source, then each category's newest few."""
        stream = self._rows(Listing("all"), limit=self.settings.page_size)
        sections = [
            Section(
                listing,
                state.title,
                self._rows(listing, limit=self.settings.home_per_source),
            )
            for listing, state in self.catalog.categories()
        ]
        return self.renderer.home(stream=stream, sections=sections, live_seq=live_seq)

    def listing(
        self, listing: Listing, page: int | None = None, *, live_seq: int | None = None
    ) -> str | None:
        """A listing's first page (``page=None``) or numbered page; ``None`` when there is
        no such page (an unknown category or day, page 0, a page past the last)."""
        size = self.settings.page_size
        state = self.catalog.get(listing)
        if state is None:
            if page is None and listing.kind in ("all", "important"):
                return self.renderer.listing(
                    listing,
                    title=_empty_title(listing),
                    items=[],
                    page=None,
                    newer=None,
                    older=None,
                    count=0,
                    live_seq=live_seq,
                )
            return None
        if page is None:
            items = self._rows(listing, limit=size)
            return self.renderer.listing(
                listing,
                title=state.title,
                items=items,
                page=None,
                newer=None,
                older=state.older_than_index,
                count=state.count(size),
                live_seq=live_seq,
            )
        if not 1 <= page <= state.pages:
            return None
        # the range between two boundaries, not "size items after one": a catalog counted
        # with other stories than the query now sees (or with every report while the pages
        # show each story once) gives a shorter or longer page, never a gap or a repeat
        after, through = state.range(page)
        items = self._rows(listing, before=after, through=through, oldest_first=True)
        items.reverse()
        return self.renderer.listing(
            listing,
            title=state.title,
            items=items,
            page=page,
            newer=page + 1 if page < state.pages else 0,
            older=page - 1 if page > 1 else None,
        )

    def article(self, item: Item) -> str:
        """An item's page, with the other reports of its story."""
        return self.renderer.article(item, also=self.also_reported(item))

    def find_article(self, target: Article) -> Item | None:
        """The item an article path names, whatever day its path says (the caller redirects
        when the day is not the item's)."""
        if target.upstream_id is None:  # a hashed long id: look through that day's items
            day = listing_query(Listing("day", target.day.isoformat()))
            for candidate in self.store.items(day):
                if (
                    category_of(candidate) == target.category
                    and segment(candidate.upstream_id) == target.name
                ):
                    return candidate
            return None
        sources = self.catalog.sources(target.category) or self.catalog.sources()
        for source in sources:
            item = self.store.get_item(source, target.upstream_id)
            if item is not None and category_of(item) == target.category:
                return item
        return None

    def days(self) -> str:
        """The list of every day."""
        return self.renderer.days(self.catalog.days())

    def subscribe(self) -> str:
        """The page listing every feed, categories by name (an order new items do not
        change, so an incremental build leaves the page alone)."""
        categories = [(listing, state.title) for listing, state in self.catalog.categories()]
        return self.renderer.subscribe(sorted(categories, key=lambda pair: (pair[1], pair[0].name)))

    def not_found(self, path: str = "", suggestions: Sequence[tuple[str, str]] = ()) -> str:
        """The 404 page."""
        return self.renderer.not_found(path=path, suggestions=suggestions)

    def suggestions(self, day: date | None) -> list[tuple[str, str]]:
        """Pages worth offering on a 404 whose path named ``day``."""
        if day is None or self.catalog.get(Listing("day", day.isoformat())) is None:
            return []
        listing = Listing("day", day.isoformat())
        link = self.settings.url(listing_path(listing))
        return [(link, f"{day.year}年{day.month}月{day.day}日的全部消息")]

    def feed(self, kind: str, category: str | None = None, *, origin: str = "") -> bytes | None:
        """A feed of the newest items (of one category); ``None`` for an unknown category.
        ``origin`` (``https://host``) makes links absolute when ``base_url`` is a path."""
        if category is None:
            listing = Listing("all")
            title = self.settings.title
        else:
            listing = Listing("category", category)
            state = self.catalog.get(listing)
            if state is None:
                return None
            title = f"{state.title} · {self.settings.title}"
        items = self._feed_items(listing)
        home = listing_path(listing, self.settings.source_paths) if category else "/"
        feed_name = "all" if category is None else f"category/{quote(category, safe='')}"
        info = FeedInfo(
            title=title,
            description=self.settings.description,
            home_url=self.absolute(home, origin),
            self_url=self.absolute(feed_path(kind, category), origin),
            feed_id=f"tag:finews,2021:feed/{feed_name}",
            lang=self.settings.lang,
        )
        return self._render_feed(kind, items, info, origin)

    def important_feed(self, kind: str, *, origin: str = "") -> bytes:
        """A feed of the newest important items (the ``/important/`` listing's)."""
        listing = Listing("important")
        info = FeedInfo(
            title=f"重要消息 · {self.settings.title}",
            description=f"{self.settings.title}：只有重要消息",
            home_url=self.absolute(listing_path(listing), origin),
            self_url=self.absolute(board_feed_path("important", kind), origin),
            feed_id="tag:finews,2021:feed/important",
            lang=self.settings.lang,
        )
        return self._render_feed(kind, self._feed_items(listing), info, origin)

    def hot_stories(self, now: datetime, hours: int | None = None) -> list[HotStory]:
        """The 热点 board as of ``now`` over the last ``hours`` (``None``: the site's
        ``hot_hours``; see :mod:`finews.publish.hot`); the page, its feeds and
        ``/api/hot`` of one minute read it once."""
        hours = hours or self.settings.hot_hours
        key = (now, hours, self.catalog.seq)
        last = self._last_hot
        if last is None or last[0] != key:
            last = self._last_hot = (key, self._hot_stories(now, hours))
        return last[1]

    def _hot_stories(self, now: datetime, hours: int) -> list[HotStory]:
        # the items of the window, their stories, and the first reports of the stories
        # that began before it (a story's id is its first report's item id)
        since = now - timedelta(hours=hours)
        # a muted item is left out of the board as it is out of every listing
        window = self._items(ItemQuery(since=since, without_content=True, muted=False))
        ids = [item.id for item in window if item.id is not None]
        shared = shared_stories(self.store, ids)
        story_of = {item: story for item, (story, _) in shared.items()}
        long = {story for story, size in shared.values() if size > NEAREST + 1}
        earlier = sorted(set(story_of.values()) - set(ids))
        leads: dict[int, Item] = {}
        for start in range(0, len(earlier), _SPAN):
            for lead in items_by_id(self.store, earlier[start : start + _SPAN]):
                if lead.id is not None:
                    leads[lead.id] = lead.replace(content="")
        board = rank(window, story_of, leads, source=display_name)
        return [replace(row, story_page=row.story in long) for row in board]

    def hot(self, now: datetime, *, live_seq: int | None = None) -> str:
        """The 热点 board's page as of ``now``."""
        return self.renderer.hot(self.hot_stories(now), now=now, live_seq=live_seq)

    def hot_feed(self, kind: str, now: datetime, *, origin: str = "") -> bytes:
        """A feed of the 热点 board as of ``now``: each story's first report, hottest first."""
        info = FeedInfo(
            title=f"热点 · {self.settings.title}",
            description=(
                f"{self.settings.title}：最近 {self.settings.hot_hours} 小时里"
                "被最多来源报道、报道最快、最重要的事件"
            ),
            home_url=self.absolute("/hot/", origin),
            self_url=self.absolute(board_feed_path("hot", kind), origin),
            feed_id="tag:finews,2021:feed/hot",
            lang=self.settings.lang,
        )
        leads = [row.lead for row in self.hot_stories(now)]
        return self._render_feed(kind, leads, info, origin)

    def watch(self, *, live_seq: int | None = None) -> str:
        """The 自选 page: the newest ``WATCH_ROWS`` items, which the reader's terms (kept
        in the browser) filter there."""
        rows = self._rows(Listing("all"), limit=WATCH_ROWS)
        return self.renderer.watch(rows, live_seq=live_seq)

    def _feed_items(self, listing: Listing) -> list[Item]:
        # the three feed formats of one listing carry the same items: read them once per
        # change (the catalog's seq is read first, so the items are at least that new)
        key = (listing.key, self.catalog.seq)
        last = self._last_feed
        if last is not None and last[0] == key:
            return last[1]
        items = self._items(self._query(listing, limit=self.settings.feed_size))
        self._last_feed = (key, items)
        return items

    def stock_items(self, code: str, limit: int) -> list[Item]:
        """The newest ``limit`` items about the security ``code`` (finews notation): tagged
        with it or naming its code (:func:`~finews.store.stocks.stock_condition`), each story
        once with the site's ``dedupe``. A security's page and its three feeds read them
        once per change (the catalog's seq is read first, so they are at least that new)."""
        wanted = max(self.settings.page_size, self.settings.feed_size)
        key = (code, self.catalog.seq)
        last = self._last_stock
        if last is None or last[0] != key:
            query = ItemQuery(
                stock=code, first_reports_only=self.settings.dedupe, limit=wanted, muted=False
            )
            last = self._last_stock = (key, self._items(query))
        return last[1][:limit]

    def stock_keys(self, code: str) -> list[tuple[datetime, int]]:
        """The ``(published_at, id)`` of every item about the security ``code``, oldest
        first, each story once with the site's ``dedupe``: what its numbered pages are cut
        from (``page_size`` a page, page 1 the oldest, as a listing's). Kept for the last
        few securities asked, until the next change."""
        key = (code, self.catalog.seq)
        with self._shared_lock:
            keys = self._stock_keys.get(key)
            if keys is not None:
                self._stock_keys.move_to_end(key)
                return keys
        query = ItemQuery(
            stock=code,
            first_reports_only=self.settings.dedupe,
            oldest_first=True,
            without_content=True,
        )
        keys = [(item.published_at, item.id) for item in self.store.items(query) if item.id]
        with self._shared_lock:
            self._stock_keys[key] = keys
            while len(self._stock_keys) > _STOCKS:
                self._stock_keys.popitem(last=False)
        return keys

    def stock_pages(self, code: str, keys: Sequence[tuple[datetime, int]] | None = None) -> int:
        """How many full numbered pages a security's page has (``keys``: its
        :meth:`stock_keys`, when read already)."""
        if keys is None:
            keys = self.stock_keys(code)
        return len(keys) // self.settings.page_size

    def stock(
        self,
        code: str,
        page: int | None = None,
        *,
        live_seq: int | None = None,
        items: Sequence[Item] | None = None,
        keys: Sequence[tuple[datetime, int]] | None = None,
    ) -> str | None:
        """A security's first page (``page=None``: its newest items) or numbered page,
        each item marked as tagged by the upstream (标注) or naming it (提及); ``None`` when
        no stored item is about it or there is no such page. ``items``: its newest items
        found already (the static build's one pass), else they are read; ``keys``: its
        :meth:`stock_keys`, likewise."""
        size = self.settings.page_size
        if page is None:
            if items is None:
                items = self.stock_items(code, size)
            items = items[:size]
            if not items:
                return None
            if keys is None:
                keys = self.stock_keys(code)
            pages = self.stock_pages(code, keys)
            older = pages if len(keys) % size else pages - 1
            newer = None
            count: int | None = len(keys)
        else:
            if keys is None:
                keys = self.stock_keys(code)
            pages = self.stock_pages(code, keys)
            if not 1 <= page <= pages:
                return None
            chosen = keys[(page - 1) * size : page * size]
            found = {item.id: item for item in items_by_id(self.store, [k[1] for k in chosen])}
            items = [found[k[1]].replace(content="") for k in reversed(chosen) if k[1] in found]
            older = page - 1
            newer = page + 1 if page < pages else 0
            count = None
        named = named_stocks(self.store, [item.id for item in items if item.id is not None])
        how = [
            stock_mention(item, code, named.get(item.id or 0, ())) or "mentioned" for item in items
        ]
        url = self.settings.url
        return self.renderer.stock(
            code,
            name=self.security_names().get(code, ""),
            items=list(zip(items, how, strict=True)),
            live_seq=live_seq,
            page=page,
            count=count,
            newer=None if newer is None else url(stock_page_path(code, newer or None)),
            older=url(stock_page_path(code, older)) if older and older >= 1 else None,
        )

    def stock_feed(
        self, kind: str, code: str, *, origin: str = "", items: Sequence[Item] | None = None
    ) -> bytes | None:
        """A feed of a security's newest items; ``None`` when no stored item is about it.
        ``items``: as for :meth:`stock`."""
        if items is None:
            items = self.stock_items(code, self.settings.feed_size)
        items = items[: self.settings.feed_size]
        if not items:
            return None
        name = self.security_names().get(code, "")
        shown = f"{name}（{code}）" if name else code
        info = FeedInfo(
            title=f"{shown} · {self.settings.title}",
            description=f"{self.settings.title}：与 {shown} 有关的消息",
            home_url=self.absolute(stock_path(code), origin),
            self_url=self.absolute(stock_path(code, kind), origin),
            feed_id=f"tag:finews,2021:feed/stock/{quote(code, safe='')}",
            lang=self.settings.lang,
        )
        return self._render_feed(kind, items, info, origin)

    def _render_feed(self, kind: str, items: Sequence[Item], info: FeedInfo, origin: str) -> bytes:
        """One feed of ``kind``: its entries link to this site's article pages."""
        return render_feed(
            kind,
            items,
            info,
            link=lambda item: self.absolute(article_path(item), origin),
            body=self.renderer.body_html,
            stylesheet=self.renderer.asset_url("feed.xsl"),
        )

    def absolute(self, path: str, origin: str = "") -> str:
        """The URL of a site path, absolute when ``base_url`` or ``origin`` makes it so."""
        link = self.settings.url(path)
        return origin.rstrip("/") + link if link.startswith("/") else link


def _empty_title(listing: Listing) -> str:
    return {"all": "全部消息", "important": "重要消息"}.get(listing.kind, listing.name)
