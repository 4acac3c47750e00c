"""The daemon's full-text worker: fetches the texts that polls queued, apart from the polls.

A poll hands the new items that have a full text to fetch to :meth:`FulltextWorker.enqueue`
(``refresh_source``'s ``fulltext`` sink), which queues them in the database
(:class:`~finews.store.fulltext.FulltextQueue`) *before* they are stored, and wakes the
worker. The worker claims due jobs for up to ``workers`` fetches at a time over its own
HTTP client, so a slow article endpoint never delays a list poll, and a job in hand is
never fetched by another ``finews run`` worker sharing the database (the lease keeper
renews the claims in hand, :attr:`FulltextWorker.in_hand`).

Each job runs the one full-text step (:func:`finews.refresh.fetch_fulltext`) on the stored
item, normalises the text and stores it with the article reply; a failed attempt is tried
again after ``retry`` seconds, doubling each time up to ``backoff_cap`` (longer when the
upstream sent ``Retry-After``), and given up after ``attempts`` (the item keeps its
digest).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta

from finews.daemon.metrics import DaemonMetrics
from finews.errors import FinewsError, StatusFetchError
from finews.fetch.client import HttpClient
from finews.models import Item, RawItem, SourceSpec
from finews.normalize import normalize_item
from finews.refresh import fetch_fulltext
from finews.sources import get_adapter
from finews.store import Store
from finews.store.fulltext import FulltextJob, FulltextQueue

__all__ = ["FulltextWorker"]

log = logging.getLogger("finews.daemon")

#: longest idle wait of the full-text worker between looks at the queue (new work wakes it
#: at once; this bounds how late it notices work another process queued)
_IDLE_LOOK = 5.0


class FulltextWorker:
    """Fetches the full texts queued for ``specs`` into ``store``; see the module docstring.

    ``worker`` names this ``finews run`` worker in the claims, each held for ``claim``;
    ``on_stored`` is called after a text is stored (the daemon wakes its deriving task).
    """

    def __init__(
        self,
        store: Store,
        specs: Mapping[str, SourceSpec],
        *,
        worker: str,
        claim: timedelta,
        workers: int,
        attempts: int,
        retry: float,
        backoff_cap: float,
        metrics: DaemonMetrics,
        now: Callable[[], datetime],
        on_stored: Callable[[], None],
    ) -> None:
        self.store = store
        self.queue = FulltextQueue(store)
        self.specs = specs
        self.worker = worker
        self.claim = claim
        self.workers = workers
        self.attempts = attempts
        self.retry = retry
        self.backoff_cap = backoff_cap
        self.metrics = metrics
        self.now = now
        self.on_stored = on_stored
        self._wake = asyncio.Event()
        self._in_hand: set[tuple[str, str]] = set()
        self._jobs: set[asyncio.Task[None]] = set()

    @property
    def in_hand(self) -> frozenset[tuple[str, str]]:
        """The (source, upstream id) jobs being fetched now: their claims are to renew."""
        return frozenset(self._in_hand)

    @property
    def jobs(self) -> frozenset[asyncio.Task[None]]:
        """The tasks fetching them (the daemon cancels those left when it stops)."""
        return frozenset(self._jobs)

    def wake(self) -> None:
        """Look at the queue again now (work may have come free, or the daemon stops)."""
        self._wake.set()

    def enqueue(self, spec: SourceSpec, raws: Sequence[RawItem]) -> None:
        """The full-text sink handed to ``refresh_source``: persist, then wake the worker."""
        self.queue.enqueue(spec.id, [raw.upstream_id for raw in raws], now=self.now())
        self._wake.set()

    async def run(self, client: HttpClient, stop: asyncio.Event) -> None:
        """Hand out the queued jobs until ``stop`` is set."""
        sources = [sid for sid, spec in self.specs.items() if spec.get("fulltext", True)]
        while not stop.is_set():
            try:
                timeout = self._hand_out(client, sources)
            except Exception:
                log.exception("full-text worker failed; looking again shortly")
                timeout = _IDLE_LOOK
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=timeout)

    def _hand_out(self, client: HttpClient, sources: Sequence[str]) -> float:
        """Start jobs for the free workers; return how long to wait before looking again
        (a finishing job or newly queued work wakes the loop sooner)."""
        self._wake.clear()
        free = self.workers - len(self._jobs)
        jobs: list[FulltextJob] = []
        upcoming: datetime | None = None
        try:
            if free > 0:
                # claimed: another worker sharing the database skips these while in hand
                now = self.now()
                jobs = self.queue.claim(
                    self.worker, sources, limit=free, now=now, until=now + self.claim
                )
            self.metrics.queue_depth.set(self.queue.counts().pending)
            upcoming = self.queue.next_due(sources)
        except FinewsError as exc:
            log.error("full-text queue unreadable: %s", exc)
        for job in jobs:
            self._in_hand.add((job.source, job.upstream_id))
            task = asyncio.create_task(self._run_job(job, client))
            self._jobs.add(task)
            task.add_done_callback(self._job_done)
        now = self.now()
        # a due job that was not taken is in hand already (or all workers are busy): only a
        # finishing job changes that, and it wakes the loop
        if upcoming is not None and upcoming > now:
            return min(_IDLE_LOOK, max(0.05, (upcoming - now).total_seconds()))
        return _IDLE_LOOK

    def _job_done(self, task: asyncio.Task[None]) -> None:
        self._jobs.discard(task)
        self._wake.set()

    async def _run_job(self, job: FulltextJob, client: HttpClient) -> None:
        spec = self.specs[job.source]
        try:
            outcome = await self._fetch(spec, job, client)
            self.queue.done(job)
            self.metrics.fulltext.labels(job.source, outcome).inc()
        except Exception as exc:
            self._failed(job, exc)
        finally:
            self._in_hand.discard((job.source, job.upstream_id))

    async def _fetch(self, spec: SourceSpec, job: FulltextJob, client: HttpClient) -> str:
        """Fetch and store one item's full text; return the outcome (stored or empty)."""
        item = self.store.get_item(job.source, job.upstream_id)
        if item is None:
            # queued just before its item is stored, or the item's poll died in between
            raise FinewsError(f"item {job.source}/{job.upstream_id} is not stored (yet)")
        filled = await fetch_fulltext(client, get_adapter(spec.adapter), spec, item.as_raw())
        if filled is None:
            return "empty"
        cleaned = normalize_item(
            RawItem(
                source=item.source,
                upstream_id=item.upstream_id,
                title=item.title,
                content=filled.content,
            ),
            spec,
            fetched_at=item.fetched_at,
        )
        if not isinstance(cleaned, Item) or not cleaned.content:
            return "empty"
        # read again: a poll may have updated the item while the text was on its way
        current = self.store.get_item(job.source, job.upstream_id) or item
        # the article reply is kept with the item (item_raw), for finews reparse
        kept = RawItem(source=item.source, upstream_id=item.upstream_id, article=filled.article)
        fulltext = current.replace(content=cleaned.content, sanitizer=cleaned.sanitizer, raw=kept)
        self.store.upsert_items([fulltext], derive=False)
        self.on_stored()
        log.debug(
            "source=%s id=%s full text stored (%d characters)",
            job.source,
            job.upstream_id,
            len(cleaned.content),
            extra={"source": job.source, "upstream_id": job.upstream_id, "status": "fulltext"},
        )
        return "stored"

    def _retry_at(self, attempts: int, exc: Exception) -> datetime | None:
        """When to try again after ``attempts`` failed attempts (``None``: give up)."""
        if attempts >= self.attempts:
            return None
        delay = min(self.retry * 2.0 ** min(attempts - 1, 30), self.backoff_cap)
        if isinstance(exc, StatusFetchError) and exc.retry_after is not None:
            delay = max(delay, min(exc.retry_after, self.backoff_cap))
        return self.now() + timedelta(seconds=delay)

    def _failed(self, job: FulltextJob, exc: Exception) -> None:
        attempts = job.attempts + 1
        if isinstance(exc, FinewsError):
            error = str(exc)
        else:
            log.exception(
                "source=%s id=%s full text failed unexpectedly", job.source, job.upstream_id
            )
            error = f"{type(exc).__name__}: {exc}"
        retry_at = self._retry_at(attempts, exc)
        try:
            self.queue.failed(job, error, retry_at=retry_at)
        except FinewsError as store_exc:
            log.error(
                "source=%s id=%s cannot record a full-text failure: %s",
                job.source,
                job.upstream_id,
                store_exc,
            )
        outcome = "retry" if retry_at is not None else "failed"
        self.metrics.fulltext.labels(job.source, outcome).inc()
        what = (
            f"retry in {(retry_at - self.now()).total_seconds():.0f} s"
            if retry_at is not None
            else "given up (kept with its digest)"
        )
        log.log(
            logging.WARNING if isinstance(exc, FinewsError) else logging.ERROR,
            "source=%s id=%s full text attempt %d/%d failed: %s; %s",
            job.source,
            job.upstream_id,
            attempts,
            self.attempts,
            error,
            what,
            extra={"source": job.source, "upstream_id": job.upstream_id, "status": outcome},
        )
