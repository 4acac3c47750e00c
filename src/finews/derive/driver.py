"""The derive driver: readers of the change log (search, stories, next rules) brought up to
date with the items, inline in a write or behind it.

Every stored item gets derived rows from each :class:`Reader` in turn: its search terms
(:class:`~finews.derive.search.Search`), its place in a story
(:class:`~finews.derive.stories.Stories`), and whatever a later reader keeps (rules read the
story ids Stories just wrote, so order matters). A writer either derives its own items inside
its write (``upsert_items(derive=True)``, the default: what ``finews fetch``, the importers
and the tests use, so an item is searchable the moment it is committed; the store calls the
:class:`Deriver` it was opened with, see :func:`finews.derive.open_store`) or leaves them to
:func:`derive_pending` (``derive=False``: the daemon, which runs it on a thread of its own).
Deriving costs about thirty times what storing a row does (bigram tokens, the FTS insert, the
story fingerprint; BENCHMARKS.md, "Ingest throughput"), so taking it out of the write keeps
the write transaction, and with it the change-log lock that every writer queues for, short:
a poll's items are committed and announced to live pages at once, and searchable a moment
later.

The queue is the change log itself: ``derive_mark`` holds the seq through which every
change is derived. :func:`derive_pending` takes the changes after it, oldest first, hands
their items (at their current revision) to every reader, which brings its rows up to that
revision (an item derived already, by an inline writer or an earlier round, is skipped by
the reader), and moves the mark in the same transaction, so a crash at any moment repeats
at most one round and loses nothing. One deriver runs at a time (the derive lock; SQLite's
write lock); writers that derive inline take the same lock, after the change-log lock,
never the other way round.

One bad item never blocks the queue: each reader runs on the whole round under a savepoint;
if an item makes it fail, the reader's work is rolled back, its caches dropped
(:meth:`Reader.forget`), and it runs again item by item, each under a savepoint, leaving out
(logged, kept in ``item_faults`` under the reader's ``stage``) the items that fail. The mark
moves past them all the same.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Protocol

from finews.errors import StoreError
from finews.models import Item
from finews.store import Store, Transaction
from finews.store.base import printable
from finews.store.marks import (
    changed_items,
    derive_backlog,
    derive_mark,
    derived_through,
    fault_counts,
    mark_derived_through,
    set_derive_mark,
)

__all__ = [
    "DEFAULT_BATCH",
    "Deriver",
    "Reader",
    "derive_all",
    "derive_backlog",
    "derive_pending",
    "derived_through",
    "fault_counts",
    "mark_derived_through",
]

log = logging.getLogger("finews.derive")

#: Changes derived per transaction by default (a 7x24 page): about half a second of work
#: on 1,500-character articles, the longest a round keeps SQLite's writers waiting; each
#: round also reads the stories around its items, a fixed cost that smaller rounds pay
#: more often (clustering at a million items: 1,653 items/s in rounds of 50, 2,333 in
#: rounds of 200; BENCHMARKS.md).
DEFAULT_BATCH = 200

#: what a reader left out is logged as
_WHAT = {"index": "search index", "stories": "stories"}


class Reader(Protocol):
    """One kind of derived data, fed by the change log."""

    #: the ``item_faults`` stage an item it fails on is recorded under
    stage: str

    def update(self, tx: Transaction, items: Sequence[tuple[int, Item]]) -> None:
        """Bring this reader's rows up to date for ``items`` (row id, item at its current
        revision; each item once), inside ``tx``. An item whose rows are current already
        is skipped."""

    def forget(self) -> None:
        """Drop in-memory caches: a rollback undid part of what they describe."""


class Deriver:
    """The readers of one store, run in order over the items of a write or a round; a
    store opened by :func:`finews.derive.open_store` calls it inside ``upsert_items``."""

    def __init__(self, readers: Sequence[Reader]) -> None:
        self.readers = tuple(readers)

    def __call__(self, tx: Transaction, items: Sequence[tuple[int, Item]]) -> None:
        latest = list(dict(items).items())  # an item listed twice counts as it stands last
        if not latest:
            return
        for reader in self.readers:
            self._isolated(tx, reader, latest)

    def forget(self) -> None:
        for reader in self.readers:
            reader.forget()

    def _isolated(self, tx: Transaction, reader: Reader, items: list[tuple[int, Item]]) -> None:
        """``reader.update`` on every item; if an item makes it fail, item by item instead,
        skipping (and recording) the ones that fail."""
        try:
            with tx.savepoint():
                reader.update(tx, items)
            return
        except Exception as exc:
            if not tx.store.item_fault(exc):
                raise
        reader.forget()  # its cache may hold what the rollback undid
        for item_id, item in items:
            try:
                with tx.savepoint():
                    reader.update(tx, [(item_id, item)])
            except Exception as exc:
                if not tx.store.item_fault(exc):
                    raise
                reader.forget()
                _fault(tx, item, reader.stage, exc)


def _fault(tx: Transaction, item: Item, stage: str, exc: BaseException) -> None:
    detail = f"{type(exc).__name__}: {exc}"
    log.error(
        "source=%s id=%s left out of the %s: %s",
        printable(item.source),
        printable(item.upstream_id),
        _WHAT.get(stage, stage),
        printable(detail),
    )
    tx.record_fault(item.source, item.upstream_id, stage, detail)


def deriver_of(store: Store) -> Deriver:
    """The deriver ``store`` was opened with (:func:`finews.derive.open_store`)."""
    deriver = store.deriver
    if not isinstance(deriver, Deriver):
        raise StoreError(
            "this store was opened without its derived data (search index, stories): "
            "open it with finews.derive.open_store to derive"
        )
    return deriver


def derive_pending(store: Store, *, limit: int = DEFAULT_BATCH) -> int:
    """Derive the next ``limit`` changes after the mark in one transaction; return how
    many changes it covered (0: nothing was waiting)."""
    deriver = deriver_of(store)
    with store.transaction() as tx:
        tx.lock_derived()
        count, last, items = changed_items(tx, derive_mark(tx), limit)
        if not count:
            return 0
        # an item that fails a reader is left out of it and recorded, never retried
        # round after round: the mark moves past it all the same
        deriver(tx, [(item.id, item) for item in items if item.id is not None])
        set_derive_mark(tx, last)
        return count


def derive_all(
    store: Store,
    *,
    limit: int = DEFAULT_BATCH,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Derive until nothing waits; return how many changes that covered."""
    done = 0
    while covered := derive_pending(store, limit=limit):
        done += covered
        if progress is not None:
            progress(done)
    return done
