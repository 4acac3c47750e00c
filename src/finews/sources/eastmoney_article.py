"""The full text of an East Money article from its page (upstreams.md 1d).

Articles live at ``finance.eastmoney.com/a/<code>.html``; the body is ``div#ContentBody``.
The mobile page ``wap.eastmoney.com/a/<code>.html`` is asked next when the desktop page
cannot be fetched (``Request.fallback_urls``); its body is found by the same id or by the
``content-body``/``article-content`` classes. A page with none of these is a
:class:`~finews.errors.ParseError`: the summary is never passed off as the full text.

What comes back is the inner HTML of the body, minus scripts, styles, the QR-code and
advert blocks, and the trailing 责任编辑/来源/声明 paragraphs; it is sanitised later like
every other full text. Both East Money adapters (``eastmoney_fast``, ``eastmoney_column``)
declare :data:`ARTICLE_SETTINGS` and call :func:`article_request` and :func:`parse_article`.
"""

from __future__ import annotations

import html
import re
from typing import Any

from finews.errors import ParseError
from finews.sources._html import document
from finews.sources.base import Request, Setting, http_url

__all__ = ["ARTICLE_SETTINGS", "article_request", "parse_article"]

#: The settings of an East Money adapter that reads article pages.
ARTICLE_SETTINGS: tuple[Setting, ...] = (
    Setting(
        "article_url",
        str,
        "https://finance.eastmoney.com/a/{code}.html",
        "item link and article page; {code} is replaced by the item code",
        check=http_url,
    ),
    Setting(
        "mobile_article_url",
        str,
        "https://wap.eastmoney.com/a/{code}.html",
        "article page asked when the first cannot be fetched; empty: none",
        check=http_url,
    ),
)

# An item code goes into a URL path: letters and digits only, so it cannot reach elsewhere.
_CODE = re.compile(r"[0-9A-Za-z]{1,40}")
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-]+)""", re.IGNORECASE)
# GB2312 and GBK pages often hold characters only GB18030 (their superset) names.
_SUPERSETS = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030"}
_BODY_PATHS = (
    "//*[@id='ContentBody']",
    "//*[contains(concat(' ', normalize-space(@class), ' '), ' content-body ')]",
    "//*[contains(concat(' ', normalize-space(@class), ' '), ' article-content ')]",
)
_DROPPED_TAGS = ("script", "style", "noscript", "iframe", "template")
# Class names of the blocks East Money puts inside the body that are not the article.
_JUNK_CLASSES = frozenset({"b-review", "em_qrcode", "qrcode", "em-ad", "adv", "ad_box"})
# Characters no HTML or XML document may hold; lxml refuses text containing them.
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
_TAIL = re.compile(r"^[\s(（\[【]*(责任编辑|编辑|文章来源|来源|郑重声明|免责声明|风险提示)")


def article_request(page: str, mobile: str, code: str) -> Request | None:
    """The article page of item ``code`` (``page`` and ``mobile``: the ``article_url`` and
    ``mobile_article_url`` settings, the mobile page as fallback); ``None`` when the code
    is not a plain East Money code and so names no page."""
    if not _CODE.fullmatch(code):
        return None
    # replace(), not format(): a configured URL may hold other braces.
    fallback = (mobile.replace("{code}", code),) if mobile.strip() else ()
    return Request(url=page.replace("{code}", code), fallback_urls=fallback)


def _decode(body: bytes) -> str:
    declared = _CHARSET.search(body[:4096])
    name = declared.group(1).decode("ascii").lower() if declared else "utf-8"
    name = _SUPERSETS.get(name, name)
    try:
        text = body.decode(name, errors="replace")
    except LookupError:  # an encoding Python does not know: East Money pages are UTF-8
        text = body.decode("utf-8", errors="replace")
    return _FORBIDDEN.sub("", text)


def _parse(body: bytes, source: str, url: str) -> Any:
    text = _decode(body)
    if not text.strip():
        raise ParseError("article page is empty", source=source, url=url)
    return document(text)


def _classes(element: Any) -> set[str]:
    value = element.get("class")
    return set(value.split()) if isinstance(value, str) else set()


def _clean(body: Any) -> None:
    for element in list(body.iter(*_DROPPED_TAGS)):
        element.drop_tree()
    for element in list(body.iter()):
        if element is not body and _classes(element) & _JUNK_CLASSES:
            element.drop_tree()
    # The editor and disclaimer lines close the article; drop them and blank lines after.
    while len(body):
        last = body[-1]
        if not isinstance(last.tag, str):  # a comment or processing instruction
            last.drop_tree()
            continue
        text = last.text_content().strip()
        if (text and not _TAIL.match(text)) or last.tag == "img" or last.find(".//img") is not None:
            break
        last.drop_tree()


def _inner_html(element: Any) -> str:
    import lxml.html

    parts = [html.escape(element.text, quote=False)] if element.text else []
    for child in element:
        # The page's indentation, and the gaps left by removed blocks: one line break.
        if child.tail is not None and not child.tail.strip():
            child.tail = "\n"
        parts.append(lxml.html.tostring(child, encoding="unicode", with_tail=True))
    return "".join(parts).strip()


def parse_article(body: bytes, *, source: str, url: str) -> str:
    """The article's body as HTML, cleaned; ``""`` when the body is there but empty.

    :class:`ParseError` when the reply is not an HTML page or has no article body.
    """
    import lxml.etree

    document = _parse(body, source, url)
    for path in _BODY_PATHS:
        found = document.xpath(path)
        if found:
            content = found[0]
            break
    else:
        title = document.findtext(".//title") or ""
        shown = f" (page title {title.strip()[:40]!r})" if title.strip() else ""
        raise ParseError(
            f"article page has no #ContentBody{shown}: not an article, or the layout changed",
            source=source,
            url=url,
        )
    try:
        _clean(content)
        return _inner_html(content)
    except (lxml.etree.LxmlError, ValueError) as exc:  # text lxml refuses to hold
        raise ParseError(
            f"article body is not usable HTML ({exc})", source=source, url=url
        ) from exc
