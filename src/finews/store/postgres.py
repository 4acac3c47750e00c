"""PostgreSQL backend (psycopg 3): the same SQL as SQLite, ``%s`` placeholders."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg

from finews.errors import StoreError
from finews.redact import redact
from finews.store.notify import CHANNEL
from finews.store.sql import SqlStore
from finews.store.tables import consistency_problems

__all__ = ["PostgresStore"]


class PostgresStore(SqlStore):
    """PostgreSQL backend. Migrations run under an advisory lock so that several workers
    starting at once apply each script exactly once."""

    placeholder = "%s"
    engine = "postgres"
    driver_errors = (psycopg.Error,)
    row_lock_clause = " FOR UPDATE"

    def _connect(self) -> Any:
        return _ReconnectingConnection(self._open)

    def _open(self) -> psycopg.Connection[Any]:
        try:
            return psycopg.connect(self.url, autocommit=False)
        except psycopg.Error as exc:
            raise StoreError(
                f"cannot connect to PostgreSQL at {redact(self.url)!r}: {redact(str(exc))}. "
                "Is the server running, and does the database exist?"
            ) from exc

    def _lock_migrations(self, cur: Any) -> None:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))

    def _lock_change_log(self, cur: Any) -> None:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_CHANGE_LOG_LOCK,))

    def _lock_derived(self, cur: Any) -> None:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_DERIVE_LOCK,))

    def _notify_changes(self, cur: Any) -> None:
        # currval: the last seq this session drew, i.e. the newest row of this transaction.
        # PostgreSQL delivers the notification only after the commit, so a listener that
        # wakes on it always finds the rows visible.
        cur.execute(
            "SELECT pg_notify(%s, currval(pg_get_serial_sequence('changes', 'seq'))::text)",
            (CHANNEL,),
        )

    def _after_import(self, cur: Any, table: str) -> None:
        # rows written with explicit ids leave the identity sequence behind them
        column = {"items": "id", "changes": "seq", "alert_outbox": "id"}.get(table)
        if column is None:
            return
        cur.execute(
            f"SELECT setval(q.s, GREATEST((SELECT MAX({column}) FROM {table}), "
            "pg_sequence_last_value(q.s))) "
            "FROM (SELECT pg_get_serial_sequence(%s, %s)::regclass AS s) q",
            (table, column),
        )

    def _run_script(self, cur: Any, script: str) -> None:
        cur.execute(script)

    def integrity_problems(self) -> list[str]:
        return consistency_problems(self)


class _ReconnectingConnection:
    """The psycopg connection, replaced by a new one once it broke (a server restart, a
    failover, a killed backend): the statement that met the break fails with its
    transaction, and the next transaction opens a new connection, so a long-running
    ``finews serve`` or ``finews run`` outlives its database's restarts."""

    def __init__(self, open_connection: Callable[[], psycopg.Connection[Any]]) -> None:
        self._open = open_connection
        self._conn = open_connection()

    def cursor(self) -> psycopg.Cursor[Any]:
        if self._conn.closed:
            self._conn = self._open()
        return self._conn.cursor()

    def commit(self) -> None:
        self._conn.commit()

    def rollback(self) -> None:
        self._conn.rollback()

    def close(self) -> None:
        self._conn.close()


#: advisory lock keys (``finews``, ``fnchgs`` and ``fndrvd`` in ASCII)
_MIGRATION_LOCK = 0x66696E657773
_CHANGE_LOG_LOCK = 0x666E63686773
_DERIVE_LOCK = 0x666E64727664
