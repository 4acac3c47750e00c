"""The sanitiser: benign East Money markup unchanged, hostile HTML inert, plain text kept."""

from __future__ import annotations

import html
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from finews.normalize.sanitize import (
    PAGE_LINK_REL,
    SANITIZER_VERSION,
    as_markup,
    clean_markup,
    from_markup,
    html_value,
    looks_like_html,
    page_html,
    sanitize_html,
    text_as_html,
)

# --- what "inert" means, checked by parsing the output --------------------------------------

ACTIVE_TAGS = {
    "script", "style", "iframe", "object", "embed", "svg", "math", "form", "input", "button",
    "textarea", "select", "link", "meta", "base", "frame", "frameset", "noscript", "template",
}  # fmt: skip
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "srcset", "background"}


class _Inspector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ACTIVE_TAGS:
            self.problems.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"{tag} {name}=")
            if name in {"style", "srcdoc"}:
                self.problems.append(f"{tag} {name}=")
            if name in URL_ATTRIBUTES and value is not None:
                target = re.sub(r"[\x00-\x20]", "", html.unescape(value)).lower()
                if re.match(r"(javascript|vbscript|data|file):", target):
                    self.problems.append(f"{tag} {name}={value!r}")
            if name == "rel" and value and "opener" in value.lower().split():
                self.problems.append("rel=opener")

    def handle_comment(self, data: str) -> None:
        self.problems.append(f"<!--{data}-->")


def assert_inert(output: str) -> None:
    """No active element, handler, dangerous URL, style or comment in ``output``."""
    inspector = _Inspector()
    inspector.feed(output)
    inspector.close()
    assert inspector.problems == [], output
    assert "<script" not in output.lower()


# --- the original's markup ---------------------------------------------------------------


def _reference_dir() -> Path:
    value = os.environ.get("FINEWS_REFERENCE_DIR")
    if not value:
        pytest.skip("FINEWS_REFERENCE_DIR is not set: the original site's posts are not here")
    return Path(value)


def test_seed_body_comes_out_byte_identical() -> None:
    text = (_reference_dir() / "seed" / "000_17b71b2a531e0d44.txt").read_bytes().decode("utf-8")
    start = text.index("\n---\n", 4) + len("\n---\n")
    body = text[start : text.rindex("\n\n<http")]
    assert body.startswith("<p>")
    assert body.endswith("</p>")
    assert looks_like_html(body)
    assert sanitize_html(body) == body
    assert clean_markup(body) == body


def test_reference_digests_are_plain_text_and_unchanged() -> None:
    posts = sorted((_reference_dir() / "posts").glob("*.md"))
    assert posts
    saw_less_than = False
    for path in posts:
        text = path.read_bytes().decode("utf-8")
        digest = text.split("\n---\n\n", 1)[1].split("\n\n<", 1)[0]
        assert not looks_like_html(digest), path.name
        assert clean_markup(digest) == digest, path.name
        saw_less_than |= "<1%" in digest
    assert saw_less_than  # one real digest has a "<1%" in it


BENIGN = [
    "<p>示例银行上调存款利率。</p>",
    '<p>示例正文。</p><p class="em_media">（文章来源：示例财经）</p>',
    "<p>第一段</p>\n <p>第二段</p>",
    '<p>示例化工(<span id="stock_1.600000"><a href="http://quote.eastmoney.com/unify/r/1.600000"'
    ' class="em_stock_key_common">600000</a></span>)公告。</p>',
    '<span id="bk_90.BK0538" class="em_stock_key_common">化工行业</span>',
    '<center><img src="https://dfscdn.dfcfw.com/download/D2561817764.jpg" alt=""></center>',
    '<img src="//dfscdn.dfcfw.com/download/a.png" alt="示例图" width="600" height="400">',
    '<a href="https://finance.eastmoney.com/a/202403150000000001.html" target="_blank">原文</a>',
    '<a href="/news/1345,202403150000000001.html">相对链接</a>',
    "<p>甲<br>乙</p>",
    "<p><strong>加粗</strong><em>强调</em><b>粗</b><i>斜</i><u>下划线</u>x<sup>2</sup></p>",
    '<ul><li>一</li><li>二</li></ul><ol start="3"><li>三</li></ol>',
    "<h2>二级</h2><h3>三级</h3><h4>四级</h4><blockquote>引用</blockquote>",
    '<table><thead><tr><th>指标</th></tr></thead><tbody><tr><td colspan="2">1.8%</td></tr>'
    "</tbody></table>",
    "<p>A &amp; B &lt; C &gt; D &nbsp; “引号” ‘单引号’</p>",
    "<p>误差小于&lt;1%</p>",
    '<div class="content"><p>块</p></div>',
    '<a href="mailto:news@example.com">来信</a>',
]


@pytest.mark.parametrize("markup", BENIGN)
def test_benign_markup_is_byte_identical(markup: str) -> None:
    assert looks_like_html(markup)
    assert sanitize_html(markup) == markup
    assert clean_markup(markup) == markup


def test_comments_such_as_stock_image_markers_are_removed() -> None:
    markup = (
        '<!-- EM_StockImg_Start --><center><img src="https://dfscdn.dfcfw.com/x.png">'
        "</center><!-- EM_StockImg_End --><p>正文</p>"
    )
    assert sanitize_html(markup) == (
        '<center><img src="https://dfscdn.dfcfw.com/x.png"></center><p>正文</p>'
    )


def test_links_get_no_rel_and_keep_only_safe_target_and_rel() -> None:
    assert sanitize_html('<a href="http://a.example">x</a>') == '<a href="http://a.example">x</a>'
    assert (
        sanitize_html('<a href="http://a.example" target="_top" rel="opener nofollow">x</a>')
        == '<a href="http://a.example" rel="nofollow">x</a>'
    )
    assert sanitize_html('<a href="http://a" rel="opener">x</a>') == '<a href="http://a">x</a>'


# --- hostile input ----------------------------------------------------------------------

HOSTILE = [
    ("<script>alert(1)</script>正文", "正文"),
    ("<SCRIPT SRC=//evil.example/x.js></SCRIPT>正文", "正文"),
    ('<img src="x.png" onerror="alert(1)">', '<img src="x.png">'),
    ('<a href="javascript:alert(1)">点我</a>', "<a>点我</a>"),
    ('<a href=" JaVaScRiPt:alert(1)">点我</a>', "<a>点我</a>"),
    ('<a href="java&#x09;script:alert(1)">点我</a>', "<a>点我</a>"),
    ('<a href="vbscript:msgbox(1)">点我</a>', "<a>点我</a>"),
    ('<iframe src="https://evil.example"></iframe>正文', "正文"),
    ('<iframe src="https://evil.example">回退文字</iframe>', ""),
    ("<style>body{display:none}</style>正文", "正文"),
    ('<p style="position:fixed;top:0">正文</p>', "<p>正文</p>"),
    ('<object data="x.swf"><embed src="x.swf"></object>正文', "正文"),
    ("<svg onload=alert(1)><circle r=1 /></svg>正文", "正文"),
    ("<svg><script>alert(1)</script></svg>正文", "正文"),
    ("<math><mi xlink:href=\"javascript:alert(1)\">x</mi></math>正文", "正文"),
    ('<img src="data:image/svg+xml;base64,PHN2Zz4=">', "<img>"),
    ('<a href="data:text/html,<script>alert(1)</script>">x</a>', "<a>x</a>"),
    ("<form action=\"https://evil.example\"><input name=q><button>提交</button></form>", "提交"),
    ('<meta http-equiv="refresh" content="0;url=https://evil.example">正文', "正文"),
    ('<base href="https://evil.example/">正文', "正文"),
    ('<link rel="stylesheet" href="https://evil.example/x.css">正文', "正文"),
    ('<p onclick="alert(1)" onmouseover="alert(2)">正文</p>', "<p>正文</p>"),
    ('<div><p>未闭合<b>加粗<i>斜体</p>', "<div><p>未闭合<b>加粗<i>斜体</i></b></p></div>"),
    ("<scr<script>ipt>alert(1)</script>", "ipt&gt;alert(1)"),
    ('<img src=x onerror=alert(1)//', ""),
    ("<!--<script>alert(1)</script>-->正文", "正文"),
    ("<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\">", '<img src="x">"&gt;'),
    ('<a href="http://a.example" onclick="steal()">x</a>', '<a href="http://a.example">x</a>'),
    ('<span id="stock_1" class="x" style="color:red" onmouseenter="x()">股</span>',
     '<span id="stock_1" class="x">股</span>'),
    ('<template><img src=x onerror=alert(1)></template>正文', "正文"),
    ('<textarea><script>alert(1)</script></textarea>', "&lt;script&gt;alert(1)&lt;/script&gt;"),
]  # fmt: skip


@pytest.mark.parametrize(("markup", "expected"), HOSTILE)
def test_hostile_markup_is_made_inert(markup: str, expected: str) -> None:
    out = clean_markup(markup)
    assert out == expected
    assert_inert(out)


# --- the plain-text rule ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("误差小于<1%，A & B > C。", "误差小于<1%，A & B > C。"),
        ("收益率 <= 2% 且 &nbsp; 不是实体", "收益率 <= 2% 且 &nbsp; 不是实体"),
        ("A股<B股", "A股&lt;B股"),
        ("看<foo onclick=x>这里", "看&lt;foo onclick=x>这里"),
        ("<javascript:alert(1)>", "&lt;javascript:alert(1)>"),
        ("a</b", "a&lt;/b"),
        ("<!doctype", "&lt;!doctype"),
        ("<?php", "&lt;?php"),
        ("", ""),
    ],
)
def test_plain_text_is_stored_as_is_and_made_inert_at_output(text: str, expected: str) -> None:
    assert not looks_like_html(text)
    assert clean_markup(text) == text  # escaped once, by the output, never when stored
    assert text_as_html(text) == expected
    assert_inert(expected)


def test_what_nh3_alone_would_do_to_plain_text() -> None:
    """Why plain text is not passed through the sanitiser."""
    assert sanitize_html("误差小于<1%") == "误差小于&lt;1%"
    assert sanitize_html("A股<B股") == "A股"


@pytest.mark.parametrize(
    ("text", "is_html"),
    [
        ("<p>x</p>", True),
        ("<P CLASS=x>", True),
        ("x<br>y", True),
        ("x<br/>y", True),
        ("<!-- c -->", True),
        ("</div>", True),
        ("<script>alert(1)</script>", True),
        ("<img\nsrc=x>", True),
        ("误差<1%", False),
        ("A股<B股", False),
        ("<pp>", False),
        ("<foo>", False),
        ("a < b > c", False),
    ],
)
def test_looks_like_html(text: str, is_html: bool) -> None:
    assert looks_like_html(text) is is_html


# --- properties -------------------------------------------------------------------------

_FRAGMENTS = [
    "<script>", "</script>", "<SCRIPT>", "<scr", "ipt>", "<img src=x ", "onerror=", "alert(1)",
    '"', "'", ">", "<", "/", "<a href=\"", "javascript:", "java&#x09;script:", "&#106;", "data:",
    "<svg ", "onload=", "<iframe>", "<style>", "</", "<!--", "-->", "<p>", "</p>", "<p class=",
    "<span id=", " ", "\n", "\t", "x", "示例", "<math>", "<noscript>", "<template>", "=",
    "<object>", "<embed ", "src=", "href=", "<a ", "style=", "<b>", "&", ";", "<?", "<!",
]  # fmt: skip
_MARKUP = st.lists(st.sampled_from(_FRAGMENTS), max_size=40).map("".join)


@settings(max_examples=500, deadline=None)
@given(_MARKUP)
def test_sanitised_output_is_always_inert(markup: str) -> None:
    assert_inert(sanitize_html(markup))
    cleaned = clean_markup(markup)
    # stored text is either sanitised HTML or plain text, which outputs escape
    assert_inert(cleaned if looks_like_html(markup) else text_as_html(cleaned))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_clean_markup_of_any_text_is_inert_as_outputs_use_it(text: str) -> None:
    cleaned = clean_markup(text)
    assert_inert(cleaned if looks_like_html(cleaned) else text_as_html(cleaned))


@settings(max_examples=300, deadline=None)
@given(_MARKUP)
def test_clean_markup_is_idempotent(markup: str) -> None:
    once = clean_markup(markup)
    assert clean_markup(once) == once


def test_plain_text_escaped_for_markup_reads_back_as_the_same_text() -> None:
    assert as_markup("A股<B股") == "A股&lt;B股"
    assert from_markup("A股&lt;B股") == "A股<B股"
    assert as_markup("<p>正文</p>") == "<p>正文</p>"  # stored HTML is already markup
    # unescaping "&lt;p>" would make HTML of it: it stays as written
    assert from_markup("&lt;p>") == "&lt;p>"


def test_html_without_a_tag_is_read_as_text() -> None:
    assert html_value("A股&lt;B股 &amp; C") == "A股<B股 & C"
    assert html_value("<p>A股&lt;B股</p>") == "<p>A股&lt;B股</p>"


@settings(max_examples=300, deadline=None)
@given(_MARKUP)
def test_markup_of_plain_text_round_trips(text: str) -> None:
    if looks_like_html(text) or "&lt;" in text or looks_like_html(text_as_html(text)):
        return
    assert from_markup(as_markup(text)) == text


# --- pages: the same rules, links marked, text of this version not sanitised again -------


@settings(max_examples=500, deadline=None)
@given(_MARKUP)
def test_a_page_shows_stored_text_of_this_version_as_the_rules_make_it(markup: str) -> None:
    stored = sanitize_html(markup)
    shown = page_html(stored, version=SANITIZER_VERSION)
    assert shown == page_html(stored)  # the short cut is the full pass, as far as it goes
    assert_inert(page_html(markup))  # unknown version: sanitised at render
    assert_inert(shown)


def test_page_links_are_marked_and_older_text_is_sanitised_again() -> None:
    stored = sanitize_html('<p>看<a href="https://a.example/x" target="_blank">原文</a></p>')
    assert stored == '<p>看<a href="https://a.example/x" target="_blank">原文</a></p>'
    assert page_html(stored, version=SANITIZER_VERSION) == (
        f'<p>看<a href="https://a.example/x" target="_blank" rel="{PAGE_LINK_REL}">原文</a></p>'
    )
    old = '<p onclick="x()">旧库<script>alert(1)</script></p>'
    assert page_html(old, version=SANITIZER_VERSION - 1) == "<p>旧库</p>"
    assert page_html(old) == "<p>旧库</p>"
    plain = "<p>段落</p>"
    assert page_html(plain, version=SANITIZER_VERSION) is plain
