"""What every source adapter is: pure request builders and parsers, no network.

An adapter turns a :class:`~finews.models.SourceSpec` into the first :class:`Request` of a
poll, turns each reply body into a :class:`Page` (items, dropped items with reasons, and
the request for the next, older page if there is one), and does the same for full text.
``finews.refresh`` is the one place that sends the requests and stores the results.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

# Setting and its checks live in models (config reads them too); adapters import them here
from finews.models import (
    Dropped,
    RawItem,
    Setting,
    SourceSpec,
    header_text,
    http_url,
    http_urls,
)

__all__ = [
    "Adapter",
    "Page",
    "Request",
    "Setting",
    "header_text",
    "http_url",
    "http_urls",
    "options_of",
    "parse_options",
]

_Options = TypeVar("_Options")


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP GET an adapter wants sent. ``fallback_urls`` are tried in order on failure.

    ``guarded`` marks a URL that came from a user or an upstream (a feed, a link in it):
    the client then refuses private, loopback and link-local addresses (``fetch.guard``)."""

    url: str
    params: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    fallback_urls: tuple[str, ...] = ()
    guarded: bool = False


@dataclass(frozen=True, slots=True)
class Page:
    """One parsed reply: the items in upstream order (newest first), the dropped ones with a
    reason, and the request for the next page, or ``None`` at the end.

    ``next_is_older`` says that ``next`` asks for older items of the same list, so a poll
    may stop once it meets stored items; ``False`` means ``next`` is another list (another
    market type) that must be asked for regardless.

    ``lossy`` says, when set, that the reply's bytes did not all decode in the charset
    used (some became U+FFFD): the items are kept, and the poll records the warning."""

    items: list[RawItem]
    dropped: list[Dropped] = field(default_factory=list)
    next: Request | None = None
    next_is_older: bool = True
    lossy: str | None = None


class Adapter(Protocol):
    """The interface of a source adapter module object (see ``finews.sources.registry``)."""

    #: adapter name used in configuration, e.g. ``"eastmoney_fast"``
    name: str
    #: one line for ``finews sources`` and the README
    description: str
    #: settings this adapter reads, with defaults (upstream URLs included)
    settings: tuple[Setting, ...]
    #: the frozen dataclass of those settings (one attribute per :attr:`settings` entry,
    #: in that order; a list setting is a tuple), which ``finews.config`` builds once per
    #: source as ``SourceSpec.options``
    options_class: type[Any]
    #: the :class:`~finews.models.RawItem` fields its items need (``"title|summary"``: either
    #: will do); a page whose items all lack one raises the source's format alarm
    #: (:mod:`finews.formatwatch`)
    required_fields: tuple[str, ...]

    def first_page(self, spec: SourceSpec) -> Request:
        """The request for the newest page."""

    def parse_page(
        self, spec: SourceSpec, body: bytes, request: Request, *, charset: str | None = None
    ) -> Page:
        """Parse one reply. Raise ``ParseError`` when the envelope is not the known shape;
        drop single bad items into ``Page.dropped`` with a reason.

        ``charset`` is the ``charset`` of the reply's ``Content-Type`` header, if any: a
        document's decoder ranks it after a byte-order mark and before the document's own
        declaration. JSON adapters ignore it (JSON is UTF-8)."""

    def parse_record(self, spec: SourceSpec, record: str) -> RawItem | Dropped:
        """Read one kept item record again (``finews reparse``): the ``RawItem.record`` that
        ``parse_page`` gave an item, through the same per-entry code, so that a fixed
        parser repairs stored items. A record that no longer reads is dropped with why."""

    def fulltext_request(self, spec: SourceSpec, item: RawItem) -> Request | None:
        """The request for an item's full text, or ``None`` when there is nothing to fetch."""

    def parse_fulltext(self, spec: SourceSpec, body: bytes, item: RawItem) -> str:
        """The full text in a reply; ``""`` when the upstream has none. ``ParseError`` on a
        reply that is not in the known shape."""


def parse_options(
    kind: type[_Options], declared: tuple[Setting, ...], values: Mapping[str, Any]
) -> _Options:
    """The ``kind`` dataclass of the ``declared`` settings: each from ``values`` (already
    checked against its :class:`Setting`: ``finews.config`` does that as settings load),
    else its default; a list becomes a tuple, as the dataclass is frozen."""
    return kind(
        **{
            option.name: tuple(value) if isinstance(value, list) else value
            for option in declared
            for value in [values.get(option.name, option.default)]
        }
    )


def options_of(spec: SourceSpec, kind: type[_Options], declared: tuple[Setting, ...]) -> _Options:
    """``spec``'s settings as the adapter's ``kind`` dataclass: the one made when the
    settings loaded, or, for a spec made by hand (tests, the REPL), one made from its
    ``settings`` over the ``declared`` defaults."""
    if isinstance(spec.options, kind):
        return spec.options
    return parse_options(kind, declared, spec.settings)
