"""HTTP validators per source: what conditional GET needs to remember between polls.

One row per source (table ``http_validators``, migration 0005): the ETag and Last-Modified
of the newest page the source's last successful poll stored, and the request they answer.
Functions take an open store and use the :class:`~finews.store.base.SqlStore` helpers;
on a store that is not SQL they keep nothing (conditional GET is then simply off).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from finews.store.base import SqlStore, Store, to_db_time

__all__ = ["Validators", "forget_validators", "load_validators", "save_validators"]


@dataclass(frozen=True, slots=True)
class Validators:
    """The validators of one reply: ``request_url`` identifies the request (url and sorted
    query) they belong to; at least one of ``etag`` and ``last_modified`` is set."""

    request_url: str
    etag: str | None = None
    last_modified: str | None = None


def load_validators(store: Store, source: str) -> Validators | None:
    """The validators stored for ``source``; ``None`` when there are none."""
    if not isinstance(store, SqlStore):
        return None
    rows = store._query(
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
    if not isinstance(store, SqlStore):
        return
    at = to_db_time(now if now is not None else datetime.now(UTC))
    with store._tx() as cur:
        store._exec(
            cur,
            "INSERT INTO http_validators (source, request_url, etag, last_modified, updated_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (source) DO UPDATE SET "
            "request_url = excluded.request_url, etag = excluded.etag, "
            "last_modified = excluded.last_modified, updated_at = excluded.updated_at",
            (source, validators.request_url, validators.etag, validators.last_modified, at),
        )


def forget_validators(store: Store, source: str) -> None:
    """Drop ``source``'s validators (its upstream stopped sending any)."""
    if not isinstance(store, SqlStore):
        return
    with store._tx() as cur:
        store._exec(cur, "DELETE FROM http_validators WHERE source = ?", (source,))
