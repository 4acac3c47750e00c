"""Sharing the sources among several ``finews run`` workers on one database: per-source
leases and a registry of live workers (tables from migration 0004).

A worker polls only the sources it holds a lease on (``source_leases``): one row per
source, naming its holder and when the lease expires. The holder renews its leases well
before they expire; a worker that dies stops renewing, and once its leases have expired
another worker takes them. (Full-text jobs are claimed the same way, in
:mod:`finews.store.fulltext`.)

Taking rows is one transaction that selects them ``FOR UPDATE SKIP LOCKED`` on PostgreSQL
(concurrent takers pass each other instead of queueing, and never both take a row), then
writes the new holder; SQLite has no row locks, but its ``BEGIN IMMEDIATE`` lets one writer
in at a time, which serialises takers just as well. The SQL is otherwise the same on both.
Lease times are the workers' clocks (:mod:`finews.store.claims`).

Functions take an open :class:`~finews.store.base.Store` and use its public API.
Deciding *which* sources to take, and when, is :mod:`finews.daemon.leasing`'s job.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from finews.store.base import Store
from finews.store.claims import skip_locked, stamp, unstamp
from finews.store.columns import in_list
from finews.store.fulltext import release_claims

__all__ = [
    "Lease",
    "WorkerRecord",
    "acquire_leases",
    "forget_worker",
    "heartbeat",
    "lease_of",
    "leases",
    "live_workers",
    "next_foreign_expiry",
    "prepare_leases",
    "release_leases",
    "renew_leases",
]

#: the holder of a free lease
FREE = ""


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
    rows = [(source, FREE, stamp(now)) for source in sorted(set(sources))]
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
        tx.execute(statement + skip_locked(store), [*names, worker, stamp(cutoff)])
        taken = [str(row[0]) for row in tx.fetchall()]
        if taken:
            tx.executemany(
                ("UPDATE source_leases SET worker = ?, expires_at = ? WHERE source = ?"),
                [(worker, stamp(until), source) for source in taken],
            )
    return taken


def renew_leases(store: Store, worker: str, *, until: datetime) -> list[str]:
    """Extend every lease ``worker`` still holds to ``until``; return their sources. A lease
    that expired but was not taken by anyone is still this worker's, and is renewed."""
    with store.transaction() as tx:
        tx.execute(
            "UPDATE source_leases SET expires_at = ? WHERE worker = ? RETURNING source",
            (stamp(until), worker),
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
            [FREE, stamp(now), worker, *names],
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
        [worker, FREE, stamp(now), *names],
    )
    return unstamp(rows[0][0]) if rows and rows[0][0] is not None else None


def leases(store: Store) -> dict[str, Lease]:
    """Every source's lease row, by source (for reports; expired ones included)."""
    rows = store.query("SELECT source, worker, expires_at FROM source_leases")
    return {
        str(r[0]): Lease(source=str(r[0]), worker=str(r[1]), expires_at=unstamp(r[2])) for r in rows
    }


def lease_of(store: Store, source: str) -> Lease | None:
    """One source's lease row (``None`` before any worker prepared it)."""
    rows = store.query("SELECT worker, expires_at FROM source_leases WHERE source = ?", (source,))
    if not rows:
        return None
    return Lease(source=source, worker=str(rows[0][0]), expires_at=unstamp(rows[0][1]))


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
            tx.execute("DELETE FROM daemon_workers WHERE expires_at < ?", (stamp(prune_before),))
        tx.execute(
            "INSERT INTO daemon_workers (worker, machine, pid, held, wants, started_at, "
            "expires_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (worker) DO UPDATE SET "
            "held = excluded.held, wants = excluded.wants, expires_at = excluded.expires_at",
            (worker, machine, pid, held, wants, stamp(now), stamp(until)),
        )


def live_workers(store: Store, *, now: datetime) -> list[WorkerRecord]:
    """The workers whose heartbeat has not expired at ``now``, by id."""
    rows = store.query(
        "SELECT worker, machine, pid, held, wants, expires_at FROM daemon_workers "
        "WHERE expires_at > ? ORDER BY worker",
        (stamp(now),),
    )
    return [
        WorkerRecord(
            worker=str(r[0]),
            machine=str(r[1]),
            pid=int(r[2]),
            held=int(r[3]),
            wants=int(r[4]),
            expires_at=unstamp(r[5]),
        )
        for r in rows
    ]


def forget_worker(store: Store, worker: str, *, now: datetime) -> None:
    """``worker`` is gone (stopped, or known dead): free its leases and full-text claims at
    once and drop its heartbeat, in one transaction."""
    with store.transaction() as tx:
        tx.execute(
            "UPDATE source_leases SET worker = ?, expires_at = ? WHERE worker = ?",
            (FREE, stamp(now), worker),
        )
        release_claims(tx, worker)
        tx.execute("DELETE FROM daemon_workers WHERE worker = ?", (worker,))
