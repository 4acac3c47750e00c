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

from urllib.parse import urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode, SelectolaxError

from finews.errors import ConfigError
from finews.sources._encoding import decode_document, html_declared_charset

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


class NoArticleError(ValueError):
    """The page has no element the selector matches."""


def extract_article(body: bytes, page_url: str, selector: str = "") -> str:
    """The article in an HTML page as an HTML fragment; ``""`` when no block of text is
    large enough. With ``selector``, the matching elements joined; :class:`NoArticleError`
    when none matches, :class:`~finews.errors.ConfigError` when the selector is invalid.
    """
    decoded = decode_document(body, html_declared_charset(body))
    tree = LexborHTMLParser(decoded.text)
    base = _base_url(tree, page_url)
    if selector.strip():
        try:
            nodes = tree.css(selector)
        except SelectolaxError as exc:
            raise ConfigError("fulltext_selector", selector, f"a CSS selector ({exc})") from exc
        if not nodes:
            raise NoArticleError(f"fulltext_selector {selector!r} matched nothing")
        for node in nodes:
            _strip(node, "script, style, noscript, template, iframe, object, embed")
            _absolutize_node(node, base)
        return "\n".join(node.html or "" for node in nodes)
    if tree.body is None:
        return ""
    _strip(tree.body, _CHROME)
    best = _largest_block(tree.body)
    if best is None:
        return ""
    _absolutize_node(best, base)
    return best.html or ""


def absolutize(fragment: str, base_url: str) -> str:
    """An HTML fragment with its links and image sources made absolute against
    ``base_url`` (lazy-loaded images get their real ``src``)."""
    if "<" not in fragment:
        return fragment
    tree = LexborHTMLParser(fragment)
    if tree.body is None:
        return fragment
    _absolutize_node(tree.body, base_url)
    return tree.body.inner_html or ""


def _base_url(tree: LexborHTMLParser, page_url: str) -> str:
    base = tree.css_first("base[href]")
    href = base.attributes.get("href") if base is not None else None
    return urljoin(page_url, href) if href else page_url


def _strip(root: LexborNode, selector: str) -> None:
    for node in root.css(selector):
        node.decompose()


def _largest_block(root: LexborNode) -> LexborNode | None:
    best: LexborNode | None = None
    best_score = MIN_BLOCK_CHARS - 1
    for node in (root, *root.css(_BLOCKS)):
        score = _direct_text(node)
        if score > best_score:
            best, best_score = node, score
    return best


def _direct_text(node: LexborNode) -> int:
    """Characters of text the node holds itself: its text and its paragraphs, not the
    text of nested blocks (each of those is scored on its own)."""
    total = 0
    for child in node.iter(include_text=True, skip_empty=True):
        if child.tag == "-text":
            total += len((child.text_content or "").strip())
        elif child.tag in ("p", "blockquote", "pre", "h2", "h3", "span", "font", "strong", "b"):
            total += len(child.text(deep=True, strip=True))
    return total


def _absolutize_node(root: LexborNode, base_url: str) -> None:
    for img in root.css("img"):
        src = img.attributes.get("src") or ""
        if not src or src.startswith("data:"):
            lazy = next((img.attributes.get(a) for a in _LAZY_SRC if img.attributes.get(a)), None)
            if lazy:
                img.attrs["src"] = lazy
    for tag, attr in _LINK_ATTRS:
        for node in root.css(f"{tag}[{attr}]"):
            value = (node.attributes.get(attr) or "").strip()
            if value and not value.startswith(("#", "data:")):
                absolute = urljoin(base_url, value)
                if urlsplit(absolute).scheme in ("http", "https"):
                    node.attrs[attr] = absolute
