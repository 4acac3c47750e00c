"""Fixtures for every test: databases on both engines, each test with its own.

- ``sqlite_url``: ``sqlite:///`` URL of a new file under ``tmp_path`` (not created yet).
- ``pg_url``: URL of a new, empty PostgreSQL database made for this test and dropped after it
  (server from ``FINEWS_TEST_PG_URL``, default ``postgresql://postgres@127.0.0.1:5432/test``).
  When the server is unreachable the test is skipped, or fails if
  ``FINEWS_REQUIRE_POSTGRES=1``. Mark tests that use it ``@pytest.mark.postgres``.
- ``db_url``: parametrized: ``sqlite_url``, then ``pg_url`` (marked ``postgres``).
- ``store``: an open, migrated store on ``db_url``, closed after the test.

Item builders live in ``helpers.py`` (``from helpers import make_item``).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import sql

from finews.derive import open_store
from finews.redact import redact
from finews.store import Store
from helpers import OFFLINE_SOURCES_ENV

# Tests never reach the internet: a source on by default that the demo upstream does not
# serve (sina_zhibo, ths, wallstreetcn, jin10) is off for every command a test runs, in
# process or as a subprocess that inherits this environment, unless the test points it at
# a loopback upstream itself.
for _name, _value in OFFLINE_SOURCES_ENV.items():
    os.environ.setdefault(_name, _value)

PG_URL_ENV = "FINEWS_TEST_PG_URL"
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


def _server_url() -> str:
    return os.environ.get(PG_URL_ENV) or DEFAULT_PG_URL


def _pg_unavailable(reason: str) -> NoReturn:
    message = f"PostgreSQL not reachable at {redact(_server_url())}: {reason}; set {PG_URL_ENV}"
    if os.environ.get("FINEWS_REQUIRE_POSTGRES") == "1":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def _pg_server() -> str | None:
    """None when the server answers, else why not (asked once per session)."""
    try:
        with psycopg.connect(_server_url(), connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return str(exc).strip() or type(exc).__name__
    return None


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """URL of a fresh SQLite file for this test."""
    return f"sqlite:///{tmp_path / 'finews.db'}"


@pytest.fixture
def pg_url(_pg_server: str | None) -> Iterator[str]:
    """URL of a fresh PostgreSQL database for this test, dropped afterwards."""
    if _pg_server is not None:
        _pg_unavailable(_pg_server)
    name = f"finews_test_{secrets.token_hex(6)}"
    try:
        with psycopg.connect(_server_url(), autocommit=True, connect_timeout=5) as admin:
            # template0 + UTF8: Chinese text round-trips whatever the server's default is
            admin.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(
                    sql.Identifier(name)
                )
            )
    except psycopg.Error as exc:
        _pg_unavailable(f"cannot create a test database: {exc}")
    yield urlsplit(_server_url())._replace(path=f"/{name}").geturl()
    with psycopg.connect(_server_url(), autocommit=True, connect_timeout=5) as admin:
        # FORCE: a test that leaked a connection must not leave its database behind
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """A fresh database on each engine in turn."""
    fixture = "sqlite_url" if request.param == "sqlite" else "pg_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """An open, migrated store on each engine in turn."""
    opened = open_store(db_url)
    try:
        yield opened
    finally:
        opened.close()
