"""Minimum spacing between requests to one host: politeness on top of the HTTP client's
per-host concurrency limit.

:class:`HostPacing` wraps the transport :class:`~finews.fetch.client.HttpClient` sends
through (its public ``transport`` parameter), so every attempt, retry and fallback of a
long-running daemon is paced alike. It only delays requests; connections are still the
wrapped transport's.
"""

from __future__ import annotations

import asyncio

import httpx

__all__ = ["HostPacing"]


class HostPacing(httpx.AsyncBaseTransport):
    """Starts requests to the same host and port at least ``spacing`` seconds apart.

    One instance belongs to one event loop. ``spacing`` 0 passes requests straight through.
    """

    def __init__(self, spacing: float, inner: httpx.AsyncBaseTransport | None = None) -> None:
        if spacing < 0:
            raise ValueError(f"spacing must be 0 or more seconds, not {spacing!r}")
        self.spacing = spacing
        self._inner = inner if inner is not None else httpx.AsyncHTTPTransport()
        self._locks: dict[tuple[str, int | None], asyncio.Lock] = {}
        self._last: dict[tuple[str, int | None], float] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Wait for the host's turn, then send through the wrapped transport."""
        if self.spacing > 0:
            key = (request.url.host, request.url.port)
            lock = self._locks.setdefault(key, asyncio.Lock())
            loop = asyncio.get_running_loop()
            # the lock makes waiters take turns; it is held only while waiting, not sending
            async with lock:
                last = self._last.get(key)
                if last is not None:
                    wait = last + self.spacing - loop.time()
                    if wait > 0:
                        await asyncio.sleep(wait)
                self._last[key] = loop.time()
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        """Close the wrapped transport's connections."""
        await self._inner.aclose()
