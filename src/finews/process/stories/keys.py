"""Candidate keys: what an item's fingerprint is found by, so that not every pair of items
is compared. Keys are stored (``story_keys``), so finews defines every one of them here,
instead of leaving them to Python's ``hash()``: every process, build and interpreter
sharing a database finds the same candidates in the keys it stored. They must never change
without the print format changing (:mod:`~finews.process.stories.prints`) and a migration
that drops the stored keys; the tests pin them and check them against their plain
definitions.

An item's keys (:func:`candidate_keys`) are

- one per band of a one-permutation MinHash over its bigrams (:data:`BINS` bins, empty
  ones filled from the next, bands of :data:`ROWS`): ``stable_key(band, *minima)``;
- its normalised title's BLAKE2b (eight bytes, signed);
- one per pair of its :data:`KEY_QUANTITIES` most specific quantities:
  ``stable_key(_PAIR_TAG, code_a, code_b)`` (:func:`_quantity_code`).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Collection, Sequence
from itertools import combinations
from typing import cast

from finews.process.stories.parameters import BINS, KEY_QUANTITIES, ROWS
from finews.process.stories.quantities import Quantity
from finews.process.stories.shingles import LOW16, WIDE

__all__ = ["band_keys", "candidate_keys", "minhash_value", "stable_key"]

_MIX = 0x9E3779B97F4A7C15
_MASK64 = (1 << 64) - 1
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


def candidate_keys(
    shingles: Collection[int], clean_title: str, quantities: Sequence[Quantity]
) -> tuple[int, ...]:
    """The candidate keys of an item (sorted) from its bigrams, its title as cleaned for
    shingles, and its quantities (see the module's docstring)."""
    keys = set(band_keys(shingles))
    if clean_title:
        # signed, as every other key, so that a packed fingerprint holds them as int64
        title_key = hashlib.blake2b(clean_title.encode(), digest_size=8).digest()
        keys.add(int.from_bytes(title_key, signed=True))
    specific = sorted(quantities, key=lambda q: (-q.digits, q.value))[:KEY_QUANTITIES]
    codes = [_quantity_code(q) for q in sorted(specific, key=lambda q: (q.percent, q.value))]
    # stable_key(_PAIR_TAG, a, b) for each pair, written out as _keys_of_bands does
    keys.update(((_PAIR_SALT ^ a) * _MIX ^ b) & _KEY_MASK for a, b in combinations(codes, 2))
    return tuple(sorted(keys))


def _quantity_code(q: Quantity) -> int:
    """``stable_key(percent, bits)`` of a quantity's coarse value (two significant digits,
    so that 15.88% and 16% share it) and whether it is a percentage; ``bits`` are the
    value's IEEE 754 double as an unsigned integer. A quantity-pair key is
    ``stable_key(_PAIR_TAG, code_a, code_b)``."""
    bits: int = _FLOAT_BITS.unpack(_FLOAT.pack(q.coarse))[0]
    return (q.percent * _MIX ^ bits) & _KEY_MASK


def minhash_value(shingle: int) -> int:
    """A bigram of :func:`~finews.process.stories.shingles.bigrams` as ``a << 21 | b``
    (what the candidate keys hash)."""
    if shingle < WIDE:
        return (shingle >> 16) << 21 | (shingle & LOW16)
    return shingle - WIDE


def band_keys(shingles: Collection[int]) -> list[int]:
    """One-permutation MinHash of the shingles, cut into bands, one key per band."""
    return _keys_of_bands(_bin_minima(shingles)) if shingles else []


def _bin_minima(shingles: Collection[int]) -> list[int]:
    """The :data:`BINS` minima of a one-permutation MinHash of (non-empty) shingles, empty
    bins filled from the next."""
    # hashed as a << 21 | b (what minhash_value gives), so that the keys stay as they were;
    # for a pair below U+10000, a << 16 | b plus 31 × (a << 16) is a << 21 | b
    if max(shingles) < WIDE:
        high = LOW16 << 16
        mixed = [(v + 31 * (v & high)) * _MIX & _MASK64 for v in shingles]
    else:
        wide, low = WIDE, LOW16
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
