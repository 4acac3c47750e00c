"""Each item's raw upstream data as the store keeps it (table ``item_raw``, migration 0010):
written beside a new or changed item, read back for ``finews reparse`` and the Jekyll
export. What a part holds and how it is compressed is :mod:`finews.raw`'s.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from finews.models import Item, RawItem, RawRecord
from finews.raw import raw_record
from finews.store.base import Store, Transaction
from finews.store.columns import ITEM_FIELDS, in_list, item_columns, item_from_row
from finews.store.times import to_db_time

__all__ = ["older_sanitised", "raw_of", "raw_records", "write_raw"]


def write_raw(tx: Transaction, item_id: int, reading: RawItem, now: str | None) -> None:
    """Keep, beside a new or changed item, the raw data of the reading it came from,
    compressed (:mod:`finews.raw`). A part the reading lacks (the article, on a re-poll
    of the list) keeps what is stored. An unchanged item's is not written: a re-poll of
    known items costs nothing here."""
    raw = raw_record(reading)
    if raw is None:
        return
    tx.execute(
        "INSERT INTO item_raw (item_id, record, record_format, article, article_format, "
        "stored_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (item_id) DO UPDATE SET "
        "record = COALESCE(excluded.record, item_raw.record), "
        "record_format = COALESCE(excluded.record_format, item_raw.record_format), "
        "article = COALESCE(excluded.article, item_raw.article), "
        "article_format = COALESCE(excluded.article_format, item_raw.article_format), "
        "stored_at = excluded.stored_at",
        (item_id, raw.record, raw.record_format, raw.article, raw.article_format, now),
    )


def _item_pages(
    store: Store,
    select: str,
    source: str | None,
    since: datetime | None,
    filters: Sequence[str] = (),
    params: Sequence[Any] = (),
) -> Iterator[Any]:
    """The rows of ``select`` (over ``items i``) of ``source``, published at or after
    ``since``, in keyset pages of row ids, oldest first: a whole archive is never held in
    memory, and each page is read whole before it is yielded, so writes between are safe."""
    where, values = list(filters), list(params)
    if source is not None:
        where.append("i.source = ?")
        values.append(source)
    if since is not None:
        where.append("i.published_at >= ?")
        values.append(to_db_time(since))
    last = 0
    while True:
        clause = " AND ".join([*where, "i.id > ?"])
        rows = store.query(f"{select} WHERE {clause} ORDER BY i.id LIMIT 500", [*values, last])
        yield from rows
        if len(rows) < 500:
            return
        last = int(rows[-1][0])


def raw_records(
    store: Store, source: str | None = None, since: datetime | None = None
) -> Iterator[tuple[Item, RawRecord]]:
    """Every item with kept raw data (of ``source``, published at or after ``since``),
    oldest first, with that data (streamed)."""
    select = (
        f"SELECT {item_columns('i')}, r.record, r.record_format, r.article, "
        "r.article_format FROM items i JOIN item_raw r ON r.item_id = i.id"
    )
    cut = len(ITEM_FIELDS)
    for row in _item_pages(store, select, source, since):
        yield (
            item_from_row(row[:cut]),
            RawRecord(
                record=None if row[cut] is None else bytes(row[cut]),
                record_format=row[cut + 1],
                article=None if row[cut + 2] is None else bytes(row[cut + 2]),
                article_format=row[cut + 3],
            ),
        )


def older_sanitised(
    store: Store, version: int, source: str | None = None, since: datetime | None = None
) -> Iterator[Item]:
    """Every item (of ``source``, published at or after ``since``) whose text was made by a
    sanitiser older than ``version``, or by none known (``items.sanitizer`` NULL): those
    ``finews reparse`` could not read again from raw data (streamed, oldest first)."""
    select = f"SELECT {item_columns('i')} FROM items i"
    older = ["(i.sanitizer IS NULL OR i.sanitizer < ?)"]
    for row in _item_pages(store, select, source, since, older, [version]):
        yield item_from_row(row)


def raw_of(store: Store, item_ids: Sequence[int]) -> dict[int, RawRecord]:
    """The kept raw data of these items (by row id), for those that have some."""
    kept: dict[int, RawRecord] = {}
    ids = list(item_ids)
    for start in range(0, len(ids), 500):
        marks, padded = in_list(ids[start : start + 500])
        rows = store.query(
            "SELECT item_id, record, record_format, article, article_format FROM item_raw "
            f"WHERE item_id IN ({marks})",
            padded,
        )
        for row in rows:
            kept[int(row[0])] = RawRecord(
                record=None if row[1] is None else bytes(row[1]),
                record_format=row[2],
                article=None if row[3] is None else bytes(row[3]),
                article_format=row[4],
            )
    return kept
