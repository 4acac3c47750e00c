"""Stories in the store: which items tell the same story, kept up to date as items arrive.

``item_clusters`` gives each item the id of its story's earliest report (its leader). The
rule and the fingerprints are :mod:`finews.process.cluster`'s; this module applies them to
stored items:

- **incrementally**, inside ``upsert_items`` (:meth:`ClusterMixin._cluster_items`): an
  edited item whose fingerprint changed first leaves its story (which may split in two),
  then every written item joins the stories of the items it matches within the window
  around it (which may merge). The write holds the change-log lock, so on PostgreSQL two
  writers never cluster at once and each sees the other's committed stories;
- **in one pass** (:func:`recluster`), streaming the archive oldest first.

Each round of the incremental step compares items with those published within the
window (20 hours) around them. Their fingerprints and candidate keys are cached: in memory
(:class:`_Window`, at most :attr:`_Window.LIMIT` items between writes) and, for the
earliest of a longer window, in the database (``story_prints``, ``story_keys``), so a
daemon's memory stays flat at any rate of news. Both are caches of what ``items`` gives:
a row counts only at its item's current revision, and anything held nowhere is
fingerprinted again.

Both give the clusters of :func:`finews.process.cluster.cluster_batch` over the same
items (exactly when items arrive oldest first, or when no key is shared by more than
``BUCKET_CAP`` items within the window; otherwise a link may differ). Fingerprints are
cached per store object by (item id, revision), which never changes meaning, so a cache
cannot go stale while other processes write; which items count, and their stories, are
always read from the database.
"""

from __future__ import annotations

import gc
import heapq
import threading
from array import array
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from finews.errors import StoreError
from finews.models import Item
from finews.process.cluster import (
    ALGORITHM_VERSION,
    BUCKET_CAP,
    CANDIDATE_CAP,
    TEXT_PREFIX,
    WINDOW,
    Fingerprint,
    cluster_stream,
    compact,
    fingerprint,
    from_bytes,
    leader_key,
    print_keys,
    same_story,
    to_bytes,
    unpacked,
)
from finews.store.columns import ITEM_COLUMNS, in_list, item_columns

if TYPE_CHECKING:
    from finews.store.base import Store, Transaction

__all__ = [
    "ClusterMixin",
    "ClusterStatus",
    "also_reported",
    "big_stories",
    "cluster_status",
    "copies_among",
    "items_by_id",
    "recluster",
    "shared_stories",
    "story_keys",
    "story_members",
    "story_sizes",
    "sync_clusters",
]

_CACHE_SIZE = 2_000
#: rows read beyond BUCKET_CAP per key and side of the window on disk, for rows at an old
#: revision (which count for nothing): more are read only when those run out
_SLACK = 8
_CHUNK = 500


_OTHER_MEMBERS = (
    "SELECT {columns} "
    "FROM item_clusters c JOIN item_clusters m ON m.cluster_id = c.cluster_id "
    "JOIN items i ON i.id = m.item_id WHERE c.item_id = ? AND m.item_id <> c.item_id "
    "ORDER BY i.published_at, i.id"
)
#: an item's columns with its full text left out (an empty ``content``)
_ROW_COLUMNS = ", ".join(
    "'' AS content" if column == "i.content" else column for column in item_columns("i").split(", ")
)


def _fingerprint_row(row: Sequence[Any]) -> Fingerprint:
    """(id, title, digest prefix, content prefix, published_at text) → fingerprint."""
    from finews.store.base import from_db_time

    published = from_db_time(row[4])
    assert published is not None
    return fingerprint(int(row[0]), row[1], row[2] or "", row[3] or "", published)


def _fingerprint_select(table: str, id_column: str) -> str:
    return (
        f"SELECT {id_column}, title, substr(digest, 1, {TEXT_PREFIX}), "
        f"substr(content, 1, {TEXT_PREFIX}), published_at FROM {table}"
    )


def _relevant(fp: Fingerprint) -> tuple[Any, ...]:
    """What decides matches (the id aside), the same for a packed fingerprint."""
    fp = unpacked(fp)
    return (fp.published, fp.shingles, fp.quantities, fp.title_quantities, fp.dates, fp.subject)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_FIRST = datetime.min.replace(tzinfo=UTC)
_LAST = datetime.max.replace(tzinfo=UTC)


def _shifted(moment: datetime, delta: timedelta) -> datetime:
    """``moment + delta``, held at the first or last representable instant instead of
    overflowing (an item an old database holds as published in the year 9999 or 1)."""
    try:
        return moment + delta
    except OverflowError:
        return _LAST if delta > timedelta(0) else _FIRST


_WINDOW_US = WINDOW // _MICROSECOND
_ID_OFFSET = 1 << 63
_ID_MASK = (1 << 64) - 1


def _entry(fp: Fingerprint) -> int:
    """:func:`~finews.process.cluster.leader_key` (published, id) as one int that sorts
    the same: microseconds since 1970 above 64 bits of id."""
    return ((fp.published - _EPOCH) // _MICROSECOND << 64) + fp.item_id + _ID_OFFSET


def _entry_id(entry: int) -> int:
    return (entry & _ID_MASK) - _ID_OFFSET


_PAUSE = threading.Lock()
_pauses = 0
_resume = False


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cycle collector held off while a batch is clustered: the step allocates
    tens of thousands of short-lived tuples, sets and lists and makes no reference cycles,
    and the collector's passes over them cost it about 5 % (BENCHMARKS.md, "Story
    clustering"). Re-entrant and thread-safe: the collector resumes when the last pause
    ends, and only if it was running when the first began."""
    global _pauses, _resume
    with _PAUSE:
        if _pauses == 0:
            _resume = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _PAUSE:
            _pauses -= 1
            if _pauses == 0 and _resume:
                gc.enable()


class _Keys:
    """The window's candidate keys: an open-addressing table (linear probing) in two
    arrays of int64, key and value, half to 3/4 full (it grows by half): 16 bytes a slot
    where a dict takes about 90 a key. A value is an item id (above 0: the one item
    holding the key), a bucket (below 0: ``-1 - index`` in :attr:`_Window.buckets`), or 0
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


class _Window:
    """Fingerprints of recently clustered items and the buckets of their keys, kept between
    writes (a cache: which items count, and their stories, come from the database).

    Each item is held packed (:func:`~finews.process.cluster.compact`), with its revision
    and its :func:`_entry`; its keys go in :class:`_Keys`, which holds the item's id for a
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
        self.keys = _Keys()
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
        mine = _entry(held)
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
            if len(rest) == 1 and (other := _entry_id(rest[0])) > 0:
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
            if now - (when >> 64) > _WINDOW_US or len(before) == BUCKET_CAP:
                break
            if (other := _entry_id(when)) in valid and other != me:
                before.append(when)
        after: list[int] = []
        for index in range(at, len(members)):
            when = members[index]
            if (when >> 64) - now > _WINDOW_US or len(after) == BUCKET_CAP:
                break
            if (other := _entry_id(when)) in valid and other != me:
                after.append(when)
        return before, after

    def candidates(
        self,
        fp: Fingerprint,
        valid: Mapping[int, int],
        stored: Mapping[int, tuple[list[int], list[int]]] | None = None,
    ) -> list[int]:
        """The stored items (those in ``valid``) to compare ``fp`` with: the earlier ones
        exactly as :func:`~finews.process.cluster.candidate_pairs` picks them, and the
        later ones that would count ``fp`` among the latest :data:`BUCKET_CAP` of a
        shared key. ``stored`` adds, per key, the nearest entries of items held in the
        database instead of here (:meth:`ClusterMixin._stored_keys`): earlier ones
        nearest first, later ones nearest first, each at least :data:`BUCKET_CAP` of
        those that count (or all there are)."""
        mine = _entry(fp)
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
                    earlier[_entry_id(when)] = when
                for when in heapq.nsmallest(BUCKET_CAP, [*after, *more[1]]):
                    later[_entry_id(when)] = when
        for value in found:
            if value > 0:
                if value != fp.item_id and value in valid:
                    when = self.fps[value][2]
                    if when < mine:
                        if now - (when >> 64) <= _WINDOW_US:
                            earlier[value] = when
                    elif (when >> 64) - now <= _WINDOW_US:
                        later[value] = when
                continue
            if not value:
                continue
            members = self.buckets[-1 - value]
            at = bisect_left(members, mine)
            taken = 0
            for index in range(at - 1, -1, -1):
                when = members[index]
                if now - (when >> 64) > _WINDOW_US:
                    break
                other = _entry_id(when)
                if other in valid and other != fp.item_id:
                    earlier[other] = when
                    taken += 1
                    if taken == BUCKET_CAP:
                        break
            taken = 0
            for index in range(at, len(members)):
                when = members[index]
                if (when >> 64) - now > _WINDOW_US:
                    break
                other = _entry_id(when)
                if other in valid and other != fp.item_id:
                    later[other] = when
                    taken += 1
                    if taken == BUCKET_CAP:
                        break
        chosen = sorted(earlier, key=earlier.__getitem__)[-CANDIDATE_CAP:]
        # (beyond the caps, arrival order can matter: only with dozens of near-identical
        # items within the window)
        return [*chosen, *sorted(later, key=later.__getitem__)[:CANDIDATE_CAP]]


class ClusterMixin:
    """The cluster SQL, mixed into :class:`~finews.store.base.SqlStore`."""

    # provided by SqlStore
    query: Callable[..., list[Any]]
    transaction: Callable[[], Any]

    def _fp_cache(self) -> OrderedDict[tuple[int, int], Fingerprint]:
        cache: OrderedDict[tuple[int, int], Fingerprint] | None = self.__dict__.get("_fps")
        if cache is None:
            cache = OrderedDict()
            self.__dict__["_fps"] = cache
        return cache

    def _forget_window(self) -> None:
        """Drop the story window and the fingerprint cache (after a rollback undid part of
        what they describe); the next round takes them up from the database again."""
        self.__dict__.pop("_story_window", None)
        self.__dict__.pop("_fps", None)

    def _remember(self, item_id: int, revision: int, fp: Fingerprint) -> None:
        cache = self._fp_cache()
        cache[(item_id, revision)] = compact(fp)  # packed: about 1.5 KB instead of 15
        cache.move_to_end((item_id, revision))
        while len(cache) > _CACHE_SIZE:
            cache.popitem(last=False)

    def _load_fps(self, tx: Transaction, revisions: dict[int, int]) -> dict[int, Fingerprint]:
        """Fingerprints of stored items at their current revision (given)."""
        cache = self._fp_cache()
        found = {}
        missing = []
        for item_id, revision in revisions.items():
            fp = cache.get((item_id, revision))
            if fp is None:
                missing.append(item_id)
            else:
                found[item_id] = fp
        select = _fingerprint_select("items", "id")
        for start in range(0, len(missing), _CHUNK):
            marks, chunk = in_list(missing[start : start + _CHUNK])
            tx.execute(f"{select} WHERE id IN ({marks})", chunk)
            for row in tx.fetchall():
                fp = _fingerprint_row(row)
                found[fp.item_id] = fp
                self._remember(fp.item_id, revisions[fp.item_id], fp)
        return found

    def _old_fp(self, tx: Transaction, item_id: int, revision: int) -> Fingerprint | None:
        """The fingerprint an item had at an earlier revision."""
        cached = self._fp_cache().get((item_id, revision))
        if cached is not None:
            return cached
        select = _fingerprint_select("item_revisions", "item_id")
        tx.execute(f"{select} WHERE item_id = ? AND revision = ?", (item_id, revision))
        row = tx.fetchone()
        return None if row is None else _fingerprint_row(row)

    # --- incremental ---------------------------------------------------------------------
    def _cluster_items(self, tx: Transaction, written: Sequence[tuple[int, Item]]) -> None:
        """Put items just written (new or edited) into their stories (inside the write)."""
        if not written:
            return
        with _collector_paused():
            self._cluster_written(tx, written)

    def _cluster_written(self, tx: Transaction, written: Sequence[tuple[int, Item]]) -> None:
        ids = sorted({item_id for item_id, _ in written})
        revisions: dict[int, int] = {}
        stored: dict[int, tuple[int, int]] = {}
        for start in range(0, len(ids), _CHUNK):
            marks, chunk = in_list(ids[start : start + _CHUNK])
            tx.execute(f"SELECT id, revision FROM items WHERE id IN ({marks})", chunk)
            revisions.update({int(r[0]): int(r[1]) for r in tx.fetchall()})
            tx.execute(
                "SELECT item_id, cluster_id, revision FROM item_clusters "
                f"WHERE item_id IN ({marks})",
                chunk,
            )
            stored.update({int(r[0]): (int(r[1]), int(r[2])) for r in tx.fetchall()})
        latest = dict(written)
        fresh: dict[int, Fingerprint] = {}
        for item_id, item in latest.items():
            fp = fingerprint(item_id, item.title, item.digest, item.content, item.published_at)
            fresh[item_id] = fp
            self._remember(item_id, revisions[item_id], fp)
        moving = []
        for item_id, fp in fresh.items():
            if item_id in stored:
                revision = stored[item_id][1]
                old = self._old_fp(tx, item_id, revision) if revision != revisions[item_id] else fp
                if old is not None and _relevant(old) == _relevant(fp):
                    # same fingerprint (say, full text added behind a digest): same story
                    tx.execute(
                        "UPDATE item_clusters SET revision = ? WHERE item_id = ?",
                        (revisions[item_id], item_id),
                    )
                    continue
            moving.append(fp)
        if not moving:
            return
        self._detach(tx, [fp.item_id for fp in moving if fp.item_id in stored], stored)
        moving.sort(key=leader_key)
        chunk_start = 0
        for index in range(1, len(moving) + 1):
            # attach in runs spanning at most a day, so each window query stays small
            if index == len(moving) or (
                moving[index].published - moving[chunk_start].published > WINDOW
            ):
                self._attach(tx, moving[chunk_start:index], revisions)
                chunk_start = index

    def _detach(
        self, tx: Transaction, leaving: Sequence[int], stored: dict[int, tuple[int, int]]
    ) -> None:
        """Take items out of their stories; what remains of each is split into its
        connected parts, each led by its earliest item."""
        if not leaving:
            return
        marks, params = in_list(leaving)
        tx.execute(f"DELETE FROM item_clusters WHERE item_id IN ({marks})", params)
        gone = set(leaving)
        for cluster_id in sorted({stored[item_id][0] for item_id in leaving}):
            tx.execute(
                "SELECT c.item_id, i.revision FROM item_clusters c "
                "JOIN items i ON i.id = c.item_id WHERE c.cluster_id = ?",
                (cluster_id,),
            )
            rest = {int(r[0]): int(r[1]) for r in tx.fetchall() if int(r[0]) not in gone}
            if not rest:
                continue
            fps = self._load_fps(tx, rest)
            parts = cluster_stream(sorted(fps.values(), key=leader_key))
            for item_id, new_cluster in parts.items():
                if new_cluster != cluster_id:
                    tx.execute(
                        "UPDATE item_clusters SET cluster_id = ? WHERE item_id = ?",
                        (new_cluster, item_id),
                    )

    def _window(self) -> _Window:
        window: _Window | None = self.__dict__.get("_story_window")
        if window is None:
            window = _Window()
            self.__dict__["_story_window"] = window
        return window

    def _attach(
        self, tx: Transaction, moving: Sequence[Fingerprint], revisions: dict[int, int]
    ) -> None:
        """Add items (oldest first, none in a story yet) to the stories they match."""
        from finews.store.base import from_db_time, to_db_time

        low, high = _shifted(moving[0].published, -WINDOW), _shifted(moving[-1].published, WINDOW)
        tx.execute(
            "SELECT c.item_id, c.cluster_id, i.revision, p.revision FROM items i "
            "JOIN item_clusters c ON c.item_id = i.id "
            "LEFT JOIN story_prints p ON p.item_id = i.id "
            "WHERE i.published_at >= ? AND i.published_at <= ?",
            (to_db_time(low), to_db_time(high)),
        )
        rows = tx.fetchall()
        # the stories as stored now are the truth; the window only caches fingerprints
        cluster_of = {row[0]: row[1] for row in rows}
        window = self._window()
        window.trim(low, high)
        held = window.fps
        #: items whose fingerprint, at their current revision, is in the database (and
        #: not here): item id → revision
        on_disk: dict[int, int] = {}
        stale: dict[int, int] = {}
        for item_id, _, revision, printed in rows:
            entry = held.get(item_id)
            if entry is not None and entry[0] == revision:
                continue
            if printed == revision:
                if entry is not None:
                    window.remove(item_id)
                on_disk[item_id] = revision
            else:
                stale[item_id] = revision
        # in runs, moving the earliest to disk as the window fills (a first write after
        # an upgrade or a long pause may find a whole day's items held nowhere)
        missing = list(stale)
        for start in range(0, len(missing), _CHUNK):
            chunk = {item_id: stale[item_id] for item_id in missing[start : start + _CHUNK]}
            for item_id, fp in self._load_fps(tx, chunk).items():
                window.add(chunk[item_id], fp)
            on_disk.update(self._spill(tx, window, low, high))
        # stories merged during this write: old cluster id → the one it joined
        joined: dict[int, int] = {}

        def current(cluster_id: int) -> int:
            while cluster_id in joined:
                cluster_id = joined[cluster_id]
            return cluster_id

        leaders: dict[int, tuple[datetime, int]] = {}

        def leader(cluster_id: int) -> tuple[datetime, int]:
            """The leader key of a story: its leader's (published, id)."""
            if cluster_id not in leaders:
                held = window.fps.get(cluster_id)
                if held is not None:
                    leaders[cluster_id] = leader_key(held[1])
                else:  # a leader published before the window
                    tx.execute("SELECT published_at FROM items WHERE id = ?", (cluster_id,))
                    moment = from_db_time(tx.fetchone()[0])
                    assert moment is not None
                    leaders[cluster_id] = (moment, cluster_id)
            return leaders[cluster_id]

        prints: dict[int, Fingerprint] = {}
        for fp in moving:
            matched: set[int] = set()
            if on_disk:
                others = window.candidates(fp, cluster_of, self._stored_keys(tx, fp, on_disk))
                prints = self._stored_fps(tx, [o for o in others if o in on_disk], on_disk)
            else:
                others = window.candidates(fp, cluster_of)
            for other in others:
                story = current(cluster_of[other])
                if story not in matched:
                    entry = window.fps.get(other)
                    if same_story(fp, entry[1] if entry is not None else prints[other]):
                        matched.add(story)
            leaders[fp.item_id] = leader_key(fp)
            target = min([fp.item_id, *matched], key=leader)
            merged = sorted(matched - {target})
            if merged:
                marks, params = in_list(merged)
                tx.execute(
                    f"UPDATE item_clusters SET cluster_id = ? WHERE cluster_id IN ({marks})",
                    [target, *params],
                )
                for story in merged:
                    joined[story] = target
            tx.execute(
                "INSERT INTO item_clusters (item_id, cluster_id, revision) VALUES (?, ?, ?) "
                "ON CONFLICT (item_id) DO UPDATE SET cluster_id = excluded.cluster_id, "
                "revision = excluded.revision",
                (fp.item_id, target, revisions[fp.item_id]),
            )
            cluster_of[fp.item_id] = target
            # the packed copy _remember keeps, if still there (one copy, packed once)
            packed = self._fp_cache().get((fp.item_id, revisions[fp.item_id]))
            window.add(revisions[fp.item_id], packed if packed is not None else fp)
        self._spill(tx, window, low, high)

    # --- the window's part on disk ---------------------------------------------------------
    def _spill(
        self, tx: Transaction, window: _Window, low: datetime, high: datetime
    ) -> dict[int, int]:
        """When the window holds more than its limit, drop the items published outside
        ``low``–``high`` and, if still too many, move the earliest published to the
        database; return those (item id → revision). Then forget what is held there for
        items published a window before ``low`` (no later write needs them; an earlier
        one loads them again)."""
        window.trim(low, high)
        if len(window.fps) <= window.LIMIT:
            return {}
        leaving = window.earliest(len(window.fps) - window.LIMIT * 3 // 4)
        self._forget_prints(tx, leaving)
        prints = []
        keys = []
        moved: dict[int, int] = {}
        for item_id in leaving:
            revision, fp, entry = window.fps[item_id]
            moment = entry >> 64
            prints.append((item_id, revision, moment, to_bytes(fp)))
            keys += [(key, moment, item_id) for key in fp.keys]
            moved[item_id] = revision
        tx.executemany(
            ("INSERT INTO story_prints (item_id, revision, moment, print) VALUES (?, ?, ?, ?)"),
            prints,
        )
        tx.executemany(
            (
                "INSERT INTO story_keys (key, moment, item_id) VALUES (?, ?, ?) "
                "ON CONFLICT DO NOTHING"
            ),
            keys,
        )
        for item_id in leaving:
            window.remove(item_id)
        horizon = (_shifted(low, -WINDOW) - _EPOCH) // _MICROSECOND
        tx.execute("SELECT item_id FROM story_prints WHERE moment < ? LIMIT 5000", (horizon,))
        self._forget_prints(tx, [int(row[0]) for row in tx.fetchall()])
        return moved

    def _forget_prints(self, tx: Transaction, ids: Sequence[int]) -> None:
        """Delete what the database holds of these items' fingerprints (if anything)."""
        for start in range(0, len(ids), _CHUNK):
            marks, chunk = in_list(ids[start : start + _CHUNK])
            tx.execute(
                f"SELECT item_id, moment, print FROM story_prints WHERE item_id IN ({marks})",
                chunk,
            )
            rows = tx.fetchall()
            if not rows:
                continue
            keys = []
            for item_id, moment, data in rows:
                stored = print_keys(data)
                if stored is None:  # unreadable: find its keys the slow way
                    tx.execute(
                        "DELETE FROM story_keys WHERE item_id = ? AND moment = ?",
                        (item_id, moment),
                    )
                else:
                    keys += [(key, moment, item_id) for key in stored]
            tx.executemany(
                ("DELETE FROM story_keys WHERE key = ? AND moment = ? AND item_id = ?"),
                keys,
            )
            marks, found = in_list([int(row[0]) for row in rows])
            tx.execute(f"DELETE FROM story_prints WHERE item_id IN ({marks})", found)

    def _stored_keys(
        self, tx: Transaction, fp: Fingerprint, on_disk: Mapping[int, int]
    ) -> dict[int, tuple[list[int], list[int]]]:
        """Key → the entries of items on disk (``on_disk``) sharing it, within the window
        of ``fp``: those before it and those from it on, nearest first, each at least
        :data:`BUCKET_CAP` of the items that count (or all there are): what
        :meth:`_Window.candidates` can reach, however many items share the key."""
        keys = sorted(set(fp.keys))
        if not keys:  # (an item with no text to compare)
            return {}
        found: dict[int, tuple[list[int], list[int]]] = {key: ([], []) for key in keys}
        wanted = [(key, side) for key in keys for side in (0, 1)]
        limit = BUCKET_CAP + _SLACK
        while wanted:
            rows = self._nearest_keys(tx, fp, wanted, limit)
            got: dict[tuple[int, int], int] = {}
            for key, side, when, item_id in rows:
                got[(key, side)] = got.get((key, side), 0) + 1
                if item_id in on_disk and item_id != fp.item_id:
                    found[key][side].append((when << 64) + item_id + _ID_OFFSET)
            # a side whose rows ran out before enough items counted (some on disk at an
            # older revision): ask again for more, nearest first as before
            again = [
                (key, side)
                for key, side in wanted
                if got.get((key, side), 0) == limit and len(found[key][side]) < BUCKET_CAP
            ]
            for key, side in again:
                found[key][side].clear()
            wanted, limit = again, limit * 4
        return {key: lists for key, lists in found.items() if lists[0] or lists[1]}

    def _nearest_keys(
        self, tx: Transaction, fp: Fingerprint, wanted: Sequence[tuple[int, int]], limit: int
    ) -> list[Any]:
        """(key, side, moment, item_id) of up to ``limit`` rows of ``story_keys`` per
        (key, side) nearest ``fp`` within its window: side 0 before it, 1 from it on."""
        moment = (fp.published - _EPOCH) // _MICROSECOND
        parts = []
        params: list[Any] = []
        for number, (key, side) in enumerate(wanted):
            if side == 0:
                where = "moment >= ? AND (moment < ? OR (moment = ? AND item_id < ?))"
                order = "moment DESC, item_id DESC"
                bound = moment - _WINDOW_US
            else:
                where = "moment <= ? AND (moment > ? OR (moment = ? AND item_id >= ?))"
                order = "moment, item_id"
                bound = moment + _WINDOW_US
            parts.append(
                f"SELECT * FROM (SELECT key, {side} AS side, moment, item_id FROM story_keys "
                f"WHERE key = ? AND {where} ORDER BY {order} LIMIT {int(limit)}) AS n{number}"
            )
            params += [key, bound, moment, moment, fp.item_id]
        tx.execute(" UNION ALL ".join(parts), params)
        return list(tx.fetchall())

    def _stored_fps(
        self, tx: Transaction, ids: Sequence[int], on_disk: Mapping[int, int]
    ) -> dict[int, Fingerprint]:
        """The fingerprints of items on disk (from the cache if there)."""
        cache = self._fp_cache()
        found: dict[int, Fingerprint] = {}
        missing = []
        for item_id in ids:
            fp = cache.get((item_id, on_disk[item_id]))
            if fp is None:
                missing.append(item_id)
            else:
                found[item_id] = fp
        if missing:
            marks, params = in_list(missing)
            tx.execute(
                "SELECT item_id, revision, moment, print FROM story_prints "
                f"WHERE item_id IN ({marks})",
                params,
            )
            unread = set(missing)
            for item_id, revision, moment, data in tx.fetchall():
                if revision == on_disk[item_id]:
                    fp = from_bytes(item_id, _EPOCH + moment * _MICROSECOND, data)
                    if fp is not None:
                        found[item_id] = fp
                        self._remember(item_id, revision, fp)
                        unread.discard(item_id)
            if unread:  # made by another version of the rule: made again from the item
                found.update(self._load_fps(tx, {i: on_disk[i] for i in unread}))
        return found

    # --- reading ---------------------------------------------------------------------------
    def _story_members(self, item_id: int, full_text: bool = True) -> list[Item]:
        """The other members of an item's story, earliest first."""
        from finews.store.base import SqlStore

        columns = item_columns("i") if full_text else _ROW_COLUMNS
        rows = self.query(_OTHER_MEMBERS.format(columns=columns), (item_id,))
        return [SqlStore._row_to_item(row) for row in rows]

    def _copies(self, ids: Sequence[int]) -> set[int]:
        found: set[int] = set()
        for start in range(0, len(ids), _CHUNK):
            marks, chunk = in_list(ids[start : start + _CHUNK])
            rows = self.query(
                f"SELECT item_id FROM item_clusters WHERE item_id IN ({marks}) "
                "AND cluster_id <> item_id",
                chunk,
            )
            found.update(int(r[0]) for r in rows)
        return found

    def _shared(
        self, ids: Sequence[int], sizes: dict[int, int] | None = None
    ) -> dict[int, tuple[int, int]]:
        # the story of each item, then each story's size by COUNT, once per story: a self
        # join would read every member of a story once per item asked about (quadratic)
        sizes = {} if sizes is None else sizes
        found: dict[int, tuple[int, int]] = {}
        for start in range(0, len(ids), _CHUNK):
            marks, chunk = in_list(ids[start : start + _CHUNK])
            rows = self.query(
                f"SELECT item_id, cluster_id FROM item_clusters WHERE item_id IN ({marks})",
                chunk,
            )
            story_of = {int(r[0]): int(r[1]) for r in rows}
            counted: dict[int, int] = {}
            self._count_stories(sorted(set(story_of.values()) - sizes.keys()), counted)
            # keep only stories told more than once: a lone report's is asked about once
            sizes.update({story: size for story, size in counted.items() if size > 1})
            for item, story in story_of.items():
                size = sizes.get(story, 0)
                if size > 1:
                    found[item] = (story, size)
        return found

    def _count_stories(self, stories: Sequence[int], sizes: dict[int, int]) -> None:
        for start in range(0, len(stories), _CHUNK):
            marks, chunk = in_list(stories[start : start + _CHUNK])
            rows = self.query(
                "SELECT cluster_id, COUNT(*) FROM item_clusters "
                f"WHERE cluster_id IN ({marks}) GROUP BY cluster_id",
                chunk,
            )
            sizes.update(dict.fromkeys(chunk, 0))
            sizes.update({int(r[0]): int(r[1]) for r in rows})

    def _story_keys(self, story: int) -> list[tuple[datetime, int]]:
        from finews.store.base import from_db_time

        rows = self.query(
            "SELECT i.published_at, i.id FROM item_clusters c JOIN items i ON i.id = c.item_id "
            "WHERE c.cluster_id = ?",
            (story,),
        )
        keys = []
        for moment, item_id in rows:
            parsed = from_db_time(moment)
            assert parsed is not None
            keys.append((parsed, int(item_id)))
        keys.sort()
        return keys

    def _reports_by_id(self, ids: Sequence[int]) -> list[Item]:
        from finews.store.base import SqlStore

        found: list[Item] = []
        for start in range(0, len(ids), _CHUNK):
            marks, chunk = in_list(ids[start : start + _CHUNK])
            rows = self.query(f"SELECT {ITEM_COLUMNS} FROM items WHERE id IN ({marks})", chunk)
            found += [SqlStore._row_to_item(row) for row in rows]
        return found

    def _all_members(self) -> dict[int, list[int]]:
        rows = self.query(
            "SELECT c.cluster_id, c.item_id FROM item_clusters c WHERE c.cluster_id IN "
            "(SELECT cluster_id FROM item_clusters GROUP BY cluster_id HAVING COUNT(*) > 1) "
            "ORDER BY c.cluster_id, c.item_id"
        )
        found: dict[int, list[int]] = {}
        for story, item_id in rows:
            found.setdefault(int(story), []).append(int(item_id))
        return found

    def _big_stories(self, more_than: int) -> list[tuple[int, int]]:
        rows = self.query(
            "SELECT cluster_id, COUNT(*) FROM item_clusters GROUP BY cluster_id "
            "HAVING COUNT(*) > ? ORDER BY cluster_id",
            (more_than,),
        )
        return [(int(r[0]), int(r[1])) for r in rows]

    def _stale_cluster_ids(self) -> list[tuple[int, str]]:
        rows = self.query(
            "SELECT i.id, i.published_at FROM items i "
            "LEFT JOIN item_clusters c ON c.item_id = i.id "
            "WHERE c.item_id IS NULL OR c.revision <> i.revision ORDER BY i.published_at, i.id"
        )
        return [(int(r[0]), str(r[1])) for r in rows]

    def _stream_fps(self, batch: int) -> Iterator[tuple[Fingerprint, int]]:
        """Every item's fingerprint and revision, oldest first, in keyset pages."""
        select = (
            f"SELECT id, title, substr(digest, 1, {TEXT_PREFIX}), "
            f"substr(content, 1, {TEXT_PREFIX}), published_at, revision FROM items"
        )
        last: tuple[str, int] | None = None
        while True:
            if last is None:
                rows = self.query(f"{select} ORDER BY published_at, id LIMIT {int(batch)}")
            else:
                rows = self.query(
                    f"{select} WHERE published_at > ? OR (published_at = ? AND id > ?) "
                    f"ORDER BY published_at, id LIMIT {int(batch)}",
                    (last[0], last[0], last[1]),
                )
            for row in rows:
                yield _fingerprint_row(row), int(row[5])
            if len(rows) < batch:
                return
            last = (str(rows[-1][4]), int(rows[-1][0]))


def _backend(store: Store) -> ClusterMixin:
    if not isinstance(store, ClusterMixin):
        raise StoreError(f"{type(store).__name__} keeps no stories")
    return store


# --- the public functions ------------------------------------------------------------------


def also_reported(store: Store, item_id: int, *, full_text: bool = True) -> list[Item]:
    """The other reports of an item's story, earliest first (empty when it has none), for
    an article's "also reported by" section: each has its source, time and link (and its
    full text unless ``full_text`` is false)."""
    return _backend(store)._story_members(item_id, full_text)


def copies_among(store: Store, item_ids: Sequence[int]) -> set[int]:
    """Which of these items are later reports of a story led by another item: what a
    listing hides when each story is shown once (``site.dedupe``)."""
    return _backend(store)._copies(list(item_ids))


def shared_stories(
    store: Store, item_ids: Sequence[int], sizes: dict[int, int] | None = None
) -> dict[int, tuple[int, int]]:
    """For those of these items whose story was told more than once: item id → (the
    story's id, which is its earliest report's item id; how many reports it has). Lets a
    pass over the archive show each story once without asking per item. ``sizes`` (story
    id → reports, for stories told more than once), when given, is read and filled: a
    caller asking about many spans of ids counts each story once."""
    return _backend(store)._shared(list(item_ids), sizes)


def story_sizes(store: Store, story_ids: Sequence[int]) -> dict[int, int]:
    """How many reports each of these stories has (0: no such story), by ``COUNT``."""
    sizes: dict[int, int] = {}
    _backend(store)._count_stories(sorted(set(story_ids)), sizes)
    return sizes


def story_keys(store: Store, story_id: int) -> list[tuple[datetime, int]]:
    """The ``(published_at, id)`` of every report of a story, earliest first: two columns
    per report, so a caller can pick the few reports a page shows before reading them."""
    return _backend(store)._story_keys(story_id)


def items_by_id(store: Store, item_ids: Sequence[int]) -> list[Item]:
    """The stored items of these ids (in no particular order; missing ids are left out)."""
    return _backend(store)._reports_by_id(list(item_ids))


def story_members(store: Store) -> dict[int, list[int]]:
    """Every story told more than once: story id → its reports' item ids, ascending."""
    return _backend(store)._all_members()


def big_stories(store: Store, more_than: int) -> list[tuple[int, int]]:
    """Every story of more than ``more_than`` reports: (story id, reports), by story id."""
    return _backend(store)._big_stories(more_than)


@dataclass(frozen=True, slots=True)
class ClusterStatus:
    """How many items the stories cover, and whether the stored rule is this one."""

    items: int
    clustered: int
    stories: int
    stale: int
    version_ok: bool


def cluster_status(store: Store) -> ClusterStatus:
    """Counts for ``finews reindex`` and health checks."""
    backend = _backend(store)
    items = int(backend.query("SELECT COUNT(*) FROM items")[0][0])
    clustered = int(backend.query("SELECT COUNT(*) FROM item_clusters")[0][0])
    stories = int(backend.query("SELECT COUNT(DISTINCT cluster_id) FROM item_clusters")[0][0])
    stale = int(
        backend.query(
            "SELECT COUNT(*) FROM item_clusters c JOIN items i ON i.id = c.item_id "
            "WHERE c.revision <> i.revision"
        )[0][0]
    )
    rows = backend.query("SELECT version FROM derived_state WHERE name = 'clusters'")
    version_ok = bool(rows) and int(rows[0][0]) == ALGORITHM_VERSION
    return ClusterStatus(items, clustered, stories, stale, version_ok)


def sync_clusters(store: Store, *, batch: int = 500) -> int:
    """Cluster the items that have no story yet or changed since (after ``copy_db`` or an
    upgrade), incrementally; return how many."""
    from finews.store.base import SqlStore

    backend = _backend(store)
    stale = backend._stale_cluster_ids()
    for start in range(0, len(stale), batch):
        marks, ids = in_list([item_id for item_id, _ in stale[start : start + batch]])
        rows = backend.query(f"SELECT {ITEM_COLUMNS} FROM items WHERE id IN ({marks})", ids)
        written = [(int(row[0]), SqlStore._row_to_item(row)) for row in rows]
        with backend.transaction() as tx:
            tx.lock_derived()
            backend._cluster_items(tx, written)
    return len(stale)


def recluster(
    store: Store, *, batch: int = 2000, progress: Callable[[int], None] | None = None
) -> int:
    """Rebuild every story in one pass over the archive, oldest first; return how many
    items were clustered."""
    backend = _backend(store)
    revisions: dict[int, int] = {}

    def stream() -> Iterator[Fingerprint]:
        for count, (fp, revision) in enumerate(backend._stream_fps(batch), start=1):
            revisions[fp.item_id] = revision
            if progress is not None and count % batch == 0:
                progress(count)
            yield fp

    clusters = cluster_stream(stream())
    rows = [(item_id, cluster_id, revisions[item_id]) for item_id, cluster_id in clusters.items()]
    with backend.transaction() as tx:
        tx.lock_derived()
        tx.execute("DELETE FROM item_clusters")
        # the window's part on disk, made by whichever rule was in use before
        tx.execute("DELETE FROM story_keys")
        tx.execute("DELETE FROM story_prints")
        for start in range(0, len(rows), batch):
            tx.executemany(
                ("INSERT INTO item_clusters (item_id, cluster_id, revision) VALUES (?, ?, ?)"),
                rows[start : start + batch],
            )
        tx.execute(
            "UPDATE derived_state SET version = ? WHERE name = 'clusters'",
            (ALGORITHM_VERSION,),
        )
    return len(rows)
