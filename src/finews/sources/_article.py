"""Article text out of an HTML page: by a CSS selector, or by the largest block of text.

Pure: bytes in, an HTML fragment out. Encoding is sniffed like a feed's (the ``<meta>``
charset is a hint, not the truth). Without a selector the page's chrome (scripts, styles,
navigation, headers, footers, forms, asides) is removed and the element holding the most
paragraph text directly wins: the "largest text block" rule readability-style extractors
start from, and enough for the article pages of news sites. Links and images inside the
result are made absolute against the page URL (or its ``<base href>``), and lazy-loaded
images get their real ``src``. The caller sanitises the fragment before publishing it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

from finews.errors import ConfigError
from finews.sources._encoding import decode_document, html_declared_charset
from finews.sources._html import (
    SelectorError,
    body_of,
    css,
    document,
    fit,
    inner_html,
    outer_html,
    text_of,
)

if TYPE_CHECKING:
    from lxml.html import HtmlElement

__all__ = ["MIN_BLOCK_CHARS", "NoArticleError", "absolutize", "extract_article"]

#: a block with less text than this is not taken for an article
MIN_BLOCK_CHARS = 50

_CHROME = (
    "script, style, noscript, template, iframe, object, embed, svg, canvas, form, button, "
    "input, select, textarea, nav, header, footer, aside"
)
_BLOCKS = "article, main, section, div, td"
_LAZY_SRC = ("data-src", "data-original", "data-lazy-src", "data-actualsrc")
_LINK_ATTRS = (("a", "href"), ("img", "src"), ("source", "src"), ("video", "src"))
#: elements whose whole text counts as their parent block's own
_TEXT_TAGS = frozenset({"p", "blockquote", "pre", "h2", "h3", "span", "font", "strong", "b"})


class NoArticleError(ValueError):
    """The page has no element the selector matches."""


def extract_article(body: bytes, page_url: str, selector: str = "") -> str:
    """The article in an HTML page as an HTML fragment; ``""`` when no block of text is
    large enough. With ``selector``, the matching elements joined; :class:`NoArticleError`
    when none matches, :class:`~finews.errors.ConfigError` when the selector is invalid.
    """
    decoded = decode_document(body, html_declared_charset(body))
    tree = document(decoded.text)
    base = _base_url(tree, page_url)
    if selector.strip():
        try:
            nodes = css(tree, selector)
        except SelectorError as exc:
            raise ConfigError("fulltext_selector", selector, f"a CSS selector ({exc})") from exc
        if not nodes:
            raise NoArticleError(f"fulltext_selector {selector!r} matched nothing")
        for node in nodes:
            _strip(node, "script, style, noscript, template, iframe, object, embed")
            _absolutize_node(node, base)
        return "\n".join(outer_html(node) for node in nodes)
    root = body_of(tree)
    _strip(root, _CHROME)
    best = _largest_block(root)
    if best is None:
        return ""
    _absolutize_node(best, base)
    return outer_html(best)


def absolutize(fragment: str, base_url: str) -> str:
    """An HTML fragment with its links and image sources made absolute against
    ``base_url`` (lazy-loaded images get their real ``src``)."""
    if "<" not in fragment:
        return fragment
    root = body_of(document(fragment))
    _absolutize_node(root, base_url)
    return inner_html(root)


def _base_url(tree: HtmlElement, page_url: str) -> str:
    found = css(tree, "base[href]")
    href = found[0].get("href") if found else None
    return urljoin(page_url, href) if href else page_url


def _strip(root: HtmlElement, selector: str) -> None:
    for node in css(root, selector):
        if node.getparent() is not None:  # the root of a selection has none to leave
            node.drop_tree()


def _largest_block(root: HtmlElement) -> HtmlElement | None:
    best: HtmlElement | None = None
    best_score = MIN_BLOCK_CHARS - 1
    for node in (root, *css(root, _BLOCKS)):
        score = _direct_text(node)
        if score > best_score:
            best, best_score = node, score
    return best


def _direct_text(node: HtmlElement) -> int:
    """Characters of text the node holds itself: its text and its paragraphs, not the
    text of nested blocks (each of those is scored on its own)."""
    total = len((node.text or "").strip())
    for child in node:
        if child.tag in _TEXT_TAGS:
            total += sum(len(part.strip()) for part in text_of(child))
        total += len((child.tail or "").strip())
    return total


def _absolutize_node(root: HtmlElement, base_url: str) -> None:
    for img in css(root, "img"):
        src = img.get("src") or ""
        if not src or src.startswith("data:"):
            lazy = next((img.get(a) for a in _LAZY_SRC if img.get(a)), None)
            if lazy:
                img.set("src", lazy)
    for tag, attr in _LINK_ATTRS:
        for node in css(root, f"{tag}[{attr}]"):
            value = (node.get(attr) or "").strip()
            if value and not value.startswith(("#", "data:")):
                absolute = urljoin(base_url, value)
                if urlsplit(absolute).scheme in ("http", "https"):
                    # fit: the base URL came from a feed, and may hold what lxml refuses
                    node.set(attr, fit(absolute))
