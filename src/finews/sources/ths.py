"""同花顺 (10jqka) 7x24 news push: ``tapp/news/push/stock`` (upstreams.md 6).

The server returns 20 items a page whatever is asked; pages are numbered (``page=1``
newest), each page with items asks for the next, and an empty list ends the walk. The
``Referer`` header is required (without it the upstream answers ``400 请求参数错误``), so it
is a setting. Only ``data.list`` is needed: ``code`` is not checked, as no public client
checks it; a reply without the list is a :class:`~finews.errors.ParseError` naming its
code and message. ``tag`` filters the list: ``-21101`` 重要, ``21103`` A股, ``21111`` 异动,
empty for all.

Mapped to finews's common meanings: ``import`` 3 → importance 2 (major), ``color`` ``"2"``
(the red headline) → 1; ``digest`` → summary; ``ctime`` (Unix seconds, as text) →
published; ``source`` → media; ``url`` (else ``shareUrl``) → link; ``picUrl`` →
``extra["images"]``; ``tags[].name``, ``tagInfo[].name`` and ``tag`` (a comma-separated
string) → ``extra["tags"]``; ``stock[]`` → ``stocks``. A ``stock`` entry's code is read from
``stockCode`` (else ``code``), and a bare 6-digit code is placed on its exchange by its
leading digits (:func:`finews.sources.securities.bare_code`); an entry with a ``name`` only
is kept by name in ``extra["stock_names"]``, and the names of those with a code go to
``extra["security_names"]`` (code in finews notation → name: the directory of names,
:mod:`finews.store.securities`).

Evidence (what public clients read from this host; none checks ``code``):

- akshare ``akshare/stock_feature/stock_info.py`` ``stock_info_global_ths`` (last changed
  2026-07-22, commit 3dc1dbd): ``page``/``tag``/``track=website``, a browser User-Agent
  (``akshare/utils/cons.py``), reads ``data.list`` (``title``, ``digest``, ``rtime``, ``url``).
- RSSHub ``lib/routes/10jqka/realtimenews.ts`` (stored version, commit 4c98df1; last
  upstream change 2025-01-31 in the history of the fork jinlan707-cell/RSSHub): reads
  ``data.list``, ``seq``, ``ctime``, ``color === '2'``, ``tags[].name`` and ``tagInfo[].name``;
  sends RSSHub's random desktop-Chrome User-Agent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from finews.errors import ParseError
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
    next_page_number,
    user_agent_setting,
    with_user_agent,
)
from finews.sources._json import (
    ItemError,
    collect,
    describe,
    int_field,
    load_json,
    object_at,
    reparse_record,
    text_field,
    time_field,
)
from finews.sources.base import Page, Request, Setting, header_text, http_url, options_of
from finews.sources.securities import named_securities, securities

__all__ = ["THS", "ThsNews"]


@dataclass(frozen=True, slots=True)
class ThsSettings:
    """The settings of a ``ths`` source (declared in ``ThsNews.settings``)."""

    url: str
    tag: str
    track: str
    referer: str
    user_agent: str


class ThsNews:
    """The ``ths`` adapter."""

    name = "ths"
    #: RawItem fields every reply's items must have ("a|b": either); see finews.formatwatch
    required_fields: tuple[str, ...] = ("title|summary", "published")
    description = "同花顺 7x24 news push (tapp/news/push/stock; 20 a page, paged by number)"
    settings: tuple[Setting, ...] = (
        Setting(
            "url",
            str,
            "https://news.10jqka.com.cn/tapp/news/push/stock/",
            "list endpoint",
            check=http_url,
        ),
        Setting("tag", str, "", "filter: -21101 重要, 21103 A股, 21111 异动; empty = all"),
        Setting("track", str, "website", "track parameter the web page sends"),
        Setting(
            "referer",
            str,
            "https://news.10jqka.com.cn/realtimenews.html",
            "Referer header (required by the upstream)",
            check=header_text,
        ),
        user_agent_setting(BROWSER_USER_AGENT),
    )
    options_class = ThsSettings

    def options(self, spec: SourceSpec) -> ThsSettings:
        """``spec``'s settings, typed."""
        return options_of(spec, ThsSettings, self.settings)

    def first_page(self, spec: SourceSpec) -> Request:
        """Page 1: the newest items."""
        return self._request(spec, 1)

    def parse_page(
        self, spec: SourceSpec, body: bytes, request: Request, *, charset: str | None = None
    ) -> Page:
        """Read ``data.list`` (``code`` is not needed), ask for the next page number while
        the page had entries."""
        url = request.url
        reply = object_at(load_json(body, spec.id, url), "the reply", spec.id, url)
        data = reply.get("data")
        if not isinstance(data, dict) or not isinstance(data.get("list"), list):
            # Every evidenced client reads data.list and ignores code; without the list the
            # reply is an error (code "400") or a new shape: say what came.
            raise ParseError(
                f"expected a list under 'data.list', got code {describe(reply.get('code'))} "
                f"with message {reply.get('msg')!r} and 'data' {describe(data)}",
                source=spec.id,
                url=url,
            )
        entries = data["list"]
        items, dropped = collect(spec, entries, ("id", "seq"), lambda e, uid: _item(spec, e, uid))
        following = self._request(spec, next_page_number(request, "page"))
        return Page(items=items, dropped=dropped, next=following if entries else None)

    def parse_record(self, spec: SourceSpec, record: str) -> RawItem | Dropped:
        """One kept item record (``finews reparse``) read as ``parse_page`` reads it."""
        return reparse_record(spec, record, ("id", "seq"), lambda e, uid: _item(spec, e, uid))

    def fulltext_request(self, spec: SourceSpec, item: RawItem) -> Request | None:
        """Nothing: the push item is whole in the list."""
        return None

    def parse_fulltext(self, spec: SourceSpec, body: bytes, item: RawItem) -> str:
        """Never asked; there is no full text."""
        return ""

    def _request(self, spec: SourceSpec, page: int) -> Request:
        options = self.options(spec)
        params = {
            "page": str(page),
            "tag": options.tag,
            "track": options.track,
        }
        headers = {"Referer": options.referer}
        return Request(
            url=options.url,
            params=params,
            headers=with_user_agent(options.user_agent, headers),
        )


def _importance(entry: Mapping[str, Any]) -> int:
    if int_field(entry, "import") == 3:
        return IMPORTANCE_TOP
    if int_field(entry, "color") == 2:
        return IMPORTANCE_HIGH
    return IMPORTANCE_NORMAL


def _names(value: Any) -> tuple[str, ...]:
    """Names from a list of ``{name: …}`` objects or strings, or one comma-separated string."""
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list):
        return ()
    names = [part.get("name") if isinstance(part, dict) else part for part in value]
    return tuple(name.strip() for name in names if isinstance(name, str) and name.strip())


def _tags(entry: Mapping[str, Any]) -> tuple[str, ...]:
    # RSSHub merges tags[] and tagInfo[]; one reply carries "tag" as "A股,异动".
    found = (*_names(entry.get("tags")), *_names(entry.get("tagInfo")), *_names(entry.get("tag")))
    return tuple(dict.fromkeys(found))


def _stocks(entry: Mapping[str, Any]) -> tuple[str, ...]:
    listed = entry.get("stock")
    if listed is None:
        return ()
    if not isinstance(listed, list):
        raise ItemError(f"field 'stock' should be a list, got {describe(listed)}")
    codes: list[str] = []
    for stock in listed:
        # An entry may carry only a name (no code): nothing to place on an exchange.
        code = stock.get("stockCode", stock.get("code")) if isinstance(stock, dict) else stock
        if isinstance(code, str):
            codes.append(code)
    return securities(codes)


def _stock_names(entry: Mapping[str, Any]) -> tuple[str, ...]:
    """Names of the ``stock`` entries that carry a name but no code (kept by name)."""
    listed = entry.get("stock")
    if not isinstance(listed, list):
        return ()
    names = [
        stock.get("name")
        for stock in listed
        if isinstance(stock, dict)
        and not isinstance(stock.get("stockCode", stock.get("code")), str)
    ]
    return tuple(dict.fromkeys(n.strip() for n in names if isinstance(n, str) and n.strip()))


def _named(entry: Mapping[str, Any]) -> dict[str, str]:
    """The names of the ``stock`` entries that carry a code, by code in finews notation."""
    listed = entry.get("stock")
    if not isinstance(listed, list):
        return {}
    return named_securities(
        (stock.get("stockCode", stock.get("code")), stock.get("name"))
        for stock in listed
        if isinstance(stock, dict)
    )


def _item(spec: SourceSpec, entry: Mapping[str, Any], upstream_id: str) -> RawItem:
    link = text_field(entry, "url") or text_field(entry, "shareUrl")
    images = image_urls(entry.get("picUrl"))
    tags = _tags(entry)
    stock_names = _stock_names(entry)
    named = _named(entry)
    extra: dict[str, Any] = {}
    if images:
        extra["images"] = images
    if tags:
        extra["tags"] = tags
    if stock_names:
        extra["stock_names"] = stock_names
    if named:
        extra["security_names"] = named
    return RawItem(
        source=spec.id,
        upstream_id=upstream_id,
        title=(text_field(entry, "title") or "").strip() or None,
        summary=text_field(entry, "digest"),
        url=link.strip() if link and link.strip() else None,
        published=time_field(entry, "ctime"),
        media=(text_field(entry, "source") or "").strip() or None,
        kind="fast",
        importance=_importance(entry),
        stocks=_stocks(entry),
        extra=extra,
    )


#: The adapter object the registry serves.
THS = ThsNews()
