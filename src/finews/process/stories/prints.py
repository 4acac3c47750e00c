"""A fingerprint packed for holding: in memory (:func:`compact`, about 1.5 KB instead of
15 KB, for the story window) and as bytes in the database (:func:`to_bytes`, the
``story_prints`` rows), and given back as made (:func:`unpacked`, :func:`from_bytes`).
A packed fingerprint compares as made (:mod:`~finews.process.stories.score` unpacks what
it needs with :func:`figures`).
"""

from __future__ import annotations

import struct
import sys
from array import array
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, cast

from finews.process.stories.fingerprint import Fingerprint
from finews.process.stories.parameters import ALGORITHM_VERSION
from finews.process.stories.quantities import Numbers, Quantity, magnitudes
from finews.process.stories.shingles import U32

__all__ = [
    "Figures",
    "compact",
    "figures",
    "from_bytes",
    "packed",
    "print_keys",
    "to_bytes",
    "unpacked",
]

_LITTLE_ENDIAN = sys.byteorder == "little"
#: one object for each set of dates held (a few a day), cleared when it grows
_DATE_SETS: dict[frozenset[str], frozenset[str]] = {}
_DATE_SETS_MAX = 1024
_NO_DATES: frozenset[str] = frozenset()
_NO_SUBJECT: frozenset[int] = frozenset()


def _pack_ints(values: Collection[int]) -> array[int]:
    """Four bytes a value when they fit (nearly always), else eight (in no order: only
    intersections are taken)."""
    listed = list(values)
    try:
        return array(U32, listed)  # (made from a list, an array takes no spare room)
    except OverflowError:
        return array("q", listed)


def _pack_keys(keys: tuple[int, ...] | array[int]) -> array[int]:
    return array("q", list(keys))


def _pack(quantities: tuple[Quantity, ...] | array[float]) -> tuple[()] | array[float]:
    """Quantities as three floats each: value, rounded value (0 for a whole number), and
    4 × digits + 2 × percent + whole."""
    if isinstance(quantities, array):
        return quantities
    if not quantities:
        return ()
    values: list[float] = []
    for q in quantities:
        flags = q.digits * 4 + q.percent * 2 + q.whole
        values += (q.value, 0.0 if q.rounded is None else q.rounded, flags)
    return array("d", values)


@lru_cache(maxsize=4096)
def _remade(
    value: float, percent: bool, digits: int, whole: bool, rounded: float | None
) -> Quantity:
    return Quantity.made(value, percent, digits, whole, rounded)


def _unpack(quantities: tuple[Quantity, ...] | array[float]) -> tuple[Quantity, ...]:
    if not isinstance(quantities, array):
        return quantities
    made = []
    for at in range(0, len(quantities), 3):
        flags = int(quantities[at + 2])
        whole = bool(flags & 1)
        rounded = None if whole else quantities[at + 1]
        made.append(_remade(quantities[at], bool(flags & 2), flags >> 2, whole, rounded))
    return tuple(made)


def _shared_dates(dates: frozenset[str]) -> frozenset[str]:
    if not dates:
        return _NO_DATES
    held = _DATE_SETS.get(dates)
    if held is None:
        if len(_DATE_SETS) >= _DATE_SETS_MAX:
            _DATE_SETS.clear()
        held = _DATE_SETS[dates] = dates
    return held


def compact(fp: Fingerprint) -> Fingerprint:
    """The same fingerprint packed for holding a long time (see
    :class:`~finews.process.stories.fingerprint.Fingerprint`), compared as fast where it
    counts (a set's ``intersection`` walks an array as fast as a set)."""
    if fp.numbers is None:
        return fp
    return Fingerprint(
        item_id=fp.item_id,
        published=fp.published,
        shingles=_pack_ints(fp.shingles),
        title_shingles=_pack_ints(fp.title_shingles),
        quantities=_pack(fp.quantities),
        title_quantities=_pack(fp.title_quantities),
        numbers=None,
        magnitudes=None,
        title_magnitudes=None,
        dates=_shared_dates(fp.dates),
        subject=_pack_ints(fp.subject) if fp.subject else _NO_SUBJECT,
        keys=_pack_keys(fp.keys),
    )


def unpacked(fp: Fingerprint) -> Fingerprint:
    """The fingerprint as :func:`~finews.process.stories.fingerprint.fingerprint` made it
    (equal to it), packed or not."""
    if fp.numbers is not None:
        return fp
    found = figures(fp)
    return Fingerprint(
        item_id=fp.item_id,
        published=fp.published,
        shingles=frozenset(fp.shingles),
        title_shingles=frozenset(fp.title_shingles),
        quantities=found.quantities,
        title_quantities=found.title_quantities,
        numbers=found.numbers,
        magnitudes=found.magnitudes,
        title_magnitudes=found.title_magnitudes,
        dates=fp.dates,
        subject=frozenset(fp.subject),
        keys=tuple(fp.keys),
    )


def packed(fp: Fingerprint) -> bool:
    """Whether ``fp`` is packed (:func:`compact`)."""
    return fp.numbers is None


@dataclass(frozen=True, slots=True)
class Figures:
    """A fingerprint's quantities and what follows from them, unpacked."""

    quantities: tuple[Quantity, ...]
    title_quantities: tuple[Quantity, ...]
    numbers: Numbers
    magnitudes: frozenset[tuple[bool, int]]
    title_magnitudes: frozenset[tuple[bool, int]]


def figures(fp: Fingerprint) -> Figures:
    """A fingerprint's quantities and what follows from them, packed or not."""
    if fp.numbers is not None:
        # as made, a fingerprint has these fields unpacked: no copy (the common case)
        return cast("Figures", fp)
    quantities = _unpack(fp.quantities)
    title = _unpack(fp.title_quantities)
    return Figures(
        quantities, title, Numbers.of(quantities), magnitudes(quantities), magnitudes(title)
    )


#: the bytes of :func:`to_bytes`: this header, then the six arrays' items little-endian,
#: then the dates (UTF-8, one per line): format, algorithm version, and per array its
#: typecode and item count
_PRINT_HEADER = struct.Struct("<BH" + "cI" * 6)
_PRINT_FORMAT = 2  # 2: keys by stable_key (1: by hash())


def to_bytes(fp: Fingerprint) -> bytes:
    """A packed fingerprint as bytes for the database (all but its id and time, which
    the row holds): :func:`from_bytes` gives it back, equal to :func:`compact`'s."""
    fp = compact(fp)
    arrays = [
        fp.shingles,
        fp.title_shingles,
        fp.subject,
        fp.keys,
        fp.quantities,
        fp.title_quantities,
    ]
    header: list[object] = [_PRINT_FORMAT, ALGORITHM_VERSION]
    body = []
    for values in arrays:
        if not isinstance(values, array):  # () for no quantities, a frozenset for no subject
            values = array("d")
        header += (values.typecode.encode(), len(values))
        if _LITTLE_ENDIAN:
            body.append(values.tobytes())
        else:
            swapped = array(values.typecode, values)
            swapped.byteswap()
            body.append(swapped.tobytes())
    dates = "\n".join(sorted(fp.dates)).encode()
    return b"".join([_PRINT_HEADER.pack(*header), *body, dates])


def _unpack_print(data: bytes, version: int | None) -> tuple[list[array[Any]], str] | None:
    """The six arrays and the dates of :func:`to_bytes`'s bytes, or ``None`` when they
    are not in its format (or, given ``version``, were made by another version)."""
    data = bytes(data)
    if len(data) < _PRINT_HEADER.size:
        return None
    header = _PRINT_HEADER.unpack_from(data)
    if header[0] != _PRINT_FORMAT or (version is not None and header[1] != version):
        return None
    at = _PRINT_HEADER.size
    arrays: list[array[Any]] = []
    for index in range(6):
        values = array(header[2 + 2 * index].decode())
        end = at + header[3 + 2 * index] * values.itemsize
        values.frombytes(data[at:end])
        if not _LITTLE_ENDIAN:
            values.byteswap()
        arrays.append(values)
        at = end
    return arrays, data[at:].decode()


def from_bytes(item_id: int, published: datetime, data: bytes) -> Fingerprint | None:
    """The packed fingerprint :func:`to_bytes` stored, or ``None`` when it was made by
    another version of the rule (or is not a stored fingerprint at all)."""
    found = _unpack_print(data, ALGORITHM_VERSION)
    if found is None:
        return None
    arrays, text = found
    shingles, title_shingles, subject, keys, quantities, title_quantities = arrays
    return Fingerprint(
        item_id=item_id,
        published=published,
        shingles=shingles,
        title_shingles=title_shingles,
        quantities=quantities if quantities else (),
        title_quantities=title_quantities if title_quantities else (),
        numbers=None,
        magnitudes=None,
        title_magnitudes=None,
        dates=_shared_dates(frozenset(text.split("\n"))) if text else _NO_DATES,
        subject=subject if subject else _NO_SUBJECT,
        keys=keys,
    )


def print_keys(data: bytes) -> list[int] | None:
    """The candidate keys in :func:`to_bytes`'s bytes, whichever version of the rule made
    them (``None`` if they are not in its format)."""
    found = _unpack_print(data, None)
    return None if found is None else found[0][3].tolist()
