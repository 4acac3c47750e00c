"""What finews derives from the stored items, following the change log: the search index
(:class:`Search`), the stories (:class:`Stories`), the securities items name by name
(:class:`Mentions`), and what later readers keep.

``open_store(url)`` opens the store (:func:`finews.store.open_store`) wired to its readers,
so that ``upsert_items(derive=True)`` derives inside the write; :mod:`finews.derive.driver`
derives behind the writes (the daemon).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from finews.derive.driver import (
    DEFAULT_BATCH,
    Deriver,
    Reader,
    derive_all,
    derive_backlog,
    derive_pending,
    derived_through,
    fault_counts,
    mark_derived_through,
)
from finews.derive.mentions import Mentions
from finews.derive.search import Search
from finews.derive.stories import Stories
from finews.process.stories.parameters import ALGORITHM_VERSION
from finews.store import Store, Transaction
from finews.store import open_store as open_bare_store

__all__ = [
    "DEFAULT_BATCH",
    "Deriver",
    "Mentions",
    "Reader",
    "Search",
    "Stories",
    "Transaction",
    "default_readers",
    "derive_all",
    "derive_backlog",
    "derive_pending",
    "derived_through",
    "fault_counts",
    "mark_derived_through",
    "open_store",
    "wire",
]

#: makes a reader for a store; :func:`open_store` takes more of them (``readers=``)
ReaderFactory = Callable[[Store], Reader]


def default_readers(store: Store) -> list[Reader]:
    """Search, Stories, then Mentions (names of securities): the readers every store
    derives."""
    return [Search(store), Stories(store), Mentions(store)]


def wire(store: Store, readers: Sequence[ReaderFactory] = ()) -> Store:
    """Give ``store`` its deriver: the default readers, then ``readers`` (in order: a
    reader sees what the ones before it wrote in the same transaction)."""
    store.deriver = Deriver([*default_readers(store), *(make(store) for make in readers)])
    store.derived_versions = {"clusters": ALGORITHM_VERSION}
    return store


def open_store(url: str, *, migrate: bool = True, readers: Sequence[ReaderFactory] = ()) -> Store:
    """Open the database at ``url`` with its readers (:func:`wire`), applying migrations
    unless ``migrate`` is false."""
    store = wire(open_bare_store(url, migrate=False), readers)
    if migrate:
        store.migrate()
    return store
