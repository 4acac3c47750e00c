"""Stories, a reader of the change log: which items tell the same story, kept up to date as
items arrive.

``item_clusters`` gives each item the id of its story's earliest report (its leader). The
rule, the fingerprints and the window that caches them are :mod:`finews.process.stories`';
this module applies them to stored items:

- **incrementally**, as a reader (:class:`Stories`, run by :mod:`finews.derive.driver`
  inside ``upsert_items`` or a deriving round): an edited item whose fingerprint changed
  first leaves its story (which may split in two), then every written item joins the
  stories of the items it matches within the window around it (which may merge). Derivers
  hold the derive lock, so on PostgreSQL two never cluster at once and each sees the
  other's committed stories;
- **in one pass** (:func:`recluster`), streaming the archive oldest first.

Each round of the incremental step compares items with those published within the
window (20 hours) around them. Their fingerprints and candidate keys are cached: in memory
(:class:`~finews.process.stories.window.Window`, at most ``Window.LIMIT`` items between rounds)
and, for the earliest of a longer window, in the database (``story_prints``,
``story_keys``), so a daemon's memory stays flat at any rate of news. Both are caches of
what ``items`` gives: a row counts only at its item's current revision, and anything held
nowhere is fingerprinted again.

Both give the clusters of :func:`finews.process.stories.cluster.cluster_batch` over the same
items (exactly when items arrive oldest first, or when no key is shared by more than
``BUCKET_CAP`` items within the window; otherwise a link may differ). Fingerprints are
cached per reader by (item id, revision), which never changes meaning, so a cache cannot
go stale while other processes write; which items count, and their stories, are always
read from the database.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from finews.models import Item
from finews.process.stories.cluster import cluster_stream, leader_key
from finews.process.stories.fingerprint import Fingerprint, fingerprint
from finews.process.stories.parameters import ALGORITHM_VERSION, BUCKET_CAP, TEXT_PREFIX, WINDOW
from finews.process.stories.prints import compact, from_bytes, print_keys, to_bytes
from finews.process.stories.score import same_story
from finews.process.stories.window import (
    EPOCH,
    ID_OFFSET,
    MICROSECOND,
    WINDOW_US,
    Window,
    relevant,
    shifted,
)
from finews.store import Store, Transaction
from finews.store.clusters import (
    clustered_revisions,
    forget_prints,
    item_revisions,
    keep_in_story,
    keep_prints,
    leave_stories,
    merge_stories,
    move_to_story,
    nearest_keys,
    print_texts,
    print_texts_in_order,
    prints_before,
    published_of,
    put_in_story,
    replace_stories,
    revision_texts,
    stale_cluster_ids,
    stored_prints,
    stories_between,
    stories_held,
    story_counts,
    story_revisions,
)
from finews.store.search import items_by_id
from finews.store.times import from_db_time

__all__ = ["SLACK", "ClusterStatus", "Stories", "cluster_status", "recluster", "sync_clusters"]

_CACHE_SIZE = 2_000
#: rows read beyond BUCKET_CAP per key and side of the window on disk, for rows at an old
#: revision (which count for nothing): more are read only when those run out
SLACK = 8
_CHUNK = 500


def _fingerprint_row(row: Sequence[Any]) -> Fingerprint:
    """(id, title, digest prefix, content prefix, published_at text) → fingerprint."""
    published = from_db_time(row[4])
    assert published is not None
    return fingerprint(int(row[0]), row[1], row[2] or "", row[3] or "", published)


class Stories:
    """The stories as a reader of the change log: puts items in their stories
    (``item_clusters``) at their current revision, holding the story window between
    rounds (an item held at that revision already is skipped)."""

    stage = "stories"

    def __init__(self, store: Store) -> None:
        self.store = store

    def update(self, tx: Transaction, items: Sequence[tuple[int, Item]]) -> None:
        held = clustered_revisions(tx, [item_id for item_id, _ in items])
        pending = [(i, item) for i, item in items if held.get(i) != item.revision]
        self._cluster_items(tx, pending)

    def forget(self) -> None:
        self._forget_window()

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
        for row in print_texts(tx, missing, TEXT_PREFIX):
            fp = _fingerprint_row(row)
            found[fp.item_id] = fp
            self._remember(fp.item_id, revisions[fp.item_id], fp)
        return found

    def _old_fp(self, tx: Transaction, item_id: int, revision: int) -> Fingerprint | None:
        """The fingerprint an item had at an earlier revision."""
        cached = self._fp_cache().get((item_id, revision))
        if cached is not None:
            return cached
        row = revision_texts(tx, item_id, revision, TEXT_PREFIX)
        return None if row is None else _fingerprint_row(row)

    # --- incremental ---------------------------------------------------------------------
    def _cluster_items(self, tx: Transaction, written: Sequence[tuple[int, Item]]) -> None:
        """Put items just written (new or edited) into their stories (inside the write)."""
        if not written:
            return
        ids = sorted({item_id for item_id, _ in written})
        revisions = item_revisions(tx, ids)
        stored = stories_held(tx, ids)
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
                if old is not None and relevant(old) == relevant(fp):
                    # same fingerprint (say, full text added behind a digest): same story
                    keep_in_story(tx, item_id, revisions[item_id])
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
        leave_stories(tx, leaving)
        gone = set(leaving)
        for cluster_id in sorted({stored[item_id][0] for item_id in leaving}):
            members = story_revisions(tx, cluster_id)
            rest = {item_id: rev for item_id, rev in members.items() if item_id not in gone}
            if not rest:
                continue
            fps = self._load_fps(tx, rest)
            parts = cluster_stream(sorted(fps.values(), key=leader_key))
            for item_id, new_cluster in parts.items():
                if new_cluster != cluster_id:
                    move_to_story(tx, item_id, new_cluster)

    def _window(self) -> Window:
        window: Window | None = self.__dict__.get("_story_window")
        if window is None:
            window = Window()
            self.__dict__["_story_window"] = window
        return window

    def _attach(
        self, tx: Transaction, moving: Sequence[Fingerprint], revisions: dict[int, int]
    ) -> None:
        """Add items (oldest first, none in a story yet) to the stories they match."""
        low, high = shifted(moving[0].published, -WINDOW), shifted(moving[-1].published, WINDOW)
        rows = stories_between(tx, low, high)
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
                    leaders[cluster_id] = (published_of(tx, cluster_id), cluster_id)
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
                merge_stories(tx, target, merged)
                for story in merged:
                    joined[story] = target
            put_in_story(tx, fp.item_id, target, revisions[fp.item_id])
            cluster_of[fp.item_id] = target
            # the packed copy _remember keeps, if still there (one copy, packed once)
            packed = self._fp_cache().get((fp.item_id, revisions[fp.item_id]))
            window.add(revisions[fp.item_id], packed if packed is not None else fp)
        self._spill(tx, window, low, high)

    # --- the window's part on disk ---------------------------------------------------------
    def _spill(
        self, tx: Transaction, window: Window, low: datetime, high: datetime
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
        keep_prints(tx, prints, keys)
        for item_id in leaving:
            window.remove(item_id)
        horizon = (shifted(low, -WINDOW) - EPOCH) // MICROSECOND
        self._forget_prints(tx, prints_before(tx, horizon))
        return moved

    def _forget_prints(self, tx: Transaction, ids: Sequence[int]) -> None:
        """Delete what the database holds of these items' fingerprints (if anything)."""
        forget_prints(tx, ids, print_keys)

    def _stored_keys(
        self, tx: Transaction, fp: Fingerprint, on_disk: Mapping[int, int]
    ) -> dict[int, tuple[list[int], list[int]]]:
        """Key → the entries of items on disk (``on_disk``) sharing it, within the window
        of ``fp``: those before it and those from it on, nearest first, each at least
        :data:`BUCKET_CAP` of the items that count (or all there are): what
        :meth:`Window.candidates` can reach, however many items share the key."""
        keys = sorted(set(fp.keys))
        if not keys:  # (an item with no text to compare)
            return {}
        found: dict[int, tuple[list[int], list[int]]] = {key: ([], []) for key in keys}
        wanted = [(key, side) for key in keys for side in (0, 1)]
        limit = BUCKET_CAP + SLACK
        while wanted:
            rows = self._nearest_keys(tx, fp, wanted, limit)
            got: dict[tuple[int, int], int] = {}
            for key, side, when, item_id in rows:
                got[(key, side)] = got.get((key, side), 0) + 1
                if item_id in on_disk and item_id != fp.item_id:
                    found[key][side].append((when << 64) + item_id + ID_OFFSET)
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
        moment = (fp.published - EPOCH) // MICROSECOND
        return nearest_keys(tx, moment, fp.item_id, WINDOW_US, wanted, limit)

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
            unread = set(missing)
            for item_id, revision, moment, data in stored_prints(tx, missing):
                if revision == on_disk[item_id]:
                    fp = from_bytes(item_id, EPOCH + moment * MICROSECOND, data)
                    if fp is not None:
                        found[item_id] = fp
                        self._remember(item_id, revision, fp)
                        unread.discard(item_id)
            if unread:  # made by another version of the rule: made again from the item
                found.update(self._load_fps(tx, {i: on_disk[i] for i in unread}))
        return found

    def _stream_fps(self, batch: int) -> Iterator[tuple[Fingerprint, int]]:
        """Every item's fingerprint and revision, oldest first, in keyset pages."""
        for row in print_texts_in_order(self.store, batch, TEXT_PREFIX):
            yield _fingerprint_row(row), int(row[5])


def stories_of(store: Store) -> Stories:
    """The Stories reader ``store`` derives with (a new one for a store opened bare)."""
    for reader in getattr(store.deriver, "readers", ()):
        if isinstance(reader, Stories):
            return reader
    return Stories(store)


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
    items, clustered, stories, stale, version = story_counts(store)
    return ClusterStatus(items, clustered, stories, stale, version == ALGORITHM_VERSION)


def sync_clusters(store: Store, *, batch: int = 500) -> int:
    """Cluster the items that have no story yet or changed since (after ``copy_db`` or an
    upgrade), incrementally; return how many."""
    stories = stories_of(store)
    stale = stale_cluster_ids(store)
    for start in range(0, len(stale), batch):
        found = items_by_id(store, [item_id for item_id, _ in stale[start : start + batch]])
        with store.transaction() as tx:
            tx.lock_derived()
            stories._cluster_items(tx, list(found.items()))
    return len(stale)


def recluster(
    store: Store, *, batch: int = 2000, progress: Callable[[int], None] | None = None
) -> int:
    """Rebuild every story in one pass over the archive, oldest first; return how many
    items were clustered."""
    stories = stories_of(store)
    revisions: dict[int, int] = {}

    def stream() -> Iterator[Fingerprint]:
        for count, (fp, revision) in enumerate(stories._stream_fps(batch), start=1):
            revisions[fp.item_id] = revision
            if progress is not None and count % batch == 0:
                progress(count)
            yield fp

    clusters = cluster_stream(stream())
    rows = [(item_id, cluster_id, revisions[item_id]) for item_id, cluster_id in clusters.items()]
    with store.transaction() as tx:
        tx.lock_derived()
        replace_stories(tx, rows, ALGORITHM_VERSION, batch)
    return len(rows)
