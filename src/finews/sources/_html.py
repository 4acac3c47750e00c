"""finews's one HTML parser for upstream pages: lxml (libxml2), with CSS selectors through
cssselect. Pure: text in, a tree or text out.

Upstream HTML is whatever a server sent, so text is made fit for libxml2 first: the
control characters no HTML or XML document may hold are dropped (they would be dropped
before storing anyway, ``normalize/storable.py``) and lone surrogates become U+FFFD (libxml2
stops reading at one). A document with nothing in it is an empty ``<html><body>``, not an
error.

libxml2 builds its tree by the rules of HTML 4, not HTML5's: on well-formed pages (every
page of the golden site, the fixtures) the article extracted is the same as an HTML5
parser's, while on broken markup (stray end tags, ``<xmp>``, ``<noembed>``, elements
nested over 2,048 deep) text may land elsewhere in the tree or, past that depth, be lost.
Elements HTML5 defines as empty (``<embed>``, ``<source>``, …) are emptied after parsing,
as libxml2 does not know all of them and would swallow what follows. Trees are written
back as HTML5 writes them (:func:`outer_html`, :func:`inner_html`), not by libxml2, whose
serialiser percent-encodes links: every golden page's article comes out byte for byte as
the HTML5 parser used before (selectolax) wrote it.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lxml.html import HtmlElement

__all__ = [
    "SelectorError",
    "body_of",
    "css",
    "document",
    "fit",
    "inner_html",
    "outer_html",
    "text_of",
]

# Characters no HTML or XML document may hold; lxml refuses text containing them.
FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_EMPTY = "<html><body></body></html>"
#: the elements whose text HTML writes as it is
_RAW_TEXT = frozenset({"script", "style", "xmp", "iframe", "noembed", "noframes", "noscript"})
#: the elements HTML defines as empty (void)
_VOID = (
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "keygen",
    "link",
    "meta",
    "param",
    "source",
    "track",
    "wbr",
)


class SelectorError(ValueError):
    """A CSS selector that cannot be read (the message says why)."""


def fit(text: str) -> str:
    """``text`` as libxml2 can hold it: see the module's docstring."""
    return _SURROGATE.sub("\ufffd", FORBIDDEN.sub("", text))


def document(text: str) -> HtmlElement:
    """The ``<html>`` element of ``text`` parsed as an HTML document (always with a body)."""
    # loaded by the first page parsed, not by every command that reads the source list
    import lxml.etree
    import lxml.html

    # huge_tree: elements nested up to 2,048 deep instead of 256 (deeper text is lost, as
    # libxml2 allows no more); a body is at most http.max_body_bytes anyway
    parser = lxml.html.HTMLParser(encoding="utf-8", huge_tree=True)
    source = fit(text)
    try:
        root = lxml.html.document_fromstring(source.encode("utf-8"), parser=parser)
    except (lxml.etree.ParserError, ValueError):  # nothing but blanks or comments
        root = lxml.html.document_fromstring(_EMPTY.encode("utf-8"), parser=parser)
    body_of(root)  # made now when missing, so that every document has one
    _empty_voids(root)
    return root


def _empty_voids(root: HtmlElement) -> None:
    """Give back what libxml2 put inside an element that HTML cannot hold anything
    (``<embed>``, ``<source>``, …: it does not know them all as empty): its text and
    children follow it instead, where an HTML5 parser puts them."""
    for element in list(root.iter(*_VOID)):
        if element.text is None and not len(element):
            continue
        parent = element.getparent()
        if parent is None:
            continue
        children = list(element)
        tail = element.tail
        element.tail = element.text
        element.text = None
        at = parent.index(element)
        for offset, child in enumerate(children, start=1):
            parent.insert(at + offset, child)  # moves it, with its tail
        last = children[-1] if children else element
        last.tail = (last.tail or "") + (tail or "") or None


def body_of(root: HtmlElement) -> HtmlElement:
    """The ``<body>`` of a :func:`document` (made when the parser gave none)."""
    body: HtmlElement | None = root.find("body")
    if body is None:
        body = root.makeelement("body", {})
        root.append(body)
    return body


def css(root: HtmlElement, selector: str) -> list[HtmlElement]:
    """The elements matching the CSS ``selector`` under ``root`` (``root`` itself included),
    in document order; :class:`SelectorError` when the selector cannot be read."""
    found: Any = _xpath(selector)(root)
    return list(found)


@functools.lru_cache(maxsize=256)
def _xpath(selector: str) -> Any:
    """``selector`` as a compiled XPath (a page is read with a handful of selectors)."""
    import lxml.etree
    from cssselect import HTMLTranslator
    from cssselect import SelectorError as CssError

    try:
        return lxml.etree.XPath(HTMLTranslator().css_to_xpath(selector))
    except CssError as exc:
        raise SelectorError(str(exc) or type(exc).__name__) from exc


def outer_html(element: HtmlElement) -> str:
    """``element`` serialised as HTML, without the text after it."""
    return "".join(_serialised(element, with_tail=False))


def inner_html(element: HtmlElement) -> str:
    """What ``element`` holds, serialised as HTML."""
    parts = [_text(element.text, element.tag)] if element.text else []
    for child in element:
        parts += _serialised(child, with_tail=True)
    return "".join(parts)


def _serialised(root: HtmlElement, *, with_tail: bool) -> list[str]:
    """HTML5's serialisation of ``root`` (libxml2's own percent-encodes every non-ASCII
    character and blank in ``href`` and ``src``, which changes links). A walk, not a
    recursion: an element may be nested 2,048 deep."""
    import lxml.etree

    parts: list[str] = []
    if not isinstance(root.tag, str):  # a comment (iterwalk starts at elements only)
        parts.append(f"<!--{root.text or ''}-->")
        parent = root.getparent()
        if with_tail and root.tail:
            parts.append(_text(root.tail, parent.tag if parent is not None else ""))
        return parts
    for event, node in lxml.etree.iterwalk(root, events=("start", "end", "comment", "pi")):
        tag = node.tag if isinstance(node.tag, str) else ""  # "" for a comment
        if event == "start":
            attributes = "".join(f' {k}="{_attribute(v)}"' for k, v in node.attrib.items())
            parts.append(f"<{tag}{attributes}>")
            if node.text and tag not in _VOID:
                parts.append(_text(node.text, tag))
            continue
        if event == "end":
            if tag not in _VOID:
                parts.append(f"</{tag}>")
        else:  # a comment (HTML has no processing instructions: they are comments too)
            parts.append(f"<!--{node.text or ''}-->")
        if node.tail and (node is not root or with_tail):
            parent = node.getparent()
            parts.append(_text(node.tail, parent.tag if parent is not None else ""))
    return parts


def _text(text: str, parent: object) -> str:
    """Text as HTML5 writes it in ``parent``: raw in script, style and the like."""
    if parent in _RAW_TEXT:
        return text
    return (
        text.replace("&", "&amp;")
        .replace("\xa0", "&nbsp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
    )


def _attribute(value: str) -> str:
    return value.replace("&", "&amp;").replace("\xa0", "&nbsp;").replace('"', "&quot;")


def text_of(element: HtmlElement) -> list[str]:
    """Every piece of text under ``element``, in document order (comments left out)."""
    found: Any = element.xpath(".//text()")
    return [str(part) for part in found]
