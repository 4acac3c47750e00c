"""Backup and restore as docs/deploy.md tells them, on both engines: back up, wipe,
restore, and the archive is the same (row counts and the checksum `finews copy-db`
verifies with), and new items carry on after the restored ones.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import sql

from finews.derive import open_store
from finews.derive.copy import store_checksum
from finews.store import Store
from helpers import make_item
from site_data import fill, later_items, site_items

pytestmark = pytest.mark.slow


def snapshot(store: Store) -> tuple[str, int, int]:
    """What must survive: the copy-db checksum over every table, items, change log."""
    return store_checksum(store), store.count_items(), store.last_change_seq()


def carries_on(store: Store, before: tuple[str, int, int]) -> None:
    """A new item after the restore continues the ids and the change log."""
    store.upsert_items([make_item(upstream_id="after-restore")])
    assert store.count_items() == before[1] + 1
    assert store.last_change_seq() > before[2]


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed")
    return found


def test_sqlite_backup_wipe_restore(tmp_path: Path) -> None:
    sqlite3 = tool("sqlite3")
    live = tmp_path / "var-lib-finews" / "finews.db"
    live.parent.mkdir()
    backups = tmp_path / "backups"
    backups.mkdir()
    with open_store(f"sqlite:///{live}") as store:
        fill(store, site_items() + later_items())
        before = snapshot(store)
        # both commands of docs/deploy.md, while the store is open (WAL, as finews runs)
        subprocess.run([sqlite3, str(live), f".backup '{backups / 'a.db'}'"], check=True)
        subprocess.run([sqlite3, str(live), f"VACUUM INTO '{backups / 'b.db'}'"], check=True)
    for backup in ("a.db", "b.db"):
        check = subprocess.run(
            [sqlite3, str(backups / backup), "PRAGMA integrity_check"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert check.stdout.strip() == "ok"
        # wipe, then restore: remove -wal/-shm, put the backup in place
        for suffix in ("", "-wal", "-shm"):
            Path(f"{live}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(backups / backup, live)
        with open_store(f"sqlite:///{live}") as restored:
            assert snapshot(restored) == before
            carries_on(restored, before)


@pytest.mark.postgres
def test_postgresql_dump_wipe_restore(pg_url: str, tmp_path: Path) -> None:
    pg_dump, pg_restore = tool("pg_dump"), tool("pg_restore")
    dump = tmp_path / "finews.dump"
    with open_store(pg_url) as store:
        fill(store, site_items() + later_items())
        before = snapshot(store)
    subprocess.run([pg_dump, "--format=custom", f"--file={dump}", pg_url], check=True)
    # wipe: the original database is gone
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
    with open_store(pg_url, migrate=False) as wiped, pytest.raises(Exception, match="items"):
        wiped.count_items()
    # restore into a new database, as docs/deploy.md does
    name = f"finews_restored_{secrets.token_hex(4)}"
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(
                sql.Identifier(name)
            )
        )
    restored_url = urlsplit(pg_url)._replace(path=f"/{name}").geturl()
    try:
        subprocess.run(
            [pg_restore, "--no-owner", f"--dbname={restored_url}", str(dump)], check=True
        )
        with open_store(restored_url) as restored:
            assert snapshot(restored) == before
            carries_on(restored, before)
    finally:
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
