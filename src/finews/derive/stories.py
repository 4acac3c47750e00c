"""Stories, a reader of the change log: each item's place in a story, kept at its revision."""

from __future__ import annotations

from collections.abc import Sequence

from finews.models import Item
from finews.store import Store, Transaction
from finews.store.columns import in_list

__all__ = ["Stories"]


def held_revisions(tx: Transaction, table: str, ids: Sequence[int]) -> dict[int, int]:
    """The revision ``table`` (keyed by ``item_id``, with a ``revision``) holds per item."""
    held: dict[int, int] = {}
    for start in range(0, len(ids), 500):
        marks, chunk = in_list(ids[start : start + 500])
        rows = tx.execute(
            f"SELECT item_id, revision FROM {table} WHERE item_id IN ({marks})", chunk
        ).fetchall()
        held.update({int(row[0]): int(row[1]) for row in rows})
    return held


class Stories:
    """Puts items in their stories (``item_clusters``), holding the story window."""

    stage = "stories"

    def __init__(self, store: Store) -> None:
        self.store = store

    def update(self, tx: Transaction, items: Sequence[tuple[int, Item]]) -> None:
        held = held_revisions(tx, "item_clusters", [item_id for item_id, _ in items])
        pending = [(i, item) for i, item in items if held.get(i) != item.revision]
        if pending:
            self.store._cluster_items(tx, pending)  # type: ignore[attr-defined]

    def forget(self) -> None:
        self.store._forget_window()  # type: ignore[attr-defined]
