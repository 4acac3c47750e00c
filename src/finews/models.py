"""Frozen values that cross the pipeline's stages.

``RawItem`` is what a source adapter reads out of an upstream payload; ``Item`` is the
normalised article the store keeps and every publisher reads. ``SourceState`` is the
persisted health of one source. ``Setting`` declares one setting (global or an
adapter's) with the values it allows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "IMPORTANCE_HIGH",
    "IMPORTANCE_NORMAL",
    "IMPORTANCE_TOP",
    "Dropped",
    "Item",
    "RawItem",
    "RawRecord",
    "Setting",
    "SourceSpec",
    "SourceState",
    "UpsertResult",
    "Validators",
    "header_text",
    "http_url",
    "http_urls",
]

#: One importance scale for every source: 0 ordinary, 1 highlighted, 2 major.
IMPORTANCE_NORMAL = 0
IMPORTANCE_HIGH = 1
IMPORTANCE_TOP = 2


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """One configured source: its id, which adapter reads it, and that adapter's settings.

    ``settings`` holds every setting of the source (the common ones and those the adapter
    declares), defaults filled in and values validated (every upstream URL is one of
    them). ``options`` is the adapter's own settings as its frozen dataclass, parsed once
    when the settings load (``finews.config``); adapters read its attributes. A spec made
    by hand (tests, the REPL) may leave it ``None``: the adapter then reads ``settings``
    over its declared defaults (``finews.sources.base.options_of``).
    """

    id: str
    adapter: str
    enabled: bool = True
    name: str = ""
    settings: Mapping[str, Any] = field(default_factory=dict)
    options: object = None

    def get(self, key: str, default: Any = None) -> Any:
        """One setting's value."""
        return self.settings.get(key, default)


@dataclass(frozen=True, slots=True)
class RawItem:
    """One item as an adapter read it, before any clean-up.

    ``published`` is what the upstream gave: a Beijing wall-clock string
    ``"YYYY-MM-DD HH:MM:SS"``, Unix seconds, or ``None``. ``fulltext_key`` names what the
    source's full-text endpoint needs (an infoCode), or ``None`` when there is none.
    ``url`` is ``None`` when the upstream gives no link (the Jekyll export then builds a
    share link), and ``""`` when it gave an explicitly empty one.
    """

    source: str
    upstream_id: str
    title: str | None = None
    summary: str | None = None
    content: str | None = None
    url: str | None = None
    published: str | int | float | None = None
    media: str | None = None
    kind: str = "news"
    importance: int = IMPORTANCE_NORMAL
    stocks: tuple[str, ...] = ()
    author: str | None = None
    fulltext_key: str | None = None
    cursor: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    #: the item's own part of the upstream reply, as text (the JSON object re-serialised,
    #: the feed entry), kept in the store so ``finews reparse`` can read it again; its
    #: ``record_format`` names what an adapter's ``parse_record`` takes back
    record: str | None = field(default=None, repr=False, compare=False)
    record_format: str = "json"
    #: the reply body of the item's full-text request (the article HTML), kept likewise
    article: bytes | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class RawRecord:
    """An item's raw upstream data, compressed, as the store keeps it (``item_raw``): each
    part zlib-compressed, its format naming compression and kind (``"zlib:json"``), both
    ``None`` when that part is not kept. See :mod:`finews.store.raw`."""

    record: bytes | None = None
    record_format: str | None = None
    article: bytes | None = None
    article_format: str | None = None


@dataclass(frozen=True, slots=True)
class Item:
    """A normalised article: what the store keeps and every publisher reads.

    Times are timezone-aware UTC. ``digest`` is the summary without its ``【title】`` head;
    ``content`` is the full text (sanitised HTML or plain text), ``""`` when not (yet) known.
    ``category`` is the URL slug, ``tag`` the display tag (media name + 新闻).
    """

    source: str
    upstream_id: str
    title: str
    published_at: datetime
    fetched_at: datetime
    digest: str = ""
    content: str = ""
    url: str | None = None
    media: str | None = None
    category: str = ""
    tag: str = ""
    kind: str = "news"
    importance: int = IMPORTANCE_NORMAL
    stocks: tuple[str, ...] = ()
    author: str | None = None
    fulltext_key: str | None = None
    revision: int = 1
    id: int | None = None
    #: what normalising changed of the upstream's values, with the values it replaced (a
    #: date out of range): the store keeps each in ``item_faults``; not a content field,
    #: not compared, and empty on items read back from the store
    notes: tuple[str, ...] = field(default=(), compare=False)
    #: the fetch time stands in for a publication time the upstream did not give (or gave
    #: out of range): a re-poll keeps the stored time instead of moving the item each poll
    published_guessed: bool = field(default=False, compare=False)
    #: the sanitiser version (``normalize.sanitize.SANITIZER_VERSION``) whose rules made
    #: ``content``: set by ``normalize_item`` only, stored with the text (``None``: unknown,
    #: as for a body stored by any other path, which pages sanitise again as they render
    #: it); not a content field: a change of it alone makes no revision
    sanitizer: int | None = field(default=None, compare=False)
    #: the reading this item was normalised from: the store keeps its ``record`` and
    #: ``article`` beside a new or changed item (``item_raw``, compressed only then);
    #: ``None`` on items read back from the store
    raw: RawItem | None = field(default=None, compare=False, repr=False)

    def replace(self, **changes: Any) -> Item:
        """Return a copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)

    def as_raw(self) -> RawItem:
        """This stored item as an adapter's full-text step sees an item (the daemon's
        full-text worker and ``finews reparse`` hand it to ``fulltext_request`` and
        ``parse_fulltext``)."""
        return RawItem(
            source=self.source,
            upstream_id=self.upstream_id,
            title=self.title,
            summary=self.digest,
            url=self.url,
            published=self.published_at.timestamp(),
            media=self.media,
            kind=self.kind,
            importance=self.importance,
            stocks=self.stocks,
            author=self.author,
            fulltext_key=self.fulltext_key,
        )

    def content_fields(self) -> tuple[object, ...]:
        """The fields whose change makes a new revision (not fetch time or row id)."""
        return (
            self.title,
            self.digest,
            self.content,
            self.url,
            self.media,
            self.published_at,
            self.importance,
            self.stocks,
            self.author,
        )


@dataclass(frozen=True, slots=True)
class Dropped:
    """An item an adapter or a normalising step refused, with the reason."""

    source: str
    upstream_id: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class UpsertResult:
    """What one store write did."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    #: items the store refused (each logged, with its reason, and kept in ``item_faults``)
    dropped: tuple[Dropped, ...] = ()


@dataclass(frozen=True, slots=True)
class SourceState:
    """The persisted health of one source."""

    source: str
    last_attempt: datetime | None = None
    last_success: datetime | None = None
    last_error: str | None = None
    consecutive_failures: int = 0
    next_poll: datetime | None = None
    cursor: str | None = None

    def replace(self, **changes: Any) -> SourceState:
        """Return a copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True, slots=True)
class Validators:
    """The HTTP validators of one reply, for a conditional GET of the next poll:
    ``request_url`` identifies the request (url and sorted query) they belong to; at least
    one of ``etag`` and ``last_modified`` is set. The store keeps them
    (:mod:`finews.store.validators`); the fetcher is given them
    (:mod:`finews.fetch.conditional`)."""

    request_url: str
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class Setting:
    """One setting (global, or one an adapter declares): its name, type, default, what it
    means, and what values it allows. ``finews.config`` checks every value against this
    at start-up: ``choices`` (if any), a number between ``minimum`` and ``maximum`` (both
    included; numbers must be finite), and ``check``, which returns what is allowed when
    a value is wrong (``None`` when it is fine)."""

    name: str
    type: type
    default: Any
    help: str
    choices: tuple[Any, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    check: Callable[[Any], str | None] | None = None


def header_text(value: Any) -> str | None:
    """A value sent in an HTTP header: printable ASCII only (a header cannot carry other
    characters, and a line break in one would start another header)."""
    if all(" " <= char <= "~" for char in str(value)):
        return None
    return (
        "printable ASCII only (HTTP headers cannot carry other characters); "
        "write non-ASCII text percent-encoded, e.g. %E6%B5%8F"
    )


def http_url(value: Any) -> str | None:
    """A URL finews fetches: ``http://`` or ``https://`` with a host (empty: unset)."""
    text = str(value).strip()
    if not text:
        return None
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a port out of range
    except ValueError:
        return "an http:// or https:// URL (this one cannot be read)"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "an http:// or https:// URL with a host"
    return None


def http_urls(value: Any) -> str | None:
    """A list of URLs finews fetches (fallbacks), each as :func:`http_url` wants it."""
    if not isinstance(value, list | tuple) or not all(isinstance(url, str) for url in value):
        return "a list of http:// or https:// URLs"
    problems = [problem for problem in map(http_url, value) if problem is not None]
    if problems or any(not url.strip() for url in value):
        return "a list of http:// or https:// URLs with a host"
    return None
