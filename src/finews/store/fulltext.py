"""The full-text queue: the items whose full text is still to fetch (table
``fulltext_queue``, migration 0003; its claims, migration 0004).

The queue holds one row per (source, upstream id). A poll adds rows *before* it stores the
items (``refresh_source``'s ``fulltext`` sink), so a crash between the two leaves a row
whose item the next poll stores; the worker deletes a row once the text is in, and marks
it ``failed`` when its attempts run out.

Several ``finews run`` workers share one queue by claiming the jobs they take
(``claimed_by`` / ``claimed_until``), so two workers never fetch one text. Claiming is one
transaction that selects the rows ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (concurrent
takers pass each other, and never both take a row), then writes the claim; SQLite's
``BEGIN IMMEDIATE`` lets one taker in at a time. A claim its worker stops renewing expires;
a worker known gone has its claims freed at once (:func:`release_claims`, in
:func:`finews.store.leases.forget_worker`'s transaction).

:class:`FulltextQueue` holds an open store and is the queue's one way in: the daemon's
full-text worker (:mod:`finews.daemon.fulltext`) adds, claims, renews, finishes and fails
jobs; ``finews sources``, the status pages and ``/metrics`` count them. It uses the store's
public ``query()`` and ``transaction()``, so the SQL runs unchanged on both engines.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from finews.redact import redact
from finews.store.base import Store, Transaction
from finews.store.claims import skip_locked, stamp
from finews.store.columns import in_list
from finews.store.times import from_db_time, to_db_time

__all__ = ["FAILED", "PENDING", "FulltextJob", "FulltextQueue", "QueueCounts", "release_claims"]

#: a job waiting for its full text
PENDING = "pending"
#: a job whose attempts ran out
FAILED = "failed"

_JOB_COLUMNS = "source, upstream_id, attempts, last_error"


@dataclass(frozen=True, slots=True)
class FulltextJob:
    """One item whose full text is still to fetch."""

    source: str
    upstream_id: str
    attempts: int = 0
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class QueueCounts:
    """How much full-text work there is: waiting (``pending``), and given up (``failed``)."""

    pending: int = 0
    failed: int = 0


def _job(row: Any) -> FulltextJob:
    return FulltextJob(source=row[0], upstream_id=row[1], attempts=int(row[2]), last_error=row[3])


def release_claims(tx: Transaction, worker: str) -> None:
    """Free every claim of ``worker`` (gone) in ``tx``: its jobs are due to others at once."""
    tx.execute(
        "UPDATE fulltext_queue SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = ?",
        (worker,),
    )


class FulltextQueue:
    """The full-text queue of the database ``store`` is open on; see the module docstring."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def enqueue(
        self, source: str, upstream_ids: Iterable[str], *, now: datetime | None = None
    ) -> None:
        """Queue the full text of these items (an item already queued keeps its row)."""
        at = to_db_time(_now(now))
        rows = [(source, uid, PENDING, at, at) for uid in dict.fromkeys(upstream_ids)]
        if not rows:
            return
        with self.store.transaction() as tx:
            tx.executemany(
                (
                    "INSERT INTO fulltext_queue (source, upstream_id, state, next_attempt, "
                    "queued_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (source, upstream_id) "
                    "DO NOTHING"
                ),
                rows,
            )

    def due(
        self,
        sources: Sequence[str],
        *,
        limit: int,
        exclude: Iterable[tuple[str, str]] = (),
        now: datetime | None = None,
    ) -> list[FulltextJob]:
        """Pending jobs of these sources whose next attempt is due, oldest first (skipping
        ``exclude``, the (source, upstream id) pairs already in hand), claimed or not."""
        if not sources or limit < 1:
            return []
        skip = set(exclude)
        marks, names = in_list(sources)
        rows = self.store.query(
            f"SELECT {_JOB_COLUMNS} FROM fulltext_queue "
            f"WHERE state = ? AND next_attempt <= ? AND source IN ({marks}) "
            f"ORDER BY next_attempt, queued_at LIMIT {int(limit + len(skip))}",
            [PENDING, to_db_time(_now(now)), *names],
        )
        jobs = [_job(r) for r in rows if (r[0], r[1]) not in skip]
        return jobs[:limit]

    def next_due(self, sources: Sequence[str]) -> datetime | None:
        """When the earliest pending job of these sources falls due (``None``: nothing
        queued)."""
        if not sources:
            return None
        marks, names = in_list(sources)
        rows = self.store.query(
            f"SELECT MIN(next_attempt) FROM fulltext_queue WHERE state = ? AND source IN ({marks})",
            [PENDING, *names],
        )
        return from_db_time(rows[0][0]) if rows else None

    def claim(
        self,
        worker: str,
        sources: Collection[str],
        *,
        limit: int,
        now: datetime,
        until: datetime,
    ) -> list[FulltextJob]:
        """Claim up to ``limit`` due jobs of these sources that nobody holds a live claim
        on, oldest due first, for ``worker`` until ``until``; return them."""
        if not sources or limit < 1:
            return []
        marks, names = in_list(sorted(sources))
        with self.store.transaction() as tx:
            tx.execute(
                f"SELECT {_JOB_COLUMNS} FROM fulltext_queue "
                f"WHERE state = ? AND next_attempt <= ? AND source IN ({marks}) "
                "AND (claimed_until IS NULL OR claimed_until <= ?) "
                f"ORDER BY next_attempt, queued_at LIMIT {int(limit)}" + skip_locked(self.store),
                # next_attempt is store time (whole seconds), claimed_until lease time
                [PENDING, to_db_time(now), *names, stamp(now)],
            )
            jobs = [_job(r) for r in tx.fetchall()]
            if jobs:
                tx.executemany(
                    (
                        "UPDATE fulltext_queue SET claimed_by = ?, claimed_until = ? "
                        "WHERE source = ? AND upstream_id = ?"
                    ),
                    [(worker, stamp(until), job.source, job.upstream_id) for job in jobs],
                )
        return jobs

    def renew(self, worker: str, jobs: Collection[tuple[str, str]], *, until: datetime) -> None:
        """Extend ``worker``'s claims on these (source, upstream id) jobs to ``until``."""
        if not jobs:
            return
        with self.store.transaction() as tx:
            tx.executemany(
                (
                    "UPDATE fulltext_queue SET claimed_until = ? "
                    "WHERE claimed_by = ? AND source = ? AND upstream_id = ?"
                ),
                [(stamp(until), worker, source, uid) for source, uid in sorted(jobs)],
            )

    def done(self, job: FulltextJob) -> None:
        """The job is finished (text stored, or the upstream has none): drop its row."""
        with self.store.transaction() as tx:
            tx.execute(
                "DELETE FROM fulltext_queue WHERE source = ? AND upstream_id = ?",
                (job.source, job.upstream_id),
            )

    def failed(self, job: FulltextJob, error: str, *, retry_at: datetime | None) -> None:
        """Record a failed attempt, due again at ``retry_at``; ``None`` gives the job up
        (state ``failed``). Either way the job leaves its worker's hands: its claim ends."""
        state = PENDING if retry_at is not None else FAILED
        at = to_db_time(retry_at if retry_at is not None else datetime.now(UTC))
        with self.store.transaction() as tx:
            tx.execute(
                "UPDATE fulltext_queue SET attempts = attempts + 1, last_error = ?, state = ?, "
                "next_attempt = ?, claimed_by = NULL, claimed_until = NULL "
                "WHERE source = ? AND upstream_id = ?",
                (redact(error)[:2000], state, at, job.source, job.upstream_id),
            )

    def counts(self, source: str | None = None) -> QueueCounts:
        """Pending and failed jobs (of one source, or all)."""
        where, params = ("WHERE source = ? ", [source]) if source is not None else ("", [])
        rows = self.store.query(
            f"SELECT state, COUNT(*) FROM fulltext_queue {where}GROUP BY state", params
        )
        found = {str(r[0]): int(r[1]) for r in rows}
        return QueueCounts(pending=found.get(PENDING, 0), failed=found.get(FAILED, 0))


def _now(now: datetime | None) -> datetime:
    return datetime.now(UTC) if now is None else now
