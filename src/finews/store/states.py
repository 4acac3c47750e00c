"""Each source's persisted state (table ``source_state``): when it was last polled and
succeeded, its last error (redacted when written and again when read), its failures in a
row, when it is due, and where its walk back through the upstream's pages stands. A poll's
state is written in the transaction of the page it describes (:mod:`finews.store.items`).
"""

from __future__ import annotations

from typing import Any

from finews.errors import StoreError
from finews.models import SourceState
from finews.redact import redact
from finews.store.base import Store, Transaction
from finews.store.times import from_db_time, to_db_time

__all__ = ["get_state", "save_state", "state_values", "write_state"]


def get_state(store: Store, source: str) -> SourceState:
    """The persisted state of a source (an empty one if never polled)."""
    rows = store.query(
        "SELECT last_attempt, last_success, last_error, consecutive_failures, next_poll, "
        "cursor FROM source_state WHERE source = ?",
        (source,),
    )
    if not rows:
        return SourceState(source=source)
    row = rows[0]
    return SourceState(
        source=source,
        last_attempt=from_db_time(row[0]),
        last_success=from_db_time(row[1]),
        # redacted when read too: an error stored before redaction existed
        last_error=None if row[2] is None else redact(row[2]),
        consecutive_failures=int(row[3]),
        next_poll=from_db_time(row[4]),
        cursor=row[5],
    )


def save_state(store: Store, state: SourceState) -> None:
    """Persist a source's state."""
    values = state_values(state)
    with store.transaction() as tx:
        write_state(tx, values)


def state_values(state: SourceState) -> tuple[Any, ...]:
    """The row of ``state``, checked before any write (a NUL cannot be stored)."""
    values = (
        state.source,
        to_db_time(state.last_attempt),
        to_db_time(state.last_success),
        None if state.last_error is None else redact(state.last_error),
        state.consecutive_failures,
        to_db_time(state.next_poll),
        state.cursor,
    )
    if any(isinstance(v, str) and "\x00" in v for v in values):
        raise StoreError(f"state of {state.source}: text contains a NUL character")
    return values


def write_state(tx: Transaction, values: tuple[Any, ...]) -> None:
    """Write a row of :func:`state_values`, inserted or replacing the source's."""
    # one statement, so two workers saving the same new source cannot both insert
    tx.execute(
        "INSERT INTO source_state (source, last_attempt, last_success, last_error, "
        "consecutive_failures, next_poll, cursor) VALUES (?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (source) DO UPDATE SET last_attempt = excluded.last_attempt, "
        "last_success = excluded.last_success, last_error = excluded.last_error, "
        "consecutive_failures = excluded.consecutive_failures, "
        "next_poll = excluded.next_poll, cursor = excluded.cursor",
        values,
    )
