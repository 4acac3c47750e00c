"""HTTP validators per source: what conditional GET needs to remember between polls.

One row per source (table ``http_validators``, migration 0005): the ETag and Last-Modified
of the newest page the source's last successful poll stored, and the request they answer.
Functions take an open store and use its public ``transaction()`` and ``query()``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from finews.models import Validators
from finews.store.base import Store
from finews.store.times import to_db_time

__all__ = [
    "Validators",
    "forget_validators",
    "keep_validators",
    "load_validators",
    "save_validators",
]


def load_validators(store: Store, source: str) -> Validators | None:
    """The validators stored for ``source``; ``None`` when there are none."""
    rows = store.query(
        "SELECT request_url, etag, last_modified FROM http_validators WHERE source = ?",
        (source,),
    )
    if not rows:
        return None
    url, etag, modified = rows[0]
    return Validators(str(url), etag, modified)


def save_validators(
    store: Store, source: str, validators: Validators, *, now: datetime | None = None
) -> None:
    """Store (or replace) ``source``'s validators."""
    at = to_db_time(now if now is not None else datetime.now(UTC))
    with store.transaction() as tx:
        tx.execute(
            "INSERT INTO http_validators (source, request_url, etag, last_modified, updated_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (source) DO UPDATE SET "
            "request_url = excluded.request_url, etag = excluded.etag, "
            "last_modified = excluded.last_modified, updated_at = excluded.updated_at",
            (source, validators.request_url, validators.etag, validators.last_modified, at),
        )


def forget_validators(store: Store, source: str) -> None:
    """Drop ``source``'s validators (its upstream stopped sending any)."""
    with store.transaction() as tx:
        tx.execute("DELETE FROM http_validators WHERE source = ?", (source,))


def keep_validators(store: Store, source: str, validators: Validators | None) -> None:
    """Keep the validators of a poll's newest page for the next poll, or forget the old
    ones when the upstream sent none (``None``)."""
    if validators is None:
        forget_validators(store, source)
    else:
        save_validators(store, source, validators)
