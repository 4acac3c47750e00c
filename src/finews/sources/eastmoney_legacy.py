"""East Money's legacy list endpoints, as the original finews scripts polled them.

Three lists share one full-text endpoint (``GetNewsText.do?id=<infoCode>``):

* ``eastmoney_rolling``: rolling news, ``type=102``, list key ``records``;
* ``eastmoney_media``: media news, ``type=45``, list key ``nodeList``;
* ``eastmoney_market``: market news, one list per ``marketType`` (37, 38, 39), key ``record``.

The hosts are raw IPs from about 2021-22 and are historical (see upstreams.md 1e); every URL
is a setting so an archive mirror or the demo upstream can stand in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from finews.errors import ParseError
from finews.models import Dropped, RawItem, SourceSpec
from finews.sources._json import (
    collect,
    describe,
    list_at,
    load_json,
    object_at,
    reparse_record,
    text_field,
    time_field,
)
from finews.sources.base import Page, Request, Setting, http_url, options_of

__all__ = ["MARKET", "MEDIA", "ROLLING", "LegacyList", "LegacySettings", "MarketSettings"]

_WEBAPI = "http://183.136.162.242/web/webapi"
_MARKET_WEBAPI = "http://43.240.125.15:1818/information/newmarket/web/webapi"
_FULLTEXT = "http://choicewzp1.eastmoney.com/NewsData/GetNewsText.do"

_FULLTEXT_SETTING = Setting(
    "fulltext_url",
    str,
    _FULLTEXT,
    "full-text endpoint, asked with ?id=<infoCode>",
    check=http_url,
)
_COUNT_SETTING = Setting(
    "count", int, 100, "items asked for per list request", minimum=1, maximum=1000
)


def _market_types(value: Any) -> str | None:
    """``market_types``: a non-empty list of whole numbers (as numbers or digits)."""
    if isinstance(value, list) and value:
        parts = [part for part in value if not isinstance(part, bool)]
        if len(parts) == len(value) and all(
            isinstance(part, int)
            or (isinstance(part, str) and part.strip().isascii() and part.strip().isdigit())
            for part in parts
        ):
            return None
    return "a non-empty list of whole numbers, e.g. [37, 38, 39]"


@dataclass(frozen=True, slots=True)
class LegacySettings:
    """The settings of an ``eastmoney_rolling`` or ``eastmoney_media`` source."""

    url: str
    count: int
    fulltext_url: str


@dataclass(frozen=True, slots=True)
class MarketSettings(LegacySettings):
    """The settings of an ``eastmoney_market`` source."""

    market_types: tuple[int | str, ...]


class LegacyList:
    """What the three legacy lists share: list parsing and the full-text endpoint.

    Subclasses say which list key and id fields they read, how to build the first request
    and an item, and (market news only) which request comes next.
    """

    name: str = ""
    description: str = ""
    #: RawItem fields every reply's items must have ("a|b": either); see finews.formatwatch
    required_fields: tuple[str, ...] = ("title", "published")
    settings: tuple[Setting, ...] = ()
    options_class: type[LegacySettings] = LegacySettings
    list_key: str = ""
    id_fields: tuple[str, ...] = ()

    def options(self, spec: SourceSpec) -> LegacySettings:
        """``spec``'s settings, typed."""
        return options_of(spec, self.options_class, self.settings)

    def first_page(self, spec: SourceSpec) -> Request:
        """The request for the newest page."""
        raise NotImplementedError

    def item(self, spec: SourceSpec, entry: Mapping[str, Any], upstream_id: str) -> RawItem:
        """One entry of the list as a RawItem (``ItemError`` on a bad field)."""
        raise NotImplementedError

    #: whether ``next_request`` pages back in time (else it moves to another list)
    pages_back = True

    def next_request(self, spec: SourceSpec, request: Request) -> Request | None:
        """The request after ``request``; these lists have a single page by default."""
        return None

    def parse_page(
        self, spec: SourceSpec, body: bytes, request: Request, *, charset: str | None = None
    ) -> Page:
        """Parse one list reply into items and dropped entries."""
        data = load_json(body, spec.id, request.url)
        entries = list_at(data, self.list_key, spec.id, request.url)
        items, dropped = collect(
            spec, entries, self.id_fields, lambda entry, uid: self.item(spec, entry, uid)
        )
        return Page(
            items=items,
            dropped=dropped,
            next=self.next_request(spec, request),
            next_is_older=self.pages_back,
        )

    def parse_record(self, spec: SourceSpec, record: str) -> RawItem | Dropped:
        """One kept item record (``finews reparse``) read as ``parse_page`` reads it."""
        return reparse_record(
            spec, record, self.id_fields, lambda entry, uid: self.item(spec, entry, uid)
        )

    def fulltext_request(self, spec: SourceSpec, item: RawItem) -> Request | None:
        """``GetNewsText.do?id=<infoCode>``, or ``None`` for an item without an infoCode."""
        if not item.fulltext_key:
            return None
        return Request(url=self.options(spec).fulltext_url, params={"id": item.fulltext_key})

    def parse_fulltext(self, spec: SourceSpec, body: bytes, item: RawItem) -> str:
        """The text under ``content`` (rolling news) or ``text`` (media, market); accept
        either. Missing, null or empty gives ``""``."""
        url = f"{self.options(spec).fulltext_url}?id={item.fulltext_key or ''}"
        reply = object_at(load_json(body, spec.id, url), "the full-text reply", spec.id, url)
        for key in ("content", "text"):
            value = reply.get(key)
            if value is None:
                continue
            if not isinstance(value, str):
                raise ParseError(
                    f"expected text under {key!r}, got {describe(value)}", source=spec.id, url=url
                )
            if value:
                return value
        return ""

    def _list_request(self, spec: SourceSpec, **params: str) -> Request:
        options = self.options(spec)
        return Request(url=options.url, params={**params, "count": str(options.count)})


class RollingNews(LegacyList):
    """Rolling news (``type=102``): the original ``emnews`` category."""

    name = "eastmoney_rolling"
    description = "East Money rolling news (legacy type=102 list; historical endpoint)"
    settings: tuple[Setting, ...] = (
        Setting("url", str, _WEBAPI, "legacy list endpoint (asked with type=102)", check=http_url),
        _COUNT_SETTING,
        _FULLTEXT_SETTING,
    )
    list_key = "records"
    id_fields = ("id",)

    def first_page(self, spec: SourceSpec) -> Request:
        """``?type=102&count=<count>&newsid=1``."""
        return self._list_request(spec, type="102", newsid="1")

    def item(self, spec: SourceSpec, entry: Mapping[str, Any], upstream_id: str) -> RawItem:
        """``id``, ``title``, ``digest``, ``url_w``, ``showtime``, ``infoCode``."""
        return RawItem(
            source=spec.id,
            upstream_id=upstream_id,
            title=text_field(entry, "title"),
            summary=text_field(entry, "digest"),
            # The original wrote a missing link as "<>": keep "given but empty" apart from None.
            url=text_field(entry, "url_w") or "",
            published=time_field(entry, "showtime"),
            fulltext_key=text_field(entry, "infoCode") or None,
            kind="rolling",
        )


class MediaNews(LegacyList):
    """Media news (``type=45``): one category per media name."""

    name = "eastmoney_media"
    description = "East Money media news (legacy type=45 list; historical endpoint)"
    settings: tuple[Setting, ...] = (
        Setting("url", str, _WEBAPI, "legacy list endpoint (asked with type=45)", check=http_url),
        _COUNT_SETTING,
        _FULLTEXT_SETTING,
    )
    list_key = "nodeList"
    id_fields = ("infocode",)

    def first_page(self, spec: SourceSpec) -> Request:
        """``?type=45&count=<count>&newsid=1``."""
        return self._list_request(spec, type="45", newsid="1")

    def item(self, spec: SourceSpec, entry: Mapping[str, Any], upstream_id: str) -> RawItem:
        """``infocode`` (lower case), ``title``, ``showtime``, ``from``."""
        return RawItem(
            source=spec.id,
            upstream_id=upstream_id,
            title=text_field(entry, "title"),
            published=time_field(entry, "showtime"),
            media=text_field(entry, "from"),
            fulltext_key=upstream_id,
            kind="media",
        )


class MarketNews(LegacyList):
    """Market news: one request per ``marketType``, chained as pages."""

    name = "eastmoney_market"
    description = "East Money market news (legacy marketType 37/38/39 lists; historical endpoint)"
    settings: tuple[Setting, ...] = (
        Setting("url", str, _MARKET_WEBAPI, "legacy market list endpoint", check=http_url),
        Setting(
            "market_types",
            list,
            [37, 38, 39],
            "marketType values (whole numbers), asked in this order",
            check=_market_types,
        ),
        _COUNT_SETTING,
        _FULLTEXT_SETTING,
    )
    options_class = MarketSettings
    list_key = "record"
    id_fields = ("infoCode",)
    pages_back = False

    def options(self, spec: SourceSpec) -> MarketSettings:
        """``spec``'s settings, typed."""
        return options_of(spec, MarketSettings, self.settings)

    def market_types(self, spec: SourceSpec) -> list[str]:
        """The configured ``marketType`` values as request parameters (the setting's check
        made them whole numbers when the settings loaded)."""
        return [str(part).strip() for part in self.options(spec).market_types]

    def first_page(self, spec: SourceSpec) -> Request:
        """The list of the first market type."""
        return self._list_request(spec, marketType=self.market_types(spec)[0])

    def next_request(self, spec: SourceSpec, request: Request) -> Request | None:
        """The list of the market type after the one ``request`` asked for."""
        types = self.market_types(spec)
        current = request.params.get("marketType")
        if current not in types or types.index(current) + 1 == len(types):
            return None
        return self._list_request(spec, marketType=types[types.index(current) + 1])

    def item(self, spec: SourceSpec, entry: Mapping[str, Any], upstream_id: str) -> RawItem:
        """``infoCode``, ``title``, ``datetime``, ``medianame``."""
        return RawItem(
            source=spec.id,
            upstream_id=upstream_id,
            title=text_field(entry, "title"),
            published=time_field(entry, "datetime"),
            media=text_field(entry, "medianame"),
            fulltext_key=upstream_id,
            kind="market",
        )


#: The adapter objects the registry serves.
ROLLING = RollingNews()
MEDIA = MediaNews()
MARKET = MarketNews()
