"""Sanitising: upstream HTML through an allow-list; plain text made inert, not rewritten.

:func:`sanitize_html` runs `nh3` (ammonia) with an explicit allow-list sized to East Money's
article markup, which it keeps byte for byte (the seed post's body comes out identical):
paragraphs with ``class``, links, images, line breaks, ``<span id class>`` stock tags,
emphasis, lists, tables, ``<h2>``–``<h4>``, ``<blockquote>``, ``<center>``. Scripts, styles,
iframes, objects, SVG and MathML go with their content; event-handler attributes and every
URL scheme but ``http``, ``https`` and ``mailto`` (so ``javascript:``, ``data:``) are removed.

Decisions, and why:

- **No ``rel="noopener noreferrer"``** (``link_rel=None``). nh3 adds it to every link by
  default, which rewrites every benign upstream link. It guards against reverse
  tabnabbing through ``target="_blank"``, which every current browser already prevents
  (``_blank`` implies ``noopener`` in the HTML standard since 2019). We keep ``target``
  only as ``_blank`` or ``_self`` and ``rel`` without the ``opener`` token, so no link can
  ask for its opener back.
- **Comments are removed** (the ``<!-- EM_StockImg_Start -->`` markers): they carry no text,
  and removing them closes the parser-differential tricks comments allow.
- **Plain text is not passed through the HTML sanitiser, nor escaped.** nh3 escapes ``<``,
  ``>`` and ``&`` in text (``误差<1%`` would become ``误差&lt;1%``) and, worse, reads
  ``A股<B股`` as a tag and drops the rest. :func:`clean_markup` therefore decides: text
  containing a tag of a known HTML element (or a comment) is HTML and is sanitised; any
  other text is plain and is stored as it came. Plain text is escaped exactly once, by each
  output as its format needs it (the page's template, the feeds, :func:`text_as_html` for
  the Jekyll export's Markdown); escaping it here as well showed ``A股&amp;lt;B股``.

What :func:`clean_markup` returns is therefore either sanitised HTML, safe to insert as
is, or plain text for which :func:`looks_like_html` is false, which every output escapes.

**One set of rules, with a version.** These rules are finews's only HTML sanitiser: the
normaliser applies them as an item is stored, the Jekyll export again as it writes, and
pages through :func:`page_html`, which adds one thing for pages only (links marked
``rel="noopener noreferrer nofollow"``: pages do not vouch for upstream links). The
normaliser records the version on each item (``Item.sanitizer``, kept by the store). Text
these rules made (:data:`SANITIZER_VERSION`) needs only that at render; text of an older
version, or of unknown version (a database written before versions were recorded, or
text that skipped the normaliser), is sanitised again at render.
"""

from __future__ import annotations

import html
import re

import nh3

__all__ = [
    "PAGE_LINK_REL",
    "SANITIZER_VERSION",
    "as_markup",
    "clean_markup",
    "from_markup",
    "html_value",
    "looks_like_html",
    "page_html",
    "sanitize_for_page",
    "sanitize_html",
    "text_as_html",
]

#: The version of the rules in this module: the allow-list, URL schemes, attribute filter
#: and how text is told from HTML. Raise it with any change that makes :func:`clean_markup`
#: return other text for some input; text stored under an older version is then sanitised
#: again wherever it is shown, and ``finews reparse`` re-runs the rules over the raw data.
SANITIZER_VERSION = 1

#: what pages put on every link of a body (the store keeps upstream ``rel`` values)
PAGE_LINK_REL = "noopener noreferrer nofollow"

ALLOWED_TAGS: frozenset[str] = frozenset(
    {
        "p", "br", "a", "img", "span", "div", "center", "strong", "em", "b", "i", "u",
        "sub", "sup", "ul", "ol", "li", "h2", "h3", "h4", "blockquote",
        "table", "caption", "thead", "tbody", "tfoot", "tr", "th", "td", "colgroup", "col",
    }
)  # fmt: skip

ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "p": {"class"},
    "div": {"class"},
    "span": {"id", "class"},
    "a": {"href", "title", "target", "rel", "class"},
    "img": {"src", "alt", "title", "width", "height", "class"},
    "td": {"colspan", "rowspan", "align"},
    "th": {"colspan", "rowspan", "align", "scope"},
    "table": {"class"},
    "ol": {"start"},
}

#: Removed together with everything inside them.
DROPPED_WITH_CONTENT: frozenset[str] = frozenset(
    {"script", "style", "iframe", "object", "embed", "svg", "math", "noscript", "template"}
)

URL_SCHEMES: frozenset[str] = frozenset({"http", "https", "mailto"})

_TARGETS = frozenset({"_blank", "_self"})

# Every element name HTML defines (and the dangerous obsolete ones): a "<name" with one of
# these is a tag a browser would build, so text that has one is HTML.
_HTML_ELEMENTS = (
    "a abbr acronym address applet area article aside audio b base basefont bdi bdo bgsound "
    "big blink blockquote body br button canvas caption center cite code col colgroup data "
    "datalist dd del details dfn dialog dir div dl dt em embed fieldset figcaption figure "
    "font footer form frame frameset h1 h2 h3 h4 h5 h6 head header hgroup hr html i iframe "
    "image img input ins isindex kbd keygen label legend li link listing main map mark "
    "marquee math menu meta meter nav nobr noembed noframes noscript object ol optgroup "
    "option output p param picture plaintext pre progress q rb rp rt rtc ruby s samp script "
    "search section select slot small source span strike strong style sub summary sup svg "
    "table tbody td template textarea tfoot th thead time title tr track tt u ul var video "
    "wbr xmp"
)
_HTML_TAG = re.compile(
    r"<!--|</?(?:" + "|".join(_HTML_ELEMENTS.split()) + r")(?=[\s/>])",
    re.IGNORECASE,
)
# Where an HTML tokenizer leaves text and starts a tag, end tag, comment or declaration.
_TAG_OPEN = re.compile(r"<(?=[A-Za-z/!?])")


def _attribute_filter(tag: str, attribute: str, value: str) -> str | None:
    if attribute == "target":
        return value if value.strip().lower() in _TARGETS else None
    if attribute == "rel":
        kept = [token for token in value.split() if token.lower() != "opener"]
        return " ".join(kept) if kept else None
    return value


def _cleaner(*, link_rel: str | None) -> nh3.Cleaner:
    attributes = ALLOWED_ATTRIBUTES
    if link_rel is not None:  # nh3 sets rel itself then, and refuses to allow it as well
        attributes = {tag: names - {"rel"} for tag, names in attributes.items()}
    return nh3.Cleaner(
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes=attributes,
        attribute_filter=_attribute_filter,
        url_schemes=set(URL_SCHEMES),
        link_rel=link_rel,
        strip_comments=True,
    )


_STORED = _cleaner(link_rel=None)
_PAGE = _cleaner(link_rel=PAGE_LINK_REL)


def sanitize_html(html: str) -> str:
    """HTML through the allow-list: benign East Money markup unchanged, active content gone."""
    return _STORED.clean(html)


def page_html(stored: str, *, version: int | None = None) -> str:
    """Stored HTML as a page inserts it: the same rules, and every link marked
    :data:`PAGE_LINK_REL`. ``version``: the :data:`SANITIZER_VERSION` the text was made
    with, as the store records it (``Item.sanitizer``; ``None``: unknown); text of this
    version without a link is returned as it is (these rules made it); anything else is
    sanitised again."""
    if version == SANITIZER_VERSION and "<a" not in stored:
        return stored
    return sanitize_for_page(stored)


def sanitize_for_page(html: str) -> str:
    """The full pass :func:`page_html` makes when it has to: the rules, links marked."""
    return _PAGE.clean(html)


def looks_like_html(text: str) -> bool:
    """Whether the text holds a tag of a known HTML element or a comment."""
    return _HTML_TAG.search(text) is not None


def text_as_html(text: str) -> str:
    """Plain text made inert in HTML: each ``<`` that would open a tag becomes ``&lt;``."""
    return _TAG_OPEN.sub("&lt;", text)


def clean_markup(text: str) -> str:
    """Text as it is stored: sanitised when it is HTML, else unchanged (plain text)."""
    if looks_like_html(text):
        return sanitize_html(text)
    return text


def as_markup(stored: str) -> str:
    """A stored digest or full text as HTML-safe text: sanitised HTML as it is, plain text
    through :func:`text_as_html` (for outputs that insert it as markup, like Markdown)."""
    return stored if looks_like_html(stored) else text_as_html(stored)


# What text_as_html wrote: "&lt;" where a "<" would have opened a tag.
_ESCAPED_OPEN = re.compile(r"&lt;(?=[A-Za-z/!?])")


def from_markup(text: str) -> str:
    """The stored form of text :func:`as_markup` wrote (a Jekyll post's digest or body read
    back): HTML as it is, plain text with :func:`text_as_html` undone, unless undoing it
    would make the text read as HTML (then it stays as written, and shows as written)."""
    if looks_like_html(text):
        return text
    plain = _ESCAPED_OPEN.sub("<", text)
    return text if looks_like_html(plain) else plain


def html_value(value: str) -> str:
    """An upstream value its format declares HTML (an RSS description, a JSON Feed
    ``content_html``), as plain text when it holds no tag: ``A股&lt;B股`` is the text
    ``A股<B股``, and storing the entity would show it escaped twice."""
    return value if looks_like_html(value) else html.unescape(value)
