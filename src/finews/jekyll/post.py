"""The post format of the original 金融消息 Jekyll site, written and read: one place.

Pure: items in, file names and bytes out (:func:`render_post`, :func:`render_category`),
and text in, records out (:func:`parse_post`, :func:`parse_category_page`). The export
(``publish/jekyll.py``) writes what :func:`render_post` makes; the import
(``importing.py``) reads files with :func:`parse_post` and makes each post a
:class:`~finews.models.RawItem` of its source (:func:`post_raw`) that goes through
``normalize_item`` like any upstream's item. The format is written down here only: the
writing half first, then the reading half, sharing what both must agree on (the file
name's ``<source>~<id>``, the back-links' words, the rolling-news page).

One Markdown file per item, ``<YYYY-MM-DD>-<upstream id>.md`` (the Beijing date of the
publication time) for the original's East Money sources and ``<YYYY-MM-DD>-<source>~<id>.md``
for any other (:func:`post_filename`), UTF-8, LF, no newline at the end; front matter in
the fixed order
``layout``, ``title``, ``date``, ``categories``, ``tags``; then one of the three body shapes
of ``FORMAT.md`` ("Exact shapes"):

1. digest and full text: ``> {digest}\\n\\n{content}\\n\\n<{url}>\\n\\n{back-links}``
2. digest only: ``\\n{digest}\\n\\n<{url}>\\n\\n{back-links}`` (the title stands in for a
   missing digest when there is no content either)
3. full text only: ``{content}\\n\\n<{url}>\\n\\n{back-links}``

Where the original was wrong, this export is right and stays byte-identical wherever the
original was right:

- Front matter values come from PyYAML's dumper, never from pasting text between quotes:
  the title is a double-quoted scalar (an ordinary title comes out exactly as
  ``"<title>"``; ``"``, ``\\``, control characters, U+2028/U+2029, U+0085 and U+FEFF are
  escaped; characters outside the BMP, which PyYAML escapes as ``\\UXXXXXXXX``, are put back
  as themselves, as the original wrote them). ``categories`` and ``tags`` are plain
  scalars, quoted only when YAML needs it (``'null'``); a value with whitespace is written
  as a one-element list, because Jekyll splits a string of categories or tags at spaces.
- A multi-line digest is quoted line by line (``> a\\n> b``), so that it stays one
  blockquote and imports back unchanged.
- Text cannot reach Liquid, make kramdown attributes or become a ``javascript:`` link
  (:mod:`finews.normalize.markdown`): the ``{`` of ``{{``, ``{%``, ``{:`` and ``{#`` is
  written ``&#123;`` (a headline with ``{%`` would break the whole site's build; ``{: onfocus=…}``
  after a paragraph, a span or an HTML element would become an attribute; ``{::nomarkdown}``
  an extension), and the bracket of ``[x](javascript:…)`` or ``[x]: javascript:…`` is
  escaped. This holds inside and after sanitised HTML too. The source url is
  percent-encoded where it holds ``<``, ``>``, ``"``, braces, backslashes, whitespace or
  control characters, so it cannot end its ``<…>`` autolink early, and a url kramdown would
  not link (not http(s), ftp or mailto) is written ``<>``.
- Titles, tags and categories are inert text (a ``<`` that could open a tag is ``&lt;``):
  layouts print them as they are (``{{ page.title }}``).
- A full text starting with ``>`` or ``\\`` gets one ``\\`` in front, so that it is not
  read as the digest's blockquote (Markdown shows the character itself).
- A title used as the digest is plain text and is made inert like any plain text
  (:func:`inert_text`); digests and full texts are sanitised HTML or plain text as it
  came: HTML passes :func:`~finews.normalize.sanitize.clean_markup` again (which leaves it
  unchanged), plain text is escaped once (``A股<B股`` → ``A股&lt;B股``), and both are
  written so, apart from the points above.
- File names are bounded: an id that is not ``[A-Za-z0-9_.-]`` or is longer than 100
  characters keeps a readable head and gets a hash (as the static site's paths do), and so
  does a category slug over 100 characters, in its page's name and in every post.

Category pages (``category/<slug>.html``) are front matter only, ``layout: category``,
``title: <tag>``, ``category: <slug>``, and, like posts, **no newline after the closing
``---``**: one rule for every file this export writes, and Jekyll's front-matter reader
accepts a closing ``---`` at the end of the file.

Reading: :func:`parse_post` reads one post file's text, in every variant the original
wrote over its life (``FORMAT.md``, "Variants"): a blank line before the front matter;
``date:`` with ``+0800``, without a zone, or empty; back-links absent, relative on two
lines, absolute on two lines, or the final one-line ``｜`` form; a plain digest, a
``> digest`` followed by East Money HTML, or the full text alone; a source url line
``<…>`` (``<>`` when empty). :func:`parse_category_page` reads a category page.

How fields are recovered:

- title: ``yaml.safe_load`` of the front matter; when that fails (the original pasted
  titles between quotes, so an inner ``"`` broke the YAML) a line reader takes the text
  between the outer quotes as it stands.
- published: the ``date:`` as Beijing time (or at its own offset). An empty date
  (``date:  +0800``) takes the file name's date at 00:00:00 and sets ``date_missing``;
  with no date in the file name either, ``published`` is ``None`` and the importer uses
  the import time.
- upstream id: the file name after the date (``2021-12-08-<id>.md``, also ``-<id>.md``);
  for a file not named that way, the ``infoCode=`` of a share link, or the id in an East
  Money news url (``…/news/1354,<id>.html``).
- source: a name the export gave an item of another source, ``<date>-<source>~<id>.md``,
  gives that source and id back; any other post is East Money's, rolling news
  (``emnews``) or media news (``em_media``; posts do not tell media from market news),
  the source a fetch of the same item would have had, so that a later fetch or a second
  import updates the imported item instead of adding a copy.
- media: the tag without its trailing ``新闻``, except for rolling news (``emnews``), which
  has none; kind: ``rolling`` for ``emnews``, else ``media``.
- What the export did to keep text away from Liquid and kramdown (``&#123;{``, escaped
  link brackets, a ``\\`` before a full text starting with ``>``) is undone
  (:func:`finews.normalize.markdown.restore`), and so is the ``&lt;`` it wrote for a ``<``
  that could open a tag in the title and tags.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time
from pathlib import PurePath
from typing import Any
from urllib.parse import quote

import yaml

from finews.errors import ConfigError, ExportError, ParseError
from finews.models import Dropped, Item, RawItem, SourceSpec
from finews.normalize.markdown import defuse, restore
from finews.normalize.pipeline import normalize_item
from finews.normalize.sanitize import (
    as_markup,
    clean_markup,
    from_markup,
    looks_like_html,
    text_as_html,
)
from finews.normalize.times import BEIJING, parse_time, shanghai_date, shanghai_wall
from finews.normalize.verbatim import refusal

__all__ = [
    "DEFAULT_PAGE_PATHS",
    "ORIGINAL_SOURCES",
    "ROLLING_CATEGORY",
    "ImportedPost",
    "JekyllSettings",
    "category_stem",
    "imported_to_item",
    "inert_markup",
    "inert_text",
    "page_path",
    "parse_category_page",
    "parse_post",
    "post_filename",
    "post_raw",
    "render_category",
    "render_post",
    "yaml_scalar",
]

log = logging.getLogger(__name__)

#: The original's rolling-news category (东财滚动新闻), the one category without a media,
#: whose back-links point to its own page rather than its category page.
ROLLING_CATEGORY = "emnews"

#: Page paths of the sources whose back-link is not their category page.
DEFAULT_PAGE_PATHS: Mapping[str, str] = {ROLLING_CATEGORY: f"/{ROLLING_CATEGORY}/"}

#: The original site's sources (East Money): their posts keep the original's file names.
ORIGINAL_SOURCES = frozenset({"emnews", "em_media", "em_market"})

_DIR_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_UPSTREAM_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
#: the longest id or source id written into a file name as it is (file names stop at 255)
_NAME_PART_MAX = 100
#: the longest category slug used as it is (it is a path segment of every post's page)
_SLUG_MAX = 100
_UNSAFE_RUN = re.compile(r"[^A-Za-z0-9_.-]+")
#: between source and id in the name of a post of any other source (``<source>~<id>``):
#: never in the original's names
_SOURCE_MARK = "~"
#: the back-links closing every post: ``[返回<tag>](<site><page>)｜[返回首页](<site>/)``
#: (the original wrote them on two lines before its final form)
_BACK = "返回"
_HOME = "返回首页"
_LINKS_JOIN = "｜"

_SOURCE = "jekyll"
_LEADING_BLANK_LINES = re.compile(r"\A(?:[ \t]*\r?\n)+")
_FENCE = re.compile(r"^---[ \t]*\r?$\n?", re.MULTILINE)
_FIELD = re.compile(r"^([A-Za-z_][\w-]*):[ \t]?(.*?)\r?$", re.MULTILINE)
_FILENAME = re.compile(r"(?:(\d{4}-\d{2}-\d{2}))?-(.+)\.(?:md|markdown)")
_ZONE_ONLY = re.compile(r"[+-]\d{2}:?\d{2}")
_HAS_ZONE = re.compile(r"(?:[+-]\d{2}:?\d{2}|Z)\s*\Z", re.IGNORECASE)
_BACK_LINKS = re.compile(
    rf"\n\n\[{_BACK}(?P<tag>(?:\\.|[^\]\\])*)\]\((?P<href>[^()\s]*)\)"
    rf"(?:{_LINKS_JOIN}|\n)\[{_HOME}\]\((?P<home>[^()\s]*)\)\Z"
)
_URL_LINE = re.compile(r"(?:\A|\n\n)<(?P<url>(?:[A-Za-z][A-Za-z0-9+.-]*:|//)[^<>\s]*)?>\Z")
_SOURCE_AND_ID = re.compile(rf"({_UPSTREAM_ID.pattern}){_SOURCE_MARK}(.+)")
_INERT_LT = re.compile(r"&lt;(?=[A-Za-z/!?])")
_INFO_CODE = re.compile(r"[?&]infoCode=([A-Za-z0-9_-]+)")
_NEWS_ID = re.compile(r"/news/\d+,(\d+)\.html")
_SPACES = re.compile(r"\s+")
_HOST_PREFIX = re.compile(r"\A(?:[A-Za-z][A-Za-z0-9+.-]*:)?//[^/]*")
_RELATIVE_PREFIX = re.compile(r"\A(?:\.\.?/)+")


@dataclass(frozen=True, slots=True)
class JekyllSettings:
    """Where the exported site lives and how it is laid out."""

    #: the site address the back-links start with (scheme-relative in the original)
    site: str = "//finews.withounder.com"
    #: media and market items without a url link to ``share_base + upstream_id``
    share_base: str = "http://finews.zning.xyz/html_News/NewsShare.html?infoCode="
    #: days in ``posts_dir``: today and the ``window_days - 1`` before, Asia/Shanghai
    window_days: int = 3
    posts_dir: str = "_posts"
    archive_dir: str = "old_post"
    category_dir: str = "category"
    #: write the original's sources' HTML full texts as received when they pass the check
    verbatim_html: bool = True

    def __post_init__(self) -> None:
        days = self.window_days
        if isinstance(days, bool) or not isinstance(days, int) or days < 1:
            raise ConfigError("jekyll.window_days", days, "a whole number ≥ 1")
        for key in ("posts_dir", "archive_dir", "category_dir"):
            value = getattr(self, key)
            if not isinstance(value, str) or not _DIR_NAME.fullmatch(value):
                raise ConfigError(f"jekyll.{key}", value, "one directory name, [A-Za-z0-9_.-]")
        if len({self.posts_dir, self.archive_dir, self.category_dir}) != 3:
            raise ConfigError("jekyll.posts_dir", self.posts_dir, "three different directory names")
        if not isinstance(self.verbatim_html, bool):
            raise ConfigError("jekyll.verbatim_html", self.verbatim_html, "true or false")


# --- YAML scalars -------------------------------------------------------------------------

_ESCAPE = re.compile(r"\\(U[0-9A-Fa-f]{8}|.)", re.DOTALL)


def _restore_astral(match: re.Match[str]) -> str:
    token = match[1]
    if len(token) == 9:
        return chr(int(token[1:], 16))
    return match[0]


def _double_quoted(value: str) -> str:
    dumped = yaml.safe_dump(value, default_style='"', allow_unicode=True, width=float("inf"))
    # PyYAML escapes every non-BMP character, even with allow_unicode; YAML (and Jekyll's
    # Psych) read them raw, and the original wrote them raw. Escaped backslashes are
    # matched as pairs, so "\\U0001F600" written for a literal backslash is left alone.
    return _ESCAPE.sub(_restore_astral, dumped.rstrip("\n"))


@functools.lru_cache(maxsize=4096)
def _plain(value: str) -> str:
    dumped = yaml.safe_dump(value, allow_unicode=True, width=float("inf"))
    dumped = dumped.removesuffix("\n").removesuffix("\n...")
    return _double_quoted(value) if "\n" in dumped else dumped


def yaml_scalar(value: str, *, quoted: bool = False) -> str:
    """``value`` as one line of YAML scalar, made by PyYAML's dumper.

    ``quoted=True`` always gives a double-quoted scalar (the post title); otherwise a
    plain scalar when YAML reads that back as the same string, else a quoted one.
    """
    return _double_quoted(value) if quoted else _plain(value)


def _words(value: str) -> str:
    """A ``categories:``/``tags:`` value: one entry even when it holds whitespace."""
    if any(ch.isspace() for ch in value):
        return "[" + _double_quoted(value) + "]"
    return _plain(value)


# --- Markdown safety ----------------------------------------------------------------------

_URL_NEEDS_QUOTING = re.compile(r"[\x00-\x20\x7f<>\"{}\\]")
_LINK_TEXT_SPECIAL = re.compile(r"([\\\[\]])")
# The schemes kramdown makes an autolink of; any other "<…>" it may read as an HTML tag.
_AUTOLINK = re.compile(r"(?:https?|ftps?|mailto):", re.IGNORECASE)


def _url_line(url: str) -> str:
    if url and not _AUTOLINK.match(url):
        # The original wrote "<>" for an item without a url; one whose url kramdown would
        # not link (javascript:, a relative path) gets the same rather than a raw tag.
        return "<>"
    return "<" + _URL_NEEDS_QUOTING.sub(lambda m: quote(m[0], safe=""), url) + ">"


def inert_text(text: str) -> str:
    """Plain text as it may stand in a post or its front matter: shown, never run.

    ``<`` that could open a tag, comment or autolink becomes ``&lt;``
    (:func:`~finews.normalize.sanitize.text_as_html`), and Liquid and kramdown syntax is
    defused (:func:`~finews.normalize.markdown.defuse`). Ordinary text is unchanged.
    """
    return defuse(text_as_html(text))


def inert_markup(text: str) -> str:
    """A digest or full text (sanitised HTML or plain text, see ``Item``) made inert.

    HTML goes through :func:`clean_markup` again so that the export does not depend on how
    it was stored (sanitised HTML comes back unchanged); plain text, stored as it came, is
    escaped once (:func:`as_markup`); then kramdown and Liquid syntax is defused, also
    inside and after HTML, where kramdown would still read ``{: onclick=…}`` after an
    element.
    """
    return defuse(as_markup(clean_markup(text)))


# --- file names -----------------------------------------------------------------------------


def _hashed(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _name_part(text: str) -> str | None:
    """``text`` itself when it can be part of a file name unchanged, else ``None``."""
    if len(text) <= _NAME_PART_MAX and _UPSTREAM_ID.fullmatch(text):
        return text
    return None


def _source_part(source: str) -> str:
    return _name_part(source) or "~" + _hashed(source)


def _id_part(upstream_id: str) -> str:
    plain = _name_part(upstream_id)
    if plain is not None:
        return plain
    # A readable head (the end of a url id is the telling part), then the hash of it all.
    head = _UNSAFE_RUN.sub("-", upstream_id)[-40:].lstrip(".-")
    return head + "~" + _hashed(upstream_id)


def post_filename(item: Item) -> str:
    """The post's file name, ``<YYYY-MM-DD Beijing date of publication>-<name>.md``.

    ``<name>`` is the upstream id for the original's sources (:data:`ORIGINAL_SOURCES`),
    as the original wrote it. Any other item, and one whose id is longer than 100
    characters or not made of ``A-Za-z0-9_.-``, gets ``<source>~<id>``: the ``~`` never
    appears in the original's names, so no other source can take one of them. A source or
    id unfit for a file name is replaced by ``~`` and its SHA-256 prefix (an id keeps a
    readable head: ``example.com-news-1.html~<hash>``); names stay under 255 bytes, and
    each (source, id) has its own name.
    """
    day = shanghai_date(item.published_at)
    if item.source in ORIGINAL_SOURCES and _name_part(item.upstream_id) is not None:
        return f"{day}-{item.upstream_id}.md"
    return f"{day}-{_source_part(item.source)}{_SOURCE_MARK}{_id_part(item.upstream_id)}.md"


def category_stem(slug: str) -> str:
    """The category as written into posts and as its page's file name: the slug itself,
    or past 100 characters its first 60 and a hash (every post's page path holds it)."""
    if len(slug) <= _SLUG_MAX:
        return slug
    return slug[:60] + "-" + _hashed(slug)[:16]


# --- posts ----------------------------------------------------------------------------------


def page_path(
    item: Item, source_page_paths: Mapping[str, str], *, category_dir: str = "category"
) -> str:
    """The page an item's back-link points to: its source's fixed page, else its category's.

    ``source_page_paths`` maps a category to a fixed path (rolling news: ``emnews`` →
    ``/emnews/``); any other category links to ``/category/<slug>.html``.
    """
    fixed = source_page_paths.get(item.category)
    if fixed is not None:
        return fixed
    return f"/{category_dir}/{category_stem(item.category)}.html"


def _front_matter(item: Item) -> str:
    # Layouts print these values as they are ({{ page.title }}), so they are inert text.
    lines = (
        "---",
        "layout: post",
        "title: " + yaml_scalar(text_as_html(item.title), quoted=True),
        "date: " + shanghai_wall(item.published_at) + " +0800",
        "categories: " + _words(text_as_html(category_stem(item.category))),
        "tags: " + _words(text_as_html(item.tag)),
        "---",
        "",
    )
    return "\n".join(lines)


def _back_links(tag: str, settings: JekyllSettings, path: str) -> str:
    text = _LINK_TEXT_SPECIAL.sub(r"\\\1", inert_text(tag))
    target = quote(path, safe="/:@!$&'*+,;=-._~%?#")
    return f"[{_BACK}{text}]({settings.site}{target}){_LINKS_JOIN}[{_HOME}]({settings.site}/)"


def _fulltext(item: Item, received: str | None) -> str:
    """The full text to write: as received when it is HTML that passes the check, else
    the stored text made inert."""
    if received and looks_like_html(received):
        reason = refusal(received)
        if reason is None:
            return received
        log.info(
            "source=%s id=%s: the full text as received is not written (%s); "
            "the sanitised text is",
            item.source, item.upstream_id, reason,
        )  # fmt: skip
    return inert_markup(item.content)


def _body(item: Item, settings: JekyllSettings, path: str, received: str | None) -> str:
    url = item.url
    if url is None:
        # The share link is East Money's; an item of any other source without a url has "<>".
        url = settings.share_base + item.upstream_id if item.source in ORIGINAL_SOURCES else ""
    tail = "\n\n" + _url_line(url) + "\n\n" + _back_links(item.tag, settings, path)
    digest, content = inert_markup(item.digest), _fulltext(item, received)
    if digest and content:
        return "> " + digest.replace("\n", "\n> ") + "\n\n" + content + tail
    if content:
        # A leading ">" would read as the digest's blockquote; "\\" escapes it (and itself).
        return ("\\" + content if content[0] in ">\\" else content) + tail
    return "\n" + (digest or inert_text(item.title)) + tail


def render_post(
    item: Item, settings: JekyllSettings, page_path: str, *, received: str | None = None
) -> tuple[str, bytes]:
    """The post file of ``item``: its name relative to ``_posts/`` and its bytes.

    ``page_path`` is where the category back-link points (see :func:`page_path`).
    ``received`` is the item's full text as the upstream sent it (East Money's HTML): it
    is written instead of the stored text when it is HTML and passes
    :func:`~finews.normalize.verbatim.refusal` (the caller checks ``verbatim_html``).
    Raises ``ExportError`` saying why when the item cannot be a post (a blank title, a
    time or text that cannot be written); the caller names the item.
    """
    if not item.title.strip():
        # The original wrote such items as posts Jekyll ignores; we refuse them.
        raise ExportError("no title")
    try:
        name = post_filename(item)
        text = _front_matter(item) + _body(item, settings, page_path, received)
        return name, text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ExportError(f"text is not valid Unicode ({exc.reason})") from exc
    except (ValueError, OverflowError) as exc:
        raise ExportError(f"cannot write it: {exc}") from exc


def render_category(slug: str, tag: str) -> bytes:
    """A category page: front matter only, no newline after the closing ``---``."""
    lines = (
        "---",
        "layout: category",
        "title: " + yaml_scalar(text_as_html(tag)),
        "category: " + yaml_scalar(category_stem(slug)),
        "---",
    )
    return "\n".join(lines).encode("utf-8")


# --- reading ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImportedPost:
    """One post of the original site, as read back from its file."""

    filename: str
    upstream_id: str
    title: str
    #: aware UTC; ``None`` when neither the front matter nor the file name has a date
    published: datetime | None
    category: str
    tag: str
    digest: str
    content: str
    #: the ``<…>`` line (``""`` for ``<>``); ``None`` when the post has none
    url: str | None
    media: str | None
    kind: str
    #: the path the category back-link points to (``/emnews/``), ``None`` without one
    page_path: str | None
    #: the ``date:`` was empty: ``published`` comes from the file name (or is ``None``)
    date_missing: bool = False
    #: what was unusual about the file (for the import's log)
    notes: tuple[str, ...] = ()
    #: the source a ``<date>-<source>~<id>.md`` name gives, else ``None`` (East Money)
    source: str | None = None


def _error(message: str, filename: str) -> ParseError:
    return ParseError(f"{filename}: {message}", source=_SOURCE)


def _split_front_matter(text: str, filename: str) -> tuple[str, str, list[str]]:
    """The front matter's text and the body; notes on what was unusual."""
    notes: list[str] = []
    if text.startswith("\ufeff"):
        text = text[1:]
        notes.append("byte order mark")
    lead = _LEADING_BLANK_LINES.match(text)
    if lead is not None:
        text = text[lead.end() :]
        notes.append("blank line before the front matter")
    opening = _FENCE.match(text)
    if opening is None:
        raise _error("no front matter (the file does not start with ---)", filename)
    closing = _FENCE.search(text, opening.end())
    if closing is None:
        raise _error("front matter is not closed with ---", filename)
    return text[opening.end() : closing.start()], text[closing.end() :], notes


def _unquote(raw: str) -> str:
    value = raw.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _fields(front: str, filename: str, notes: list[str]) -> dict[str, str]:
    """Front-matter values as strings: YAML's where it reads them, else the line's text."""
    raw: dict[str, str] = dict(_FIELD.findall(front))
    try:
        loaded: Any = yaml.safe_load(front)
    except yaml.YAMLError:
        loaded = None
        notes.append("front matter is not valid YAML")
    data: dict[Any, Any] = loaded if isinstance(loaded, dict) else {}
    fields: dict[str, str] = {}
    for key, line in raw.items():
        value = data.get(key)
        if isinstance(value, str):
            fields[key] = value
        elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            fields[key] = " ".join(value)
        else:
            fields[key] = _unquote(line)
    return fields


def _published(value: str, file_date: str | None, filename: str) -> tuple[datetime | None, bool]:
    text = value.strip()
    if text and not _ZONE_ONLY.fullmatch(text):
        try:
            parsed = parse_time(text)
        except (OverflowError, ValueError) as exc:
            raise _error(f"date {value!r} is out of range ({exc})", filename) from exc
        if parsed is None:
            raise _error(f"date {value!r} is not a time", filename)
        return parsed, False
    if file_date is None:
        return None, True
    day = datetime.fromisoformat(file_date).date()
    return datetime.combine(day, time(0, 0), BEIJING).astimezone(UTC), True


def _page_path(href: str) -> str:
    """``//finews.zning.me/emnews/`` or ``../emnews/`` → ``/emnews/``."""
    path = _HOST_PREFIX.sub("", href, count=1)
    if path == href:
        path = "/" + _RELATIVE_PREFIX.sub("", href).lstrip("/")
    return path or "/"


def _unescape_link_text(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def _split_body(body: str) -> tuple[str, str, str | None, str | None, str | None]:
    """(digest, content, url, back-link tag, back-link page path) of a post body."""
    link_tag = path = None
    links = _BACK_LINKS.search(body)
    if links is not None:
        body = body[: links.start()]
        link_tag = _unescape_link_text(links["tag"])
        path = _page_path(links["href"])
    url = None
    url_line = _URL_LINE.search(body)
    if url_line is not None:
        body = body[: url_line.start()]
        url = url_line["url"] or ""
    if body.startswith(">"):
        quote, _, content = body.partition("\n\n")
        lines = [
            line[2:] if line.startswith("> ") else line.removeprefix(">")
            for line in quote.split("\n")
        ]
        return "\n".join(lines), content, url, link_tag, path
    if body.startswith("\n"):
        return body[1:], "", url, link_tag, path
    # The export escapes a full text starting with ">" or "\\" with one backslash.
    return "", body[1:] if body.startswith("\\") else body, url, link_tag, path


def _plain_text(value: str) -> str:
    """A front-matter value without the ``&lt;`` the export wrote for a tag's ``<``."""
    return _INERT_LT.sub("<", value)


def _upstream_id(filename: str, url: str | None) -> tuple[str, str | None, str | None]:
    """The upstream id, the file name's date (``None`` when it has none) and the source a
    ``<source>~<id>`` name gives (``None`` for any other name)."""
    named = _FILENAME.fullmatch(PurePath(filename).name)
    if named is not None:
        both = _SOURCE_AND_ID.fullmatch(named[2])
        if both is not None:
            return both[2], named[1], both[1]
        return named[2], named[1], None
    for pattern in (_INFO_CODE, _NEWS_ID):
        found = pattern.search(url or "")
        if found is not None:
            return found[1], None, None
    raise _error("cannot tell the post's id: no <date>-<id>.md name and no id in its url", filename)


def parse_post(text: str, filename: str) -> ImportedPost:
    """Read one post of the original site; ``ParseError`` when it is not a post."""
    front, body, notes = _split_front_matter(text, filename)
    fields = _fields(front, filename, notes)
    if fields.get("layout", "post") != "post":
        raise _error(f"layout {fields['layout']!r} is not a post", filename)
    category = fields.get("categories", "").strip()
    if not category:
        raise _error("no categories in the front matter", filename)
    tag = _plain_text(fields.get("tags", "").strip()) or category
    digest, content, url, link_tag, path = _split_body(body)
    if path is None:
        notes.append("no back-links")
    elif link_tag is not None and restore(link_tag) != tag:
        notes.append(f"back-link names {link_tag!r}, tags say {tag!r}")
    upstream_id, file_date, source = _upstream_id(filename, url)
    published, date_missing = _published(fields.get("date", ""), file_date, filename)
    if date_missing:
        notes.append("empty date")
    elif not _HAS_ZONE.search(fields.get("date", "")):
        notes.append("date without zone (read as Beijing time)")
    rolling = category == ROLLING_CATEGORY
    return ImportedPost(
        filename=filename,
        upstream_id=upstream_id,
        title=_plain_text(fields.get("title", "")),
        published=published,
        category=category,
        tag=tag,
        digest=restore(digest),
        content=restore(content),
        url=url,
        media=None if rolling else (tag.removesuffix("新闻") or None),
        kind="rolling" if rolling else "media",
        page_path=path,
        date_missing=date_missing,
        notes=tuple(notes),
        source=source,
    )


def parse_category_page(text: str) -> tuple[str, str]:
    """The ``(slug, tag)`` of a category page; ``ParseError`` when it is not one."""
    front, _, notes = _split_front_matter(text, "category page")
    fields = _fields(front, "category page", notes)
    if fields.get("layout") != "category":
        raise _error("layout is not category", "category page")
    slug, tag = fields.get("category", "").strip(), _plain_text(fields.get("title", "").strip())
    if not slug:
        raise _error("no category in the front matter", "category page")
    return slug, tag or slug


def post_raw(post: ImportedPost, *, source: str | None = None) -> tuple[RawItem, SourceSpec]:
    """``post`` as an item of its source, the way every upstream's items are stored: the
    :class:`~finews.models.RawItem` for ``normalize_item`` and the
    :class:`~finews.models.SourceSpec` it is normalised under, whose fixed category and tag
    are the post's own (a post states them; they are not made again from its media).

    ``source`` defaults to the one the file name gives, else to ``emnews`` for rolling
    news and ``em_media`` for any other post: the source a fetch of the same item would
    have. Digest and full text are read back from Markdown (:func:`from_markup`), so that
    normalising sanitises them as it does fetched text (benign text and East Money markup
    are unchanged by it); they are finews's stored form already, so the caller passes
    ``as_stored=True`` (see ``normalize_item``).
    """
    if source is None:
        source = post.source or (ROLLING_CATEGORY if post.kind == "rolling" else "em_media")
    raw = RawItem(
        source=source,
        upstream_id=post.upstream_id,
        title=post.title,
        summary=from_markup(post.digest),
        content=from_markup(post.content),
        url=post.url,
        published=post.published.isoformat() if post.published is not None else None,
        media=post.media,
        kind=post.kind,
    )
    # Jekyll split the original's categories with spaces; slugs have none.
    fixed = {"category": _SPACES.sub("", post.category), "tag": post.tag}
    return raw, SourceSpec(id=source, adapter=_SOURCE, name=source, settings=fixed)


def imported_to_item(
    post: ImportedPost, fetched_at: datetime, *, source: str | None = None
) -> Item:
    """The item the Jekyll export writes back as ``post``'s bytes (canonical shapes):
    :func:`post_raw` through ``normalize_item``, as the import stores it.

    ``fetched_at`` (aware) is the import time, and the publication time of a post
    without any date. :class:`~finews.errors.ParseError` when normalising drops the post
    (no title, digest or full text; no id).
    """
    raw, spec = post_raw(post, source=source)
    item = normalize_item(raw, spec, fetched_at=fetched_at, as_stored=True)
    if isinstance(item, Dropped):
        raise _error(item.reason, post.filename)
    return item
