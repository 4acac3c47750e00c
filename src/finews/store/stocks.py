"""Which items are about which security (table ``item_stocks``, migration 0012): the keys
an item is stored under, written with the item, and the conditions and tests that find a
security's items by them. The directory of security names is :mod:`finews.store.securities`;
the keys of an item naming a security by its name are written by
:class:`finews.derive.mentions.Mentions` (:func:`name_key`).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from typing import Any

from finews.models import Item
from finews.sources.securities import mention_terms, stored_forms
from finews.store.base import Store, Transaction

__all__ = [
    "COMMON_STOCK",
    "NAME_KEY",
    "common_stock",
    "fill_stock_keys",
    "name_key",
    "named_stocks",
    "stock_condition",
    "stock_keys",
    "stock_lookup_keys",
    "stock_mention",
    "write_stock_keys",
]

_DIGIT_RUN = re.compile(r"[0-9]+")


def stock_keys(title: str, digest: str, stocks: Sequence[str]) -> set[str]:
    """The keys under which an item is about securities (table ``item_stocks``): each
    code it is tagged with, in lower case as stored, and each run of 5 or 6 digits in its
    title or digest (a mainland or Hong Kong code named there, as
    :func:`~finews.sources.securities.mention_terms` gives them). A run is taken whole:
    ``1600519`` names no security."""
    keys = {code.lower() for code in stocks if code}
    for text in (title, digest):
        keys.update(run for run in _DIGIT_RUN.findall(text) if len(run) in (5, 6))
    return keys


#: what begins the ``item_stocks`` key of a security named by its known name
#: (``name:sh600519``; :class:`finews.derive.mentions.Mentions` writes them)
NAME_KEY = "name:"


def name_key(canonical: str) -> str:
    """The ``item_stocks`` key of an item naming the security ``canonical`` by name."""
    return NAME_KEY + canonical.lower()


def stock_lookup_keys(canonical: str) -> list[str]:
    """The :func:`stock_keys` an item about the security ``canonical`` (finews notation)
    has one of: a form it may be tagged with
    (:func:`~finews.sources.securities.stored_forms`), its code's digits
    (:func:`~finews.sources.securities.mention_terms`), or its name (:func:`name_key`)."""
    forms = set(stored_forms(canonical)) | set(mention_terms(canonical))
    return sorted(forms | {name_key(canonical)})


#: From how many items on a security counts as common (:func:`stock_condition`).
COMMON_STOCK = 2000


def stock_condition(canonical: str, table: str, *, common: bool = False) -> tuple[str, list[Any]]:
    """The condition that an item of ``table`` is about the security ``canonical`` (finews
    notation): tagged with it in any form it may be stored in, or naming its code in the
    title or digest. It is answered from ``item_stocks`` by key (:func:`stock_keys`), an
    index lookup on both engines: a security's items are found without reading the
    others, so a made-up code costs next to nothing.

    For a ``common`` security (at least :data:`COMMON_STOCK` items) the list of all its
    items would cost more than it saves: the condition is then a probe of each row's keys,
    and a listing walks its newest-first index until it has its page, which for a common
    security is soon."""
    keys = stock_lookup_keys(canonical)
    marks = ", ".join("?" * len(keys))
    if common:
        return (
            f"EXISTS (SELECT 1 FROM item_stocks s WHERE s.item_id = {table}.id "
            f"AND s.code IN ({marks}))",
            keys,
        )
    return f"{table}.id IN (SELECT item_id FROM item_stocks WHERE code IN ({marks}))", keys


def stock_mention(item: Item, canonical: str, named: Collection[str] = ()) -> str | None:
    """How ``item`` is about the security ``canonical``: ``"tagged"`` when an upstream
    tagged it, ``"mentioned"`` when its code is named in the title or digest, ``"named"``
    when its known name is (``named``: the item's codes so found, :func:`named_stocks`),
    else ``None`` (the same test as :func:`stock_condition`)."""
    forms = set(stored_forms(canonical))
    if any(code.lower() in forms for code in item.stocks):
        return "tagged"
    keys = stock_keys(item.title, item.digest, ())
    if any(term in keys for term in mention_terms(canonical)):
        return "mentioned"
    if canonical.lower() in named:
        return "named"
    return None


def named_stocks(store: Store, ids: Iterable[int]) -> dict[int, set[str]]:
    """The securities (lower case) each of these items names by a known name, as
    :class:`finews.derive.mentions.Mentions` found them; items naming none are left out."""
    wanted = sorted(set(ids))
    found: dict[int, set[str]] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        rows = store.query(
            f"SELECT item_id, code FROM item_stocks WHERE item_id IN ({marks}) AND code LIKE ?",
            [*chunk, NAME_KEY + "%"],
        )
        for item_id, code in rows:
            found.setdefault(int(item_id), set()).add(str(code)[len(NAME_KEY) :])
    return found


def common_stock(store: Store, canonical: str) -> bool:
    """Whether at least :data:`COMMON_STOCK` items are about ``canonical`` (counted
    no further, from the index: a bounded read)."""
    keys = stock_lookup_keys(canonical)
    marks = ", ".join("?" * len(keys))
    rows = store.query(
        f"SELECT COUNT(*) FROM (SELECT 1 FROM item_stocks WHERE code IN ({marks}) "
        f"LIMIT {COMMON_STOCK}) AS found",
        keys,
    )
    return int(rows[0][0]) >= COMMON_STOCK


_INSERT_KEY = "INSERT INTO item_stocks (code, item_id) VALUES (?, ?)"


def write_stock_keys(tx: Transaction, item_id: int, item: Item, *, fresh: bool) -> None:
    """Put the item's :func:`stock_keys` in ``item_stocks`` (replacing its old ones
    unless it is ``fresh``), in the transaction that writes the item."""
    if not fresh:
        tx.execute("DELETE FROM item_stocks WHERE item_id = ?", (item_id,))
    keys = stock_keys(item.title, item.digest, item.stocks)
    if keys:
        tx.executemany(_INSERT_KEY, [(key, item_id) for key in sorted(keys)])


def fill_stock_keys(tx: Transaction) -> None:
    """Write ``item_stocks`` for the items stored before migration 0012, in batches
    by id (once, in the migration's transaction)."""
    after = 0
    while True:
        tx.execute(
            "SELECT id, title, digest, stocks FROM items WHERE id > ? ORDER BY id LIMIT 1000",
            (after,),
        )
        rows = tx.fetchall()
        if not rows:
            return
        pairs = [
            (key, int(row[0]))
            for row in rows
            for key in sorted(stock_keys(row[1], row[2], row[3].split(" ")))
        ]
        if pairs:
            tx.executemany(_INSERT_KEY, pairs)
        after = int(rows[-1][0])
