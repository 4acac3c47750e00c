"""An item's fingerprint: what :mod:`~finews.process.stories.score` compares, read from the
item's title and the first :data:`LEAD_CHARS` characters of its digest (or full text),
with source tags such as （财联社）, datelines, dates and punctuation removed; and the
candidate keys that find it (:mod:`~finews.process.stories.keys`).
"""

from __future__ import annotations

import re
from array import array
from dataclasses import dataclass
from datetime import datetime

from finews.process.index import fold, plain_prefix, plain_text
from finews.process.stories.keys import candidate_keys
from finews.process.stories.parameters import LEAD_CHARS, TEXT_PREFIX
from finews.process.stories.quantities import (
    Numbers,
    Quantity,
    magnitudes,
    quantities_in,
    telling,
    unique,
)
from finews.process.stories.shingles import bigrams

__all__ = ["Fingerprint", "cleaned", "fingerprint", "normal_text"]

_SOURCE_TAG = re.compile(
    r"[（(][^（）()]{0,16}?(?:社|网|报|台|财经|记者|来源|编辑|新闻|资讯|快讯|消息)[^（）()]{0,8}[）)]"
)
_DATELINE = re.compile(r"^[^，,。：:；;]{0,16}?\d{1,2}月\d{1,2}日(?:电|讯|消息|报道)[，,：: ]?")
_DATE = re.compile(r"(?:\d{4}年)?(\d{1,2})月(\d{1,2})日")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3})")
_KEEP = re.compile(r"[^\W_]+")
_SUBJECT = re.compile(r"^([^：:，,。\s]{2,10})[：:]")


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What :func:`~finews.process.stories.score.same_story` compares, and the keys that
    find candidates.

    As :func:`fingerprint` makes it, its sets are frozensets and tuples, quick to compare;
    :func:`~finews.process.stories.prints.compact` packs it for holding a long time (about
    1.5 KB instead of 15 KB): the bigram sets and the keys become arrays, the quantities an
    array of three floats each, and what follows from the quantities (``numbers``,
    ``magnitudes``, ``title_magnitudes``) ``None``, remade when a comparison needs it.
    Either form compares the same (:func:`~finews.process.stories.score.score`);
    :func:`~finews.process.stories.prints.unpacked` gives back the first."""

    item_id: int
    published: datetime
    #: character bigrams of title and lead (see :mod:`~finews.process.stories.shingles`)
    shingles: frozenset[int] | array[int]
    title_shingles: frozenset[int] | array[int]
    quantities: tuple[Quantity, ...] | array[float]
    title_quantities: tuple[Quantity, ...] | array[float]
    numbers: Numbers | None
    magnitudes: frozenset[tuple[bool, int]] | None
    title_magnitudes: frozenset[tuple[bool, int]] | None
    dates: frozenset[str]
    subject: frozenset[int] | array[int]
    keys: tuple[int, ...] | array[int]


def normal_text(text: str) -> str:
    """Text folded (:func:`~finews.process.index.fold`), thousands separators gone."""
    return _THOUSANDS.sub("", fold(text))


def cleaned(text: str) -> tuple[str, list[Quantity], set[str]]:
    """Text for shingles (tags, datelines, dates, punctuation gone), quantities, dates."""
    # (each pattern needs a character most texts lack: skip what cannot match)
    if "（" in text or "(" in text:
        text = _SOURCE_TAG.sub("", text)
    dates: set[str] = set()
    if "月" in text:
        text = _DATELINE.sub("", text)
        dates = {f"{int(m[1])}-{int(m[2])}" for m in _DATE.finditer(text)}
        text = _DATE.sub("", text)
    return "".join(_KEEP.findall(text)), quantities_in(text), dates


def fingerprint(
    item_id: int, title: str, digest: str, content: str, published: datetime
) -> Fingerprint:
    """The fingerprint of one item from its stored fields (``published`` aware)."""
    if published.tzinfo is None:
        raise ValueError(f"item {item_id}: published must be timezone-aware")
    # markup out first, then the cut: a prefix cut inside <img src="…"> read the URL as text
    lead = plain_prefix(digest, TEXT_PREFIX) or plain_prefix(content, TEXT_PREFIX)
    title_text = normal_text(plain_text(title))
    lead_text = normal_text(lead[: LEAD_CHARS * 2])
    subject_match = _SUBJECT.match(title_text)
    clean_title, title_quantities, title_dates = cleaned(title_text)
    clean_lead, lead_quantities, lead_dates = cleaned(lead_text)
    clean_lead = clean_lead[:LEAD_CHARS]
    title_shingles = bigrams(clean_title)
    shingles = title_shingles | bigrams(clean_lead)
    quantities = unique(title_quantities + lead_quantities)
    headline = [q for q in unique(title_quantities) if telling(q)]
    return Fingerprint(
        item_id=item_id,
        published=published,
        shingles=shingles,
        title_shingles=title_shingles,
        quantities=tuple(quantities),
        numbers=Numbers.of(quantities),
        title_quantities=tuple(headline),
        magnitudes=magnitudes(quantities),
        title_magnitudes=magnitudes(headline),
        dates=frozenset(title_dates | lead_dates),
        subject=bigrams(subject_match[1]) if subject_match else frozenset(),
        keys=candidate_keys(shingles, clean_title, quantities),
    )
