"""East Money news by column: ``getNewsByColumns`` (upstreams.md 1b).

One column of East Money's article stream: ``1207`` 财经早餐, ``350`` 要闻, ``345`` 财经要闻,
or any other column id (the ``column`` setting). Pages are numbered: ``page_index=1`` is the
newest, and each reply with items asks for the next number; an empty list ends the walk.
The envelope is the ``np-*`` one (``code`` the string ``"1"``), the list is ``data.list``.

These are articles, so the full text is read from each new item's page (``fulltext``, on by
default; :mod:`finews.sources.eastmoney_article`). Mapped to finews's common meanings:
``mediaName`` → media, ``uniqueUrl`` (else ``url``, else the article URL built from the code)
→ link, ``image`` → ``extra["images"]``, a non-zero ``titleColor`` (where present) → 1.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from finews.models import IMPORTANCE_HIGH, IMPORTANCE_NORMAL, Dropped, RawItem, SourceSpec
from finews.sources._fields import image_urls, next_page_number
from finews.sources._json import (
    collect,
    int_field,
    list_at,
    reparse_record,
    text_field,
    time_field,
)
from finews.sources.base import Page, Request, Setting, header_text, http_url, http_urls, options_of
from finews.sources.eastmoney_article import ARTICLE_SETTINGS, article_request, parse_article
from finews.sources.eastmoney_fast import ListSettings, eastmoney_data, eastmoney_trace

__all__ = ["COLUMN", "ColumnNews"]


class ColumnNews:
    """The ``eastmoney_column`` adapter."""

    name = "eastmoney_column"
    #: RawItem fields every reply's items must have ("a|b": either); see finews.formatwatch
    required_fields: tuple[str, ...] = ("title|summary", "published")
    description = "East Money news by column (getNewsByColumns: 1207 财经早餐, 350 要闻, …)"
    settings: tuple[Setting, ...] = (
        Setting(
            "url",
            str,
            "https://np-listapi.eastmoney.com/comm/web/getNewsByColumns",
            "list endpoint",
            check=http_url,
        ),
        Setting(
            "fallback_urls",
            list,
            [],
            "endpoints tried in order when the list fails",
            check=http_urls,
        ),
        Setting("column", str, "1207", "column id: 1207 财经早餐, 350 要闻, 345 财经要闻, …"),
        Setting("page_size", int, 50, "items per page (page_size)", minimum=1, maximum=1000),
        Setting(
            "referer",
            str,
            "https://finance.eastmoney.com/",
            "Referer header sent",
            check=header_text,
        ),
        *ARTICLE_SETTINGS,
    )
    options_class = ListSettings

    def options(self, spec: SourceSpec) -> ListSettings:
        """``spec``'s settings, typed."""
        return options_of(spec, ListSettings, self.settings)

    def first_page(self, spec: SourceSpec) -> Request:
        """Page 1: the newest items of the column."""
        return self._request(spec, 1)

    def parse_page(
        self, spec: SourceSpec, body: bytes, request: Request, *, charset: str | None = None
    ) -> Page:
        """Check the envelope, read ``data.list``; ask for the next page number while the
        page had entries."""
        url = request.url
        entries = list_at(eastmoney_data(body, spec, url), "list", spec.id, url)
        article_url = self.options(spec).article_url
        items, dropped = collect(
            spec, entries, ("code",), lambda entry, uid: _item(spec, entry, uid, article_url)
        )
        following = self._request(spec, next_page_number(request, "page_index"))
        return Page(items=items, dropped=dropped, next=following if entries else None)

    def parse_record(self, spec: SourceSpec, record: str) -> RawItem | Dropped:
        """One kept item record (``finews reparse``) read as ``parse_page`` reads it."""
        article_url = self.options(spec).article_url
        return reparse_record(
            spec, record, ("code",), lambda entry, uid: _item(spec, entry, uid, article_url)
        )

    def fulltext_request(self, spec: SourceSpec, item: RawItem) -> Request | None:
        """The article page of the item (mobile page as fallback)."""
        options = self.options(spec)
        return article_request(options.article_url, options.mobile_article_url, item.upstream_id)

    def parse_fulltext(self, spec: SourceSpec, body: bytes, item: RawItem) -> str:
        """The ``#ContentBody`` of the article page (``ParseError`` when it has none)."""
        url = self.options(spec).article_url.replace("{code}", item.upstream_id)
        return parse_article(body, source=spec.id, url=url)

    def _request(self, spec: SourceSpec, page: int) -> Request:
        options = self.options(spec)
        params = {
            "client": "web",
            "biz": "web_news_col",
            "column": options.column,
            "order": "1",
            "needInteractData": "0",
            "page_index": str(page),
            "page_size": str(options.page_size),
            "req_trace": eastmoney_trace(),
        }
        return Request(
            url=options.url,
            params=params,
            headers={"Referer": options.referer},
            fallback_urls=options.fallback_urls,
        )


def _item(
    spec: SourceSpec, entry: Mapping[str, Any], upstream_id: str, article_url: str
) -> RawItem:
    link = text_field(entry, "uniqueUrl") or text_field(entry, "url")
    images = image_urls(entry.get("image"))
    return RawItem(
        source=spec.id,
        upstream_id=upstream_id,
        title=(text_field(entry, "title") or "").strip() or None,
        summary=text_field(entry, "summary", "digest"),
        url=link.strip() if link and link.strip() else article_url.replace("{code}", upstream_id),
        published=time_field(entry, "showTime"),
        media=(text_field(entry, "mediaName") or "").strip() or None,
        kind="news",
        importance=IMPORTANCE_HIGH if int_field(entry, "titleColor") else IMPORTANCE_NORMAL,
        extra={"images": images} if images else {},
    )


#: The adapter object the registry serves.
COLUMN = ColumnNews()
