"""财联社 (Cailian Press) telegraph: the signed roll list ``v1/roll/get_roll_list``
(upstreams.md 2).

The most churned upstream: three endpoint changes in 2026 and a drifting ``sv`` (client
version), so this adapter ships **off** and keeps endpoint, app name, ``sv`` and headers in
settings. The ``variant`` setting picks one of the request shapes public clients send:
``web`` (``app=CailianpressWeb&sv=8.4.6``, akshare), ``appname``
(``appName=CailianpressWeb&sv=7.7.5``, newsnow and RSSHub), or ``cache``
(``/api/cache?name=telegraph`` with ``appName``, RSSHub's unfiltered list: one page, no
paging, no ``errno`` needed). Every request is signed: :func:`cls_sign` is the hex MD5 of
the hex SHA-1 of the URL-encoded query string of the other parameters sorted by key,
appended as ``sign``.

Paging: the newest page is asked with ``last_time`` = now; the next, older page with the
smallest ``ctime`` of the previous one, until a page is empty or no older. ``errno`` must be
0: ``10012`` (签名错误) is a :class:`~finews.errors.ParseError` saying the signing rule or
``sv`` is out of date; any other errno one naming it and its message.

Dropped with a reason: VIP items (``type`` 20015, for paying members only). Mapped to
finews's common meanings: ``level`` A → importance 2, B → 1, C → 0; an empty ``title``
stays ``None`` (the normaliser takes the ``【…】`` head); the longer of ``brief`` and
``content`` → summary (``content`` is reported truncated at times, ``brief`` complete);
``ctime`` (Unix seconds) → published; ``author`` → author; ``shareurl`` (else
``https://www.cls.cn/detail/<id>``) → link; ``stock_list[].StockID`` (``sh600519``) →
``stocks`` (their ``name`` → ``extra["security_names"]``, code in finews notation → name,
for the directory of names); ``subjects[].subject_name`` → ``extra["tags"]``; ``images`` →
``extra["images"]``. A telegraph is whole in the list: no full-text request.

Evidence (every one signs the same way):

- akshare ``akshare/stock_feature/stock_info.py`` ``stock_info_global_cls`` (2026-07-22,
  commit 3dc1dbd): ``app=CailianpressWeb&category=&last_time&os=web&refresh_type=1&rn=20
  &sv=8.4.6`` plus ``sign``, a browser User-Agent; reads ``data.roll_data``.
- newsnow ``server/sources/cls/index.ts`` (2026-06-03, commit 69e1b77) and ``cls/utils.ts``
  (2024-10-21): ``appName=CailianpressWeb&os=web&sv=7.7.5``, ``last_time``,
  ``refresh_type=1``, ``rn=30``, ``Referer: https://www.cls.cn/telegraph``; drops ``is_ad``.
- RSSHub ``lib/routes/cls/utils.ts`` (stored commit 156b58d) and ``telegraph.tsx`` (stored
  commit 4a81765): the same ``appName``/``sv=7.7.5`` parameters; ``/api/cache`` with
  ``name=telegraph`` for the unfiltered list, the roll list for a category.
- go-stock ``backend/data/market_news_api.go`` (2025-07-12): a browser User-Agent for
  www.cls.cn, ``app=CailianpressWeb&os=web&sv=8.4.6`` on its calendar call.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from finews.errors import ConfigError, ParseError
from finews.models import (
    IMPORTANCE_HIGH,
    IMPORTANCE_NORMAL,
    IMPORTANCE_TOP,
    Dropped,
    RawItem,
    SourceSpec,
)
from finews.sources._fields import (
    BROWSER_USER_AGENT,
    image_urls,
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
from finews.sources.base import Page, Request, Setting, header_text, http_url, options_of
from finews.sources.securities import named_securities, securities

__all__ = ["TELEGRAPH", "ClsTelegraph", "cls_sign"]

_VIP_TYPE = 20015
_SIGNATURE_ERROR = 10012
_LEVELS = {"A": IMPORTANCE_TOP, "B": IMPORTANCE_HIGH}
_ROLL_LIST = "https://www.cls.cn/v1/roll/get_roll_list"
_CACHE = "https://www.cls.cn/api/cache"


@dataclass(frozen=True, slots=True)
class _Variant:
    """One request shape a public client sends: app parameter, ``sv``, and whether it asks
    the telegraph cache (``cache_url``) instead of the roll list (``url``)."""

    app_param: str
    sv: str
    cache: bool = False


_VARIANTS = {
    # akshare stock_info_global_cls (2026-07)
    "web": _Variant("app", "8.4.6"),
    # newsnow server/sources/cls (2026-06), RSSHub lib/routes/cls/utils.ts
    "appname": _Variant("appName", "7.7.5"),
    # RSSHub lib/routes/cls/telegraph.tsx: the unfiltered list
    "cache": _Variant("appName", "7.7.5", cache=True),
}


def _variant(spec: SourceSpec, name: str) -> _Variant:
    """The request shape ``variant`` names (settings loaded by ``finews.config`` hold one of
    them; a spec made by hand may not)."""
    name = name.strip()
    if name not in _VARIANTS:
        raise ConfigError(
            f"sources.{spec.id}.variant", name, "one of " + ", ".join(_VARIANTS), origin=spec.id
        )
    return _VARIANTS[name]


def cls_sign(params: Mapping[str, str]) -> str:
    """The ``sign`` of a 财联社 request: md5(sha1(query string sorted by key)), both hex."""
    query = urlencode(sorted(params.items()))
    digest = hashlib.sha1(query.encode("utf-8"), usedforsecurity=False).hexdigest()
    return hashlib.md5(digest.encode("ascii"), usedforsecurity=False).hexdigest()


@dataclass(frozen=True, slots=True)
class ClsSettings:
    """The settings of a ``cls`` source (declared in ``ClsTelegraph.settings``)."""

    variant: str
    url: str
    cache_url: str
    app: str
    os: str
    sv: str
    category: str
    page_size: int
    referer: str
    item_url: str
    user_agent: str


class ClsTelegraph:
    """The ``cls`` adapter."""

    name = "cls"
    #: RawItem fields every reply's items must have ("a|b": either); see finews.formatwatch
    required_fields: tuple[str, ...] = ("title|summary", "published")
    description = "财联社 telegraph (signed v1/roll/get_roll_list, paged by last_time; off)"
    settings: tuple[Setting, ...] = (
        Setting(
            "variant",
            str,
            "web",
            "request shape: web = app=…&sv=8.4.6 (akshare), appname = appName=…&sv=7.7.5 "
            "(newsnow, RSSHub), cache = /api/cache?name=telegraph (RSSHub; one page)",
            choices=tuple(_VARIANTS),
        ),
        Setting(
            "url", str, _ROLL_LIST, "roll list endpoint (variants web and appname)", check=http_url
        ),
        Setting(
            "cache_url", str, _CACHE, "telegraph cache endpoint (variant cache)", check=http_url
        ),
        Setting("app", str, "CailianpressWeb", "app / appName parameter (signed)"),
        Setting("os", str, "web", "os parameter (signed)"),
        Setting("sv", str, "", "client version (signed); empty = the variant's (8.4.6, 7.7.5)"),
        Setting("category", str, "", "category: empty = all, red 加红, watch 看盘, …"),
        Setting("page_size", int, 20, "items per page (rn)", minimum=1, maximum=1000),
        Setting(
            "referer", str, "https://www.cls.cn/telegraph", "Referer header sent", check=header_text
        ),
        Setting(
            "item_url",
            str,
            "https://www.cls.cn/detail/{id}",
            "link of an item without shareurl; {id} is replaced by the item id",
            check=http_url,
        ),
        user_agent_setting(BROWSER_USER_AGENT),
    )
    options_class = ClsSettings

    def options(self, spec: SourceSpec) -> ClsSettings:
        """``spec``'s settings, typed."""
        return options_of(spec, ClsSettings, self.settings)

    def first_page(self, spec: SourceSpec) -> Request:
        """The newest page: ``last_time`` is now."""
        return self._request(spec, int(time.time()))

    def parse_page(
        self, spec: SourceSpec, body: bytes, request: Request, *, charset: str | None = None
    ) -> Page:
        """Check ``errno``, read ``data.roll_data``, chain the smallest ``ctime``."""
        url = request.url
        reply = object_at(load_json(body, spec.id, url), "the reply", spec.id, url)
        errno = reply.get("errno")
        message = reply.get("msg", reply.get("message"))
        if errno in (_SIGNATURE_ERROR, str(_SIGNATURE_ERROR)):
            raise ParseError(
                f"signature refused (errno 10012, {message!r}): the signing rule or the sv "
                "setting is out of date",
                source=spec.id,
                url=url,
            )
        # /api/cache replies are read by RSSHub without an errno: absent is fine.
        if "errno" in reply and errno not in (0, "0"):
            raise ParseError(
                f"expected errno 0, got {describe(errno)} with message {message!r}",
                source=spec.id,
                url=url,
            )
        data = object_at(reply.get("data"), "'data'", spec.id, url)
        entries = list_at(data, "roll_data", spec.id, url)
        item_url = self.options(spec).item_url
        items, dropped = collect(
            spec, entries, ("id",), lambda entry, uid: _item(spec, entry, uid, item_url)
        )
        if _variant(spec, self.options(spec).variant).cache:
            # the cache holds the newest telegraphs only: nothing older to ask for
            return Page(items=items, dropped=dropped, next=None)
        oldest = _oldest(entries)
        asked = request.params.get("last_time", "")
        older = oldest is not None and (not asked.isdigit() or oldest < int(asked))
        following = self._request(spec, oldest) if oldest is not None and older else None
        return Page(items=items, dropped=dropped, next=following)

    def parse_record(self, spec: SourceSpec, record: str) -> RawItem | Dropped:
        """One kept item record (``finews reparse``) read as ``parse_page`` reads it."""
        item_url = self.options(spec).item_url
        return reparse_record(
            spec, record, ("id",), lambda entry, uid: _item(spec, entry, uid, item_url)
        )

    def fulltext_request(self, spec: SourceSpec, item: RawItem) -> Request | None:
        """Nothing: ``brief``/``content`` is already the whole telegraph."""
        return None

    def parse_fulltext(self, spec: SourceSpec, body: bytes, item: RawItem) -> str:
        """Never asked; there is no full text."""
        return ""

    def _request(self, spec: SourceSpec, last_time: int) -> Request:
        options = self.options(spec)
        variant = _variant(spec, options.variant)
        params = {
            variant.app_param: options.app,
            "os": options.os,
            "sv": options.sv.strip() or variant.sv,
        }
        if variant.cache:
            params["name"] = "telegraph"
        else:
            params.update(
                category=options.category,
                last_time=str(last_time),
                refresh_type="1",
                rn=str(options.page_size),
            )
        params = dict(sorted(params.items()))
        headers = {"Referer": options.referer}
        return Request(
            url=options.cache_url if variant.cache else options.url,
            params={**params, "sign": cls_sign(params)},
            headers=with_user_agent(options.user_agent, headers),
        )


def _oldest(entries: list[Any]) -> int | None:
    times = [
        entry["ctime"]
        for entry in entries
        if isinstance(entry, dict)
        and isinstance(entry.get("ctime"), int)
        and not isinstance(entry.get("ctime"), bool)
        and entry["ctime"] > 0
    ]
    return min(times) if times else None


def _stocks(entry: Mapping[str, Any]) -> tuple[str, ...]:
    listed = entry.get("stock_list")
    if listed is None:
        return ()
    if not isinstance(listed, list):
        raise ItemError(f"field 'stock_list' should be a list, got {describe(listed)}")
    ids = [stock.get("StockID") for stock in listed if isinstance(stock, dict)]
    return securities(code for code in ids if isinstance(code, str))


def _named(entry: Mapping[str, Any]) -> dict[str, str]:
    listed = entry.get("stock_list")
    if not isinstance(listed, list):
        return {}
    return named_securities(
        (stock.get("StockID"), stock.get("name")) for stock in listed if isinstance(stock, dict)
    )


def _subjects(entry: Mapping[str, Any]) -> tuple[str, ...]:
    listed = entry.get("subjects")
    if not isinstance(listed, list):
        return ()
    names = (subject.get("subject_name") for subject in listed if isinstance(subject, dict))
    return tuple(name.strip() for name in names if isinstance(name, str) and name.strip())


def _item(spec: SourceSpec, entry: Mapping[str, Any], upstream_id: str, item_url: str) -> RawItem:
    if int_field(entry, "type") == _VIP_TYPE:
        raise ItemError("a VIP item (type 20015), for paying members only")
    brief = text_field(entry, "brief") or ""
    content = text_field(entry, "content") or ""
    level = text_field(entry, "level")
    link = (text_field(entry, "shareurl") or "").strip()
    images = image_urls(entry.get("images"))
    tags = _subjects(entry)
    named = _named(entry)
    extra: dict[str, Any] = {}
    if images:
        extra["images"] = images
    if tags:
        extra["tags"] = tags
    if named:
        extra["security_names"] = named
    return RawItem(
        source=spec.id,
        upstream_id=upstream_id,
        title=(text_field(entry, "title") or "").strip() or None,
        summary=max(brief, content, key=len) or None,
        url=link or item_url.replace("{id}", upstream_id),
        published=time_field(entry, "ctime"),
        author=(text_field(entry, "author") or "").strip() or None,
        kind="fast",
        importance=_LEVELS.get((level or "").strip().upper(), IMPORTANCE_NORMAL),
        stocks=_stocks(entry),
        extra=extra,
    )


#: The adapter object the registry serves.
TELEGRAPH = ClsTelegraph()
