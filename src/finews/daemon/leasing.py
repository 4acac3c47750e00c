"""Which sources this ``finews run`` worker polls, when several share one database.

A :class:`LeaseKeeper` holds this worker's per-source leases (:mod:`finews.store.leases`)
and keeps its claims on full-text jobs (:class:`~finews.store.fulltext.FulltextQueue`).
Every ``lease_seconds / 3`` its :meth:`~LeaseKeeper.tick`:

1. reads the live workers' heartbeats; one on this very machine whose process is gone is
   forgotten at once (its leases and claims freed: a restart after ``kill -9`` resumes
   without waiting), any other dead worker's leases simply expire;
2. renews every lease this worker still holds (a lease it lost is reported ``lost``);
3. balances: each worker's fair share is ``ceil(sources / live workers)``. A worker over
   its share hands sources back while another worker wants more; one that holds two or
   more beyond a wanting worker hands back one. An idle source is released at once; one
   being polled stops being polled here and is released at the first tick after its poll
   (so a worker too busy to ever be idle still hands sources over, and a source is never
   polled by two). After handing back, a worker waits a lease period before handing back
   or taking more, so the wanting workers get what it freed. One under its share takes
   free or expired leases up to it; a lease nobody has taken for a whole lease period is
   taken beyond the share (workers configured with different sources must not leave one
   unpolled);
4. records its heartbeat: what it holds and how many more it wants;
5. renews its claims on the full-text jobs in hand.

The next tick comes after ``lease_seconds / 3``, or sooner when another worker's lease on
one of these sources expires before then (a live worker renews first, so that is a dead
one's): a dead worker's sources are taken over within one lease period of its last renewal.

A single worker holds every lease and behaves as one always did. A poll runs only while its
lease is held (:meth:`LeaseKeeper.holds`); a poll already running when a lease is lost (the
database was unreachable for a whole lease period) finishes, which the idempotent store
tolerates: nothing is stored twice.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import secrets
import socket
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from finews.errors import ConfigError, FinewsError
from finews.store import Store
from finews.store.fulltext import FulltextQueue
from finews.store.leases import (
    WorkerRecord,
    acquire_leases,
    forget_worker,
    heartbeat,
    live_workers,
    next_foreign_expiry,
    prepare_leases,
    release_leases,
    renew_leases,
)

__all__ = ["LeaseChanges", "LeaseKeeper", "machine_identity", "new_worker_id", "pid_alive"]

log = logging.getLogger("finews.daemon")


def new_worker_id() -> str:
    """A worker id, unique across machines and restarts: ``host:pid:random``."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def _read(path: str) -> str:
    with contextlib.suppress(OSError):
        return Path(path).read_text(encoding="ascii").strip()
    return ""


def machine_identity() -> str:
    """What makes a pid meaningful: the host, its boot and the pid namespace (containers on
    one host share the boot but not the namespace). Empty where that cannot be told (not
    Linux): then no worker is ever judged dead by its pid, only by expiry."""
    boot = _read("/proc/sys/kernel/random/boot_id")
    namespace = ""
    with contextlib.suppress(OSError):
        namespace = os.readlink("/proc/self/ns/pid")
    if not boot or not namespace:
        return ""
    return f"{socket.gethostname()}/{boot}/{namespace}"


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists here (one of another user's counts)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class LeaseChanges:
    """What one tick changed: leases taken, lost to another worker (or to expiry), and
    handed back to balance the load."""

    gained: tuple[str, ...] = ()
    lost: tuple[str, ...] = ()
    shed: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Plan:
    shed: int = 0
    room: int = 0
    share: int = 0


class LeaseKeeper:
    """This worker's leases on ``sources`` in ``store``; see the module docstring.

    Everything runs on the caller's thread (the daemon's event loop): :meth:`tick` is one
    short series of transactions.
    """

    def __init__(
        self,
        store: Store,
        sources: Sequence[str],
        *,
        lease_seconds: float,
        worker: str | None = None,
        now: Callable[[], datetime] = _utcnow,
    ) -> None:
        if not lease_seconds > 0:
            raise ConfigError("daemon.lease_seconds", lease_seconds, "seconds above 0")
        self.store = store
        self.queue = FulltextQueue(store)
        self.sources = tuple(dict.fromkeys(sources))
        self.lease = timedelta(seconds=lease_seconds)
        self.worker = worker or new_worker_id()
        self.machine = machine_identity()
        self.pid = os.getpid()
        self.now = now
        self._held: dict[str, datetime] = {}
        #: held, but being handed back: no new poll starts; released once the last ends
        self._draining: set[str] = set()
        self._generation: dict[str, int] = {}
        self._prepared = False
        self._next_tick = lease_seconds / 3
        #: after handing leases back, neither hand back nor take more under the share until
        #: then: the wanting workers get them, rather than this one taking them back
        self._calm_until: datetime | None = None

    # --- what the pollers ask ----------------------------------------------------------
    def holds(self, source: str, *, margin: float = 0.0) -> bool:
        """Whether this worker holds ``source``'s lease now, with at least ``margin``
        seconds of it left (and may start a poll)."""
        until = self._held.get(source)
        if until is None or source in self._draining:
            return False
        return until > self.now() + timedelta(seconds=margin)

    @property
    def held(self) -> frozenset[str]:
        """The sources this worker holds and polls (as of the last tick); not those it is
        handing back."""
        return frozenset(self._held) - self._draining

    def generation(self, source: str) -> int:
        """How many times this worker has taken ``source``'s lease: a poller that sees it
        change knows another worker polled the source meanwhile."""
        return self._generation.get(source, 0)

    def seconds_to_next_tick(self) -> float:
        """How long until :meth:`tick` should run again."""
        return self._next_tick

    # --- the tick ----------------------------------------------------------------------
    def tick(
        self, busy: Collection[str] = (), claims: Collection[tuple[str, str]] = ()
    ) -> LeaseChanges:
        """Renew, balance and take leases; renew the full-text ``claims`` in hand.
        ``busy`` are the sources being polled right now: one of them to be handed back
        is released only at a tick after its poll has ended.

        Raises :class:`~finews.errors.FinewsError` when the database fails; leases whose
        time ran out meanwhile are dropped (reported lost) before it propagates."""
        now = self.now()
        until = now + self.lease
        try:
            return self._tick(now, until, busy, claims)
        except FinewsError:
            expired = tuple(s for s, at in self._held.items() if at <= self.now())
            for source in expired:
                del self._held[source]
                self._draining.discard(source)
            if expired:
                log.warning(
                    "worker=%s could not renew its leases; stopped polling %s",
                    self.worker,
                    ", ".join(expired),
                    extra={"worker": self.worker, "lost": list(expired)},
                )
            self._next_tick = min(self.lease.total_seconds() / 3, 1.0)
            raise

    def _tick(
        self,
        now: datetime,
        until: datetime,
        busy: Collection[str],
        claims: Collection[tuple[str, str]],
    ) -> LeaseChanges:
        if not self._prepared:
            prepare_leases(self.store, self.sources, now=now)
            # known before holding anything: should this worker die holding leases, a
            # restarted one on this machine finds its pid gone and frees them at once
            self._heartbeat(now, until, wants=0)
            self._prepared = True
        others = self._live_others(now)
        before = set(self._held)
        renewed = set(renew_leases(self.store, self.worker, until=until)) & set(self.sources)
        self._held = dict.fromkeys(renewed, until)
        self._draining &= renewed
        lost = tuple(sorted(before - renewed))
        regained = renewed - before
        # handed back: those whose last poll has ended since they began to be
        shed = sorted(s for s in self._draining if s not in busy)
        for source in shed:
            del self._held[source]
            self._draining.discard(source)
        plan = self._plan(others)
        # after handing back, wait a lease period before handing back or taking more under
        # the share: the wanting workers see the freed leases and take them meanwhile
        calm = self._calm_until is not None and now < self._calm_until
        draining: list[str] = []
        if plan.shed and not calm and not self._draining:
            active = sorted(s for s in self._held if s not in self._draining)
            idle = [s for s in active if s not in busy]
            at_once = idle[len(idle) - min(plan.shed, len(idle)) :]
            for source in at_once:
                del self._held[source]  # first: no poll may start on it from here on
            shed += at_once
            # a worker busy with every source (one that cannot keep up) still hands some
            # over: each after its poll in progress
            polling = [s for s in active if s in busy]
            draining = polling[: plan.shed - len(at_once)]
            self._draining.update(draining)
            self._calm_until = now + self.lease
        if shed:
            release_leases(self.store, self.worker, shed, now=now)
        gained: list[str] = []
        if not shed and not self._draining:
            wanted = [s for s in self.sources if s not in self._held]
            if plan.room > 0 and not calm:
                gained += acquire_leases(
                    self.store, self.worker, wanted, now=now, until=until, limit=plan.room
                )
            rest = [s for s in wanted if s not in gained]
            # free for a whole lease period: no other worker wants it
            gained += acquire_leases(
                self.store, self.worker, rest, now=now, until=until, free_since=now - self.lease
            )
        for source in gained:
            self._held[source] = until
        for source in [*gained, *regained]:
            self._generation[source] = self._generation.get(source, 0) + 1
        wants = max(0, plan.share - len(self.held))
        self._heartbeat(now, until, wants=wants)
        self.queue.renew(self.worker, claims, until=until)
        self._next_tick = self._wait_after(now)
        if draining:
            log.info(
                "worker=%s hands back %s after their polls in progress",
                self.worker,
                ", ".join(draining),
                extra={"worker": self.worker, "lease": "handing back", "sources": draining},
            )
        changes = LeaseChanges(
            gained=tuple(sorted({*gained, *regained})), lost=lost, shed=tuple(shed)
        )
        self._log(changes)
        return changes

    def _heartbeat(self, now: datetime, until: datetime, *, wants: int) -> None:
        heartbeat(
            self.store,
            self.worker,
            machine=self.machine,
            pid=self.pid,
            held=len(self.held),
            wants=wants,
            now=now,
            until=until,
            # heartbeats long expired only clutter the table: their leases expired with them
            prune_before=now - 10 * self.lease,
        )

    def _live_others(self, now: datetime) -> list[WorkerRecord]:
        """The other live workers; those on this machine whose process is gone are forgotten
        (their leases freed) on the way."""
        others = []
        for record in live_workers(self.store, now=now):
            if record.worker == self.worker:
                continue
            if self.machine and record.machine == self.machine and not pid_alive(record.pid):
                log.warning(
                    "worker=%s is gone (pid %d no longer exists): its sources are free",
                    record.worker,
                    record.pid,
                    extra={"worker": self.worker, "gone": record.worker},
                )
                forget_worker(self.store, record.worker, now=now)
                continue
            others.append(record)
        return others

    def _plan(self, others: list[WorkerRecord]) -> _Plan:
        share = math.ceil(len(self.sources) / (len(others) + 1))
        mine = len(self.held)
        hungry = [o for o in others if o.wants > 0]
        shed = 0
        if hungry:
            demand = sum(o.wants for o in hungry)
            if mine > share:
                shed = min(mine - share, demand)
            elif any(o.held <= mine - 2 for o in hungry):
                shed = 1
        return _Plan(shed=shed, room=max(0, share - mine), share=share)

    def _wait_after(self, now: datetime) -> float:
        wait = self.lease.total_seconds() / 3
        # A live worker's leases never come within a third of a period of expiring (it
        # renews them first), so this only wakes the keeper early for a dead worker's: just
        # after they expire (they are taken only once they have), when its heartbeat has
        # expired too and the shares have grown to cover its sources.
        others = [s for s in self.sources if s not in self._held]
        expiry = next_foreign_expiry(self.store, self.worker, others, now=now)
        if expiry is not None:
            wait = min(wait, (expiry - now).total_seconds() + 0.01)
        return max(0.01, wait)

    def _log(self, changes: LeaseChanges) -> None:
        for what, sources in (
            ("took", changes.gained),
            ("lost", changes.lost),
            ("handed back", changes.shed),
        ):
            if sources:
                log.log(
                    logging.WARNING if what == "lost" else logging.INFO,
                    "worker=%s %s the lease of %s; polls %d source(s)",
                    self.worker,
                    what,
                    ", ".join(sources),
                    len(self._held),
                    extra={"worker": self.worker, "lease": what, "sources": list(sources)},
                )

    def release_all(self) -> None:
        """Stop: free every lease and claim of this worker at once, so others take over
        without waiting for expiry."""
        self._held.clear()
        self._draining.clear()
        forget_worker(self.store, self.worker, now=self.now())
        log.info("worker=%s released its leases", self.worker, extra={"worker": self.worker})
