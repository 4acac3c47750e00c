"""What a URL serves: a feed, an upstream a finews adapter reads, or a page linking a feed.

Pure: the URL and the bytes fetched from it in, a :class:`Detection` out. ``finews sources
add`` fetches, calls :func:`detect`, and (for an HTML page) follows the first of
:func:`feed_links`. A feed is recognised by the ``feed`` adapter's own parser; any other
reply is offered to every other adapter's ``parse_page`` in turn, and the first that reads
at least one item from it names the adapter (East Money's ``getFastNewsList`` reply, for
one). Parsers are pure, so trying them all sends nothing anywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit, urlunsplit

from finews.errors import FinewsError
from finews.models import SourceSpec
from finews.sources import adapters
from finews.sources._encoding import decode_document, html_declared_charset
from finews.sources._html import css, document
from finews.sources.base import Request
from finews.sources.feed import read_feed

__all__ = ["Detection", "detect", "feed_links"]

_FEED_TYPES = (
    "application/rss+xml",
    "application/atom+xml",
    "application/feed+json",
    "application/rdf+xml",
    "application/json",
)

# Query parameters of an upstream URL that an adapter has a setting for (the adapter sends
# its own query, so these would otherwise be lost).
_QUERY_SETTINGS: Mapping[str, Mapping[str, str]] = {
    "eastmoney_fast": {"fastColumn": "column", "pageSize": "page_size"},
}


@dataclass(frozen=True, slots=True)
class Detection:
    """What a URL turned out to be, and the settings of a source reading it."""

    adapter: str
    kind: str
    title: str | None
    items: int
    newest: str | None
    settings: dict[str, Any] = field(default_factory=dict)


def detect(url: str, body: bytes) -> Detection | None:
    """What ``body`` (fetched from ``url``) is; ``None`` when no adapter reads it."""
    try:
        feed = read_feed(body, url, "probe")
    except FinewsError:
        pass
    else:
        good = [entry for _, entry in feed.entries if not isinstance(entry, Exception)]
        return Detection(
            adapter="feed",
            kind=feed.flavour,
            title=feed.title,
            items=len(good),
            newest=next((e.title for e in good if e.title), None),
            settings={"url": url},
        )
    return _upstream(url, body)


def _upstream(url: str, body: bytes) -> Detection | None:
    parts = urlsplit(url)
    bare = urlunsplit(parts._replace(query="", fragment=""))
    query = dict(parse_qsl(parts.query))
    for name, adapter in adapters().items():
        if name == "feed":
            continue
        spec = SourceSpec(id="probe", adapter=name, settings={"url": bare})
        try:
            page = adapter.parse_page(spec, body, Request(url=url))
        # Adapters raise ParseError on shapes they do not know; this reply was made for
        # none of them in particular, so anything they raise just means "not mine".
        except (FinewsError, ValueError, TypeError, KeyError, AttributeError, IndexError):
            continue
        if not page.items:
            continue
        settings: dict[str, Any] = {"url": bare}
        for param, setting_name in _QUERY_SETTINGS.get(name, {}).items():
            if query.get(param):
                settings[setting_name] = _typed(adapter.settings, setting_name, query[param])
        return Detection(
            adapter=name,
            kind=adapter.description,
            title=None,
            items=len(page.items),
            newest=next((item.title for item in page.items if item.title), None),
            settings=settings,
        )
    return None


def _typed(declared: Any, name: str, text: str) -> Any:
    for candidate in declared:
        if candidate.name == name and candidate.type is int and text.isascii() and text.isdigit():
            return int(text)
    return text


def feed_links(url: str, body: bytes) -> list[str]:
    """The feeds an HTML page announces (``<link rel="alternate" type="application/rss+xml"
    href=…>`` and the like), absolute, http(s) only, in page order."""
    text = decode_document(body, html_declared_charset(body)).text
    if "<" not in text:
        return []
    found: list[str] = []
    for link in css(document(text), "link[href]"):
        rel = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").lower().split(";")[0].strip()
        if "alternate" not in rel or kind not in _FEED_TYPES:
            continue
        absolute = urljoin(url, (link.get("href") or "").strip())
        if urlsplit(absolute).scheme in ("http", "https") and absolute not in found:
            found.append(absolute)
    return found
