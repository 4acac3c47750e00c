"""finews's one HTML parser (``sources/_html.py``, lxml): what it must not lose on the
pages upstreams send."""

from __future__ import annotations

import pytest

from finews.errors import ConfigError
from finews.normalize.sanitize import sanitize_html
from finews.sources._article import NoArticleError, absolutize, extract_article
from finews.sources._html import css, document, inner_html
from finews.sources.detect import feed_links

ARTICLE = "<p>" + "央行今日开展逆回购操作，市场流动性保持合理充裕。" * 4 + "</p>"
PAGE = "https://news.example/a/1.html"


@pytest.mark.parametrize("void", ["embed", "source", "track", "wbr", "keygen", "param"])
def test_an_empty_element_does_not_swallow_the_article_after_it(void: str) -> None:
    # libxml2 does not know every HTML5 void element and nested what followed inside it;
    # <embed> is chrome, so the article went with it
    page = f"<html><body><nav>菜单</nav><{void} src=x>{ARTICLE}<p>尾</p></body></html>"
    found = extract_article(page.encode(), PAGE)
    assert "逆回购" in found
    assert "尾" in found
    root = document(page)
    (element,) = css(root, void)
    assert element.text is None
    assert len(element) == 0


def test_text_nested_deep_is_kept() -> None:
    deep = "<div>" * 1500 + "深" + "</div>" * 1500
    assert "深" in document(deep).text_content()


@pytest.mark.parametrize("text", ["", "   ", "<!-- only a comment -->", "\x00"])
def test_a_page_with_nothing_in_it_is_empty_not_an_error(text: str) -> None:
    assert extract_article(text.encode(), PAGE) == ""
    with pytest.raises(NoArticleError):
        extract_article(text.encode(), PAGE, "p")
    assert inner_html(document(text).body) == ""


def test_controls_and_lone_surrogates_do_not_stop_the_reading() -> None:
    fragment = "<p>甲\ud800乙\x01丙\x00丁<img data-src='/i.png'></p><p>后</p>"
    found = absolutize(fragment, PAGE)
    assert (
        found
        == '<p>甲\ufffd乙丙丁<img data-src="/i.png" src="https://news.example/i.png"></p><p>后</p>'
    )


def test_a_selector_that_cannot_be_read_names_the_setting() -> None:
    with pytest.raises(ConfigError, match=r"fulltext_selector.*a CSS selector"):
        extract_article(f"<html><body>{ARTICLE}</body></html>".encode(), PAGE, "p[")


def test_feed_links_are_read_from_a_page_with_broken_markup() -> None:
    page = (
        '<html><head><embed src=x><link rel="alternate" type="application/rss+xml" '
        'href="/rss.xml"></head><body></p></div><p>x</body></html>'
    )
    assert feed_links(PAGE, page.encode()) == ["https://news.example/rss.xml"]


@pytest.mark.parametrize("base", ["https://news.example/a\x01b/", "https://news.example/\ud800/"])
def test_a_base_url_lxml_cannot_hold_still_makes_links_absolute(base: str) -> None:
    # a JSON Feed item's url is the base of its content_html's links
    found = absolutize('<p><a href="x.html">链接</a></p>', base)
    assert found.startswith('<p><a href="https://news.example/')
    assert found.endswith('x.html">链接</a></p>')


def test_links_are_written_as_they_were_not_percent_encoded() -> None:
    # libxml2's serialiser percent-encodes href and src; a "java\nscript:" link then
    # became a relative one the sanitiser kept (and a Chinese path changed its bytes)
    found = absolutize('<a href="/路径?q=中文">甲</a><a href="java\nscript:x()">乙</a>', PAGE)
    kept = '<a href="https://news.example/路径?q=中文">甲</a>'
    assert found == kept + '<a href="java\nscript:x()">乙</a>'
    assert sanitize_html(found) == kept + "<a>乙</a>"


def test_text_and_attributes_are_escaped_as_html5_writes_them() -> None:
    fragment = '<p title="a&quot;b">x &amp; y\xa0&lt;z&gt;</p><script>if (a<b && c) {}</script>'
    assert absolutize(fragment, PAGE) == (
        '<p title="a&quot;b">x &amp; y&nbsp;&lt;z&gt;</p><script>if (a<b && c) {}</script>'
    )


def test_comments_in_a_fragment_are_written_back() -> None:
    # a comment among the body's children once stopped the writer (hostile corpus)
    found = absolutize("\u3000 <!--><img src=x>尾<!-- c -->-->", PAGE)
    assert found == '\u3000 <!----><img src="https://news.example/a/x">尾<!-- c -->--&gt;'
