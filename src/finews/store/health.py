"""Sources' health: poll totals, and the per-source health that ``finews sources``, the
status page and ``/metrics`` show.

Functions here take an open :class:`~finews.store.base.Store` and use its public
``query()`` and ``transaction()``, so the SQL stays in ``store/`` and runs unchanged on SQLite
and PostgreSQL (tables from migration 0003). Nothing here talks to the network. A source's
health counts its full-text jobs through :class:`~finews.store.fulltext.FulltextQueue`.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from finews.errors import StoreError
from finews.models import SourceState
from finews.store.base import Store
from finews.store.formats import FormatState, load_format
from finews.store.fulltext import FulltextQueue, QueueCounts
from finews.store.times import from_db_time, to_db_time

__all__ = [
    "SourceHealth",
    "SourceStats",
    "database_problem",
    "health_sources",
    "record_poll",
    "source_health",
    "source_stats",
    "source_stats_of",
]

#: items looked at, at most, for the median delay of one source over a day
_DELAY_SAMPLE = 5000


def _now(now: datetime | None) -> datetime:
    return datetime.now(UTC) if now is None else now


# --- poll totals -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SourceStats:
    """Running totals of one source's polls since its first (kept across restarts)."""

    source: str
    polls: int = 0
    failures: int = 0
    items_new: int = 0
    items_updated: int = 0
    poll_seconds: float = 0.0
    last_poll_seconds: float | None = None
    retry_after: float | None = None


def record_poll(
    store: Store,
    source: str,
    *,
    ok: bool,
    new: int,
    updated: int,
    elapsed: float,
    next_poll: datetime,
    retry_after: float | None = None,
) -> None:
    """Add one poll to the source's totals and set when it is polled next, in one
    transaction (the rest of its state was saved by the poll itself)."""
    with store.transaction() as tx:
        tx.execute(
            "INSERT INTO source_stats (source, polls, failures, items_new, items_updated, "
            "poll_seconds, last_poll_seconds, retry_after) VALUES (?, 1, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (source) DO UPDATE SET polls = source_stats.polls + 1, "
            "failures = source_stats.failures + excluded.failures, "
            "items_new = source_stats.items_new + excluded.items_new, "
            "items_updated = source_stats.items_updated + excluded.items_updated, "
            "poll_seconds = source_stats.poll_seconds + excluded.poll_seconds, "
            "last_poll_seconds = excluded.last_poll_seconds, "
            "retry_after = excluded.retry_after",
            (source, 0 if ok else 1, new, updated, elapsed, elapsed, retry_after),
        )
        # the poll saved its state already; an UPDATE that finds no row (state never saved
        # because the store refused it) is harmless: the source is simply due at start-up
        tx.execute(
            "UPDATE source_state SET next_poll = ? WHERE source = ?",
            (to_db_time(next_poll), source),
        )


def source_stats(store: Store) -> dict[str, SourceStats]:
    """Every source's running totals, by source id."""
    rows = store.query(
        "SELECT source, polls, failures, items_new, items_updated, poll_seconds, "
        "last_poll_seconds, retry_after FROM source_stats"
    )
    return {
        r[0]: SourceStats(
            source=r[0],
            polls=int(r[1]),
            failures=int(r[2]),
            items_new=int(r[3]),
            items_updated=int(r[4]),
            poll_seconds=float(r[5]),
            last_poll_seconds=None if r[6] is None else float(r[6]),
            retry_after=None if r[7] is None else float(r[7]),
        )
        for r in rows
    }


# --- health ----------------------------------------------------------------------------


def database_problem(store: Store) -> str | None:
    """Why the database cannot serve (``None`` when it answers and is migrated)."""
    try:
        store.query("SELECT 1")
    except StoreError as exc:
        return str(exc)
    if store.schema_version() == 0:
        return "the database has no finews schema: run `finews migrate`"
    return None


def health_sources(store: Store) -> list[str]:
    """Every source with a recorded state or poll totals, sorted."""
    rows = store.query("SELECT source FROM source_state UNION SELECT source FROM source_stats")
    return sorted(str(r[0]) for r in rows)


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """One source's health, as every report of it shows it.

    ``items_hour`` / ``items_day`` count items first stored in the last hour / day;
    ``median_delay`` is the median, over the items stored in the last day, of the seconds
    from the upstream's publication time to storing (``None`` without such items).
    ``in_backoff``: the source failed its last poll and waits longer than usual.
    """

    state: SourceState
    stats: SourceStats
    items: int
    items_hour: int
    items_day: int
    median_delay: float | None
    queue: QueueCounts
    #: whether the upstream looks changed (migration 0011; see finews.formatwatch)
    format: FormatState

    @property
    def in_backoff(self) -> bool:
        """Whether the source is waiting out failures (or a ``Retry-After``)."""
        return self.state.consecutive_failures > 0


def _count_since(store: Store, source: str, since: datetime) -> int:
    rows = store.query(
        "SELECT COUNT(*) FROM items WHERE source = ? AND fetched_at >= ?",
        (source, to_db_time(since)),
    )
    return int(rows[0][0])


def _median_delay(store: Store, source: str, since: datetime) -> float | None:
    rows = store.query(
        "SELECT published_at, fetched_at FROM items WHERE source = ? AND fetched_at >= ? "
        f"ORDER BY fetched_at DESC LIMIT {_DELAY_SAMPLE}",
        (source, to_db_time(since)),
    )
    delays = []
    for published_text, fetched_text in rows:
        published, fetched = from_db_time(published_text), from_db_time(fetched_text)
        if published is not None and fetched is not None:
            # an upstream clock ahead of ours would give a negative delay: it is none
            delays.append(max(0.0, (fetched - published).total_seconds()))
    return statistics.median(delays) if delays else None


def source_health(store: Store, source: str, *, now: datetime | None = None) -> SourceHealth:
    """Everything known about one source's health."""
    moment = _now(now)
    day_ago = moment - timedelta(days=1)
    return SourceHealth(
        state=store.get_state(source),
        stats=source_stats_of(store, source),
        items=store.count_items(source),
        items_hour=_count_since(store, source, moment - timedelta(hours=1)),
        items_day=_count_since(store, source, day_ago),
        median_delay=_median_delay(store, source, day_ago),
        queue=FulltextQueue(store).counts(source),
        format=load_format(store, source),
    )


def source_stats_of(store: Store, source: str) -> SourceStats:
    """One source's running totals (zeros before its first recorded poll)."""
    rows = store.query(
        "SELECT polls, failures, items_new, items_updated, poll_seconds, last_poll_seconds, "
        "retry_after FROM source_stats WHERE source = ?",
        (source,),
    )
    if not rows:
        return SourceStats(source=source)
    r = rows[0]
    return SourceStats(
        source=source,
        polls=int(r[0]),
        failures=int(r[1]),
        items_new=int(r[2]),
        items_updated=int(r[3]),
        poll_seconds=float(r[4]),
        last_poll_seconds=None if r[5] is None else float(r[5]),
        retry_after=None if r[6] is None else float(r[6]),
    )
