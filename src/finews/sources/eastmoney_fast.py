"""East Money 7x24 fast news (全球财经快讯): ``getFastNewsList`` (upstreams.md 1a).

The newest page is asked with an empty ``sortEnd``; each reply carries ``data.sortEnd``,
sent back to get the next, older page. ``np-weblist`` is intermittently blocked, so the
request lists ``np-listapi`` (same path, same reply) as a fallback URL. Items have no link:
it is built from the item code. ``column`` picks the list: ``102`` 7x24 全球直播, ``100``
焦点 (the ``em_focus`` source), ``101`` 要闻 (as RSSHub's ``eastmoney/kuaixun`` route labels
them). A reply ``{"code": "1", "message": "success", "data": null}`` (what the list answers
past its end) ends the walk.

Full text: with ``fulltext`` on, each new item's article page is read
(:mod:`finews.sources.eastmoney_article`). This adapter declares ``fulltext`` itself,
**off** by default: a flash is whole in its summary and most have no article page, so the
default would cost one failing request per flash.

Mapped to finews's common meanings: ``titleColor`` other than 0 → importance 1 (the red
headline; an inference, see upstreams.md 1a); ``stockList`` (``1.600519``) → ``stocks`` in
finews notation (``sh600519``, see :mod:`finews.sources.securities`); ``image`` →
``extra["images"]``.

Evidence: akshare ``akshare/stock_feature/stock_info.py`` ``stock_info_global_em``
(2026-07-22, commit 3dc1dbd) sends ``client=web&biz=web_724&fastColumn=102&sortEnd=&pageSize``
and a ``req_trace`` with python-requests' User-Agent and reads ``data.fastNewsList``;
RSSHub ``lib/routes/eastmoney/kuaixun.ts`` (the lucking7/RSSHub copy, stored commit
75a3419) sends the same parameters with ``Referer: https://kuaixun.eastmoney.com`` and
labels fastColumn 100 焦点, 101 要闻, 102 7*24全球直播. Both hosts accept a non-browser
User-Agent, so finews sends its own (``http.user_agent``) unless ``user_agent`` is set.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, overload

from finews.errors import ParseError
from finews.models import IMPORTANCE_HIGH, IMPORTANCE_NORMAL, Dropped, RawItem, SourceSpec
from finews.sources._fields import image_urls
from finews.sources._json import (
    collect,
    describe,
    int_field,
    list_at,
    load_json,
    object_at,
    reparse_record,
    str_list_field,
    text_field,
    time_field,
)
from finews.sources.base import (
    Page,
    Request,
    Setting,
    header_text,
    http_url,
    http_urls,
    options_of,
)
from finews.sources.eastmoney_article import ARTICLE_SETTINGS, article_request, parse_article
from finews.sources.securities import securities

__all__ = [
    "FAST",
    "FastNews",
    "FastSettings",
    "ListSettings",
    "eastmoney_data",
    "eastmoney_trace",
]

# Part of req_trace: the upstream wants a unique value per request (reportedly 403s
# without one) and nothing parses it, so milliseconds plus a process-wide counter suffice.
_trace_counter = itertools.count(1)


@dataclass(frozen=True, slots=True)
class ListSettings:
    """The settings of both East Money list adapters: ``eastmoney_column`` (declared in
    ``ColumnNews.settings``) and, with ``fulltext``, ``eastmoney_fast``."""

    url: str
    fallback_urls: tuple[str, ...]
    column: str
    page_size: int
    referer: str
    article_url: str
    mobile_article_url: str


@dataclass(frozen=True, slots=True)
class FastSettings(ListSettings):
    """The settings of an ``eastmoney_fast`` source (declared in ``FastNews.settings``)."""

    fulltext: bool


class FastNews:
    """The ``eastmoney_fast`` adapter."""

    name = "eastmoney_fast"
    #: RawItem fields every reply's items must have ("a|b": either); see finews.formatwatch
    required_fields: tuple[str, ...] = ("title|summary", "published")
    description = "East Money 7x24 fast news (getFastNewsList, paged by sortEnd)"
    settings: tuple[Setting, ...] = (
        Setting(
            "url",
            str,
            "https://np-weblist.eastmoney.com/comm/web/getFastNewsList",
            "list endpoint",
            check=http_url,
        ),
        Setting(
            "fallback_urls",
            list,
            ["https://np-listapi.eastmoney.com/comm/web/getFastNewsList"],
            "endpoints tried in order when the list endpoint fails",
            check=http_urls,
        ),
        Setting("column", str, "102", "fastColumn: 102 = 7x24 全球直播, 100 = 焦点, 101 = 要闻"),
        Setting("page_size", int, 50, "items per page (pageSize)", minimum=1, maximum=1000),
        Setting(
            "referer",
            str,
            "https://kuaixun.eastmoney.com/",
            "Referer header sent",
            check=header_text,
        ),
        *ARTICLE_SETTINGS,
        Setting(
            "fulltext",
            bool,
            False,
            "read each new flash's article page (#ContentBody) for its full text",
        ),
    )
    options_class = FastSettings

    def options(self, spec: SourceSpec) -> FastSettings:
        """``spec``'s settings, typed."""
        return options_of(spec, FastSettings, self.settings)

    def first_page(self, spec: SourceSpec) -> Request:
        """The newest page: ``sortEnd`` empty."""
        return self._request(spec, sort_end="")

    def parse_page(
        self, spec: SourceSpec, body: bytes, request: Request, *, charset: str | None = None
    ) -> Page:
        """Check the envelope (``code`` must be the string ``"1"``), read
        ``data.fastNewsList``, and chain ``data.sortEnd`` into the next request."""
        url = request.url
        data = eastmoney_data(body, spec, url, null_ends=True)
        if data is None:
            return Page(items=[], next=None)  # "data": null past the last page: the end
        entries = list_at(data, "fastNewsList", spec.id, url)
        article_url = self.options(spec).article_url
        items, dropped = collect(
            spec, entries, ("code",), lambda entry, uid: self._item(spec, entry, uid, article_url)
        )
        sort_end = self._sort_end(data, spec, url)
        # An empty list ends the paging even if a cursor came: asking again would loop.
        next_request = self._request(spec, sort_end=sort_end) if entries and sort_end else None
        return Page(items=items, dropped=dropped, next=next_request)

    @staticmethod
    def _sort_end(data: Mapping[str, Any], spec: SourceSpec, url: str) -> str | None:
        value = data.get("sortEnd")
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, str):
            raise ParseError(
                f"expected 'data.sortEnd' to be text, got {describe(value)}",
                source=spec.id,
                url=url,
            )
        return value.strip() or None

    def parse_record(self, spec: SourceSpec, record: str) -> RawItem | Dropped:
        """One kept item record (``finews reparse``) read as ``parse_page`` reads it."""
        article_url = self.options(spec).article_url
        return reparse_record(
            spec, record, ("code",), lambda entry, uid: self._item(spec, entry, uid, article_url)
        )

    def fulltext_request(self, spec: SourceSpec, item: RawItem) -> Request | None:
        """The item's article page when ``fulltext`` is on, else nothing."""
        options = self.options(spec)
        if not options.fulltext:
            return None
        return article_request(options.article_url, options.mobile_article_url, item.upstream_id)

    def parse_fulltext(self, spec: SourceSpec, body: bytes, item: RawItem) -> str:
        """The ``#ContentBody`` of the article page (``ParseError`` when it has none)."""
        url = self.options(spec).article_url.replace("{code}", item.upstream_id)
        return parse_article(body, source=spec.id, url=url)

    def _request(self, spec: SourceSpec, *, sort_end: str) -> Request:
        options = self.options(spec)
        params = {
            "client": "web",
            "biz": "web_724",
            "fastColumn": options.column,
            "sortEnd": sort_end,
            "pageSize": str(options.page_size),
            "req_trace": eastmoney_trace(),
        }
        return Request(
            url=options.url,
            params=params,
            headers={"Referer": options.referer},
            fallback_urls=options.fallback_urls,
        )

    @staticmethod
    def _item(
        spec: SourceSpec, entry: Mapping[str, Any], upstream_id: str, article_url: str
    ) -> RawItem:
        color = int_field(entry, "titleColor")
        cursor = (text_field(entry, "realSort") or "").strip()
        return RawItem(
            source=spec.id,
            upstream_id=upstream_id,
            title=text_field(entry, "title"),
            summary=text_field(entry, "summary"),
            # replace(), not format(): a configured URL may hold other braces.
            url=article_url.replace("{code}", upstream_id),
            published=time_field(entry, "showTime"),
            kind="fast",
            importance=IMPORTANCE_HIGH if color else IMPORTANCE_NORMAL,
            stocks=securities(str_list_field(entry, "stockList")),
            cursor=cursor or None,
            extra=_images(entry),
        )


@overload
def eastmoney_data(
    body: bytes, spec: SourceSpec, url: str, *, null_ends: Literal[False] = False
) -> dict[str, Any]: ...


@overload
def eastmoney_data(
    body: bytes, spec: SourceSpec, url: str, *, null_ends: bool
) -> dict[str, Any] | None: ...


def eastmoney_data(
    body: bytes, spec: SourceSpec, url: str, *, null_ends: bool = False
) -> dict[str, Any] | None:
    """The ``data`` object of an East Money ``np-*`` reply, whose ``code`` must be the
    string ``"1"``; :class:`ParseError` naming the code and message otherwise.

    With ``null_ends``, a successful reply whose ``data`` is null gives ``None``: the list
    answers so past its last page."""
    reply = object_at(load_json(body, spec.id, url), "the reply", spec.id, url)
    code = reply.get("code")
    if code != "1":
        message = reply.get("message", reply.get("msg"))
        raise ParseError(
            f'expected code "1" (success), got code {code!r} with message {message!r}',
            source=spec.id,
            url=url,
        )
    if null_ends and reply.get("data", None) is None:
        return None
    return object_at(reply.get("data"), "'data'", spec.id, url)


def eastmoney_trace() -> str:
    """A fresh ``req_trace``: unique per request, as the upstream wants."""
    return f"{time.time_ns() // 1_000_000}{next(_trace_counter):06d}"


def _images(entry: Mapping[str, Any]) -> dict[str, Any]:
    images = image_urls(entry.get("image"))
    return {"images": images} if images else {}


#: The adapter object the registry serves.
FAST = FastNews()
