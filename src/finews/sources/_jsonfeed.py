"""JSON Feed (1.0 and 1.1, https://jsonfeed.org/version/1.1) read into raw entries.

Pure: decoded text in, :class:`FeedEntry` values out, each item checked on its own (a bad
item raises :class:`~finews.sources._json.ItemError`, which the adapter turns into a drop).
The envelope must be an object with a ``version`` string and an ``items`` list; anything
else is a :class:`~finews.errors.ParseError`. The version is normally a jsonfeed.org URL,
but feeds in the wild write ``"1.1"`` (gofeed's fixtures do) and readers take them: any
non-empty version is accepted, the URL prefix removed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from finews.errors import ParseError
from finews.normalize.sanitize import html_value
from finews.sources._article import absolutize
from finews.sources._json import ItemError, describe, list_at, object_at, text_field

__all__ = ["FeedEntry", "JsonFeed", "parse_json_feed"]

_VERSION_PREFIX = "https://jsonfeed.org/version/"


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One entry of any feed flavour, links already absolute."""

    id: str | None
    title: str | None
    link: str | None
    summary: str | None
    content: str | None
    published: str | int | None
    author: str | None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class JsonFeed:
    """A parsed JSON Feed: its title, version, the next (older) page, and its items as
    ``(index, entry or the ItemError that item raised)``."""

    title: str | None
    version: str
    next_url: str | None
    entries: list[tuple[int, FeedEntry | ItemError]]


def parse_json_feed(text: str, feed_url: str, source: str) -> JsonFeed:
    """Read a JSON Feed document; :class:`ParseError` when it is not one."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ParseError(f"reply is not JSON ({exc})", source=source, url=feed_url) from exc
    feed = object_at(data, "the JSON Feed", source, feed_url)
    version = feed.get("version")
    if not isinstance(version, str) or not version.strip():
        raise ParseError(
            f"JSON without a JSON Feed 'version' (got {describe(version)}): not a JSON Feed",
            source=source,
            url=feed_url,
        )
    version = version.strip()
    items = list_at(feed, "items", source, feed_url)
    try:
        title = text_field(feed, "title")
        next_url = text_field(feed, "next_url")
    except ItemError as exc:
        raise ParseError(f"JSON Feed envelope: {exc}", source=source, url=feed_url) from exc
    return JsonFeed(
        title=title,
        version=version.removeprefix(_VERSION_PREFIX),
        next_url=urljoin(feed_url, next_url) if next_url else None,
        entries=list(_entries(items, feed_url)),
    )


def _entries(items: list[Any], feed_url: str) -> Iterator[tuple[int, FeedEntry | ItemError]]:
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            yield index, ItemError(f"not an object but {describe(item)}")
            continue
        try:
            yield index, _entry(item, feed_url)
        except ItemError as exc:
            yield index, exc


def _entry(item: Mapping[str, Any], feed_url: str) -> FeedEntry:
    link = text_field(item, "url", "external_url")
    link = urljoin(feed_url, link.strip()) if link and link.strip() else None
    published = _date(item)
    html = text_field(item, "content_html")
    # Relative links in the HTML are relative to the item's page (XML feeds get this from
    # feedparser and xml:base).
    # HTML without a tag is text (its entities undone); content_text is text as it is.
    content = (
        html_value(absolutize(html, link or feed_url)) if html else text_field(item, "content_text")
    )
    return FeedEntry(
        id=text_field(item, "id"),
        title=text_field(item, "title"),
        link=link,
        summary=text_field(item, "summary"),
        content=content,
        published=published.strip() if published and published.strip() else None,
        author=_author(item),
        tags=_tags(item),
    )


def _date(item: Mapping[str, Any]) -> str | None:
    for name in ("date_published", "date_modified"):
        value = item.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise ItemError(f"field {name!r} should be an RFC 3339 date, got {describe(value)}")
        return value
    return None


def _author(item: Mapping[str, Any]) -> str | None:
    authors = item.get("authors")
    if authors is None and isinstance(item.get("author"), dict):
        authors = [item["author"]]  # JSON Feed 1.0
    if authors is None:
        return None
    if not isinstance(authors, list):
        raise ItemError(f"field 'authors' should be a list, got {describe(authors)}")
    names = []
    for author in authors:
        if isinstance(author, dict):
            name = text_field(author, "name")
            if name and name.strip():
                names.append(name.strip())
    return "、".join(names) or None


def _tags(item: Mapping[str, Any]) -> tuple[str, ...]:
    tags = item.get("tags")
    if tags is None:
        return ()
    if not isinstance(tags, list):
        raise ItemError(f"field 'tags' should be a list, got {describe(tags)}")
    return tuple(tag.strip() for tag in tags if isinstance(tag, str) and tag.strip())
