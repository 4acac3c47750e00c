"""Mentions by known name: a reader of the change log (``stage = "mentions"``, run after
Search and Stories) that finds the names of the directory of securities
(:mod:`finews.store.securities`, table ``securities``) in each new or edited item's title
and digest, and keeps them in ``item_stocks`` as ``name:<code>`` keys
(:func:`finews.store.stocks.name_key`), so ``ItemQuery.stock`` and the pages built on it
find the item, marked as named (提及（名称）) rather than tagged or naming the code.

One :class:`~finews.sources.securities.NameMatcher` is held, built again when the
directory changes (its row count or newest ``updated_at``: one small query a round). An
item is read when it is stored or edited: one stored before a name was learned is not
read again (``finews reindex`` does not either).
"""

from __future__ import annotations

from collections.abc import Sequence

from finews.models import Item
from finews.sources.securities import NameMatcher
from finews.store import Store, Transaction
from finews.store.stocks import NAME_KEY, name_key

__all__ = ["Mentions"]


class Mentions:
    """The reader of names (see the module docstring)."""

    stage = "mentions"

    def __init__(self, store: Store) -> None:
        self.store = store
        self._version: tuple[object, ...] | None = None
        self._matcher = NameMatcher({})

    def forget(self) -> None:
        self._version = None

    def _current(self, tx: Transaction) -> NameMatcher:
        version = tuple(
            tx.execute("SELECT COUNT(*), MAX(updated_at) FROM securities").fetchone() or ()
        )
        if version != self._version:
            names = tx.execute("SELECT code, name FROM securities").fetchall()
            self._matcher = NameMatcher({str(code): str(name) for code, name in names})
            self._version = version
        return self._matcher

    def update(self, tx: Transaction, items: Sequence[tuple[int, Item]]) -> None:
        matcher = self._current(tx)
        rows = []
        for item_id, item in items:
            if matcher:
                named = matcher.codes(item.title, item.digest)
                rows += [(name_key(code), item_id) for code in named]
        ids = [item_id for item_id, _ in items]
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            tx.execute(
                f"DELETE FROM item_stocks WHERE item_id IN ({marks}) AND code LIKE ?",
                [*chunk, NAME_KEY + "%"],
            )
        if rows:
            tx.executemany(
                "INSERT INTO item_stocks (code, item_id) VALUES (?, ?)", sorted(set(rows))
            )
