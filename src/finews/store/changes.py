"""The change log (table ``changes``): one entry each time an item is stored (``new``) or
edited (``update``), appended in the transaction that writes it (:mod:`finews.store.items`),
in the order sequence numbers were handed out (:meth:`Transaction.lock_change_log`). Live
pages follow it (:func:`changes_since`); the derive queue reads it after its mark
(:mod:`finews.store.marks`).
"""

from __future__ import annotations

from finews.store.base import Change, Store, Transaction

__all__ = ["changes_since", "last_change_seq", "log_change"]


def log_change(tx: Transaction, item_id: int, kind: str, now: str | None) -> int:
    """Append to the change log; return the entry's sequence number."""
    tx.execute(
        "INSERT INTO changes (item_id, kind, at) VALUES (?, ?, ?) RETURNING seq",
        (item_id, kind, now),
    )
    return int(tx.fetchone()[0])


def changes_since(store: Store, seq: int, limit: int = 1000) -> list[Change]:
    """Change-log entries after ``seq``, oldest first."""
    rows = store.query(
        f"SELECT seq, item_id, kind FROM changes WHERE seq > ? ORDER BY seq LIMIT {int(limit)}",
        (seq,),
    )
    return [Change(seq=int(r[0]), item_id=int(r[1]), kind=r[2]) for r in rows]


def last_change_seq(store: Store) -> int:
    """The newest change-log sequence number (0 when empty)."""
    rows = store.query("SELECT MAX(seq) FROM changes")
    return int(rows[0][0] or 0)
