"""The pages one static build writes (:class:`Build`: its files, counts and the manifest) and
what it reads to write them: the stories as the pages show them (:class:`Shown`), the catalog
of listing pages, the securities' pages. :mod:`.static_site` runs a build with it, in one
process or, for a full build, in several (:mod:`.static_parallel`)."""

from __future__ import annotations

import json
import logging
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from finews.derive import derived_through
from finews.errors import StoreError
from finews.models import Item
from finews.publish.catalog import Catalog, Key
from finews.publish.pages import NEAREST, Pages
from finews.publish.settings import SiteSettings
from finews.publish.site import ASSETS, SiteRenderer
from finews.publish.urls import (
    FEED_FILES,
    Listing,
    article_path,
    board_feed_path,
    feed_path,
    file_name,
    listing_path,
    stock_page_path,
    stock_path,
    story_path,
)
from finews.publish.writer import Writer
from finews.sources.securities import canonical_stocks, mention_terms, security, stored_forms
from finews.store import ItemQuery, Store
from finews.store.clusters import big_stories, items_by_id, story_members
from finews.store.stocks import NAME_KEY, named_stocks, stock_keys, stock_mention

__all__ = [
    "FORMAT",
    "MANIFEST",
    "Build",
    "Shown",
    "load_manifest",
    "manifest_bytes",
    "new_catalog",
    "scan_catalog",
]

log = logging.getLogger(__name__)

#: the file in ``out_dir`` that makes the next build incremental
MANIFEST = ".finews-build.json"
#: the manifest's format: a manifest of another is ignored (a full build follows)
FORMAT = 2


class Build:
    def __init__(
        self, store: Store, root: Path, settings: SiteSettings, catalog: Catalog, *, staged: bool
    ) -> None:
        self.store = store
        self.settings = settings
        self.renderer = SiteRenderer(settings)
        self.catalog = catalog
        self.pages = Pages(store, catalog, self.renderer)
        # no fsync per file (~4 ms each): save() syncs once, before the manifest
        self.writer = Writer(root, durable=False, fresh=staged)
        self.written: list[str] = []  # what changed on disk, in write order
        self.unchanged = 0
        self.articles = 0
        self.skipped = 0
        self.processes = 1
        self.stories_shown = Shown()

    def write(self, name: str, data: bytes) -> None:
        if self.writer.wrote(name):
            log.warning("static build: %s was already written in this run; kept the first", name)
        elif self.writer.write(name, data):
            self.written.append(name)
        else:
            self.unchanged += 1

    def page(self, path: str, html: str | None) -> None:
        if html is not None:
            self.write(file_name(path), html.encode("utf-8"))

    def article(self, item: Item) -> None:
        try:
            html = self.renderer.article(item)
        except Exception:  # one bad item must not stop the build
            log.exception("static build: skipped item %s/%s", item.source, item.upstream_id)
            self.skipped += 1
            return
        self.articles += 1
        self.page(article_path(item), html)

    def assets(self) -> None:
        for name in ASSETS:
            # the service worker sits at the root, where it may look after every page
            folder = "" if name == "sw.js" else "static/"
            self.write(f"{folder}{name}", self.renderer.assets[name])
        self.write(".nojekyll", b"")

    def listing(self, listing: Listing, first: int = 1) -> None:
        """A listing's numbered pages from ``first`` up (written newest first), then its
        first page."""
        state = self.catalog.get(listing)
        if state is None:
            return
        self.numbered(listing, state.pages, first)
        self.first_page(listing)

    def numbered(self, listing: Listing, high: int, low: int) -> None:
        """A listing's numbered pages ``high`` down to ``low``."""
        paths = self.settings.source_paths
        for page in range(high, max(low, 1) - 1, -1):
            self.page(listing_path(listing, paths, page), self.pages.listing(listing, page))

    def drop_pages(self, listing: Listing, had: int) -> None:
        """Delete the numbered pages past a listing's last one, of the ``had`` it had: a
        listing shrinks when a new report hides an older one (each story shown once).
        Called once the pages that linked to them are rewritten. A listing left with no
        items keeps its old pages, as before (its first page still links to them)."""
        state = self.catalog.get(listing)
        if state is None:
            return
        paths = self.settings.source_paths
        for page in range(state.pages + 1, had + 1):
            self.writer.remove(file_name(listing_path(listing, paths, page)))

    def stories(self, stories: list[int]) -> None:
        """Every page of these stories' own pages (those long enough to have one)."""
        for story in stories:
            for page in range(1, self.pages.story_pages(story) + 1):
                self.page(story_path(story, page), self.pages.story(story, page))

    def stocks(
        self,
        codes: Iterable[str],
        found: Mapping[str, list[Item]] | None = None,
        keys: Mapping[str, list[Key]] | None = None,
        *,
        since: Key | None = None,
    ) -> None:
        """The pages and feeds of each of these securities (``/stock/<code>/`` and its
        numbered pages); ``found`` and ``keys``: their newest items and every item's key
        found already (:func:`stock_items`), else each is read. ``since``: the key of the
        oldest changed item, below whose page the numbered pages stay as they are."""
        size = self.settings.page_size
        for code in codes:
            items = None if found is None else found.get(code, [])
            mine = self.pages.stock_keys(code) if keys is None else keys.get(code, [])
            low = 1 if since is None else bisect_left(mine, since) // size  # the page before
            for page in range(self.pages.stock_pages(code, mine), max(low, 1) - 1, -1):
                self.page(stock_page_path(code, page), self.pages.stock(code, page, keys=mine))
            self.page(stock_path(code), self.pages.stock(code, items=items, keys=mine))
            for kind in FEED_FILES:
                feed = self.pages.stock_feed(kind, code, items=items)
                if feed is not None:
                    self.write(file_name(stock_path(code, kind)), feed)

    def all_stocks(self) -> None:
        """Every tagged security's pages and feeds, from one pass over the archive."""
        codes = self.store.tagged_stocks()
        dedupe = bool(self.settings.dedupe)
        story_of = self.stories_shown.story_of() if dedupe else {}
        keep = max(self.settings.page_size, self.settings.feed_size)
        self.stocks(codes, *stock_items(self.store, codes, story_of, keep))

    def drop_stories(self, shown: Shown, stories: list[int]) -> None:
        """Delete the pages these stories had (as ``shown``) past the pages they have now:
        a story that lost reports, merged into an earlier one or was split has fewer, or
        none. Called once the articles that linked to them are rewritten."""
        size = self.settings.page_size
        for story in stories:
            had = len(shown.members.get(story, ()))
            had_pages = -(-had // size) if had > NEAREST + 1 else 0
            for page in range(self.pages.story_pages(story) + 1, had_pages + 1):
                self.writer.remove(file_name(story_path(story, page)))

    def first_page(self, listing: Listing) -> None:
        """A listing's first page (its newest items)."""
        self.page(listing_path(listing, self.settings.source_paths), self.pages.listing(listing))

    def finish(self, categories: list[str] | None) -> None:
        """The day list, the feed list, home, the feeds (all, and of ``categories``;
        ``None`` = every category) and the 404 page."""
        self.page("/day/", self.pages.days())
        self.page("/subscribe/", self.pages.subscribe())
        self.page("/", self.pages.home())
        if categories is None:
            categories = [lst.name for lst, _ in self.catalog.categories()]
        for category in [None, *sorted(categories)]:
            for kind in FEED_FILES:
                feed = self.pages.feed(kind, category)
                if feed is not None:
                    self.write(file_name(feed_path(kind, category)), feed)
        self.write("404.html", self.pages.not_found().encode("utf-8"))
        for listing in (Listing("all"), Listing("important")):
            if self.catalog.get(listing) is None:  # link targets of every page's header
                self.page(listing_path(listing), self.pages.listing(listing))
        self.boards()

    def boards(self) -> None:
        """The important-only feeds, the 热点 board and its feeds, and the 自选 page (which
        filters the newest items in the reader's browser). The board is as of the build's
        newest item (its minute; the clock's, when that item is dated later): so a build
        is the same bytes whenever it runs, and an incremental build the same as a full
        one."""
        now = datetime.now(UTC)
        for newest in self.store.items(ItemQuery(limit=1, without_content=True)):
            now = min(now, newest.published_at)
        now = now.replace(second=0, microsecond=0)
        for kind in FEED_FILES:
            feed = self.pages.important_feed(kind)
            self.write(file_name(board_feed_path("important", kind)), feed)
            self.write(file_name(board_feed_path("hot", kind)), self.pages.hot_feed(kind, now))
        self.page("/hot/", self.pages.hot(now))
        self.page("/watch/", self.pages.watch())

    def save(self, fingerprint: str, manifest: bytes | None = None) -> None:
        """Write the manifest (``manifest``: its bytes, made already) once every page is
        on disk."""
        self.writer.sync()  # every page is on disk before the manifest says so
        self.write(
            MANIFEST, manifest or manifest_bytes(fingerprint, self.catalog, self.stories_shown)
        )


@dataclass
class Shown:
    """The stories as the pages show them: the change number through which stories were
    derived when they were read (``derived``; ``-1``: the store keeps none) and each story
    told more than once, story id → its reports' item ids."""

    derived: int = -1
    members: dict[int, list[int]] = field(default_factory=dict)

    @classmethod
    def read(cls, store: Store) -> Shown:
        """The stories now: read the derive mark first, so whatever is derived after it
        (and may or may not be on the pages about to be made) is applied again next time."""
        try:
            derived = derived_through(store)
        except StoreError:  # a store without derived rows
            return cls()
        return cls(derived, story_members(store))

    def story_of(self) -> dict[int, int]:
        """Item id → story id, for the items of stories told more than once."""
        return {item: story for story, ids in self.members.items() for item in ids}

    def to_json(self) -> dict[str, Any]:
        return {
            "derived": self.derived,
            "members": {str(story): ids for story, ids in sorted(self.members.items())},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Shown:
        members = {int(story): [int(i) for i in ids] for story, ids in data["members"].items()}
        return cls(int(data["derived"]), members)


def manifest_bytes(fingerprint: str, catalog: Catalog, shown: Shown) -> bytes:
    manifest = {
        "format": FORMAT,
        "fingerprint": fingerprint,
        "catalog": catalog.to_json(),
        "stories": shown.to_json(),
    }
    return json.dumps(manifest, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def new_catalog(settings: SiteSettings) -> Catalog:
    """An empty catalog counting pages as ``settings`` lists them."""
    return Catalog(settings.page_size, first_reports_only=settings.dedupe)


def scan_catalog(
    store: Store,
    settings: SiteSettings,
    visit: Callable[[Item], None] | None = None,
    *,
    full_text: bool = True,
) -> Catalog:
    """Every listing's pages as ``settings`` lists them, read in one pass over ``store``
    (``visit`` sees each item, oldest first, with its full text unless ``full_text`` is
    false)."""
    return Catalog.scan(
        store,
        settings.page_size,
        visit=visit,
        first_reports_only=settings.dedupe,
        full_text=full_text,
    )


def load_manifest(root: Path, fingerprint: str) -> tuple[Catalog, Shown] | None:
    try:
        manifest = json.loads((root / MANIFEST).read_bytes())
        if manifest.get("format") != FORMAT or manifest.get("fingerprint") != fingerprint:
            return None
        return Catalog.from_json(manifest["catalog"]), Shown.from_json(manifest["stories"])
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        log.warning("static build: %s is unreadable (%s); building everything", MANIFEST, exc)
        return None


def stocks_of(store: Store, items: Iterable[Item], known: Iterable[str]) -> list[str]:
    """The securities whose pages list any of ``items``: those they are tagged with, and
    those of ``known`` (the securities with a page) whose code or known name their title or
    digest names."""
    items = list(items)
    found = {code for item in items for code in canonical_stocks(item.stocks) if security(code)}
    named = named_stocks(store, [item.id for item in items if item.id is not None])
    for code in known:
        if any(stock_mention(item, code, named.get(item.id or 0, ())) for item in items):
            found.add(code)
    return sorted(found)


def stock_items(
    store: Store, codes: Sequence[str], story_of: Mapping[int, int], keep: int
) -> tuple[dict[str, list[Item]], dict[str, list[Key]]]:
    """The newest ``keep`` items about each of ``codes``, newest first, as
    :meth:`Pages.stock_items` reads them one security at a time (``ItemQuery.stock``:
    tagged in a stored form, the code's digits in the title or digest, or its known name; with
    ``story_of``, item → story of the stories told more than once, each story once by its
    earliest report about the security), and the keys of all of them, oldest first (as
    :meth:`Pages.stock_keys`), in one pass over the archive, oldest first."""
    by_form: dict[str, list[str]] = {}
    by_digits: dict[str, list[str]] = {}
    for code in codes:
        for form in stored_forms(code):
            by_form.setdefault(form, []).append(code)
        for term in mention_terms(code):
            by_digits.setdefault(term, []).append(code)
    by_name = {code.lower(): code for code in codes}
    names = _name_keys(store)
    keys: dict[str, list[Key]] = {}
    listed: dict[str, set[int]] = {}
    for item in store.items(ItemQuery(oldest_first=True, without_content=True)):
        assert item.id is not None
        about = {code for tag in item.stocks for code in by_form.get(tag.lower(), ())}
        for named in stock_keys(item.title, item.digest, ()):
            about.update(by_digits.get(named, ()))
        for named in names.get(item.id, ()):
            if named in by_name:
                about.add(by_name[named])
        for code in about:
            story = story_of.get(item.id)
            if story is not None:
                stories = listed.setdefault(code, set())
                if story in stories:
                    continue  # an earlier report of its story is listed already
                stories.add(story)
            keys.setdefault(code, []).append((item.published_at, item.id))
    wanted = [key[1] for found in keys.values() for key in found[-keep:]]
    full: dict[int, Item] = {}
    for start in range(0, len(wanted), 500):
        for item in items_by_id(store, wanted[start : start + 500]):
            assert item.id is not None
            full[item.id] = item
    newest = {
        code: [full[key[1]] for key in reversed(found[-keep:]) if key[1] in full]
        for code, found in keys.items()
    }
    return newest, keys


def _name_keys(store: Store) -> dict[int, list[str]]:
    """Each item's securities named by name (lower case; ``item_stocks``'s ``name:`` keys,
    :class:`finews.derive.mentions.Mentions`), in one read."""
    found: dict[int, list[str]] = {}
    rows = store.query("SELECT item_id, code FROM item_stocks WHERE code LIKE ?", [NAME_KEY + "%"])
    for item_id, code in rows:
        found.setdefault(int(item_id), []).append(str(code)[len(NAME_KEY) :])
    return found


def long_stories(store: Store) -> list[int]:
    """Every story too long for its articles to list all its reports: those get a page."""
    return [story for story, _ in big_stories(store, NEAREST + 1)]
