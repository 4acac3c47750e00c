"""Search in the live app: the search page, the JSON API and a feed per query.

=====================  ================================================================
``/search?q=…``        the search page (HTML): hits with highlighted snippets, filters,
                       pages, and a link to the query's feed
``/api/search?q=…``    the same as JSON
``/search.xml?q=…``    an Atom feed of the query's newest hits, so a reader can subscribe
                       to 长安汽车
=====================  ================================================================

Parameters (all optional but ``q``): ``source``, ``since``, ``until`` (Beijing dates or
ISO date-times), ``important``, ``order`` (``newest``/``relevance``), ``limit``,
``offset``, ``all`` (every report instead of each story once; the default follows
``site.dedupe``). A wrong parameter gets a 400 that names it, never a 500. Mount
:data:`routes` before the site's catch-all route; they read ``app.state.site`` (a
:class:`~finews.publish.web.LiveSite`).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from finews.derive.search import SearchQuery, SearchResults, query_from_params, search
from finews.errors import FinewsError, StoreError
from finews.process.index import MAX_QUERY_CHARS, QueryError
from finews.publish.api import item_json
from finews.publish.feeds import FeedInfo, render_feed
from finews.publish.responses import conditional, json_bytes, json_error
from finews.publish.urls import article_path

__all__ = ["routes", "search_feed", "search_json", "search_page"]

_HTML = "text/html; charset=utf-8"
_PARAMS = ("q", "source", "since", "until", "important", "order", "limit", "offset", "all")


def _site(request: Request) -> Any:
    return request.app.state.site


def _params(request: Request) -> dict[str, str]:
    """The query parameters this module knows, each given at most once."""
    found: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name not in _PARAMS:
            continue
        if name in found:
            raise QueryError(f"{name}: given more than once; give it once")
        found[name] = value
    return found


def _origin(request: Request, site: Any) -> str:
    if not site.settings.base_url.startswith("/"):
        return ""
    return f"{request.url.scheme}://{request.url.netloc}"


def _query_string(params: dict[str, str], changes: dict[str, str | None]) -> str:
    merged = {**params, **changes}
    kept = {k: v for k, v in merged.items() if v not in (None, "")}
    return "?" + urlencode(kept) if kept else ""


def _link(site: Any, path: str, params: dict[str, str], **changes: str | None) -> str:
    """A link to a site path with these parameters (``None`` or ``""`` drops one)."""
    link: str = site.settings.url(path)
    return link + _query_string(params, changes)


def _absolute(
    site: Any, path: str, params: dict[str, str], origin: str, **changes: str | None
) -> str:
    """The same, absolute when ``base_url`` or ``origin`` makes it so (for feeds)."""
    link: str = site.pages.absolute(path, origin)
    return link + _query_string(params, changes)


def _run(site: Any, query: SearchQuery) -> SearchResults:
    return search(site.store, query)


async def _results(site: Any, params: dict[str, str], **overrides: Any) -> SearchResults:
    query = query_from_params(params, dedupe=bool(site.settings.dedupe))
    if overrides:
        values = {name: getattr(query, name) for name in SearchQuery.__dataclass_fields__}
        query = SearchQuery(**{**values, **overrides})
    return await run_in_threadpool(_run, site, query)


def _page(site: Any, status: int, **values: Any) -> Response:
    values.setdefault("results", None)
    values.setdefault("error", None)
    values.setdefault("feed_link", None)
    values.setdefault("newer_link", None)
    values.setdefault("older_link", None)
    values.setdefault("params", {})
    # the source filter offers the configured sources, by display name
    sources = sorted(site.source_names().items(), key=lambda pair: pair[1])
    html = site.renderer.env.get_template("search.html").render(
        live_seq=None, max_chars=MAX_QUERY_CHARS, sources=sources, **values
    )
    return Response(
        html, status_code=status, media_type=_HTML, headers={"cache-control": "no-cache"}
    )


async def search_page(request: Request) -> Response:
    """``GET /search``: the search page."""
    site = _site(request)
    try:
        params = _params(request)
        if not params.get("q", "").strip():
            return _page(site, 200, q="", params=params)
        results = await _results(site, params)
    except QueryError as exc:
        return _page(site, 400, q=request.query_params.get("q", ""), error=str(exc))
    except StoreError as exc:
        return _page(site, 503, q=params.get("q", ""), error=f"搜索暂时不可用：{exc}")
    query = results.query
    older = results.next_offset
    newer = max(query.offset - query.limit, 0) if query.offset else None
    html_values = {
        "q": query.text,
        "params": params,
        "results": results,
        "feed_link": _link(site, "/search.xml", params, offset=None, limit=None, order=None),
        "older_link": _link(site, "/search", params, offset=str(older)) if older else None,
        "newer_link": (
            _link(site, "/search", params, offset=str(newer) if newer else None)
            if newer is not None
            else None
        ),
    }
    html = _page(site, 200, **html_values).body
    return conditional(request, bytes(html), _HTML, last_modified=site.last_modified())


async def search_json(request: Request) -> Response:
    """``GET /api/search``: one page of hits as JSON."""
    site = _site(request)
    try:
        for name in request.query_params:
            if name not in _PARAMS:
                known = ", ".join(_PARAMS)
                raise QueryError(f"{name[:40]}: unknown parameter (this path accepts: {known})")
        results = await _results(site, _params(request))
    except QueryError as exc:
        return json_error(400, str(exc))
    except StoreError as exc:
        return json_error(503, f"search is unavailable: {exc}")
    body = {
        "query": results.query.text,
        "terms": [" ".join(clause.tokens) for clause in results.parsed.clauses],
        "order": results.query.order,
        "offset": results.query.offset,
        "hits": [
            {
                **item_json(hit.item, site.settings),
                "title_html": str(hit.title_html),
                "snippet_html": str(hit.snippet_html),
                "copies": hit.copies,
            }
            for hit in results.hits
        ],
        "next_offset": results.next_offset,
    }
    return conditional(
        request, json_bytes(body), "application/json", last_modified=site.last_modified()
    )


async def search_feed(request: Request) -> Response:
    """``GET /search.xml``: the newest hits of a query as an Atom feed."""
    site = _site(request)
    try:
        params = _params(request)
        results = await _results(
            site, params, order="newest", offset=0, limit=site.settings.feed_size
        )
    except QueryError as exc:
        return json_error(400, str(exc))
    except FinewsError as exc:
        return json_error(503, f"search is unavailable: {exc}")
    origin = _origin(request, site)
    pages = site.pages
    canonical = urlencode(
        sorted((k, v) for k, v in params.items() if k not in ("offset", "limit", "order") and v)
    )
    info = FeedInfo(
        title=f"搜索：{results.query.text} · {site.settings.title}",
        description=f"{site.settings.title}中含有“{results.query.text}”的最新消息",
        home_url=_absolute(site, "/search", params, origin, offset=None, limit=None),
        self_url=_absolute(site, "/search.xml", params, origin, offset=None, limit=None),
        feed_id=f"tag:finews,2021:search/{quote(canonical, safe='=&')}",
        lang=site.settings.lang,
    )
    body = await run_in_threadpool(
        render_feed,
        "atom",
        [hit.item for hit in results.hits],
        info,
        link=lambda item: pages.absolute(article_path(item), origin),
        body=site.renderer.body_html,
        stylesheet=site.renderer.asset_url("feed.xsl"),
    )
    return conditional(
        request, body, "application/atom+xml; charset=utf-8", last_modified=site.last_modified()
    )


#: the routes to mount ahead of the site's catch-all (GET and HEAD)
routes = [
    Route("/search", search_page, methods=["GET"]),
    Route("/api/search", search_json, methods=["GET"]),
    Route("/search.xml", search_feed, methods=["GET"]),
]
