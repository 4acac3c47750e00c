"""The HTTP client: the one place finews talks to the network.

Every GET an adapter builds goes through :class:`HttpClient`, which adds the hygiene the
original scripts lacked: a deadline per attempt, a user agent, a body-size cap enforced while
streaming, bounded retries with exponential backoff and ``Retry-After``, a concurrency limit
per host, and failover to an adapter's ``fallback_urls``. Every failure is raised as a
:class:`~finews.errors.FetchError` carrying the URL and the source id.

A request carrying ``If-None-Match`` or ``If-Modified-Since`` (see ``fetch.conditional``)
takes a 304 as a success with ``Response.not_modified``. A ``guarded`` request goes through
a second, separate connection pool whose every connection is checked by ``fetch.guard``
(no private, loopback or link-local address, redirects included), unless
``allow_private_addresses`` is set.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from types import MappingProxyType, TracebackType

import httpx

from finews.errors import (
    BodyTooLargeError,
    ConfigError,
    FetchError,
    StatusFetchError,
    TimeoutFetchError,
)
from finews.fetch.guard import AddressGuard, AddressRefusedError, GuardedTransport
from finews.sources.base import Request

__all__ = ["HttpClient", "HttpSettings", "Response"]


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """How :class:`HttpClient` behaves.

    ``timeout`` bounds each attempt as a whole (connect through the last body byte), so a
    server trickling bytes cannot hold a poll. ``retries`` counts the extra attempts after
    the first for retryable errors; the wait before retry *n* (from 0) is
    ``backoff * 2**n``, at least the server's ``Retry-After``, never above ``backoff_cap``.
    ``allow_private_addresses`` lets ``guarded`` requests reach any address.
    """

    timeout: float = 10.0
    user_agent: str = "finews/0.1 (+https://github.com/finews)"
    max_body_bytes: int = 8_000_000
    retries: int = 2
    backoff: float = 0.5
    backoff_cap: float = 30.0
    per_host_concurrency: int = 2
    allow_private_addresses: bool = False

    def __post_init__(self) -> None:
        # Fail at start-up, not as a hang (a zero-slot semaphore) or a crash mid-poll.
        for name in ("timeout", "max_body_bytes", "per_host_concurrency"):
            if not getattr(self, name) > 0:
                raise ConfigError(name, getattr(self, name), "must be greater than 0")
        for name in ("retries", "backoff", "backoff_cap"):
            if not getattr(self, name) >= 0:
                raise ConfigError(name, getattr(self, name), "must be 0 or more")


@dataclass(frozen=True, slots=True)
class Response:
    """A successful (2xx) reply: final URL, status, headers (names lower-case) and body.

    ``not_modified`` is true for a 304 to a conditional request: nothing changed since the
    validators it sent, and ``body`` is empty."""

    url: str
    status: int
    headers: Mapping[str, str]
    body: bytes
    not_modified: bool = False


class HttpClient:
    """An async HTTP client for adapter :class:`~finews.sources.base.Request` objects.

    Use it as ``async with HttpClient(settings) as client: await client.get(request)``, or
    call :meth:`aclose` when done. One instance belongs to one event loop. ``transport``
    carries ordinary requests; ``guarded`` ones always use a
    :class:`~finews.fetch.guard.GuardedTransport` with ``guard`` (default policy if
    ``None``), never ``transport``, so that no wrapper can bypass the check.
    """

    def __init__(
        self,
        settings: HttpSettings | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        guard: AddressGuard | None = None,
    ) -> None:
        self.settings = settings if settings is not None else HttpSettings()
        self._client = self._new_client(transport)
        self._guard = guard
        self._guarded: httpx.AsyncClient | None = None
        self._host_slots: dict[tuple[str, int | None], asyncio.Semaphore] = {}

    def _new_client(self, transport: httpx.AsyncBaseTransport | None) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            timeout=httpx.Timeout(self.settings.timeout),
            headers={"User-Agent": self.settings.user_agent},
            follow_redirects=True,
            max_redirects=5,
            transport=transport,
        )

    def _client_for(self, request: Request) -> httpx.AsyncClient:
        if not request.guarded or self.settings.allow_private_addresses:
            return self._client
        if self._guarded is None:
            self._guarded = self._new_client(GuardedTransport(self._guard))
        return self._guarded

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self._client.aclose()
        if self._guarded is not None:
            await self._guarded.aclose()

    async def get(self, request: Request, *, source: str = "") -> Response:
        """Send ``request`` and return its 2xx reply.

        The primary URL is tried with retries first, then each fallback URL in order (with
        the same params and headers). Raises the last :class:`FetchError` when all fail,
        its message naming each URL tried and how it failed.
        """
        failures: list[FetchError] = []
        for url in (request.url, *request.fallback_urls):
            try:
                return await self._get_with_retries(url, request, source)
            except FetchError as exc:
                failures.append(exc)
        last = failures[-1]  # the loop ran at least once: request.url is always there
        if len(failures) > 1:
            # one message naming every URL tried, not only the last fallback's
            prefix = f"[{source}] " if source else ""
            tried = "; then ".join(str(f).removeprefix(prefix) for f in failures)
            last.args = (f"{prefix}every URL failed: {tried}",)
        raise last

    async def _get_with_retries(self, url: str, request: Request, source: str) -> Response:
        attempt = 0
        while True:
            try:
                return await self._attempt(url, request, source)
            except FetchError as exc:
                if not exc.retryable or attempt >= self.settings.retries:
                    raise
                # Sleep outside the host slot so a backing-off request does not block others.
                await asyncio.sleep(self._delay(attempt, exc))
                attempt += 1

    def _delay(self, attempt: int, exc: FetchError) -> float:
        wait = self.settings.backoff * 2.0**attempt
        if isinstance(exc, StatusFetchError) and exc.retry_after is not None:
            wait = max(wait, exc.retry_after)
        return min(wait, self.settings.backoff_cap)

    def _slot(self, url: httpx.URL) -> asyncio.Semaphore:
        key = (url.host, url.port)
        slot = self._host_slots.get(key)
        if slot is None:
            slot = self._host_slots[key] = asyncio.Semaphore(self.settings.per_host_concurrency)
        return slot

    async def _attempt(self, url: str, request: Request, source: str) -> Response:
        try:
            # Merge rather than replace: a configured URL may carry its own query string.
            full_url = httpx.URL(url).copy_merge_params(dict(request.params))
        except (httpx.InvalidURL, TypeError, ValueError) as exc:
            raise FetchError(f"invalid URL: {exc}", url=url, source=source) from exc
        shown = str(full_url)
        async with self._slot(full_url):
            try:
                async with asyncio.timeout(self.settings.timeout):
                    return await self._exchange(full_url, request, shown, source)
            except AddressRefusedError as exc:
                # raised deep in the connection, which knows neither the URL nor the source
                raise AddressRefusedError(
                    str(exc), host=exc.host, address=exc.address, url=shown, source=source
                ) from exc
            except TimeoutError as exc:
                raise TimeoutFetchError(
                    f"no complete answer within {self.settings.timeout:g} s",
                    url=shown,
                    source=source,
                ) from exc
            except httpx.TimeoutException as exc:
                raise TimeoutFetchError(
                    _describe("timed out", exc), url=shown, source=source
                ) from exc
            except httpx.UnsupportedProtocol as exc:
                raise FetchError(
                    _describe("unsupported URL", exc), url=shown, source=source
                ) from exc
            except httpx.TransportError as exc:
                error = FetchError(_describe("connection failed", exc), url=shown, source=source)
                error.retryable = True  # refused, reset or broken connections are often transient
                raise error from exc
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                raise FetchError(
                    _describe("request failed", exc), url=shown, source=source
                ) from exc

    async def _exchange(
        self, url: httpx.URL, request: Request, shown: str, source: str
    ) -> Response:
        cap = self.settings.max_body_bytes
        client = self._client_for(request)
        sent = client.build_request("GET", url, headers=dict(request.headers))
        reply = await client.send(sent, stream=True)
        try:
            if reply.status_code == 304 and _is_conditional(request):
                return Response(
                    url=str(reply.url),
                    status=304,
                    headers=MappingProxyType(dict(reply.headers.items())),
                    body=b"",
                    not_modified=True,
                )
            if not 200 <= reply.status_code < 300:
                raise StatusFetchError(
                    reply.status_code,
                    url=shown,
                    source=source,
                    retry_after=retry_after_seconds(reply.headers.get("retry-after")),
                )
            declared = reply.headers.get("content-length", "")
            # isascii(): str.isdigit() also accepts "²", which int() refuses.
            if declared.isascii() and declared.isdigit() and int(declared) > cap:
                raise BodyTooLargeError(
                    f"Content-Length {declared} is above the {cap} byte cap",
                    url=shown,
                    source=source,
                )
            chunks: list[bytes] = []
            size = 0
            async for chunk in reply.aiter_bytes():
                size += len(chunk)
                if size > cap:
                    # Stop reading here: closing the stream drops the rest of the body.
                    raise BodyTooLargeError(
                        f"body passed the {cap} byte cap", url=shown, source=source
                    )
                chunks.append(chunk)
        finally:
            await reply.aclose()
        return Response(
            url=str(reply.url),
            status=reply.status_code,
            headers=MappingProxyType(dict(reply.headers.items())),
            body=b"".join(chunks),
        )


def _is_conditional(request: Request) -> bool:
    # A 304 is only an answer to a question we asked; unasked, it is an upstream fault.
    names = {name.lower() for name in request.headers}
    return "if-none-match" in names or "if-modified-since" in names


def _describe(what: str, exc: Exception) -> str:
    detail = str(exc)
    return (
        f"{what} ({type(exc).__name__}: {detail})" if detail else f"{what} ({type(exc).__name__})"
    )


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delay seconds or an HTTP date).

    Returns ``None`` when absent or unreadable, and never a negative number. Fractional
    seconds are accepted although the RFC only allows integers.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # "-0000" means UTC with unknown origin
            when = when.replace(tzinfo=UTC)
        current = time.time() if now is None else now
        seconds = when.timestamp() - current
    if seconds != seconds or seconds == float("inf"):  # NaN or infinite: unusable
        return None
    return max(0.0, seconds)
