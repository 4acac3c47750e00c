"""The SQL of the derive queue: the change log read after ``derive_mark`` (the seq through
which every change is derived), the mark itself, and the counts of ``item_faults``. The
driver that moves the mark is :mod:`finews.derive.driver`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from finews.errors import StoreError
from finews.models import Item
from finews.store.columns import in_list, item_columns, item_from_row

if TYPE_CHECKING:
    from finews.store.base import Store, Transaction

__all__ = [
    "changed_items",
    "derive_backlog",
    "derive_mark",
    "derived_through",
    "fault_counts",
    "mark_derived_inline",
    "mark_derived_through",
    "set_derive_mark",
]

_NO_MARK = "derive_mark has no 'derived' row: run `finews migrate`"


def derive_mark(tx: Transaction) -> int:
    """The mark, read inside a deriving transaction."""
    row = tx.execute("SELECT seq FROM derive_mark WHERE name = 'derived'").fetchone()
    if row is None:
        raise StoreError(_NO_MARK)
    return int(row[0])


def changed_items(tx: Transaction, after: int, limit: int) -> tuple[int, int, list[Item]]:
    """The next ``limit`` changes after seq ``after``: how many there are, the last one's
    seq, and their items at their current revision, by id."""
    changes = tx.execute(
        f"SELECT seq, item_id FROM changes WHERE seq > ? ORDER BY seq LIMIT {int(limit)}",
        (after,),
    ).fetchall()
    if not changes:
        return 0, after, []
    marks, ids = in_list(sorted({int(item_id) for _, item_id in changes}))
    rows = tx.execute(
        f"SELECT {item_columns('i')} FROM items i WHERE i.id IN ({marks}) ORDER BY i.id", ids
    ).fetchall()
    return len(changes), int(changes[-1][0]), [item_from_row(row) for row in rows]


def mark_derived_inline(tx: Transaction, first: int) -> None:
    """After deriving this transaction's changes (``first`` and every later seq, the
    change log's tail while its lock is held): move the mark to the end, unless an
    earlier change is still waiting to be derived."""
    tx.execute(
        "UPDATE derive_mark SET seq = (SELECT MAX(seq) FROM changes) "
        "WHERE name = 'derived' AND NOT EXISTS "
        "(SELECT 1 FROM changes WHERE seq > derive_mark.seq AND seq < ?)",
        (first,),
    )


def set_derive_mark(tx: Transaction, seq: int) -> None:
    tx.execute("UPDATE derive_mark SET seq = ? WHERE name = 'derived'", (seq,))


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
        tx.execute("UPDATE derive_mark SET seq = ? WHERE name = 'derived' AND seq < ?", (seq, seq))


def derived_through(store: Store) -> int:
    """The seq through which every change is derived (indexed and in its story): the
    changes after it may still form, merge or split stories."""
    rows = store.query("SELECT seq FROM derive_mark WHERE name = 'derived'")
    if not rows:
        raise StoreError(_NO_MARK)
    return int(rows[0][0])


def fault_counts(store: Store) -> dict[str, int]:
    """How many items have a recorded fault, by stage: ``store`` (dropped), ``index`` and
    ``stories`` (left out of them), ``normalize`` (a value replaced); see ``item_faults``."""
    rows = store.query("SELECT stage, COUNT(*) FROM item_faults GROUP BY stage ORDER BY stage")
    return {str(stage): int(count) for stage, count in rows}
