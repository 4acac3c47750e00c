"""The search index and the stories, following the change log.

Every stored item gets two kinds of derived rows: its search terms (:mod:`finews.store.search`)
and its place in a story (:mod:`finews.store.clusters`). A writer either derives its own
items inside its write (``upsert_items(derive=True)``, the default: what ``finews fetch``,
the importers and the tests use, so an item is searchable the moment it is committed) or
leaves them to :func:`derive_pending` (``derive=False``: the daemon, which runs it on a
thread of its own). Deriving costs about thirty times what storing a row does (bigram
tokens, the FTS insert, the story fingerprint; BENCHMARKS.md, "Ingest throughput"), so
taking it out of the write keeps the write transaction, and with it the change-log lock
that every writer queues for, short: a poll's items are committed and announced to live
pages at once, and searchable a moment later.

The queue is the change log itself: ``derive_mark`` holds the seq through which every
change is derived. :func:`derive_pending` takes the changes after it, oldest first, brings
the index and the stories of their items up to the items' current revision (an item
derived already, by an inline writer or an earlier round, is skipped), and moves the mark
in the same transaction, so a crash at any moment repeats at most one round and loses
nothing. One deriver runs at a time (the derive lock; SQLite's write lock); writers that
derive inline take the same lock, after the change-log lock, never the other way round.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from finews.errors import StoreError
from finews.store.columns import ITEM_FIELDS, in_list, item_columns

if TYPE_CHECKING:
    from finews.store.base import Store, Transaction

__all__ = [
    "DEFAULT_BATCH",
    "derive_all",
    "derive_backlog",
    "derive_pending",
    "derived_through",
    "fault_counts",
    "mark_derived_through",
]

#: Changes derived per transaction by default (a 7x24 page): about half a second of work
#: on 1,500-character articles, the longest a round keeps SQLite's writers waiting; each
#: round also reads the stories around its items, a fixed cost that smaller rounds pay
#: more often (clustering at a million items: 1,653 items/s in rounds of 50, 2,333 in
#: rounds of 200; BENCHMARKS.md).
DEFAULT_BATCH = 200

#: an item's columns, then the revisions its index entry and its story were made from
_COLUMNS = f"{item_columns('i')}, d.revision, c.revision"
_FIELDS = len(ITEM_FIELDS)


def _mark(tx: Transaction) -> int:
    tx.execute("SELECT seq FROM derive_mark WHERE name = 'derived'")
    row = tx.fetchone()
    if row is None:
        raise StoreError("derive_mark has no 'derived' row: run `finews migrate`")
    return int(row[0])


def derive_pending(store: Store, *, limit: int = DEFAULT_BATCH) -> int:
    """Derive the next ``limit`` changes after the mark in one transaction; return how
    many changes it covered (0: nothing was waiting)."""
    from finews.store.base import SqlStore
    from finews.store.search import _row_item

    if not isinstance(store, SqlStore):
        raise StoreError(f"{type(store).__name__} keeps no search index or stories")

    with store.transaction() as tx:
        tx.lock_derived()
        mark = _mark(tx)
        tx.execute(
            f"SELECT seq, item_id FROM changes WHERE seq > ? ORDER BY seq LIMIT {int(limit)}",
            (mark,),
        )
        changes = tx.fetchall()
        if not changes:
            return 0
        marks, ids = in_list(sorted({int(item_id) for _, item_id in changes}))
        tx.execute(
            f"SELECT {_COLUMNS} FROM items i "
            "LEFT JOIN search_docs d ON d.item_id = i.id "
            "LEFT JOIN item_clusters c ON c.item_id = i.id "
            f"WHERE i.id IN ({marks})",
            ids,
        )
        unindexed, unclustered = [], []
        for row in tx.fetchall():
            item = _row_item(row[:_FIELDS])
            assert item.id is not None
            indexed, clustered = row[_FIELDS], row[_FIELDS + 1]
            if indexed is None or int(indexed) != item.revision:
                unindexed.append((item.id, item))
            if clustered is None or int(clustered) != item.revision:
                unclustered.append((item.id, item))
        # an item that fails either step is left out of it and recorded, never retried
        # round after round: the mark moves past it all the same
        store._derive_written(tx, unindexed, unclustered, read_revision=False)
        tx.execute(
            "UPDATE derive_mark SET seq = ? WHERE name = 'derived'",
            (int(changes[-1][0]),),
        )
        return len(changes)


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


def derive_backlog(store: Store) -> int:
    """How many changes wait to be derived."""
    rows = store.query(
        "SELECT COUNT(*) FROM changes WHERE seq > "
        "(SELECT seq FROM derive_mark WHERE name = 'derived')"
    )
    return int(rows[0][0])


def mark_derived_through(store: Store, seq: int) -> None:
    """Record that every change up to ``seq`` is derived: call it after rebuilding or
    syncing the whole index and stories (``finews reindex``, ``copy_db``) with the
    :meth:`~finews.store.base.Store.last_change_seq` read *before* the rebuild began, so
    every change up to it was committed, and derived, by then. The mark never moves back."""
    with store.transaction() as tx:
        tx.lock_derived()
        tx.execute(
            "UPDATE derive_mark SET seq = ? WHERE name = 'derived' AND seq < ?",
            (seq, seq),
        )


def derived_through(store: Store) -> int:
    """The seq through which every change is derived (indexed and in its story): the
    changes after it may still form, merge or split stories."""
    rows = store.query("SELECT seq FROM derive_mark WHERE name = 'derived'")
    if not rows:
        raise StoreError("derive_mark has no 'derived' row: run `finews migrate`")
    return int(rows[0][0])


def fault_counts(store: Store) -> dict[str, int]:
    """How many items have a recorded fault, by stage: ``store`` (dropped), ``index`` and
    ``stories`` (left out of them), ``normalize`` (a value replaced); see ``item_faults``."""
    rows = store.query("SELECT stage, COUNT(*) FROM item_faults GROUP BY stage ORDER BY stage")
    return {str(stage): int(count) for stage, count in rows}
