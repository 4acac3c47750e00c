"""How ``finews run`` workers take rows from each other: the times a lease or a claim
runs until, and the row lock of a taking ``SELECT``.

Shared by :mod:`finews.store.leases` (source leases, worker heartbeats),
:mod:`finews.store.fulltext` (claims on full-text jobs) and :mod:`finews.store.alerts`
(claims on the alert outbox, and its send times), which otherwise know nothing of each
other's tables.

Times here are the workers' clocks, as fixed-width UTC text with microseconds (text order
is time order); they are compared only with each other, so the clocks of the machines
running workers must agree to well within a lease period (NTP does).
"""

from __future__ import annotations

from datetime import UTC, datetime

from finews.errors import StoreError
from finews.store.base import Store

__all__ = ["skip_locked", "stamp", "unstamp"]

_STAMP = "%Y-%m-%dT%H:%M:%S.%fZ"


def stamp(moment: datetime) -> str:
    """``moment`` as stored in the lease, claim and outbox columns (fixed width with
    microseconds, so text sorts as time and a sender's backoff finer than a second holds)."""
    if moment.tzinfo is None:
        raise StoreError(f"naive datetime {moment!r}: claim times must be timezone-aware")
    return moment.astimezone(UTC).strftime(_STAMP)


def unstamp(text: str) -> datetime:
    """A stored lease, claim or outbox time back as an aware datetime."""
    return datetime.strptime(text, _STAMP).replace(tzinfo=UTC)


def skip_locked(store: Store) -> str:
    """The row-locking clause of a SELECT that takes rows: PostgreSQL locks what it takes
    and skips what others are taking; SQLite has no row locks (its write lock, taken at
    BEGIN IMMEDIATE, already keeps any other taker out until this one commits)."""
    return store.row_lock_clause + " SKIP LOCKED" if store.row_lock_clause else ""
