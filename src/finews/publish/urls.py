"""The site's URL scheme: the path of every page, and the way back from a path to a page.

One scheme serves the live app and the static build. Paths here always start with ``/`` and
are relative to the site root; :meth:`SiteSettings.url` puts ``base_url`` in front.

=======================================  =================================================
path                                     page
=======================================  =================================================
``/``                                    home
``/<category>/YYYY/MM/DD/<id>.html``     one article (the original Jekyll permalink, so
                                         links to the old site keep working); the date is
                                         the Beijing date of ``published_at``
``/emnews/``, ``/category/<slug>.html``  a category's newest items (``source_paths``)
``…/page/<n>.html``                      a category's older items; page 1 holds the oldest
``/all/``, ``/important/``               every item, important items only
``/day/``, ``/day/YYYY-MM-DD/``          the day archive
``/subscribe/``                          every feed, with copyable addresses
``/feed.xml`` ``/rss.xml`` ``/feed.json`` Atom, RSS 2.0, JSON Feed of every item
``/feeds/<slug>/{atom.xml,rss.xml,feed.json}``  the same for one category
``/stock/<code>/``                       the newest items about one security (``code`` in
                                         finews notation, :mod:`finews.sources.securities`)
``/stock/<code>/{atom.xml,rss.xml,feed.json}``  its feeds
``/story/<id>/``, ``…/page/<n>.html``   every report of a story too long for its articles
                                         to list (``id``: its earliest report's row id);
                                         page 1 is the first, earliest reports first
``/static/site.css``, ``site.js``, …      assets (``feed.xsl`` styles feeds in browsers)
``/sw.js``                               the service worker (offline reading)
=======================================  =================================================

Numbered pages count from the oldest item, so a page, once full, keeps its items when new
ones arrive (which keeps incremental static builds small). Every name used in a path goes
through :func:`segment`: URL- and file-safe names stay as they are, anything else becomes
``~`` and the hex of its UTF-8 bytes (no percent-encoding, which static hosts decode
before looking up the file, and which cannot carry ``/``). A name too long for that
becomes ``~~`` and a digest, which only a list of the names in use can turn back:
:func:`resolve` takes that list (``long_names``, the catalog's categories) and resolves a
long category's article, listing and feed paths with the same :func:`segment` that made
them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from finews.models import Item
from finews.normalize.times import BEIJING

__all__ = [
    "BEIJING",
    "FEED_FILES",
    "Article",
    "Asset",
    "DayIndex",
    "Feed",
    "Home",
    "Hot",
    "Listing",
    "ListingFeed",
    "ListingPage",
    "Stock",
    "StockFeed",
    "Story",
    "Subscribe",
    "Target",
    "Watch",
    "article_path",
    "beijing",
    "board_feed_path",
    "category_of",
    "day_bounds",
    "day_of",
    "feed_path",
    "file_name",
    "is_hashed",
    "listing_path",
    "listings_of",
    "long_names",
    "resolve",
    "segment",
    "segment_text",
    "stock_page_path",
    "stock_path",
    "story_path",
]


#: feed kind → file name of the per-category feeds (and the site-wide ones, see FEED_ROOT).
FEED_FILES = {"atom": "atom.xml", "rss": "rss.xml", "json": "feed.json"}
_FEED_ROOT = {"atom": "/feed.xml", "rss": "/rss.xml", "json": "/feed.json"}

_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
_HEX = re.compile(r"~((?:[0-9a-f]{2})+)")
_HASHED = re.compile(r"~~[0-9a-f]{40}")
#: the category of items the store has none for (pinyin slugs never start with "_")
UNCATEGORIZED = "_"


def segment(text: str) -> str:
    """``text`` as one URL path segment and file name: unchanged when it is made of ASCII
    letters, digits, ``.``, ``_`` and ``-`` (not starting with a dot or dash), otherwise
    ``~`` + the lowercase hex of its UTF-8 bytes; past 100 bytes (file names stop at 255)
    ``~~`` + a SHA-256 prefix, which only a lookup can reverse."""
    if _SAFE.fullmatch(text):
        return text
    raw = text.encode("utf-8")
    if len(raw) > 100:
        return "~~" + hashlib.sha256(raw).hexdigest()[:40]
    return "~" + raw.hex()


def is_hashed(seg: str) -> bool:
    """Whether ``seg`` is a :func:`segment` of a long text, which it cannot give back."""
    return _HASHED.fullmatch(seg) is not None


def segment_text(seg: str, long_names: Mapping[str, str] | None = None) -> str | None:
    """The text a :func:`segment` came from, or ``None`` when ``seg`` is not one. A hashed
    segment is looked up in ``long_names`` (segment → name, see :func:`long_names`)."""
    if _SAFE.fullmatch(seg):
        return seg
    if _HASHED.fullmatch(seg):
        return (long_names or {}).get(seg)
    found = _HEX.fullmatch(seg)
    if found is None:
        return None
    try:
        text = bytes.fromhex(found.group(1)).decode("utf-8")
    except UnicodeDecodeError:
        return None
    # only the canonical spelling resolves, so every page has exactly one path
    return text if segment(text) == seg else None


def long_names(names: Iterable[str]) -> dict[str, str]:
    """The hashed :func:`segment` of each of ``names`` too long to spell out, to the name:
    what :func:`resolve` needs to find the pages of those names."""
    found = {}
    for name in names:
        seg = segment(name)
        if is_hashed(seg):
            found[seg] = name
    return found


def beijing(moment: datetime) -> datetime:
    """An aware datetime in Asia/Shanghai; the last representable instant for one so late
    in 9999 that its Beijing time does not exist (an old database may hold such a date)."""
    try:
        return moment.astimezone(BEIJING)
    except OverflowError:
        return datetime.max.replace(tzinfo=BEIJING)


def day_of(item: Item) -> date:
    """The Beijing date an item belongs to."""
    return beijing(item.published_at).date()


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The UTC instants a Beijing day starts and ends (end exclusive); held at the first or
    last representable instant for 0001-01-01 and 9999-12-31, whose bounds do not exist."""
    start = datetime.combine(day, time(0), BEIJING)
    try:
        first = start.astimezone(UTC)
    except OverflowError:
        first = datetime.min.replace(tzinfo=UTC)
    try:
        end = (start + timedelta(days=1)).astimezone(UTC)
    except OverflowError:
        end = datetime.max.replace(tzinfo=UTC)
    return first, end


def category_of(item: Item) -> str:
    """The category slug the site files an item under."""
    return item.category or UNCATEGORIZED


@dataclass(frozen=True, slots=True)
class Listing:
    """A newest-first list of items with its own pages: every item (``all``), important
    items, one category (``name`` = slug) or one Beijing day (``name`` = ``YYYY-MM-DD``)."""

    kind: Literal["all", "important", "category", "day"]
    name: str = ""

    @property
    def key(self) -> str:
        """A stable string naming the listing (``all``, ``category/emnews``, ``day/…``)."""
        return f"{self.kind}/{self.name}" if self.name else self.kind

    @classmethod
    def from_key(cls, key: str) -> Listing:
        """The listing a :attr:`key` names."""
        kind, _, name = key.partition("/")
        if kind in ("all", "important") and not name:
            return cls(kind)  # type: ignore[arg-type]
        if kind in ("category", "day") and name:
            return cls(kind, name)  # type: ignore[arg-type]
        raise ValueError(f"not a listing key: {key!r}")

    @property
    def day(self) -> date | None:
        """The day of a day listing."""
        return date.fromisoformat(self.name) if self.kind == "day" else None


def listings_of(item: Item) -> list[Listing]:
    """Every listing an item appears in."""
    found = [Listing("all"), Listing("category", category_of(item))]
    found.append(Listing("day", day_of(item).isoformat()))
    if item.importance > 0:
        found.append(Listing("important"))
    return found


def article_path(item: Item) -> str:
    """The path of an item's page: ``/<category>/YYYY/MM/DD/<upstream id>.html``."""
    day = day_of(item)
    return (
        f"/{segment(category_of(item))}/{day.year:04d}/{day.month:02d}/{day.day:02d}/"
        f"{segment(item.upstream_id)}.html"
    )


def listing_path(
    listing: Listing, source_paths: Mapping[str, str] | None = None, page: int | None = None
) -> str:
    """The path of a listing's first page (``page=None``: its newest items) or of its
    numbered page ``page`` (1 = oldest)."""
    if listing.kind == "category":
        index = (source_paths or {}).get(listing.name) or f"/category/{segment(listing.name)}.html"
    elif listing.kind == "day":
        index = f"/day/{listing.name}/"
    else:
        index = f"/{listing.kind}/"
    if page is None:
        return index
    if index.endswith("/"):
        return f"{index}page/{page}.html"
    stem = index[: -len(".html")] if index.endswith(".html") else index
    return f"{stem}/page/{page}.html"


def feed_path(kind: str, category: str | None = None) -> str:
    """The path of a feed (``atom``, ``rss`` or ``json``), site-wide or of one category."""
    if category is None:
        return _FEED_ROOT[kind]
    return f"/feeds/{segment(category)}/{FEED_FILES[kind]}"


def story_path(story: int, page: int = 1) -> str:
    """The path of page ``page`` of a story's own page (the list of all its reports)."""
    return f"/story/{story}/" if page == 1 else f"/story/{story}/page/{page}.html"


def stock_path(code: str, kind: str | None = None) -> str:
    """The path of a security's page (``kind`` ``None``) or of one of its feeds."""
    folder = f"/stock/{segment(code)}/"
    return folder if kind is None else folder + FEED_FILES[kind]


def stock_page_path(code: str, page: int | None = None) -> str:
    """The path of a security's first page (``page=None``: its newest items) or of its
    numbered page ``page`` (1 = oldest, as a listing's)."""
    folder = stock_path(code)
    return folder if page is None else f"{folder}page/{page}.html"


#: the pages whose feeds live in their own folder (``/important/atom.xml``, ``/hot/…``)
BOARD_FEEDS = ("important", "hot")


def board_feed_path(name: str, kind: str) -> str:
    """The path of a feed of the important-only listing (``name`` ``important``) or of the
    热点 board (``hot``), in the folder of its page."""
    return f"/{name}/{FEED_FILES[kind]}"


def file_name(path: str) -> str:
    """The file a static host serves at ``path`` (``/emnews/`` → ``emnews/index.html``)."""
    name = path.lstrip("/")
    return name + "index.html" if name == "" or name.endswith("/") else name


# --- the way back: path → page ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Home:
    """The home page."""


@dataclass(frozen=True, slots=True)
class ListingPage:
    """A listing's first page (``page=None``) or one of its numbered pages."""

    listing: Listing
    page: int | None = None


@dataclass(frozen=True, slots=True)
class Article:
    """An article page: the category, Beijing day and upstream id in its path
    (``upstream_id`` is ``None`` when the path holds a hashed long id, ``name``)."""

    category: str
    day: date
    upstream_id: str | None
    name: str = ""


@dataclass(frozen=True, slots=True)
class DayIndex:
    """The list of every day."""


@dataclass(frozen=True, slots=True)
class Subscribe:
    """The page listing every feed."""


@dataclass(frozen=True, slots=True)
class Feed:
    """A feed: ``kind`` is ``atom``, ``rss`` or ``json``; ``category`` ``None`` = all."""

    kind: str
    category: str | None = None


@dataclass(frozen=True, slots=True)
class Story:
    """Page ``page`` of the list of a story's reports (``story``: its earliest report's id)."""

    story: int
    page: int = 1


@dataclass(frozen=True, slots=True)
class Stock:
    """A page of one security (``code`` in finews notation): its first page (``page``
    ``None``, the newest items) or a numbered page (1 = oldest)."""

    code: str
    page: int | None = None


@dataclass(frozen=True, slots=True)
class StockFeed:
    """A feed (``atom``, ``rss`` or ``json``) of one security's items."""

    kind: str
    code: str


@dataclass(frozen=True, slots=True)
class ListingFeed:
    """A feed (``atom``, ``rss`` or ``json``) of a page of :data:`BOARD_FEEDS`."""

    kind: str
    name: str


@dataclass(frozen=True, slots=True)
class Hot:
    """The 热点 board: the stories of the last hours most sources reported."""


@dataclass(frozen=True, slots=True)
class Watch:
    """The 自选 page: the stream filtered by terms kept in the reader's browser."""


@dataclass(frozen=True, slots=True)
class Asset:
    """A static asset shipped with finews (``site.css``, ``site.js``, ``feed.xsl``, the
    web app manifest and the icons)."""

    name: str


Target = (
    Home
    | ListingPage
    | Article
    | DayIndex
    | Subscribe
    | Feed
    | Asset
    | Story
    | Stock
    | StockFeed
    | ListingFeed
    | Hot
    | Watch
)

_PAGE = r"page/(0|[1-9][0-9]{0,8})\.html"
_ARTICLE = re.compile(r"/([^/]+)/(\d{4})/(\d{2})/(\d{2})/([^/]+)\.html")
_DAY = re.compile(rf"/day/(\d{{4}}-\d{{2}}-\d{{2}})/(?:{_PAGE})?")
_KIND = re.compile(rf"/(all|important)/(?:{_PAGE})?")
_CATEGORY = re.compile(rf"/category/([^/]+?)(?:\.html|/{_PAGE})")
_FEED = re.compile(r"/feeds/([^/]+)/(atom\.xml|rss\.xml|feed\.json)")
_ASSET = re.compile(
    r"/static/(site\.css|site\.js|feed\.xsl|manifest\.webmanifest|icon\.svg"
    r"|icon-192\.png|icon-512\.png|apple-touch-icon\.png)"
)
_STOCK = re.compile(
    r"/stock/([^/]+)/(index\.html|atom\.xml|rss\.xml|feed\.json|page/(?:0|[1-9][0-9]{0,8})\.html)?"
)
_BOARD_FEED = re.compile(r"/(important|hot)/(atom\.xml|rss\.xml|feed\.json)")
_STORY = re.compile(r"/story/([1-9][0-9]{0,18})/(?:page/([2-9]|[1-9][0-9]{1,8})\.html)?")


def resolve(
    path: str,
    source_paths: Mapping[str, str] | None = None,
    long_categories: Mapping[str, str] | None = None,
) -> Target | None:
    """The page at ``path`` (relative to the site root), or ``None`` when no page can be
    there. Whether an item or page number exists is for the caller to check.
    ``long_categories``: the :func:`long_names` of the categories in use, whose paths hold
    a digest of the name."""
    custom = source_paths or {}
    long = long_categories or {}
    if path in ("/", "/index.html"):
        return Home()
    if path in ("/day/", "/day/index.html"):
        return DayIndex()
    if path in ("/subscribe/", "/subscribe/index.html"):
        return Subscribe()
    if path in ("/hot/", "/hot/index.html"):
        return Hot()
    if path in ("/watch/", "/watch/index.html"):
        return Watch()
    if found := _BOARD_FEED.fullmatch(path):
        kinds = {name: kind for kind, name in FEED_FILES.items()}
        return ListingFeed(kinds[found.group(2)], found.group(1))
    if path == "/sw.js":  # the service worker, at the root to look after every page
        return Asset("sw.js")
    for kind, root in _FEED_ROOT.items():
        if path == root:
            return Feed(kind)
    if found := _ASSET.fullmatch(path):
        return Asset(found.group(1))
    if found := _STORY.fullmatch(path.removesuffix("index.html")):
        return Story(int(found.group(1)), int(found.group(2) or 1))
    if found := _STOCK.fullmatch(path):
        return _stock(found)
    if found := _FEED.fullmatch(path):
        category = segment_text(found.group(1), long)
        kinds = {name: kind for kind, name in FEED_FILES.items()}
        return Feed(kinds[found.group(2)], category) if category is not None else None
    target = _custom_listing(path, custom)
    if target is not None:
        return target
    if found := _KIND.fullmatch(path.removesuffix("index.html")):
        kind = found.group(1)
        return ListingPage(Listing(kind), _page(found.group(2)))  # type: ignore[arg-type]
    if found := _DAY.fullmatch(path.removesuffix("index.html")):
        try:
            day = date.fromisoformat(found.group(1))
        except ValueError:
            return None
        return ListingPage(Listing("day", day.isoformat()), _page(found.group(2)))
    if found := _CATEGORY.fullmatch(path):
        slug = segment_text(found.group(1), long)
        if slug is None or slug in custom:  # a moved category lives at its custom path only
            return None
        return ListingPage(Listing("category", slug), _page(found.group(2)))
    if found := _ARTICLE.fullmatch(path):
        return _article(found, long)
    return None


def _stock(found: re.Match[str]) -> Stock | StockFeed | None:
    # only the notation's own spelling has a page (a page per security, one path per page);
    # the live app sends any other notation there (finews.publish.web)
    code = segment_text(found.group(1))
    if code is None:
        return None
    name = found.group(2)
    if name in (None, "index.html"):
        return Stock(code)
    if name.startswith("page/"):
        return Stock(code, int(name.removeprefix("page/").removesuffix(".html")))
    kinds = {file: kind for kind, file in FEED_FILES.items()}
    return StockFeed(kinds[name], code)


def _page(text: str | None) -> int | None:
    return None if text is None else int(text)


def _custom_listing(path: str, custom: Mapping[str, str]) -> ListingPage | None:
    for slug, index in custom.items():
        listing = Listing("category", slug)
        if path == index or (index.endswith("/") and path == index + "index.html"):
            return ListingPage(listing)
        prefix = listing_path(listing, custom, 0)[: -len("0.html")]
        if path.startswith(prefix):
            found = re.fullmatch(r"(0|[1-9][0-9]{0,8})\.html", path[len(prefix) :])
            if found:
                return ListingPage(listing, int(found.group(1)))
    return None


def _article(found: re.Match[str], long: Mapping[str, str]) -> Article | None:
    category = segment_text(found.group(1), long)
    name = found.group(5)
    upstream_id = segment_text(name)
    if category is None or (upstream_id is None and not is_hashed(name)):
        return None
    try:
        day = date(int(found.group(2)), int(found.group(3)), int(found.group(4)))
    except ValueError:
        return None
    return Article(category, day, upstream_id, name)
