"""A full static build by forked worker processes (see "On every core" in
:mod:`.static_site`): the parent reads the archive once and hands out article pages in
slices of whole Beijing days, then listing pages in batches; each worker has its own store
connection, renderer and files (:mod:`.build_pool`)."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

from finews.models import Item
from finews.publish.build_pool import BuildPool, Done, can_fork
from finews.publish.catalog import Catalog
from finews.publish.pages import Pages
from finews.publish.settings import SiteSettings
from finews.publish.static_pages import (
    Build,
    Shown,
    long_stories,
    manifest_bytes,
    new_catalog,
    scan_catalog,
)
from finews.publish.urls import Listing, day_bounds, day_of
from finews.store import ItemQuery, Store, open_store

__all__ = ["PARALLEL_MIN", "SLICE_MIN", "TASK_PAGES", "ParallelBuild", "Worker", "parallel_build"]

#: archives smaller than this build in one process (forking and connecting cost more)
PARALLEL_MIN = 2000
#: items per slice of article pages handed to a worker: at least, at most
SLICE_MIN, SLICE_MAX = 100, 2000
_SLICES_PER_WORKER = 16  # enough slices that a worker slowed by other load takes fewer
TASK_PAGES = 40  # listing pages per task


def parallel_build(
    store: Store,
    root: Path,
    settings: SiteSettings,
    fingerprint: str,
    staged: bool,
    processes: int,
) -> Build | None:
    """A full build by ``processes`` forked workers, or ``None`` where one process is the
    better choice: one process asked for, an archive under :data:`PARALLEL_MIN` items, a
    store without a URL the workers could open, or no safe fork."""
    url = getattr(store, "url", None)
    if processes <= 1 or not isinstance(url, str):
        return None
    total = store.count_items()
    if total < PARALLEL_MIN or not can_fork():
        return None
    return ParallelBuild(store, url, root, settings, staged, processes, total).run(fingerprint)


class ParallelBuild:
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
        self.slice = min(max(total // (processes * _SLICES_PER_WORKER), SLICE_MIN), SLICE_MAX)
        # the catalog reaches the workers as the manifest's bytes, in a file of their own
        handle, name = tempfile.mkstemp(prefix="finews-catalog-", suffix=".json")
        os.close(handle)
        self.manifest_file = Path(name)
        self.job = _Job(url, root, settings, staged, self.manifest_file)
        self.build = Build(store, root, settings, new_catalog(settings), staged=staged)

    def run(self, fingerprint: str) -> Build:
        build = self.build
        # read before the workers start: the next build re-applies anything stored after
        seq = self.store.last_change_seq()
        build.stories_shown = Shown.read(self.store)
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
            manifest = manifest_bytes(fingerprint, scanned, build.stories_shown)
            self.manifest_file.write_bytes(manifest)
            numbered, firsts = _listing_tasks(scanned)
            if not self.staged:  # in place: articles, then numbered pages, then first pages
                pool.wait()
            build.stories(long_stories(self.store))
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

    def worker(self, stop: Event) -> Worker:
        return Worker(self, stop)


class Worker:
    """One worker process of a parallel build: its own store connection, renderer and
    files; it writes article pages by time slice and listing pages by batch."""

    def __init__(self, job: _Job, stop: Event) -> None:
        self.job = job
        self.stop = stop
        self.store = open_store(job.url, migrate=False)
        self.build = Build(
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
    ``TASK_PAGES`` pages, and every listing's first page in batches of that many."""
    numbered: list[list[tuple[str, int, int]]] = []
    batch: list[tuple[str, int, int]] = []
    size = 0
    keys = []
    for listing, state in catalog.listings():
        keys.append(listing.key)
        high = state.pages
        while high >= 1:
            low = max(1, high - (TASK_PAGES - size) + 1)
            batch.append((listing.key, high, low))
            size += high - low + 1
            high = low - 1
            if size >= TASK_PAGES:
                numbered.append(batch)
                batch, size = [], 0
    if batch:
        numbered.append(batch)
    firsts = [keys[n : n + TASK_PAGES] for n in range(0, len(keys), TASK_PAGES)]
    return numbered, firsts
