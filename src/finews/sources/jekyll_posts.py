"""The Jekyll import: the original 金融消息 site's posts read back into items (pure).

:func:`parse_post` reads one post file's text, in every variant the original wrote over
its life (``FORMAT.md``, "Variants"): a blank line before the front matter; ``date:``
with ``+0800``, without a zone, or empty; back-links absent, relative on two lines,
absolute on two lines, or the final one-line ``｜`` form; a plain digest, a ``> digest``
followed by East Money HTML, or the full text alone; a source url line ``<…>`` (``<>``
when empty). :func:`parse_category_page` reads a category page. :func:`imported_to_item`
turns a post into the :class:`~finews.models.Item` that the Jekyll export writes back as
the same bytes, for a post in any of the three canonical shapes.

Text in, records out: nothing here reads files or the network.

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

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time
from pathlib import PurePath
from typing import Any

import yaml

from finews.errors import ParseError
from finews.models import Item
from finews.normalize.markdown import restore
from finews.normalize.sanitize import clean_markup, from_markup
from finews.normalize.text import title_of
from finews.normalize.times import BEIJING, parse_time

__all__ = [
    "ROLLING_CATEGORY",
    "ImportedPost",
    "imported_to_item",
    "parse_category_page",
    "parse_post",
]

#: The original's rolling-news category (东财滚动新闻), the one category without a media.
ROLLING_CATEGORY = "emnews"

_SOURCE = "jekyll"
_LEADING_BLANK_LINES = re.compile(r"\A(?:[ \t]*\r?\n)+")
_FENCE = re.compile(r"^---[ \t]*\r?$\n?", re.MULTILINE)
_FIELD = re.compile(r"^([A-Za-z_][\w-]*):[ \t]?(.*?)\r?$", re.MULTILINE)
_FILENAME = re.compile(r"(?:(\d{4}-\d{2}-\d{2}))?-(.+)\.(?:md|markdown)")
_ZONE_ONLY = re.compile(r"[+-]\d{2}:?\d{2}")
_HAS_ZONE = re.compile(r"(?:[+-]\d{2}:?\d{2}|Z)\s*\Z", re.IGNORECASE)
_LINK = r"\[返回(?P<{0}>(?:\\.|[^\]\\])*)\]\((?P<{1}>[^()\s]*)\)"
_HOME = r"\[返回首页\]\((?P<home>[^()\s]*)\)"
_BACK_LINKS = re.compile(r"\n\n" + _LINK.format("tag", "href") + r"(?:｜|\n)" + _HOME + r"\Z")
_URL_LINE = re.compile(r"(?:\A|\n\n)<(?P<url>(?:[A-Za-z][A-Za-z0-9+.-]*:|//)[^<>\s]*)?>\Z")
_SOURCE_AND_ID = re.compile(r"([A-Za-z0-9_][A-Za-z0-9_.-]*)~(.+)")
_INERT_LT = re.compile(r"&lt;(?=[A-Za-z/!?])")
_INFO_CODE = re.compile(r"[?&]infoCode=([A-Za-z0-9_-]+)")
_NEWS_ID = re.compile(r"/news/\d+,(\d+)\.html")
_SPACES = re.compile(r"\s+")
_HOST_PREFIX = re.compile(r"\A(?:[A-Za-z][A-Za-z0-9+.-]*:)?//[^/]*")
_RELATIVE_PREFIX = re.compile(r"\A(?:\.\.?/)+")


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


def imported_to_item(
    post: ImportedPost, fetched_at: datetime, *, source: str | None = None
) -> Item:
    """The item the Jekyll export writes back as ``post``'s bytes (canonical shapes).

    ``fetched_at`` (aware) is the import time, and the publication time of a post
    without any date. ``source`` defaults to the one the file name gives, else to
    ``emnews`` for rolling news and ``em_media`` for any other post. Digest and full
    text go through the same sanitising as fetched items (benign text and East Money
    markup are unchanged by it).
    """
    if fetched_at.tzinfo is None or fetched_at.utcoffset() is None:
        raise ValueError(f"fetched_at must be timezone-aware, got {fetched_at!r}")
    title = post.title if post.title.strip() else title_of(None, post.digest, post.content)
    if title is None:
        raise _error("no title, digest or full text", post.filename)
    fetched = fetched_at.astimezone(UTC)
    if source is None:
        source = post.source or ("emnews" if post.kind == "rolling" else "em_media")
    return Item(
        source=source,
        upstream_id=post.upstream_id,
        title=title,
        published_at=post.published or fetched,
        fetched_at=fetched,
        digest=clean_markup(from_markup(post.digest)),
        content=clean_markup(from_markup(post.content)),
        url=post.url,
        media=post.media,
        # Jekyll split the original's categories with spaces; slugs have none.
        category=_SPACES.sub("", post.category),
        tag=post.tag,
        kind=post.kind,
    )
