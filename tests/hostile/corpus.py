"""The hostile corpus as data: item vectors, whole-feed vectors and crafted Jekyll posts, and
the code that serves them as RSS 2.0, Atom and JSON Feed sources on a loopback upstream.

An **item vector** is one hostile item. It is served in every feed format it can be written
in (XML cannot carry NUL or lone surrogates, so those are JSON Feed only), beside clean
**sentinel** items whose titles carry :data:`SENTINEL`. A **feed vector** is a whole hostile
document (a bomb, an odd encoding, a secret in its URL), served as its own source, with
sentinel items inside when the document can hold them.

``awaits`` names the branches of issue 19 whose fixes a vector needs (``poison``, ``jekyll``,
``secrets``, ``publish``, ``adapters``; several separated by spaces); ``""`` means finews
must already get it right. The test modules run the ready vectors in their main tests and
each ``awaits`` value's vectors in a test named after it, so the lead can run that test once
the branches are merged.
"""

from __future__ import annotations

import email.utils
import gzip
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from html import escape
from pathlib import Path
from typing import Any

from finews.demo.replay import Reply, Route
from upstreams import FAST_PATH, FastNewsFeed

#: in every sentinel's title: the clean items every command must keep
SENTINEL = "HXSENTINEL"
#: the password and token of the secret source: no output may contain it
SECRET = "s3cret"
#: the text of the local file XXE vectors point at: no output may contain it
CANARY = "HXCANARY-file-was-read"
#: a marker every injected script sets (the browser test checks it stayed unset)
PWNED = "window.__hx_pwned=1"
BEIJING = timezone(timedelta(hours=8))

# --- item vectors ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Vector:
    """One hostile item. ``None`` fields get a clean default; see :func:`item_fields`."""

    name: str
    family: str
    title: str | None = None
    text: str | None = None  # plain-text body (content_text, Atom type="text")
    html: str | None = None  # HTML body (content_html, content:encoded, Atom type="html")
    summary: str | None = None
    url: str | None = None
    id: str | None = None
    date: str | None = None  # as the upstream writes it, used verbatim in every format
    author: str | None = None
    json_extra: dict[str, Any] = field(default_factory=dict)  # raw JSON Feed fields
    formats: tuple[str, ...] = ("rss", "atom", "json")
    kept: bool = True  # a reader should get this item: it must be stored
    stored_id: str | None = None  # its id once cleaned, when the store must clean it
    awaits: str = ""


J = f"{PWNED};alert(1)"  # the script every vector tries to run

_XSS = [
    Vector("script", "xss", title=f"<script>{J}</script>", html=f"<p>正文</p><script>{J}</script>"),
    Vector("img_onerror", "xss", title=f"<img src=x onerror={J}>", html=f"<img src=x onerror={J}>"),
    Vector("svg_onload", "xss", html=f"<svg onload={J}><circle r=1 /></svg>"),
    Vector("body_onload", "xss", html=f"<body onload={J}>正文</body>"),
    Vector("iframe_js", "xss", html=f'<iframe src="javascript:{J}"></iframe>'),
    Vector("iframe_srcdoc", "xss", html=f'<iframe srcdoc="<script>{J}</script>"></iframe>'),
    Vector("object", "xss", html=f'<object data="javascript:{J}"></object>'),
    Vector("embed", "xss", html='<embed src="data:text/html,<script>alert(1)</script>">'),
    Vector("a_js", "xss", html=f'<a href="javascript:{J}">点我</a>'),
    Vector("a_js_entities", "xss", html='<a href="&#106;&#97;vascript&#58;alert(1)">点</a>'),
    Vector("a_js_hex_tab", "xss", html='<a href="jav&#x09;ascript:alert(1)">点</a>'),
    Vector("a_js_case_space", "xss", html='<a href=" \x01 JaVaScRiPt:alert(1)">点</a>'),
    Vector("a_js_newline", "xss", html='<a href="java\nscript:alert(1)">点</a>'),
    Vector("a_vbscript", "xss", html='<a href="vbscript:msgbox(1)">点</a>'),
    Vector("a_data_html", "xss", html='<a href="data:text/html;base64,PHNjcmlwdD4=">点</a>'),
    Vector("img_data_svg", "xss", html='<img src="data:image/svg+xml,<svg onload=alert(1)>">'),
    Vector(
        "formaction",
        "xss",
        html=f'<form><button formaction="javascript:{J}">提交</button></form>',
    ),
    Vector("form_action", "xss", html=f'<form action="javascript:{J}"><input type=submit></form>'),
    Vector("input_autofocus", "xss", html=f"<input autofocus onfocus={J}>"),
    Vector("details_toggle", "xss", html=f"<details open ontoggle={J}>x</details>"),
    Vector("style_expression", "xss", html='<p style="width:expression(alert(1))">宽</p>'),
    Vector("style_url_js", "xss", html='<p style="background:url(javascript:alert(1))">背景</p>'),
    Vector("style_tag", "xss", html="<style>body{background:url(javascript:alert(1))}</style>"),
    Vector("meta_refresh", "xss", html='<meta http-equiv="refresh" content="0;url=javascript:1">'),
    Vector("base_href", "xss", html='<base href="javascript:alert(1)//">'),
    Vector("link_import", "xss", html='<link rel="import" href="data:text/html,x">'),
    Vector(
        "svg_xlink",
        "xss",
        html='<svg><a xlink:href="javascript:alert(1)"><text>点</text></a></svg>',
    ),
    Vector("math_href", "xss", html='<math href="javascript:alert(1)"><mi>x</mi></math>'),
    Vector("srcset_js", "xss", html='<img srcset="javascript:alert(1) 1x">'),
    Vector(
        "attribute_break", "xss", title=f'"><img src=x onerror={J}>', author=f"'><svg onload={J}>"
    ),
    Vector("summary_html", "xss", summary=f"<img src=x onerror={J}>摘要"),
    Vector(
        "text_as_markup",
        "xss",
        text=f"<script>{J}</script>正文<img src=x onerror={J}>",
    ),
]

_MXSS = [
    Vector(
        "noscript_title",
        "mxss",
        html=f'<noscript><p title="</noscript><img src=x onerror={J}>">x</p></noscript>',
    ),
    Vector(
        "svg_style",
        "mxss",
        html=f'<svg></p><style><a id="</style><img src=1 onerror={J}>">',
    ),
    Vector(
        "math_mglyph",
        "mxss",
        html=f"<math><mtext><table><mglyph><style><img src=x onerror={J}></style>",
    ),
    Vector(
        "form_math",
        "mxss",
        html=f"<form><math><mtext></form><form><mglyph><style></math><img src onerror={J}>",
    ),
    Vector(
        "noembed",
        "mxss",
        html=f'<noembed><img title="</noembed><img src onerror={J}>"></noembed>',
    ),
    Vector("textarea", "mxss", html=f"<textarea></textarea><img src=x onerror={J}>"),
    Vector("xmp", "mxss", html=f'<xmp><p title="</xmp><img src=x onerror={J}>"></xmp>'),
    Vector("comment", "mxss", html=f"<!--><img src=x onerror={J}>-->"),
    Vector("html_cdata", "mxss", html=f"<![CDATA[><img src onerror={J}>]]>"),
    Vector("template", "mxss", html=f"<template><img src=x onerror={J}></template>"),
    Vector(
        "svg_foreign",
        "mxss",
        html=f"<svg><foreignObject><iframe src=javascript:{J}></iframe></foreignObject></svg>",
    ),
    Vector("double_encoded", "mxss", html="&lt;img src=x onerror=alert(1)&gt;"),
]

_URLS = [
    Vector("url_js", "url", url=f"javascript:{J}"),
    Vector("url_js_case", "url", url=" JaVaScRiPt:alert(1)"),
    Vector("url_js_tab", "url", url="java\tscript:alert(1)"),
    Vector("url_vbscript", "url", url="vbscript:msgbox(1)"),
    Vector("url_data", "url", url="data:text/html,<script>alert(1)</script>"),
    Vector("url_protocol_relative", "url", url="//evil.invalid/x"),
    Vector("url_quote_break", "url", url='https://news.invalid/a"onmouseover="alert(1)'),
    Vector("url_angle", "url", url="https://news.invalid/a><script>alert(1)</script>"),
]

# kramdown and Liquid: inert on the site, live in a Jekyll post unless escaped (issue point 1)
_MARKDOWN = [
    Vector(
        "ial_block",
        "markdown",
        text='新闻正文\n{: tabindex="0" autofocus="autofocus" onfocus="document.title=\'X\'"}',
    ),
    Vector("ial_span", "markdown", summary='*a*{: onmouseover="alert(1)"}'),
    Vector(
        "ald",
        "markdown",
        text='正文\n{:evil: onclick="alert(1)"}\n\n段落\n{: evil}',
    ),
    Vector("extension", "markdown", text='{::options parse_block_html="true" /}\n正文'),
    Vector("md_link_js", "markdown", text="[点我](javascript:alert(1)) 正文"),
    Vector("md_autolink_js", "markdown", text="<javascript:alert(1)> 正文"),
    Vector("md_image", "markdown", text='![x](x "title"){: onerror="alert(1)"}'),
    Vector("md_raw_html", "markdown", text=f"正文 <img src=x onerror={J}>"),
    Vector("md_reference", "markdown", text="[点][r]\n\n[r]: javascript:alert(1)"),
    Vector("liquid_output", "liquid", title="{{ site.github }}标题", text="{{ 7*7 }} 正文"),
    Vector("liquid_tag", "liquid", text="{% include ../../../../etc/passwd %} 正文"),
    Vector("liquid_raw_break", "liquid", text="{% endraw %}{{ 7*7 }}{% raw %}"),
]

_DATES = [
    Vector("year_1", "date", date="0001-01-01T00:00:00Z"),
    Vector("year_9999", "date", date="9999-12-31T12:00:00Z"),
    Vector("year_1900", "date", date="1900-01-01T00:00:00+08:00"),
    Vector("far_future", "date", date="2999-01-01T00:00:00Z"),
    Vector("negative_year", "date", date="-0001-01-01T00:00:00Z"),
    Vector("epoch_huge", "date", date="99999999999999999999"),
    Vector("epoch_negative", "date", date="-99999999999"),
    Vector("nan_date", "date", date="NaN"),
    Vector("inf_date", "date", date="Infinity"),
    Vector("feb_30", "date", date="2026-02-30T00:00:00Z"),
    Vector("hour_25", "date", date="2026-09-01T25:61:61+08:00"),
    Vector("offset_huge", "date", date="2026-09-01T10:00:00+99:00"),
    Vector("rfc822_junk", "date", date="Mon, 99 Foo 2026 99:99:99 XYZ"),
    Vector("blank_date", "date", date="   "),
    Vector(
        "date_json_number",
        "date",
        json_extra={"date_published": 1e308},
        formats=("json",),
        kept=False,
    ),
]

_NUMBERS = [
    Vector(
        "id_json_int",
        "number",
        json_extra={"id": 12345678901234567890123},
        formats=("json",),
        kept=False,
    ),
    Vector("id_json_inf", "number", json_extra={"id": float("inf")}, formats=("json",), kept=False),
    Vector(
        "title_json_number", "number", json_extra={"title": 1e-320}, formats=("json",), kept=False
    ),
    Vector(
        "authors_json_string",
        "number",
        json_extra={"authors": "某人"},
        formats=("json",),
        kept=False,
    ),
    Vector(
        "tags_json_object", "number", json_extra={"tags": {"a": 1}}, formats=("json",), kept=False
    ),
    Vector(
        "url_json_list",
        "number",
        json_extra={"url": ["https://a.invalid/"]},
        formats=("json",),
        kept=False,
    ),
    Vector("numbers_in_text", "number", title="涨幅 1e308% NaN -0 9" * 3 + "9" * 400),
]

_CONTROL = [
    Vector(
        "c0_controls", "control", title="标题\x01\x02\x07\x08\x0b\x0c\x1b\x1f尾", formats=("json",)
    ),
    Vector("c1_controls", "control", title="标题\x80\x85\x9f尾", text="正文\x85\x9b[31m"),
    Vector(
        "ansi_title", "control", title="标题\x1b]0;pwned\x07\x1b[2J\x9b31m尾", formats=("json",)
    ),
    Vector("ansi_id", "control", id="hx-\x1b[31mred", formats=("json",), kept=False),
    Vector("del_char", "control", title="标题\x7f尾", formats=("json",)),
    Vector("nul_title", "control", title="标题\x00尾", formats=("json",)),
    Vector(
        "nul_id",
        "control",
        id="hx-nul\x00id",
        stored_id="hx-nulid",
        formats=("json",),
    ),
    Vector("nul_body", "control", text="正文\x00尾", html=None, formats=("json",)),
    Vector("nul_url", "control", url="https://news.invalid/a\x00b", formats=("json",)),
    Vector("nul_author", "control", author="作者\x00", formats=("json",)),
    Vector("surrogate_title", "control", title="标题\ud800尾", formats=("json",)),
    Vector("surrogate_body", "control", text="正文\udfff", formats=("json",)),
    Vector(
        "surrogate_id",
        "control",
        id="hx-\udc80",
        stored_id="hx-",
        formats=("json",),
    ),
    Vector("bidi_title", "bidi", title="新闻\u202egpj.exe\u202c 标题\u2066隔离\u2069"),
    Vector("bidi_id", "bidi", id="hx-bidi-\u202eevil"),
    Vector("zero_width", "bidi", title="零\u200b宽\u200d字\ufeff符\u2028行\u2029段"),
    Vector("noncharacters", "bidi", title="非字符\ufffe\uffff\U0010ffff尾"),
    Vector("astral", "bidi", title="表情😀𠮷 𝒳", text="😀" * 50),
    Vector("combining", "bidi", title="Z" + "\u0336\u0334\u0337" * 200),
]

_SIZES = [
    Vector("empty_title", "size", title="", kept=False),
    Vector("blank_title", "size", title=" \t\u3000 ", kept=False),
    Vector("empty_body", "size", text="", html="", summary=""),
    Vector("huge_title", "size", title="长标题" * 20_000),
    Vector("huge_body", "size", html="<p>" + "正文很长。" * 60_000 + "</p>"),
    Vector("deep_nesting", "size", html="<div>" * 5_000 + "深" + "</div>" * 5_000),
    Vector(
        "many_attrs", "size", html="<p " + " ".join(f"a{i}=x" for i in range(5_000)) + ">属性</p>"
    ),
    Vector("huge_author", "size", author="作者" * 10_000),
    Vector("empty_id", "size", id=""),
]

_IDS = [
    Vector("dup_in_page_a", "id", id="hx-dup", title="重复编号 第一条"),
    Vector("dup_in_page_b", "id", id="hx-dup", title="重复编号 第二条", kept=False),
    Vector("shared_across_sources", "id", id="hx-shared-id"),  # every format's source has it
    Vector("url_as_id", "id", id="https://news.invalid/2026/09/01/hx-url-id.html"),
    Vector("long_id", "id", id="hx-" + "x" * 250),
    Vector("unicode_id", "id", id="编号-中文-①"),
    Vector("space_id", "id", id="hx id with spaces"),
]

_PATHS = [
    Vector("dotdot_id", "path", id="../../../../hx-escape"),
    Vector("abs_id", "path", id="/tmp/hx-absolute"),  # noqa: S108 (the name is the test)
    Vector("encoded_dotdot_id", "path", id="%2e%2e%2f%2e%2e%2fhx-encoded"),
    Vector("backslash_id", "path", id="..\\..\\hx-backslash"),
    Vector("con_id", "path", id="CON"),
    Vector("nul_name_id", "path", id="NUL.txt"),
    Vector("aux_id", "path", id="aux"),
    Vector("dot_id", "path", id="."),
    Vector("dotdot_only_id", "path", id=".."),
    Vector("slashes_id", "path", id="a/b/c"),
    Vector("tilde_id", "path", id="~root"),
    Vector("long_name_id", "path", id="长" * 200),
    Vector("url_path_tricks", "path", url="https://news.invalid/../../etc/passwd%00.html"),
]

ITEM_VECTORS: tuple[Vector, ...] = (
    *_XSS,
    *_MXSS,
    *_URLS,
    *_MARKDOWN,
    *_DATES,
    *_NUMBERS,
    *_CONTROL,
    *_SIZES,
    *_IDS,
    *_PATHS,
)


def item_fields(vector: Vector, now: datetime, index: int) -> dict[str, Any]:
    """The item's fields with defaults filled in (a clean, recent, unique item)."""
    when = now - timedelta(minutes=10 + index)
    return {
        "id": f"hx-{vector.name}" if vector.id is None else vector.id,
        "title": f"对抗样本 {vector.name} 第{index}条" if vector.title is None else vector.title,
        "text": vector.text,
        "html": vector.html,
        "summary": vector.summary,
        "url": f"https://news.invalid/hx/{vector.name}.html" if vector.url is None else vector.url,
        "date": vector.date,
        "when": when,
        "author": vector.author,
    }


def sentinel_fields(source: str, n: int, now: datetime) -> dict[str, Any]:
    """A clean item: what every command must keep whatever surrounds it."""
    return {
        "id": f"sentinel-{source}-{n}",
        "title": f"{SENTINEL} {source} {n}：北向资金净流入{n}亿元",
        "text": None,
        "html": f"<p>{SENTINEL} 正文 {source} {n}。</p>",
        "summary": None,
        "url": f"https://news.invalid/sentinel/{source}/{n}.html",
        "date": None,
        "when": now - timedelta(minutes=n),
        "author": "哨兵",
    }


# --- the three formats -----------------------------------------------------------------------


def _x(value: str) -> str:
    return escape(value, quote=True)


def rss_item(f: dict[str, Any]) -> str:
    """An RSS 2.0 ``<item>``."""
    parts = [f"<title>{_x(f['title'])}</title>", f'<guid isPermaLink="false">{_x(f["id"])}</guid>']
    if f["url"] is not None:
        parts.append(f"<link>{_x(f['url'])}</link>")
    description = f["summary"] if f["summary"] is not None else f["text"]
    if description is not None:
        parts.append(f"<description>{_x(description)}</description>")
    if f["html"] is not None:
        parts.append(f"<content:encoded>{_x(f['html'])}</content:encoded>")
    date = f["date"] if f["date"] is not None else email.utils.format_datetime(f["when"])
    parts.append(f"<pubDate>{_x(date)}</pubDate>")
    if f["author"] is not None:
        parts.append(f"<dc:creator>{_x(f['author'])}</dc:creator>")
    return "<item>" + "".join(parts) + "</item>\n"


def rss_document(title: str, items: Iterable[str], *, prolog: str = "") -> str:
    """An RSS 2.0 document around ``items``; ``prolog`` goes between declaration and root."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        + prolog
        + '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        f"<title>{title}</title><link>https://news.invalid/</link>"
        "<description>hostile corpus</description>\n" + "".join(items) + "</channel></rss>\n"
    )


def atom_entry(f: dict[str, Any]) -> str:
    """An Atom ``<entry>``; its id is a URN (feedparser resolves a relative one against
    the feed's URL, as an IRI reference)."""
    parts = [f'<title type="text">{_x(f["title"])}</title>', f"<id>{_x(atom_id(f['id']))}</id>"]
    if f["url"] is not None:
        parts.append(f'<link rel="alternate" href="{_x(f["url"])}"/>')
    date = f["date"] if f["date"] is not None else f["when"].isoformat()
    parts.append(f"<published>{_x(date)}</published><updated>{_x(date)}</updated>")
    if f["summary"] is not None:
        parts.append(f'<summary type="html">{_x(f["summary"])}</summary>')
    if f["html"] is not None:
        parts.append(f'<content type="html">{_x(f["html"])}</content>')
    elif f["text"] is not None:
        parts.append(f'<content type="text">{_x(f["text"])}</content>')
    if f["author"] is not None:
        parts.append(f"<author><name>{_x(f['author'])}</name></author>")
    return "<entry>" + "".join(parts) + "</entry>\n"


def atom_id(upstream_id: str) -> str:
    """The Atom ``<id>`` of an item id: a URN, kept as it is (blank stays blank)."""
    return ATOM_ID_PREFIX + upstream_id if upstream_id.strip() else upstream_id


def atom_document(title: str, entries: Iterable[str]) -> str:
    """An Atom 1.0 feed around ``entries``."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{title}</title><id>urn:hx:atom</id><updated>2026-09-01T00:00:00Z</updated>\n"
        + "".join(entries)
        + "</feed>\n"
    )


def json_item(f: dict[str, Any], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """A JSON Feed 1.1 item (``extra`` replaces fields with raw, possibly wrong-typed values)."""
    item: dict[str, Any] = {"id": f["id"], "title": f["title"]}
    if f["url"] is not None:
        item["url"] = f["url"]
    for key, name in (("text", "content_text"), ("html", "content_html"), ("summary", "summary")):
        if f[key] is not None:
            item[name] = f[key]
    item["date_published"] = f["date"] if f["date"] is not None else f["when"].isoformat()
    if f["author"] is not None:
        item["authors"] = [{"name": f["author"]}]
    item.update(extra or {})
    return item


def json_document(title: str, items: list[dict[str, Any]]) -> bytes:
    """A JSON Feed 1.1 document. ASCII escapes: a lone surrogate is valid JSON, not UTF-8."""
    feed = {"version": "https://jsonfeed.org/version/1.1", "title": title, "items": items}
    return json.dumps(feed, ensure_ascii=True, allow_nan=True).encode("ascii")


# --- whole-feed vectors ----------------------------------------------------------------------

XML = "application/xml; charset=utf-8"
ATOM_ID_PREFIX = "urn:hx:"


@dataclass(frozen=True)
class FeedVector:
    """A whole hostile document, served as its own source ``hxf_<name>``.

    ``body(sentinel_items)`` makes the document from RSS ``<item>`` strings of the sentinels;
    ``sentinels_kept`` says whether they must be stored (False for a document that is not a
    feed at all). ``url_tail`` is appended to the source's URL (a query carrying a secret);
    ``userinfo`` goes before the host; ``headers`` are sent with the reply.
    """

    name: str
    family: str
    body: Callable[[list[str]], bytes]
    content_type: str = XML
    sentinels_kept: bool = True
    status: int = 200
    url_tail: str = ""
    userinfo: str = ""
    media: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    fulltext: bool = False  # the source fetches each item's linked page
    awaits: str = ""


def _laughs(items: list[str]) -> bytes:
    entities = '<!ENTITY lol "lol">\n' + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10 if i > 1 else "&lol;" * 10}">\n'
        for i in range(1, 10)
    )
    prolog = f"<!DOCTYPE rss [\n{entities}]>\n"
    bomb = "<item><title>&lol9;</title><guid>hx-laughs</guid></item>\n"
    return rss_document("&lol9;", [bomb, *items], prolog=prolog).encode()


def _quadratic(items: list[str]) -> bytes:
    prolog = f'<!DOCTYPE rss [<!ENTITY a "{"A" * 40_000}">]>\n'
    bomb = "<item><title>" + "&a;" * 300 + "</title><guid>hx-quadratic</guid></item>\n"
    return rss_document("quadratic", [bomb, *items], prolog=prolog).encode()


def _xxe(canary: Path) -> Callable[[list[str]], bytes]:
    def body(items: list[str]) -> bytes:
        prolog = (
            f'<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file://{canary}">'
            f'<!ENTITY % pe SYSTEM "file://{canary}"> %pe;]>\n'
        )
        evil = (
            "<item><title>外部实体 &xxe;</title><guid>hx-xxe</guid>"
            "<description>&xxe;</description></item>\n"
        )
        return rss_document("xxe &xxe;", [evil, *items], prolog=prolog).encode()

    return body


def _external_dtd(canary: Path) -> Callable[[list[str]], bytes]:
    def body(items: list[str]) -> bytes:
        prolog = f'<!DOCTYPE rss SYSTEM "file://{canary}">\n'
        return rss_document("external dtd", items, prolog=prolog).encode()

    return body


def _xinclude(canary: Path) -> Callable[[list[str]], bytes]:
    def body(items: list[str]) -> bytes:
        evil = (
            "<item><title>xinclude</title><guid>hx-xinclude</guid><description "
            'xmlns:xi="http://www.w3.org/2001/XInclude">'
            f'<xi:include href="file://{canary}" parse="text"/></description></item>\n'
        )
        return rss_document("xinclude", [evil, *items]).encode()

    return body


def _truncated(items: list[str]) -> bytes:
    document = rss_document("truncated", items)
    cut = document.rfind("<item>")  # the last item is cut in half
    return document[: cut + 30].encode()


def _declared(label: str, encoding: str = "utf-8") -> Callable[[list[str]], bytes]:
    def body(items: list[str]) -> bytes:
        text = rss_document("编码 " + label, items)
        text = text.replace('encoding="utf-8"', f'encoding="{label}"', 1)
        return text.encode(encoding)

    return body


def _gbk(body: Callable[[list[str]], bytes]) -> Callable[[list[str]], bytes]:
    """The same document in GBK bytes (its declaration unchanged)."""
    return lambda items: body(items).decode("utf-8").encode("gbk")


def _utf16(items: list[str]) -> bytes:
    return rss_document("UTF-16", items).replace('"utf-8"', '"utf-16"', 1).encode("utf-16")


def _bom_gbk(items: list[str]) -> bytes:
    return b"\xef\xbb\xbf" + _declared("gbk")(items)


def _json_deep(items: list[str]) -> bytes:
    return b'{"version": "https://jsonfeed.org/version/1.1", "items": ' + b"[" * 100_000


def _json_items_object(items: list[str]) -> bytes:
    return json.dumps({"version": "https://jsonfeed.org/version/1.1", "items": {"a": 1}}).encode()


def _html_page(items: list[str]) -> bytes:
    return f"<html><body><script>{J}</script>not a feed</body></html>".encode()


def _empty(items: list[str]) -> bytes:
    return b""


def _binary(items: list[str]) -> bytes:
    return bytes(range(256)) * 40


def _gzip_bomb(items: list[str]) -> bytes:
    # 30 MB of spaces after a valid start: about 30 KB on the wire, far above the body cap
    feed = rss_document("gzip", items).encode()
    return gzip.compress(feed[:-20] + b" " * 30_000_000 + feed[-20:], compresslevel=9)


def _json_next(target: str) -> Callable[[list[str]], bytes]:
    def body(items: list[str]) -> bytes:
        now = now_utc()
        entries = [json_item(sentinel_fields(f"hxf_next_{target}", n, now)) for n in (1, 2, 3)]
        feed = {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "下一页",
            "next_url": _NEXT[target],
            "items": entries,
        }
        return json.dumps(feed).encode()

    return body


def _fulltext_links(canary: Path) -> Callable[[list[str]], bytes]:
    def body(items: list[str]) -> bytes:
        linked = [i.replace("https://news.invalid/sentinel/", "/hxpage/sentinel/") for i in items]
        evil = [
            f'<item><title>全文 file</title><guid isPermaLink="false">hx-ft-file</guid><link>file://{canary}</link>'
            "</item>\n",
            '<item><title>全文 script</title><guid isPermaLink="false">hx-ft-script</guid>'
            "<link>/hxpage/script.html</link></item>\n",
            '<item><title>全文 redirect</title><guid isPermaLink="false">hx-ft-redirect</guid>'
            "<link>/hxpage/redirect-file</link></item>\n",
        ]
        return rss_document("全文", [*linked, *evil]).encode()

    return body


#: where the next_url vectors point (relative ones are resolved against the feed's URL)
_NEXT = {"self": "/hxf/next_self", "file": "file:///etc/passwd", "js": "javascript:alert(1)"}


def fulltext_pages(canary: Path) -> list[Route]:
    """The pages the full-text vector's items link to (on the same loopback server)."""
    article = (
        f"<html><head><title>页</title><script>{J}</script></head><body><article>"
        + "<p>全文段落，市场人士认为流动性将保持合理充裕。</p>" * 20
        + f"<img src=x onerror={J}><iframe src=javascript:{J}></iframe>"
        f'<a href="javascript:{J}">链接</a><p style="x:expression(1)">尾</p></article>'
        "</body></html>"
    )
    html = {"Content-Type": "text/html; charset=utf-8"}
    routes = [
        Route("/hxpage/script.html", Reply(body=article.encode(), headers=html)),
        Route("/hxpage/redirect-file", Reply(status=302, headers={"Location": f"file://{canary}"})),
    ]
    for n in (1, 2, 3):
        page = f"<html><body><article><p>{SENTINEL} 全文 {n}。</p>" + "<p>正文。</p>" * 10
        routes.append(
            Route(
                f"/hxpage/sentinel/hxf_fulltext/{n}.html",
                Reply(body=(page + "</article></body></html>").encode(), headers=html),
            )
        )
    return routes


def _plain(title: str) -> Callable[[list[str]], bytes]:
    def body(items: list[str]) -> bytes:
        return rss_document(_x(title), items).encode()

    return body


def feed_vectors(canary: Path) -> tuple[FeedVector, ...]:
    """Every whole-feed vector; XXE vectors point at the local file ``canary``."""
    long_media = "超长媒体名称" * 40
    return (
        FeedVector("laughs", "xml-bomb", _laughs),
        FeedVector("quadratic", "xml-bomb", _quadratic),
        FeedVector("xxe", "xml-bomb", _xxe(canary)),
        FeedVector("external_dtd", "xml-bomb", _external_dtd(canary)),
        FeedVector("xinclude", "xml-bomb", _xinclude(canary)),
        FeedVector("truncated", "malformed", _truncated),
        FeedVector("html_page", "malformed", _html_page, "text/html", sentinels_kept=False),
        FeedVector("empty", "malformed", _empty, sentinels_kept=False),
        FeedVector(
            "binary", "malformed", _binary, "application/octet-stream", sentinels_kept=False
        ),
        FeedVector("json_deep", "malformed", _json_deep, "application/json", sentinels_kept=False),
        FeedVector(
            "json_items_object",
            "malformed",
            _json_items_object,
            "application/json",
            sentinels_kept=False,
        ),
        FeedVector(
            "gzip_bomb",
            "http",
            _gzip_bomb,
            headers={"Content-Encoding": "gzip"},
            sentinels_kept=False,
        ),
        FeedVector(
            "redirect_file",
            "http",
            _plain("跳转"),
            status=302,
            sentinels_kept=False,
            headers={"Location": f"file://{canary}"},
        ),
        FeedVector(
            "redirect_loop",
            "http",
            _plain("循环"),
            status=302,
            sentinels_kept=False,
            headers={"Location": "/hxf/redirect_loop"},
        ),
        FeedVector("next_self", "http", _json_next("self"), "application/feed+json"),
        FeedVector("next_file", "http", _json_next("file"), "application/feed+json"),
        FeedVector("next_js", "http", _json_next("js"), "application/feed+json"),
        FeedVector("fulltext", "http", _fulltext_links(canary), fulltext=True),
        FeedVector("gbk_declared_utf8", "encoding", _gbk(_plain("国标"))),
        FeedVector("utf16", "encoding", _utf16, "application/xml"),
        FeedVector("bom_declared_gbk", "encoding", _bom_gbk, "application/xml"),
        FeedVector("unknown_label", "encoding", _declared("x-no-such-charset"), "application/xml"),
        FeedVector("header_label", "encoding", _plain("头"), "application/xml; charset=x-nope"),
        FeedVector("label_hex", "encoding", _declared("hex", "gbk"), "application/xml"),
        FeedVector(
            "label_rot13",
            "encoding",
            _declared("rot13", "gbk"),
            "application/xml",
        ),
        FeedVector(
            "label_base64",
            "encoding",
            _declared("base64", "gbk"),
            "application/xml",
        ),
        FeedVector(
            "header_label_hex",
            "encoding",
            _gbk(_plain("头hex")),
            "application/xml; charset=hex",
        ),
        FeedVector("media_path", "path", _plain("../../../etc/媒体/..\\CON/名")),
        FeedVector("media_reserved", "path", _plain("CON")),
        FeedVector("media_script", "xss", _plain(f"<script>{J}</script>媒体\u202e")),
        FeedVector("media_long", "path", _plain(long_media)),
        FeedVector(
            "secret_ok",
            "secret",
            _plain("带密钥的源"),
            url_tail=f"?token={SECRET}&page=1",
            userinfo=f"hxuser:{SECRET}@",
        ),
        FeedVector(
            "secret_down",
            "secret",
            _plain("失败的源"),
            status=503,
            sentinels_kept=False,
            url_tail=f"?token={SECRET}&key={SECRET}",
            userinfo=f"hxuser:{SECRET}@",
        ),
    )


# --- the upstream ----------------------------------------------------------------------------


@dataclass
class Source:
    """One configured source of the corpus and what it must keep."""

    id: str
    path: str
    settings: dict[str, Any]
    expected: set[str]  # upstream ids that must be stored
    sentinels: set[str]


@dataclass
class Corpus:
    """The selected vectors, served: routes for the ReplayServer and the sources' settings."""

    routes: list[Route]
    sources: list[Source]
    em_codes: list[str]
    vectors: list[Vector]
    feeds: list[FeedVector]

    def config_toml(self, base: str, database_url: str, *, interval: float = 1.0) -> str:
        """A finews.toml polling every corpus source (and nothing else) on ``base``."""
        host = base.split("://", 1)[1]
        lines = [
            f'database_url = "{database_url}"',
            "[http]",
            "timeout = 10",
            "retries = 0",
            "[daemon]",
            "host_spacing = 0",
            "stop_grace = 1",
            "jitter = 0.1",
            "backoff_cap = 2",
            "[sources.em_fast]",
            f'url = "{base}{FAST_PATH}"',
            "fallback_urls = []",
            "fulltext = false",
            f"interval = {interval}",
        ]
        for source in self.sources:
            userinfo = source.settings.get("userinfo", "")
            url = f"http://{userinfo}{host}{source.path}{source.settings.get('url_tail', '')}"
            lines += [
                f"[sources.{source.id}]",
                'adapter = "feed"',
                f"url = {json.dumps(url)}",
                "allow_private = true",
                f"interval = {interval}",
                "max_pages = 2",
            ]
            if source.settings.get("fulltext"):
                lines.append("fulltext = true")
            if source.settings.get("media"):
                lines.append(f"media = {json.dumps(source.settings['media'])}")
        return "\n".join(lines) + "\n"

    def expected_ids(self) -> dict[str, set[str]]:
        """Source id -> upstream ids that must be stored."""
        result = {s.id: set(s.expected) for s in self.sources}
        result["em_fast"] = set(self.em_codes)
        return result

    def source_ids(self) -> list[str]:
        """Every source's id, em_fast first."""
        return ["em_fast", *(s.id for s in self.sources)]


def select(awaits: str = "") -> tuple[list[Vector], Callable[[FeedVector], bool]]:
    """The item vectors whose ``awaits`` is ``awaits`` ("" = ready now), and a filter for
    feed vectors."""
    return [v for v in ITEM_VECTORS if v.awaits == awaits], lambda f: f.awaits == awaits


def build_corpus(now: datetime, canary: Path, awaits: str = "", *, feeds: bool = True) -> Corpus:
    """The corpus of the vectors whose ``awaits`` is ``awaits`` ("" = those finews must
    already get right), as routes and sources, with 3 sentinels in every document."""
    vectors, feed_filter = select(awaits)
    em = FastNewsFeed()
    em_codes = em.publish(3)
    routes = [em.route()]
    sources: list[Source] = []

    def sentinels(source: str) -> list[dict[str, Any]]:
        return [sentinel_fields(source, n, now) for n in (1, 2, 3)]

    def fields_of(fmt: str) -> list[tuple[Vector, dict[str, Any]]]:
        return [(v, item_fields(v, now, i)) for i, v in enumerate(vectors) if fmt in v.formats]

    def interleave(clean: list[Any], hostile: list[Any]) -> list[Any]:
        middle = len(hostile) // 2
        return [clean[0], *hostile[:middle], clean[1], *hostile[middle:], clean[2]]

    def expected(source: str, chosen: list[tuple[Vector, dict[str, Any]]]) -> set[str]:
        keep = {v.stored_id or f["id"] for v, f in chosen if v.kept and f["id"].strip()}
        keep |= {f"sentinel-{source}-{n}" for n in (1, 2, 3)}
        return {atom_id(i) for i in keep} if source == "hx_atom" else keep

    chosen = fields_of("rss")
    body = rss_document(
        "对抗 RSS",
        interleave([rss_item(s) for s in sentinels("hx_rss")], [rss_item(f) for _, f in chosen]),
    ).encode()
    routes.append(Route("/hx/rss.xml", Reply(body=body, headers={"Content-Type": XML})))
    sources.append(Source("hx_rss", "/hx/rss.xml", {}, expected("hx_rss", chosen), set()))

    chosen = fields_of("atom")
    body = atom_document(
        "对抗 Atom",
        interleave(
            [atom_entry(s) for s in sentinels("hx_atom")], [atom_entry(f) for _, f in chosen]
        ),
    ).encode()
    routes.append(Route("/hx/atom.xml", Reply(body=body, headers={"Content-Type": XML})))
    sources.append(Source("hx_atom", "/hx/atom.xml", {}, expected("hx_atom", chosen), set()))

    chosen = fields_of("json")
    body = json_document(
        "对抗 JSON",
        interleave(
            [json_item(s) for s in sentinels("hx_json")],
            [json_item(f, v.json_extra) for v, f in chosen],
        ),
    )
    headers = {"Content-Type": "application/feed+json"}
    routes.append(Route("/hx/feed.json", Reply(body=body, headers=headers)))
    sources.append(Source("hx_json", "/hx/feed.json", {}, expected("hx_json", chosen), set()))

    selected_feeds = [f for f in feed_vectors(canary) if feed_filter(f)] if feeds else []
    for feed in selected_feeds:
        sid = f"hxf_{feed.name}"
        path = f"/hxf/{feed.name}"
        items = [rss_item(s) for s in sentinels(sid)]
        headers = {"Content-Type": feed.content_type, **feed.headers}
        reply = Reply(status=feed.status, body=feed.body(items), headers=headers)
        routes.append(Route(path, reply))
        keep = {f"sentinel-{sid}-{n}" for n in (1, 2, 3)} if feed.sentinels_kept else set()
        if feed.name == "truncated":
            keep.discard(f"sentinel-{sid}-3")  # cut in half: only the whole items count
        settings = {
            "url_tail": feed.url_tail,
            "userinfo": feed.userinfo,
            "media": feed.media,
            "fulltext": feed.fulltext,
        }
        if feed.fulltext:
            routes += fulltext_pages(canary)
            keep |= {"hx-ft-script", "hx-ft-file", "hx-ft-redirect"}
        sources.append(Source(sid, path, settings, keep, set()))
    for source in sources:
        source.sentinels = {i for i in source.expected if i.startswith("sentinel-")}
    return Corpus(routes, sources, em_codes, vectors, selected_feeds)


def family_counts() -> dict[str, int]:
    """How many vectors of each family the whole corpus holds (items and feeds)."""
    counts: dict[str, int] = {}
    for vector in ITEM_VECTORS:
        counts[vector.family] = counts.get(vector.family, 0) + 1
    for feed in feed_vectors(Path("/nonexistent")):
        counts[feed.family] = counts.get(feed.family, 0) + 1
    return dict(sorted(counts.items()))


def now_utc() -> datetime:
    """Now, to the second (items are dated just before it)."""
    return datetime.now(UTC).replace(microsecond=0)


def awaiting_branches() -> list[str]:
    """The ``awaits`` values of the corpus but "" (one or more branches each)."""
    names = {v.awaits for v in ITEM_VECTORS} | {f.awaits for f in feed_vectors(Path("/x"))}
    return sorted(names - {""})


def described(vectors: Iterable[Vector]) -> Iterator[str]:
    """``family/name`` of each vector, for messages."""
    for vector in vectors:
        yield f"{vector.family}/{vector.name}"


__all__ = [
    "CANARY",
    "ITEM_VECTORS",
    "PWNED",
    "SECRET",
    "SENTINEL",
    "Corpus",
    "FeedVector",
    "Source",
    "Vector",
    "awaiting_branches",
    "build_corpus",
    "family_counts",
    "feed_vectors",
    "now_utc",
]
