"""The numbers an item gives, and when two of them are the same number: percentages,
amounts with 万/亿 and plain numbers read from text (dates left out), compared exactly or
as the other was rounded (净利增近16% equals 15.88%, 37万辆 equals 373083辆, 747亿
equals 747.43亿; 8430 is not 8432).

:class:`Quantity` is one number, :class:`Numbers` a set of them indexed for
:func:`matched`; rule 4 of :mod:`~finews.process.stories.score` compares them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from finews.process.stories.parameters import AMOUNT, NUMBER_WEIGHT

__all__ = [
    "Numbers",
    "Quantity",
    "amount",
    "magnitudes",
    "matched",
    "quantities_in",
    "quantity",
    "telling",
    "unique",
]

_QUANTITY = re.compile(r"(\d+(?:\.\d+)?)(%|万亿|亿|万)?([年月日时号])?")
_SCALE = {"万亿": 1e12, "亿": 1e8, "万": 1e4}
_LONGEST_NUMBER = 40  # characters of a number read as a quantity


_Key = tuple[bool, float, int]


@dataclass(frozen=True, slots=True)
class Quantity:
    """A number an item gives: its value (万 and 亿 applied), whether it is a percentage,
    how many significant digits it was given with, and whether it had a fraction; and the
    keys that find it equal to another (:meth:`equals`) by set lookups."""

    value: float
    percent: bool
    digits: int
    whole: bool
    #: (percent, value rounded to d significant digits, d), for d = 1 and 2 up to ``digits``
    offers: tuple[_Key, ...]
    #: the same for d = ``digits`` itself when it is 1 or 2: what a coarse number asks for
    asks: _Key | None
    #: a fraction rounded to a whole number (in its own unit), else ``None``
    rounded: float | None
    #: percentage or not, and the power of ten: equal quantities share it (nearly always),
    #: so it rules most pairs out at once
    magnitude: tuple[bool, int]
    #: the value rounded to two significant digits (for candidate keys)
    coarse: float

    @classmethod
    def of(cls, written: float, unit: str, digits: int, whole: bool) -> Quantity:
        """A quantity as written (``unit`` is %, 万, 亿, 万亿 or empty)."""
        scale = _SCALE.get(unit, 1.0)
        rounded = None if whole else round(written) * scale
        return cls.made(written * scale, unit == "%", digits, whole, rounded)

    @classmethod
    def made(
        cls, value: float, percent: bool, digits: int, whole: bool, rounded: float | None
    ) -> Quantity:
        """The quantity of these first five fields (the rest follow from them)."""
        offers = tuple((percent, _round(value, d), d) for d in (1, 2) if d <= digits)
        asks = offers[digits - 1] if digits <= 2 else None
        magnitude = (percent, math.floor(math.log10(abs(value))) if value else 0)
        coarse = _round(value, 2)
        return cls(value, percent, digits, whole, offers, asks, rounded, magnitude, coarse)

    def equals(self, other: Quantity) -> bool:
        """The same number, or the same once the more precise is rounded the way the other
        was: to one or two significant digits (近16% for 15.88%, 37万 for 373083), or a
        fraction to a whole number (747亿 for 747.43亿). 8430 is not 8432."""
        if self.percent != other.percent:
            return False
        return (
            self.value == other.value
            or (self.asks is not None and self.asks in other.offers)
            or (other.asks is not None and other.asks in self.offers)
            or (self.whole and other.rounded == self.value)
            or (other.whole and self.rounded == other.value)
        )

    @property
    def weight(self) -> float:
        """How much sharing this quantity says (by its significant digits)."""
        return NUMBER_WEIGHT * min(self.digits, 4) if self.digits >= 2 or self.percent else 0.0


@dataclass(frozen=True, slots=True)
class Numbers:
    """A set of quantities, indexed for :func:`matched`."""

    exact: frozenset[tuple[bool, float]]
    offers: frozenset[_Key]
    asks: frozenset[_Key]
    wholes: frozenset[tuple[bool, float]]
    rounded: frozenset[tuple[bool, float]]

    @classmethod
    def of(cls, quantities: Sequence[Quantity]) -> Numbers:
        exact: list[tuple[bool, float]] = []
        offers: list[_Key] = []
        asks: list[_Key] = []
        wholes: list[tuple[bool, float]] = []
        rounded: list[tuple[bool, float]] = []
        for q in quantities:
            key = (q.percent, q.value)
            exact.append(key)
            offers += q.offers
            if q.asks is not None:
                asks.append(q.asks)
            if q.whole:
                wholes.append(key)
            if q.rounded is not None:
                rounded.append((q.percent, q.rounded))
        return cls(
            frozenset(exact),
            frozenset(offers),
            frozenset(asks),
            frozenset(wholes),
            frozenset(rounded),
        )

    def has(self, q: Quantity) -> bool:
        """Whether one of these quantities :meth:`~Quantity.equals` ``q``."""
        return (
            (q.percent, q.value) in self.exact
            or (q.asks is not None and q.asks in self.offers)
            or any(key in self.asks for key in q.offers)
            or (q.whole and (q.percent, q.value) in self.rounded)
            or (q.rounded is not None and (q.percent, q.rounded) in self.wholes)
        )


def _round(value: float, digits: int) -> float:
    if value == 0:
        return 0.0
    exponent = math.floor(math.log10(abs(value)))
    return round(value, digits - 1 - exponent)


#: bounded: numbers such as 第12345条 rarely repeat, and a full cache of 65,536 held tens
#: of MB that a long-running daemon never gave back
@lru_cache(maxsize=4096)
def quantity(number: str, unit: str) -> Quantity:
    """The quantity of a number as written (digits, maybe a fraction) and its unit."""
    whole, _, fraction = number.partition(".")
    # 3000 is given to one digit, 1.70 to three
    significant = (whole + fraction).lstrip("0") if fraction else whole.strip("0")
    return Quantity.of(float(number), unit, max(len(significant), 1), not fraction)


def quantities_in(text: str) -> list[Quantity]:
    """The quantities of a text, in order (its dates taken out beforehand)."""
    # dates and times (9月, 2日, 10时) are not quantities; nor is a run of more digits than
    # any amount has (hundreds of them overflow a float, and rounding infinity raises)
    return [
        quantity(number, unit)
        for number, unit, date in _QUANTITY.findall(text)
        if not date and len(number) <= _LONGEST_NUMBER
    ]


def unique(quantities: Iterable[Quantity]) -> list[Quantity]:
    """Each quantity once, in a fixed order."""
    return sorted(set(quantities), key=lambda q: (q.percent, q.value, q.digits, q.whole))


def telling(q: Quantity) -> bool:
    """Whether a quantity in a title tells one story from another of its shape: one of two
    or more significant digits, a percentage, or an amount (:func:`amount`) however round;
    7天期 and 5G tell little."""
    return q.weight > 0 or amount(q)


def amount(q: Quantity) -> bool:
    """An amount of 万 or more: a title's amount must be found in the other item (央行开展
    80亿元 and 央行开展2000亿元 are two operations of one template)."""
    return not q.percent and abs(q.value) >= AMOUNT


def matched(mine: Sequence[Quantity], theirs: Numbers) -> list[Quantity]:
    """My quantities that equal one of theirs."""
    return [q for q in mine if theirs.has(q)]


def magnitudes(quantities: Iterable[Quantity]) -> frozenset[tuple[bool, int]]:
    """The :attr:`~Quantity.magnitude` of each quantity."""
    return frozenset(q.magnitude for q in quantities)
