"""The static build: the whole site, every item ever, as plain files any static host serves.

``build_site(store, out_dir, settings)`` renders the same pages as the live app (through
:class:`~.pages.Pages`) and writes them under ``out_dir``: ``index.html``, one page per item,
every listing's pages, the day archive, all feeds, a page and feeds for each security an item
is tagged with (``/stock/<code>/``), ``static/`` assets, ``404.html`` and a
``.nojekyll`` marker (GitHub Pages would otherwise hide the ``_`` category).

This module runs a build: full, incremental, or a first build staged inside ``out_dir``.
What a build writes, page by page, and its manifest are :mod:`.static_pages`'s; a full
build on every core is :mod:`.static_parallel`'s.

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
(``processes``, by default one per CPU: :mod:`.static_parallel`, :mod:`.build_pool`), each
with its own store connection. The parent reads the archive once to count every listing's
pages, and as it goes hands out the article pages in slices of whole Beijing days (so two
items whose pages would share a path meet in one worker, which keeps the older, as one
process does); once counted, the listing pages follow in batches, while the parent renders
home, day list and feeds. A full rebuild in place keeps the order above: the workers finish
every article before any numbered listing page, and those before any first page. Slices are
time ranges covering the whole time line, so an item stored during the build is in exactly
one of them, and the manifest's change number is the one read before the workers started:
the next build re-applies whatever came in meanwhile. The bytes written are those of a
one-process build.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from finews.errors import ExportError
from finews.publish.build_pool import default_processes
from finews.publish.catalog import Affected, Catalog, item_key
from finews.publish.pages import NEAREST, Pages
from finews.publish.settings import SiteSettings
from finews.publish.site import SiteRenderer
from finews.publish.static_pages import (
    MANIFEST,
    Build,
    Shown,
    load_manifest,
    long_stories,
    new_catalog,
    scan_catalog,
    stocks_of,
)
from finews.publish.static_parallel import parallel_build
from finews.publish.urls import Listing
from finews.store import Change, Store
from finews.store.clusters import shared_stories

__all__ = ["MANIFEST", "STAGING_PREFIX", "BuildReport", "build_site", "move_order"]

log = logging.getLogger(__name__)

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
) -> Build:
    parallel = parallel_build(store, root, settings, fingerprint, staged, processes)
    if parallel is not None:
        return parallel
    build = Build(store, root, settings, new_catalog(settings), staged=staged)
    build.stories_shown = Shown.read(store)
    build.assets()
    # one pass over the archive counts every listing's pages and writes every article
    scanned = scan_catalog(store, settings, visit=build.article)
    build.catalog = scanned
    build.pages = Pages(store, scanned, build.renderer)
    build.stories(long_stories(store))
    build.all_stocks()
    listings = [listing for listing, _ in scanned.listings()]
    for listing in listings:
        build.listing(listing)
    build.finish(None)
    build.save(fingerprint)
    return build


def _incremental(
    store: Store,
    root: Path,
    settings: SiteSettings,
    catalog: Catalog,
    shown: Shown,
    fingerprint: str,
) -> Build:
    build = Build(store, root, settings, catalog, staged=False)
    build.stories_shown = shown
    now = Shown.read(store) if shown.derived >= 0 else shown
    changes = _changes(store, catalog.seq, store.last_change_seq())
    if now.derived > shown.derived:
        # changes shown already whose stories were derived since: apply them again
        again = _changes(store, shown.derived, min(now.derived, catalog.seq))
        changes = sorted({c.seq: c for c in [*again, *changes]}.values(), key=lambda c: c.seq)
    if not changes:
        build.stories_shown = Shown(max(now.derived, shown.derived), shown.members)
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
    build.stocks(stocks_of(store, affected.items, store.tagged_stocks()), since=lowest)
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
    store: Store, now: Shown, shown: Shown, story_of: dict[int, int], affected: Affected
) -> Shown:
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
    return Shown(now.derived, kept)


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
    loaded = load_manifest(root, fingerprint) if root.is_dir() else None
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
) -> Build:
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
        for name in move_order(stage):
            os.replace(stage / name, root / name)
        stage.rmdir()
    except BaseException:
        _remove_tree(stage)
        if created:  # leave no trace: an empty folder would look like a finished build
            with contextlib.suppress(OSError):
                root.rmdir()
        raise
    return build


def move_order(stage: Path) -> list[str]:
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
