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

import re
from datetime import UTC, datetime, timedelta

__all__ = ["EARLIEST", "FUTURE_SLACK", "sane_time", "storable_text"]

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
