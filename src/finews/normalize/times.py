"""Times: upstream timestamps in, timezone-aware UTC out; Asia/Shanghai for display.

Every Chinese upstream gives Beijing wall-clock time without an offset, or Unix seconds
(sometimes milliseconds). :func:`parse_time` reads all of them and returns an aware UTC
datetime, or ``None`` when the value is missing or not a time at all: a bad timestamp is
never guessed. :func:`shanghai_wall` and :func:`shanghai_date` format an aware datetime the
way the Jekyll export and the site show it. :data:`BEIJING` is finews's one Beijing time
zone, and :func:`parse_bound` reads the "since"/"until" a person types (API, search).
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "BEIJING",
    "SHANGHAI",
    "parse_bound",
    "parse_time",
    "shanghai_date",
    "shanghai_wall",
]


def _beijing_zone() -> tzinfo:
    try:
        return ZoneInfo("Asia/Shanghai")
    except ZoneInfoNotFoundError:  # no tz database: China has kept UTC+8 since 1991
        return timezone(timedelta(hours=8), "CST")


#: Beijing time (Asia/Shanghai): the zone every upstream's wall-clock time is in, and the
#: one pages show. The only definition in finews; everything else imports it.
BEIJING = _beijing_zone()
#: The same zone under the name this module first gave it (``cli.py`` still uses it).
SHANGHAI = BEIJING

# Unix times from 13 digits up are milliseconds (1e12 s would be the year 33658).
_MS_THRESHOLD = 1e12
# Anything from 1e14 up is neither seconds nor milliseconds (e.g. a 16-digit cursor).
_MAX_MS = 1e14

_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_WALL = re.compile(
    r"""
    (?P<y>\d{4})[-/](?P<m>\d{1,2})[-/](?P<d>\d{1,2})
    (?:
        [ T]+(?P<H>\d{1,2}):(?P<M>\d{2})
        (?::(?P<S>\d{2})(?:[.,](?P<frac>\d{1,9}))?)?
    )?
    \s*(?P<tz>Z|[+-]\d{2}(?::?\d{2})?)?
    """,
    re.VERBOSE | re.IGNORECASE,
)


def parse_time(value: str | int | float | None) -> datetime | None:
    """An upstream time as an aware UTC datetime, or ``None`` when it is not a time.

    Accepts Beijing wall-clock strings (``YYYY-MM-DD HH:MM:SS``, ``YYYY-MM-DD HH:MM``,
    ``/`` as the date separator, a ``T`` separator, fractions of a second, an ISO offset
    or ``Z``; a bare date means midnight), and Unix seconds as an int, a float or a string
    of digits (13-digit values are milliseconds). Booleans, NaN, negative numbers and
    impossible dates give ``None``.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return _from_unix(float(value))
    text = value.strip()
    if not text:
        return None
    if _NUMBER.fullmatch(text):
        return _from_unix(float(text))
    match = _WALL.fullmatch(text)
    if match is None:
        return None
    return _from_wall(match)


def _from_unix(seconds: float) -> datetime | None:
    if not math.isfinite(seconds) or seconds < 0 or seconds >= _MAX_MS:
        return None
    if seconds >= _MS_THRESHOLD:
        seconds /= 1000.0
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _from_wall(match: re.Match[str]) -> datetime | None:
    frac = match["frac"] or ""
    micro = int((frac + "000000")[:6]) if frac else 0
    try:
        local = datetime(
            int(match["y"]),
            int(match["m"]),
            int(match["d"]),
            int(match["H"] or 0),
            int(match["M"] or 0),
            int(match["S"] or 0),
            micro,
        )
    except ValueError:
        return None
    tz = match["tz"]
    if tz is None:
        return local.replace(tzinfo=BEIJING).astimezone(UTC)
    if tz.upper() == "Z":
        return local.replace(tzinfo=UTC)
    digits = tz[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    if hours > 23 or minutes > 59:
        return None
    offset = timedelta(hours=hours, minutes=minutes)
    zone = timezone(-offset if tz[0] == "-" else offset)
    return local.replace(tzinfo=zone).astimezone(UTC)


def _in_shanghai(dt: datetime) -> datetime:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"a naive datetime has no defined Beijing time: {dt!r}")
    return dt.astimezone(BEIJING)


def shanghai_wall(dt: datetime) -> str:
    """An aware datetime as Beijing wall-clock time, ``"YYYY-MM-DD HH:MM:SS"``."""
    local = _in_shanghai(dt)
    return f"{shanghai_date(local)} {local.hour:02d}:{local.minute:02d}:{local.second:02d}"


def shanghai_date(dt: datetime) -> str:
    """The Beijing calendar date of an aware datetime, ``"YYYY-MM-DD"``."""
    # Formatted by hand: strftime("%Y") does not zero-pad years before 1000 on glibc.
    local = _in_shanghai(dt)
    return f"{local.year:04d}-{local.month:02d}-{local.day:02d}"


def parse_bound(text: str, *, end: bool) -> datetime:
    """An aware UTC datetime from an ISO 8601 date or date-time a person gave as a bound of
    a time range; a date, or a time without an offset, is Beijing time. A bare date as an
    ``end`` means the end of that day (the start of the next). At the ends of the calendar
    the bound is held at the first or last instant (``0001-01-01`` means from the start).
    ``ValueError`` says what is expected."""
    text = text.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime(day.year, day.month, day.day, tzinfo=BEIJING)
            shift = timedelta(days=1) if end else timedelta(0)
        else:
            moment, shift = datetime.fromisoformat(text), timedelta(0)
    except ValueError as exc:
        raise ValueError(
            f"{text[:40]!r} is not a date (2024-09-02) or a date-time "
            "(2024-09-02T09:30 or 2024-09-02T09:30+08:00)"
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=BEIJING)
    try:
        return (moment + shift).astimezone(UTC)
    except OverflowError:  # at the ends of the calendar: from the start, or to the end
        return (datetime.min if moment.year < 5000 else datetime.max).replace(tzinfo=UTC)
