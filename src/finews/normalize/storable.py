"""What every store and every output can hold: text without the characters PostgreSQL,
SQLite, XML and JSON refuse, and publication times in a range every page can show.

An upstream (or a file) may send anything: a NUL in a title, a lone surrogate from a
broken JSON escape (``"\\ud800"``), a control character, a date in the year 9999. Stored as
is, PostgreSQL refuses the NUL (and with it the whole page of items), an XML feed cannot
carry the control character, and arithmetic on the year 9999 overflows in clustering and
in every day URL. These pure functions make each value storable before it reaches the
store; :func:`finews.normalize.pipeline.normalize_item` applies them to every field.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from finews.models import Item, RawItem
from finews.sources.securities import canonical_stocks

__all__ = ["EARLIEST", "FUTURE_SLACK", "sane_time", "storable_item", "storable_text"]

log = logging.getLogger("finews.normalize")

# Everything XML 1.0 cannot carry (the strictest of the stores and formats): NUL and the
# other C0 controls but tab, newline and carriage return; UTF-16 surrogates, which can only
# be lone ones in a Python str; U+FFFE and U+FFFF.
_UNSTORABLE = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

#: The earliest publication time taken as given: no Chinese financial site predates it.
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
#: How far past the fetch time a publication time may lie (clock skew, a timezone slip).
FUTURE_SLACK = timedelta(days=2)


def storable_text(text: str) -> str:
    """``text`` without the characters no store or feed format can hold (NUL, other
    control characters but ``\\t\\n\\r``, lone surrogates, U+FFFE/U+FFFF); ordinary text
    comes back as the same object."""
    return _UNSTORABLE.sub("", text)


def sane_time(published: datetime | None, fetched_at: datetime) -> datetime | None:
    """``published`` when it lies between 1990-01-01 and two days after ``fetched_at``
    (both aware), else ``None``: such a time is an upstream's error (a placeholder like
    9999-12-31, a zero timestamp), not a time an article was published."""
    if published is None:
        return None
    if published < EARLIEST or published > fetched_at + FUTURE_SLACK:
        return None
    return published


def storable_changes(value: RawItem | Item, text_fields: tuple[str, ...]) -> dict[str, Any]:
    """The fields of ``value`` (a RawItem or an Item) that must change for it to be stored:
    each of ``text_fields`` that :func:`storable_text` changes, and ``stocks`` when a code
    is not yet in finews notation, whichever form the upstream or importer wrote."""
    changes: dict[str, Any] = {}
    for name in text_fields:
        text = getattr(value, name)
        if isinstance(text, str) and (clean := storable_text(text)) != text:
            changes[name] = clean
    stocks = canonical_stocks(storable_text(code) for code in value.stocks)
    if stocks != value.stocks:
        changes["stocks"] = stocks
    return changes


_ITEM_TEXTS = (
    "source", "upstream_id", "title", "digest", "content", "url", "media", "category", "tag",
    "kind", "author", "fulltext_key",
)  # fmt: skip


def storable_item(item: Item) -> Item:
    """An item made without :func:`~finews.normalize.pipeline.normalize_item` (an
    importer's) made storable the same way: every text field through
    :func:`storable_text`, and a publication time out of range replaced by its fetch time
    (logged, the old value in ``notes``). The same object when nothing needed it."""
    changes = storable_changes(item, _ITEM_TEXTS)
    if sane_time(item.published_at, item.fetched_at) is None:
        note = (
            f"published {item.published_at.isoformat()} is outside 1990-01-01 .. fetch time "
            "+ 2 days; the fetch time stands in"
        )
        log.warning("source=%s id=%s %s", item.source, item.upstream_id, note)
        changes["published_at"] = item.fetched_at
        changes["notes"] = (*item.notes, note)
        changes["published_guessed"] = True
    return dataclasses.replace(item, **changes) if changes else item
