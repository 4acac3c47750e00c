"""The OpenAPI 3.1 document of the JSON API, written by hand to match :mod:`.api`."""

from __future__ import annotations

from typing import Any

from finews.publish.settings import SiteSettings

__all__ = ["openapi_document"]

_TIME = {"type": "string", "format": "date-time", "examples": ["2021-12-08T14:06:00Z"]}
_NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}


def _param(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _ok(description: str, schema: str) -> dict[str, Any]:
    return {
        "description": description,
        "headers": {
            "ETag": {"schema": {"type": "string"}},
            "Last-Modified": {"schema": {"type": "string"}},
        },
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


_NOT_MODIFIED = {"description": "Not modified since the ETag or date the request gave."}

_ITEM = {
    "type": "object",
    "required": ["id", "source", "upstream_id", "title", "published_at", "page", "feed_id"],
    "properties": {
        "id": {"type": "integer", "description": "Row id; stable."},
        "source": {"type": "string", "description": "Source id (see /api/sources)."},
        "upstream_id": {"type": "string", "description": "The id the upstream gave."},
        "title": {"type": "string"},
        "digest": {"type": "string", "description": "Summary without its 【title】 head."},
        "content": {"type": "string", "description": "Sanitised HTML or plain text; may be empty."},
        "url": {"type": ["string", "null"], "description": "The upstream's link."},
        "media": {"type": ["string", "null"]},
        "category": {
            "type": "string",
            "description": "The category slug (emnews, xinhuacaijing…).",
        },
        "tag": {"type": "string", "description": "Display tag, e.g. 新华财经新闻."},
        "kind": {"type": "string"},
        "importance": {
            "type": "integer",
            "enum": [0, 1, 2],
            "description": "0 ordinary, 1 highlighted, 2 major.",
        },
        "stocks": {"type": "array", "items": {"type": "string"}},
        "author": {"type": ["string", "null"]},
        "published_at": _TIME,
        "fetched_at": _TIME,
        "revision": {"type": "integer", "minimum": 1},
        "page": {"type": "string", "description": "Link to the item's page on this site."},
        "feed_id": {"type": "string", "description": "The item's permanent id in every feed."},
        "also_reported": {
            "type": "array",
            "items": {"$ref": "#/components/schemas/Report"},
            "description": "Only from /api/items/{id}: the other reports of the same story "
            "(other sources, or the same source twice), earliest first; empty when none. "
            "At most the 20 nearest in time: also_reported_more says how many more.",
        },
        "also_reported_more": {
            "type": "integer",
            "minimum": 0,
            "description": "Only from /api/items/{id}: how many other reports of the story "
            "also_reported leaves out (story_page lists them all).",
        },
        "story_page": {
            "type": ["string", "null"],
            "description": "Only from /api/items/{id}: the story's own page, listing every "
            "report, when also_reported leaves some out; otherwise null.",
        },
    },
}

_REPORT = {
    "type": "object",
    "required": ["id", "source", "title", "published_at", "page"],
    "properties": {
        "id": {"type": "integer"},
        "source": {"type": "string", "description": "Source id (see /api/sources)."},
        "media": {"type": ["string", "null"]},
        "tag": {"type": "string", "description": "Display tag, e.g. 新华财经新闻."},
        "title": {"type": "string"},
        "published_at": _TIME,
        "url": {"type": ["string", "null"], "description": "The upstream's link."},
        "page": {"type": "string", "description": "Link to the report's page on this site."},
    },
}


def openapi_document(settings: SiteSettings) -> dict[str, Any]:
    """The OpenAPI 3.1 description of ``/api/``."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"{settings.title} API",
            "version": "1",
            "description": (
                "Read-only JSON API of a finews site. Times are UTC (ISO 8601). Every "
                "response carries ETag and Last-Modified and answers conditional requests "
                'with 304. A bad or unknown parameter gets 400 with {"error": "…"} naming it.'
            ),
        },
        "servers": [{"url": settings.url("/").rstrip("/") or "/"}],
        "paths": {
            "/api/items": {
                "get": {
                    "operationId": "listItems",
                    "summary": "Items, newest first, one page at a time.",
                    "parameters": [
                        _param("source", "Only this source id.", {"type": "string"}),
                        _param("category", "Only this category slug.", {"type": "string"}),
                        _param(
                            "since",
                            "Published at or after this ISO 8601 date or date-time (dates and "
                            "times without a zone are Beijing time).",
                            {
                                "type": "string",
                                "examples": ["2021-12-08", "2021-12-08T22:00:00+08:00"],
                            },
                        ),
                        _param(
                            "until",
                            "Published before this ISO 8601 date-time; a bare date includes "
                            "that whole day.",
                            {"type": "string", "examples": ["2021-12-08"]},
                        ),
                        _param(
                            "important",
                            "true: only items the upstream marked important; false: only the "
                            "others.",
                            {"type": "string", "enum": ["true", "false", "1", "0", "yes", "no"]},
                        ),
                        _param(
                            "stock",
                            "Only items about this security, in any notation (600519, "
                            "sh600519, SH600519, 1.600519, 600519.SH, hk00700, 00700.HK, "
                            "AAPL.US): tagged with it by an upstream, or naming its code in "
                            "the title or digest.",
                            {"type": "string", "examples": ["600519", "hk00700"]},
                        ),
                        _param(
                            "muted",
                            "true: also the items a mute rule of the settings hides (they "
                            "are left out by default).",
                            {"type": "string", "enum": ["true", "false", "1", "0", "yes", "no"]},
                        ),
                        _param(
                            "limit",
                            "Items per page.",
                            {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
                        ),
                        _param(
                            "cursor",
                            "Opaque: the next_cursor of the previous page. Walking the cursors "
                            "returns every item exactly once.",
                            {"type": "string"},
                        ),
                    ],
                    "responses": {
                        "200": _ok("A page of items.", "ItemPage"),
                        "304": _NOT_MODIFIED,
                        "400": _error("A parameter is wrong; the message names it."),
                    },
                }
            },
            "/api/items/{id}": {
                "get": {
                    "operationId": "getItem",
                    "summary": "One item by its row id.",
                    "parameters": [
                        {
                            "name": "id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "integer", "minimum": 0},
                        }
                    ],
                    "responses": {
                        "200": _ok("The item, with the other reports of its story.", "Item"),
                        "304": _NOT_MODIFIED,
                        "400": _error("The id is not a whole number."),
                        "404": _error("No item has this id."),
                    },
                }
            },
            "/api/sources": {
                "get": {
                    "operationId": "listSources",
                    "summary": "Every source with its item count and health.",
                    "responses": {
                        "200": _ok("The sources.", "SourceList"),
                        "304": _NOT_MODIFIED,
                    },
                }
            },
            "/api/hot": {
                "get": {
                    "operationId": "hot",
                    "summary": "The 热点 board as of this minute: the stories of the last hours "
                    "ranked by how many distinct sources reported them, how fast, and their "
                    "importance (the formula is in the answer's `formula`).",
                    "parameters": [
                        _param(
                            "hours",
                            "The window, in hours before now (default: the site's hot_hours).",
                            {"type": "integer", "minimum": 1, "maximum": 168},
                        ),
                        _param(
                            "limit",
                            "Stories, hottest first.",
                            {"type": "integer", "minimum": 1, "maximum": 30, "default": 30},
                        ),
                    ],
                    "responses": {
                        "200": _ok("The board.", "HotBoard"),
                        "304": _NOT_MODIFIED,
                        "400": _error("A parameter is wrong; the message names it."),
                    },
                }
            },
            "/api/status": {
                "get": {
                    "operationId": "status",
                    "summary": "Per-source health as `finews run` keeps it: last attempt and "
                    "success, last error, consecutive failures, next poll, items in the last "
                    "hour and day, median upstream-to-stored delay, backoff, full-text queue, and "
                    "the upstream-format alarm (format_alarm, format_errors).",
                    "responses": {
                        "200": {
                            "description": "The health of every source.",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        },
                    },
                }
            },
            "/api/search": {
                "get": {
                    "operationId": "search",
                    "summary": "Search the archive in Chinese; highlighted snippets.",
                    "parameters": [
                        {
                            "name": "q",
                            "in": "query",
                            "required": True,
                            "schema": {"type": "string", "examples": ["600519"]},
                            "description": "Words, phrases in quotes, codes (600519, ETF, 5G).",
                        },
                        {"name": "source", "in": "query", "schema": {"type": "string"}},
                        {
                            "name": "since",
                            "in": "query",
                            "schema": {"type": "string"},
                            "description": "ISO 8601 date or time.",
                        },
                        {"name": "until", "in": "query", "schema": {"type": "string"}},
                        {"name": "important", "in": "query", "schema": {"type": "boolean"}},
                        {
                            "name": "order",
                            "in": "query",
                            "schema": {"type": "string", "enum": ["newest", "relevance"]},
                        },
                        {"name": "limit", "in": "query", "schema": {"type": "integer"}},
                        {"name": "offset", "in": "query", "schema": {"type": "integer"}},
                        {
                            "name": "all",
                            "in": "query",
                            "schema": {"type": "boolean"},
                            "description": "Every copy of a story instead of one per story.",
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "The hits, newest first or by relevance.",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        },
                        "400": {
                            "description": "A bad parameter, named in `error`.",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        },
                    },
                }
            },
            "/api/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document (shown for people at /api/docs).",
                    "responses": {
                        "200": {
                            "description": "The OpenAPI document.",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        },
                        "304": _NOT_MODIFIED,
                    },
                }
            },
        },
        "components": {
            "schemas": {
                "Item": _ITEM,
                "Report": _REPORT,
                "ItemPage": {
                    "type": "object",
                    "required": ["items", "next_cursor"],
                    "properties": {
                        "items": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}},
                        "next_cursor": {
                            "type": ["string", "null"],
                            "description": "Pass as cursor for the next page; null on the last.",
                        },
                    },
                },
                "HotBoard": {
                    "type": "object",
                    "required": ["as_of", "hours", "formula", "stories"],
                    "properties": {
                        "as_of": _TIME,
                        "hours": {"type": "integer"},
                        "formula": {"type": "string", "description": "How score is computed."},
                        "stories": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/HotStory"},
                        },
                    },
                },
                "HotStory": {
                    "type": "object",
                    "required": ["story", "score", "sources", "title", "page", "reports"],
                    "properties": {
                        "story": {"type": "integer", "description": "Its first report's id."},
                        "score": {"type": "number"},
                        "sources": {"type": "integer", "description": "Distinct sources."},
                        "reports_in_window": {"type": "integer"},
                        "minutes_to_nth_source": {
                            "type": ["number", "null"],
                            "description": "First report to the min(sources, 3)-th source.",
                        },
                        "importance": {"type": "integer", "minimum": 0, "maximum": 2},
                        "first_published_at": _TIME,
                        "latest_published_at": _TIME,
                        "title": {"type": "string"},
                        "page": {"type": "string", "description": "Its first report's page."},
                        "story_page": {"type": ["string", "null"]},
                        "reports": {
                            "type": "array",
                            "description": "Each source's first report, earliest first.",
                            "items": {"$ref": "#/components/schemas/Report"},
                        },
                    },
                },
                "Source": {
                    "type": "object",
                    "required": ["id", "name", "items", "state"],
                    "properties": {
                        "id": {"type": "string"},
                        "name": {"type": "string"},
                        "items": {"type": "integer", "minimum": 0},
                        "state": {
                            "type": "object",
                            "required": ["consecutive_failures"],
                            "properties": {
                                "last_attempt": _NULLABLE_TIME,
                                "last_success": _NULLABLE_TIME,
                                "last_error": {"type": ["string", "null"]},
                                "consecutive_failures": {"type": "integer", "minimum": 0},
                                "next_poll": _NULLABLE_TIME,
                            },
                        },
                    },
                },
                "SourceList": {
                    "type": "object",
                    "required": ["sources"],
                    "properties": {
                        "sources": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Source"},
                        },
                    },
                },
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": {"type": "string"}},
                },
            }
        },
    }
