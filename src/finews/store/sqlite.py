"""The embedded default: SQLite in WAL mode, one file, safe for several processes."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from finews.errors import StoreError
from finews.store.sql import SqlStore
from finews.store.tables import consistency_problems

__all__ = ["SqliteStore", "sqlite_path"]


def sqlite_path(url: str) -> str:
    """The file path of a ``sqlite:///relative`` or ``sqlite:////absolute`` URL
    (``sqlite:///:memory:`` for an in-memory database)."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        raise StoreError(f"not a SQLite URL: {url!r} (expected sqlite:///path/to/file.db)")
    return url[len(prefix) :] or ":memory:"


class SqliteStore(SqlStore):
    """SQLite backend. Writes take the database lock at ``BEGIN IMMEDIATE`` so concurrent
    writers queue (up to ``busy_timeout``) instead of failing half-way."""

    placeholder = "?"
    engine = "sqlite"
    driver_errors = (sqlite3.Error,)

    def _connect(self) -> Any:
        path = sqlite_path(self.url)
        folder = Path(path).parent
        if path != ":memory:" and not folder.is_dir():
            # never made here: a mistyped path would quietly start an empty archive
            raise StoreError(
                f"cannot open SQLite database {path!r}: the folder {str(folder)!r} does not "
                f"exist; create it first (mkdir -p {folder}) or fix the database URL"
            )
        try:
            conn = sqlite3.connect(
                path, timeout=30.0, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open SQLite database {path!r}: {exc}") from exc
        return _AutocommitConnection(conn)

    def _begin(self, cur: Any) -> None:
        cur.execute("BEGIN IMMEDIATE")

    def _run_script(self, cur: Any, script: str) -> None:
        # executescript() would commit the open transaction; run statement by statement.
        # complete_statement() knows about comments and string literals, so a ';' inside
        # either does not cut a statement in two.
        pending = ""
        for line in script.splitlines(keepends=True):
            pending += line
            if sqlite3.complete_statement(pending):
                cur.execute(pending)
                pending = ""
        if pending.strip() and not _only_comments(pending):
            raise StoreError(f"migration script ends inside a statement: {pending.strip()!r}")

    def integrity_problems(self) -> list[str]:
        rows = self.query("PRAGMA integrity_check")
        problems = [str(r[0]) for r in rows if str(r[0]) != "ok"]
        problems += [f"foreign key: {tuple(r)}" for r in self.query("PRAGMA foreign_key_check")]
        return problems + consistency_problems(self)


def _only_comments(text: str) -> bool:
    return all(not line.strip() or line.strip().startswith("--") for line in text.splitlines())


class _AutocommitConnection:
    """sqlite3 in autocommit mode with explicit BEGIN, shaped like a DB-API connection
    whose ``commit``/``rollback`` end whatever transaction is open."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def cursor(self) -> sqlite3.Cursor:
        return self._conn.cursor()

    def commit(self) -> None:
        if self._conn.in_transaction:
            self._conn.execute("COMMIT")

    def rollback(self) -> None:
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")

    def close(self) -> None:
        self._conn.close()
