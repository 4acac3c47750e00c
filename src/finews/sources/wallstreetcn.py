"""华尔街见闻 (Wallstreetcn) lives: ``apiv1/content/lives`` (upstreams.md 5).

``channel`` picks the stream (``global-channel``, ``a-stock-channel``, ``us-stock-channel``,
``hk-stock-channel``, ``forex-channel``, ``commodity-channel``, ``financing-channel``). The
first request says ``first_page=true``; each reply's ``data.next_cursor`` is sent back as
``cursor``, with ``first_page=false``, for older items, until a page comes back empty or
without a new cursor. A top-level ``code`` other than 20000 (or 0) is a
:class:`~finews.errors.ParseError` naming it and its message; so is a reply without
``data.items``.

Mapped to finews's common meanings: ``score`` 2 (important) → importance 1; an empty
``title`` stays ``None`` (the normaliser titles it the one way); ``content_text`` → summary;
``content`` plus ``content_more`` (HTML) → content, only when there is a continuation;
``display_time`` (Unix seconds) → published; ``author.display_name`` (may be missing) →
author; ``uri`` (else ``https://wallstreetcn.com/livenews/<id>``) → link; ``images[].uri``
→ ``extra["images"]``.

Evidence:

- RSSHub ``lib/routes/wallstreetcn/live.tsx`` (stored version, commit 2de6362; as ``live.ts``
  last changed upstream 2025-04-22 in the history of the fork jinlan707-cell/RSSHub):
  ``api-one.wallstcn.com/apiv1/content/lives?channel=<c>-channel&limit=…``, reads
  ``data.items`` (``uri``, ``title``, ``content_text``, ``content``, ``content_more``,
  ``display_time``, ``author.display_name``, ``images[].uri``, ``score``).
- newsnow ``server/sources/wallstreetcn.ts`` (2025-06-27, commit da3dabc): the same list
  with ``limit=30``, a browser User-Agent.
- A public web client (a Next.js page read through the code index, stored file 57566731273)
  pages with ``client=pc&limit=20&accept=live&first_page=true`` and then
  ``first_page=false&cursor=<next_cursor>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from finews.errors import ParseError
from finews.models import IMPORTANCE_HIGH, IMPORTANCE_NORMAL, Dropped, RawItem, SourceSpec
from finews.sources._fields import (
    BROWSER_USER_AGENT,
    image_urls,
    object_field,
    user_agent_setting,
    with_user_agent,
)
from finews.sources._json import (
    collect,
    describe,
    int_field,
    list_at,
    load_json,
    object_at,
    reparse_record,
    text_field,
    time_field,
)
from finews.sources.base import Page, Request, Setting, header_text, http_url, http_urls, options_of

__all__ = ["LIVES", "WallstreetcnLives"]

_SUCCESS = (20000, "20000", 0, "0")


@dataclass(frozen=True, slots=True)
class LivesSettings:
    """The settings of a ``wallstreetcn`` source (declared in ``WallstreetcnLives.settings``)."""

    url: str
    fallback_urls: tuple[str, ...]
    channel: str
    limit: int
    accept: str
    referer: str
    user_agent: str
    item_url: str


class WallstreetcnLives:
    """The ``wallstreetcn`` adapter."""

    name = "wallstreetcn"
    #: RawItem fields every reply's items must have ("a|b": either); see finews.formatwatch
    required_fields: tuple[str, ...] = ("title|summary|content", "published")
    description = "华尔街见闻 lives (apiv1/content/lives; paged by next_cursor)"
    settings: tuple[Setting, ...] = (
        Setting(
            "url",
            str,
            "https://api-one.wallstcn.com/apiv1/content/lives",
            "lives endpoint",
            check=http_url,
        ),
        Setting(
            "fallback_urls",
            list,
            ["https://api-one-wscn.awtmt.com/apiv1/content/lives"],
            "endpoints tried in order when the first fails",
            check=http_urls,
        ),
        Setting("channel", str, "global-channel", "stream, e.g. global-channel, a-stock-channel"),
        Setting("limit", int, 50, "items per page (limit)", minimum=1, maximum=1000),
        Setting("accept", str, "live", "kinds asked for; 'live,vip-live' adds VIP teasers"),
        Setting(
            "referer", str, "https://wallstreetcn.com/", "Referer header sent", check=header_text
        ),
        user_agent_setting(BROWSER_USER_AGENT),
        Setting(
            "item_url",
            str,
            "https://wallstreetcn.com/livenews/{id}",
            "link of an item without uri; {id} is replaced by the item id",
            check=http_url,
        ),
    )
    options_class = LivesSettings

    def options(self, spec: SourceSpec) -> LivesSettings:
        """``spec``'s settings, typed."""
        return options_of(spec, LivesSettings, self.settings)

    def first_page(self, spec: SourceSpec) -> Request:
        """The newest page: ``first_page=true``, no cursor."""
        return self._request(spec, {"first_page": "true"})

    def parse_page(
        self, spec: SourceSpec, body: bytes, request: Request, *, charset: str | None = None
    ) -> Page:
        """Check ``code``, read ``data.items``, chain ``data.next_cursor``."""
        url = request.url
        reply = object_at(load_json(body, spec.id, url), "the reply", spec.id, url)
        code = reply.get("code")
        if "code" in reply and code not in _SUCCESS:
            raise ParseError(
                f"expected code 20000, got {describe(code)} with message {reply.get('message')!r}",
                source=spec.id,
                url=url,
            )
        data = object_at(reply.get("data"), "'data'", spec.id, url)
        entries = list_at(data, "items", spec.id, url)
        item_url = self.options(spec).item_url
        items, dropped = collect(
            spec, entries, ("id",), lambda entry, uid: _item(spec, entry, uid, item_url)
        )
        cursor = data.get("next_cursor")
        if isinstance(cursor, int) and not isinstance(cursor, bool):
            cursor = str(cursor)
        if cursor is not None and not isinstance(cursor, str):
            raise ParseError(
                f"expected 'data.next_cursor' to be text, got {describe(cursor)}",
                source=spec.id,
                url=url,
            )
        cursor = (cursor or "").strip()
        # The same cursor again would ask for the same page forever.
        moves = cursor and cursor != request.params.get("cursor")
        following = (
            self._request(spec, {"first_page": "false", "cursor": cursor})
            if entries and moves
            else None
        )
        return Page(items=items, dropped=dropped, next=following)

    def parse_record(self, spec: SourceSpec, record: str) -> RawItem | Dropped:
        """One kept item record (``finews reparse``) read as ``parse_page`` reads it."""
        item_url = self.options(spec).item_url
        return reparse_record(
            spec, record, ("id",), lambda entry, uid: _item(spec, entry, uid, item_url)
        )

    def fulltext_request(self, spec: SourceSpec, item: RawItem) -> Request | None:
        """Nothing: ``content_more`` already completes a live item."""
        return None

    def parse_fulltext(self, spec: SourceSpec, body: bytes, item: RawItem) -> str:
        """Never asked; there is no full text."""
        return ""

    def _request(self, spec: SourceSpec, paging: Mapping[str, str]) -> Request:
        options = self.options(spec)
        params = {
            "channel": options.channel,
            "client": "pc",
            "limit": str(options.limit),
            "accept": options.accept,
            **paging,
        }
        return Request(
            url=options.url,
            params=params,
            headers=with_user_agent(options.user_agent, {"Referer": options.referer}),
            fallback_urls=options.fallback_urls,
        )


def _content(entry: Mapping[str, Any]) -> str | None:
    # Without a continuation the HTML says what content_text says: no full text to keep.
    more = text_field(entry, "content_more") or ""
    if not more.strip():
        return None
    return (text_field(entry, "content") or "") + more


def _item(spec: SourceSpec, entry: Mapping[str, Any], upstream_id: str, item_url: str) -> RawItem:
    author = object_field(entry, "author")
    link = text_field(entry, "uri")
    images = image_urls(entry.get("images"))
    return RawItem(
        source=spec.id,
        upstream_id=upstream_id,
        title=(text_field(entry, "title") or "").strip() or None,
        summary=text_field(entry, "content_text"),
        content=_content(entry),
        url=link.strip() if link and link.strip() else item_url.replace("{id}", upstream_id),
        published=time_field(entry, "display_time"),
        author=(text_field(author, "display_name") or "").strip() or None,
        kind="fast",
        importance=IMPORTANCE_HIGH if int_field(entry, "score") == 2 else IMPORTANCE_NORMAL,
        extra={"images": images} if images else {},
    )


#: The adapter object the registry serves.
LIVES = WallstreetcnLives()
