"""The one implementation of :class:`~finews.store.base.Store`, shared by SQLite and
PostgreSQL: a DB-API connection, its transactions, one-shot reads and versioned migrations.
A backend (:mod:`~finews.store.sqlite`, :mod:`~finews.store.postgres`) only says how to
connect, how its placeholders look, how it locks and how to run a migration script. The
domain methods of the interface each hand the work to the module of their table family.

Every statement is portable SQL written with ``?`` placeholders; driver exceptions are
wrapped in :class:`~finews.errors.StoreError` at the transaction boundary.
"""

from __future__ import annotations

import logging
import threading
from abc import abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from finews.errors import StoreError
from finews.models import Item, RawRecord, SourceState, UpsertResult
from finews.redact import redact
from finews.store import changes, raw, reads, slugs, states, tables
from finews.store.base import Change, ItemQuery, Store, Transaction
from finews.store.items import write_items
from finews.store.stocks import fill_stock_keys
from finews.store.times import to_db_time

__all__ = ["SqlStore"]

log = logging.getLogger("finews.store")

#: the listing of every item (``items()`` without a query)
_EVERY_ITEM = ItemQuery()


class _Broken(StoreError):
    """A savepoint could not be rolled back: the connection, not an item, is at fault."""


class _SqlTransaction(Transaction):
    """A :class:`~finews.store.base.Transaction` on a DB-API cursor of a :class:`SqlStore`."""

    store: SqlStore

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
        self.store._lock_derived(self.cursor)

    def lock_change_log(self) -> None:
        self.store._lock_change_log(self.cursor)

    def notify_changes(self) -> None:
        self.store._notify_changes(self.cursor)


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
    def transaction(self) -> Iterator[_SqlTransaction]:
        with self._lock:
            try:
                cur = self._conn.cursor()
            except self.driver_errors as exc:
                raise self._wrap(exc) from exc
            try:
                self._begin(cur)
                yield _SqlTransaction(self, cur)
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
                fill_stock_keys(tx)
            if 2 in applied:
                # derived_state is new (0002 writes version 1): no derived row of an older
                # rule can exist, so the rows to come are made by the current rules
                for name, version in sorted(self.derived_versions.items()):
                    tx.execute(
                        "UPDATE derived_state SET version = ? WHERE name = ?", (version, name)
                    )
        return applied

    # --- items ---------------------------------------------------------------------------
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
            return write_items(self, items, state, derive, isolate=False)
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
            return write_items(self, items, state, derive, isolate=True)

    def item_fault(self, exc: BaseException) -> bool:
        if isinstance(exc, _Broken):
            return False
        if isinstance(exc, self.driver_errors):
            # DB-API: a lock, a deadlock, a lost connection (OperationalError, InterfaceError,
            # InternalError) is the database's fault, and retried later, never a drop
            names = {kind.__name__ for kind in type(exc).__mro__}
            return not names & {"OperationalError", "InterfaceError", "InternalError"}
        return isinstance(exc, (StoreError, ValueError, OverflowError))

    # --- the domain: each table family's module --------------------------------------------
    def get_item(self, source: str, upstream_id: str) -> Item | None:
        return reads.get_item(self, source, upstream_id)

    def get_item_by_id(self, item_id: int) -> Item | None:
        return reads.get_item_by_id(self, item_id)

    def items(self, query: ItemQuery = _EVERY_ITEM) -> Iterator[Item]:
        return reads.items(self, query)

    def tagged_stocks(self) -> list[str]:
        return reads.tagged_stocks(self)

    def count_items(self, source: str | None = None) -> int:
        return reads.count_items(self, source)

    def known_ids(self, source: str, upstream_ids: Sequence[str]) -> set[str]:
        return reads.known_ids(self, source, upstream_ids)

    def revisions(self, item_id: int) -> list[Item]:
        return reads.revisions(self, item_id)

    def raw_records(
        self, source: str | None = None, since: datetime | None = None
    ) -> Iterator[tuple[Item, RawRecord]]:
        return raw.raw_records(self, source, since)

    def raw_of(self, item_ids: Sequence[int]) -> dict[int, RawRecord]:
        return raw.raw_of(self, item_ids)

    def slug_for_media(self, media: str, proposed: str) -> str:
        return slugs.slug_for_media(self, media, proposed)

    def media_slugs(self) -> dict[str, str]:
        return slugs.media_slugs(self)

    def get_state(self, source: str) -> SourceState:
        return states.get_state(self, source)

    def save_state(self, state: SourceState) -> None:
        states.save_state(self, state)

    def changes_since(self, seq: int, limit: int = 1000) -> list[Change]:
        return changes.changes_since(self, seq, limit)

    def last_change_seq(self) -> int:
        return changes.last_change_seq(self)

    def export_rows(self, table: str, *, batch: int = 1000) -> Iterator[list[tuple[Any, ...]]]:
        return tables.export_rows(self, table, batch=batch)

    def import_rows(self, table: str, rows: Sequence[tuple[Any, ...]]) -> None:
        statement = tables.import_statement(table, rows)
        if not rows:
            return
        with self.transaction() as tx:
            tx.executemany(statement, [tuple(row) for row in rows])
            self._after_import(tx.cursor, table)
