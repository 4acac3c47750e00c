"""The storage interface, and its one SQL implementation shared by SQLite and PostgreSQL.

Every statement here is portable SQL written with ``?`` placeholders; a backend only says how
to connect, how its placeholders look and how to run a migration script. Nothing is ever
deleted: an edited item keeps its previous revision in ``item_revisions``, and every insert
or update appends a row to ``changes`` (the log that live pages follow).

Driver exceptions (sqlite3, psycopg) never leave this package: they are wrapped in
:class:`~finews.errors.StoreError` at the transaction boundary.
"""

from __future__ import annotations

import logging
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from types import MappingProxyType
from typing import Any

from finews.errors import StoreError
from finews.models import Dropped, Item, RawItem, RawRecord, SourceState, UpsertResult
from finews.raw import raw_record
from finews.redact import redact
from finews.sources.securities import mention_terms, security, stored_forms
from finews.store.columns import ITEM_COLUMNS, ITEM_FIELDS, ROW_COLUMNS, in_list, item_columns

__all__ = [
    "TABLES",
    "TABLE_KEYS",
    "Change",
    "ItemQuery",
    "SqlStore",
    "Store",
    "Transaction",
    "from_db_time",
    "item_from_row",
    "printable",
    "to_db_time",
]

log = logging.getLogger("finews.store")

# What no engine, log file or feed can hold (NUL, control characters, lone surrogates).
_UNSTORABLE = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def printable(text: str) -> str:
    """``text`` with each character no store or log can hold written as ``\\uXXXX``: how
    an id or a reason that made an item unstorable is logged and kept in ``item_faults``."""
    return _UNSTORABLE.sub(lambda found: f"\\u{ord(found.group()):04x}", text)


class _Broken(StoreError):
    """A savepoint could not be rolled back: the connection, not an item, is at fault."""


#: Every table with its columns, in the order ``export_rows`` yields them and ``import_rows``
#: takes them, parents before children. Both engines' migrations create exactly these.
TABLES: dict[str, tuple[str, ...]] = {
    "items": (
        "id",
        "source",
        "upstream_id",
        "title",
        "digest",
        "content",
        "url",
        "media",
        "category",
        "tag",
        "kind",
        "importance",
        "stocks",
        "author",
        "fulltext_key",
        "published_at",
        "fetched_at",
        "updated_at",
        "revision",
        "sanitizer",
    ),
    "item_revisions": (
        "item_id",
        "revision",
        "title",
        "digest",
        "content",
        "url",
        "media",
        "importance",
        "stocks",
        "author",
        "published_at",
        "replaced_at",
    ),
    "changes": ("seq", "item_id", "kind", "at"),
    "media_slugs": ("media", "slug"),
    "source_state": (
        "source",
        "last_attempt",
        "last_success",
        "last_error",
        "consecutive_failures",
        "next_poll",
        "cursor",
    ),
    # the daemon's pending full-text work and running totals (migration 0003)
    "fulltext_queue": (
        "source",
        "upstream_id",
        "state",
        "attempts",
        "next_attempt",
        "last_error",
        "queued_at",
    ),
    "source_stats": (
        "source",
        "polls",
        "failures",
        "items_new",
        "items_updated",
        "poll_seconds",
        "last_poll_seconds",
        "retry_after",
    ),
    # what went wrong with single items: dropped, left out of a derived step, or a value
    # replaced by normalising (migration 0008)
    "item_faults": ("source", "upstream_id", "stage", "detail", "at"),
    # each item's raw upstream data, compressed (migration 0010, finews.raw)
    "item_raw": ("item_id", "record", "record_format", "article", "article_format", "stored_at"),
    # whether each source's upstream looks changed (migration 0011)
    "source_formats": ("source", "alarm", "since", "errors", "had_items", "sample"),
    # which items are about which security, by key (migration 0012, stock_keys)
    "item_stocks": ("code", "item_id"),
    # a directory of security names (migration 0014, finews.store.securities)
    "securities": ("code", "name", "origin", "updated_at"),
    # watchlist rules (migration 0013, finews.alerts): the revision each item was matched at,
    # the items a mute rule hides, each story a rule has alerted, and the alert outbox
    "rule_marks": ("item_id", "revision"),
    "item_mutes": ("item_id", "rule"),
    "alert_stories": ("rule", "story", "kind", "item_id", "at"),
    "alert_outbox": (
        "id",
        "rule",
        "channel",
        "item_id",
        "story",
        "kind",
        "title",
        "body",
        "state",
        "attempts",
        "next_attempt",
        "claimed_by",
        "claimed_until",
        "last_error",
        "created_at",
        "sent_at",
    ),
}

#: Each table's primary key: its first columns, and the order of ``export_rows``.
TABLE_KEYS: dict[str, tuple[str, ...]] = {
    "items": ("id",),
    "item_revisions": ("item_id", "revision"),
    "changes": ("seq",),
    "media_slugs": ("media",),
    "source_state": ("source",),
    "fulltext_queue": ("source", "upstream_id"),
    "source_stats": ("source",),
    "item_faults": ("source", "upstream_id", "stage"),
    "item_raw": ("item_id",),
    "source_formats": ("source",),
    "item_stocks": ("code", "item_id"),
    "securities": ("code",),
    "rule_marks": ("item_id",),
    "item_mutes": ("item_id", "rule"),
    "alert_stories": ("rule", "story", "kind"),
    "alert_outbox": ("id",),
}

#: What ``import_rows`` does with a row whose key exists: items and source states take the
#: imported values; revisions and the change log are append-only, and a media name keeps
#: its first slug forever.
_REPLACE_ON_IMPORT = frozenset(
    {
        "items",
        "source_state",
        "fulltext_queue",
        "source_stats",
        "item_faults",
        "item_raw",
        "source_formats",
        "securities",
        "rule_marks",
        "alert_outbox",
    }
)


def to_db_time(dt: datetime | None) -> str | None:
    """A timezone-aware datetime as the stored UTC text (sorts as time does)."""
    if dt is None:
        return None
    if dt.tzinfo is None:
        raise StoreError(f"naive datetime {dt!r}: every stored time must be timezone-aware")
    try:
        u = dt.astimezone(UTC)
    except OverflowError:  # 0001-01-01 east of UTC, 9999-12-31 west of it: held at the end
        u = (datetime.min if dt.year < 5000 else datetime.max).replace(tzinfo=UTC)
    # by hand: strftime("%Y") does not zero-pad years before 1000 on glibc, and the stored
    # text must sort as time does
    return f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}Z"


def from_db_time(text: str | None) -> datetime | None:
    """The stored UTC text back as an aware datetime."""
    if text is None:
        return None
    # fromisoformat reads the stored form ("…Z") about 40 times faster than strptime, which
    # every page, feed and build pays per item
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        # a year before 1000, which earlier versions stored unpadded ("1-01-01T…")
        year, _, rest = text.partition("-")
        moment = datetime.fromisoformat(f"{int(year):04d}-{rest}")
    if moment.tzinfo is None:  # not written by to_db_time; read it as UTC all the same
        return moment.replace(tzinfo=UTC)
    return moment


def _item_filters(
    query: ItemQuery, table: str, *, common: bool = False
) -> tuple[list[str], list[Any]]:
    """The conditions of ``query``'s filters on ``table`` (a name or alias of ``items``);
    ``common`` as :func:`stock_condition` takes it."""
    filters: list[str] = []
    params: list[Any] = []
    if query.source is not None:
        filters.append(f"{table}.source = ?")
        params.append(query.source)
    if query.category is not None:
        filters.append(f"{table}.category = ?")
        params.append(query.category)
    if query.since is not None:
        filters.append(f"{table}.published_at >= ?")
        params.append(to_db_time(query.since))
    if query.until is not None:
        filters.append(f"{table}.published_at < ?")
        params.append(to_db_time(query.until))
    if query.important is not None:
        filters.append(f"{table}.importance {'>' if query.important else '='} 0")
    if query.stock is not None:
        condition, args = stock_condition(query.stock, table, common=common)
        filters.append(condition)
        params.extend(args)
    if query.muted is not None:
        # a mute rule's items (migration 0013, finews.alerts.reader)
        probe = f"EXISTS (SELECT 1 FROM item_mutes m WHERE m.item_id = {table}.id)"
        filters.append(probe if query.muted else "NOT " + probe)
    return filters, params


_DIGIT_RUN = re.compile(r"[0-9]+")


def stock_keys(title: str, digest: str, stocks: Sequence[str]) -> set[str]:
    """The keys under which an item is about securities (table ``item_stocks``): each
    code it is tagged with, in lower case as stored, and each run of 5 or 6 digits in its
    title or digest (a mainland or Hong Kong code named there, as
    :func:`~finews.sources.securities.mention_terms` gives them). A run is taken whole:
    ``1600519`` names no security."""
    keys = {code.lower() for code in stocks if code}
    for text in (title, digest):
        keys.update(run for run in _DIGIT_RUN.findall(text) if len(run) in (5, 6))
    return keys


#: what begins the ``item_stocks`` key of a security named by its known name
#: (``name:sh600519``; :class:`finews.derive.mentions.Mentions` writes them)
NAME_KEY = "name:"


def name_key(canonical: str) -> str:
    """The ``item_stocks`` key of an item naming the security ``canonical`` by name."""
    return NAME_KEY + canonical.lower()


def stock_lookup_keys(canonical: str) -> list[str]:
    """The :func:`stock_keys` an item about the security ``canonical`` (finews notation)
    has one of: a form it may be tagged with
    (:func:`~finews.sources.securities.stored_forms`), its code's digits
    (:func:`~finews.sources.securities.mention_terms`), or its name (:func:`name_key`)."""
    forms = set(stored_forms(canonical)) | set(mention_terms(canonical))
    return sorted(forms | {name_key(canonical)})


#: From how many items on a security counts as common (:func:`stock_condition`).
COMMON_STOCK = 2000


def stock_condition(canonical: str, table: str, *, common: bool = False) -> tuple[str, list[Any]]:
    """The condition that an item of ``table`` is about the security ``canonical`` (finews
    notation): tagged with it in any form it may be stored in, or naming its code in the
    title or digest. It is answered from ``item_stocks`` by key (:func:`stock_keys`), an
    index lookup on both engines: a security's items are found without reading the
    others, so a made-up code costs next to nothing.

    For a ``common`` security (at least :data:`COMMON_STOCK` items) the list of all its
    items would cost more than it saves: the condition is then a probe of each row's keys,
    and a listing walks its newest-first index until it has its page, which for a common
    security is soon."""
    keys = stock_lookup_keys(canonical)
    marks = ", ".join("?" * len(keys))
    if common:
        return (
            f"EXISTS (SELECT 1 FROM item_stocks s WHERE s.item_id = {table}.id "
            f"AND s.code IN ({marks}))",
            keys,
        )
    return f"{table}.id IN (SELECT item_id FROM item_stocks WHERE code IN ({marks}))", keys


def stock_mention(item: Item, canonical: str, named: Collection[str] = ()) -> str | None:
    """How ``item`` is about the security ``canonical``: ``"tagged"`` when an upstream
    tagged it, ``"mentioned"`` when its code is named in the title or digest, ``"named"``
    when its known name is (``named``: the item's codes so found, :func:`named_stocks`),
    else ``None`` (the same test as :func:`stock_condition`)."""
    forms = set(stored_forms(canonical))
    if any(code.lower() in forms for code in item.stocks):
        return "tagged"
    keys = stock_keys(item.title, item.digest, ())
    if any(term in keys for term in mention_terms(canonical)):
        return "mentioned"
    if canonical.lower() in named:
        return "named"
    return None


def named_stocks(store: Store, ids: Iterable[int]) -> dict[int, set[str]]:
    """The securities (lower case) each of these items names by a known name, as
    :class:`finews.derive.mentions.Mentions` found them; items naming none are left out."""
    wanted = sorted(set(ids))
    found: dict[int, set[str]] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        rows = store.query(
            f"SELECT item_id, code FROM item_stocks WHERE item_id IN ({marks}) AND code LIKE ?",
            [*chunk, NAME_KEY + "%"],
        )
        for item_id, code in rows:
            found.setdefault(int(item_id), set()).add(str(code)[len(NAME_KEY) :])
    return found


def item_from_row(row: Sequence[Any]) -> Item:
    """The item of a row selected as :data:`~finews.store.columns.ITEM_COLUMNS`."""
    published = from_db_time(row[15])
    fetched = from_db_time(row[16])
    assert published is not None
    assert fetched is not None
    return Item(
        id=int(row[0]),
        source=row[1],
        upstream_id=row[2],
        title=row[3],
        digest=row[4],
        content=row[5],
        url=row[6],
        media=row[7],
        category=row[8],
        tag=row[9],
        kind=row[10],
        importance=int(row[11]),
        stocks=tuple(s for s in row[12].split(" ") if s),
        author=row[13],
        fulltext_key=row[14],
        published_at=published,
        fetched_at=fetched,
        revision=int(row[17]),
        sanitizer=None if row[18] is None else int(row[18]),
    )


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


class Transaction:
    """One open write transaction of a :class:`Store` (from :meth:`Store.transaction`).

    Statements use ``?`` placeholders, rewritten for the engine; ``execute`` returns the
    transaction, so ``tx.execute(sql, params).fetchone()`` reads a row. It commits when the
    ``with`` block ends and rolls back when it raises; driver errors leave as
    :class:`~finews.errors.StoreError`."""

    def __init__(self, store: SqlStore, cursor: Any) -> None:
        self.store = store
        #: the driver's cursor, for the engine's own statements (backends only)
        self.cursor = cursor

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Transaction:
        self.cursor.execute(self.store._sql(sql), tuple(params))
        return self

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> Transaction:
        self.cursor.executemany(self.store._sql(sql), rows)
        return self

    def fetchone(self) -> Any:
        return self.cursor.fetchone()

    def fetchall(self) -> list[Any]:
        return list(self.cursor.fetchall())

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Undo what the block wrote if it raises, keeping the transaction's earlier
        writes. A savepoint that cannot be rolled back (the connection broke) raises a
        :class:`StoreError` that :meth:`Store.item_fault` never counts as an item's."""
        self.execute("SAVEPOINT one_item")
        try:
            yield
        except BaseException:
            try:
                self.execute("ROLLBACK TO SAVEPOINT one_item")
            except self.store.driver_errors as exc:
                raise _Broken(redact(f"database {self.store.url}: {exc}")) from exc
            raise
        self.execute("RELEASE SAVEPOINT one_item")

    def lock_derived(self) -> None:
        """Hold, until commit, the right to write derived rows (search index, stories):
        derivers go one at a time (clustering reads the stories it extends)."""
        self.store._lock_derived(self.cursor)

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
        """Every row of ``table`` (a key of :data:`TABLES`) as raw column values in
        :data:`TABLES` order, in batches of up to ``batch`` rows, in primary-key order (text
        keys in the engine's collation). For backups and ``copy_db``."""

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


class SqlStore(Store):
    """The shared implementation over a DB-API connection."""

    #: the backend's placeholder; statements here use ``?``
    placeholder = "?"
    #: the driver's exception classes, wrapped in StoreError at the boundary
    driver_errors: tuple[type[Exception], ...] = ()

    def __init__(self, url: str) -> None:
        self.url = url
        self._lock = threading.RLock()
        self._conn: Any = self._connect()

    # --- what a backend provides -------------------------------------------------------
    @abstractmethod
    def _connect(self) -> Any:
        """Open the DB-API connection."""

    @abstractmethod
    def _run_script(self, cur: Any, script: str) -> None:
        """Run a migration script (several statements) inside the open transaction."""

    @abstractmethod
    def integrity_problems(self) -> list[str]:
        """Engine-specific integrity check."""

    def _begin(self, cur: Any) -> None:
        """Start a write transaction (SQLite takes its write lock here)."""

    def _lock_migrations(self, cur: Any) -> None:
        """Keep concurrent ``migrate()`` calls from applying a script twice."""

    def _lock_change_log(self, cur: Any) -> None:
        """Hold, until commit, the right to append to ``changes``, so that sequence numbers
        become visible in the order they were handed out: a reader following
        ``changes_since(last_seen)`` must never see seq 6 while seq 5 is still uncommitted,
        or it skips 5 for good. SQLite's single writer gives this for free."""

    def _after_import(self, cur: Any, table: str) -> None:
        """Bring id generators past the ids that ``import_rows`` wrote explicitly."""

    def _lock_derived(self, cur: Any) -> None:
        """Hold, until commit, the right to write derived rows (search index, stories):
        clustering reads the stories it extends, so derivers go one at a time. SQLite's
        single writer gives this for free."""

    def _notify_changes(self, cur: Any) -> None:
        """Tell other processes, at commit, that this transaction appended to ``changes``
        (PostgreSQL: ``NOTIFY``, see :mod:`finews.store.notify`). SQLite readers poll."""

    # --- plumbing ------------------------------------------------------------------------
    def _sql(self, statement: str) -> str:
        if self.placeholder == "?":
            return statement
        return statement.replace("?", self.placeholder)

    def _wrap(self, exc: Exception) -> StoreError:
        return StoreError(redact(f"database {self.url}: {type(exc).__name__}: {exc}"))

    def _rollback_quietly(self) -> None:
        # a broken connection also fails its rollback; the first error is the one to report
        with suppress(*self.driver_errors):
            self._conn.rollback()

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        with self._lock:
            try:
                cur = self._conn.cursor()
            except self.driver_errors as exc:
                raise self._wrap(exc) from exc
            try:
                self._begin(cur)
                yield Transaction(self, cur)
                self._conn.commit()
            except self.driver_errors as exc:
                self._rollback_quietly()
                raise self._wrap(exc) from exc
            except BaseException:
                self._rollback_quietly()
                raise
            finally:
                cur.close()

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            try:
                cur = self._conn.cursor()
                try:
                    cur.execute(self._sql(sql), tuple(params))
                    rows = cur.fetchall()
                finally:
                    cur.close()
                # end the read transaction so later reads see other processes' commits
                self._conn.commit()
            except self.driver_errors as exc:
                self._rollback_quietly()
                raise self._wrap(exc) from exc
            except BaseException:
                self._rollback_quietly()
                raise
            return list(rows)

    def close(self) -> None:
        with self._lock:
            try:
                self._conn.close()
            except self.driver_errors as exc:
                raise self._wrap(exc) from exc

    # --- migrations ----------------------------------------------------------------------
    def _scripts(self) -> list[tuple[int, str]]:
        folder = resources.files("finews.store") / "migrations" / self.engine
        found = []
        for entry in folder.iterdir():
            name = entry.name
            if name.endswith(".sql"):
                found.append((int(name.split("_", 1)[0]), entry.read_text(encoding="utf-8")))
        return sorted(found)

    def schema_version(self) -> int:
        try:
            rows = self.query("SELECT MAX(version) FROM schema_version")
        except StoreError:
            # no schema_version table yet: nothing was ever migrated
            return 0
        return int(rows[0][0] or 0)

    def migrate(self) -> list[int]:
        scripts = self._scripts()
        try:
            done = {int(row[0]) for row in self.query("SELECT version FROM schema_version")}
        except StoreError:
            done = set()
        if all(version in done for version, _ in scripts):
            # up to date: no write lock taken (a daemon's writer may hold it for seconds,
            # and every command and web process opening the store comes through here)
            return []
        applied: list[int] = []
        with self.transaction() as tx:
            self._lock_migrations(tx.cursor)
            tx.execute(
                "CREATE TABLE IF NOT EXISTS schema_version ("
                "version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)",
            )
            tx.execute("SELECT version FROM schema_version")
            done = {int(row[0]) for row in tx.fetchall()}
            for version, script in scripts:
                if version in done:
                    continue
                self._run_script(tx.cursor, script)
                tx.execute(
                    "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                    (version, to_db_time(datetime.now(UTC))),
                )
                applied.append(version)
            if 12 in applied:
                self._fill_stock_keys(tx)
            if 2 in applied:
                # derived_state is new (0002 writes version 1): no derived row of an older
                # rule can exist, so the rows to come are made by the current rules
                for name, version in sorted(self.derived_versions.items()):
                    tx.execute(
                        "UPDATE derived_state SET version = ? WHERE name = ?", (version, name)
                    )
        return applied

    # --- items ---------------------------------------------------------------------------
    _row_to_item = staticmethod(item_from_row)

    @staticmethod
    def _merge(old: Item, new: Item) -> Item:
        """What to store when ``new`` arrives for a stored ``old``: fields the new reading
        lacks (full text fetched earlier, a digest, an author, a publication time) keep
        their stored value."""
        return new.replace(
            id=old.id,
            content=new.content or old.content,
            digest=new.digest or old.digest,
            author=new.author or old.author,
            media=new.media or old.media,
            stocks=new.stocks or old.stocks,
            fulltext_key=new.fulltext_key or old.fulltext_key,
            category=old.category or new.category,
            tag=old.tag or new.tag,
            # a fetch time standing in for a missing or impossible date is the first one
            published_at=old.published_at if new.published_guessed else new.published_at,
            # the version goes with the text it made: a reading without text, or with the
            # same text of unknown version, leaves the stored text's
            sanitizer=new.sanitizer
            if new.content and (new.sanitizer is not None or new.content != old.content)
            else old.sanitizer,
        )

    def _select_item(self, tx: Transaction, source: str, upstream_id: str) -> Item | None:
        tx.execute(
            f"SELECT {ITEM_COLUMNS} FROM items WHERE source = ? AND upstream_id = ?"
            + self.row_lock_clause,
            (source, upstream_id),
        )
        row = tx.fetchone()
        return None if row is None else self._row_to_item(row)

    @staticmethod
    def _prepare(given: Item) -> Item:
        """Check an item before any write and shape it as it will read back, so that a
        re-poll compares like with like (and an unchanged item never makes a revision)."""
        where = f"item {given.source}/{given.upstream_id}"
        for name in ("published_at", "fetched_at"):
            value = getattr(given, name)
            if value.tzinfo is None or value.utcoffset() is None:
                raise StoreError(f"{where}: naive {name} {value!r}; store aware datetimes only")
        texts: list[str | None] = [given.source, given.upstream_id, given.title]
        texts += [given.digest, given.content]
        texts += [given.url, given.media, given.category, given.tag, given.kind]
        texts += [given.author, given.fulltext_key, *given.stocks]
        if any(text is not None and "\x00" in text for text in texts):
            # PostgreSQL cannot store NUL in text; refuse it on every engine alike
            raise StoreError(f"{where}: text contains a NUL character; strip it before storing")
        return given.replace(
            # stored times have whole seconds, stocks are stored space-separated
            published_at=given.published_at.replace(microsecond=0),
            fetched_at=given.fetched_at.replace(microsecond=0),
            stocks=tuple(s for s in " ".join(given.stocks).split(" ") if s),
        )

    def _insert_item(self, tx: Transaction, item: Item, now: str | None) -> int | None:
        """Insert a new item; ``None`` when a concurrent writer stored the same key first."""
        tx.execute(
            "INSERT INTO items (source, upstream_id, title, digest, content, url, "
            "media, category, tag, kind, importance, stocks, author, fulltext_key, "
            "published_at, fetched_at, updated_at, revision, sanitizer) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?) "
            "ON CONFLICT (source, upstream_id) DO NOTHING RETURNING id",
            (
                item.source,
                item.upstream_id,
                item.title,
                item.digest,
                item.content,
                item.url,
                item.media,
                item.category,
                item.tag,
                item.kind,
                item.importance,
                " ".join(item.stocks),
                item.author,
                item.fulltext_key,
                to_db_time(item.published_at),
                to_db_time(item.fetched_at),
                now,
                item.sanitizer,
            ),
        )
        row = tx.fetchone()
        return None if row is None else int(row[0])

    def _update_item(self, tx: Transaction, old: Item, merged: Item, now: str | None) -> None:
        """Keep ``old`` as a revision and store ``merged`` in its place."""
        assert old.id is not None
        tx.execute(
            "INSERT INTO item_revisions (item_id, revision, title, digest, content, "
            "url, media, importance, stocks, author, published_at, replaced_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                old.id,
                old.revision,
                old.title,
                old.digest,
                old.content,
                old.url,
                old.media,
                old.importance,
                " ".join(old.stocks),
                old.author,
                to_db_time(old.published_at),
                now,
            ),
        )
        tx.execute(
            "UPDATE items SET title = ?, digest = ?, content = ?, url = ?, media = ?, "
            "importance = ?, stocks = ?, author = ?, fulltext_key = ?, "
            "published_at = ?, updated_at = ?, revision = ?, sanitizer = ? WHERE id = ?",
            (
                merged.title,
                merged.digest,
                merged.content,
                merged.url,
                merged.media,
                merged.importance,
                " ".join(merged.stocks),
                merged.author,
                merged.fulltext_key,
                to_db_time(merged.published_at),
                now,
                old.revision + 1,
                merged.sanitizer,
                old.id,
            ),
        )

    def upsert_items(
        self, items: Sequence[Item], *, state: SourceState | None = None, derive: bool = True
    ) -> UpsertResult:
        if derive and self.deriver is None:
            raise StoreError(
                "this store was opened without its derived data (search index, stories) and "
                "cannot derive what it stores: open it with finews.derive.open_store, or "
                "store with derive=False and derive later (finews.derive.derive_all)"
            )
        try:
            return self._upsert(items, state, derive, isolate=False)
        except (StoreError, ValueError, OverflowError) as exc:
            if not items or isinstance(exc, _Broken):
                raise
            # One bad item never costs another: the batch again, each item on its own
            # (a savepoint each), dropping the ones that fail with their reason.
            if len(items) > 1:
                log.warning(
                    "storing %d items at once failed (%s); storing them one by one",
                    len(items),
                    exc,
                )
            return self._upsert(items, state, derive, isolate=True)

    def item_fault(self, exc: BaseException) -> bool:
        if isinstance(exc, _Broken):
            return False
        if isinstance(exc, self.driver_errors):
            # DB-API: a lock, a deadlock, a lost connection (OperationalError, InterfaceError,
            # InternalError) is the database's fault, and retried later, never a drop
            names = {kind.__name__ for kind in type(exc).__mro__}
            return not names & {"OperationalError", "InterfaceError", "InternalError"}
        return isinstance(exc, (StoreError, ValueError, OverflowError))

    def _write_stock_keys(self, tx: Transaction, item_id: int, item: Item, *, fresh: bool) -> None:
        """Put the item's :func:`stock_keys` in ``item_stocks`` (replacing its old ones
        unless it is ``fresh``), in the transaction that writes the item."""
        if not fresh:
            tx.execute("DELETE FROM item_stocks WHERE item_id = ?", (item_id,))
        keys = stock_keys(item.title, item.digest, item.stocks)
        if keys:
            tx.executemany(
                ("INSERT INTO item_stocks (code, item_id) VALUES (?, ?)"),
                [(key, item_id) for key in sorted(keys)],
            )

    def _fill_stock_keys(self, tx: Transaction) -> None:
        """Write ``item_stocks`` for the items stored before migration 0012, in batches
        by id (once, in the migration's transaction)."""
        after = 0
        while True:
            tx.execute(
                "SELECT id, title, digest, stocks FROM items WHERE id > ? ORDER BY id LIMIT 1000",
                (after,),
            )
            rows = tx.fetchall()
            if not rows:
                return
            pairs = [
                (key, int(row[0]))
                for row in rows
                for key in sorted(stock_keys(row[1], row[2], row[3].split(" ")))
            ]
            if pairs:
                tx.executemany(("INSERT INTO item_stocks (code, item_id) VALUES (?, ?)"), pairs)
            after = int(rows[-1][0])

    def _write_item(
        self, tx: Transaction, item: Item, now: str | None
    ) -> tuple[str, int, Item] | None:
        """Insert or update one prepared item: ``("new" | "update", row id, as stored)``,
        or ``None`` when it is unchanged."""
        old = self._select_item(tx, item.source, item.upstream_id)
        if old is None:
            item_id = self._insert_item(tx, item, now)
            if item_id is not None:
                if item.raw is not None:
                    self._write_raw(tx, item_id, item.raw, now)
                self._write_stock_keys(tx, item_id, item, fresh=True)
                return "new", item_id, item.replace(id=item_id, revision=1)
            # another worker committed the same key meanwhile: treat as a re-poll
            old = self._select_item(tx, item.source, item.upstream_id)
            if old is None:
                raise StoreError(
                    f"item {item.source}/{item.upstream_id}: insert conflicted "
                    "but no stored row is visible; retry the batch"
                )
        merged = self._merge(old, item)
        if merged.content_fields() == old.content_fields():
            if merged.sanitizer != old.sanitizer:  # the same text, made by other rules
                sql = "UPDATE items SET sanitizer = ? WHERE id = ?"
                tx.execute(sql, (merged.sanitizer, old.id))
            return None
        assert old.id is not None
        self._update_item(tx, old, merged, now)
        self._write_stock_keys(tx, old.id, merged, fresh=False)
        if item.raw is not None:
            self._write_raw(tx, old.id, item.raw, now)
        return "update", old.id, merged.replace(revision=old.revision + 1)

    def _write_raw(self, tx: Transaction, item_id: int, reading: RawItem, now: str | None) -> None:
        """Keep, beside a new or changed item, the raw data of the reading it came from,
        compressed (:mod:`finews.raw`). A part the reading lacks (the article, on a re-poll
        of the list) keeps what is stored. An unchanged item's is not written: a re-poll of
        known items costs nothing here."""
        raw = raw_record(reading)
        if raw is None:
            return
        tx.execute(
            "INSERT INTO item_raw (item_id, record, record_format, article, article_format, "
            "stored_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (item_id) DO UPDATE SET "
            "record = COALESCE(excluded.record, item_raw.record), "
            "record_format = COALESCE(excluded.record_format, item_raw.record_format), "
            "article = COALESCE(excluded.article, item_raw.article), "
            "article_format = COALESCE(excluded.article_format, item_raw.article_format), "
            "stored_at = excluded.stored_at",
            (item_id, raw.record, raw.record_format, raw.article, raw.article_format, now),
        )

    def raw_records(
        self, source: str | None = None, since: datetime | None = None
    ) -> Iterator[tuple[Item, RawRecord]]:
        filters: list[str] = []
        params: list[Any] = []
        if source is not None:
            filters.append("i.source = ?")
            params.append(source)
        if since is not None:
            filters.append("i.published_at >= ?")
            params.append(to_db_time(since))
        select = (
            f"SELECT {item_columns('i')}, r.record, r.record_format, r.article, "
            "r.article_format FROM items i JOIN item_raw r ON r.item_id = i.id"
        )
        last = 0
        while True:  # keyset pages of row ids: a whole archive is never held in memory
            where = " AND ".join([*filters, "i.id > ?"])
            rows = self.query(f"{select} WHERE {where} ORDER BY i.id LIMIT 500", [*params, last])
            for row in rows:
                cut = len(ITEM_FIELDS)
                yield (
                    self._row_to_item(row[:cut]),
                    RawRecord(
                        record=None if row[cut] is None else bytes(row[cut]),
                        record_format=row[cut + 1],
                        article=None if row[cut + 2] is None else bytes(row[cut + 2]),
                        article_format=row[cut + 3],
                    ),
                )
            if len(rows) < 500:
                return
            last = int(rows[-1][0])

    def raw_of(self, item_ids: Sequence[int]) -> dict[int, RawRecord]:
        kept: dict[int, RawRecord] = {}
        ids = list(item_ids)
        for start in range(0, len(ids), 500):
            marks, padded = in_list(ids[start : start + 500])
            rows = self.query(
                "SELECT item_id, record, record_format, article, article_format FROM item_raw "
                f"WHERE item_id IN ({marks})",
                padded,
            )
            for row in rows:
                kept[int(row[0])] = RawRecord(
                    record=None if row[1] is None else bytes(row[1]),
                    record_format=row[2],
                    article=None if row[3] is None else bytes(row[3]),
                    article_format=row[4],
                )
        return kept

    def _upsert(
        self, items: Sequence[Item], state: SourceState | None, derive: bool, *, isolate: bool
    ) -> UpsertResult:
        """:meth:`upsert_items`; with ``isolate``, each item is prepared and written on its
        own, and one that fails is dropped (logged, kept in ``item_faults``) instead of
        failing the batch."""
        dropped: list[Dropped] = []
        prepared: list[Item] = []
        for given in items:
            try:
                prepared.append(self._prepare(given))
            except StoreError as exc:
                if not isolate:
                    raise
                dropped.append(Dropped(given.source, given.upstream_id, printable(str(exc))))
        state_values = None if state is None else self._state_values(state)
        new = updated = unchanged = 0
        now = to_db_time(datetime.now(UTC))
        log_rows: list[tuple[int, str]] = []
        written: list[tuple[int, Item]] = []
        with self.transaction() as tx:
            for item in prepared:
                if isolate:
                    try:
                        with tx.savepoint():
                            outcome = self._write_item(tx, item, now)
                    except Exception as exc:
                        if not self.item_fault(exc):
                            raise
                        reason = printable(f"{type(exc).__name__}: {exc}")
                        dropped.append(Dropped(item.source, item.upstream_id, reason))
                        continue
                else:
                    outcome = self._write_item(tx, item, now)
                for note in item.notes:
                    tx.record_fault(item.source, item.upstream_id, "normalize", note)
                if outcome is None:
                    unchanged += 1
                    continue
                kind, item_id, stored = outcome
                log_rows.append((item_id, kind))
                written.append((item_id, stored))
                if kind == "new":
                    new += 1
                else:
                    updated += 1
            for drop in dropped:
                log.warning(
                    "source=%s id=%s dropped: the store refused it: %s",
                    printable(drop.source),
                    printable(drop.upstream_id or "-"),
                    drop.reason,
                )
                tx.record_fault(drop.source, drop.upstream_id or "", "store", drop.reason)
            # the change log goes last, so the lock that orders it is held only briefly and
            # never while waiting for another writer's item rows (no deadlock)
            if log_rows:
                self._lock_change_log(tx.cursor)
                first = self._log_change(tx, log_rows[0][0], log_rows[0][1], now)
                for item_id, kind in log_rows[1:]:
                    self._log_change(tx, item_id, kind, now)
                if derive:
                    # the search index and the stories of these items (store/search.py,
                    # store/clusters.py), one deriving writer at a time (clustering reads
                    # the stories it extends); the mark moves past them only when no
                    # earlier change still waits for finews.derive
                    tx.lock_derived()
                    assert self.deriver is not None  # upsert_items checked
                    self.deriver(tx, written)
                    self._mark_derived_through(tx, first)
                self._notify_changes(tx.cursor)
            if state_values is not None:
                self._write_state(tx, state_values)
        return UpsertResult(new=new, updated=updated, unchanged=unchanged, dropped=tuple(dropped))

    def _log_change(self, tx: Transaction, item_id: int, kind: str, now: str | None) -> int:
        """Append to the change log; return the entry's sequence number."""
        tx.execute(
            "INSERT INTO changes (item_id, kind, at) VALUES (?, ?, ?) RETURNING seq",
            (item_id, kind, now),
        )
        return int(tx.fetchone()[0])

    def _mark_derived_through(self, tx: Transaction, first: int) -> None:
        """After deriving this transaction's changes (``first`` and every later seq, the
        change log's tail while its lock is held): move the mark to the end, unless an
        earlier change is still waiting to be derived."""
        tx.execute(
            "UPDATE derive_mark SET seq = (SELECT MAX(seq) FROM changes) "
            "WHERE name = 'derived' AND NOT EXISTS "
            "(SELECT 1 FROM changes WHERE seq > derive_mark.seq AND seq < ?)",
            (first,),
        )

    def get_item(self, source: str, upstream_id: str) -> Item | None:
        rows = self.query(
            f"SELECT {ITEM_COLUMNS} FROM items WHERE source = ? AND upstream_id = ?",
            (source, upstream_id),
        )
        return self._row_to_item(rows[0]) if rows else None

    def get_item_by_id(self, item_id: int) -> Item | None:
        rows = self.query(f"SELECT {ITEM_COLUMNS} FROM items WHERE id = ?", (item_id,))
        return self._row_to_item(rows[0]) if rows else None

    def _common_stock(self, canonical: str) -> bool:
        """Whether at least :data:`COMMON_STOCK` items are about ``canonical`` (counted
        no further, from the index: a bounded read)."""
        keys = stock_lookup_keys(canonical)
        marks = ", ".join("?" * len(keys))
        rows = self.query(
            f"SELECT COUNT(*) FROM (SELECT 1 FROM item_stocks WHERE code IN ({marks}) "
            f"LIMIT {COMMON_STOCK}) AS found",
            keys,
        )
        return int(rows[0][0]) >= COMMON_STOCK

    def items(self, query: ItemQuery = ItemQuery()) -> Iterator[Item]:
        common = query.stock is not None and self._common_stock(query.stock)
        filters, params = _item_filters(query, "items", common=common)
        if query.first_reports_only:
            # A later report of a story goes when an earlier one matches the same filters:
            # per row, a primary-key probe of item_clusters (and, for a later report, its
            # story's few members), so a listing stays a walk of its (…, published_at, id)
            # index. Written as COALESCE over a scalar subquery, not NOT EXISTS: PostgreSQL
            # turns NOT EXISTS into an anti-join it believes removes nearly every row, and
            # then sorts the whole table (0.9 s at a million items); a boolean expression
            # it estimates as keeping half, and walks the index (0.3 ms).
            earlier, earlier_args = _item_filters(query, "o", common=common)
            if earlier:
                filters.append(
                    "COALESCE((SELECT FALSE FROM item_clusters c "
                    "JOIN item_clusters m ON m.cluster_id = c.cluster_id "
                    "JOIN items o ON o.id = m.item_id "
                    "WHERE c.item_id = items.id AND c.cluster_id <> items.id "
                    "AND (o.published_at, o.id) < (items.published_at, items.id) AND "
                    + " AND ".join(earlier)
                    + " LIMIT 1), TRUE)"
                )
                params.extend(earlier_args)
            else:  # every listing holds the story's leader, its earliest report
                filters.append(
                    "COALESCE((SELECT c.cluster_id = items.id FROM item_clusters c "
                    "WHERE c.item_id = items.id), TRUE)"
                )
        order = "ASC" if query.oldest_first else "DESC"
        cmp = ">" if query.oldest_first else "<"
        if query.through is not None:
            filters.append(f"(published_at, id) {'<=' if query.oldest_first else '>='} (?, ?)")
            params.extend([to_db_time(query.through[0]), query.through[1]])
        # Stream in keyset pages so a million-item export never holds the archive in memory.
        remaining = query.limit
        cursor = query.before
        while remaining is None or remaining > 0:
            where, args = list(filters), list(params)
            if cursor is not None:
                # a row value, which both engines answer from the (…, published_at, id)
                # index; the equivalent OR form made SQLite scan from the oldest item
                where.append(f"(published_at, id) {cmp} (?, ?)")
                args.extend([to_db_time(cursor[0]), cursor[1]])
            size = 2000 if remaining is None else min(2000, remaining)
            sql = f"SELECT {ROW_COLUMNS if query.without_content else ITEM_COLUMNS} FROM items"
            if where:
                sql += " WHERE " + " AND ".join(where)
            sql += f" ORDER BY published_at {order}, id {order} LIMIT {int(size)}"
            rows = self.query(sql, args)
            page = [self._row_to_item(row) for row in rows]
            yield from page
            if len(page) < size:
                return
            last = page[-1]
            assert last.id is not None
            cursor = (last.published_at, last.id)
            if remaining is not None:
                remaining -= len(page)

    def tagged_stocks(self) -> list[str]:
        rows = self.query("SELECT DISTINCT stocks FROM items WHERE stocks <> ''")
        found = {security(code) for row in rows for code in str(row[0]).split(" ")}
        return sorted(code for code in found if code is not None)

    def count_items(self, source: str | None = None) -> int:
        if source is None:
            rows = self.query("SELECT COUNT(*) FROM items")
        else:
            rows = self.query("SELECT COUNT(*) FROM items WHERE source = ?", (source,))
        return int(rows[0][0])

    def known_ids(self, source: str, upstream_ids: Sequence[str]) -> set[str]:
        known: set[str] = set()
        ids = list(upstream_ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks, padded = in_list(chunk)
            rows = self.query(
                f"SELECT upstream_id FROM items WHERE source = ? AND upstream_id IN ({marks})",
                [source, *padded],
            )
            known.update(row[0] for row in rows)
        return known

    def revisions(self, item_id: int) -> list[Item]:
        current = self.get_item_by_id(item_id)
        if current is None:
            return []
        rows = self.query(
            "SELECT revision, title, digest, content, url, media, importance, stocks, author, "
            "published_at FROM item_revisions WHERE item_id = ? ORDER BY revision",
            (item_id,),
        )
        result = []
        for row in rows:
            published = from_db_time(row[9])
            assert published is not None
            result.append(
                current.replace(
                    revision=int(row[0]),
                    title=row[1],
                    digest=row[2],
                    content=row[3],
                    url=row[4],
                    media=row[5],
                    importance=int(row[6]),
                    stocks=tuple(s for s in row[7].split(" ") if s),
                    author=row[8],
                    published_at=published,
                )
            )
        return result

    # --- media slugs ---------------------------------------------------------------------
    def slug_for_media(self, media: str, proposed: str) -> str:
        with self.transaction() as tx:
            # ON CONFLICT: another worker may store the same media name at the same moment.
            tx.execute(
                "INSERT INTO media_slugs (media, slug) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (media, proposed),
            )
            tx.execute("SELECT slug FROM media_slugs WHERE media = ?", (media,))
            return str(tx.fetchone()[0])

    def media_slugs(self) -> dict[str, str]:
        return {row[0]: row[1] for row in self.query("SELECT media, slug FROM media_slugs")}

    # --- source state --------------------------------------------------------------------
    def get_state(self, source: str) -> SourceState:
        rows = self.query(
            "SELECT last_attempt, last_success, last_error, consecutive_failures, next_poll, "
            "cursor FROM source_state WHERE source = ?",
            (source,),
        )
        if not rows:
            return SourceState(source=source)
        row = rows[0]
        return SourceState(
            source=source,
            last_attempt=from_db_time(row[0]),
            last_success=from_db_time(row[1]),
            # redacted when read too: an error stored before redaction existed
            last_error=None if row[2] is None else redact(row[2]),
            consecutive_failures=int(row[3]),
            next_poll=from_db_time(row[4]),
            cursor=row[5],
        )

    def save_state(self, state: SourceState) -> None:
        values = self._state_values(state)
        with self.transaction() as tx:
            self._write_state(tx, values)

    @staticmethod
    def _state_values(state: SourceState) -> tuple[Any, ...]:
        values = (
            state.source,
            to_db_time(state.last_attempt),
            to_db_time(state.last_success),
            None if state.last_error is None else redact(state.last_error),
            state.consecutive_failures,
            to_db_time(state.next_poll),
            state.cursor,
        )
        if any(isinstance(v, str) and "\x00" in v for v in values):
            raise StoreError(f"state of {state.source}: text contains a NUL character")
        return values

    def _write_state(self, tx: Transaction, values: tuple[Any, ...]) -> None:
        # one statement, so two workers saving the same new source cannot both insert
        tx.execute(
            "INSERT INTO source_state (source, last_attempt, last_success, last_error, "
            "consecutive_failures, next_poll, cursor) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (source) DO UPDATE SET last_attempt = excluded.last_attempt, "
            "last_success = excluded.last_success, last_error = excluded.last_error, "
            "consecutive_failures = excluded.consecutive_failures, "
            "next_poll = excluded.next_poll, cursor = excluded.cursor",
            values,
        )

    # --- change log ----------------------------------------------------------------------
    def changes_since(self, seq: int, limit: int = 1000) -> list[Change]:
        rows = self.query(
            f"SELECT seq, item_id, kind FROM changes WHERE seq > ? ORDER BY seq LIMIT {int(limit)}",
            (seq,),
        )
        return [Change(seq=int(r[0]), item_id=int(r[1]), kind=r[2]) for r in rows]

    def last_change_seq(self) -> int:
        rows = self.query("SELECT MAX(seq) FROM changes")
        return int(rows[0][0] or 0)

    # --- integrity -----------------------------------------------------------------------
    def _consistency_problems(self) -> list[str]:
        """Checks of finews's own invariants, the same SQL on every engine."""
        problems = []
        checks = (
            (
                "SELECT COUNT(*) FROM changes c LEFT JOIN items i ON i.id = c.item_id "
                "WHERE i.id IS NULL",
                "change-log rows point at no item",
            ),
            (
                "SELECT COUNT(*) FROM item_revisions r LEFT JOIN items i ON i.id = r.item_id "
                "WHERE i.id IS NULL",
                "revision rows point at no item",
            ),
            (
                # an item at revision n keeps exactly its revisions 1 … n-1
                "SELECT COUNT(*) FROM items i WHERE i.revision <> 1 + "
                "(SELECT COUNT(*) FROM item_revisions r WHERE r.item_id = i.id "
                "AND r.revision BETWEEN 1 AND i.revision - 1) OR EXISTS "
                "(SELECT 1 FROM item_revisions r WHERE r.item_id = i.id "
                "AND (r.revision < 1 OR r.revision >= i.revision))",
                "items whose revision number does not match their kept revisions",
            ),
        )
        for statement, what in checks:
            count = int(self.query(statement)[0][0])
            if count:
                problems.append(f"{count} {what}")
        return problems

    # --- raw rows (backups, copy_db) -----------------------------------------------------
    @staticmethod
    def _table(table: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        if table not in TABLES:
            raise StoreError(f"unknown table {table!r}; expected one of {', '.join(TABLES)}")
        return TABLES[table], TABLE_KEYS[table]

    def export_rows(self, table: str, *, batch: int = 1000) -> Iterator[list[tuple[Any, ...]]]:
        columns, key = self._table(table)
        if batch < 1:
            raise StoreError(f"batch must be at least 1, not {batch}")
        positions = [columns.index(k) for k in key]
        select = f"SELECT {', '.join(columns)} FROM {table}"
        order = f" ORDER BY {', '.join(key)} LIMIT {int(batch)}"
        # keyset on the primary key: a row value comparison works on both engines
        after = f" WHERE ({', '.join(key)}) > ({', '.join('?' for _ in key)})"
        last: tuple[Any, ...] | None = None
        while True:
            if last is None:
                rows = self.query(select + order)
            else:
                rows = self.query(select + after + order, last)
            page = [tuple(row) for row in rows]
            if page:
                yield page
            if len(page) < batch:
                return
            last = tuple(page[-1][i] for i in positions)

    def import_rows(self, table: str, rows: Sequence[tuple[Any, ...]]) -> None:
        columns, key = self._table(table)
        for row in rows:
            if len(row) != len(columns):
                raise StoreError(
                    f"{table}: a row has {len(row)} values, expected {len(columns)} "
                    f"({', '.join(columns)})"
                )
        if not rows:
            return
        statement = (
            f"INSERT INTO {table} ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' for _ in columns)}) ON CONFLICT ({', '.join(key)}) "
        )
        if table in _REPLACE_ON_IMPORT:
            rest = [c for c in columns if c not in key]
            statement += "DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in rest)
        else:
            statement += "DO NOTHING"
        with self.transaction() as tx:
            tx.executemany((statement), [tuple(row) for row in rows])
            self._after_import(tx.cursor, table)
