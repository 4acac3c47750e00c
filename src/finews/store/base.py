"""What finews needs from a database: the :class:`Store` interface, its :class:`Transaction`,
and the values its API takes and gives (:class:`ItemQuery`, :class:`Change`).

The one implementation, shared by SQLite and PostgreSQL, is :class:`finews.store.sql.SqlStore`;
the SQL of each table family is a module of its own beside this one (items are written by
:mod:`~finews.store.items` and read by :mod:`~finews.store.reads`, and so on), taking a
``Store`` or a ``Transaction``. Driver exceptions (sqlite3, psycopg) never leave the
package: they are wrapped in :class:`~finews.errors.StoreError` at the transaction boundary.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from finews.models import Item, RawRecord, SourceState, UpsertResult
from finews.store.times import to_db_time

__all__ = [
    "Change",
    "ItemQuery",
    "Store",
    "Transaction",
    "printable",
]

# What no engine, log file or feed can hold (NUL, control characters, lone surrogates).
_UNSTORABLE = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def printable(text: str) -> str:
    """``text`` with each character no store or log can hold written as ``\\uXXXX``: how
    an id or a reason that made an item unstorable is logged and kept in ``item_faults``."""
    return _UNSTORABLE.sub(lambda found: f"\\u{ord(found.group()):04x}", text)


@dataclass(frozen=True, slots=True)
class Change:
    """One entry of the change log: an item was stored (``new``) or edited (``update``)."""

    seq: int
    item_id: int
    kind: str


@dataclass(frozen=True, slots=True)
class ItemQuery:
    """Which items to list, newest first. ``before`` is a keyset cursor: the
    ``(published_at, id)`` of the last item of the previous page; ``through`` the key of the
    last item to list (inclusive), so a page can be a range between two keys.

    ``first_reports_only`` shows each story once: an item is left out when an earlier
    report of its story (``item_clusters``) also matches the query's filters (source,
    category, time range, importance, security; the cursors aside). Without filters that is every
    later report; within one category or day, an item stays unless that listing holds an
    earlier report of the same story."""

    source: str | None = None
    category: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    important: bool | None = None
    #: a security in finews notation (:mod:`finews.sources.securities`): items about it
    stock: str | None = None
    before: tuple[datetime, int] | None = None
    limit: int | None = None
    oldest_first: bool = False
    through: tuple[datetime, int] | None = None
    first_reports_only: bool = False
    #: items come without their full text (``content`` empty), for lists that never show it
    without_content: bool = False
    #: ``False``: leave out items a mute rule hides (pages, feeds, API lists); ``True``:
    #: only those; ``None``: every item
    muted: bool | None = None


class Transaction(ABC):
    """One open write transaction of a :class:`Store` (from :meth:`Store.transaction`).

    Statements use ``?`` placeholders, rewritten for the engine; ``execute`` returns the
    transaction, so ``tx.execute(sql, params).fetchone()`` reads a row. It commits when the
    ``with`` block ends and rolls back when it raises; driver errors leave as
    :class:`~finews.errors.StoreError`."""

    #: the store it belongs to
    store: Store

    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> Transaction:
        """Run one statement."""

    @abstractmethod
    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> Transaction:
        """Run one statement once per row of parameters."""

    @abstractmethod
    def fetchone(self) -> Any:
        """The next row of the last statement, or ``None``."""

    @abstractmethod
    def fetchall(self) -> list[Any]:
        """The remaining rows of the last statement."""

    @abstractmethod
    def savepoint(self) -> AbstractContextManager[None]:
        """Undo what the block wrote if it raises, keeping the transaction's earlier
        writes. A savepoint that cannot be rolled back (the connection broke) raises a
        :class:`StoreError` that :meth:`Store.item_fault` never counts as an item's."""

    @abstractmethod
    def lock_derived(self) -> None:
        """Hold, until commit, the right to write derived rows (search index, stories):
        derivers go one at a time (clustering reads the stories it extends)."""

    @abstractmethod
    def lock_change_log(self) -> None:
        """Hold, until commit, the right to append to ``changes``, so that sequence numbers
        become visible in the order they were handed out: a reader following
        ``changes_since(last_seen)`` must never see seq 6 while seq 5 is still uncommitted,
        or it skips 5 for good."""

    @abstractmethod
    def notify_changes(self) -> None:
        """Tell other processes, at commit, that this transaction appended to ``changes``
        (PostgreSQL: ``NOTIFY``, see :mod:`finews.store.notify`; SQLite readers poll)."""

    def record_fault(self, source: str, upstream_id: str, stage: str, detail: str) -> None:
        """Keep what happened to one item (its latest per stage) in ``item_faults``."""
        self.execute(
            "INSERT INTO item_faults (source, upstream_id, stage, detail, at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (source, upstream_id, stage) "
            "DO UPDATE SET detail = excluded.detail, at = excluded.at",
            (
                printable(source),
                printable(upstream_id),
                stage,
                printable(detail)[:2000],
                to_db_time(datetime.now(UTC)),
            ),
        )


class Store(ABC):
    """What finews needs from a database. One implementation per engine."""

    #: the engine: ``"sqlite"`` or ``"postgres"`` (its migrations folder)
    engine = ""
    #: the database URL it was opened with
    url = ""
    #: what derives the items of a write inside it (``upsert_items(derive=True)``): set by
    #: :func:`finews.derive.open_store`; a store opened bare can only store
    deriver: Callable[[Transaction, Sequence[tuple[int, Item]]], None] | None = None
    #: the version of each kind of derived data (``derived_state``) its deriver makes:
    #: what a new database records when ``migrate()`` creates that table
    derived_versions: Mapping[str, int] = MappingProxyType({})
    #: appended to the SELECT that reads a row it will update: where writers run
    #: concurrently, the second waits and then sees the first one's result
    row_lock_clause = ""

    @abstractmethod
    def transaction(self) -> AbstractContextManager[Transaction]:
        """One write transaction: commit on success, roll back on any error."""

    @abstractmethod
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """The rows of one read (``?`` placeholders), in a transaction of its own."""

    @abstractmethod
    def item_fault(self, exc: BaseException) -> bool:
        """Whether ``exc``, raised while writing or deriving one item, is that item's own
        fault (so the item is dropped or skipped) rather than the database's."""

    @abstractmethod
    def migrate(self) -> list[int]:
        """Apply pending migrations; return the versions applied."""

    @abstractmethod
    def schema_version(self) -> int:
        """The newest applied migration (0 for an empty database)."""

    @abstractmethod
    def upsert_items(
        self, items: Sequence[Item], *, state: SourceState | None = None, derive: bool = True
    ) -> UpsertResult:
        """Store items in one transaction, idempotently by (source, upstream id). ``state``,
        when given, is saved in the same transaction (a poll's progress commits with the
        page it describes, so a crash can never separate the two).

        With ``derive`` the items are indexed for search and put in their stories in the
        same transaction; without, they are stored and logged only, and
        :func:`finews.derive.derive_pending` does the rest later (the daemon, whose
        write transaction then stays short; see :mod:`finews.derive`)."""

    @abstractmethod
    def get_item(self, source: str, upstream_id: str) -> Item | None:
        """One item by its natural key."""

    @abstractmethod
    def get_item_by_id(self, item_id: int) -> Item | None:
        """One item by row id."""

    @abstractmethod
    def items(self, query: ItemQuery = ItemQuery()) -> Iterator[Item]:
        """Items matching ``query``, newest first (streamed)."""

    @abstractmethod
    def tagged_stocks(self) -> list[str]:
        """Every security some stored item is tagged with, in finews notation, sorted."""

    @abstractmethod
    def count_items(self, source: str | None = None) -> int:
        """How many items (of one source)."""

    @abstractmethod
    def known_ids(self, source: str, upstream_ids: Sequence[str]) -> set[str]:
        """Which of these upstream ids are stored already."""

    @abstractmethod
    def revisions(self, item_id: int) -> list[Item]:
        """Earlier revisions of an item, oldest first."""

    @abstractmethod
    def raw_records(
        self, source: str | None = None, since: datetime | None = None
    ) -> Iterator[tuple[Item, RawRecord]]:
        """Every item with kept raw data (of ``source``, published at or after ``since``),
        oldest first, with that data (streamed)."""

    @abstractmethod
    def raw_of(self, item_ids: Sequence[int]) -> dict[int, RawRecord]:
        """The kept raw data of these items (by row id), for those that have some."""

    @abstractmethod
    def slug_for_media(self, media: str, proposed: str) -> str:
        """The category slug of a media name: the stored one, else ``proposed`` (stored)."""

    @abstractmethod
    def media_slugs(self) -> dict[str, str]:
        """Every media name with its slug."""

    @abstractmethod
    def get_state(self, source: str) -> SourceState:
        """The persisted state of a source (an empty one if never polled)."""

    @abstractmethod
    def save_state(self, state: SourceState) -> None:
        """Persist a source's state."""

    @abstractmethod
    def changes_since(self, seq: int, limit: int = 1000) -> list[Change]:
        """Change-log entries after ``seq``, oldest first."""

    @abstractmethod
    def last_change_seq(self) -> int:
        """The newest change-log sequence number (0 when empty)."""

    @abstractmethod
    def integrity_problems(self) -> list[str]:
        """Run the engine's integrity check; return what it found wrong (empty when sound)."""

    @abstractmethod
    def export_rows(self, table: str, *, batch: int = 1000) -> Iterator[list[tuple[Any, ...]]]:
        """Every row of ``table`` (a key of :data:`~finews.store.tables.TABLES`) as raw
        column values in ``TABLES`` order, in batches of up to ``batch`` rows, in
        primary-key order (text keys in the engine's collation). For backups and
        ``copy_db``."""

    @abstractmethod
    def import_rows(self, table: str, rows: Sequence[tuple[Any, ...]]) -> None:
        """Write raw rows (as :meth:`export_rows` yields them) in one transaction, keeping
        row ids and sequence numbers, appending nothing to the change log. A row whose key
        exists replaces it in ``items`` and ``source_state``; in the append-only tables and
        ``media_slugs`` the existing row stays."""

    @abstractmethod
    def close(self) -> None:
        """Release the connection."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
