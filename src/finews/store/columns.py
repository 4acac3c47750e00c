"""The item row: its columns, in the order :func:`item_from_row` reads them, and the item
read from one; and the placeholders of an ``IN (…)`` list. Every module that selects items
(reads, writes, search, stories, the derive queue) selects them as these columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from finews.models import Item
from finews.store.times import from_db_time

__all__ = [
    "ITEM_COLUMNS",
    "ITEM_FIELDS",
    "ROW_COLUMNS",
    "in_list",
    "item_columns",
    "item_from_row",
]


def in_list(values: Sequence[Any]) -> tuple[str, list[Any]]:
    """``?, ?, …`` for an ``IN (…)`` of ``values``, and the values to pass: padded to the
    next power of two by repeating the last (which changes no ``IN``), so that a connection
    prepares a statement in at most a dozen forms whatever the lengths. Each length would
    otherwise be a statement of its own, and the driver keeps the last 128 per connection:
    for lists of a few hundred ids, up to 64 KB each, 8 MB a connection filling slowly over
    a daemon's days as new lengths turn up (``sqlite3_memory_used``, BENCHMARKS.md "Soak")."""
    count = len(values)
    if count == 0:
        return "NULL", []  # matches nothing, on both engines (PostgreSQL refuses IN ())
    size = 1 << (count - 1).bit_length()
    padded = [*values, *([values[-1]] * (size - count))]
    return ", ".join("?" * size), padded


#: every column of ``items`` an :class:`~finews.models.Item` is made from, in row order
ITEM_FIELDS = (
    "id", "source", "upstream_id", "title", "digest", "content", "url", "media", "category",
    "tag", "kind", "importance", "stocks", "author", "fulltext_key", "published_at",
    "fetched_at", "revision", "sanitizer",
)  # fmt: skip
#: the same as a select list
ITEM_COLUMNS = ", ".join(ITEM_FIELDS)
#: the same with the full text left out (an empty ``content``): for lists of items, which
#: never show it and would otherwise read ~1,500 characters a row for nothing
ROW_COLUMNS = ", ".join("'' AS content" if name == "content" else name for name in ITEM_FIELDS)


def item_columns(alias: str) -> str:
    """The select list with every column qualified by a table ``alias`` (``i.id, …``)."""
    return ", ".join(f"{alias}.{name}" for name in ITEM_FIELDS)


def item_from_row(row: Sequence[Any]) -> Item:
    """The item of a row selected as :data:`ITEM_COLUMNS`."""
    published = from_db_time(row[15])
    fetched = from_db_time(row[16])
    assert published is not None
    assert fetched is not None
    return Item(
        id=int(row[0]),
        source=row[1],
        upstream_id=row[2],
        title=row[3],
        digest=row[4],
        content=row[5],
        url=row[6],
        media=row[7],
        category=row[8],
        tag=row[9],
        kind=row[10],
        importance=int(row[11]),
        stocks=tuple(s for s in row[12].split(" ") if s),
        author=row[13],
        fulltext_key=row[14],
        published_at=published,
        fetched_at=fetched,
        revision=int(row[17]),
        sanitizer=None if row[18] is None else int(row[18]),
    )
