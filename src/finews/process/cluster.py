"""Same story, shown once: item fingerprints and the rule that says two items tell the
same story.

Two items are **the same story** when (:func:`same_story`):

1. they were published at most :data:`WINDOW` apart (20 hours: a daily report of the same
   shape, such as the central bank's daily open-market operation, comes 24 hours later);
2. the dates they name (9月2日) are not different dates;
3. when both titles name a subject before a colon (格力电器：…, 美的集团：…), one of the
   subjects appears in the other item (templates about another company differ);
4. their numbers agree: at least :data:`NUMBERS` of the smaller set of quantities
   (percentages, amounts with 万/亿, plain numbers; dates left out) equals one of the other
   set, exactly or as the other was rounded (净利增近16% equals 15.88%, 37万辆 equals
   373083辆, 747亿 equals 747.43亿; 8430 is not 8432); and a title that gives quantities
   shares one with the other item (拼多多盘前跌超20% is not the earnings report it mentions);
   and when both titles give amounts (万 or more), one of them is found in the other item
   (央行开展80亿元 is not 央行开展2000亿元, round as both are);
5. their texts are alike: the share of the smaller set of character bigrams (title and the
   first :data:`LEAD_CHARS` characters of digest or full text, source tags such as
   （财联社）, datelines, dates and punctuation removed) found in the other set, plus
   :data:`NUMBER_WEIGHT` per significant digit of each shared quantity (a shared 4053亿元
   says more than a shared 7), reaches :data:`THRESHOLD`, with at least :data:`FLOOR` from
   the text alone and :data:`TITLE_FLOOR` of the shorter title's bigrams shared (a common
   boilerplate sentence does not make two headlines one story).

A story is a connected component of that relation among candidate pairs, led by its
earliest report. Components do not depend on the order items arrive in, so clustering items
one at a time as they are stored (:mod:`finews.derive.stories`) gives the clusters of
:func:`cluster_batch` over the same items; the tests check it.

Candidates, so that not every pair is compared: keys from a one-permutation MinHash over
the bigrams (:data:`BINS` bins, empty ones filled from the next, bands of :data:`ROWS`),
the normalised title, and each pair of the item's most specific quantities. An item is
compared with the items before it (within the window) that share a key: the latest
:data:`BUCKET_CAP` of each key, and of those the latest :data:`CANDIDATE_CAP`; the caps only
bite when dozens of near-identical items fall within one window, and keep that case
linear. Keys are defined by finews, not by Python's ``hash()`` (:func:`stable_key`, and
BLAKE2b of the title), so every process, build and interpreter sharing a database finds
the same candidates in the keys it stored (``story_keys``).

Parameters were chosen on the labelled set in ``tests/data/cluster`` (precision 1.0, recall
0.91 at :data:`THRESHOLD` 0.58; 0.56 gives recall 0.93 but leaves a near miss 0.01 below;
with the amount rule and its pairs: precision 0.995, recall 0.91); the numbers are in
BENCHMARKS.md and held by a test.
"""

from __future__ import annotations

import hashlib
import heapq
import math
import re
import struct
import sys
from array import array
from collections import deque
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from itertools import combinations, islice, pairwise
from typing import Any, cast

from finews.process.index import fold, plain_prefix, plain_text

__all__ = [
    "ALGORITHM_VERSION",
    "BUCKET_CAP",
    "CANDIDATE_CAP",
    "TEXT_PREFIX",
    "WINDOW",
    "Fingerprint",
    "Quantity",
    "candidate_pairs",
    "cluster_batch",
    "cluster_stream",
    "compact",
    "components",
    "fingerprint",
    "from_bytes",
    "leader_key",
    "packed",
    "print_keys",
    "same_story",
    "score",
    "stable_key",
    "to_bytes",
    "unpacked",
]

#: Bump when fingerprints or the rule change: stored clusters must then be rebuilt.
ALGORITHM_VERSION = 2
#: Longest time between two reports of one story.
WINDOW = timedelta(hours=20)
#: Characters of digest (or full text) that join the title in a fingerprint.
LEAD_CHARS = 160
#: Characters of digest and content a fingerprint reads (what the store fetches of them).
TEXT_PREFIX = 4000
#: Rule 5: text overlap plus number evidence needed, and the text overlap needed anyway.
THRESHOLD = 0.58
FLOOR = 0.3
TITLE_FLOOR = 0.1
NUMBER_WEIGHT = 0.1
MAX_EVIDENCE = 0.6
#: Rule 4: share of the smaller quantity set that must be found in the other.
NUMBERS = 0.5
#: Rule 3: share of a subject's bigrams that must be found in the other item.
SUBJECT = 0.6
#: Candidate keys: MinHash bins and rows per band; quantities paired for keys.
BINS = 48
ROWS = 2
KEY_QUANTITIES = 4
#: An item is compared with at most this many of the latest earlier items sharing a key
#: (dozens of near-identical templates within a window would otherwise cost quadratic time)
BUCKET_CAP = 16
CANDIDATE_CAP = 32

_MIX = 0x9E3779B97F4A7C15
_MASK64 = (1 << 64) - 1
_SOURCE_TAG = re.compile(
    r"[（(][^（）()]{0,16}?(?:社|网|报|台|财经|记者|来源|编辑|新闻|资讯|快讯|消息)[^（）()]{0,8}[）)]"
)
_DATELINE = re.compile(r"^[^，,。：:；;]{0,16}?\d{1,2}月\d{1,2}日(?:电|讯|消息|报道)[，,：: ]?")
_DATE = re.compile(r"(?:\d{4}年)?(\d{1,2})月(\d{1,2})日")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3})")
_QUANTITY = re.compile(r"(\d+(?:\.\d+)?)(%|万亿|亿|万)?([年月日时号])?")
_KEEP = re.compile(r"[^\W_]+")
_SUBJECT = re.compile(r"^([^：:，,。\s]{2,10})[：:]")
_SCALE = {"万亿": 1e12, "亿": 1e8, "万": 1e4}
_LONGEST_NUMBER = 40  # characters of a number read as a quantity
#: a title's round amount from here on must be found in the other item (see _telling)
_AMOUNT = 1e4


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
class _Numbers:
    """A set of quantities, indexed for :func:`_matched`."""

    exact: frozenset[tuple[bool, float]]
    offers: frozenset[_Key]
    asks: frozenset[_Key]
    wholes: frozenset[tuple[bool, float]]
    rounded: frozenset[tuple[bool, float]]

    @classmethod
    def of(cls, quantities: Sequence[Quantity]) -> _Numbers:
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


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What :func:`same_story` compares, and the keys that find candidates.

    As :func:`fingerprint` makes it, its sets are frozensets and tuples, quick to compare;
    :func:`compact` packs it for holding a long time (about 1.5 KB instead of 15 KB): the
    bigram sets and the keys become arrays, the quantities an array of three floats
    each, and what follows from the quantities (``numbers``, ``magnitudes``,
    ``title_magnitudes``) ``None``, remade when a comparison needs it. Either form
    compares the same (:func:`score`); :func:`unpacked` gives back the first."""

    item_id: int
    published: datetime
    #: character bigrams of title and lead (see :func:`_bigrams`)
    shingles: frozenset[int] | array[int]
    title_shingles: frozenset[int] | array[int]
    quantities: tuple[Quantity, ...] | array[float]
    title_quantities: tuple[Quantity, ...] | array[float]
    numbers: _Numbers | None
    magnitudes: frozenset[tuple[bool, int]] | None
    title_magnitudes: frozenset[tuple[bool, int]] | None
    dates: frozenset[str]
    subject: frozenset[int] | array[int]
    keys: tuple[int, ...] | array[int]


def _normal(text: str) -> str:
    return _THOUSANDS.sub("", fold(text))


#: bigrams with a code point above U+FFFF are numbered from here on (see _bigrams)
_WIDE = 1 << 32
_LOW16 = 0xFFFF
_NO_BIGRAMS: frozenset[int] = frozenset()
_LITTLE_ENDIAN = sys.byteorder == "little"


def _bigrams(text: str) -> frozenset[int]:
    """The text's character bigrams, each as one int: exact, and the same in every
    process. Two code points below U+10000 (nearly every pair) give ``a << 16 | b``, below
    2**32, so that :func:`compact` packs them in four bytes; other pairs ``2**32 +
    (a << 21 | b)``. (:func:`_band_keys` hashes the older numbering ``a << 21 | b``.)"""
    if len(text) < 2:
        return _NO_BIGRAMS
    if max(text) <= "\uffff":
        try:
            data = text.encode("utf-16-be")
        except UnicodeEncodeError:  # a lone surrogate
            pass
        else:
            # two bytes a character: each four bytes from an even offset are one pair's
            # a << 16 | b in big-endian order, the pairs from even characters and then
            # (two bytes on) those from odd ones
            half = len(text) // 2 * 4
            pairs = array(_U32, data[:half])
            pairs.frombytes(data[2 : 2 + (len(text) - 1) // 2 * 4])
            if _LITTLE_ENDIAN:
                pairs.byteswap()
            return frozenset(pairs)
    codes = [ord(c) for c in text]
    return frozenset(
        [(a << 16 | b) if (a | b) <= _LOW16 else _WIDE + (a << 21 | b) for a, b in pairwise(codes)]
    )


def _minhash_value(shingle: int) -> int:
    """A bigram of :func:`_bigrams` as ``a << 21 | b`` (what the candidate keys hash)."""
    if shingle < _WIDE:
        return (shingle >> 16) << 21 | (shingle & _LOW16)
    return shingle - _WIDE


#: bounded: numbers such as 第12345条 rarely repeat, and a full cache of 65,536 held tens
#: of MB that a long-running daemon never gave back
@lru_cache(maxsize=4096)
def _quantity(number: str, unit: str) -> Quantity:
    whole, _, fraction = number.partition(".")
    # 3000 is given to one digit, 1.70 to three
    significant = (whole + fraction).lstrip("0") if fraction else whole.strip("0")
    return Quantity.of(float(number), unit, max(len(significant), 1), not fraction)


def _quantities(text: str) -> list[Quantity]:
    # dates and times (9月, 2日, 10时) are not quantities; nor is a run of more digits than
    # any amount has (hundreds of them overflow a float, and rounding infinity raises)
    return [
        _quantity(number, unit)
        for number, unit, date in _QUANTITY.findall(text)
        if not date and len(number) <= _LONGEST_NUMBER
    ]


def _cleaned(text: str) -> tuple[str, list[Quantity], set[str]]:
    """Text for shingles (tags, datelines, dates, punctuation gone), quantities, dates."""
    # (each pattern needs a character most texts lack: skip what cannot match)
    if "（" in text or "(" in text:
        text = _SOURCE_TAG.sub("", text)
    dates: set[str] = set()
    if "月" in text:
        text = _DATELINE.sub("", text)
        dates = {f"{int(m[1])}-{int(m[2])}" for m in _DATE.finditer(text)}
        text = _DATE.sub("", text)
    return "".join(_KEEP.findall(text)), _quantities(text), dates


def fingerprint(
    item_id: int, title: str, digest: str, content: str, published: datetime
) -> Fingerprint:
    """The fingerprint of one item from its stored fields (``published`` aware)."""
    if published.tzinfo is None:
        raise ValueError(f"item {item_id}: published must be timezone-aware")
    # markup out first, then the cut: a prefix cut inside <img src="…"> read the URL as text
    lead = plain_prefix(digest, TEXT_PREFIX) or plain_prefix(content, TEXT_PREFIX)
    title_text = _normal(plain_text(title))
    lead_text = _normal(lead[: LEAD_CHARS * 2])
    subject_match = _SUBJECT.match(title_text)
    clean_title, title_quantities, title_dates = _cleaned(title_text)
    clean_lead, lead_quantities, lead_dates = _cleaned(lead_text)
    clean_lead = clean_lead[:LEAD_CHARS]
    title_shingles = _bigrams(clean_title)
    shingles = title_shingles | _bigrams(clean_lead)
    quantities = _unique(title_quantities + lead_quantities)
    keys = set(_band_keys(shingles))
    if clean_title:
        # signed, as every other key, so that a packed fingerprint holds them as int64
        title_key = hashlib.blake2b(clean_title.encode(), digest_size=8).digest()
        keys.add(int.from_bytes(title_key, signed=True))
    specific = sorted(quantities, key=lambda q: (-q.digits, q.value))[:KEY_QUANTITIES]
    codes = [_quantity_code(q) for q in sorted(specific, key=lambda q: (q.percent, q.value))]
    # stable_key(_PAIR_TAG, a, b) for each pair, written out as _keys_of_bands does
    keys.update(((_PAIR_SALT ^ a) * _MIX ^ b) & _KEY_MASK for a, b in combinations(codes, 2))
    headline = [q for q in _unique(title_quantities) if _telling(q)]
    return Fingerprint(
        item_id=item_id,
        published=published,
        shingles=shingles,
        title_shingles=title_shingles,
        quantities=tuple(quantities),
        numbers=_Numbers.of(quantities),
        title_quantities=tuple(headline),
        magnitudes=frozenset(q.magnitude for q in quantities),
        title_magnitudes=frozenset(q.magnitude for q in headline),
        dates=frozenset(title_dates | lead_dates),
        subject=_bigrams(subject_match[1]) if subject_match else frozenset(),
        keys=tuple(sorted(keys)),
    )


def _telling(quantity: Quantity) -> bool:
    """Whether a quantity in a title tells one story from another of its shape: one of two
    or more significant digits, a percentage, or an amount (:func:`_amount`) however round;
    7天期 and 5G tell little."""
    return quantity.weight > 0 or _amount(quantity)


def _amount(quantity: Quantity) -> bool:
    """An amount of 万 or more: a title's amount must be found in the other item (央行开展
    80亿元 and 央行开展2000亿元 are two operations of one template)."""
    return not quantity.percent and abs(quantity.value) >= _AMOUNT


#: keys are 63-bit, so that any of them fits a signed 64-bit column (and int64 array)
_KEY_MASK = (1 << 63) - 1
#: a float, and the same eight bytes as an unsigned integer
_FLOAT = struct.Struct(">d")
_FLOAT_BITS = struct.Struct(">Q")
#: the first value of a quantity-pair key (a band key's is its band's number, below this),
#: and what stable_key makes of it before the next value
_PAIR_TAG = 1 << 32
_PAIR_SALT = _PAIR_TAG * _MIX


def stable_key(*values: int) -> int:
    """The candidate key of a sequence of integers: starting from 0, for each value
    ``key = (key * 0x9E3779B97F4A7C15 XOR value) mod 2**64``; then its low 63 bits.

    Keys are stored (``story_keys``), so finews defines them here instead of leaving them
    to the interpreter's ``hash()``: plain unsigned 64-bit arithmetic that any language
    computes alike (the tests pin values). Only the low bits of a value count (the
    arithmetic is modular), so a value may be negative or wider than 64 bits."""
    key = 0
    for value in values:
        key = (key * _MIX ^ value) & _MASK64
    return key & _KEY_MASK


def _quantity_code(q: Quantity) -> int:
    """``stable_key(percent, bits)`` of a quantity's coarse value (two significant digits,
    so that 15.88% and 16% share it) and whether it is a percentage; ``bits`` are the
    value's IEEE 754 double as an unsigned integer. A quantity-pair key is
    ``stable_key(_PAIR_TAG, code_a, code_b)``."""
    bits: int = _FLOAT_BITS.unpack(_FLOAT.pack(q.coarse))[0]
    return (q.percent * _MIX ^ bits) & _KEY_MASK


def _unique(quantities: Iterable[Quantity]) -> list[Quantity]:
    return sorted(set(quantities), key=lambda q: (q.percent, q.value, q.digits, q.whole))


def _band_keys(shingles: Collection[int]) -> list[int]:
    """One-permutation MinHash of the shingles, cut into bands, one key per band."""
    return _keys_of_bands(_bin_minima(shingles)) if shingles else []


def _bin_minima(shingles: Collection[int]) -> list[int]:
    """The :data:`BINS` minima of a one-permutation MinHash of (non-empty) shingles, empty
    bins filled from the next."""
    # hashed as a << 21 | b (what _minhash_value gives), so that the keys stay as they were;
    # for a pair below U+10000, a << 16 | b plus 31 × (a << 16) is a << 21 | b
    if max(shingles) < _WIDE:
        high = _LOW16 << 16
        mixed = [(v + 31 * (v & high)) * _MIX & _MASK64 for v in shingles]
    else:
        wide, low = _WIDE, _LOW16
        mixed = [
            (((v >> 16) << 21 | (v & low)) if v < wide else v - wide) * _MIX & _MASK64
            for v in shingles
        ]
    mixed.sort(reverse=True)
    # a smaller value, assigned later, overwrites: each bin keeps its minimum
    least = {m % BINS: m // BINS for m in mixed}
    filled = [least.get(slot) for slot in range(BINS)]
    if len(least) < BINS:
        # densify: an empty bin takes the value of the next full one, marked by the distance
        for slot in range(BINS):
            if filled[slot] is None:
                step = 1
                while (slot + step) % BINS not in least:
                    step += 1
                filled[slot] = least[(slot + step) % BINS] + step * _MIX
    return cast(list[int], filled)


#: stable_key(band, a, b) is ((band * _MIX XOR a) * _MIX XOR b) masked: the first product
_BAND_SALT = [band * _MIX for band in range(BINS // ROWS)]


def _keys_of_bands(minima: list[int]) -> list[int]:
    """``stable_key(band, *minima[band * ROWS : (band + 1) * ROWS])`` for each band,
    written out for two rows: 24 keys per fingerprint through :func:`stable_key`'s loop
    cost 6 % of a fingerprint's time. The low bits of a product or XOR depend only on the
    low bits of its operands, so one mask at the end gives the same key (a test checks
    that both agree)."""
    mix, mask = _MIX, _KEY_MASK
    firsts, seconds = minima[0::ROWS], minima[1::ROWS]
    return [((s ^ a) * mix ^ b) & mask for s, a, b in zip(_BAND_SALT, firsts, seconds, strict=True)]


def _matched(mine: Sequence[Quantity], theirs: _Numbers) -> list[Quantity]:
    """My quantities that equal one of theirs."""
    return [q for q in mine if theirs.has(q)]


def score(a: Fingerprint, b: Fingerprint) -> float | None:
    """Text overlap plus number evidence of two items, or ``None`` when rules 1–4 or the
    text floors rule them out (see the module docstring). Either may be packed
    (:func:`compact`)."""
    if abs(a.published - b.published) > WINDOW:
        return None
    if a.dates and b.dates and not (a.dates & b.dates):
        return None
    if not a.shingles or not b.shingles:
        return None
    # which rule fails first does not change the result: the cheaper go first. Rule 5's
    # title floor first of all: most candidates fail it (an unrelated item sharing a key)
    ta, tb = a.title_shingles, b.title_shingles
    if ta and tb:
        common = len(ta.intersection(tb)) if isinstance(ta, _SETS) else _common(ta, tb)
        if common < TITLE_FLOOR * min(len(ta), len(tb)):
            return None
    # then the number rules, unless a packed fingerprint's numbers must be remade for them
    if a.numbers is not None and b.numbers is not None:
        shared = _numbers_agree(_figures(a), _figures(b))
        overlap = None if shared is None else _text_overlap(a, b)
    else:
        overlap = _text_overlap(a, b)
        if overlap is None:
            return None
        numbers = a.quantities or b.quantities
        shared = _numbers_agree(_figures(a), _figures(b)) if numbers else []
    if shared is None or overlap is None:
        return None
    return overlap + min(sum(q.weight for q in shared), MAX_EVIDENCE)


def _numbers_agree(a: _Figures, b: _Figures) -> list[Quantity] | None:
    """Rule 4: the quantities the smaller set shares with the other, or ``None``."""
    for mine, other in ((a, b), (b, a)):
        told = [q for q in mine.title_quantities if q.weight > 0]
        if told and (
            not (mine.title_magnitudes & other.magnitudes) or not _matched(told, other.numbers)
        ):
            return None
    # title amounts on both sides (a round 80亿 weighs nothing above): one must be shared
    amounts_a = [q for q in a.title_quantities if _amount(q)]
    amounts_b = [q for q in b.title_quantities if _amount(q)]
    if (
        amounts_a
        and amounts_b
        and not _matched(amounts_a, b.numbers)
        and not _matched(amounts_b, a.numbers)
    ):
        return None
    small, large = (a, b) if len(a.quantities) <= len(b.quantities) else (b, a)
    if not small.quantities:
        return []
    shared = _matched(small.quantities, large.numbers)
    return shared if len(shared) >= NUMBERS * len(small.quantities) else None


def _text_overlap(a: Fingerprint, b: Fingerprint) -> float | None:
    """Rule 3 and rule 5's floor on the whole text (:func:`score` has checked the title's):
    the bigram overlap, or ``None``."""
    if a.subject and b.subject:
        a_in_b = _common(a.subject, b.shingles) >= SUBJECT * len(a.subject)
        b_in_a = _common(b.subject, a.shingles) >= SUBJECT * len(b.subject)
        if not (a_in_b or b_in_a):
            return None
    overlap = _common(a.shingles, b.shingles) / min(len(a.shingles), len(b.shingles))
    return None if overlap < FLOOR else overlap


_SETS = (frozenset, set)


def _common(a: Collection[int], b: Collection[int]) -> int:
    """How many values two shingle collections share (either may be packed)."""
    if isinstance(a, _SETS):
        return len(a.intersection(b))
    if isinstance(b, _SETS):
        return len(b.intersection(a))
    return len(frozenset(a).intersection(b))


@dataclass(frozen=True, slots=True)
class _Figures:
    """A fingerprint's quantities and what follows from them, unpacked."""

    quantities: tuple[Quantity, ...]
    title_quantities: tuple[Quantity, ...]
    numbers: _Numbers
    magnitudes: frozenset[tuple[bool, int]]
    title_magnitudes: frozenset[tuple[bool, int]]


def _figures(fp: Fingerprint) -> _Figures:
    if fp.numbers is not None:
        # as made, a fingerprint has these fields unpacked: no copy (the common case)
        return cast("_Figures", fp)
    quantities = _unpack(fp.quantities)
    title = _unpack(fp.title_quantities)
    return _Figures(
        quantities, title, _Numbers.of(quantities), _magnitudes(quantities), _magnitudes(title)
    )


def _magnitudes(quantities: Iterable[Quantity]) -> frozenset[tuple[bool, int]]:
    return frozenset(q.magnitude for q in quantities)


# --- packing -----------------------------------------------------------------------------

#: a typecode of four-byte unsigned ints (bigrams of two code points below U+10000)
_U32 = next(code for code in "IL" if array(code).itemsize == 4)
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
        return array(_U32, listed)  # (made from a list, an array takes no spare room)
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
    """The same fingerprint packed for holding a long time (see :class:`Fingerprint`),
    compared as fast where it counts (a set's ``intersection`` walks an array as fast as
    a set)."""
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
    """The fingerprint as :func:`fingerprint` made it (equal to it), packed or not."""
    if fp.numbers is not None:
        return fp
    figures = _figures(fp)
    return Fingerprint(
        item_id=fp.item_id,
        published=fp.published,
        shingles=frozenset(fp.shingles),
        title_shingles=frozenset(fp.title_shingles),
        quantities=figures.quantities,
        title_quantities=figures.title_quantities,
        numbers=figures.numbers,
        magnitudes=figures.magnitudes,
        title_magnitudes=figures.title_magnitudes,
        dates=fp.dates,
        subject=frozenset(fp.subject),
        keys=tuple(fp.keys),
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


def packed(fp: Fingerprint) -> bool:
    """Whether ``fp`` is packed (:func:`compact`)."""
    return fp.numbers is None


def same_story(a: Fingerprint, b: Fingerprint) -> bool:
    """Whether two items tell the same story."""
    value = score(a, b)
    return value is not None and value >= THRESHOLD


def leader_key(fp: Fingerprint) -> tuple[datetime, int]:
    """What makes the earliest report: publication time, then row id."""
    return (fp.published, fp.item_id)


def components(
    fingerprints: Sequence[Fingerprint], pairs: Iterable[tuple[int, int]]
) -> dict[int, int]:
    """Cluster id of every item: the id of the earliest item of its connected component
    under ``pairs`` (of item ids). Items in no pair lead their own cluster."""
    parent = {fp.item_id: fp.item_id for fp in fingerprints}

    def root(node: int) -> int:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for a, b in pairs:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    leaders: dict[int, Fingerprint] = {}
    for fp in fingerprints:
        r = root(fp.item_id)
        if r not in leaders or leader_key(fp) < leader_key(leaders[r]):
            leaders[r] = fp
    return {fp.item_id: leaders[root(fp.item_id)].item_id for fp in fingerprints}


def _earlier_candidates(
    fp: Fingerprint, latest: Callable[[int], Iterable[Fingerprint]]
) -> list[Fingerprint]:
    """The earlier items to compare ``fp`` with: of the latest :data:`BUCKET_CAP` earlier
    items of each of its keys (``latest(key)``, newest first) those within the window, and
    of those the latest :data:`CANDIDATE_CAP`."""
    found: dict[int, Fingerprint] = {}
    for key in fp.keys:
        for other in latest(key):
            if fp.published - other.published <= WINDOW:
                found[other.item_id] = other
    if len(found) <= CANDIDATE_CAP:
        return list(found.values())
    return heapq.nlargest(CANDIDATE_CAP, found.values(), key=leader_key)


def candidate_pairs(fingerprints: Sequence[Fingerprint]) -> set[tuple[int, int]]:
    """Pairs of item ids (smaller first) to compare: each item with its
    :func:`_earlier_candidates` among all the others."""
    buckets: dict[int, list[Fingerprint]] = {}
    pairs: set[tuple[int, int]] = set()

    def latest(key: int) -> Iterable[Fingerprint]:
        return reversed(buckets.get(key, [])[-BUCKET_CAP:])

    for fp in sorted(fingerprints, key=leader_key):
        for other in _earlier_candidates(fp, latest):
            pairs.add((min(fp.item_id, other.item_id), max(fp.item_id, other.item_id)))
        for key in fp.keys:
            buckets.setdefault(key, []).append(fp)
    return pairs


def cluster_stream(fingerprints: Iterable[Fingerprint]) -> dict[int, int]:
    """Cluster ids of items given in :func:`leader_key` order (the archive streamed
    oldest first), holding only the last :data:`WINDOW` of fingerprints: the same
    clusters as :func:`cluster_batch`, in memory proportional to the window."""
    parent: dict[int, int] = {}
    roots: dict[int, tuple[datetime, int]] = {}  # the leader key of every current root
    window: deque[Fingerprint] = deque()
    buckets: dict[int, deque[Fingerprint]] = {}

    def root(node: int) -> int:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    previous: tuple[datetime, int] | None = None
    for fp in fingerprints:
        if previous is not None and leader_key(fp) < previous:
            raise ValueError("cluster_stream needs fingerprints in (published, id) order")
        previous = leader_key(fp)
        while window and fp.published - window[0].published > WINDOW:
            old = window.popleft()
            for key in old.keys:
                bucket = buckets[key]
                bucket.popleft()  # the oldest of every bucket it is in
                if not bucket:
                    del buckets[key]
        parent[fp.item_id] = fp.item_id
        roots[fp.item_id] = leader_key(fp)
        for other in _earlier_candidates(
            fp, lambda key: islice(reversed(buckets.get(key, ())), BUCKET_CAP)
        ):
            ra, rb = root(fp.item_id), root(other.item_id)
            if ra != rb and same_story(fp, other):
                # the earlier root (its component's earliest item) stays the root
                early, late = (ra, rb) if roots[ra] < roots[rb] else (rb, ra)
                parent[late] = early
                del roots[late]
        window.append(fp)
        for key in fp.keys:
            buckets.setdefault(key, deque()).append(fp)
    return {item_id: root(item_id) for item_id in parent}


def cluster_batch(fingerprints: Sequence[Fingerprint]) -> dict[int, int]:
    """Cluster ids of a whole set of items at once (see :func:`components`)."""
    by_id = {fp.item_id: fp for fp in fingerprints}
    matched = [(a, b) for a, b in candidate_pairs(fingerprints) if same_story(by_id[a], by_id[b])]
    return components(fingerprints, matched)
