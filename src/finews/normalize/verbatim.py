"""Whether an upstream's article HTML may stand in a Jekyll post exactly as it was received.

The original 金融消息 site wrote East Money's full-text HTML into its posts as it came
(``<!-- EM_StockImg_Start -->`` markers, ``style``, ``data-code``, ``border``, ``/>``, bare
``&``); its users expect the same bytes from ``finews export jekyll``. Stored items hold
sanitised HTML (:mod:`finews.normalize.sanitize`), so the export writes the kept raw text
instead, but only when :func:`refusal` finds nothing in it that could run in a reader's
browser, through Liquid, kramdown or any HTML parser. Anything it is unsure of is refused:
the export then writes the sanitised text, as for every other source.

The check is an allow-list in three passes, each of which must pass:

1. **Characters and Markdown.** No control character but tab and line feed (no ``\\r``:
   posts are LF), no lone surrogate; nothing :func:`~finews.normalize.markdown.defuse`
   would change (Liquid ``{{``/``{%``, kramdown ``{:``/``{#``, a Markdown link or
   definition to a scheme other than http(s)/mailto/ftp): kramdown reads Markdown in the
   text around span-level HTML.
2. **Tokens.** Every ``<`` a browser would read as markup must start either an
   ``<!-- EM_StockImg_Start -->``/``<!-- EM_StockImg_End -->`` comment or a plainly written
   tag of an allowed element: a name, then attributes with allowed names, each once,
   values quoted without ``<``, ``>``, backquote or line break (or unquoted, from a small
   alphabet), each passing the value checks of pass 3 as a browser decodes it, then ``>``
   or ``/>``. No other comment, no ``<!``, ``<?`` or ``</`` of any other kind. Text this
   plain reads the same to lxml, to kramdown and to a browser, so the tree that pass 3
   checks is the one a reader's browser builds (and an element lxml would leave out has
   had its attributes checked here).
3. **Tree** (lxml, the parser the project uses for East Money's article pages): only
   :data:`ELEMENTS` and comments of the EM_StockImg form, at most :data:`MAX_DEPTH` deep;
   per element only its :data:`ATTRIBUTES`, the global :data:`GLOBAL_ATTRIBUTES` and
   ``data-*``; ``href``/``src`` only http(s), protocol-relative or relative (judged as
   given and with character references decoded, what browsers ignore dropped); ``style``
   without ``url(``, ``src(``, ``expression``, ``@import``, ``behavior``, ``-moz-binding``,
   ``image(`` and without backslashes, comments, braces or ``&``; ``target`` only
   ``_blank``/``_self``, ``rel`` never ``opener``; other values plain.

:func:`refusal` returns the first reason found (for the export's log line), or ``None``.
Pure: no I/O; lxml is imported on the first call.
"""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING

from finews.normalize.markdown import defuse
from finews.normalize.sanitize import ALLOWED_ATTRIBUTES, ALLOWED_TAGS

if TYPE_CHECKING:
    from lxml.html import HtmlElement

__all__ = ["ATTRIBUTES", "ELEMENTS", "GLOBAL_ATTRIBUTES", "MAX_DEPTH", "refusal"]

#: Elements a post may hold as received: the sanitiser's, and ``font`` (old East Money
#: articles colour text with it).
ELEMENTS: frozenset[str] = ALLOWED_TAGS | {"span", "div", "font", "center"}

#: Attributes allowed on every element of :data:`ELEMENTS` (``data-*`` too).
GLOBAL_ATTRIBUTES: frozenset[str] = frozenset(
    {"class", "id", "style", "border", "align", "width", "height"}
)

#: Attributes allowed on one element besides the global ones: the sanitiser's, and
#: ``font``'s presentational ones.
ATTRIBUTES: dict[str, frozenset[str]] = {
    **{tag: frozenset(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
    "font": frozenset({"color", "face", "size"}),
}

#: The deepest nesting accepted (kramdown and browsers recurse over it).
MAX_DEPTH = 64

_URL_ATTRIBUTES = frozenset({"href", "src"})
_DATA_ATTRIBUTE = re.compile(r"data-[a-z0-9][a-z0-9_.-]*")

# pass 1: C0 controls but tab and line feed, DEL, C1 controls, lone surrogates
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")

# pass 2: where a browser's tokenizer leaves text for markup
_MARKUP_OPEN = re.compile(r"<(?=[A-Za-z/!?])")
_EM_COMMENT = re.compile(r"<!-- ?EM_StockImg_(?:Start|End) ?-->")
_NAME = r"[A-Za-z][A-Za-z0-9]*"
_ATTRIBUTE = re.compile(
    r"[ \t]+([A-Za-z][A-Za-z0-9_.-]*)"
    r"(?:[ \t]*=[ \t]*(\"[^\"<>`\n\r]*\"|'[^'<>`\n\r]*'|[A-Za-z0-9_.%#:;,+-]+(?=[ \t>])))?"
)
_START_TAG = re.compile(
    rf"<({_NAME})((?:[ \t]+[A-Za-z][A-Za-z0-9_.-]*"
    r"(?:[ \t]*=[ \t]*(?:\"[^\"<>`\n\r]*\"|'[^'<>`\n\r]*'|[A-Za-z0-9_.%#:;,+-]+(?=[ \t>])))?)*)"
    r"[ \t]*/?>"
)
_END_TAG = re.compile(rf"</({_NAME})[ \t]*>")

# pass 3
_EM_COMMENT_TEXT = re.compile(r" ?EM_StockImg_(?:Start|End) ?")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_IGNORED_IN_URLS = re.compile(r"[\x00-\x20\\]")
_STYLE_WORDS = re.compile(
    r"url\(|src\(|expression|@import|behavior|binding|image\(|image-set|javascript|vbscript",
    re.IGNORECASE,
)
_STYLE_CHARS = re.compile(r"[^\\/*{}<>&@`]*")
_PLAIN_VALUE = re.compile(r"[^<>\"'`&\\(){};]*")
_TARGETS = frozenset({"_blank", "_self"})


def refusal(text: str) -> str | None:
    """Why ``text`` may not be written into a post as it came, or ``None`` when it may."""
    return _characters(text) or _tokens(text) or _tree(text)


def _characters(text: str) -> str | None:
    bad = _CONTROL.search(text)
    if bad is not None:
        return f"control character U+{ord(bad[0]):04X}"
    if defuse(text) != text:
        return "Liquid or kramdown syntax ({{, {%, {:, {# or a Markdown link to a script)"
    return None


def _allowed_attribute(tag: str, name: str) -> bool:
    return (
        name in GLOBAL_ATTRIBUTES
        or name in ATTRIBUTES.get(tag, ())
        or _DATA_ATTRIBUTE.fullmatch(name) is not None
    )


def _tokens(text: str) -> str | None:
    position = 0
    while (found := _MARKUP_OPEN.search(text, position)) is not None:
        start = found.start()
        if comment := _EM_COMMENT.match(text, start):
            position = comment.end()
            continue
        tag = _START_TAG.match(text, start) or _END_TAG.match(text, start)
        if tag is None:
            snippet = text[start : start + 30]
            return f"markup at character {start} that is not a plain tag: {snippet!r}"
        name = tag[1].lower()
        if name not in ELEMENTS:
            return f"element <{name}>"
        if tag.re is _START_TAG:
            seen: set[str] = set()
            for attribute in _ATTRIBUTE.finditer(tag[2]):
                key = attribute[1].lower()
                if key in seen:
                    return f"attribute {key!r} twice on <{name}>"
                seen.add(key)
                # values are judged here too, as a browser decodes them: an element that
                # lxml would leave out of its tree is checked all the same
                value = html.unescape((attribute[2] or "").strip("\"'"))
                if reason := _attribute(name, key, value):
                    return reason
        position = tag.end()
    return None


def _tree(text: str) -> str | None:
    import lxml.etree
    import lxml.html

    parser = lxml.html.HTMLParser(
        encoding="utf-8", remove_comments=False, remove_pis=False, no_network=True
    )
    try:
        root = lxml.html.fragment_fromstring(
            text.encode("utf-8"), create_parent="div", parser=parser
        )
    except (lxml.etree.LxmlError, ValueError) as exc:
        return f"HTML lxml cannot read: {exc}"
    pending: list[tuple[HtmlElement, int]] = [(child, 1) for child in root]
    while pending:
        node, depth = pending.pop()
        if depth > MAX_DEPTH:
            return f"elements nested over {MAX_DEPTH} deep"
        if isinstance(node, lxml.etree._Comment):
            if _EM_COMMENT_TEXT.fullmatch(node.text or "") is None:
                return "a comment other than the EM_StockImg markers"
            continue
        if not isinstance(node.tag, str):  # a processing instruction or an entity
            return "markup other than elements and EM_StockImg comments"
        name = node.tag.lower()
        if name not in ELEMENTS:
            return f"element <{name}>"
        for key, value in node.attrib.items():
            if reason := _attribute(name, key.lower(), value):
                return reason
        pending.extend((child, depth + 1) for child in node)
    return None


def _attribute(tag: str, name: str, value: str) -> str | None:
    if name.startswith("on"):
        return f"event handler {name!r} on <{tag}>"
    if not _allowed_attribute(tag, name):
        return f"attribute {name!r} on <{tag}>"
    if name in _URL_ATTRIBUTES:
        # judged as a browser reads it, and then some: as given and with references
        # decoded once more, whitespace, controls and backslashes dropped
        for form in (value, html.unescape(value)):
            scheme = _SCHEME.match(_IGNORED_IN_URLS.sub("", form))
            if scheme is not None and scheme[1].lower() not in {"http", "https"}:
                return f"a {scheme[1].lower()}: URL in {name} on <{tag}>"
        return None
    if name == "style":
        if _STYLE_CHARS.fullmatch(value) is None or _STYLE_WORDS.search(value) is not None:
            return f"a style on <{tag}> that could load or run something: {value[:60]!r}"
        return None
    if name == "target":
        return None if value.strip().lower() in _TARGETS else f"target {value!r} on <{tag}>"
    if name == "rel":
        return "rel 'opener'" if "opener" in value.lower().split() else None
    if name in {"class", "id", "title", "alt"} or name.startswith("data-"):
        return None  # any text: pass 2 kept angle brackets and backquotes out of values
    if _PLAIN_VALUE.fullmatch(value) is None:
        return f"attribute {name!r} on <{tag}> with value {value[:60]!r}"
    return None
