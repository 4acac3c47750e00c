"""Move a whole archive from one store to another (SQLite → PostgreSQL or back), then prove
that nothing was lost.

``copy_db`` copies raw rows table by table, parents first: items (with their row ids), their
kept revisions, the change log (with its sequence numbers), media slugs and source states.
Keeping ids and sequence numbers means links to items and the cursors of live pages stay
valid on the new database. It streams in batches (one transaction per batch), so an archive of
any size moves in constant memory.

It then verifies: every table's row count, and :func:`store_checksum` of both sides.

**Derived data** (``derived=True``, what ``finews copy-db`` does): the search index and the
stories are made from the items, so they are not among the copied tables. After the rows,
the source's stories (``item_clusters``) are copied as they are when they are complete and
made by this clustering rule, so the destination shows exactly the same stories (otherwise
the destination clusters its items itself, oldest first); any item still without a story
is then clustered (:func:`~finews.derive.stories.sync_clusters`), and every item is indexed
for search (:func:`~finews.derive.search.sync_index`: the engines keep different index
structures, so the index is built, not copied; this is most of the time a large copy
takes). The report then says how complete both are, and ``ok`` requires both complete.
An interrupted copy leaves them to the next run (or to ``finews reindex --missing-only``).

**A non-empty destination** is refused with a :class:`StoreError`, before anything is written,
unless it holds an earlier copy of this same archive (an interrupted copy, or a copy taken
before the source grew): every row there must exist in the source under the same key, items
with the same id and (source, upstream id) at the same revision (then identical but for the
sanitiser version a ``reparse`` may have recorded since) or an older one, kept revisions
and change-log rows identical, media slugs equal, source states of sources the source
store knows. Copying into such a destination brings it up to date:
running ``copy_db`` again after an interruption finishes the job, and running it twice
changes nothing. Anything else (a destination that fetched on its own, or another archive)
would merge two histories with clashing ids, which is not a copy.

Stop every writer on the source while copying: rows written meanwhile make ``ok`` false.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from finews.derive import mark_derived_through
from finews.derive.search import IndexStatus, index_status, sync_index
from finews.derive.stories import ClusterStatus, cluster_status, sync_clusters
from finews.errors import StoreError
from finews.process.stories.parameters import ALGORITHM_VERSION
from finews.redact import redact
from finews.store.base import Store
from finews.store.clusters import copy_stories
from finews.store.tables import TABLE_KEYS, TABLES

__all__ = ["CopyReport", "DerivedReport", "copy_db", "store_checksum"]

#: tables whose key is text: small, and ordered differently by each engine's collation, so
#: they are compared and hashed in Python's (code point) order
_TEXT_KEYED = ("media_slugs", "source_state")


@dataclass(frozen=True, slots=True)
class DerivedReport:
    """What ``copy_db(derived=True)`` did to the destination's search index and stories,
    and how complete they are afterwards."""

    #: story rows copied from the source (0 when its stories were incomplete or stale)
    stories_copied: int
    #: items the destination clustered itself (those the copied stories did not cover)
    clustered: int
    #: items indexed for search
    indexed: int
    index: IndexStatus
    stories: ClusterStatus
    src_stories: ClusterStatus

    @property
    def ok(self) -> bool:
        """Every item is indexed at its current revision and has its story."""
        stories = self.stories
        return (
            self.index.ok
            and stories.version_ok
            and stories.stale == 0
            and stories.clustered == stories.items
        )

    def summary(self) -> str:
        """One line for a person."""
        index, stories = self.index, self.stories
        how = (
            f"{self.stories_copied} copied"
            if self.stories_copied
            else "made from the items (the source's were incomplete)"
        )
        if self.stories_copied and self.clustered:
            how += f", {self.clustered} more clustered"
        return (
            f"search index: {self.indexed} items indexed, holds {index.indexed} of "
            f"{index.items}; stories: {how}, {stories.stories} stories over "
            f"{stories.clustered} of {stories.items} items (source: {self.src_stories.stories})"
        )


@dataclass(frozen=True, slots=True)
class CopyReport:
    """What ``copy_db`` did and found. ``ok`` when every table has as many rows on both
    sides and the checksums are equal (and, with ``derived``, the destination's search
    index and stories cover every item)."""

    src_counts: Mapping[str, int]
    dst_counts: Mapping[str, int]
    src_checksum: str
    dst_checksum: str
    #: the destination already held part of the archive (an earlier copy)
    resumed: bool
    seconds: float
    #: the search index and stories, when ``copy_db`` was asked to bring them up to date
    derived: DerivedReport | None = None

    @property
    def ok(self) -> bool:
        """Counts and checksums agree (and the derived data is complete)."""
        return (
            dict(self.src_counts) == dict(self.dst_counts)
            and self.src_checksum == self.dst_checksum
            and (self.derived is None or self.derived.ok)
        )

    @property
    def rows_ok(self) -> bool:
        """Counts and checksums agree."""
        return (
            dict(self.src_counts) == dict(self.dst_counts)
            and self.src_checksum == self.dst_checksum
        )

    @property
    def items(self) -> int:
        """Items in the source archive."""
        return self.src_counts.get("items", 0)

    def summary(self) -> str:
        """One line for a person."""
        counts = ", ".join(f"{n} {table}" for table, n in self.src_counts.items())
        verdict = "verified" if self.rows_ok else "MISMATCH"
        detail = f"sha256 {self.src_checksum[:16]}…"
        if not self.rows_ok:
            mine = ", ".join(f"{n} {table}" for table, n in self.dst_counts.items())
            detail = (
                f"source {counts}, sha256 {self.src_checksum[:16]}…; "
                f"destination {mine}, sha256 {self.dst_checksum[:16]}…"
            )
        line = f"copied {counts} in {self.seconds:.1f}s: {verdict} ({detail})"
        if self.derived is not None:
            state = "complete" if self.derived.ok else "INCOMPLETE"
            line += f"; {self.derived.summary()}: {state}"
        return line


def store_checksum(store: Store, *, batch: int = 1000) -> str:
    """SHA-256 (hex) over a canonical serialisation of everything a store keeps.

    Every table in :data:`~finews.store.tables.TABLES` order; each row as a JSON array of its
    raw column values, one per line. Items, revisions and the change log go in key order (row
    id, then revision, sequence number): ids are part of what ``copy_db`` keeps, so this is
    the same order on every engine and needs no sort. Media slugs and source states are
    sorted in Python, since engines' collations order text differently.
    """
    return _digest(store, batch)[0]


def copy_db(
    src: Store,
    dst: Store,
    *,
    progress: Callable[[int], None] | None = None,
    batch: int = 1000,
    derived: bool = False,
    stage: Callable[[str], None] | None = None,
) -> CopyReport:
    """Copy every row of ``src`` into ``dst`` and verify; see the module docstring for what
    a non-empty destination must hold. ``progress`` is called after each batch of items with
    the number of items copied so far. ``derived`` then brings the destination's search
    index and stories up to date (see the module docstring); ``stage`` hears what is being
    done ("stories", "search index") as it starts."""
    if batch < 1:
        raise StoreError(f"batch must be at least 1, not {batch}")
    started = time.monotonic()
    src_version, dst_version = src.schema_version(), dst.schema_version()
    if src_version != dst_version:
        raise StoreError(
            f"schema versions differ (source {src_version}, destination {dst_version}): "
            "run `finews migrate` on both with the same finews version first"
        )
    resumed = not _is_empty(dst)
    if resumed:
        _check_earlier_copy(src, dst, batch)
    copied = 0
    for table in TABLES:
        for page in src.export_rows(table, batch=batch):
            dst.import_rows(table, page)
            if table == "items":
                copied += len(page)
                if progress is not None:
                    progress(copied)
    src_checksum, src_counts = _digest(src, batch)
    dst_checksum, dst_counts = _digest(dst, batch)
    made = _derive(src, dst, batch, stage) if derived else None
    return CopyReport(
        src_counts=src_counts,
        dst_counts=dst_counts,
        src_checksum=src_checksum,
        dst_checksum=dst_checksum,
        resumed=resumed,
        seconds=time.monotonic() - started,
        derived=made,
    )


# --- derived data --------------------------------------------------------------------------
def _derive(
    src: Store, dst: Store, batch: int, stage: Callable[[str], None] | None
) -> DerivedReport:
    """Bring the destination's stories and search index up to date with its items."""
    if stage is not None:
        stage("stories")
    # every change copied is covered by what follows (see mark_derived_through)
    through = dst.last_change_seq()
    src_stories = cluster_status(src)
    copied = 0
    if (
        src_stories.version_ok
        and src_stories.stale == 0
        and src_stories.clustered == src_stories.items
    ):
        copied = copy_stories(src, dst, batch, ALGORITHM_VERSION)
    clustered = sync_clusters(dst)
    if stage is not None:
        stage("search index")
    indexed = sync_index(dst)
    mark_derived_through(dst, through)
    return DerivedReport(
        stories_copied=copied,
        clustered=clustered,
        indexed=indexed,
        index=index_status(dst),
        stories=cluster_status(dst),
        src_stories=src_stories,
    )


# --- reading -------------------------------------------------------------------------------
def _rows(store: Store, table: str, batch: int) -> Iterator[tuple[Any, ...]]:
    for page in store.export_rows(table, batch=batch):
        yield from page


def _keyed(store: Store, table: str, batch: int) -> dict[Any, tuple[Any, ...]]:
    """A small text-keyed table as {key: row}."""
    return {row[0]: row for row in _rows(store, table, batch)}


def _ordered(store: Store, table: str, batch: int) -> Iterator[tuple[Any, ...]]:
    if table in _TEXT_KEYED:
        keyed = _keyed(store, table, batch)
        return iter([keyed[key] for key in sorted(keyed)])
    return _rows(store, table, batch)


def _digest(store: Store, batch: int) -> tuple[str, dict[str, int]]:
    digest = hashlib.sha256()
    counts: dict[str, int] = {}
    for table, columns in TABLES.items():
        digest.update(f"#{table} {','.join(columns)}\n".encode())
        n = 0
        for row in _ordered(store, table, batch):
            digest.update(_canonical(row))
            n += 1
        counts[table] = n
    return digest.hexdigest(), counts


def _canonical(row: tuple[Any, ...]) -> bytes:
    values: list[Any] = []
    for value in row:
        if isinstance(value, bytes | memoryview):  # raw data (item_raw): a tagged hex text
            values.append(["bytes", bytes(value).hex()])
            continue
        # bool is an int too, and would hash as one engine's spelling of it
        if value is not None and type(value) not in (int, str):
            raise StoreError(f"unexpected {type(value).__name__} value {value!r} in row {row!r}")
        values.append(value)
    return json.dumps(values, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def _is_empty(store: Store) -> bool:
    return all(next(store.export_rows(table, batch=1), None) is None for table in TABLES)


# --- the earlier-copy rule -----------------------------------------------------------------
def _refuse(dst: Store, table: str, row: tuple[Any, ...], why: str) -> StoreError:
    where = redact(str(getattr(dst, "url", type(dst).__name__)))
    key = dict(zip(TABLE_KEYS[table], row, strict=False))
    if table == "items":
        key.update(source=row[1], upstream_id=row[2])
    return StoreError(
        f"destination {where} is not empty and is not an earlier copy of the source: "
        f"{table} row {key} {why}. copy-db writes only into an empty database or one that "
        "an earlier copy-db of the same source filled; use a new empty database."
    )


_REVISION = TABLES["items"].index("revision")
_SANITIZER = TABLES["items"].index("sanitizer")


def _text_of(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """An items row without its sanitiser version: ``finews reparse`` records a new one
    for an unchanged text without a new revision, so an earlier copy may hold the old."""
    return row[:_SANITIZER] + row[_SANITIZER + 1 :]


def _check_earlier_copy(src: Store, dst: Store, batch: int) -> None:
    """Raise unless every row of ``dst`` is in ``src`` (items possibly at an older revision)."""
    for table in ("items", "item_revisions", "changes"):
        width = len(TABLE_KEYS[table])
        theirs = _rows(src, table, batch)
        current = next(theirs, None)
        # integer keys: both engines yield the same order, so a merge join streams
        for row in _rows(dst, table, batch):
            key = row[:width]
            while current is not None and current[:width] < key:
                current = next(theirs, None)
            if current is None or current[:width] != key:
                raise _refuse(dst, table, row, "is not in the source")
            if table != "items":
                if current != row:
                    raise _refuse(dst, table, row, "differs from the source's")
                continue
            revision, src_revision = row[_REVISION], current[_REVISION]
            if current[1:3] != row[1:3]:
                raise _refuse(dst, table, row, f"is {current[1:3]} in the source")
            if revision > src_revision:
                raise _refuse(dst, table, row, f"is newer than the source's {src_revision}")
            if revision == src_revision and _text_of(current) != _text_of(row):
                raise _refuse(dst, table, row, "differs from the source's at the same revision")
    src_slugs = _keyed(src, "media_slugs", batch)
    for media, row in _keyed(dst, "media_slugs", batch).items():
        if src_slugs.get(media) != row:
            raise _refuse(dst, "media_slugs", row, "has another slug (or none) in the source")
    src_states = _keyed(src, "source_state", batch)
    for source, row in _keyed(dst, "source_state", batch).items():
        if source not in src_states:
            raise _refuse(dst, "source_state", row, "is not in the source")
