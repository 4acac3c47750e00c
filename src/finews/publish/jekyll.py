"""The Jekyll export: items as the original 金融消息 site's posts, byte for byte.

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

:func:`export_jekyll` streams items: posts of today and the ``window_days - 1`` days before
(Asia/Shanghai) go to ``_posts/``, older ones to ``old_post/``; a post that has left the
window has its ``_posts/`` copy removed (or moved to ``old_post/`` when this run did not
write it), except the site's first post ``2021-12-01-init.md``. Posts dated after today
stay in ``_posts/``. Two items of one source with the same file name: the newest revision
wins; of two sources (East Money's three share the original's names): the first written
stays, never replaced by another source; each clash is logged. An item that cannot be
written is skipped with a logged reason naming its source and id; the export goes on.
Unchanged files are not rewritten.

The original wrote East Money's full-text HTML as it came. With ``jekyll.verbatim_html``
(on by default), an item of the original's sources whose full text came as HTML is written
with that text as received (handed in by ``received``, read from the kept raw reply) when
:func:`finews.normalize.verbatim.refusal` finds it harmless, so its post is byte for byte
the original's; otherwise, and for every other item, with the sanitised text (logged at
INFO with the source, the id and the reason).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import yaml

from finews.errors import ConfigError, ExportError
from finews.models import Item
from finews.normalize.markdown import defuse
from finews.normalize.sanitize import as_markup, clean_markup, looks_like_html, text_as_html
from finews.normalize.times import shanghai_date, shanghai_wall
from finews.normalize.verbatim import refusal
from finews.publish.writer import Writer

__all__ = [
    "DEFAULT_PAGE_PATHS",
    "INIT_POST",
    "ORIGINAL_SOURCES",
    "DirCounts",
    "ExportReport",
    "JekyllSettings",
    "category_stem",
    "export_jekyll",
    "inert_markup",
    "inert_text",
    "page_path",
    "post_filename",
    "render_category",
    "render_post",
    "yaml_scalar",
]

log = logging.getLogger(__name__)

#: Page paths of the sources whose back-link is not their category page.
DEFAULT_PAGE_PATHS: Mapping[str, str] = {"emnews": "/emnews/"}

#: The site's first post: never moved, never removed.
INIT_POST = "2021-12-01-init.md"

#: The original site's sources (East Money): their posts keep the original's file names.
ORIGINAL_SOURCES = frozenset({"emnews", "em_media", "em_market"})

_DIR_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_UPSTREAM_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
#: the longest id or source id written into a file name as it is (file names stop at 255)
_NAME_PART_MAX = 100
#: the longest category slug used as it is (it is a path segment of every post's page)
_SLUG_MAX = 100
_UNSAFE_RUN = re.compile(r"[^A-Za-z0-9_.-]+")
_SLUG = re.compile(r"[A-Za-z0-9_-]+")
_POST_NAME = re.compile(r"(\d{4}-\d{2}-\d{2})-.+\.md")


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


@dataclass(frozen=True, slots=True)
class DirCounts:
    """What an export did in one output directory."""

    written: int = 0
    unchanged: int = 0
    #: stale ``_posts`` copies moved here or removed because this run wrote them here
    moved: int = 0


@dataclass(frozen=True, slots=True)
class ExportReport:
    """What one :func:`export_jekyll` run did, per directory and in total."""

    dirs: Mapping[str, DirCounts] = field(default_factory=dict)
    #: items that could not be exported (logged with the reason)
    skipped: int = 0
    #: items that had the same file name as another item (the older revision lost)
    duplicates: int = 0

    @property
    def written(self) -> int:
        """Files created or changed."""
        return sum(c.written for c in self.dirs.values())

    @property
    def unchanged(self) -> int:
        """Files that already held the bytes to write."""
        return sum(c.unchanged for c in self.dirs.values())

    @property
    def moved(self) -> int:
        """Stale ``_posts`` copies moved or removed."""
        return sum(c.moved for c in self.dirs.values())

    def __str__(self) -> str:
        parts = [
            f"{name}: {c.written} written, {c.unchanged} unchanged"
            + (f", {c.moved} moved in" if c.moved else "")
            for name, c in self.dirs.items()
        ]
        totals = f"{self.written} written, {self.unchanged} unchanged, {self.moved} moved"
        extra = f"; {self.skipped} skipped, {self.duplicates} duplicate file names"
        return f"{totals} ({'; '.join(parts)}){extra}"


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
    return f"{day}-{_source_part(item.source)}~{_id_part(item.upstream_id)}.md"


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
    return f"[返回{text}]({settings.site}{target})｜[返回首页]({settings.site}/)"


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


# --- export ---------------------------------------------------------------------------------


def _rank(item: Item) -> tuple[int, datetime, datetime, str]:
    return (item.revision, item.fetched_at, item.published_at, item.source)


def _move_stale(out_dir: Path, settings: JekyllSettings, window_start: str, writer: Writer) -> int:
    posts = out_dir / settings.posts_dir
    archive = out_dir / settings.archive_dir
    if not posts.is_dir():
        return 0
    moved = 0
    for name in sorted(os.listdir(posts)):
        match = _POST_NAME.fullmatch(name)
        if name == INIT_POST or match is None or match[1] >= window_start:
            continue
        stale = posts / name
        if not stale.is_file():
            continue
        kept = archive / name
        try:
            if writer.wrote(f"{settings.archive_dir}/{name}") or (
                kept.is_file() and kept.read_bytes() == stale.read_bytes()
            ):
                stale.unlink()
            else:
                archive.mkdir(parents=True, exist_ok=True)
                os.replace(stale, kept)
        except OSError as exc:
            raise ExportError(f"cannot move {stale} to {archive}: {exc}") from exc
        log.info("moved %s out of %s", name, settings.posts_dir)
        moved += 1
    return moved


def export_jekyll(
    items: Iterable[Item],
    out_dir: Path,
    settings: JekyllSettings | None = None,
    *,
    now: datetime,
    page_paths: Mapping[str, str] = DEFAULT_PAGE_PATHS,
    received: Callable[[Item], str | None] | None = None,
) -> ExportReport:
    """Write ``items`` as a Jekyll site's posts and category pages under ``out_dir``.

    ``now`` (aware) fixes "today" in Asia/Shanghai; ``page_paths`` maps categories to
    their fixed back-link pages. ``received(item)`` gives an item's full text as its
    upstream sent it, if kept; it is asked for the original's sources' items only, and
    only with ``settings.verbatim_html``. Items are streamed: only their file names, ranks and the
    categories' tags are kept in memory. A bad item is logged and skipped; the run goes on.
    Temporary files an interrupted earlier run left behind are removed first, so only one
    export may write to ``out_dir`` at a time.
    """
    settings = settings or JekyllSettings()
    today = date.fromisoformat(shanghai_date(now))
    window_start = (today - timedelta(days=settings.window_days - 1)).isoformat()
    writer = Writer(out_dir)
    for directory in (settings.posts_dir, settings.archive_dir, settings.category_dir):
        if swept := writer.sweep(directory):
            log.info("removed %d temporary files of an interrupted run from %s", swept, directory)
    ranks: dict[str, tuple[int, datetime, datetime, str]] = {}
    categories: dict[str, tuple[datetime, str]] = {}
    skipped = duplicates = 0
    for item in items:
        try:
            path = page_path(item, page_paths, category_dir=settings.category_dir)
            as_received = None
            if received is not None and settings.verbatim_html and item.source in ORIGINAL_SOURCES:
                as_received = received(item)
            name, data = render_post(item, settings, path, received=as_received)
            rank = _rank(item)
            earlier = ranks.get(name)
            if earlier is not None:
                duplicates += 1
                if earlier[3] != item.source:
                    # Another source's post: never replaced, whatever the revisions say.
                    log.warning(
                        "%s: kept %s's post, dropped %s %r with the same file name",
                        name, earlier[3], item.source, item.upstream_id,
                    )  # fmt: skip
                    continue
                if rank <= earlier:
                    log.warning(
                        "%s: kept the newer revision, dropped %s/%s", name, item.source, rank[0]
                    )
                    continue
                log.warning("%s: replaced by a newer revision from %s", name, item.source)
            directory = settings.posts_dir if name[:10] >= window_start else settings.archive_dir
            writer.write(f"{directory}/{name}", data, replace=earlier is not None)
        except (ExportError, ValueError, OverflowError) as exc:
            # One item that cannot be written costs only itself (ExportError includes the
            # writer's OSError, e.g. a full disk, which then fails each item in turn).
            log.warning("skipped [%s] %r: %s", item.source, item.upstream_id, exc)
            skipped += 1
            continue
        ranks[name] = rank
        if path == f"/{settings.category_dir}/{category_stem(item.category)}.html":
            seen = categories.get(item.category)
            if seen is None or (item.published_at, item.tag) > seen:
                categories[item.category] = (item.published_at, item.tag)
    for slug in sorted(categories):
        if not _SLUG.fullmatch(slug):
            log.warning("no category page for %r: not a slug", slug)
            continue
        try:
            writer.write(
                f"{settings.category_dir}/{category_stem(slug)}.html",
                render_category(slug, categories[slug][1]),
            )
        except ExportError as exc:
            log.warning("no category page for %r: %s", slug, exc)
    moved = _move_stale(out_dir, settings, window_start, writer)
    return ExportReport(
        dirs=_dir_counts(writer, settings, moved), skipped=skipped, duplicates=duplicates
    )


def _dir_counts(writer: Writer, settings: JekyllSettings, moved: int) -> dict[str, DirCounts]:
    written: dict[str, int] = {}
    unchanged: dict[str, int] = {}
    for rel, changed in writer.results.items():
        counter = written if changed else unchanged
        top = rel.partition("/")[0]
        counter[top] = counter.get(top, 0) + 1
    return {
        d: DirCounts(
            written=written.get(d, 0),
            unchanged=unchanged.get(d, 0),
            moved=moved if d == settings.archive_dir else 0,
        )
        for d in (settings.posts_dir, settings.archive_dir, settings.category_dir)
    }
