"""Sharing the work of several ``finews run`` workers on one database: per-source leases,
a registry of live workers, and claims on full-text jobs (tables from migration 0004).

A worker polls only the sources it holds a lease on (``source_leases``): one row per
source, naming its holder and when the lease expires. The holder renews its leases well
before they expire; a worker that dies stops renewing, and once its leases have expired
another worker takes them. Full-text jobs in hand are claimed the same way
(``fulltext_queue.claimed_by`` / ``claimed_until``), so two workers never fetch one text.

Taking rows is one transaction that selects them ``FOR UPDATE SKIP LOCKED`` on PostgreSQL
(concurrent takers pass each other instead of queueing, and never both take a row), then
writes the new holder; SQLite has no row locks, but its ``BEGIN IMMEDIATE`` lets one writer
in at a time, which serialises takers just as well. The SQL is otherwise the same on both.

Times here are the workers' clocks, as fixed-width UTC text with microseconds (text order
is time order); they are compared only with each other, so the clocks of the machines
running workers must agree to well within a lease period (NTP does).

Functions take an open :class:`~finews.store.base.Store` and use its public API.
Deciding *which* sources to take, and when, is :mod:`finews.daemon.leasing`'s job.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from finews.errors import StoreError
from finews.store.base import Store, to_db_time
from finews.store.columns import in_list
from finews.store.queue import PENDING, FulltextJob

__all__ = [
    "Lease",
    "WorkerRecord",
    "acquire_leases",
    "claim_fulltext",
    "forget_worker",
    "heartbeat",
    "lease_of",
    "leases",
    "live_workers",
    "next_foreign_expiry",
    "prepare_leases",
    "release_leases",
    "renew_fulltext_claims",
    "renew_leases",
]

_STAMP = "%Y-%m-%dT%H:%M:%S.%fZ"

#: the holder of a free lease
FREE = ""


def _stamp(moment: datetime) -> str:
    """``moment`` as stored in the lease tables (fixed width, so text sorts as time)."""
    if moment.tzinfo is None:
        raise StoreError(f"naive datetime {moment!r}: lease times must be timezone-aware")
    return moment.astimezone(UTC).strftime(_STAMP)


def _unstamp(text: str) -> datetime:
    """A stored lease time back as an aware datetime."""
    return datetime.strptime(text, _STAMP).replace(tzinfo=UTC)


def _skip_locked(store: Store) -> str:
    """The row-locking clause of a SELECT that takes rows: PostgreSQL locks what it takes
    and skips what others are taking; SQLite has no row locks (its write lock, taken at
    BEGIN IMMEDIATE, already keeps any other taker out until this one commits)."""
    return store.row_lock_clause + " SKIP LOCKED" if store.row_lock_clause else ""


# --- leases ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Lease:
    """Who holds a source's lease, until when (``worker`` empty: nobody)."""

    source: str
    worker: str
    expires_at: datetime

    def live(self, now: datetime) -> bool:
        """Whether a worker holds it at ``now``."""
        return bool(self.worker) and self.expires_at > now


def prepare_leases(store: Store, sources: Iterable[str], *, now: datetime) -> None:
    """Make sure every source has a lease row (a new one is free, as of ``now``)."""
    rows = [(source, FREE, _stamp(now)) for source in sorted(set(sources))]
    if not rows:
        return
    with store.transaction() as tx:
        # sorted: two workers inserting the same new rows wait on each other in one order
        tx.executemany(
            (
                "INSERT INTO source_leases (source, worker, expires_at) VALUES (?, ?, ?) "
                "ON CONFLICT (source) DO NOTHING"
            ),
            rows,
        )


def acquire_leases(
    store: Store,
    worker: str,
    sources: Collection[str],
    *,
    now: datetime,
    until: datetime,
    limit: int | None = None,
    free_since: datetime | None = None,
) -> list[str]:
    """Take up to ``limit`` (``None``: all) of these sources whose lease is free or has
    expired by ``now``, for ``worker`` until ``until``; return the sources taken, longest
    free first. ``free_since`` narrows it to leases that have been free since then (free
    long enough that no other worker seems to want them).

    A lease ``worker`` holds itself is not taken again here: :func:`renew_leases` keeps it.
    """
    if not sources or (limit is not None and limit < 1):
        return []
    cutoff = now if free_since is None else min(now, free_since)
    marks, names = in_list(sorted(sources))
    statement = (
        f"SELECT source FROM source_leases WHERE source IN ({marks}) "
        "AND worker <> ? AND expires_at <= ? ORDER BY expires_at, source"
    )
    if limit is not None:
        statement += f" LIMIT {int(limit)}"
    with store.transaction() as tx:
        tx.execute(statement + _skip_locked(store), [*names, worker, _stamp(cutoff)])
        taken = [str(row[0]) for row in tx.fetchall()]
        if taken:
            tx.executemany(
                ("UPDATE source_leases SET worker = ?, expires_at = ? WHERE source = ?"),
                [(worker, _stamp(until), source) for source in taken],
            )
    return taken


def renew_leases(store: Store, worker: str, *, until: datetime) -> list[str]:
    """Extend every lease ``worker`` still holds to ``until``; return their sources. A lease
    that expired but was not taken by anyone is still this worker's, and is renewed."""
    with store.transaction() as tx:
        tx.execute(
            "UPDATE source_leases SET expires_at = ? WHERE worker = ? RETURNING source",
            (_stamp(until), worker),
        )
        return sorted(str(row[0]) for row in tx.fetchall())


def release_leases(store: Store, worker: str, sources: Collection[str], *, now: datetime) -> None:
    """Give up these leases of ``worker`` (free as of ``now``); others' leases stay."""
    if not sources:
        return
    marks, names = in_list(sorted(sources))
    with store.transaction() as tx:
        tx.execute(
            "UPDATE source_leases SET worker = ?, expires_at = ? "
            f"WHERE worker = ? AND source IN ({marks})",
            [FREE, _stamp(now), worker, *names],
        )


def next_foreign_expiry(
    store: Store, worker: str, sources: Collection[str], *, now: datetime
) -> datetime | None:
    """When the first lease held by another worker on one of these sources expires, unless
    renewed first (``None``: no such lease)."""
    if not sources:
        return None
    marks, names = in_list(sorted(sources))
    rows = store.query(
        "SELECT MIN(expires_at) FROM source_leases WHERE worker <> ? AND worker <> ? "
        f"AND expires_at > ? AND source IN ({marks})",
        [worker, FREE, _stamp(now), *names],
    )
    return _unstamp(rows[0][0]) if rows and rows[0][0] is not None else None


def leases(store: Store) -> dict[str, Lease]:
    """Every source's lease row, by source (for reports; expired ones included)."""
    rows = store.query("SELECT source, worker, expires_at FROM source_leases")
    return {
        str(r[0]): Lease(source=str(r[0]), worker=str(r[1]), expires_at=_unstamp(r[2]))
        for r in rows
    }


def lease_of(store: Store, source: str) -> Lease | None:
    """One source's lease row (``None`` before any worker prepared it)."""
    rows = store.query("SELECT worker, expires_at FROM source_leases WHERE source = ?", (source,))
    if not rows:
        return None
    return Lease(source=source, worker=str(rows[0][0]), expires_at=_unstamp(rows[0][1]))


# --- the workers -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WorkerRecord:
    """One worker's last heartbeat: where it runs, what it holds and wants, until when."""

    worker: str
    machine: str
    pid: int
    held: int
    wants: int
    expires_at: datetime


def heartbeat(
    store: Store,
    worker: str,
    *,
    machine: str,
    pid: int,
    held: int,
    wants: int,
    now: datetime,
    until: datetime,
    prune_before: datetime | None = None,
) -> None:
    """Record that ``worker`` is alive until ``until``, holding ``held`` leases and wanting
    ``wants`` more; drop the heartbeats that expired before ``prune_before`` (long-dead
    workers, whose leases have expired as well)."""
    with store.transaction() as tx:
        if prune_before is not None:
            tx.execute("DELETE FROM daemon_workers WHERE expires_at < ?", (_stamp(prune_before),))
        tx.execute(
            "INSERT INTO daemon_workers (worker, machine, pid, held, wants, started_at, "
            "expires_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (worker) DO UPDATE SET "
            "held = excluded.held, wants = excluded.wants, expires_at = excluded.expires_at",
            (worker, machine, pid, held, wants, _stamp(now), _stamp(until)),
        )


def live_workers(store: Store, *, now: datetime) -> list[WorkerRecord]:
    """The workers whose heartbeat has not expired at ``now``, by id."""
    rows = store.query(
        "SELECT worker, machine, pid, held, wants, expires_at FROM daemon_workers "
        "WHERE expires_at > ? ORDER BY worker",
        (_stamp(now),),
    )
    return [
        WorkerRecord(
            worker=str(r[0]),
            machine=str(r[1]),
            pid=int(r[2]),
            held=int(r[3]),
            wants=int(r[4]),
            expires_at=_unstamp(r[5]),
        )
        for r in rows
    ]


def forget_worker(store: Store, worker: str, *, now: datetime) -> None:
    """``worker`` is gone (stopped, or known dead): free its leases and full-text claims at
    once and drop its heartbeat, in one transaction."""
    with store.transaction() as tx:
        tx.execute(
            "UPDATE source_leases SET worker = ?, expires_at = ? WHERE worker = ?",
            (FREE, _stamp(now), worker),
        )
        tx.execute(
            "UPDATE fulltext_queue SET claimed_by = NULL, claimed_until = NULL "
            "WHERE claimed_by = ?",
            (worker,),
        )
        tx.execute("DELETE FROM daemon_workers WHERE worker = ?", (worker,))


# --- full-text claims --------------------------------------------------------------------


def claim_fulltext(
    store: Store,
    worker: str,
    sources: Collection[str],
    *,
    limit: int,
    now: datetime,
    until: datetime,
) -> list[FulltextJob]:
    """Claim up to ``limit`` due full-text jobs of these sources that nobody holds a live
    claim on, oldest due first, for ``worker`` until ``until``; return them."""
    if not sources or limit < 1:
        return []
    marks, names = in_list(sorted(sources))
    with store.transaction() as tx:
        tx.execute(
            "SELECT source, upstream_id, attempts, last_error FROM fulltext_queue "
            f"WHERE state = ? AND next_attempt <= ? AND source IN ({marks}) "
            "AND (claimed_until IS NULL OR claimed_until <= ?) "
            f"ORDER BY next_attempt, queued_at LIMIT {int(limit)}" + _skip_locked(store),
            # next_attempt is store time (whole seconds), claimed_until lease time
            [PENDING, to_db_time(now), *names, _stamp(now)],
        )
        jobs = [
            FulltextJob(source=r[0], upstream_id=r[1], attempts=int(r[2]), last_error=r[3])
            for r in tx.fetchall()
        ]
        if jobs:
            tx.executemany(
                (
                    "UPDATE fulltext_queue SET claimed_by = ?, claimed_until = ? "
                    "WHERE source = ? AND upstream_id = ?"
                ),
                [(worker, _stamp(until), job.source, job.upstream_id) for job in jobs],
            )
    return jobs


def renew_fulltext_claims(
    store: Store, worker: str, jobs: Collection[tuple[str, str]], *, until: datetime
) -> None:
    """Extend ``worker``'s claims on these (source, upstream id) jobs to ``until``."""
    if not jobs:
        return
    with store.transaction() as tx:
        tx.executemany(
            (
                "UPDATE fulltext_queue SET claimed_until = ? "
                "WHERE claimed_by = ? AND source = ? AND upstream_id = ?"
            ),
            [(_stamp(until), worker, source, uid) for source, uid in sorted(jobs)],
        )
