"""The columns of an item row, in the order :meth:`SqlStore._row_to_item` reads them.

A module of its own because ``base`` mixes in ``search`` and ``clusters``, which select the
same rows and so cannot import them from ``base``.
"""

from __future__ import annotations

__all__ = ["ITEM_COLUMNS", "ITEM_FIELDS", "ROW_COLUMNS", "item_columns"]

#: every column of ``items`` an :class:`~finews.models.Item` is made from, in row order
ITEM_FIELDS = (
    "id", "source", "upstream_id", "title", "digest", "content", "url", "media", "category",
    "tag", "kind", "importance", "stocks", "author", "fulltext_key", "published_at",
    "fetched_at", "revision",
)  # fmt: skip
#: the same as a select list
ITEM_COLUMNS = ", ".join(ITEM_FIELDS)
#: the same with the full text left out (an empty ``content``): for lists of items, which
#: never show it and would otherwise read ~1,500 characters a row for nothing
ROW_COLUMNS = ", ".join("'' AS content" if name == "content" else name for name in ITEM_FIELDS)


def item_columns(alias: str) -> str:
    """The select list with every column qualified by a table ``alias`` (``i.id, …``)."""
    return ", ".join(f"{alias}.{name}" for name in ITEM_FIELDS)
