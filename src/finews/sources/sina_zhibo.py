"""Sina Finance 7x24 live feed (新浪财经 7×24 直播): ``zhibo/feed`` (upstreams.md 3).

``zhibo_id`` picks the feed: ``152`` 财经 (default), 151 政经, 153 综合, 155 市场, 164 国际,
242 行业. Pages are numbered (``page=1`` newest); each page with items asks for the next and an
empty list ends the walk. The reply must carry ``result.status.code`` 0; anything else is a
:class:`~finews.errors.ParseError` naming the code and message.

Items have no title: ``title`` stays ``None`` so the normaliser titles them the one way (the
``【…】`` head of the text, else its first sentence). Mapped to finews's common meanings:
``rich_text`` (may hold HTML) → summary; ``create_time`` (Beijing) → published; ``creator``
(a staff mail address) → author, its part before ``@`` only; any importance mark →
importance 1: ``is_top``, a non-zero ``top_value``, ``is_focus``, or the tag 焦点; ``ext`` (a
JSON *string*) → its ``docurl`` as the link (else the top-level ``docurl``, else the
``item_url`` setting) and its ``stocks`` → ``stocks`` in finews notation; ``tag[].name`` →
``extra["tags"]``; every ``<img>`` in ``rich_text`` and ``multimedia`` →
``extra["images"]``. The page size goes out under both spellings,
``pagesize`` and ``page_size``, at most 10.

Evidence:

- RSSHub ``lib/routes/sina/finance/zhibo.ts`` (stored version, commit 054ad84): sends
  ``zhibo_id``, ``pagesize`` (1-10: "接口单页最多 10 条"), ``tag``, ``dire``, ``dpc``, ``page``;
  reads ``result.data.feed.list`` (``rich_text``, ``create_time``, ``creator``, ``tag[]``,
  ``ext`` as a JSON string with ``docurl`` and ``stocks``, ``docurl``, ``multimedia``).
- akshare ``akshare/stock_feature/stock_info.py`` ``stock_info_global_sina`` (2026-07-22,
  commit 3dc1dbd): sends both ``page_size`` and ``pagesize``, no User-Agent of its own
  (python-requests'), reads ``create_time`` and ``rich_text``.
- go-stock ``backend/data/market_news_api.go`` (2025-07-12, commit 38f8367): sends both
  spellings with a browser User-Agent and ``Referer: https://finance.sina.com.cn``, marks an
  item whose ``tag[].name`` holds 焦点 as important.
- Issue 18 reports a 2025-12 reply with ``top_value`` and ``is_focus`` and no ``is_top``;
  every one of these marks is read.

On by default (the ``sina_zhibo`` source): two independent clients of 2025-2026, akshare and
go-stock, read the same reply shape (``result.data.feed.list``, ``rich_text``,
``create_time``). ``required_fields``: the text and its time; a page without them raises the
format alarm (:mod:`finews.formatwatch`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from finews.errors import ParseError
from finews.models import IMPORTANCE_HIGH, IMPORTANCE_NORMAL, Dropped, RawItem, SourceSpec
from finews.sources._fields import (
    BROWSER_USER_AGENT,
    html_image_urls,
    json_in_string,
    next_page_number,
    truthy_flag,
    user_agent_setting,
    with_user_agent,
)
from finews.sources._json import (
    ItemError,
    collect,
    describe,
    list_at,
    load_json,
    object_at,
    reparse_record,
    text_field,
    time_field,
)
from finews.sources.base import Page, Request, Setting, header_text, http_url, options_of
from finews.sources.securities import securities

__all__ = ["ZHIBO", "SinaZhibo"]

_MAX_PAGE_SIZE = 10
# go-stock marks an item whose tags hold 焦点 as important (red).
_FOCUS_TAG = "焦点"


@dataclass(frozen=True, slots=True)
class ZhiboSettings:
    """The settings of a ``sina_zhibo`` source (declared in ``SinaZhibo.settings``)."""

    url: str
    zhibo_id: str
    tag_id: str
    page_size: int
    referer: str
    item_url: str
    user_agent: str


class SinaZhibo:
    """The ``sina_zhibo`` adapter."""

    name = "sina_zhibo"
    #: RawItem fields every reply's items must have ("a|b": either); see finews.formatwatch
    required_fields: tuple[str, ...] = ("summary", "published")
    description = "Sina Finance 7x24 live feed (zhibo/feed, zhibo_id 152; paged by number)"
    settings: tuple[Setting, ...] = (
        Setting(
            "url", str, "https://zhibo.sina.com.cn/api/zhibo/feed", "feed endpoint", check=http_url
        ),
        Setting("zhibo_id", str, "152", "feed: 152 财经, 151 政经, 153 综合, 155 市场, 164 国际"),
        Setting("tag_id", str, "0", "tag filter; 0 = all"),
        Setting(
            "page_size",
            int,
            10,
            "items per page, sent as pagesize and page_size (the upstream gives at most 10)",
            minimum=1,
            maximum=1000,
        ),
        Setting(
            "referer",
            str,
            "https://finance.sina.com.cn/7x24/",
            "Referer header sent",
            check=header_text,
        ),
        Setting(
            "item_url",
            str,
            "https://finance.sina.com.cn/7x24/",
            "link of an item whose ext carries no docurl",
            check=http_url,
        ),
        user_agent_setting(BROWSER_USER_AGENT),
    )
    options_class = ZhiboSettings

    def options(self, spec: SourceSpec) -> ZhiboSettings:
        """``spec``'s settings, typed."""
        return options_of(spec, ZhiboSettings, self.settings)

    def first_page(self, spec: SourceSpec) -> Request:
        """Page 1: the newest items."""
        return self._request(spec, 1)

    def parse_page(
        self, spec: SourceSpec, body: bytes, request: Request, *, charset: str | None = None
    ) -> Page:
        """Check ``result.status.code``, read ``result.data.feed.list``, ask for the next
        page number while the page had entries."""
        url = request.url
        reply = object_at(load_json(body, spec.id, url), "the reply", spec.id, url)
        result = object_at(reply.get("result"), "'result'", spec.id, url)
        status = object_at(result.get("status"), "'result.status'", spec.id, url)
        code = status.get("code")
        if code not in (0, "0"):
            raise ParseError(
                f"expected result.status.code 0, got {describe(code)} "
                f"with message {status.get('msg')!r}",
                source=spec.id,
                url=url,
            )
        data = object_at(result.get("data"), "'result.data'", spec.id, url)
        feed = object_at(data.get("feed"), "'result.data.feed'", spec.id, url)
        entries = list_at(feed, "list", spec.id, url)
        fallback_url = self.options(spec).item_url
        items, dropped = collect(
            spec, entries, ("id",), lambda entry, uid: _item(spec, entry, uid, fallback_url)
        )
        following = self._request(spec, next_page_number(request, "page"))
        return Page(items=items, dropped=dropped, next=following if entries else None)

    def parse_record(self, spec: SourceSpec, record: str) -> RawItem | Dropped:
        """One kept item record (``finews reparse``) read as ``parse_page`` reads it."""
        fallback_url = self.options(spec).item_url
        return reparse_record(
            spec, record, ("id",), lambda entry, uid: _item(spec, entry, uid, fallback_url)
        )

    def fulltext_request(self, spec: SourceSpec, item: RawItem) -> Request | None:
        """Nothing: a live item is whole in the feed."""
        return None

    def parse_fulltext(self, spec: SourceSpec, body: bytes, item: RawItem) -> str:
        """Never asked; there is no full text."""
        return ""

    def _request(self, spec: SourceSpec, page: int) -> Request:
        options = self.options(spec)
        # RSSHub: "接口单页最多 10 条"; a larger size is answered with 10 anyway.
        size = str(max(1, min(_MAX_PAGE_SIZE, options.page_size)))
        params = {
            "zhibo_id": options.zhibo_id,
            "tag_id": options.tag_id,
            "page": str(page),
            # RSSHub sends pagesize, akshare and go-stock both spellings: send both.
            "pagesize": size,
            "page_size": size,
            "dire": "f",
            "dpc": "1",
        }
        headers = {"Referer": options.referer}
        return Request(
            url=options.url,
            params=params,
            headers=with_user_agent(options.user_agent, headers),
        )


def _stocks(ext: Mapping[str, Any]) -> tuple[str, ...]:
    listed = ext.get("stocks")
    if listed is None:
        return ()
    if not isinstance(listed, list):
        raise ItemError(f"field 'ext.stocks' should be a list, got {describe(listed)}")
    codes: list[str] = []
    for stock in listed:
        if not isinstance(stock, dict) or not isinstance(stock.get("symbol"), str):
            continue  # a stock we cannot read is not worth the whole item
        market = stock.get("market")
        symbol = stock["symbol"].strip()
        # Sina names the market apart for Hong Kong and US symbols ("00700", "aapl").
        codes.append(f"{market}{symbol}" if market in ("hk", "us") else symbol)
    return securities(codes)


def _tags(entry: Mapping[str, Any]) -> tuple[str, ...]:
    listed = entry.get("tag")
    if not isinstance(listed, list):
        return ()
    names = (tag.get("name") for tag in listed if isinstance(tag, dict))
    return tuple(name.strip() for name in names if isinstance(name, str) and name.strip())


def _important(entry: Mapping[str, Any], tags: tuple[str, ...]) -> bool:
    """Marked important by any sign seen: ``is_top`` (older replies), a non-zero
    ``top_value`` or ``is_focus`` (2025-12 replies), or the 焦点 tag (go-stock)."""
    if truthy_flag(entry, "is_top") or truthy_flag(entry, "is_focus"):
        return True
    top = entry.get("top_value")
    if isinstance(top, str) and top.strip() not in ("", "0", "false"):
        return True
    if isinstance(top, int | float) and not isinstance(top, bool) and top != 0:
        return True
    return _FOCUS_TAG in tags


def _author(creator: str | None) -> str | None:
    # Sina's creator is a staff mail address: show the name, never publish the address.
    name = (creator or "").split("@", 1)[0].strip()
    return name or None


def _item(
    spec: SourceSpec, entry: Mapping[str, Any], upstream_id: str, fallback_url: str
) -> RawItem:
    ext = json_in_string(entry, "ext")
    text = text_field(entry, "rich_text")
    link = text_field(ext, "docurl") or text_field(entry, "docurl")
    media = entry.get("multimedia")
    images = html_image_urls(text, media if isinstance(media, str) else None)
    tags = _tags(entry)
    extra: dict[str, Any] = {}
    if images:
        extra["images"] = images
    if tags:
        extra["tags"] = tags
    return RawItem(
        source=spec.id,
        upstream_id=upstream_id,
        title=None,
        summary=text,
        url=link.strip() if link and link.strip() else fallback_url,
        published=time_field(entry, "create_time"),
        author=_author(text_field(entry, "creator")),
        kind="fast",
        importance=IMPORTANCE_HIGH if _important(entry, tags) else IMPORTANCE_NORMAL,
        stocks=_stocks(ext),
        extra=extra,
    )


#: The adapter object the registry serves.
ZHIBO = SinaZhibo()
