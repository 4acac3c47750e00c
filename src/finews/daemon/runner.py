"""The long-running poller behind ``finews run``.

One asyncio task per enabled source polls it on its own schedule
(:class:`~finews.daemon.scheduler.Schedule`) through :func:`finews.refresh.refresh_source`,
which walks back until it meets stored items, so nothing the upstream still lists is missed.
New items are stored at once with their digest; those with a full text to fetch are put in
the persisted full-text queue *before* they are stored, and the full-text worker
(:mod:`finews.daemon.fulltext`) fetches them with retries and an attempt cap, over its own
HTTP client, so a slow article endpoint never delays a list poll.

Polls store their items without indexing or clustering them (``derive=False``): a deriving
task works through the change log on a thread of its own, over its own connection
(:mod:`finews.derive`), so a poll's write transaction stays short and its items reach
live pages at once; search and "also reported by" follow a moment later. A deriving round
that fails is logged and retried; the work waits in the change log, so a stop or a crash
loses none of it, and whichever worker derives next picks it up.

Several workers (``finews run`` processes, on one machine or many) can share one database:
a worker polls only the sources it holds a lease on, and takes full-text jobs by claiming
them, so no source is polled by two workers at once and no text is fetched twice
(:mod:`finews.daemon.leasing`). A poller task runs for each source this worker holds; it
reads the source's persisted next poll when it takes the source over, so the rhythm carries
on across workers. A single worker simply holds every lease.

With ``[rules.NAME]`` tables in the settings, the deriving connection also runs the rules
reader (:mod:`finews.alerts.reader`: mutes and the alert outbox, in the deriving
transaction), and an alert task delivers the outbox (:mod:`finews.alerts.sender`) on a
connection of its own, woken by each deriving round that stored changes, so an alert
follows its item within a round.

Nothing here is fatal: a failing source records its error and backs off; an unexpected
exception in one poll is logged and counted as a failure of that poll. Setting the stop
event ends the daemon: waits end at once, polls in flight get ``stop_grace`` seconds to
finish and are then cancelled (what they committed stays; the rest is re-read next time),
and the worker's leases and claims are released for the others to take at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path

from finews.alerts.reader import rules_reader
from finews.alerts.sender import Sender, SendReport
from finews.config import Config
from finews.daemon.fulltext import FulltextWorker
from finews.daemon.leasing import LeaseKeeper
from finews.daemon.metrics import DaemonMetrics
from finews.daemon.pacing import HostPacing
from finews.daemon.scheduler import Schedule, interval_of
from finews.derive import DEFAULT_BATCH, derive_pending, open_store
from finews.errors import ConfigError, FinewsError
from finews.fetch.client import HttpClient, HttpSettings
from finews.formatwatch import SAMPLES_FOLDER
from finews.models import SourceSpec
from finews.redact import redact
from finews.refresh import SourceReport, refresh_security_names, refresh_source
from finews.sources import get_adapter
from finews.store import Store
from finews.store.alerts import next_due, prune_mutes
from finews.store.health import record_poll

__all__ = ["Daemon", "DaemonSettings", "run_daemon"]

log = logging.getLogger("finews.daemon")

#: longest idle wait of the deriving task (this worker's polls wake it at once; this bounds
#: how late it notices what another worker stored, should that one be busy or gone)
_DERIVE_LOOK = 2.0
#: wait after a deriving round failed (a database down, say) before the next try
_DERIVE_RETRY = 5.0
#: how often the daemon reads East Money's quote list (when switched on), and how soon it
#: tries again after a failure
NAMES_EVERY = 24 * 3600.0
NAMES_RETRY = 3600.0
#: seconds between looks at the alert outbox when nothing wakes the sender (alerts that
#: another worker or a `finews fetch` wrote)
_ALERT_LOOK = 2.0


@dataclass(frozen=True, slots=True)
class DaemonSettings:
    """The ``daemon.*`` settings (see ``finews config``)."""

    jitter: float = 0.1
    backoff_cap: float = 1800.0
    host_spacing: float = 0.2
    fulltext_workers: int = 4
    fulltext_attempts: int = 5
    fulltext_retry: float = 30.0
    stop_grace: float = 2.0
    metrics_port: int = 0
    lease_seconds: float = 30.0

    @classmethod
    def from_config(cls, config: Config) -> DaemonSettings:
        """The settings under ``daemon.`` in ``config``."""
        section = config.section("daemon")
        return cls(**{f.name: section[f.name] for f in fields(cls) if f.name in section})


def _utcnow() -> datetime:
    return datetime.now(UTC)


async def _sleep(stop: asyncio.Event, seconds: float) -> bool:
    """Wait ``seconds`` or until ``stop`` is set; return whether it was set."""
    if stop.is_set():
        return True
    if seconds <= 0:
        return False
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True


class Daemon:
    """Polls ``specs`` into ``store`` until stopped; see the module docstring.

    ``on_poll`` is called after every poll with its report (benchmarks and tests watch
    progress through it). ``now`` is the wall clock used for persisted times and leases.
    ``worker`` names this worker in the lease tables (default ``host:pid:random``).
    ``derive_store`` is the connection the deriving thread uses (default ``store``; give
    another connection to the same database so that deriving never waits for, or holds up,
    the polls' connection).
    """

    def __init__(
        self,
        specs: Sequence[SourceSpec],
        store: Store,
        settings: DaemonSettings | None = None,
        http: HttpSettings | None = None,
        *,
        schedule: Schedule | None = None,
        metrics: DaemonMetrics | None = None,
        on_poll: Callable[[SourceReport], None] | None = None,
        now: Callable[[], datetime] = _utcnow,
        worker: str | None = None,
        derive_store: Store | None = None,
        samples: Path | None = None,
        names_url: str | None = None,
        alerts: Sender | None = None,
    ) -> None:
        self.specs = {spec.id: spec for spec in specs}
        #: East Money's quote list, read at start and daily (``securities.list_enabled``)
        self.names_url = names_url
        self.store = store
        self.derive_store = derive_store if derive_store is not None else store
        self.settings = settings if settings is not None else DaemonSettings()
        self.http = http if http is not None else HttpSettings()
        self.schedule = schedule or Schedule(
            jitter=self.settings.jitter, backoff_cap=self.settings.backoff_cap
        )
        self.metrics = metrics if metrics is not None else DaemonMetrics()
        self.on_poll = on_poll
        self.now = now
        #: where samples of replies that look like a changed upstream are kept
        self.samples = samples
        for spec in specs:
            interval_of(spec)  # a bad interval fails at start, not in a loop
            get_adapter(spec.adapter)
        self.keeper = LeaseKeeper(
            store,
            list(self.specs),
            lease_seconds=self.settings.lease_seconds,
            worker=worker,
            now=now,
        )
        self._derive_wake = asyncio.Event()
        self.fulltext = FulltextWorker(
            store,
            self.specs,
            worker=self.keeper.worker,
            claim=self.keeper.lease,
            workers=self.settings.fulltext_workers,
            attempts=self.settings.fulltext_attempts,
            retry=self.settings.fulltext_retry,
            backoff_cap=self.settings.backoff_cap,
            metrics=self.metrics,
            now=now,
            on_stored=self._derive_wake.set,
        )
        self._failures: dict[str, int] = {}
        #: each held source's poller, with the lease generation it started under
        self._loops: dict[str, tuple[asyncio.Task[None], int]] = {}
        #: sources with a poll in progress (never handed to another worker meanwhile)
        self._polling: set[str] = set()
        #: delivers the alert outbox (None: no rule notifies)
        self.alerts = alerts
        self._alert_wake = asyncio.Event()

    # --- the whole daemon -------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set, then wind down within ``stop_grace`` seconds."""
        spacing = self.settings.host_spacing
        lists = HttpClient(self.http, transport=HostPacing(spacing))
        texts = HttpClient(self.http, transport=HostPacing(spacing))
        loops = [
            asyncio.create_task(self._lease_loop(lists, stop), name="leases"),
            asyncio.create_task(self.fulltext.run(texts, stop), name="fulltext"),
            asyncio.create_task(self._derive_loop(stop), name="derive"),
        ]
        if self.names_url:
            loops.append(asyncio.create_task(self._names_loop(lists, stop), name="names"))
        if self.alerts is not None:
            loops.append(asyncio.create_task(self._alert_loop(stop), name="alerts"))
        log.info(
            "daemon started: worker %s; %d source(s) %s, polled while this worker holds "
            "their lease; full text by %d worker(s)",
            self.keeper.worker,
            len(self.specs),
            ", ".join(self.specs),
            self.settings.fulltext_workers,
            extra={"sources": list(self.specs), "worker": self.keeper.worker},
        )
        try:
            await stop.wait()
        finally:
            stop.set()
            self.fulltext.wake()
            self._derive_wake.set()
            self._alert_wake.set()
            await self._wind_down(
                [*loops, *(task for task, _ in self._loops.values()), *self.fulltext.jobs]
            )
            try:
                self.keeper.release_all()
            except FinewsError as exc:
                log.error("could not release the leases (they expire on their own): %s", exc)
            await lists.aclose()
            await texts.aclose()
            log.info("daemon stopped")

    async def _wind_down(self, tasks: Sequence[asyncio.Task[None]]) -> None:
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=self.settings.stop_grace)
        # full-text jobs started while the loops wound down are cancelled as well
        late = {job for job in self.fulltext.jobs if job not in tasks}
        for task in pending | late:
            task.cancel()
        results = await asyncio.gather(*tasks, *late, return_exceptions=True)
        for result in results:
            if isinstance(result, Exception):
                log.error("daemon task failed while stopping: %r", result)

    # --- leases -------------------------------------------------------------------------
    async def _lease_loop(self, client: HttpClient, stop: asyncio.Event) -> None:
        """Keep this worker's leases (see :mod:`finews.daemon.leasing`) and run a poller
        for each source it holds."""
        while not stop.is_set():
            try:
                self.keeper.tick(busy=self._polling, claims=self.fulltext.in_hand)
            except FinewsError as exc:
                log.error("worker=%s cannot keep its leases: %s", self.keeper.worker, exc)
            except Exception:
                log.exception("worker=%s lease bookkeeping failed", self.keeper.worker)
            for sid in sorted(self.keeper.held):
                running, taken = self._loops.get(sid, (None, -1))
                if running is not None and not running.done():
                    if taken == self.keeper.generation(sid) or sid in self._polling:
                        continue
                    # taken back while its old poller still sleeps on the old schedule
                    running.cancel()
                task = asyncio.create_task(
                    self._source_loop(self.specs[sid], client, stop), name=f"poll-{sid}"
                )
                self._loops[sid] = (task, self.keeper.generation(sid))
            # a gone worker's full-text claims may be free now
            self.fulltext.wake()
            if await _sleep(stop, self.keeper.seconds_to_next_tick()):
                return

    # --- list polling -----------------------------------------------------------------
    async def _source_loop(self, spec: SourceSpec, client: HttpClient, stop: asyncio.Event) -> None:
        """Poll ``spec`` on its schedule while this worker holds its lease."""
        interval = interval_of(spec)
        taken = -1
        wait = 0.0
        while True:
            if taken != self.keeper.generation(spec.id):
                # taken (again): another worker may have polled it meanwhile, and its
                # persisted next poll says when the source is due
                taken = self.keeper.generation(spec.id)
                wait = self._first_wait(spec, interval)
            if await _sleep(stop, wait):
                return
            # a lease renewed on time has two thirds of its period left; one with less is
            # late (the database is slow or gone) and may pass to another worker mid-poll
            if not self.keeper.holds(spec.id, margin=self.settings.lease_seconds / 3):
                return  # lost or handed back (or late): the lease loop restarts it if held
            if taken != self.keeper.generation(spec.id):
                continue
            try:
                wait = await self._poll_once(spec, client, interval)
            except Exception:
                # a bug in the bookkeeping around a poll must not end this source's polling
                log.exception("source=%s poll bookkeeping failed", spec.id)
                wait = self.schedule.wait_after(interval, 1)

    def _first_wait(self, spec: SourceSpec, interval: float) -> float:
        """Seconds until the first poll after taking ``spec`` over (saved as its next poll)."""
        try:
            state = self.store.get_state(spec.id)
            self._failures[spec.id] = state.consecutive_failures
            wait = self.schedule.first_wait(state, interval, self.now())
            self.store.save_state(state.replace(next_poll=self.now() + timedelta(seconds=wait)))
        except FinewsError as exc:
            log.error("source=%s cannot read its state: %s (polling it now)", spec.id, exc)
            wait = 0.0
        return wait

    async def _poll_once(self, spec: SourceSpec, client: HttpClient, interval: float) -> float:
        """Poll once; return the seconds until the next poll."""
        self._polling.add(spec.id)
        try:
            return await self._poll_marked(spec, client, interval)
        finally:
            self._polling.discard(spec.id)

    async def _poll_marked(self, spec: SourceSpec, client: HttpClient, interval: float) -> float:
        started = self.now()
        clock = time.monotonic()
        try:
            report = await refresh_source(
                spec,
                self.store,
                client,
                fulltext=self.fulltext.enqueue,
                now=self.now,
                derive=False,
                samples=self.samples,
            )
            if report.new or report.updated:
                self._derive_wake.set()
        except Exception as exc:
            # refresh_source reports upstream trouble itself; this is a store failure or a
            # bug. Either way this poll failed, and the daemon goes on.
            log.exception("source=%s poll failed unexpectedly", spec.id)
            report = SourceReport(
                source=spec.id,
                error=redact(f"{type(exc).__name__}: {exc}"),
                elapsed=time.monotonic() - clock,
            )
            self._save_error(spec.id, started, report.error or "")
        failures = 0 if report.ok else self._failed_again(spec.id)
        wait = self.schedule.wait_after(interval, failures, report.retry_after)
        # a successful poll keeps the rhythm from its start; a failed one waits from its end
        base = started if report.ok else self.now()
        next_poll = max(base + timedelta(seconds=wait), self.now())
        try:
            record_poll(
                self.store,
                spec.id,
                ok=report.ok,
                new=report.new,
                updated=report.updated,
                elapsed=report.elapsed,
                next_poll=next_poll,
                retry_after=report.retry_after,
            )
        except FinewsError as exc:
            log.error("source=%s could not record its poll: %s", spec.id, exc)
        self._failures[spec.id] = failures
        self._count(report, failures)
        if failures:
            log.warning(
                "source=%s in backoff after %d failure(s): next poll in %.1f s%s",
                spec.id,
                failures,
                (next_poll - self.now()).total_seconds(),
                f" (Retry-After {report.retry_after:g} s)" if report.retry_after else "",
                extra={"source": spec.id, "failures": failures, "next_poll": next_poll},
            )
        if self.on_poll is not None:
            self.on_poll(report)
        return (next_poll - self.now()).total_seconds()

    def _failed_again(self, source: str) -> int:
        """The failure count after one more failure: the poll's own count where it saved
        one, else one more than this process last knew."""
        counted = self._failures.get(source, 0) + 1
        with contextlib.suppress(FinewsError):
            counted = max(counted, self.store.get_state(source).consecutive_failures)
        return counted

    def _save_error(self, source: str, at: datetime, error: str) -> None:
        try:
            state = self.store.get_state(source)
            self.store.save_state(
                state.replace(
                    last_attempt=at,
                    last_error=redact(error),
                    consecutive_failures=max(
                        state.consecutive_failures, self._failures.get(source, 0)
                    )
                    + 1,
                )
            )
        except FinewsError as exc:
            log.error("source=%s cannot save its state: %s", source, exc)

    def _count(self, report: SourceReport, failures: int) -> None:
        m = self.metrics
        m.polls.labels(report.source, "ok" if report.ok else "error").inc()
        m.poll_seconds.labels(report.source).observe(report.elapsed)
        m.items.labels(report.source, "new").inc(report.new)
        m.items.labels(report.source, "updated").inc(report.updated)
        m.backoff.labels(report.source).set(1 if failures else 0)
        m.format_errors.labels(report.source).inc(report.format_errors)

    # --- search index and stories ------------------------------------------------------
    async def _derive_loop(self, stop: asyncio.Event) -> None:
        """Index and cluster what the polls stored, a round at a time, until stopped."""
        while not stop.is_set():
            self._derive_wake.clear()  # a poll storing items from here on wakes the wait
            try:
                done = await asyncio.to_thread(
                    derive_pending, self.derive_store, limit=DEFAULT_BATCH
                )
            except Exception as exc:
                log.error(
                    "indexing and clustering stored items failed: %s; they stay queued in "
                    "the change log, next try in %.0f s",
                    exc,
                    _DERIVE_RETRY,
                )
                if await _sleep(stop, _DERIVE_RETRY):
                    return
                continue
            if done:
                self.metrics.derived.inc(done)
                self._alert_wake.set()  # the round may have written alerts
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._derive_wake.wait(), timeout=_DERIVE_LOOK)

    # --- the directory of security names -----------------------------------------------
    async def _names_loop(self, client: HttpClient, stop: asyncio.Event) -> None:
        """Read East Money's quote list into the directory of names at start, then every
        ``NAMES_EVERY`` seconds (``NAMES_RETRY`` after a failure, which is logged)."""
        assert self.names_url is not None
        while not stop.is_set():
            wait = NAMES_EVERY
            try:
                changed = await refresh_security_names(self.store, client, self.names_url)
                log.info("security names: %d new or changed from the quote list", changed)
            except FinewsError as exc:
                wait = NAMES_RETRY
                log.warning(
                    "security names: the quote list could not be read: %s; next try in %.0f s",
                    redact(str(exc)),
                    wait,
                )
            if await _sleep(stop, wait):
                return

    # --- alerts -----------------------------------------------------------------------
    async def _alert_loop(self, stop: asyncio.Event) -> None:
        """Deliver the alert outbox: after each deriving round that stored changes, when a
        channel finishes (more may be due), when the next retry is due, and every few
        seconds for alerts other workers wrote. Channels are sent to on the sender's own
        threads, so this loop never waits for a slow one."""
        sender = self.alerts
        assert sender is not None
        loop = asyncio.get_running_loop()

        def wake() -> None:
            loop.call_soon_threadsafe(self._alert_wake.set)

        sender.on_done = wake
        counted = SendReport()
        try:
            while not stop.is_set():
                self._alert_wake.clear()
                wait = _ALERT_LOOK
                try:
                    await asyncio.to_thread(sender.send_due, wait=False)
                    due = await asyncio.to_thread(next_due, sender.store)
                except Exception as exc:
                    log.error(
                        "delivering alerts failed: %s; next try in %.0f s", exc, _DERIVE_RETRY
                    )
                    if await _sleep(stop, _DERIVE_RETRY):
                        return
                    continue
                totals = sender.totals
                m = self.metrics.alerts
                m.labels("sent").inc(totals.sent - counted.sent)
                m.labels("retry").inc(totals.retried - counted.retried)
                m.labels("failed").inc(totals.failed - counted.failed)
                counted = SendReport(totals.sent, totals.retried, totals.failed)
                if due is not None:
                    wait = min(wait, max((due - self.now()).total_seconds(), 0.05))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._alert_wake.wait(), timeout=wait)
        finally:
            # a channel still sending keeps its rows claimed: they go again after the claim
            sender.close(wait=False)


async def run_daemon(
    config: Config,
    store_url: str,
    *,
    stop_event: asyncio.Event,
    specs: Sequence[SourceSpec] | None = None,
    schedule: Schedule | None = None,
    on_poll: Callable[[SourceReport], None] | None = None,
) -> None:
    """Poll every enabled source of ``config`` (or ``specs``) into the database at
    ``store_url`` until ``stop_event`` is set (``finews run`` sets it on SIGTERM/SIGINT)."""
    settings = DaemonSettings.from_config(config)
    chosen = list(specs) if specs is not None else config.enabled_sources()
    if not chosen:
        raise ConfigError(
            "sources", "(none enabled)", "enable a source in finews.toml ([sources.<id>] enabled)"
        )
    metrics = DaemonMetrics()
    # the rules are one more reader of the change log, after search and stories
    readers = [rules_reader(config)] if config.rules else []
    store = open_store(store_url, readers=readers)
    # the deriving thread's own connection (an in-memory SQLite database has only one)
    derive_store = (
        store
        if store_url.endswith(":memory:")
        else open_store(store_url, migrate=False, readers=readers)
    )
    sender: Sender | None = None
    alert_store: Store | None = None
    # a mute rule taken out of the settings shows its items again
    prune_mutes(store, [rule.name for rule in config.rules if rule.mute])
    if any(rule.notify for rule in config.rules):
        alert_store = (
            store if store_url.endswith(":memory:") else open_store(store_url, migrate=False)
        )
        sender = Sender.from_config(alert_store, config)
    try:
        if settings.metrics_port:
            metrics.serve(settings.metrics_port)
            log.info("daemon metrics at http://127.0.0.1:%d/metrics", metrics.port)
        daemon = Daemon(
            chosen,
            store,
            settings,
            HttpSettings(**config.section("http")),
            schedule=schedule,
            metrics=metrics,
            on_poll=on_poll,
            derive_store=derive_store,
            samples=Path(str(config.get("data_dir"))) / SAMPLES_FOLDER,
            names_url=(
                str(config.get("securities.list_url"))
                if config.get("securities.list_enabled")
                else None
            ),
            alerts=sender,
        )
        await daemon.run(stop_event)
    finally:
        metrics.close()
        if alert_store is not None and alert_store is not store:
            alert_store.close()
        if derive_store is not store:
            derive_store.close()  # waits for a deriving round still running on its thread
        store.close()
