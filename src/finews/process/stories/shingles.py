"""A text as the set of its character bigrams (shingles), what
:mod:`~finews.process.stories.score` compares and
:mod:`~finews.process.stories.keys` hashes.

Each bigram is one int, exact and the same in every process: two code points below
U+10000 (nearly every pair) give ``a << 16 | b``, below 2**32, so that a packed
fingerprint (:mod:`~finews.process.stories.prints`) holds them in four bytes; other pairs
``WIDE + (a << 21 | b)``.
"""

from __future__ import annotations

from array import array
from itertools import pairwise

__all__ = ["LOW16", "U32", "WIDE", "bigrams"]

#: bigrams with a code point above U+FFFF are numbered from here on
WIDE = 1 << 32
#: the low code point of a bigram below :data:`WIDE` (its high one is above 16 bits)
LOW16 = 0xFFFF
#: a typecode of four-byte unsigned ints (bigrams of two code points below U+10000)
U32 = next(code for code in "IL" if array(code).itemsize == 4)


def bigrams(text: str) -> frozenset[int]:
    """The text's character bigrams, each as one int (see the module's docstring).
    (:mod:`~finews.process.stories.keys` hashes the older numbering ``a << 21 | b``.)"""
    codes = [ord(c) for c in text]
    return frozenset(
        [(a << 16 | b) if (a | b) <= LOW16 else WIDE + (a << 21 | b) for a, b in pairwise(codes)]
    )
