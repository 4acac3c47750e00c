"""The story window: fingerprints and candidate keys of the items published around those
being clustered, held in memory between rounds (pure: no SQL; :mod:`finews.derive.stories`
fills it from the database and moves its earliest items there).

:class:`Window` holds at most :attr:`Window.LIMIT` items, packed, with a dict from each of their
candidate keys to the sorted entries of the items holding it.
"""

from __future__ import annotations

import heapq
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


class Window:
    """Fingerprints of recently clustered items and the items holding each of their keys,
    kept between writes (a cache: which items count, and their stories, come from the
    database).

    Each item is held packed (:func:`~finews.process.stories.prints.compact`), with its
    revision and its entry (:func:`entry_of`); :attr:`keys` maps each candidate key to the
    sorted entries of the items holding it. At most :attr:`LIMIT` items stay between
    writes: beyond that the store moves the earliest published to the database
    (``story_prints``, ``story_keys``), so memory stays flat however many items the window
    around the news spans."""

    #: above this many, entries that cannot be candidates of the items being clustered
    #: (published more than WINDOW from all of them) are dropped, and if still above, the
    #: earliest published move to the database (down to 3/4 of it). 3,000 items: about
    #: 14 MB, and more than the 20-hour window holds at the clustering benchmark's density,
    #: which thus never touches the disk
    LIMIT = 3_000

    def __init__(self) -> None:
        #: item id → (revision, packed fingerprint, entry)
        self.fps: dict[int, tuple[int, Fingerprint, int]] = {}
        #: candidate key → the entries of the items holding it, sorted (tuples of ints,
        #: which the cycle collector stops tracking: a window of lists made every full
        #: collection walk a hundred thousand of them)
        self.keys: dict[int, tuple[int, ...]] = {}

    def holds(self, item_id: int, revision: int) -> bool:
        """Whether the fingerprint of this revision of the item is here."""
        entry = self.fps.get(item_id)
        return entry is not None and entry[0] == revision

    def add(self, revision: int, fp: Fingerprint) -> None:
        """Hold an item's fingerprint (in place of an older revision's)."""
        if fp.item_id in self.fps:
            self.remove(fp.item_id)
        held = compact(fp)
        mine = entry_of(held)
        self.fps[held.item_id] = (revision, held, mine)
        keys = self.keys
        for key in held.keys:
            members = keys.get(key)
            if members is None:
                keys[key] = (mine,)
            else:
                at = bisect_left(members, mine)
                keys[key] = (*members[:at], mine, *members[at:])

    def remove(self, item_id: int) -> None:
        """Forget an item."""
        _, fp, mine = self.fps.pop(item_id)
        keys = self.keys
        for key in fp.keys:
            members = keys.get(key, ())
            at = bisect_left(members, mine)
            if at == len(members) or members[at] != mine:
                raise AssertionError(f"story window: key {key} not held for {item_id}")
            if len(members) == 1:
                del keys[key]
            else:
                keys[key] = (*members[:at], *members[at + 1 :])

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
        earlier: dict[int, int] = {}
        later: dict[int, int] = {}
        keys = self.keys
        for key in fp.keys:
            held = keys.get(key)
            more = stored.get(key) if stored else None
            if held is None and more is None:
                continue
            before, after = self._near(held or (), mine, valid, fp.item_id)
            if more is not None:
                # this key's nearest from here and from disk: the nearest of both
                before = heapq.nlargest(BUCKET_CAP, [*before, *more[0]])
                after = heapq.nsmallest(BUCKET_CAP, [*after, *more[1]])
            for when in before:
                earlier[entry_id(when)] = when
            for when in after:
                later[entry_id(when)] = when
        chosen = sorted(earlier, key=earlier.__getitem__)[-CANDIDATE_CAP:]
        # (beyond the caps, arrival order can matter: only with dozens of near-identical
        # items within the window)
        return [*chosen, *sorted(later, key=later.__getitem__)[:CANDIDATE_CAP]]
