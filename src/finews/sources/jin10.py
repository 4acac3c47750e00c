"""金十数据 (Jin10) flash: ``get_flash_list`` (upstreams.md 4).

The API wants two headers the web client sends, ``x-app-id`` and ``x-version``; both are
settings (``app_id``, ``app_version``), since the app id is a constant copied from the site
and may change. The newest page is asked with an empty ``max_time``; the next, older page
with the ``time`` of the last item. The reply is ``{"status": 200, "data": [...]}``; another
status is a :class:`~finews.errors.ParseError` naming it and its message.

When the API cannot be fetched, ``fallback_urls`` name the site's ``flash_newest.js``
(``www.jin10.com``, the host newsnow reads), a JavaScript body ``var newest = [...];``
holding items of the same shape; it is read too.

Dropped with a reason: data releases (``type`` 1: a figure, not a flash; RSSHub drops them),
items in ``channel`` 5 (newsnow drops them), locked items (``data.lock``: VIP text), and items
with neither ``data.title`` nor ``data.content`` (a VIP teaser carries only ``vip_title``;
newsnow keeps only items with one of the two). Mapped to finews's common meanings:
``important`` 1 → importance 1; an empty ``data.title`` stays ``None`` (the normaliser titles
the flash the one way); ``data.content`` (HTML) → summary; ``time`` (Beijing) → published;
``data.source`` → media; ``data.source_link`` (else ``data.link``, else
``https://flash.jin10.com/detail/<id>``, the ``item_url`` setting) → link; ``data.pic`` →
``extra["images"]``.

Evidence:

- newsnow ``server/sources/jin10.ts`` (2026-06-03, commit 69e1b77): reads
  ``www.jin10.com/flash_newest.js``; its item type has ``data.source_link``, ``data.lock``,
  ``data.vip_level``, ``data.vip_title``, ``channel[]``; drops ``channel`` 5; links
  ``https://flash.jin10.com/detail/<id>``; sends a browser User-Agent
  (``server/utils/fetch.ts``, 2025-12-06).
- RSSHub ``lib/routes/jin10/index.ts`` (stored version, commit 0893deb; last changed
  upstream 2025-05-31 in the history of the fork jinlan707-cell/RSSHub): ``get_flash_list``
  with ``x-app-id``/``x-version``, ``channel=-8200``, ``vip=1``; drops ``type`` 1; links
  ``data.link``.
- Issue 18 reports a 2025-10 sample carrying ``data.source_link``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from finews.errors import ParseError
from finews.models import IMPORTANCE_HIGH, IMPORTANCE_NORMAL, Dropped, RawItem, SourceSpec
from finews.sources._fields import (
    BROWSER_USER_AGENT,
    image_urls,
    object_field,
    truthy_flag,
    user_agent_setting,
    with_user_agent,
)
from finews.sources._json import (
    ItemError,
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

__all__ = ["FLASH", "Jin10Flash"]

# flash_newest.js: "var newest = [...];", possibly after a BOM and around blank lines.
_NEWEST_JS = re.compile(
    rb"^(?:\xef\xbb\xbf)?\s*var\s+newest\s*=\s*(?P<json>.*?)\s*;?\s*$", re.DOTALL
)
_DATA_RELEASE = 1
_VIP_CHANNEL = 5


@dataclass(frozen=True, slots=True)
class Jin10Settings:
    """The settings of a ``jin10`` source (declared in ``Jin10Flash.settings``)."""

    url: str
    fallback_urls: tuple[str, ...]
    app_id: str
    app_version: str
    channel: str
    vip: str
    referer: str
    item_url: str
    user_agent: str


class Jin10Flash:
    """The ``jin10`` adapter."""

    name = "jin10"
    #: RawItem fields every reply's items must have ("a|b": either); see finews.formatwatch
    required_fields: tuple[str, ...] = ("title|summary", "published")
    description = "金十数据 flash (get_flash_list, paged by max_time; flash_newest.js fallback)"
    settings: tuple[Setting, ...] = (
        Setting(
            "url",
            str,
            "https://flash-api.jin10.com/get_flash_list",
            "flash list endpoint",
            check=http_url,
        ),
        Setting(
            "fallback_urls",
            list,
            ["https://www.jin10.com/flash_newest.js"],
            "tried in order when the list endpoint fails (JSON or var newest = [...];)",
            check=http_urls,
        ),
        Setting(
            "app_id",
            str,
            "bVBF4FyRTn5NJF5n",
            "x-app-id header (the web client's id)",
            check=header_text,
        ),
        Setting("app_version", str, "1.0.0", "x-version header", check=header_text),
        Setting("channel", str, "-8200", "channel parameter"),
        Setting("vip", str, "1", "vip parameter the web client sends"),
        Setting("referer", str, "https://www.jin10.com/", "Referer header sent", check=header_text),
        Setting(
            "item_url",
            str,
            "https://flash.jin10.com/detail/{id}",
            "link of a flash without data.source_link or data.link; {id} is the flash id",
            check=http_url,
        ),
        user_agent_setting(BROWSER_USER_AGENT),
    )
    options_class = Jin10Settings

    def options(self, spec: SourceSpec) -> Jin10Settings:
        """``spec``'s settings, typed."""
        return options_of(spec, Jin10Settings, self.settings)

    def first_page(self, spec: SourceSpec) -> Request:
        """The newest page: ``max_time`` empty."""
        return self._request(spec, "")

    def parse_page(
        self, spec: SourceSpec, body: bytes, request: Request, *, charset: str | None = None
    ) -> Page:
        """Read the API reply or the ``var newest = [...]`` fallback; chain ``max_time``."""
        url = request.url
        entries = _entries(body, spec, url)
        item_url = self.options(spec).item_url
        items, dropped = collect(
            spec, entries, ("id",), lambda e, uid: _item(spec, e, uid, item_url)
        )
        oldest = _oldest_time(entries)
        # The same max_time again (a page all within one second) would loop.
        moves = oldest and oldest != request.params.get("max_time")
        following = self._request(spec, oldest) if entries and moves else None
        return Page(items=items, dropped=dropped, next=following)

    def parse_record(self, spec: SourceSpec, record: str) -> RawItem | Dropped:
        """One kept item record (``finews reparse``) read as ``parse_page`` reads it."""
        item_url = self.options(spec).item_url
        return reparse_record(spec, record, ("id",), lambda e, uid: _item(spec, e, uid, item_url))

    def fulltext_request(self, spec: SourceSpec, item: RawItem) -> Request | None:
        """Nothing: a flash is whole in the list."""
        return None

    def parse_fulltext(self, spec: SourceSpec, body: bytes, item: RawItem) -> str:
        """Never asked; there is no full text."""
        return ""

    def _request(self, spec: SourceSpec, max_time: str) -> Request:
        options = self.options(spec)
        params = {
            "channel": options.channel,
            "vip": options.vip,
            "max_time": max_time,
        }
        headers = {
            "x-app-id": options.app_id,
            "x-version": options.app_version,
            "Referer": options.referer,
        }
        return Request(
            url=options.url,
            params=params,
            headers=with_user_agent(options.user_agent, headers),
            fallback_urls=options.fallback_urls,
        )


def _entries(body: bytes, spec: SourceSpec, url: str) -> list[Any]:
    script = _NEWEST_JS.match(body)
    if script is not None:
        value = load_json(script["json"], spec.id, url)
        if not isinstance(value, list):
            raise ParseError(
                f"expected 'var newest' to be a list, got {describe(value)}",
                source=spec.id,
                url=url,
            )
        return value
    reply = object_at(load_json(body, spec.id, url), "the reply", spec.id, url)
    status = reply.get("status")
    if status not in (200, "200"):
        raise ParseError(
            f"expected status 200, got {describe(status)} with message {reply.get('message')!r}",
            source=spec.id,
            url=url,
        )
    return list_at(reply, "data", spec.id, url)


def _oldest_time(entries: list[Any]) -> str:
    for entry in reversed(entries):
        if isinstance(entry, dict) and isinstance(entry.get("time"), str):
            return str(entry["time"]).strip()
    return ""


def _item(spec: SourceSpec, entry: Mapping[str, Any], upstream_id: str, item_url: str) -> RawItem:
    if int_field(entry, "type") == _DATA_RELEASE:
        raise ItemError("a data release (type 1), not a flash")
    channels = entry.get("channel")
    if isinstance(channels, list) and _VIP_CHANNEL in channels:
        raise ItemError("in channel 5 (VIP; newsnow drops it too)")
    data = object_field(entry, "data")
    if truthy_flag(data, "lock"):
        raise ItemError("locked (data.lock: the text is for VIP members only)")
    content = text_field(data, "content")
    title = (text_field(data, "title") or "").strip() or None
    if not title and not (content or "").strip():
        # a VIP teaser carries only vip_title; newsnow keeps items with a title or content
        raise ItemError("no text (neither data.title nor data.content)")
    link = (text_field(data, "source_link") or text_field(data, "link") or "").strip()
    images = image_urls(data.get("pic"))
    return RawItem(
        source=spec.id,
        upstream_id=upstream_id,
        title=title,
        summary=content,
        url=link or item_url.replace("{id}", upstream_id),
        published=time_field(entry, "time"),
        media=(text_field(data, "source") or "").strip() or None,
        kind="fast",
        importance=IMPORTANCE_HIGH if truthy_flag(entry, "important") else IMPORTANCE_NORMAL,
        extra={"images": images} if images else {},
    )


#: The adapter object the registry serves.
FLASH = Jin10Flash()
