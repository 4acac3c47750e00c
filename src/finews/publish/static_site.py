"""The static build: the whole site, every item ever, as plain files any static host serves.

``build_site(store, out_dir, settings)`` renders the same pages as the live app (through
:class:`~.pages.Pages`) and writes them under ``out_dir``: ``index.html``, one page per item,
every listing's pages, the day archive, all feeds, ``static/`` assets, ``404.html`` and a
``.nojekyll`` marker (GitHub Pages would otherwise hide the ``_`` category).

**Incremental.** The build keeps ``.finews-build.json`` in ``out_dir``: the change-log number
it reflects, a fingerprint of settings, templates and assets, and the catalog of listing
pages. The next run reads only the change log after that number, re-renders only what those
changes touch (their article pages, the affected pages of their category, day, ``all`` and
``important`` listings from the page each change falls into, the day list, home and the
feeds) and writes a file only when its bytes differ. Its cost follows the number of changes,
not the size of the archive. A different fingerprint, or no manifest, means a full build.

**Never half-written.** Each file is written to a temporary file beside it and renamed over
the old one, so a reader sees the old bytes or the new, never part of a file. Files are
written in dependency order, linked pages before the pages that link to them: assets, then
articles, then numbered listing pages (newest first), then each listing's first page, then
the day list, home and feeds, and the manifest last, after one ``os.sync()``. So during an
incremental build a reader never follows a link to a page that is not there yet (the one
exception: a brand-new category's first page and its first article link to each other,
for the moment between their two writes). A first build into a missing or empty ``out_dir``
goes to a staging directory beside it that is renamed into place when complete. A full
rebuild over an existing site (settings or templates changed) rewrites it in place; it adds
files but never deletes any (start from an empty directory to drop pages that moved).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from finews.errors import ExportError
from finews.models import Item
from finews.publish.catalog import Catalog
from finews.publish.pages import Pages
from finews.publish.site import ASSETS, SiteRenderer, SiteSettings
from finews.publish.urls import (
    FEED_FILES,
    Listing,
    article_path,
    feed_path,
    file_name,
    listing_path,
)
from finews.store import Change, Store

__all__ = ["MANIFEST", "BuildReport", "build_site"]

log = logging.getLogger(__name__)

#: the file in ``out_dir`` that makes the next build incremental
MANIFEST = ".finews-build.json"
_FORMAT = 1
_BEHIND = 256  # pages rendered but not yet written, at most (their bytes wait in memory)


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

    def summary(self) -> str:
        """One line for the command line."""
        kind = "full build" if self.full else "incremental build"
        return (
            f"{kind}: {len(self.written)} files written, {self.unchanged} unchanged, "
            f"{self.articles} articles rendered, {self.skipped} skipped, up to change "
            f"{self.seq}, {self.seconds:.2f} s"
        )


@dataclass
class _Tree:
    """Writes files under ``root`` atomically, only when their bytes change, once per run."""

    root: Path
    #: write in place without a temporary file: only into a staging directory no one reads
    direct: bool = False
    written: list[str] = field(default_factory=list)
    unchanged: int = 0
    _seen: set[str] = field(default_factory=set)
    _dirs: set[Path] = field(default_factory=set)
    _writer: ThreadPoolExecutor | None = None
    _pending: deque[Future[int]] = field(default_factory=deque)

    def write(self, name: str, data: bytes) -> bool:
        if name in self._seen:
            log.warning("static build: %s was already written in this run; kept the first", name)
            return False
        self._seen.add(name)
        target = self.root / name
        if self.direct:  # a fresh staging directory: nothing there to compare with
            self._mkdir(target.parent)
            self._write_behind(target, data)
            self.written.append(name)
            return True
        try:
            if target.stat().st_size == len(data) and target.read_bytes() == data:
                self.unchanged += 1
                return False
        except FileNotFoundError:
            pass
        self._mkdir(target.parent)
        # temp file + rename: a reader sees the old file or the new one, never half of one.
        # No fsync per file (it would cost ~4 ms each); the build syncs once at the end.
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        self.written.append(name)
        return True

    def _mkdir(self, folder: Path) -> None:
        if folder not in self._dirs:
            folder.mkdir(parents=True, exist_ok=True)
            self._dirs.add(folder)

    def _write_behind(self, target: Path, data: bytes) -> None:
        """Write in a thread while the next page renders: creating a file is a system call
        (~0.3 ms here) that need not hold up the renderer. At most ``_BEHIND`` writes wait."""
        if self._writer is None:
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="finews-write")
        while len(self._pending) >= _BEHIND:
            self._pending.popleft().result()
        self._pending.append(self._writer.submit(target.write_bytes, data))

    def flush(self, *, check: bool = True) -> None:
        """Wait for every write still under way, raising the first that failed (``check``;
        a failed build only needs the writes stopped before its staging folder goes)."""
        try:
            while self._pending:
                future = self._pending.popleft()
                if check:
                    future.result()
        finally:
            if self._writer is not None:
                self._writer.shutdown(wait=True, cancel_futures=True)
                self._writer = None


class _Build:
    def __init__(
        self, store: Store, root: Path, settings: SiteSettings, catalog: Catalog, *, staged: bool
    ) -> None:
        self.store = store
        self.settings = settings
        self.renderer = SiteRenderer(settings)
        self.catalog = catalog
        self.pages = Pages(store, catalog, self.renderer)
        self.tree = _Tree(root, direct=staged)
        self.articles = 0
        self.skipped = 0

    def page(self, path: str, html: str | None) -> None:
        if html is not None:
            self.tree.write(file_name(path), html.encode("utf-8"))

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
            self.tree.write(f"static/{name}", self.renderer.assets[name])
        self.tree.write(".nojekyll", b"")

    def listing(self, listing: Listing, first: int = 1) -> None:
        """A listing's numbered pages from ``first`` up (written newest first), then its
        first page."""
        state = self.catalog.get(listing)
        if state is None:
            return
        paths = self.settings.source_paths
        for page in range(state.pages, max(first, 1) - 1, -1):
            self.page(listing_path(listing, paths, page), self.pages.listing(listing, page))
        self.page(listing_path(listing, paths), self.pages.listing(listing))

    def finish(self, categories: list[str] | None) -> None:
        """The day list, home, the feeds (all, and of ``categories``; ``None`` = every
        category) and the 404 page."""
        self.page("/day/", self.pages.days())
        self.page("/", self.pages.home())
        if categories is None:
            categories = [lst.name for lst, _ in self.catalog.categories()]
        for category in [None, *sorted(categories)]:
            for kind in FEED_FILES:
                feed = self.pages.feed(kind, category)
                if feed is not None:
                    self.tree.write(file_name(feed_path(kind, category)), feed)
        self.tree.write("404.html", self.pages.not_found().encode("utf-8"))
        for listing in (Listing("all"), Listing("important")):
            if self.catalog.get(listing) is None:  # link targets of every page's header
                self.page(listing_path(listing), self.pages.listing(listing))

    def save(self, fingerprint: str) -> None:
        self.tree.flush()
        os.sync()  # every page is on disk before the manifest says so
        manifest = {
            "format": _FORMAT,
            "fingerprint": fingerprint,
            "catalog": self.catalog.to_json(),
        }
        data = json.dumps(manifest, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        self.tree.write(MANIFEST, data)
        self.tree.flush()


def _load(root: Path, fingerprint: str) -> Catalog | None:
    try:
        manifest = json.loads((root / MANIFEST).read_bytes())
        if manifest.get("format") != _FORMAT or manifest.get("fingerprint") != fingerprint:
            return None
        return Catalog.from_json(manifest["catalog"])
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
    store: Store, root: Path, settings: SiteSettings, fingerprint: str, *, staged: bool = False
) -> _Build:
    catalog = Catalog(settings.page_size)
    build = _Build(store, root, settings, catalog, staged=staged)
    try:
        build.assets()
        # one pass over the archive counts every listing's pages and writes every article
        scanned = Catalog.scan(store, settings.page_size, visit=build.article)
        build.catalog = scanned
        build.pages = Pages(store, scanned, build.renderer)
        listings = [listing for listing, _ in scanned.listings()]
        for listing in listings:
            build.listing(listing)
        build.finish(None)
        build.save(fingerprint)
    except BaseException:
        build.tree.flush(check=False)  # no write may land after the caller cleans up
        raise
    return build


def _incremental(
    store: Store, root: Path, settings: SiteSettings, catalog: Catalog, fingerprint: str
) -> _Build:
    build = _Build(store, root, settings, catalog, staged=False)
    changes = _changes(store, catalog.seq, store.last_change_seq())
    if not changes:
        return build
    affected = catalog.apply(store, changes)
    build.assets()
    for item in affected.items:
        build.article(item)
    for old_path, item in affected.moved:
        build.page(old_path, build.renderer.moved(item))
    categories = []
    for key, first in sorted(affected.first_pages.items()):
        listing = Listing.from_key(key)
        # the page before the first changed one links forward to it: render it again too
        build.listing(listing, first - 1)
        if listing.kind == "category":
            categories.append(listing.name)
    build.finish(categories)
    build.save(fingerprint)
    return build


def build_site(
    store: Store, out_dir: str | os.PathLike[str], settings: SiteSettings
) -> BuildReport:
    """Write (or bring up to date) the static site of everything in ``store`` at ``out_dir``."""
    started = time.perf_counter()
    root = Path(out_dir)
    fingerprint = SiteRenderer(settings).fingerprint()
    catalog = _load(root, fingerprint) if root.is_dir() else None
    try:
        if catalog is not None:
            build = _incremental(store, root, settings, catalog, fingerprint)
        elif root.is_dir() and any(root.iterdir()):
            build = _full(store, root, settings, fingerprint)
        else:
            build = _staged(store, root, settings, fingerprint)
    except OSError as exc:
        raise ExportError(f"static build into {root} failed: {exc}") from exc
    return BuildReport(
        full=catalog is None,
        written=tuple(build.tree.written),
        unchanged=build.tree.unchanged,
        articles=build.articles,
        skipped=build.skipped,
        seq=build.catalog.seq,
        seconds=time.perf_counter() - started,
    )


def _staged(store: Store, root: Path, settings: SiteSettings, fingerprint: str) -> _Build:
    """A first build: into a directory beside ``root``, renamed into place when complete."""
    root.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(dir=root.parent, prefix=f".{root.name}.building-"))
    try:
        build = _full(store, stage, settings, fingerprint, staged=True)
        os.chmod(stage, 0o755)  # noqa: S103 - a web site is meant to be readable
        os.replace(stage, root)  # replaces a missing or empty directory in one step
    except BaseException:
        _remove_tree(stage)
        raise
    build.tree.root = root
    return build


def _remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
