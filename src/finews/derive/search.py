"""Search, a reader of the change log: each item's search terms, kept at its revision."""

from __future__ import annotations

from collections.abc import Sequence

from finews.models import Item
from finews.store import Store, Transaction
from finews.store.columns import in_list

__all__ = ["Search"]


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


class Search:
    """Indexes items for full-text search (``search_docs`` and the engine's index)."""

    stage = "index"

    def __init__(self, store: Store) -> None:
        self.store = store

    def update(self, tx: Transaction, items: Sequence[tuple[int, Item]]) -> None:
        held = held_revisions(tx, "search_docs", [item_id for item_id, _ in items])
        for item_id, item in items:
            if held.get(item_id) != item.revision:
                self.store._index_item(tx, item_id, item, item.revision)  # type: ignore[attr-defined]

    def forget(self) -> None:
        """Nothing is cached between rounds."""
