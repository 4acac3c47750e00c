"""The JSON API under ``/api/``: items with filters and cursor pages, one item, the sources
with their health, and the OpenAPI document describing all of it (:mod:`.openapi`).

Every parameter is checked before the store is asked anything; a bad one gets a 400 whose
``{"error": …}`` names the parameter and what it accepts, never a 500.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from finews.config import parse_bool
from finews.models import Item, SourceState
from finews.normalize.times import parse_bound
from finews.publish.catalog import Catalog
from finews.publish.feeds import entry_id
from finews.publish.hot import FORMULA, HOT_LIMIT, HotStory, this_minute
from finews.publish.openapi import openapi_document
from finews.publish.pages import Pages
from finews.publish.responses import conditional, json_bytes, json_error
from finews.publish.settings import SiteSettings
from finews.publish.site import Reports, SiteRenderer
from finews.publish.urls import article_path, story_path
from finews.sources.securities import security
from finews.store import ItemQuery, Store
from finews.store.clusters import also_reported
from finews.store.times import to_db_time

__all__ = [
    "ApiBackend",
    "ParameterError",
    "decode_cursor",
    "encode_cursor",
    "hot_json",
    "item_json",
    "report_json",
    "routes",
]

MAX_LIMIT = 200
DEFAULT_LIMIT = 50


class ApiBackend(Protocol):
    """What the API reads: the live app's store, settings and catalog."""

    store: Store
    settings: SiteSettings
    catalog: Catalog
    renderer: SiteRenderer
    pages: Pages

    def source_names(self) -> Mapping[str, str]:
        """Every configured source id with its display name."""

    def last_modified(self) -> datetime:
        """When the data last changed."""


class ParameterError(ValueError):
    """A query parameter is wrong; the message names it."""


def encode_cursor(item: Item) -> str:
    """The opaque cursor that continues a listing after ``item``."""
    text = f"{to_db_time(item.published_at)}|{item.id}"  # years before 1000 zero-padded
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """The ``(published_at, id)`` a cursor stands for."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, item_id = text.split("|")
        parsed = datetime.strptime(moment, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        return parsed, int(item_id)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ParameterError(
            "cursor: not a cursor this API returned (pass next_cursor back unchanged)"
        ) from exc


def _time(name: str, value: str, *, end: bool) -> datetime:
    try:
        return parse_bound(value, end=end)
    except ValueError as exc:
        raise ParameterError(f"{name}: {exc}") from exc


def _single(params: Mapping[str, list[str]], name: str) -> str | None:
    values = params.get(name, [])
    if len(values) > 1:
        raise ParameterError(f"{name}: given {len(values)} times; give it once")
    return values[0] if values else None


#: the query parameters of ``/api/items``; any other is a 400
ITEMS_PARAMETERS = (
    "source",
    "category",
    "since",
    "until",
    "important",
    "stock",
    "muted",
    "limit",
    "cursor",
)


def check_known(params: Mapping[str, Any], known: tuple[str, ...]) -> None:
    """Raise :class:`ParameterError` naming the first parameter not in ``known``: a
    misspelt filter would otherwise be ignored, and the answer look filtered when it is not."""
    for name in params:
        if name not in known:
            accepted = ", ".join(known) if known else "none"
            raise ParameterError(f"{name[:40]}: unknown parameter (this path accepts: {accepted})")


def parse_stock(value: str) -> str:
    """A security in any notation (``600519``, ``SH600519``, ``1.600519``, ``600519.SH``,
    ``hk00700``, ``AAPL.US``…) in finews notation; :class:`ParameterError` when it is none."""
    found = security(value) if len(value) <= 40 else None
    if found is None:
        raise ParameterError(
            f"stock: {value[:40]!r} is not a security code (e.g. 600519, sh600519, hk00700, "
            "AAPL.US)"
        )
    return found


def parse_items_query(params: Mapping[str, list[str]]) -> ItemQuery:
    """The store query a request's parameters ask for (``limit`` one more than asked, so
    the response knows whether there is a next page)."""
    check_known(params, ITEMS_PARAMETERS)
    source = _single(params, "source")
    category = _single(params, "category")
    for name, value in (("source", source), ("category", category)):
        if value is not None and not 1 <= len(value) <= 200:
            raise ParameterError(f"{name}: give an id of 1 to 200 characters")
    since_text, until_text = _single(params, "since"), _single(params, "until")
    since = _time("since", since_text, end=False) if since_text is not None else None
    until = _time("until", until_text, end=True) if until_text is not None else None
    if since and until and since >= until:
        raise ParameterError("since: must be earlier than until")
    important_text = _single(params, "important")
    important = None
    if important_text is not None:
        important = parse_bool(important_text)
        if important is None:
            raise ParameterError(f"important: {important_text!r} is not true or false")
    limit_text = _single(params, "limit")
    limit = DEFAULT_LIMIT
    if limit_text is not None:
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_LIMIT:
            raise ParameterError(f"limit: {limit_text!r} is not a whole number from 1 to 200")
        limit = int(limit_text)
    stock_text = _single(params, "stock")
    stock = parse_stock(stock_text) if stock_text is not None else None
    cursor_text = _single(params, "cursor")
    before = decode_cursor(cursor_text) if cursor_text is not None else None
    muted_text = _single(params, "muted")
    # items a mute rule hides are left out unless muted=true asks for them too
    with_muted = parse_bool(muted_text) if muted_text is not None else False
    if with_muted is None:
        raise ParameterError(f"muted: {muted_text!r} is not true or false")
    return ItemQuery(
        muted=None if with_muted else False,
        source=source,
        category=category,
        since=since,
        until=until,
        important=important,
        stock=stock,
        before=before,
        limit=limit + 1,
    )


def _iso(moment: datetime | None) -> str | None:
    return to_db_time(moment)  # the stored form: ISO 8601 in UTC, years zero-padded


def item_json(item: Item, settings: SiteSettings) -> dict[str, Any]:
    """An item as the API shows it."""
    return {
        "id": item.id,
        "source": item.source,
        "upstream_id": item.upstream_id,
        "title": item.title,
        "digest": item.digest,
        "content": item.content,
        "url": item.url,
        "media": item.media,
        "category": item.category,
        "tag": item.tag,
        "kind": item.kind,
        "importance": item.importance,
        "stocks": list(item.stocks),
        "author": item.author,
        "published_at": _iso(item.published_at),
        "fetched_at": _iso(item.fetched_at),
        "revision": item.revision,
        "page": settings.url(article_path(item)),
        "feed_id": entry_id(item),
    }


def report_json(item: Item, settings: SiteSettings) -> dict[str, Any]:
    """Another report of an item's story, as ``also_reported`` lists it."""
    return {
        "id": item.id,
        "source": item.source,
        "media": item.media,
        "tag": item.tag,
        "title": item.title,
        "published_at": _iso(item.published_at),
        "url": item.url,
        "page": settings.url(article_path(item)),
    }


def _state_json(state: SourceState) -> dict[str, Any]:
    return {
        "last_attempt": _iso(state.last_attempt),
        "last_success": _iso(state.last_success),
        "last_error": state.last_error,
        "consecutive_failures": state.consecutive_failures,
        "next_poll": _iso(state.next_poll),
    }


def _backend(request: Request) -> ApiBackend:
    backend: ApiBackend = request.app.state.site
    return backend


def _json(request: Request, value: Any, last_modified: datetime) -> Response:
    return conditional(request, json_bytes(value), "application/json", last_modified=last_modified)


def _params(request: Request) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, value in request.query_params.multi_items():
        found.setdefault(name, []).append(value)
    return found


def _unknown(request: Request, known: tuple[str, ...]) -> Response | None:
    """A 400 naming the first query parameter not in ``known``, else ``None``."""
    try:
        check_known(_params(request), known)
    except ParameterError as exc:
        return json_error(400, str(exc))
    return None


async def list_items(request: Request) -> Response:
    """``GET /api/items``."""
    backend = _backend(request)
    try:
        query = parse_items_query(_params(request))
    except ParameterError as exc:
        return json_error(400, str(exc))
    found = await run_in_threadpool(lambda: list(backend.store.items(query)))
    limit = (query.limit or 1) - 1
    page, more = found[:limit], len(found) > limit
    body = {
        "items": [item_json(item, backend.settings) for item in page],
        "next_cursor": encode_cursor(page[-1]) if more and page else None,
    }
    return _json(request, body, backend.last_modified())


async def one_item(request: Request) -> Response:
    """``GET /api/items/{id}``."""
    backend = _backend(request)
    if unknown := _unknown(request, ()):
        return unknown
    text = request.path_params["item_id"]
    if not text.isdigit() or len(text) > 18:
        return json_error(400, f"id: {text!r} is not an item id (a whole number)")
    item_id = int(text)

    def read() -> tuple[Item | None, Reports]:
        found = backend.store.get_item_by_id(item_id)
        if found is None:
            return None, Reports()
        if backend.renderer.stories is not None:
            # the article page's own choice: the nearest reports, bounded however long the story
            return found, backend.renderer.stories(found)
        return found, Reports(also_reported(backend.store, item_id))

    item, reports = await run_in_threadpool(read)
    if item is None:
        return json_error(404, f"id: no item {text}")
    body = item_json(item, backend.settings)
    body["also_reported"] = [report_json(other, backend.settings) for other in reports.shown]
    body["also_reported_more"] = reports.more
    body["story_page"] = (
        backend.settings.url(story_path(reports.story))
        if reports.more and reports.story is not None
        else None
    )
    return _json(request, body, backend.last_modified())


#: the query parameters of ``/api/hot``
HOT_PARAMETERS = ("hours", "limit")


def _whole(params: Mapping[str, list[str]], name: str, low: int, high: int) -> int | None:
    text = _single(params, name)
    if text is None:
        return None
    if not text.isdigit() or not low <= int(text) <= high:
        raise ParameterError(f"{name}: {text[:40]!r} is not a whole number from {low} to {high}")
    return int(text)


def hot_json(row: HotStory, settings: SiteSettings) -> dict[str, Any]:
    """One story of the 热点 board as ``/api/hot`` shows it."""
    return {
        "story": row.story,
        "score": round(row.score, 3),
        "sources": row.sources,
        "reports_in_window": row.reported,
        "minutes_to_nth_source": None if row.minutes is None else round(row.minutes, 1),
        "importance": row.importance,
        "first_published_at": _iso(row.lead.published_at),
        "latest_published_at": _iso(row.latest),
        "title": row.lead.title,
        "page": settings.url(article_path(row.lead)),
        "story_page": settings.url(story_path(row.story)) if row.story_page else None,
        "reports": [report_json(report, settings) for report in row.reports],
    }


async def hot(request: Request) -> Response:
    """``GET /api/hot``: the 热点 board as of this minute."""
    backend = _backend(request)
    params = _params(request)
    try:
        check_known(params, HOT_PARAMETERS)
        hours = _whole(params, "hours", 1, 168) or backend.settings.hot_hours
        limit = _whole(params, "limit", 1, HOT_LIMIT) or HOT_LIMIT
    except ParameterError as exc:
        return json_error(400, str(exc))
    now = this_minute()
    board = await run_in_threadpool(backend.pages.hot_stories, now, hours)
    body = {
        "as_of": _iso(now),
        "hours": hours,
        "formula": FORMULA,
        "stories": [hot_json(row, backend.settings) for row in board[:limit]],
    }
    return _json(request, body, max(backend.last_modified(), now))


async def list_sources(request: Request) -> Response:
    """``GET /api/sources``."""
    backend = _backend(request)
    if unknown := _unknown(request, ()):
        return unknown
    names = dict(backend.source_names())
    for source in backend.catalog.sources():
        names.setdefault(source, source)

    def read() -> list[tuple[dict[str, Any], SourceState]]:
        found = []
        for source, name in sorted(names.items()):
            state = backend.store.get_state(source)
            entry = {
                "id": source,
                "name": name,
                "items": backend.store.count_items(source),
                "state": _state_json(state),
            }
            found.append((entry, state))
        return found

    found = await run_in_threadpool(read)
    moments = [backend.last_modified()]
    for _, state in found:
        moments += [moment for moment in (state.last_attempt, state.last_success) if moment]
    return _json(request, {"sources": [entry for entry, _ in found]}, max(moments))


async def openapi(request: Request) -> Response:
    """``GET /api/openapi.json``."""
    backend = _backend(request)
    if unknown := _unknown(request, ()):
        return unknown
    return _json(request, openapi_document(backend.settings), backend.last_modified())


async def docs(request: Request) -> Response:
    """``GET /api/docs``: the API's documentation for people, from the OpenAPI document."""
    backend = _backend(request)
    html = backend.renderer.api_docs(openapi_document(backend.settings))
    return conditional(
        request, html.encode(), "text/html; charset=utf-8", last_modified=backend.last_modified()
    )


def routes() -> list[Route]:
    """The API's routes (GET and HEAD)."""
    return [
        Route("/api/items", list_items, methods=["GET"]),
        Route("/api/items/{item_id}", one_item, methods=["GET"]),
        Route("/api/sources", list_sources, methods=["GET"]),
        Route("/api/hot", hot, methods=["GET"]),
        Route("/api/openapi.json", openapi, methods=["GET"]),
        Route("/api/docs", docs, methods=["GET"]),
    ]
