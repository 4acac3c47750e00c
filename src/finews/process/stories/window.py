"""The story window: fingerprints and candidate keys of the items published around those
being clustered, held in memory between rounds (pure: no SQL; :mod:`finews.derive.stories`
fills it from the database and moves its earliest items there).

:class:`Window` holds at most :attr:`Window.LIMIT` items, packed, about 2.7 KB an item;
:class:`Keys` is its open-addressing table of candidate keys over ``array('q')`` (16 bytes a
slot where a dict takes about 90 a key).
"""

from __future__ import annotations

import heapq
from array import array
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from finews.process.stories.fingerprint import Fingerprint
from finews.process.stories.parameters import BUCKET_CAP, CANDIDATE_CAP, WINDOW
from finews.process.stories.prints import compact, unpacked

__all__ = [
    "EPOCH",
    "ID_OFFSET",
    "MICROSECOND",
    "WINDOW_US",
    "Keys",
    "Window",
    "entry_id",
    "entry_of",
    "relevant",
    "shifted",
]


def relevant(fp: Fingerprint) -> tuple[Any, ...]:
    """What decides matches (the id aside), the same for a packed fingerprint."""
    fp = unpacked(fp)
    return (fp.published, fp.shingles, fp.quantities, fp.title_quantities, fp.dates, fp.subject)


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
_FIRST = datetime.min.replace(tzinfo=UTC)
_LAST = datetime.max.replace(tzinfo=UTC)


def shifted(moment: datetime, delta: timedelta) -> datetime:
    """``moment + delta``, held at the first or last representable instant instead of
    overflowing (an item an old database holds as published in the year 9999 or 1)."""
    try:
        return moment + delta
    except OverflowError:
        return _LAST if delta > timedelta(0) else _FIRST


WINDOW_US = WINDOW // MICROSECOND
ID_OFFSET = 1 << 63
_ID_MASK = (1 << 64) - 1


def entry_of(fp: Fingerprint) -> int:
    """:func:`~finews.process.stories.cluster.leader_key` (published, id) as one int that sorts
    the same: microseconds since 1970 above 64 bits of id."""
    return ((fp.published - EPOCH) // MICROSECOND << 64) + fp.item_id + ID_OFFSET


def entry_id(entry: int) -> int:
    return (entry & _ID_MASK) - ID_OFFSET


# kept for memory: 14 % less peak RSS than a dict (docs/benchmarks/search-and-clustering.md)
class Keys:
    """The window's candidate keys: an open-addressing table (linear probing) in two
    arrays of int64, key and value, half to 3/4 full (it grows by half): 16 bytes a slot
    where a dict takes about 90 a key. A value is an item id (above 0: the one item
    holding the key), a bucket (below 0: ``-1 - index`` in :attr:`Window.buckets`), or 0
    (an empty slot)."""

    __slots__ = ("count", "keys", "size", "values")

    def __init__(self, size: int = 1024) -> None:
        self.keys = array("q", bytes(8 * size))
        self.values = array("q", bytes(8 * size))
        self.size = size
        self.count = 0

    def __len__(self) -> int:
        return self.count

    def _slot(self, key: int) -> int:
        """The slot holding ``key``, or the empty slot that ends its probe."""
        keys, values, size = self.keys, self.values, self.size
        at = key % size
        while values[at] and keys[at] != key:
            at = (at + 1) % size
        return at

    def put(self, key: int, value: int) -> None:
        """Set the value of ``key`` (not 0)."""
        at = self._slot(key)
        if not self.values[at]:
            if (self.count + 1) * 4 > self.size * 3:
                self._resize(self.size * 3 // 2)
                at = self._slot(key)
            self.keys[at] = key
            self.count += 1
        self.values[at] = value

    def pop(self, key: int) -> int:
        """Forget ``key``; return its value, or 0."""
        keys, values, size = self.keys, self.values, self.size
        at = key % size
        found = values[at]
        while found and keys[at] != key:
            at = at + 1 if at + 1 < size else 0
            found = values[at]
        if not found:
            return 0
        # backward-shift deletion: move up every later entry of the run whose probe
        # started at or before the hole, so that no probe meets an empty slot too soon
        hole = at
        while True:
            at = (at + 1) % size
            if not values[at]:
                break
            if (at - keys[at]) % size >= (at - hole) % size:  # (its home slot: key % size)
                keys[hole] = keys[at]
                values[hole] = values[at]
                hole = at
        values[hole] = 0
        self.count -= 1
        if self.count * 16 < size and size > 1024:
            self._resize(max(size // 2, 1024))
        return found

    # the window's loops call these once per item, for all its keys: the probing inline
    def lookup(self, keys: Sequence[int]) -> list[int]:
        """The value of each key (0 for a key not held)."""
        table, values, size = self.keys, self.values, self.size
        found = []
        for key in keys:
            at = key % size
            value = values[at]
            while value and table[at] != key:
                at = at + 1 if at + 1 < size else 0
                value = values[at]
            found.append(value)
        return found

    def claim_all(self, keys: Sequence[int], value: int) -> list[int]:
        """Give each of these keys (distinct) the value ``value`` where it has none: the
        values they had (0 for each key claimed now)."""
        while (self.count + len(keys)) * 4 > self.size * 3:
            self._resize(self.size * 3 // 2)
        table, values, size = self.keys, self.values, self.size
        found = []
        for key in keys:
            at = key % size
            held = values[at]
            while held and table[at] != key:
                at = at + 1 if at + 1 < size else 0
                held = values[at]
            if not held:
                table[at] = key
                values[at] = value
                self.count += 1
            found.append(held)
        return found

    def _resize(self, size: int) -> None:
        old_keys, old_values = self.keys, self.values
        keys = self.keys = array("q", bytes(8 * size))
        values = self.values = array("q", bytes(8 * size))
        self.size = size
        for key, value in zip(old_keys, old_values, strict=True):
            if value:
                at = key % size
                while values[at]:
                    at = (at + 1) % size
                keys[at] = key
                values[at] = value


class Window:
    """Fingerprints of recently clustered items and the buckets of their keys, kept between
    writes (a cache: which items count, and their stories, come from the database).

    Each item is held packed (:func:`~finews.process.stories.prints.compact`), with its revision
    and its :func:`_entry`; its keys go in :class:`Keys`, which holds the item's id for a
    key no other item has and, for a key several items share, a bucket: a sorted tuple of
    their entries (each item's one int object). About 2.7 KB an item all told (BENCHMARKS.md,
    "Soak"). At most :attr:`LIMIT` items stay between writes: beyond that the store moves
    the earliest published to the database (``story_prints``, ``story_keys``), so memory
    stays flat however many items the window around the news spans."""

    #: above this many, entries that cannot be candidates of the items being clustered
    #: (published more than WINDOW from all of them) are dropped, and if still above, the
    #: earliest published move to the database (down to 3/4 of it). 3,000 items: about
    #: 8 MB, and more than the 20-hour window holds at the clustering benchmark's density,
    #: which thus never touches the disk
    LIMIT = 3_000

    def __init__(self) -> None:
        #: item id → (revision, packed fingerprint, entry)
        self.fps: dict[int, tuple[int, Fingerprint, int]] = {}
        self.keys = Keys()
        self.buckets: list[tuple[int, ...]] = []
        self._free: list[int] = []

    def holds(self, item_id: int, revision: int) -> bool:
        """Whether the fingerprint of this revision of the item is here."""
        entry = self.fps.get(item_id)
        return entry is not None and entry[0] == revision

    def _bucket(self, members: tuple[int, ...]) -> int:
        """Keep a new bucket; return the value that points to it."""
        if self._free:
            index = self._free.pop()
            self.buckets[index] = members
        else:
            index = len(self.buckets)
            self.buckets.append(members)
        return -1 - index

    def _drop_bucket(self, index: int) -> None:
        self.buckets[index] = ()
        self._free.append(index)

    def add(self, revision: int, fp: Fingerprint) -> None:
        """Hold an item's fingerprint (in place of an older revision's)."""
        if fp.item_id in self.fps:
            self.remove(fp.item_id)
        held = compact(fp)
        mine = entry_of(held)
        self.fps[held.item_id] = (revision, held, mine)
        item_id = held.item_id
        keys = held.keys
        # id 0 (or below) would read as an empty slot or a bucket: such an item only ever
        # goes in buckets
        found = self.keys.claim_all(keys, item_id) if item_id > 0 else self.keys.lookup(keys)
        for key, value in zip(keys, found, strict=True):
            if value < 0:
                members = self.buckets[-1 - value]
                at = bisect_left(members, mine)
                self.buckets[-1 - value] = (*members[:at], mine, *members[at:])
            elif value > 0:
                other = self.fps[value][2]
                pair = (other, mine) if other < mine else (mine, other)
                self.keys.put(key, self._bucket(pair))
            elif item_id <= 0:
                self.keys.put(key, self._bucket((mine,)))

    def remove(self, item_id: int) -> None:
        """Forget an item."""
        _, fp, mine = self.fps.pop(item_id)
        for key, value in zip(fp.keys, self.keys.lookup(fp.keys), strict=True):
            if value >= 0:
                if value != item_id:
                    raise AssertionError(f"story window: key {key} not held for {item_id}")
                self.keys.pop(key)
                continue
            members = self.buckets[-1 - value]
            at = bisect_left(members, mine)
            if members[at] != mine:
                raise AssertionError(f"story window: key {key} not held for {item_id}")
            rest = (*members[:at], *members[at + 1 :])
            if len(rest) == 1 and (other := entry_id(rest[0])) > 0:
                self._drop_bucket(-1 - value)
                self.keys.put(key, other)
            elif not rest:
                self._drop_bucket(-1 - value)
                self.keys.pop(key)
            else:
                self.buckets[-1 - value] = rest

    def earliest(self, count: int) -> list[int]:
        """The ids of the ``count`` items held that were published first."""
        fps = self.fps
        return heapq.nsmallest(count, fps, key=lambda item_id: fps[item_id][2])

    def trim(self, low: datetime, high: datetime) -> None:
        """When too many are held, drop those published outside ``low``–``high`` (the items
        being clustered, widened by WINDOW on each side: none outside can be a candidate)."""
        if len(self.fps) <= self.LIMIT:
            return
        far = [
            item_id
            for item_id, (_, fp, _) in self.fps.items()
            if fp.published < low or fp.published > high
        ]
        for item_id in far:
            self.remove(item_id)
        if not self.fps:
            self.buckets.clear()
            self._free.clear()

    @staticmethod
    def _near(
        members: Sequence[int], mine: int, valid: Mapping[int, int], me: int
    ) -> tuple[list[int], list[int]]:
        """Of sorted entries, up to :data:`BUCKET_CAP` of those that count before ``mine``
        and from it on, within the window, nearest first."""
        now = mine >> 64
        at = bisect_left(members, mine)
        before: list[int] = []
        for index in range(at - 1, -1, -1):
            when = members[index]
            if now - (when >> 64) > WINDOW_US or len(before) == BUCKET_CAP:
                break
            if (other := entry_id(when)) in valid and other != me:
                before.append(when)
        after: list[int] = []
        for index in range(at, len(members)):
            when = members[index]
            if (when >> 64) - now > WINDOW_US or len(after) == BUCKET_CAP:
                break
            if (other := entry_id(when)) in valid and other != me:
                after.append(when)
        return before, after

    def candidates(
        self,
        fp: Fingerprint,
        valid: Mapping[int, int],
        stored: Mapping[int, tuple[list[int], list[int]]] | None = None,
    ) -> list[int]:
        """The stored items (those in ``valid``) to compare ``fp`` with: the earlier ones
        exactly as :func:`~finews.process.stories.cluster.candidate_pairs` picks them, and the
        later ones that would count ``fp`` among the latest :data:`BUCKET_CAP` of a
        shared key. ``stored`` adds, per key, the nearest entries of items held in the
        database instead of here (``Stories._stored_keys``, :mod:`finews.derive.stories`):
        earlier ones nearest first, later ones nearest first, each at least
        :data:`BUCKET_CAP` of those that count (or all there are)."""
        mine = entry_of(fp)
        now = mine >> 64
        earlier: dict[int, int] = {}
        later: dict[int, int] = {}
        found = self.keys.lookup(fp.keys)
        if stored:
            for index, key in enumerate(fp.keys):
                more = stored.get(key)
                if more is None:
                    continue
                # this key's nearest from here and from disk: the nearest of both
                value = found[index]
                found[index] = 0
                held = (
                    (self.fps[value][2],)
                    if value > 0
                    else self.buckets[-1 - value]
                    if value
                    else ()
                )
                before, after = self._near(held, mine, valid, fp.item_id)
                for when in heapq.nlargest(BUCKET_CAP, [*before, *more[0]]):
                    earlier[entry_id(when)] = when
                for when in heapq.nsmallest(BUCKET_CAP, [*after, *more[1]]):
                    later[entry_id(when)] = when
        for value in found:
            if value > 0:
                if value != fp.item_id and value in valid:
                    when = self.fps[value][2]
                    if when < mine:
                        if now - (when >> 64) <= WINDOW_US:
                            earlier[value] = when
                    elif (when >> 64) - now <= WINDOW_US:
                        later[value] = when
                continue
            if not value:
                continue
            members = self.buckets[-1 - value]
            at = bisect_left(members, mine)
            taken = 0
            for index in range(at - 1, -1, -1):
                when = members[index]
                if now - (when >> 64) > WINDOW_US:
                    break
                other = entry_id(when)
                if other in valid and other != fp.item_id:
                    earlier[other] = when
                    taken += 1
                    if taken == BUCKET_CAP:
                        break
            taken = 0
            for index in range(at, len(members)):
                when = members[index]
                if (when >> 64) - now > WINDOW_US:
                    break
                other = entry_id(when)
                if other in valid and other != fp.item_id:
                    later[other] = when
                    taken += 1
                    if taken == BUCKET_CAP:
                        break
        chosen = sorted(earlier, key=earlier.__getitem__)[-CANDIDATE_CAP:]
        # (beyond the caps, arrival order can matter: only with dozens of near-identical
        # items within the window)
        return [*chosen, *sorted(later, key=later.__getitem__)[:CANDIDATE_CAP]]
