"""Whether each source's upstream looks changed: one row per source (table
``source_formats``, migration 0011), written by :mod:`finews.formatwatch` after each poll
and read by ``finews sources``, ``/status`` and ``/metrics``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from finews.store.base import Store
from finews.store.times import from_db_time, to_db_time

__all__ = ["FormatState", "load_format", "save_format"]


@dataclass(frozen=True, slots=True)
class FormatState:
    """One source's format watch: the alarm (``None`` while replies look as expected),
    when it was raised, how many replies looked changed in all, whether a reply ever held
    items, and the file holding the latest suspicious reply (``None`` when none was kept)."""

    source: str
    alarm: str | None = None
    since: datetime | None = None
    errors: int = 0
    had_items: bool = False
    sample: str | None = None


def load_format(store: Store, source: str) -> FormatState:
    """``source``'s format watch (an untouched one before its first poll)."""
    rows = store.query(
        "SELECT alarm, since, errors, had_items, sample FROM source_formats WHERE source = ?",
        (source,),
    )
    if not rows:
        return FormatState(source)
    alarm, since, errors, had_items, sample = rows[0]
    return FormatState(
        source=source,
        alarm=alarm,
        since=from_db_time(since),
        errors=int(errors),
        had_items=bool(had_items),
        sample=sample,
    )


def save_format(store: Store, state: FormatState) -> None:
    """Store (or replace) one source's format watch."""
    with store.transaction() as tx:
        tx.execute(
            "INSERT INTO source_formats (source, alarm, since, errors, had_items, sample) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (source) DO UPDATE SET "
            "alarm = excluded.alarm, since = excluded.since, errors = excluded.errors, "
            "had_items = excluded.had_items, sample = excluded.sample",
            (
                state.source,
                state.alarm,
                to_db_time(state.since),
                state.errors,
                1 if state.had_items else 0,
                state.sample,
            ),
        )
