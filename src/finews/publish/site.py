"""The look of the site: the one rendering layer both ways of serving it use (its settings
are :mod:`.settings`'s).

:class:`SiteRenderer` wraps one Jinja2 environment (autoescape on for ``.html`` and ``.xml``
templates) over ``publish/templates``; the live app (:mod:`finews.publish.web`) and the
static build (:mod:`finews.publish.static_site`) call the same methods and so write the same
bytes. Every value reaches the page escaped, except an article's body, which the normaliser
has sanitised: it goes in as stored when its recorded sanitiser version is today's (and it
has no link to mark), and is sanitised once more here otherwise, so a body that skipped the
normaliser still renders inert. No template has inline script or style, so the strict
Content-Security-Policy of :data:`CSP` holds.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache, partial
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from jinja2 import (
    Environment,
    PackageLoader,
    StrictUndefined,
    select_autoescape,
)
from markupsafe import Markup, escape

from finews.models import Item
from finews.normalize.sanitize import looks_like_html, page_html
from finews.normalize.variant import convert
from finews.process.index import MAX_QUERY_CHARS, plain_prefix
from finews.publish.hot import HotStory
from finews.publish.settings import SiteSettings
from finews.publish.skeleton import Skeletons
from finews.publish.urls import (
    Listing,
    article_path,
    beijing,
    board_feed_path,
    category_of,
    day_of,
    feed_path,
    listing_path,
    stock_path,
    story_path,
)
from finews.sources.securities import canonical_stocks, mention_terms

if TYPE_CHECKING:
    pass

__all__ = ["ASSETS", "CSP", "Body", "Reports", "Section", "SiteRenderer"]

#: the policy every response carries (the live app sends it as a header; pages repeat the
#: parts a ``<meta>`` may carry, for static hosts that send no headers)
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
_META_CSP = "; ".join(part for part in CSP.split("; ") if not part.startswith("frame-ancestors"))

#: characters of a digest's plain text a page's meta description and an untitled item's
#: title show
_DESCRIPTION_CHARS = 140
_FALLBACK_TITLE_CHARS = 60

#: list rows kept rendered (a few hundred bytes each), at most
_ROWS_KEPT = 50_000

#: the static files every page uses, shipped in ``publish/static`` (the icons are drawn by
#: :mod:`finews.publish.icons`), and those rendered from a template once per site, as their
#: links follow ``base_url``: ``feed.xsl`` (how browsers show a feed) and the web app
#: manifest (what a phone's home screen shows)
ASSETS = (
    "site.css",
    "site.js",
    "icon.svg",
    "icon-192.png",
    "icon-512.png",
    "apple-touch-icon.png",
    "feed.xsl",
    "manifest.webmanifest",
    "sw.js",
)
_RENDERED_ASSETS = ("feed.xsl", "manifest.webmanifest")

#: what the normaliser appends to a media name to make its tag (see display_name)
_SUFFIX = "新闻"
_DOUBLED_SUFFIX = _SUFFIX * 2


@dataclass(frozen=True, slots=True)
class Section:
    """One category on the home page: its listing, display name and newest items."""

    listing: Listing
    title: str
    items: Sequence[Item]


@dataclass(frozen=True, slots=True)
class Body:
    """An article body ready for the template: sanitised HTML, or plain-text paragraphs."""

    html: Markup | None
    paragraphs: tuple[str, ...] = ()


def article_body(content: str, sanitizer: int | None = None) -> Body:
    """The body of an article: HTML as :func:`page_html` inserts it (``sanitizer``: the
    version of the rules that made it, ``Item.sanitizer``; any but the current one, or
    ``None``, is sanitised again here), plain text split into paragraphs (escaped by the
    template)."""
    if looks_like_html(content):  # the normaliser's test: plain text was stored as it came
        return Body(Markup(page_html(content, version=sanitizer)))  # noqa: S704 - sanitised
    lines = (line.strip() for line in content.replace("\u3000\u3000", "\n").splitlines())
    return Body(None, tuple(line for line in lines if line))


def body_markup(body: Body) -> Markup:
    """A body as the article page and the feeds carry it (``""`` when it has none)."""
    if body.html is not None:
        return Markup(f'<div class="body">{body.html}</div>')  # noqa: S704 - sanitised
    if body.paragraphs:
        paragraphs = "".join(f"<p>{escape(text)}</p>\n" for text in body.paragraphs)
        return Markup(f'<div class="body">\n{paragraphs}</div>')  # noqa: S704 - escaped
    return Markup("")


def shown_title(item: Item) -> str:
    """An item's title as pages and feeds show it: its own, else the first characters of
    its digest's plain text (markup removed before the cut), else 无标题."""
    return item.title or plain_prefix(item.digest, _FALLBACK_TITLE_CHARS) or "（无标题）"


def display_name(item: Item) -> str:
    """How a list names an item's category: its tag (新华财经新闻), else media, else slug.
    A tag made of a media name that already ends in 新闻 and the suffix the normaliser adds
    (每日经济新闻新闻) is shown once (每日经济新闻)."""
    tag = item.tag
    if tag and tag.endswith(_DOUBLED_SUFFIX):
        tag = tag.removesuffix(_SUFFIX)
    return tag or item.media or category_of(item)


# (fields formatted one by one, as strftime writes them: it costs several times more)
def _clock(moment: datetime) -> str:
    b = beijing(moment)
    return f"{b.month:02d}-{b.day:02d} {b.hour:02d}:{b.minute:02d}"


def _minute(moment: datetime) -> str:
    b = beijing(moment)
    return f"{b.year}-{b.month:02d}-{b.day:02d} {b.hour:02d}:{b.minute:02d}"


def _stamp(moment: datetime) -> str:
    b = beijing(moment)
    return (
        f"(GMT+8, Asia/Shanghai, CST) {b.year}-{b.month:02d}-{b.day:02d} "
        f"{b.hour:02d}:{b.minute:02d}:{b.second:02d}"
    )


def _iso(moment: datetime) -> str:
    return beijing(moment).isoformat()


def _web_link(url: str | None) -> str | None:
    """An upstream link worth making clickable: http(s) only, never ``javascript:``."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    return url.strip() if parts.scheme in ("http", "https") and parts.netloc else None


def _long_day(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


@dataclass(frozen=True, slots=True)
class Reports:
    """The other reports of its story an article page lists: at most a few, the nearest
    in time (``shown``, earliest first), how many ``more`` the story has, its id (the
    story's own page lists them all) and whether the page's item is its earliest report."""

    shown: Sequence[Item] = ()
    more: int = 0
    story: int | None = None
    leads: bool | None = None


class SiteRenderer:
    """Renders every page of the site from plain values; reads nothing but its templates.

    ``live_seq`` (where a method takes it) marks a page the live app serves: the page then
    carries the change number it shows, and ``site.js`` follows ``/events`` from there.
    ``stories``, when set (:class:`~finews.publish.pages.Pages` sets it to read its store),
    gives an article page the other reports of its story when the caller passes none.
    ``live`` is set by the live app: its pages then carry the search box in the masthead
    (a static host has no search to send it to).
    """

    def __init__(self, settings: SiteSettings, *, live: bool = False) -> None:
        self.settings = settings
        self.live = live
        self.stories: Callable[[Item], Reports] | None = None
        #: the directory of security names (code → name), when the caller has a store
        self.names: Callable[[], Mapping[str, str]] | None = None
        self.env = Environment(
            loader=PackageLoader("finews.publish", "templates"),
            autoescape=select_autoescape(["html", "xml", "xsl"], default_for_string=True),
            # (manifest.webmanifest places every value with |tojson)
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,
        )
        self.assets = {name: _read_asset(name) for name in ASSETS if name not in _RENDERED_ASSETS}
        self.versions = {
            name: hashlib.sha256(data).hexdigest()[:10] for name, data in self.assets.items()
        }
        self.env.globals.update(
            live_seq=None,  # pages the live app serves set it; base.html reads it
            site=settings,
            url=settings.url,
            asset=self.asset_url,
            csp=_META_CSP,
            article_url=lambda item: settings.url(article_path(item)),
            listing_url=lambda listing, page=None: settings.url(
                listing_path(listing, settings.source_paths, page)
            ),
            feed_url=lambda kind, category=None: settings.url(feed_path(kind, category)),
            category_of=category_of,
            day_of=day_of,
            display_name=display_name,
            long_day=_long_day,
            Listing=Listing,
            item_row=self._row,
            item_rows=self._rows_of,
            stock_chips=lambda item: Markup(self._chips_html(self._chips(item)).rstrip()),  # noqa: S704 - escaped
            max_query=MAX_QUERY_CHARS,
        )
        self.env.filters.update(
            clock=_clock, minute=_minute, stamp=_stamp, iso=_iso, web_link=_web_link
        )
        # the three feed formats of a category (and "all") carry the same newest bodies:
        # sanitise and render each once, not once per feed
        self._bodies = lru_cache(maxsize=1024)(self._body_html)
        self._rows: dict[tuple[Any, ...], Markup] = {}
        # links every page carries, computed once (templates call these thousands of times)
        links: dict[str, str] = {
            "home": settings.url("/"),
            "all": settings.url("/all/"),
            "important": settings.url("/important/"),
            "hot": settings.url("/hot/"),
            "watch": settings.url("/watch/"),
            "days": settings.url("/day/"),
            "events": settings.url("/events"),
            "css": self.asset_url("site.css"),
            "js": self.asset_url("site.js"),
            "atom": settings.url(feed_path("atom")),
            "rss": settings.url(feed_path("rss")),
            "json": settings.url(feed_path("json")),
            **{
                f"{name}_{kind}": settings.url(board_feed_path(name, kind))
                for name in ("important", "hot")
                for kind in ("atom", "rss", "json")
            },
            "search": settings.url("/search") if live else "",
            "subscribe": settings.url("/subscribe/"),
            # the service worker lives at the root: it may only look after pages below it
            "sw": settings.url("/sw.js"),
        }
        self.env.globals["links"] = links
        for name in _RENDERED_ASSETS:
            self.assets[name] = self._shown(self.env.get_template(name).render()).encode()
            self.versions[name] = hashlib.sha256(self.assets[name]).hexdigest()[:10]
        links["manifest"] = self.asset_url("manifest.webmanifest")
        # the parts of every page that never change (base.html), rendered once
        chrome = self.env.get_template("_chrome.html").module
        self.env.globals["chrome"] = {
            part: Markup(getattr(chrome, part)())  # noqa: S704 - a rendered template
            for part in ("top", "head_links", "masthead", "footer")
        }
        article = self.env.get_template("article.html")
        self._article = Skeletons(partial(article.render, live_seq=None), "page")

    def asset_url(self, name: str) -> str:
        """The link to a static asset, versioned by its content so it may be cached forever."""
        return f"{self.settings.url('/static/' + name)}?v={self.versions[name]}"

    def fingerprint(self) -> str:
        """A digest of the settings, every template and every asset."""
        digest = hashlib.sha256(self.settings.fingerprint().encode())
        folder = resources.files("finews.publish") / "templates"
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if entry.is_file():
                digest.update(entry.name.encode() + b"\0" + entry.read_bytes())
        for name in ASSETS:
            digest.update(name.encode() + b"\0" + self.assets[name])
        return digest.hexdigest()

    def _render(self, template: str, **values: Any) -> str:
        values.setdefault("live_seq", None)
        return self._shown(self.env.get_template(template).render(**values))

    def _shown(self, html: str) -> str:
        # every page, row and body passes here: one place for the display conversion
        # (markup and ASCII stay as they are; only Chinese characters change)
        return convert(html, self.settings.chinese_variant)

    def home(
        self, *, stream: Sequence[Item], sections: Sequence[Section], live_seq: int | None = None
    ) -> str:
        """The home page: the newest items of all sources, then each category's newest."""
        return self._render("home.html", stream=stream, sections=sections, live_seq=live_seq)

    def listing(
        self,
        listing: Listing,
        *,
        title: str,
        items: Sequence[Item],
        page: int | None,
        newer: int | None,
        older: int | None,
        count: int | None = None,
        live_seq: int | None = None,
    ) -> str:
        """One page of a listing. ``page`` ``None`` is its first page (newest items);
        ``newer``/``older`` are the numbered pages to link to (``newer`` 0 = first page)."""
        return self._render(
            "listing.html",
            listing=listing,
            title=title,
            items=items,
            page=page,
            newer=newer,
            older=older,
            count=count,
            live_seq=live_seq,
        )

    def article(self, item: Item, *, also: Sequence[Item] | Reports | None = None) -> str:
        """An article page: time, title, body, source link, tags, back-links, and the
        other reports of the same story (``also``: all of them earliest first, or the
        :class:`Reports` to show; ``None``: ask ``stories``), each with its source, time,
        our page and the upstream link."""
        if also is None:
            also = Reports() if self.stories is None else self.stories(item)
        page = self.article_values(item, also)
        return self._shown(self._article(page))

    def article_values(self, item: Item, reports: Sequence[Item] | Reports) -> dict[str, Any]:
        """Every value the article page places, computed here rather than in the template
        (see :mod:`finews.publish.skeleton`)."""
        if not isinstance(reports, Reports):
            reports = Reports(reports)
        also = reports.shown
        # whether this item is the story's first report (else ``also`` starts with it,
        # when it lists every report)
        leads = reports.leads
        if leads is None:
            leads = bool(also) and (item.published_at, item.id or 0) < (
                also[0].published_at,
                also[0].id or 0,
            )
        story = reports.story
        day = day_of(item)
        paths = self.settings.source_paths
        names = self.names() if self.names is not None and item.stocks else {}
        url = self.settings.url
        return {
            "title": item.title or "（无标题）",
            "description": plain_prefix(item.digest, _DESCRIPTION_CHARS),
            "iso": _iso(item.published_at),
            "stamp": _stamp(item.published_at),
            "important": item.importance > 0,
            "media": item.media or "",
            "author": item.author or "",
            "digest": item.digest if item.digest != item.content else "",
            "body": body_markup(article_body(item.content, item.sanitizer)),
            "link": _web_link(item.url) or "",
            "url": item.url or "",
            "category_link": url(listing_path(Listing("category", category_of(item)), paths)),
            "display": display_name(item),
            "stocks": [
                {"label": _stock_label(code, names), "href": url(stock_path(code))}
                for code in canonical_stocks(item.stocks)  # an older item's too
            ],
            "also": [
                {
                    "iso": _iso(other.published_at),
                    "minute": _minute(other.published_at),
                    "display": display_name(other),
                    "first": other.id == story if story is not None else index == 0 and not leads,
                    "href": url(article_path(other)),
                    "title": shown_title(other),
                    "upstream": _web_link(other.url) or "",
                }
                for index, other in enumerate(also)
            ],
            "also_count": f"{len(also) + reports.more:,}",
            "leads": leads,
            "more": f"{reports.more:,}" if reports.more else "",
            "story_link": url(story_path(story)) if reports.more and story is not None else "",
            "day_link": url(listing_path(Listing("day", day.isoformat()), paths)),
            "long_day": _long_day(day),
        }

    def body_html(self, item: Item) -> str:
        """An item's body as sanitised HTML (``""`` when it has none), as feeds carry it."""
        if not item.content.strip():
            return ""
        return self._bodies(item.content, item.sanitizer)

    def _body_html(self, content: str, sanitizer: int | None) -> str:
        return self._shown(body_markup(article_body(content, sanitizer)))

    def days(self, days: Sequence[tuple[date, int]]) -> str:
        """The list of every day with items, newest first, with how many each has."""
        months: dict[tuple[int, int], list[tuple[date, int]]] = {}
        for day, count in days:
            months.setdefault((day.year, day.month), []).append((day, count))
        return self._render("days.html", months=list(months.items()))

    def subscribe(self, categories: Sequence[tuple[Listing, str]]) -> str:
        """The page listing every feed: the site's, each category's (``categories``:
        listing and display name), and on the live site how to subscribe to a search."""
        return self._render("subscribe.html", categories=categories)

    def api_docs(self, document: Mapping[str, Any]) -> str:
        """The JSON API's documentation page, made from its OpenAPI document."""
        from finews.publish.api_docs import docs_values

        return self._render("api_docs.html", docs=docs_values(document))

    def not_found(self, *, path: str = "", suggestions: Sequence[tuple[str, str]] = ()) -> str:
        """The 404 page; ``suggestions`` are (link, text) pairs worth trying instead."""
        return self._render("not_found.html", path=path, suggestions=suggestions)

    def story(self, story: int, *, items: Sequence[Item], page: int, pages: int, count: int) -> str:
        """Page ``page`` (of ``pages``) of a story's own page: its reports, earliest first."""
        return self._render(
            "story.html",
            story=story,
            items=items,
            page=page,
            pages=pages,
            count=f"{count:,}",
            newer=_story_link(self.settings.url, story, page + 1, pages),
            older=_story_link(self.settings.url, story, page - 1, pages),
        )

    def stock(
        self,
        code: str,
        *,
        name: str = "",
        items: Sequence[tuple[Item, str]],
        live_seq: int | None = None,
        page: int | None = None,
        count: int | None = None,
        newer: str | None = None,
        older: str | None = None,
    ) -> str:
        """A page of a security: its first page (``page`` ``None``: the newest items, of
        ``count``) or a numbered page, each item with how it is about the security
        (``tagged``: an upstream tagged it, 标注; ``mentioned``: its code is named, 提及;
        ``named``: its known name is, 提及（名称）);
        ``newer``/``older``: the links of the pages either side."""
        url = self.settings.url
        return self._render(
            "stock.html",
            code=code,
            name=name,
            digits=" ".join(mention_terms(code)),
            rows=Markup("\n".join(stock_row(self._row(item), how) for item, how in items)),  # noqa: S704
            feeds={kind: url(stock_path(code, kind)) for kind in ("atom", "rss", "json")},
            live_seq=live_seq,
            page=page,
            count=f"{count:,}" if count is not None else None,
            newer=newer,
            older=older,
        )

    def hot(
        self, stories: Sequence[HotStory], *, now: datetime, live_seq: int | None = None
    ) -> str:
        """The 热点 board (:mod:`finews.publish.hot`) as of ``now``."""
        url = self.settings.url
        rows = []
        for rank, row in enumerate(stories, 1):
            lead = row.lead
            rows.append(
                {
                    "rank": rank,
                    "title": shown_title(lead),
                    "href": url(article_path(lead)),
                    "important": row.importance > 0,
                    "score": f"{row.score:.1f}",
                    "sources": row.sources,
                    "reported": row.reported,
                    "first": _minute(lead.published_at),
                    "first_iso": _iso(lead.published_at),
                    "minutes": None if row.minutes is None else f"{row.minutes:.0f}",
                    "nth": min(row.sources, 3),
                    "reports": [
                        {
                            "name": display_name(report),
                            "href": url(article_path(report)),
                            "clock": _clock(report.published_at),
                            "iso": _iso(report.published_at),
                        }
                        for report in row.reports
                    ],
                    "story": url(story_path(row.story)) if row.story_page else "",
                }
            )
        return self._render(
            "hot.html",
            rows=rows,
            now=_minute(now),
            now_iso=_iso(now),
            hours=self.settings.hot_hours,
            feeds={kind: url(board_feed_path("hot", kind)) for kind in ("atom", "rss", "json")},
            live_seq=live_seq,
        )

    def watch(self, items: Sequence[Item], *, live_seq: int | None = None) -> str:
        """The 自选 page: the newest ``items``, each row carrying the text site.js matches
        the reader's terms against (title, digest's start, securities)."""
        return self._render(
            "watch.html",
            rows=Markup("\n".join(watch_row(self._row(item), item) for item in items)),  # noqa: S704
            rows_max=WATCH_ROWS,
            live_seq=live_seq,
        )

    def moved(self, item: Item) -> str:
        """What a static build leaves at an article's old path after its date changed."""
        return self._render("moved.html", item=item)

    def _row(self, item: Item) -> Markup:
        """One list row's HTML (``_macros.html`` ``row``): Python rather than a macro, as
        every listing page has dozens and a macro call costs several times more; kept by
        every value it shows, as an item is a row of three or four listings."""
        chips = self._chips(item)
        key = (
            item.id,
            item.upstream_id,
            item.published_at,
            item.importance,
            item.title or item.digest,
            item.category,
            item.tag,
            item.media,
            chips,
        )
        row = self._rows.get(key)
        if row is None:
            if len(self._rows) >= _ROWS_KEPT:
                self._rows.clear()
            row = self._rows[key] = self._make_row(item, chips)
        return row

    def _chips(self, item: Item) -> tuple[tuple[str, str], ...]:
        """The securities a row shows (label, code): the first :data:`ROW_STOCKS` the
        item is tagged with, named as its article page names them, then ``("", "+N")``
        for the rest."""
        if not item.stocks:
            return ()
        codes = list(dict.fromkeys(canonical_stocks(item.stocks)))
        names = self.names() if self.names is not None else {}
        chips = tuple((_stock_label(code, names), code) for code in codes[:ROW_STOCKS])
        if len(codes) > ROW_STOCKS:
            chips += (("", f"+{len(codes) - ROW_STOCKS}"),)
        return chips

    def _rows_of(self, items: Sequence[Item]) -> Markup:
        """The rows of a list, one per line (``_macros.html`` ``rows``)."""
        return Markup("\n".join([self._row(item) for item in items]))  # noqa: S704 - rows

    def _make_row(self, item: Item, chips: tuple[tuple[str, str], ...]) -> Markup:
        when = beijing(item.published_at)
        badge = '<span class="badge">重要</span>' if item.importance > 0 else ""
        title = shown_title(item)
        return Markup(  # noqa: S704 - every value escaped
            f'<li class="item{" important" if badge else ""}" data-item-id="{escape(item.id)}"'
            f' data-category="{escape(category_of(item))}"'
            f' data-day="{when.date().isoformat()}"'
            f' data-importance="{escape(item.importance)}">\n'
            f'<time datetime="{when.isoformat()}">{_clock(when)}</time>\n'
            f'<a class="title" href="{escape(self.settings.url(article_path(item)))}">'
            f"{badge}{escape(title)}</a>\n"
            f'<span class="tag">{escape(display_name(item))}</span>\n'
            f"{self._chips_html(chips)}"
            "</li>"
        )

    def _chips_html(self, chips: tuple[tuple[str, str], ...]) -> str:
        """A row's securities (:meth:`_chips`): a link to each one's page, then how
        many more the article page names."""
        if not chips:
            return ""
        parts = []
        for label, code in chips:
            if label:
                href = escape(self.settings.url(stock_path(code)))
                parts.append(f'<a class="stock" href="{href}">{escape(label)}</a>')
            else:
                parts.append(f'<span class="stock-more" title="还有 {code[1:]} 只">{code}</span>')
        return f'<span class="stocks">{"".join(parts)}</span>\n'

    def row(self, item: Item) -> str:
        """One list row, as the live app pushes it to open pages."""
        return self._render("row.html", item=item)


#: securities a list row names at most; the rest are counted ("+N")
ROW_STOCKS = 3


#: how a security page marks an item: an upstream tagged it, its code is named, or its
#: known name is (:class:`finews.derive.mentions.Mentions`)
STOCK_MARKS = {"tagged": "标注", "mentioned": "提及", "named": "提及（名称）"}


def stock_row(row: str, how: str) -> str:
    """A list row (:meth:`SiteRenderer._row`) with the mark of how its item is about the
    page's security (:data:`STOCK_MARKS`); site.js marks a row pushed live the same way."""
    mark = f'<span class="how how-{how}">{STOCK_MARKS[how]}</span>\n'
    return str(row).removesuffix("</li>") + mark + "</li>"


def _stock_label(code: str, names: Mapping[str, str]) -> str:
    """How an article page names a security it is tagged with: its name and code, or the
    code alone when the directory of names has none."""
    name = names.get(code)
    return f"{name} {code}" if name else code


#: items the 自选 page holds for the reader's terms to filter (a static site has no more);
#: new items push the oldest out past this many
WATCH_ROWS = 200
#: characters of a digest's plain text a 自选 row (and a live event) carries for matching
WATCH_CHARS = 200


_CODE_DIGITS = re.compile(r"(?<![0-9])(?:[0-9]{5}|[0-9]{6})(?![0-9])")


def code_digits(text: str) -> list[str]:
    """The codes ``text`` names, sorted: each whole run of 5 or 6 digits (Hong Kong and
    mainland codes), as a security's page and the 自选 page match them."""
    return sorted(set(_CODE_DIGITS.findall(text)))


def watch_text(item: Item) -> str:
    """What the 自选 page matches a reader's keywords against: the title and the start of
    the digest's plain text."""
    return f"{item.title} {plain_prefix(item.digest, WATCH_CHARS)}"


def watch_row(row: str, item: Item) -> str:
    """A list row (:meth:`SiteRenderer._row`) with what the 自选 page's filter reads:
    the item's text (:func:`watch_text`), the securities it is tagged with, and the codes
    its title and digest name (as the live events carry them)."""
    codes = " ".join(sorted(set(canonical_stocks(item.stocks))))
    named = " ".join(code_digits(f"{item.title} {item.digest}"))
    # hidden until site.js has matched it against the reader's terms (the page without
    # JavaScript says that it needs it)
    extra = (
        f' data-watch-text="{escape(watch_text(item))}" data-stocks="{escape(codes)}"'
        f' data-mentions="{escape(named)}" hidden'
    )
    head, _, rest = str(row).partition(">")
    return head + extra + ">" + rest


def _story_link(url: Callable[[str], str], story: int, page: int, pages: int) -> str | None:
    """The link to page ``page`` of a story's own page, ``None`` past either end."""
    return url(story_path(story, page)) if 1 <= page <= pages else None


def _read_asset(name: str) -> bytes:
    return (resources.files("finews.publish") / "static" / name).read_bytes()
