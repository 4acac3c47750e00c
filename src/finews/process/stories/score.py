"""The rule that says two items tell the same story.

Two items are **the same story** when (:func:`same_story`):

1. they were published at most :data:`WINDOW` apart (20 hours: a daily report of the same
   shape, such as the central bank's daily open-market operation, comes 24 hours later);
2. the dates they name (9月2日) are not different dates;
3. when both titles name a subject before a colon (格力电器：…, 美的集团：…), one of the
   subjects appears in the other item (templates about another company differ);
4. their numbers agree: at least :data:`NUMBERS` of the smaller set of quantities
   (percentages, amounts with 万/亿, plain numbers; dates left out) equals one of the other
   set, exactly or as the other was rounded (:mod:`~finews.process.stories.quantities`);
   and a title that gives quantities shares one with the other item (拼多多盘前跌超20% is
   not the earnings report it mentions); and when both titles give amounts (:data:`AMOUNT`
   or more), one of them is found in the other item (央行开展80亿元 is not 央行开展2000亿元,
   round as both are);
5. their texts are alike: the share of the smaller set of character bigrams (of the
   fingerprint: :mod:`~finews.process.stories.fingerprint`) found in the other set, plus
   :data:`NUMBER_WEIGHT` per significant digit of each shared quantity (a shared 4053亿元
   says more than a shared 7), reaches :data:`THRESHOLD`, with at least :data:`FLOOR` from
   the text alone and :data:`TITLE_FLOOR` of the shorter title's bigrams shared (a common
   boilerplate sentence does not make two headlines one story).

The parameters are :mod:`~finews.process.stories.parameters`'.
"""

from __future__ import annotations

from collections.abc import Collection

from finews.process.stories.fingerprint import Fingerprint
from finews.process.stories.parameters import (
    FLOOR,
    MAX_EVIDENCE,
    NUMBERS,
    SUBJECT,
    THRESHOLD,
    TITLE_FLOOR,
    WINDOW,
)
from finews.process.stories.prints import Figures, figures
from finews.process.stories.quantities import Quantity, amount, matched

__all__ = ["same_story", "score"]


def same_story(a: Fingerprint, b: Fingerprint) -> bool:
    """Whether two items tell the same story."""
    value = score(a, b)
    return value is not None and value >= THRESHOLD


def score(a: Fingerprint, b: Fingerprint) -> float | None:
    """Text overlap plus number evidence of two items, or ``None`` when rules 1–4 or the
    text floors rule them out (see the module docstring). Either may be packed
    (:func:`~finews.process.stories.prints.compact`)."""
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
        shared = _numbers_agree(figures(a), figures(b))
        overlap = None if shared is None else _text_overlap(a, b)
    else:
        overlap = _text_overlap(a, b)
        if overlap is None:
            return None
        numbers = a.quantities or b.quantities
        shared = _numbers_agree(figures(a), figures(b)) if numbers else []
    if shared is None or overlap is None:
        return None
    return overlap + min(sum(q.weight for q in shared), MAX_EVIDENCE)


def _numbers_agree(a: Figures, b: Figures) -> list[Quantity] | None:
    """Rule 4: the quantities the smaller set shares with the other, or ``None``."""
    for mine, other in ((a, b), (b, a)):
        told = [q for q in mine.title_quantities if q.weight > 0]
        if told and (
            not (mine.title_magnitudes & other.magnitudes) or not matched(told, other.numbers)
        ):
            return None
    # title amounts on both sides (a round 80亿 weighs nothing above): one must be shared
    amounts_a = [q for q in a.title_quantities if amount(q)]
    amounts_b = [q for q in b.title_quantities if amount(q)]
    if (
        amounts_a
        and amounts_b
        and not matched(amounts_a, b.numbers)
        and not matched(amounts_b, a.numbers)
    ):
        return None
    small, large = (a, b) if len(a.quantities) <= len(b.quantities) else (b, a)
    if not small.quantities:
        return []
    shared = matched(small.quantities, large.numbers)
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
