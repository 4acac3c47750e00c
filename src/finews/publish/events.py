"""Live updates: follow the store's change log and push each change to every open page.

One :class:`ChangeFeed` per app polls ``store.changes_since(seq)`` every ``poll_interval``
seconds, so a change written by **any** process sharing the database (a separate
``finews fetch`` included) reaches the pages within a poll. On PostgreSQL it also listens for
the notification every commit to the change log sends (:mod:`finews.store.notify`) and reads
the log as soon as one arrives, polling only every ``listen_interval`` seconds as a safety
net: every web node in front of one database pushes a change at once. Each change becomes one
Server-Sent Event::

    id: <change seq>
    event: item
    data: {"seq": …, "kind": "new", "id": …, "category": …, "html": "<li …>", …}

A client that reconnects with ``Last-Event-ID`` (browsers send it by themselves) first gets
every change after that id, from a buffer of recent events or, further back, from the change
log itself, so nothing is skipped. A client more than ``max_replay`` changes behind gets one
``event: reload`` instead. Idle streams carry a comment every ``heartbeat`` seconds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import anyio.to_thread

from finews.models import Item
from finews.publish.catalog import Catalog
from finews.publish.responses import json_bytes
from finews.publish.site import SiteRenderer, code_digits, watch_text
from finews.publish.urls import article_path, category_of, day_of
from finews.sources.securities import NameMatcher, canonical_stocks
from finews.store import Change, Store
from finews.store.notify import ChangeListener, listen_for_changes

__all__ = ["ChangeFeed", "Event"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Event:
    """One change, ready to send."""

    seq: int
    kind: str
    data: bytes

    def encode(self) -> bytes:
        """The event in the text/event-stream format."""
        return b"id: %d\nevent: item\ndata: %s\n\n" % (self.seq, self.data)


class ChangeFeed:
    """The change-log poller and the fan-out to connected clients."""

    #: seconds between polls while a database notification wakes the poller anyway
    listen_interval: float = 2.0

    def __init__(
        self,
        store: Store,
        catalog: Catalog,
        renderer: SiteRenderer,
        *,
        poll_interval: float = 0.25,
        heartbeat: float = 15.0,
        buffer_size: int = 2000,
        max_replay: int = 5000,
        queue_size: int = 1000,
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.renderer = renderer
        self.poll_interval = poll_interval
        self.heartbeat = heartbeat
        self.max_replay = max_replay
        self.queue_size = queue_size
        #: the newest change this process has seen and pushed
        self.head = catalog.seq
        #: when the newest change was seen (what Last-Modified says of every page)
        self.changed_at = datetime.now(UTC).replace(microsecond=0)
        self._position = self.head  # where the poller reads next (ahead of head while it works)
        self._buffer: deque[Event] = deque(maxlen=buffer_size)
        self._floor = self.head  # the buffer holds every event after this seq
        self._queues: set[asyncio.Queue[Event | None]] = set()
        #: the database's wake-up, while :meth:`run` runs on PostgreSQL
        self.listener: ChangeListener | None = None
        #: the directory of names the matcher of :meth:`_names` was built from, and it
        self._matcher: tuple[dict[str, str], NameMatcher] | None = None

    # --- the poller --------------------------------------------------------------------------
    async def run(self) -> None:
        """Poll until cancelled; a failing poll is logged and retried, never fatal."""
        async with listen_for_changes(self.store) as listener:
            self.listener = listener
            try:
                await self._follow()
            finally:
                self.listener = None

    async def _follow(self) -> None:
        failures = 0
        while True:
            try:
                events, position, more = await anyio.to_thread.run_sync(self._poll)
                failures = 0
            except Exception:
                failures += 1
                log.exception("polling the change log failed (attempt %d); retrying", failures)
                await asyncio.sleep(min(5.0, self.poll_interval * 2**failures))
                continue
            for event in events:
                self._publish(event)
            if position != self.head:
                # head moves only here, in the event loop, after the events are out: a
                # client starting at head then misses nothing
                self.head = position
                self.changed_at = datetime.now(UTC).replace(microsecond=0)
            if not more:
                await self._idle()

    async def _idle(self) -> None:
        """Wait for the next poll: a notification ends the wait at once; the timer is the
        safety net (and all there is on SQLite, or while the listener reconnects)."""
        listener = self.listener
        if listener is None:
            await asyncio.sleep(self.poll_interval)
        else:
            await listener.wait(self.listen_interval if listener.connected else self.poll_interval)

    def _poll(self) -> tuple[list[Event], int, bool]:
        changes = self.store.changes_since(self._position, 500)
        if not changes:
            return [], self._position, False
        # the pages the change touched are rendered when asked: no other report is needed
        affected = self.catalog.apply(self.store, changes, reports=False)
        items: dict[int | None, Item] = {item.id: item for item in affected.items}
        events = self._events(changes, items)
        self._position = changes[-1].seq
        return events, self._position, len(changes) == 500

    def _events(self, changes: Sequence[Change], items: dict[int | None, Item]) -> list[Event]:
        events = []
        for change in changes:
            item = items.get(change.item_id)
            if item is not None:
                events.append(
                    Event(change.seq, change.kind, json_bytes(self.describe(change, item)))
                )
        return events

    def _names(self) -> NameMatcher:
        """The matcher of the directory's names, built again when the directory changed."""
        names = self.renderer.names() if self.renderer.names is not None else {}
        held = self._matcher
        if held is None or held[0] != names:
            held = self._matcher = (dict(names), NameMatcher(names))
        return held[1]

    def describe(self, change: Change, item: Item) -> dict[str, Any]:
        """What a page needs to show a changed item: where it goes, and its row."""
        return {
            "seq": change.seq,
            "kind": change.kind,
            "id": item.id,
            "source": item.source,
            "category": category_of(item),
            "day": day_of(item).isoformat(),
            "importance": item.importance,
            "title": item.title,
            "published_at": item.published_at.isoformat(),
            "url": self.renderer.settings.url(article_path(item)),
            "html": self.renderer.row(item).strip(),
            # for a security's page: the securities the upstream tagged, and the codes its
            # title and digest name (runs of 5 or 6 digits: Hong Kong and mainland codes)
            "stocks": list(canonical_stocks(item.stocks)),
            "mentions": code_digits(f"{item.title} {item.digest}"),
            # and the securities they name by a known name (as derive/mentions.py finds
            # them, which may not have read the item yet)
            "named": sorted(self._names().codes(item.title, item.digest)),
            # for the 自选 page: the text a reader's keywords are matched against
            "text": watch_text(item),
        }

    def _publish(self, event: Event) -> None:
        if len(self._buffer) == self._buffer.maxlen:
            self._floor = self._buffer[0].seq
        self._buffer.append(event)
        for queue in list(self._queues):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                # a client this far behind reconnects and catches up with Last-Event-ID
                _drain(queue)
                queue.put_nowait(None)

    def close(self) -> None:
        """End every open stream (clients reconnect to the next server)."""
        for queue in list(self._queues):
            _drain(queue)
            queue.put_nowait(None)

    # --- one client ----------------------------------------------------------------------------
    async def stream(self, last_id: int | None) -> AsyncIterator[bytes]:
        """The event stream of one client that has seen every change up to ``last_id``
        (``None``: a new client, which starts from now)."""
        queue: asyncio.Queue[Event | None] = asyncio.Queue(self.queue_size)
        self._queues.add(queue)
        try:
            yield b"retry: 1000\n\n"
            upto = self.head
            sent = upto if last_id is None else last_id
            if sent < upto:
                replay = await self._replay(sent, upto)
                if replay is None:
                    yield b"event: reload\ndata: {}\n\n"
                    return
                for old in replay:
                    yield old.encode()
                sent = upto
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), self.heartbeat)
                except TimeoutError:
                    yield b": ping\n\n"
                    continue
                if event is None:
                    return
                if event.seq > sent:
                    yield event.encode()
                    sent = event.seq
        finally:
            self._queues.discard(queue)

    async def _replay(self, after: int, upto: int) -> list[Event] | None:
        """Every event in ``(after, upto]``, or ``None`` when there are too many."""
        if after >= self._floor:
            return [event for event in self._buffer if after < event.seq <= upto]
        return await anyio.to_thread.run_sync(self._replay_from_store, after, upto)

    def _replay_from_store(self, after: int, upto: int) -> list[Event] | None:
        if upto - after > self.max_replay * 4:  # seqs may have gaps, but not this many
            return None
        events: list[Event] = []
        position = after
        started = time.monotonic()
        while position < upto:
            changes = [c for c in self.store.changes_since(position, 500) if c.seq <= upto]
            if not changes:
                break
            items: dict[int | None, Item] = {}
            for item_id in {c.item_id for c in changes}:
                item = self.store.get_item_by_id(item_id)
                if item is not None:
                    items[item.id] = item
            events += self._events(changes, items)
            position = changes[-1].seq
            if len(events) > self.max_replay or time.monotonic() - started > 5.0:
                return None
        return events


def _drain(queue: asyncio.Queue[Event | None]) -> None:
    while not queue.empty():
        queue.get_nowait()
