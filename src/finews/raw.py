"""Each item's raw upstream data, compressed: what ``item_raw`` keeps and ``reparse`` reads.

A part (the item's record, the article reply) is stored zlib-compressed, its format text
naming the compression and the kind, ``"zlib:json"``, so a later version can change either
and still read old rows. A part over :data:`MAX_STORED` bytes compressed is not kept (the
item is, with a logged warning): a record that large is not a news item's, and one such
reply must not fill the database.
"""

from __future__ import annotations

import logging
import zlib

from finews.models import RawItem, RawRecord

__all__ = ["MAX_STORED", "pack", "raw_record", "unpack"]

log = logging.getLogger("finews.store")

#: the largest compressed part kept, in bytes
MAX_STORED = 1_000_000

# level 6 is zlib's default; a 2 KB JSON record takes ~30 µs
_LEVEL = 6


def pack(
    data: str | bytes, kind: str, *, source: str, upstream_id: str
) -> tuple[bytes, str] | None:
    """``data`` compressed, with its format text; ``None`` (logged) over the cap."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    packed = zlib.compress(raw, _LEVEL)
    if len(packed) > MAX_STORED:
        log.warning(
            "source=%s id=%s raw %s not kept: %d bytes compressed, over the %d-byte cap",
            source,
            upstream_id,
            kind,
            len(packed),
            MAX_STORED,
        )
        return None
    return packed, f"zlib:{kind}"


def unpack(blob: bytes | memoryview | None, fmt: str | None) -> bytes | None:
    """A stored part back as its bytes; ``ValueError`` for a format this version cannot
    read (written by a newer finews)."""
    if blob is None or fmt is None:
        return None
    method, _, _kind = fmt.partition(":")
    if method != "zlib":
        raise ValueError(f"raw data stored as {fmt!r}, which this finews cannot read")
    return zlib.decompress(bytes(blob))


def raw_record(raw: RawItem) -> RawRecord | None:
    """The parts of ``raw`` the store keeps, compressed; ``None`` when it has none."""
    if raw.record is None and raw.article is None:
        return None
    record = article = None
    if raw.record is not None:
        record = pack(raw.record, raw.record_format, source=raw.source, upstream_id=raw.upstream_id)
    if raw.article is not None:
        article = pack(raw.article, "article", source=raw.source, upstream_id=raw.upstream_id)
    if record is None and article is None:
        return None
    return RawRecord(
        record=None if record is None else record[0],
        record_format=None if record is None else record[1],
        article=None if article is None else article[0],
        article_format=None if article is None else article[1],
    )
