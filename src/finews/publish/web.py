"""The live site: a Starlette app serving every page, feed and API route from the store, and
pushing new items to open pages (``/events``, see :mod:`.events`).

The app opens one store when it starts, reads the catalog of listings once (one pass over the
items), then follows the change log. Pages are rendered by the same :class:`~.pages.Pages` the
static build uses, in worker threads, and kept until the next change. Every response carries
the security headers of :mod:`.responses`; pages, feeds and the API carry ETag and
Last-Modified and answer 304; everything but the event stream is gzipped on request.

Serve it with :func:`serve` (or uvicorn with ``timeout_graceful_shutdown`` set, since event
streams stay open until the server ends them).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
from collections import OrderedDict
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from datetime import UTC, date, datetime
from types import FrameType
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Mount, Route

from finews.publish import api, health, search_routes
from finews.publish.build_pool import can_fork, die_with_parent
from finews.publish.catalog import Catalog
from finews.publish.events import ChangeFeed
from finews.publish.feeds import FEED_TYPES
from finews.publish.hot import this_minute
from finews.publish.pages import Pages
from finews.publish.responses import (
    SECURITY_HEADERS,
    SecurityHeaders,
    conditional,
    json_error,
)
from finews.publish.settings import SiteSettings
from finews.publish.site import SiteRenderer
from finews.publish.urls import (
    Article,
    Asset,
    DayIndex,
    Feed,
    Home,
    Hot,
    ListingFeed,
    ListingPage,
    Stock,
    StockFeed,
    Story,
    Subscribe,
    Target,
    Watch,
    article_path,
    resolve,
    stock_page_path,
    stock_path,
)
from finews.sources.securities import security
from finews.store import Store, open_store

__all__ = ["LiveSite", "create_app", "serve"]

log = logging.getLogger(__name__)

_HTML = "text/html; charset=utf-8"
_ASSET_TYPES = {
    "site.css": "text/css; charset=utf-8",
    "site.js": "text/javascript; charset=utf-8",
    "feed.xsl": "text/xsl; charset=utf-8",
    "manifest.webmanifest": "application/manifest+json; charset=utf-8",
    "icon.svg": "image/svg+xml",
    "icon-192.png": "image/png",
    "icon-512.png": "image/png",
    "apple-touch-icon.png": "image/png",
    "sw.js": "text/javascript; charset=utf-8",
}
_DATE_IN_PATH = re.compile(r"(\d{4})[/-](\d{2})[/-](\d{2})")
_CACHE_SIZE = 256


class LiveSite:
    """What one running app holds: its store, catalog, pages, change feed and page cache."""

    def __init__(
        self,
        store: Store,
        settings: SiteSettings,
        catalog: Catalog,
        *,
        sources: Sequence[tuple[str, str]] = (),
        disabled: Collection[str] = (),
        poll_interval: float = 0.25,
        heartbeat: float = 15.0,
    ) -> None:
        self.store = store
        self.settings = settings
        self.catalog = catalog
        self.renderer = SiteRenderer(settings, live=True)
        self.pages = Pages(store, catalog, self.renderer)
        self.changes = ChangeFeed(
            store, catalog, self.renderer, poll_interval=poll_interval, heartbeat=heartbeat
        )
        self.started = datetime.now(UTC).replace(microsecond=0)
        self._sources = dict(sources)
        self._disabled = frozenset(disabled)
        self._cache: OrderedDict[tuple[str, str], tuple[int, int, bytes, str]] = OrderedDict()

    def source_names(self) -> Mapping[str, str]:
        """The configured sources, id → display name."""
        return self._sources

    def disabled_sources(self) -> Collection[str]:
        """The configured sources that are switched off."""
        return self._disabled

    def last_modified(self) -> datetime:
        """When the data last changed (as far as this process has seen)."""
        return self.changes.changed_at

    def cached(self, key: tuple[str, str]) -> tuple[int, bytes, str] | None:
        """A page rendered since the last change, as (status, body, media type)."""
        entry = self._cache.get(key)
        if entry is None or entry[0] != self.changes.head:
            return None
        self._cache.move_to_end(key)
        return entry[1], entry[2], entry[3]

    def keep(self, key: tuple[str, str], head: int, status: int, body: bytes, kind: str) -> None:
        """Remember a page rendered at change ``head``."""
        self._cache[key] = (head, status, body, kind)
        self._cache.move_to_end(key)
        while len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)


def _site(request: Request) -> LiveSite:
    site: LiveSite = request.app.state.site
    return site


def _origin(request: Request, settings: SiteSettings) -> str:
    if not settings.base_url.startswith("/"):
        return ""
    return f"{request.url.scheme}://{request.url.netloc}"


def _render(
    site: LiveSite, target: Target, path: str, origin: str, head: int, now: datetime
) -> Any:
    """Render a target in a worker thread: (status, body, media type) or a redirect path."""
    pages = site.pages
    if isinstance(target, Hot):
        return 200, pages.hot(now, live_seq=head).encode(), _HTML
    if isinstance(target, ListingFeed):
        if target.name == "hot":
            board = pages.hot_feed(target.kind, now, origin=origin)
        else:
            board = pages.important_feed(target.kind, origin=origin)
        return 200, board, FEED_TYPES[target.kind]
    if isinstance(target, Watch):
        return 200, pages.watch(live_seq=head).encode(), _HTML
    if isinstance(target, Home):
        return 200, pages.home(live_seq=head).encode(), _HTML
    if isinstance(target, ListingPage):
        live = head if target.page is None else None
        html = pages.listing(target.listing, target.page, live_seq=live)
        return None if html is None else (200, html.encode(), _HTML)
    if isinstance(target, DayIndex):
        return 200, pages.days().encode(), _HTML
    if isinstance(target, Subscribe):
        return 200, pages.subscribe().encode(), _HTML
    if isinstance(target, Article):
        item = pages.find_article(target)
        if item is None:
            return None
        canonical = article_path(item)
        if canonical != path:
            return canonical
        return 200, pages.article(item).encode(), _HTML
    if isinstance(target, Feed):
        feed = pages.feed(target.kind, target.category, origin=origin)
        return None if feed is None else (200, feed, FEED_TYPES[target.kind])
    if isinstance(target, Story):
        html = pages.story(target.story, target.page)
        return None if html is None else (200, html.encode(), _HTML)
    if isinstance(target, (Stock, StockFeed)):
        kind = target.kind if isinstance(target, StockFeed) else None
        code = security(target.code)
        if code is None:
            return None
        if code != target.code:  # another notation of the security: its one page
            if isinstance(target, Stock) and target.page is not None:
                return stock_page_path(code, target.page)
            return stock_path(code, kind)
        if isinstance(target, StockFeed):
            feed = pages.stock_feed(target.kind, code, origin=origin)
            return None if feed is None else (200, feed, FEED_TYPES[target.kind])
        live = head if target.page is None else None
        html = pages.stock(code, target.page, live_seq=live)
        return None if html is None else (200, html.encode(), _HTML)
    raise AssertionError(f"unhandled target {target!r}")


async def site_page(request: Request) -> Response:
    """Every page of the site, by path."""
    site = _site(request)
    settings = site.settings
    path = "/" + request.path_params.get("path", "")
    if path.startswith("/api/") or path == "/api":
        return json_error(404, f"no API route {path}; see {settings.url('/api/openapi.json')}")
    long = site.catalog.long_categories()
    target = resolve(path, settings.source_paths, long)
    if target is None:
        if not path.endswith("/") and isinstance(
            resolve(path + "/", settings.source_paths, long), (ListingPage, DayIndex)
        ):
            return RedirectResponse(settings.url(path + "/"), status_code=301)
        return await _not_found(request, site, path)
    if isinstance(target, Asset):
        return _asset(request, site, target.name)
    feeds = (Feed, StockFeed, ListingFeed)
    origin = _origin(request, settings) if isinstance(target, feeds) else ""
    now = this_minute()
    # the 热点 board moves with the clock as well as with changes: kept for its minute
    timed = isinstance(target, Hot) or (isinstance(target, ListingFeed) and target.name == "hot")
    key = (path, f"{origin} {now.isoformat()}" if timed else origin)
    found = site.cached(key)
    if found is None:
        head = site.changes.head
        result = await run_in_threadpool(_render, site, target, path, origin, head, now)
        if result is None:
            return await _not_found(request, site, path)
        if isinstance(result, str):
            return RedirectResponse(settings.url(result), status_code=301)
        site.keep(key, head, *result)
        found = result
    status, body, media_type = found
    modified = max(site.last_modified(), now) if timed else site.last_modified()
    return conditional(request, body, media_type, last_modified=modified, status=status)


async def _not_found(request: Request, site: LiveSite, path: str) -> Response:
    day = _day_in(path)
    suggestions = await run_in_threadpool(site.pages.suggestions, day)
    html = await run_in_threadpool(site.pages.not_found, path, suggestions)
    return Response(html, status_code=404, media_type=_HTML, headers={"cache-control": "no-cache"})


def _day_in(path: str) -> date | None:
    found = _DATE_IN_PATH.search(path)
    if found is None:
        return None
    try:
        return date(int(found.group(1)), int(found.group(2)), int(found.group(3)))
    except ValueError:
        return None


def _asset(request: Request, site: LiveSite, name: str) -> Response:
    version = site.renderer.versions[name]
    forever = request.query_params.get("v") == version
    return conditional(
        request,
        site.renderer.assets[name],
        _ASSET_TYPES[name],
        last_modified=site.started,
        cache_control="public, max-age=31536000, immutable" if forever else "no-cache",
    )


async def events(request: Request) -> Response:
    """``GET /events``: the Server-Sent Events stream of changes."""
    site = _site(request)
    header = request.headers.get("last-event-id")
    since = request.query_params.get("since")
    last_id: int | None = None
    if header is not None and header.strip():
        if not header.strip().isdigit():
            return json_error(400, f"Last-Event-ID: {header!r} is not an event id")
        last_id = int(header.strip())
    elif since is not None:
        if not since.isdigit():
            return json_error(400, f"since: {since!r} is not an event id (a whole number)")
        last_id = int(since)
    headers = {"cache-control": "no-cache", "x-accel-buffering": "no"}
    if request.method == "HEAD":
        return Response(status_code=200, media_type="text/event-stream", headers=headers)
    return StreamingResponse(
        site.changes.stream(last_id), media_type="text/event-stream", headers=headers
    )


async def _server_error(request: Request, exc: Exception) -> Response:
    # ServerErrorMiddleware sits outside every other middleware: add the headers here
    return PlainTextResponse(
        "500 Internal Server Error", status_code=500, headers={**SECURITY_HEADERS}
    )


def create_app(
    store_url: str,
    settings: SiteSettings,
    *,
    poll_interval: float = 0.25,
    sources: Sequence[tuple[str, str]] = (),
    heartbeat: float = 15.0,
    disabled: Collection[str] = (),
) -> Starlette:
    """The live site over the database at ``store_url``. ``sources`` lists configured
    source ids with display names (for ``/api/sources``; sources seen in items are added);
    ``disabled`` names those switched off (the status page lists them last, as 已停用)."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store = await run_in_threadpool(open_store, store_url)
        site: LiveSite | None = None
        task: asyncio.Task[None] | None = None
        try:
            catalog = await run_in_threadpool(
                lambda: Catalog.scan(store, settings.page_size, first_reports_only=settings.dedupe)
            )
            site = LiveSite(
                store,
                settings,
                catalog,
                sources=sources,
                disabled=disabled,
                poll_interval=poll_interval,
                heartbeat=heartbeat,
            )
            app.state.site = site
            app.state.loop = asyncio.get_running_loop()
            task = asyncio.create_task(site.changes.run(), name="finews-change-feed")
            yield
        finally:
            if site is not None:
                site.changes.close()
            if task is not None:
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task
            store.close()

    routes: list[BaseRoute] = [
        Route("/events", events, methods=["GET"]),
        *health.routes,
        *search_routes.routes,
        *api.routes(),
        Route("/{path:path}", site_page, methods=["GET"]),
    ]
    if settings.base_path != "/":
        routes = [Mount(settings.base_path.rstrip("/"), routes=routes)]
    return Starlette(
        routes=routes,
        middleware=[
            Middleware(health.RequestMetrics),
            Middleware(SecurityHeaders),
            Middleware(GZipMiddleware, minimum_size=500),
        ],
        exception_handlers={Exception: _server_error},
        lifespan=lifespan,
    )


def serve(
    store_url: str,
    settings: SiteSettings,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    sources: Sequence[tuple[str, str]] = (),
    poll_interval: float = 0.25,
    log_level: str = "info",
    log_format: str = "text",
    disabled: Collection[str] = (),
    workers: int = 1,
) -> None:
    """Run the live site with uvicorn until interrupted (``finews serve``); uvicorn's own
    lines and access log come out in finews's ``log_format`` too.

    ``workers`` above 1 forks that many processes sharing one listening socket (where the
    system can fork): each opens its own store and follows the change log itself, so live
    updates reach the clients of every worker. They end with the parent; a ``SIGTERM`` or
    ``SIGINT`` to the parent is passed on to them."""
    import uvicorn

    from finews.logs import uvicorn_log_config

    app = create_app(
        store_url, settings, poll_interval=poll_interval, sources=sources, disabled=disabled
    )

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            super().handle_exit(sig, frame)
            # end the open event streams as the shutdown begins: uvicorn waits for open
            # connections before it runs the lifespan's shutdown, so they would otherwise
            # hold it until timeout_graceful_shutdown and be cancelled noisily (clients
            # reconnect, to another node behind a proxy)
            site, loop = getattr(app.state, "site", None), getattr(app.state, "loop", None)
            if site is not None and loop is not None:
                loop.call_soon_threadsafe(site.changes.close)

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        timeout_graceful_shutdown=2,
        log_level=log_level,
        log_config=uvicorn_log_config(log_level, log_format),
    )
    if workers <= 1 or not can_fork():
        Server(config).run()
        return
    _run_forked(config, Server, workers)


def _run_forked(config: Any, server_class: Any, workers: int) -> None:
    """Fork ``workers`` servers on one socket bound here, and wait for them."""
    listener = config.bind_socket()
    parent = os.getpid()
    children: list[int] = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:  # a worker: serve until told to stop, never return into the parent's code
            try:
                die_with_parent(parent)
                server_class(config).run(sockets=[listener])
            except BaseException:
                log.exception("finews serve: worker %d stopped on an error", os.getpid())
                os._exit(1)
            os._exit(0)
        children.append(pid)
    listener.close()

    def pass_on(sig: int, _frame: FrameType | None) -> None:
        for child in children:
            with suppress(ProcessLookupError):
                os.kill(child, sig)

    signal.signal(signal.SIGTERM, pass_on)
    signal.signal(signal.SIGINT, pass_on)
    for child in children:
        while True:
            try:
                os.waitpid(child, 0)
                break
            except InterruptedError:  # a signal arrived while waiting: wait on
                continue
            except ChildProcessError:
                break
