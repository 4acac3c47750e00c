"""Stories, a reader of the change log: each item's place in a story, kept at its revision."""

from __future__ import annotations

from collections.abc import Sequence

from finews.derive.search import held_revisions
from finews.models import Item
from finews.store import Store, Transaction

__all__ = ["Stories"]


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
