"""The change-log wake-up: PostgreSQL NOTIFY at commit, one listener per reader, which
reconnects by itself; nothing on SQLite."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import psycopg
import pytest

from finews.derive import open_store
from finews.store import Store
from finews.store.notify import APPLICATION_NAME, ChangeListener, listen_for_changes
from helpers import make_items

pytestmark = pytest.mark.timeout(60)


async def until(check: Callable[[], bool], seconds: float = 20.0) -> bool:
    """Whether ``check()`` came true within ``seconds``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not check():
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


def listening_sessions(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT COUNT(*) FROM pg_stat_activity "
            "WHERE application_name = %s AND datname = current_database()",
            (APPLICATION_NAME,),
        ).fetchone()
    assert row is not None
    return int(row[0])


def terminate_listeners(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = %s AND datname = current_database()",
            (APPLICATION_NAME,),
        )


def test_sqlite_has_no_listener(sqlite_url: str) -> None:
    async def listener_of(store: Store) -> ChangeListener | None:
        async with listen_for_changes(store) as listener:
            return listener

    with open_store(sqlite_url) as store:
        assert asyncio.run(listener_of(store)) is None


@pytest.mark.postgres
def test_a_commit_to_the_change_log_wakes_the_listener_with_its_newest_seq(pg_url: str) -> None:
    async def scenario(store: Store) -> None:
        async with listen_for_changes(store) as listener:
            assert listener is not None
            assert await listener.wait_connected(20)
            assert await listener.wait(20), "connecting wakes: catch up on earlier commits"
            assert not await listener.wait(0.2), "nothing else happened"
            items = make_items(3)
            await asyncio.to_thread(store.upsert_items, items)
            assert await listener.wait(20)
            assert listener.newest == store.last_change_seq() == 3
            assert listener.received == 1, "one notification per transaction"
            # storing the same items again appends nothing to the log, and says nothing
            result = await asyncio.to_thread(store.upsert_items, items)
            assert result.unchanged == 3
            assert not await listener.wait(0.5)
            assert listener.received == 1
            edited = [items[0].replace(title=items[0].title + "（更新）")]
            await asyncio.to_thread(store.upsert_items, edited)
            assert await listener.wait(20)
            assert listener.newest == store.last_change_seq() == 4

    with open_store(pg_url) as store:
        asyncio.run(scenario(store))
    assert listening_sessions(pg_url) == 0, "the listening connection is closed on exit"


@pytest.mark.postgres
def test_a_lost_listening_connection_is_replaced(pg_url: str) -> None:
    async def scenario(store: Store) -> None:
        async with listen_for_changes(store) as listener:
            assert listener is not None
            assert await listener.wait_connected(20)
            await listener.wait(20)
            await asyncio.to_thread(terminate_listeners, pg_url)
            assert await listener.wait(20), "losing the connection wakes the reader"
            assert await until(lambda: listener.connections == 2 and listener.connected)
            await listener.wait(0)  # the reconnection's own wake-up
            await asyncio.to_thread(store.upsert_items, make_items(2))
            assert await listener.wait(20)
            assert listener.newest == 2

    with open_store(pg_url) as store:
        asyncio.run(scenario(store))


@pytest.mark.postgres
def test_two_listeners_on_one_database_both_wake(pg_url: str) -> None:
    async def scenario(store: Store) -> None:
        async with (
            listen_for_changes(store) as first,
            listen_for_changes(store) as second,
        ):
            assert first is not None
            assert second is not None
            for listener in (first, second):
                assert await listener.wait_connected(20)
                await listener.wait(20)
            await asyncio.to_thread(store.upsert_items, make_items(5))
            woken = await asyncio.gather(first.wait(20), second.wait(20))
            assert list(woken) == [True, True]
            assert first.newest == second.newest == 5

    with open_store(pg_url) as store:
        asyncio.run(scenario(store))
