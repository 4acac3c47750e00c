"""The only SQL in finews: one :class:`Store` interface, a SQLite and a PostgreSQL backend.

``open_store(url)`` picks the backend from the database URL and applies migrations; the store
it returns stores and reads. :func:`finews.derive.open_store` opens it wired to what derives
the search index and the stories inside each write.
"""

from __future__ import annotations

from finews.errors import StoreError
from finews.store.base import Change, ItemQuery, Store, Transaction

__all__ = ["Change", "ItemQuery", "Store", "Transaction", "open_store"]


def open_store(url: str, *, migrate: bool = True) -> Store:
    """Open the database at ``url`` (``sqlite:///…`` or ``postgresql://…``)."""
    store: Store
    if url.startswith("sqlite:"):
        from finews.store.sqlite import SqliteStore

        store = SqliteStore(url)
    elif url.startswith(("postgresql:", "postgres:")):
        _require_psycopg()
        from finews.store.postgres import PostgresStore

        store = PostgresStore(url)
    else:
        raise StoreError(
            f"database_url {url!r} is not supported: use sqlite:///path/to/finews.db "
            "or postgresql://user@host/dbname"
        )
    if migrate:
        store.migrate()
    return store


def _require_psycopg() -> None:
    """PostgreSQL support is an extra (``finews[postgres]``): say how to get it."""
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        raise StoreError(
            "database_url is a PostgreSQL URL, but PostgreSQL support is not installed: "
            "pip install 'finews[postgres]' (it brings the psycopg driver), or use "
            "sqlite:///path/to/finews.db"
        ) from exc
