"""The static build: the whole site, every item ever, as plain files any static host serves.

``build_site(store, out_dir, settings)`` renders the same pages as the live app (through
:class:`~.pages.Pages`) and writes them under ``out_dir``: ``index.html``, one page per item,
every listing's pages, the day archive, all feeds, a page and feeds for each security an item
is tagged with (``/stock/<code>/``), ``static/`` assets, ``404.html`` and a
``.nojekyll`` marker (GitHub Pages would otherwise hide the ``_`` category).

**Incremental.** The build keeps ``.finews-build.json`` in ``out_dir``: the change-log number
it reflects, a fingerprint of settings, templates and assets, and the catalog of listing
pages. The next run reads only the change log after that number, re-renders only what those
changes touch (their article pages, the affected pages of their category, day, ``all`` and
``important`` listings from the page each change falls into, the day list, home and the
feeds) and writes a file only when its bytes differ. Its cost follows the number of changes,
not the size of the archive. A different fingerprint, or no manifest, means a full build.

**Stories formed later.** Stories (and so the "also reported by" sections, and what a
listing hides when it shows each story once) are derived from the change log, possibly
after the build that showed a change (``finews run`` derives on a thread of its own). The
manifest keeps how far derivation had got (``derived``) and every story told more than once
as the pages show it (``stories``). The next build applies again each change derived since
then, with the reports its item's story had then (an edit may have split it): so a page
made before its story formed, merged or split is made again once it has.

**Never half-written.** Each file is written to a temporary file beside it and renamed over
the old one, so a reader sees the old bytes or the new, never part of a file. Files are
written in dependency order, linked pages before the pages that link to them: assets, then
articles, then numbered listing pages (newest first), then each listing's first page, then
the day list, home and feeds, and the manifest last, after one ``os.sync()``. So during an
incremental build a reader never follows a link to a page that is not there yet (the one
exception: a brand-new category's first page and its first article link to each other,
for the moment between their two writes). A first build into a missing or empty ``out_dir``
goes to a hidden staging folder *inside* it (``.finews-staging-*``: the build needs write
access to ``out_dir`` only, never to its parent), and when complete its entries are renamed
into ``out_dir`` one by one, each a whole file or folder, in the same dependency order
(assets, the folders holding articles, then the listing and feed folders, then home and the
other top-level files, the manifest last). A staging folder left by a killed build is
removed by the next one. With each
story shown once (``site.dedupe``) a new report can hide an older one, so a listing can
shrink: the incremental build then deletes its numbered pages past the new last one, after
rewriting the pages that linked to them. A full
rebuild over an existing site (settings or templates changed) rewrites it in place; it adds
files but never deletes any (start from an empty directory to drop pages that moved).

**On every core.** A full build of more than a few thousand items forks worker processes
(``processes``, by default one per CPU, see :mod:`.build_pool`), each with its own store
connection. The parent reads the archive once to count every listing's pages, and as it goes
hands out the article pages in slices of whole Beijing days (so two items whose pages would
share a path meet in one worker, which keeps the older, as one process does); once counted,
the listing pages follow in batches, while the parent renders home, day list and feeds. A
full rebuild in place keeps the order above: the workers finish every article before any
numbered listing page, and those before any first page. Slices are time ranges covering the
whole time line, so an item stored during the build is in exactly one of them, and the
manifest's change number is the one read before the workers started: the next build
re-applies whatever came in meanwhile. The bytes written are those of a one-process build.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

from finews.derive import derived_through
from finews.errors import ExportError, StoreError
from finews.models import Item
from finews.publish.build_pool import BuildPool, Done, can_fork, default_processes
from finews.publish.catalog import Affected, Catalog, Key, item_key
from finews.publish.pages import NEAREST, Pages
from finews.publish.site import ASSETS, SiteRenderer, SiteSettings
from finews.publish.urls import (
    FEED_FILES,
    Listing,
    article_path,
    board_feed_path,
    day_bounds,
    day_of,
    feed_path,
    file_name,
    listing_path,
    stock_page_path,
    stock_path,
    story_path,
)
from finews.publish.writer import Writer
from finews.sources.securities import canonical_stocks, mention_terms, security, stored_forms
from finews.store import Change, ItemQuery, Store, open_store
from finews.store.base import NAME_KEY, named_stocks, stock_keys, stock_mention
from finews.store.clusters import big_stories, items_by_id, shared_stories, story_members

__all__ = ["MANIFEST", "STAGING_PREFIX", "BuildReport", "build_site"]

log = logging.getLogger(__name__)

#: the file in ``out_dir`` that makes the next build incremental
MANIFEST = ".finews-build.json"
#: the prefix of a first build's staging folder inside ``out_dir``
STAGING_PREFIX = ".finews-staging-"
#: top-level folders of listings, story pages and feeds: they link to the articles in the
#: others, so a first build moves them into place after those
_LINKING_FOLDERS = (
    "category",
    "all",
    "important",
    "day",
    "feeds",
    "story",
    "stock",
    "hot",
    "watch",
)
_FORMAT = 2
#: archives smaller than this build in one process (forking and connecting cost more)
_PARALLEL_MIN = 2000
#: items per slice of article pages handed to a worker: at least, at most
_SLICE_MIN, _SLICE_MAX = 100, 2000
_SLICES_PER_WORKER = 16  # enough slices that a worker slowed by other load takes fewer
_TASK_PAGES = 40  # listing pages per task


@dataclass(frozen=True, slots=True)
class BuildReport:
    """What one build did: ``written`` lists the files whose bytes changed (in write order),
    ``unchanged`` counts files rendered again but already up to date."""

    full: bool
    written: tuple[str, ...]
    unchanged: int
    articles: int
    skipped: int
    seq: int
    seconds: float
    #: how many processes rendered the pages (1, or the workers of a parallel full build)
    processes: int = 1
    #: numbered listing pages deleted because their listing shrank (incremental builds)
    removed: tuple[str, ...] = ()

    def summary(self) -> str:
        """One line for the command line."""
        kind = "full build" if self.full else "incremental build"
        return (
            f"{kind}: {len(self.written)} files written, {self.unchanged} unchanged, "
            f"{self.articles} articles rendered, {self.skipped} skipped, up to change "
            f"{self.seq}, {self.seconds:.2f} s"
            + (f", {self.processes} processes" if self.processes > 1 else "")
        )


class _Build:
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
        self.stories_shown = _Shown()

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
        found already (:func:`_stock_items`), else each is read. ``since``: the key of the
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
        self.stocks(codes, *_stock_items(self.store, codes, story_of, keep))

    def drop_stories(self, shown: _Shown, stories: list[int]) -> None:
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
        self.write(MANIFEST, manifest or _manifest(fingerprint, self.catalog, self.stories_shown))


@dataclass
class _Shown:
    """The stories as the pages show them: the change number through which stories were
    derived when they were read (``derived``; ``-1``: the store keeps none) and each story
    told more than once, story id → its reports' item ids."""

    derived: int = -1
    members: dict[int, list[int]] = field(default_factory=dict)

    @classmethod
    def read(cls, store: Store) -> _Shown:
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
    def from_json(cls, data: dict[str, Any]) -> _Shown:
        members = {int(story): [int(i) for i in ids] for story, ids in data["members"].items()}
        return cls(int(data["derived"]), members)


def _manifest(fingerprint: str, catalog: Catalog, shown: _Shown) -> bytes:
    manifest = {
        "format": _FORMAT,
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


def _load(root: Path, fingerprint: str) -> tuple[Catalog, _Shown] | None:
    try:
        manifest = json.loads((root / MANIFEST).read_bytes())
        if manifest.get("format") != _FORMAT or manifest.get("fingerprint") != fingerprint:
            return None
        return Catalog.from_json(manifest["catalog"]), _Shown.from_json(manifest["stories"])
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        log.warning("static build: %s is unreadable (%s); building everything", MANIFEST, exc)
        return None


def _changes(store: Store, after: int, upto: int) -> list[Change]:
    found: list[Change] = []
    while after < upto:
        batch = [change for change in store.changes_since(after, 1000) if change.seq <= upto]
        if not batch:
            break
        found += batch
        after = batch[-1].seq
    return found


def _full(
    store: Store,
    root: Path,
    settings: SiteSettings,
    fingerprint: str,
    *,
    staged: bool = False,
    processes: int = 1,
) -> _Build:
    url = getattr(store, "url", None)
    total = store.count_items() if processes > 1 and isinstance(url, str) else 0
    if total >= _PARALLEL_MIN and can_fork():
        assert isinstance(url, str)
        return _Parallel(store, url, root, settings, staged, processes, total).run(fingerprint)
    build = _Build(store, root, settings, new_catalog(settings), staged=staged)
    build.stories_shown = _Shown.read(store)
    build.assets()
    # one pass over the archive counts every listing's pages and writes every article
    scanned = scan_catalog(store, settings, visit=build.article)
    build.catalog = scanned
    build.pages = Pages(store, scanned, build.renderer)
    build.stories(_long_stories(store))
    build.all_stocks()
    listings = [listing for listing, _ in scanned.listings()]
    for listing in listings:
        build.listing(listing)
    build.finish(None)
    build.save(fingerprint)
    return build


class _Parallel:
    """A full build by ``processes`` forked workers (see "On every core" above)."""

    def __init__(
        self,
        store: Store,
        url: str,
        root: Path,
        settings: SiteSettings,
        staged: bool,
        processes: int,
        total: int,
    ) -> None:
        self.store = store
        self.settings = settings
        self.staged = staged
        self.processes = processes
        self.slice = min(max(total // (processes * _SLICES_PER_WORKER), _SLICE_MIN), _SLICE_MAX)
        # the catalog reaches the workers as the manifest's bytes, in a file of their own
        handle, name = tempfile.mkstemp(prefix="finews-catalog-", suffix=".json")
        os.close(handle)
        self.manifest_file = Path(name)
        self.job = _Job(url, root, settings, staged, self.manifest_file)
        self.build = _Build(store, root, settings, new_catalog(settings), staged=staged)

    def run(self, fingerprint: str) -> _Build:
        build = self.build
        # read before the workers start: the next build re-applies anything stored after
        seq = self.store.last_change_seq()
        build.stories_shown = _Shown.read(self.store)
        try:
            pool = BuildPool(self.processes, self.job.worker)  # forks before any thread starts
        except BaseException:
            self.manifest_file.unlink(missing_ok=True)
            raise
        ok = False
        try:
            build.assets()
            ours = len(build.written)
            slicer = _Slicer(self.slice, pool)
            # the workers read the full texts: the parent only counts and cuts slices
            scanned = scan_catalog(self.store, self.settings, visit=slicer, full_text=False)
            slicer.close()
            scanned.seq = min(scanned.seq, seq)
            build.catalog = scanned
            build.pages = Pages(self.store, scanned, build.renderer)
            manifest = _manifest(fingerprint, scanned, build.stories_shown)
            self.manifest_file.write_bytes(manifest)
            numbered, firsts = _listing_tasks(scanned)
            if not self.staged:  # in place: articles, then numbered pages, then first pages
                pool.wait()
            build.stories(_long_stories(self.store))
            for numbered_task in numbered:
                pool.submit("numbered", numbered_task)
            if not self.staged:
                pool.wait()
            for first_task in firsts:
                pool.submit("first", first_task)
            if not self.staged:
                pool.wait()
            # a staged build renders these while the workers finish
            build.all_stocks()
            build.finish(None)
            pool.wait()
            for done in pool.results():
                build.unchanged += done.unchanged
                build.articles += done.articles
                build.skipped += done.skipped
            build.save(fingerprint, manifest)
            written = build.written
            theirs = [name for done in pool.results() for name in done.names]
            # assets, the workers' pages, then home, day list, feeds, 404 and the manifest
            build.written = [*written[:ours], *theirs, *written[ours:]]
            build.processes = self.processes
            ok = True
        finally:
            pool.close(ok=ok)
            self.manifest_file.unlink(missing_ok=True)
        return build


@dataclass(frozen=True, slots=True)
class _Job:
    """What every worker of one parallel build knows from the start."""

    url: str
    root: Path
    settings: SiteSettings
    staged: bool
    manifest_file: Path

    def worker(self, stop: Event) -> _Worker:
        return _Worker(self, stop)


class _Worker:
    """One worker process of a parallel build: its own store connection, renderer and
    files; it writes article pages by time slice and listing pages by batch."""

    def __init__(self, job: _Job, stop: Event) -> None:
        self.job = job
        self.stop = stop
        self.store = open_store(job.url, migrate=False)
        self.build = _Build(
            self.store, job.root, job.settings, new_catalog(job.settings), staged=job.staged
        )
        self.catalog_loaded = False

    def run(self, kind: str, payload: Any) -> Done:
        build = self.build
        start, unchanged = len(build.written), build.unchanged
        articles, skipped = build.articles, build.skipped
        if kind == "articles":
            since, until = payload
            for item in self.store.items(ItemQuery(since=since, until=until, oldest_first=True)):
                if self.stop.is_set():
                    break
                build.article(item)
        else:
            self._load_catalog()
            for entry in payload:
                if self.stop.is_set():
                    break
                if kind == "numbered":
                    key, high, low = entry
                    build.numbered(Listing.from_key(key), high, low)
                else:
                    build.first_page(Listing.from_key(entry))
        return Done(
            build.written[start:],
            build.unchanged - unchanged,
            build.articles - articles,
            build.skipped - skipped,
        )

    def _load_catalog(self) -> None:
        if not self.catalog_loaded:
            manifest = json.loads(self.job.manifest_file.read_bytes())
            catalog = Catalog.from_json(manifest["catalog"])
            self.build.catalog = catalog
            self.build.pages = Pages(self.store, catalog, self.build.renderer)
            self.catalog_loaded = True

    def close(self) -> None:
        self.store.close()


class _Slicer:
    """Sees the archive go by oldest first and hands out its article pages in slices of
    at least ``size`` items, cut where a Beijing day ends."""

    def __init__(self, size: int, pool: BuildPool) -> None:
        self.size = size
        self.pool = pool
        self.count = 0
        self.since: datetime | None = None
        self.cut: datetime | None = None

    def __call__(self, item: Item) -> None:
        if self.cut is not None and item.published_at >= self.cut:
            self.pool.submit("articles", (self.since, self.cut))
            self.since, self.cut, self.count = self.cut, None, 0
        self.count += 1
        if self.cut is None and self.count >= self.size:
            self.cut = day_bounds(day_of(item))[1]

    def close(self) -> None:
        """The last slice: everything from the last cut on, however new."""
        self.pool.submit("articles", (self.since, None))


def _listing_tasks(catalog: Catalog) -> tuple[list[list[tuple[str, int, int]]], list[list[str]]]:
    """Every listing's numbered pages (each newest first) in batches of about
    ``_TASK_PAGES`` pages, and every listing's first page in batches of that many."""
    numbered: list[list[tuple[str, int, int]]] = []
    batch: list[tuple[str, int, int]] = []
    size = 0
    keys = []
    for listing, state in catalog.listings():
        keys.append(listing.key)
        high = state.pages
        while high >= 1:
            low = max(1, high - (_TASK_PAGES - size) + 1)
            batch.append((listing.key, high, low))
            size += high - low + 1
            high = low - 1
            if size >= _TASK_PAGES:
                numbered.append(batch)
                batch, size = [], 0
    if batch:
        numbered.append(batch)
    firsts = [keys[n : n + _TASK_PAGES] for n in range(0, len(keys), _TASK_PAGES)]
    return numbered, firsts


def _incremental(
    store: Store,
    root: Path,
    settings: SiteSettings,
    catalog: Catalog,
    shown: _Shown,
    fingerprint: str,
) -> _Build:
    build = _Build(store, root, settings, catalog, staged=False)
    build.stories_shown = shown
    now = _Shown.read(store) if shown.derived >= 0 else shown
    changes = _changes(store, catalog.seq, store.last_change_seq())
    if now.derived > shown.derived:
        # changes shown already whose stories were derived since: apply them again
        again = _changes(store, shown.derived, min(now.derived, catalog.seq))
        changes = sorted({c.seq: c for c in [*again, *changes]}.values(), key=lambda c: c.seq)
    if not changes:
        build.stories_shown = _Shown(max(now.derived, shown.derived), shown.members)
        if now.derived != shown.derived:
            build.save(fingerprint)
        return build
    # the reports each changed item's story had on the pages: one may have left it
    story_of = shown.story_of()
    before = {
        other
        for change in changes
        if change.item_id in story_of
        for other in shown.members[story_of[change.item_id]]
    }
    pages_before = {listing.key: state.pages for listing, state in catalog.listings()}
    affected = catalog.apply(store, changes, also=sorted(before))
    build.stories_shown = _shown_after(store, now, shown, story_of, affected)
    build.assets()
    for item in affected.items:
        build.article(item)
    for old_path, item in affected.moved:
        build.page(old_path, build.renderer.moved(item))
    ids = [item.id for item in affected.items if item.id is not None]
    long = {story for story, size in shared_stories(store, ids).values() if size > NEAREST + 1}
    build.stories(sorted(long))
    build.drop_stories(shown, sorted({story_of[i] for i in ids if i in story_of}))
    lowest = min((item_key(item) for item in affected.items if item.id is not None), default=None)
    build.stocks(_stocks_of(store, affected.items, store.tagged_stocks()), since=lowest)
    categories = []
    for key, first in sorted(affected.first_pages.items()):
        listing = Listing.from_key(key)
        # the page before the first changed one links forward to it: render it again too
        build.listing(listing, first - 1)
        if listing.kind == "category":
            categories.append(listing.name)
        build.drop_pages(listing, pages_before.get(key, 0))
    build.finish(categories)
    build.save(fingerprint)
    return build


def _shown_after(
    store: Store, now: _Shown, shown: _Shown, story_of: dict[int, int], affected: Affected
) -> _Shown:
    """The stories as the pages show them once ``affected``'s pages are made again: the
    affected items leave the stories they were in and join the ones they are in now."""
    if now.derived < 0:
        return shown
    members = {story: set(ids) for story, ids in shown.members.items()}
    ids = [item.id for item in affected.items if item.id is not None]
    for item_id in ids:
        story = story_of.get(item_id)
        if story is not None:
            members[story].discard(item_id)
    for item_id, (story, _) in shared_stories(store, ids).items():
        members.setdefault(story, set()).add(item_id)
    kept = {story: sorted(found) for story, found in members.items() if len(found) > 1}
    return _Shown(now.derived, kept)


def _stocks_of(store: Store, items: Iterable[Item], known: Iterable[str]) -> list[str]:
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


def _stock_items(
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


def _long_stories(store: Store) -> list[int]:
    """Every story too long for its articles to list all its reports: those get a page."""
    return [story for story, _ in big_stories(store, NEAREST + 1)]


def build_site(
    store: Store,
    out_dir: str | os.PathLike[str],
    settings: SiteSettings,
    *,
    processes: int = 0,
) -> BuildReport:
    """Write (or bring up to date) the static site of everything in ``store`` at ``out_dir``.

    ``processes``: how many processes may render a full build (``0``: one per CPU, at
    most 8; ``1``: this one only). Incremental builds run in this process."""
    started = time.perf_counter()
    root = Path(out_dir)
    processes = processes if processes >= 1 else default_processes()
    fingerprint = SiteRenderer(settings).fingerprint()
    loaded = _load(root, fingerprint) if root.is_dir() else None
    try:
        _remove_stale_stages(root)
        if loaded is not None:
            build = _incremental(store, root, settings, *loaded, fingerprint)
        elif root.is_dir() and any(root.iterdir()):
            build = _full(store, root, settings, fingerprint, processes=processes)
        else:
            build = _staged(store, root, settings, fingerprint, processes)
    except OSError as exc:
        raise ExportError(f"static build into {root} failed: {exc}") from exc
    return BuildReport(
        full=loaded is None,
        written=tuple(build.written),
        unchanged=build.unchanged,
        articles=build.articles,
        skipped=build.skipped,
        seq=build.catalog.seq,
        seconds=time.perf_counter() - started,
        processes=build.processes,
        removed=tuple(build.writer.removed),
    )


def _staged(
    store: Store, root: Path, settings: SiteSettings, fingerprint: str, processes: int
) -> _Build:
    """A first build: into a staging folder inside ``root``, moved into place when complete.

    Staging inside ``root`` (not beside it) means the build needs write access to ``root``
    only: a ``finews`` user owning ``/var/www/finews`` cannot write ``/var/www``, and a
    unit with ``ReadWritePaths=/var/www/finews`` forbids it anyway."""
    created = not root.exists()
    root.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(dir=root, prefix=STAGING_PREFIX))
    try:
        build = _full(store, stage, settings, fingerprint, staged=True, processes=processes)
        # each rename moves a whole file or folder; a reader meets no half-written file,
        # and the manifest, last, is what makes the next build incremental
        for name in _move_order(stage):
            os.replace(stage / name, root / name)
        stage.rmdir()
    except BaseException:
        _remove_tree(stage)
        if created:  # leave no trace: an empty folder would look like a finished build
            with contextlib.suppress(OSError):
                root.rmdir()
        raise
    return build


def _move_order(stage: Path) -> list[str]:
    """The top-level entries of a staged build in the order they go live: linked before
    linking (see the module docstring), the manifest last."""

    def rank(entry: os.DirEntry[str]) -> tuple[int, str]:
        name = entry.name
        if name == MANIFEST:
            return (4, name)
        if not entry.is_dir():  # index.html, 404.html, the site feeds, .nojekyll
            return (3, name)
        if name == "static":
            return (0, name)
        if name in _LINKING_FOLDERS:
            return (2, name)
        return (1, name)  # a category's folder: its articles and its listing

    with os.scandir(stage) as entries:
        return [entry.name for entry in sorted(entries, key=rank)]


def _remove_stale_stages(root: Path) -> None:
    """Remove the staging folders that a killed first build left in ``root``. (Two builds
    into one folder at once are not supported; a systemd timer never overlaps its runs.)"""
    if not root.is_dir():
        return
    for path in root.glob(f"{STAGING_PREFIX}*"):
        log.info("static build: removing %s, left by an interrupted build", path)
        _remove_tree(path)


def _remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
