"""Feeds: Atom 1.0, RSS 2.0 (both written by feedgen) and JSON Feed 1.1 (``json.dumps``).

Paths (see :mod:`finews.publish.urls`): ``/feed.xml`` stays **Atom**, as jekyll-feed wrote it
on the original site, so existing subscribers keep working; ``/rss.xml`` is RSS 2.0 and
``/feed.json`` JSON Feed 1.1; each category has the three under ``/feeds/<slug>/``.

An entry's id is a tag URI built from the source and the upstream id,
``tag:finews,2021:<source>/<upstream id>``, never from the site's address, so moving the
site or changing ``base_url`` never makes readers see old entries as new.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from urllib.parse import quote
from xml.sax.saxutils import quoteattr

from finews.models import Item
from finews.normalize.sanitize import SANITIZER_VERSION, as_markup, clean_markup
from finews.publish.site import display_name, shown_title
from finews.publish.urls import beijing, category_of

__all__ = ["FEED_TYPES", "FeedInfo", "entry_id", "render_feed"]

#: feed kind → the media type the live app serves it with
FEED_TYPES = {
    "atom": "application/atom+xml; charset=utf-8",
    "rss": "application/rss+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
}

# characters XML 1.0 cannot carry at all (lxml refuses them); dropped from every value
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
# when a feed has no items yet, its "updated" is the day the original site started
_EPOCH = datetime(2021, 12, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class FeedInfo:
    """What a feed says about itself. ``home_url`` and ``self_url`` should be absolute."""

    title: str
    description: str
    home_url: str
    self_url: str
    feed_id: str
    lang: str = "zh-CN"


def entry_id(item: Item) -> str:
    """The permanent id of an item in every feed."""
    return f"tag:finews,2021:{quote(item.source, safe='')}/{quote(item.upstream_id, safe='')}"


def _text(value: str) -> str:
    return _NOT_XML.sub("", value)


def _title(item: Item) -> str:
    return _text(shown_title(item))


def _updated(items: Sequence[Item]) -> datetime:
    return beijing(max((item.published_at for item in items), default=_EPOCH))


def render_feed(
    kind: str,
    items: Sequence[Item],
    info: FeedInfo,
    *,
    link: Callable[[Item], str],
    body: Callable[[Item], str],
    stylesheet: str = "",
) -> bytes:
    """One feed of ``items`` (newest first). ``link`` gives an item's page URL and ``body``
    its sanitised HTML body (``""`` when it has none). ``stylesheet``, the URL of an XSL
    stylesheet, is named in Atom and RSS feeds for browsers that show feeds with one
    (feed readers ignore it)."""
    if kind == "json":
        return _json_feed(items, info, link, body)
    if kind not in ("atom", "rss"):
        raise ValueError(f"unknown feed kind {kind!r}: atom, rss or json")
    # imported on first use (feedgen brings lxml and dateutil, ~40 ms): a parallel static
    # build's workers never write feeds, and the parent gets to them after forking them
    from feedgen.feed import FeedGenerator

    gen = FeedGenerator()
    gen.id(_text(info.feed_id))
    gen.title(_text(info.title))
    gen.subtitle(_text(info.description))  # RSS needs a description; feedgen maps both
    gen.description(_text(info.description))
    gen.link(href=_text(info.self_url), rel="self")
    # feedgen takes the last link as RSS's <link>: the page, not the feed itself
    gen.link(href=_text(info.home_url), rel="alternate")
    gen.language(info.lang)
    gen.author(name=_text(info.title))
    gen.generator("finews")
    gen.updated(_updated(items))
    gen.lastBuildDate(_updated(items))  # fixed, so an unchanged feed is byte-identical
    for item in items:
        entry = gen.add_entry(order="append")
        entry.id(entry_id(item))
        entry.guid(entry_id(item), permalink=False)
        entry.title(_title(item))
        entry.link(href=_text(link(item)), rel="alternate")
        entry.published(beijing(item.published_at))
        entry.updated(beijing(item.published_at))
        if item.digest:
            # the digest is plain text (or sanitised HTML): RSS readers read <description>
            # as HTML, so plain text is escaped for it once, and HTML of another sanitiser
            # version than today's (or of none: stored without the normaliser) is
            # sanitised again, as a body is; Atom's <summary> is text
            digest = item.digest
            if kind == "rss":
                fresh = item.sanitizer == SANITIZER_VERSION
                digest = as_markup(digest if fresh else clean_markup(digest))
            entry.summary(_text(digest))
        html = body(item)
        if html:
            entry.content(_text(html), type="html")
        elif not item.digest:
            # the title is plain text, and RSS readers read <description> as HTML
            title = _title(item)
            entry.summary(escape(title, quote=False) if kind == "rss" else title)
        author = item.author or item.media
        if author:
            # RSS wants an e-mail address in <author>; feedgen skips names without one there
            entry.author(name=_text(author))
        entry.category(term=_text(category_of(item)), label=_text(display_name(item)))
    data: bytes = gen.atom_str(pretty=True) if kind == "atom" else gen.rss_str(pretty=True)
    if stylesheet:
        declaration, _, rest = data.partition(b"\n")
        instruction = f'<?xml-stylesheet type="text/xsl" href={quoteattr(stylesheet)}?>'
        data = b"\n".join((declaration, instruction.encode("utf-8"), rest))
    return data


def _json_feed(
    items: Sequence[Item],
    info: FeedInfo,
    link: Callable[[Item], str],
    body: Callable[[Item], str],
) -> bytes:
    entries = []
    for item in items:
        entry: dict[str, object] = {
            "id": entry_id(item),
            "url": link(item),
            "title": shown_title(item),
        }
        html = body(item)
        if html:
            entry["content_html"] = html
        else:
            entry["content_text"] = item.digest or item.title
        if item.digest:
            entry["summary"] = item.digest
        if item.url and item.url.startswith(("http://", "https://")):
            entry["external_url"] = item.url
        entry["date_published"] = beijing(item.published_at).isoformat()
        entry["tags"] = [display_name(item)]
        if item.author or item.media:
            entry["authors"] = [{"name": item.author or item.media}]
        entry["_finews"] = {
            "source": item.source,
            "upstream_id": item.upstream_id,
            "category": category_of(item),
            "importance": item.importance,
        }
        entries.append(entry)
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": info.title,
        "home_page_url": info.home_url,
        "feed_url": info.self_url,
        "description": info.description,
        "language": info.lang,
        "authors": [{"name": info.title}],
        "items": entries,
    }
    return json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8") + b"\n"
