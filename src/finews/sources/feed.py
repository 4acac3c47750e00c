"""Any feed: RSS 0.9x, 1.0 (RDF) and 2.0, Atom, and JSON Feed 1.0/1.1 (adapter ``feed``).

RSSHub routes are plain RSS 2.0 and need nothing special. XML goes through feedparser
(after :mod:`~finews.sources._encoding` has found the real charset: feedparser alone turns a
GBK feed declared UTF-8 into windows-1252 mojibake); JSON Feed through ``json``.

- Links are made absolute against the feed URL and ``xml:base``; only http(s) links kept.
- An entry's id is its ``guid``/``id``, else its link, else a hash of title and date.
- The media name is the ``media`` setting, else the feed's title.
- Dates: ISO 8601 and RFC 822 with an offset are exact; a date without one, or in "CST",
  is Beijing time (feedparser would take them for UTC and US Central), as every Chinese
  upstream means it.
- Atom ``rel="next"`` and JSON Feed ``next_url`` pages are followed as older pages.
- Full text (setting ``fulltext``, off by default) is the linked page's element matching
  ``fulltext_selector``, or else its largest block of text (:mod:`~finews.sources._article`).
- Every request is ``guarded`` (see :mod:`finews.fetch.guard`): a feed, and the links in it,
  may not point finews at private addresses unless ``allow_private`` is on.
"""

from __future__ import annotations

import calendar
import dataclasses
import email.utils
import hashlib
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from finews.errors import ConfigError, ParseError
from finews.models import Dropped, RawItem, SourceSpec
from finews.normalize.sanitize import html_value
from finews.normalize.times import BEIJING as _BEIJING
from finews.sources._article import NoArticleError, extract_article
from finews.sources._encoding import decode_document, xml_declared_charset
from finews.sources._html import document
from finews.sources._json import ItemError
from finews.sources._jsonfeed import FeedEntry, parse_json_feed
from finews.sources.base import Page, Request, Setting, http_url, options_of

__all__ = [
    "FEED",
    "FeedAdapter",
    "ParsedFeed",
    "entry_id",
    "feed_flavour",
    "read_feed",
    "without_internal_subset",
]

_ACCEPT = (
    "application/feed+json, application/rss+xml, application/atom+xml, "
    "application/rdf+xml;q=0.9, application/xml;q=0.8, text/xml;q=0.8, "
    "application/json;q=0.7, */*;q=0.5"
)
_FLAVOURS = {
    "rss090": "RSS 0.90",
    "rss091n": "RSS 0.91",
    "rss091u": "RSS 0.91",
    "rss092": "RSS 0.92",
    "rss093": "RSS 0.93",
    "rss094": "RSS 0.94",
    "rss20": "RSS 2.0",
    "rss10": "RSS 1.0",
    "rss": "RSS",
    "atom01": "Atom 0.1",
    "atom02": "Atom 0.2",
    "atom03": "Atom 0.3",
    "atom10": "Atom 1.0",
    "atom": "Atom",
    "cdf": "CDF",
}
_DECLARATION_ENCODING = re.compile(
    r"""^(\s*<\?xml[^>]*?\bencoding\s*=\s*)(["'])[^"']*\2""", re.IGNORECASE
)
# An ISO-8601-like date, with or without an offset: passed on as written, so that one
# without an offset is read as Beijing time by the normaliser.
_ISO_LIKE = re.compile(r"\d{4}[-/]\d{1,2}[-/]\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2}([.,]\d+)?)?)?")
_ISO_WITH_ZONE = re.compile(_ISO_LIKE.pattern + r"\s*(Z|[+-]\d{2}(:?\d{2})?)", re.IGNORECASE)
# The zone after an RFC 822 time. None, or "CST", is China Standard Time: Chinese feeds
# write CST for UTC+8, never for the US Central zone RFC 822 means by it.
_RFC822_ZONE = re.compile(r"\d{1,2}:\d{2}(?::\d{2})?\s*(?P<zone>[A-Za-z]+|[+-]\d{4})?\s*$")
_ELEMENT_START = re.compile(r"<[A-Za-z]")
_SUBSET_END = re.compile(r"\]\s*>")
_MAX_ID = 300


def feed_flavour(version: str) -> str:
    """A feedparser version code (``rss20``) or ``json-1.1`` as a name (``RSS 2.0``)."""
    if version.startswith("json-"):
        return f"JSON Feed {version[5:]}"
    return _FLAVOURS.get(version, version or "unknown")


def entry_id(guid: str | None, link: str | None, title: str | None, date: object) -> str:
    """An entry's stable id: the guid, else the link, else a hash of title and date.

    Over-long ids are hashed too, so a hostile feed cannot fill the index with them."""
    for candidate in (guid, link):
        if candidate and candidate.strip():
            text = candidate.strip()
            return text if len(text) <= _MAX_ID else _digest(text)
    return _digest(f"{title or ''}\n{date or ''}")


def _digest(text: str) -> str:
    # surrogatepass: a lone surrogate in a JSON Feed's title is hashed, not a crash
    return "sha256:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class FeedSettings:
    """The settings of a ``feed`` source (declared in ``FeedAdapter.settings``)."""

    url: str
    media: str
    fulltext: bool
    fulltext_selector: str
    allow_private: bool


class FeedAdapter:
    """The ``feed`` adapter."""

    name = "feed"
    #: RawItem fields every reply's items must have ("a|b": either); see finews.formatwatch
    required_fields: tuple[str, ...] = ("title|summary|content",)
    description = "Any RSS 0.9x/1.0/2.0, Atom or JSON Feed (RSSHub routes included)"
    settings: tuple[Setting, ...] = (
        Setting("url", str, "", "feed URL (http or https)", check=http_url),
        Setting("media", str, "", "media name of every item; empty: the feed's title"),
        Setting("fulltext", bool, False, "fetch each new item's linked page and extract its text"),
        Setting(
            "fulltext_selector",
            str,
            "",
            "CSS selector of the article on linked pages; empty: the largest text block",
        ),
        Setting(
            "allow_private",
            bool,
            False,
            "let this feed and its links reach private, loopback or link-local addresses",
        ),
    )
    options_class = FeedSettings

    def options(self, spec: SourceSpec) -> FeedSettings:
        """``spec``'s settings, typed."""
        return options_of(spec, FeedSettings, self.settings)

    def first_page(self, spec: SourceSpec) -> Request:
        """The feed URL; :class:`ConfigError` when it is not an http(s) URL."""
        url = self.options(spec).url.strip()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(
                f"sources.{spec.id}.url", url, "an http:// or https:// feed URL", origin=spec.id
            )
        return self._request(spec, url, accept=_ACCEPT)

    def _request(self, spec: SourceSpec, url: str, *, accept: str) -> Request:
        guarded = not self.options(spec).allow_private
        return Request(url=url, headers={"Accept": accept}, guarded=guarded)

    def parse_page(
        self, spec: SourceSpec, body: bytes, request: Request, *, charset: str | None = None
    ) -> Page:
        """Parse an RSS, Atom or JSON Feed reply in whatever charset it really uses."""
        url = request.url
        feed = read_feed(body, url, spec.id, charset=charset)
        media = self.options(spec).media.strip() or (feed.title or "").strip()
        items: list[RawItem] = []
        dropped: list[Dropped] = []
        for index, entry in feed.entries:
            if isinstance(entry, ItemError):
                dropped.append(Dropped(spec.id, None, f"[{spec.id}] item #{index}: {entry}"))
                continue
            items.append(_with_record(_raw_item(spec, entry, media or None), entry))
        following = None
        if feed.next_url and feed.next_url != url:
            following = self._request(spec, feed.next_url, accept=_ACCEPT)
        lossy = None
        if feed.lossy:
            lossy = f"the feed did not decode cleanly as {feed.encoding}: bad bytes became U+FFFD"
        return Page(items=items, dropped=dropped, next=following, lossy=lossy)

    def parse_record(self, spec: SourceSpec, record: str) -> RawItem | Dropped:
        """A kept entry (``finews reparse``) read again as ``parse_page`` reads an entry.

        The record is the entry as parsed (feedparser does not hand back its XML), with the
        media name it was read under: reading it again re-runs everything after the parse
        (ids, links, dates, and the normalising and sanitising the poll does next)."""
        try:
            data = json.loads(record)
            fields = data["entry"]
            entry = FeedEntry(
                id=fields["id"],
                title=fields["title"],
                link=fields["link"],
                summary=fields["summary"],
                content=fields["content"],
                published=fields["published"],
                author=fields["author"],
                tags=tuple(fields["tags"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            return Dropped(spec.id, None, f"[{spec.id}] kept feed entry is unreadable: {exc!r}")
        configured = self.options(spec).media.strip()
        media = configured or str(data.get("media") or "").strip()
        return _with_record(_raw_item(spec, entry, media or None), entry)

    def fulltext_request(self, spec: SourceSpec, item: RawItem) -> Request | None:
        """The item's linked page, when ``fulltext`` is on and the link is http(s)."""
        if not self.options(spec).fulltext or not item.fulltext_key:
            return None
        return self._request(spec, item.fulltext_key, accept="text/html, */*;q=0.5")

    def parse_fulltext(self, spec: SourceSpec, body: bytes, item: RawItem) -> str:
        """The article in the linked page (``fulltext_selector``, else the largest text
        block); ``""`` when the page has none. :class:`ParseError` when the selector matches
        nothing."""
        page_url = item.fulltext_key or item.url or ""
        selector = self.options(spec).fulltext_selector
        try:
            return extract_article(body, page_url, selector)
        except NoArticleError as exc:
            raise ParseError(str(exc), source=spec.id, url=page_url) from exc


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A feed document read: its flavour (a feedparser version code such as ``rss20``, or
    ``json-1.1``), title, next (older) page, and entries as ``(index, entry or the
    ItemError that made it unusable)``; ``encoding`` is the codec the bytes were read in,
    ``lossy`` true when some of them did not decode in it (they became U+FFFD)."""

    version: str
    title: str | None
    next_url: str | None
    entries: list[tuple[int, FeedEntry | ItemError]]
    encoding: str = "utf-8"
    lossy: bool = False

    @property
    def flavour(self) -> str:
        """The flavour as a name: ``RSS 2.0``, ``Atom 1.0``, ``JSON Feed 1.1``…"""
        return feed_flavour(self.version)


def read_feed(body: bytes, url: str, source: str, *, charset: str | None = None) -> ParsedFeed:
    """Read an RSS, Atom or JSON Feed document fetched from ``url``, in whatever charset
    it really uses (``charset``, the HTTP header's, ranks before the document's own
    declaration); :class:`ParseError` when it is none of them."""
    stripped = body.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not stripped:
        raise ParseError("reply is empty, expected a feed", source=source, url=url)
    if stripped.startswith(b"{"):
        decoded = decode_document(body, http=charset)
        json_feed = parse_json_feed(decoded.text, url, source)
        return ParsedFeed(
            version=f"json-{json_feed.version}",
            title=json_feed.title,
            next_url=_http(json_feed.next_url),
            entries=json_feed.entries,
            encoding=decoded.encoding,
            lossy=decoded.lossy,
        )
    return _parse_xml(body, url, source, charset)


def _parse_xml(body: bytes, url: str, source: str, charset: str | None) -> ParsedFeed:
    decoded = decode_document(body, xml_declared_charset(body), http=charset)
    # The text is UTF-8 from here on; the declaration must stop saying otherwise.
    text = _DECLARATION_ENCODING.sub(r"\1\2utf-8\2", decoded.text, count=1)
    text = without_internal_subset(text)
    # imported here: loading feedparser (and the urllib, http and ssl it loads) costs
    # ~40 ms that every finews command would pay at start-up for the config's source list
    import feedparser  # type: ignore[import-untyped]

    try:
        # A file object, never bytes or str: feedparser opens a str or bytes that names a
        # local file (or a URL) instead of parsing it.
        parsed = feedparser.parse(
            io.BytesIO(text.encode("utf-8")),
            response_headers={
                "content-location": url,
                "content-type": "application/xml; charset=utf-8",
            },
            resolve_relative_uris=True,
            sanitize_html=True,
        )
    except Exception as exc:  # feedparser's loose parser can fail in unforeseen ways
        raise ParseError(f"feed parser failed: {exc!r}", source=source, url=url) from exc
    version = str(_field(parsed, "version") or "")
    raw_entries = _field(parsed, "entries") or []
    if not version and not raw_entries:
        preview = decoded.text.strip()[:60].replace("\n", " ")
        problem = _field(parsed, "bozo_exception")
        why = f" ({problem})" if problem else ""
        raise ParseError(
            f"not an RSS, Atom or JSON feed{why}; it starts with {preview!r}",
            source=source,
            url=url,
        )
    feed = _field(parsed, "feed") or {}
    entries: list[tuple[int, FeedEntry | ItemError]] = []
    for index, raw in enumerate(raw_entries):
        try:
            entries.append((index, _xml_entry(raw)))
        except (ItemError, ValueError, TypeError, AttributeError, KeyError) as exc:
            entries.append((index, ItemError(f"unreadable entry ({exc})")))
    return ParsedFeed(
        version=version,
        title=_text(_field(feed, "title")),
        next_url=_next_link(_field(feed, "links")),
        entries=entries,
        encoding=decoded.encoding,
        lossy=decoded.lossy,
    )


def without_internal_subset(text: str) -> str:
    """The document without the entity declarations of its DOCTYPE.

    Feeds never need their own entities, and declared ones are how "billion laughs"
    bombs work: expat caps the expansion, but only after feedparser has spent seconds on
    megabytes of it. Undeclared entities then fail the strict parse, and feedparser's
    lenient parser reads them as text."""
    start = text.find("<!DOCTYPE", 0, 4096)
    if start < 0 or _ELEMENT_START.search(text, 0, start):
        return text
    bracket = text.find("[", start)
    close = text.find(">", start)
    if bracket < 0 or close < bracket:
        return text  # no internal subset: an external DTD reference, never fetched
    end = _SUBSET_END.search(text, bracket)
    if end is None:
        return text[:start]  # an unterminated subset: nothing after it is a feed
    return text[:start] + text[end.end() :]


def _xml_entry(raw: Mapping[str, Any]) -> FeedEntry:
    link = _http(_text(_field(raw, "link")))
    raw_date = _text(_field(raw, "published")) or _text(_field(raw, "updated"))
    parsed = _field(raw, "published_parsed") or _field(raw, "updated_parsed")
    content = None
    contents = _field(raw, "content")
    if isinstance(contents, list):
        html = [c for c in contents if isinstance(c, Mapping) and "html" in str(_field(c, "type"))]
        chosen = (html or contents)[0] if contents else None
        content = _text(_field(chosen, "value")) if isinstance(chosen, Mapping) else None
        if content and isinstance(chosen, Mapping) and "html" in str(_field(chosen, "type")):
            content = html_value(content)  # no tag: text, whose entities are undone here
    summary = _text(_field(raw, "summary"))
    detail = _field(raw, "summary_detail")
    if summary and isinstance(detail, Mapping) and "html" in str(_field(detail, "type")):
        summary = html_value(summary)
    tags = tuple(
        str(_field(tag, "term")).strip()
        for tag in _field(raw, "tags") or ()
        if isinstance(tag, Mapping) and str(_field(tag, "term") or "").strip()
    )
    return FeedEntry(
        id=_text(_field(raw, "id")),
        title=_title(raw),
        link=link,
        summary=summary,
        content=content,
        published=_published(raw_date, parsed),
        author=_text(_field(raw, "author")),
        tags=tags,
    )


def _raw_item(spec: SourceSpec, entry: FeedEntry, media: str | None) -> RawItem:
    link = _http(entry.link)
    return RawItem(
        source=spec.id,
        upstream_id=entry_id(entry.id, link, entry.title, entry.published),
        title=entry.title,
        summary=entry.summary,
        content=entry.content,
        url=link,
        published=entry.published,
        media=media,
        author=entry.author,
        fulltext_key=link,
        extra={"tags": entry.tags} if entry.tags else {},
    )


def _with_record(raw: RawItem, entry: FeedEntry) -> RawItem:
    """``raw`` with its entry kept as the record ``parse_record`` reads back."""
    fields = {field.name: getattr(entry, field.name) for field in dataclasses.fields(entry)}
    fields["tags"] = list(entry.tags)
    record = json.dumps(
        {"entry": fields, "media": raw.media}, ensure_ascii=False, separators=(",", ":")
    )
    return dataclasses.replace(raw, record=record, record_format="feed-entry")


def _field(mapping: Mapping[str, Any], key: str) -> Any:
    # dict.get, not FeedParserDict.get: the latter maps missing keys to others (updated to
    # published) with a DeprecationWarning.
    return dict.get(mapping, key) if isinstance(mapping, dict) else mapping.get(key)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _http(link: str | None) -> str | None:
    if not link:
        return None
    link = link.strip()
    return link if urlsplit(link).scheme in ("http", "https") else None


def _title(raw: Mapping[str, Any]) -> str | None:
    title = _text(_field(raw, "title"))
    detail = _field(raw, "title_detail")
    if title and isinstance(detail, Mapping) and "html" in str(_field(detail, "type")):
        title = document(title).text_content().strip() or None
    return title


def _published(raw: str | None, parsed: object) -> str | int | None:
    """The date as the normaliser wants it: ISO text as written (no offset: Beijing), an
    RFC 822 date without a zone as Beijing wall-clock text, anything else that feedparser
    read as Unix seconds."""
    if raw is not None:
        text = raw.strip()
        if _ISO_LIKE.fullmatch(text) or _ISO_WITH_ZONE.fullmatch(text):
            return text
        rfc822 = email.utils.parsedate_tz(text)
        if rfc822 is not None:
            zone = _RFC822_ZONE.search(text)
            try:
                if zone is not None and (zone["zone"] or "CST").upper() == "CST":
                    wall = datetime(*rfc822[:6], tzinfo=_BEIJING)
                    return wall.strftime("%Y-%m-%d %H:%M:%S")
                return int(email.utils.mktime_tz(rfc822))
            except (ValueError, OverflowError):
                return None
    if isinstance(parsed, tuple) and len(parsed) >= 6:
        try:
            return int(calendar.timegm(parsed))
        except (ValueError, OverflowError, TypeError):
            return None
    return None


def _next_link(links: object) -> str | None:
    if not isinstance(links, Iterable):
        return None
    for link in links:
        if isinstance(link, Mapping) and _field(link, "rel") == "next":
            return _http(_text(_field(link, "href")))
    return None


#: The adapter object the registry serves.
FEED = FeedAdapter()
