"""Wake-ups from the database: PostgreSQL ``LISTEN``/``NOTIFY`` on the change log.

On PostgreSQL every transaction that appends to ``changes`` also sends
``NOTIFY finews_changes, '<its newest seq>'`` (``PostgresStore._notify_changes``), which the
server delivers to every listening session right after the commit. A reader of the change
log, such as the live site's :class:`~finews.publish.events.ChangeFeed` on each of several
web nodes, holds a :class:`ChangeListener` (through :func:`listen_for_changes`) and reads the
log as soon as a notification arrives, instead of at its next poll.

A notification is only a wake-up, never data: the reader still reads the rows with
``changes_since(position)``, so order and completeness come from the log alone. A lost
notification (the listening connection dropped, the server restarted, a row written by
something that does not notify) costs latency, never an event, because the reader keeps
polling on a slow timer as a safety net, and on a fast one while the listener is
disconnected. The listener reconnects by itself with backoff, and wakes its reader on every
(re)connection: what was committed while nobody listened sent no notification to hear.

SQLite has nothing of the kind: :func:`listen_for_changes` yields ``None`` and readers poll.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from finews.redact import redact
from finews.store.base import Store

__all__ = ["CHANNEL", "ChangeListener", "listen_for_changes"]

log = logging.getLogger(__name__)

#: the notification channel; the payload is the newest change-log seq of the transaction
CHANNEL = "finews_changes"

#: what the listening session calls itself in ``pg_stat_activity``
APPLICATION_NAME = "finews-listen"


class ChangeListener:
    """A dedicated autocommit connection that ``LISTEN``s on :data:`CHANNEL` in a background
    task and wakes one waiter. Start it with :meth:`start` inside a running event loop."""

    def __init__(
        self, url: str, *, retry_delay: float = 0.5, max_retry_delay: float = 30.0
    ) -> None:
        self.url = url
        self.retry_delay = retry_delay
        self.max_retry_delay = max_retry_delay
        #: the newest sequence number a notification announced (0: none yet)
        self.newest = 0
        #: how many notifications arrived
        self.received = 0
        #: how many times the LISTEN was (re)established
        self.connections = 0
        self._connected = asyncio.Event()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def connected(self) -> bool:
        """Whether the ``LISTEN`` is in place (while not, a reader should poll often)."""
        return self._connected.is_set()

    def start(self) -> None:
        """Connect and listen in a background task (reconnecting until :meth:`close`)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="finews-change-listener")

    async def wait_connected(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the ``LISTEN`` to be in place."""
        with suppress(TimeoutError):
            await asyncio.wait_for(self._connected.wait(), timeout)
        return self.connected

    async def wait(self, timeout: float) -> bool:
        """Wait until a notification (or a reconnection) arrives, or ``timeout`` seconds
        pass; ``True`` when woken. Whatever woke it is consumed: a notification that comes
        while the caller then reads the log wakes the next ``wait`` at once, so a commit is
        never left unread."""
        try:
            await asyncio.wait_for(self._wake.wait(), timeout)
        except TimeoutError:
            return False
        finally:
            self._wake.clear()
        return True

    async def close(self) -> None:
        """Stop listening and close the connection."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
        self._connected.clear()

    async def _run(self) -> None:
        # here, not at the top: the live site imports this module on SQLite too, where
        # psycopg (the ``postgres`` extra) may not be installed
        import psycopg

        delay = self.retry_delay
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(
                    self.url,
                    autocommit=True,
                    application_name=APPLICATION_NAME,
                    connect_timeout=10,
                    # a peer that vanished without a FIN is noticed within about a minute
                    keepalives=1,
                    keepalives_idle=30,
                    keepalives_interval=10,
                    keepalives_count=3,
                )
                async with conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self.connections += 1
                    self._connected.set()
                    self._wake.set()
                    delay = self.retry_delay
                    async for note in conn.notifies():
                        self._receive(note.payload)
                # notifies() only ends when the connection does
                raise psycopg.OperationalError("the listening connection closed")
            except Exception as exc:  # whatever broke the connection, listen again
                log.warning(
                    "listening for changes on %s failed: %s; retrying in %.1fs "
                    "(live pages poll meanwhile)",
                    redact(self.url),
                    exc,
                    delay,
                )
            self._connected.clear()
            self._wake.set()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_retry_delay)

    def _receive(self, payload: str) -> None:
        self.received += 1
        with suppress(ValueError):
            self.newest = max(self.newest, int(payload))
        self._wake.set()


def _postgres_url(store: Store) -> str | None:
    if store.url.startswith(("postgresql:", "postgres:")):
        return store.url
    return None


@asynccontextmanager
async def listen_for_changes(store: Store) -> AsyncIterator[ChangeListener | None]:
    """A started :class:`ChangeListener` on ``store``'s database, closed on exit; ``None``
    when the engine cannot notify (SQLite)."""
    url = _postgres_url(store)
    if url is None:
        yield None
        return
    listener = ChangeListener(url)
    listener.start()
    try:
        yield listener
    finally:
        await listener.close()
