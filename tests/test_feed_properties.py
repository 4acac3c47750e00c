"""Property tests for the ``feed`` adapter's parsers: whatever bytes come, a Page (or an
article fragment) or one clear ParseError, never another exception; decoding never fails;
every entry is kept or dropped; ids are never blank."""

from __future__ import annotations

import json
import os
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from finews.errors import ConfigError, ParseError
from finews.models import RawItem, SourceSpec
from finews.sources._article import NoArticleError, extract_article
from finews.sources._encoding import decode_document
from finews.sources.base import Page
from finews.sources.feed import FEED

SPEC = SourceSpec(id="src_feed", adapter="feed", settings={"url": "https://feeds.example/x"})
REQUEST = FEED.first_page(SPEC)
FAST = settings(
    deadline=None,
    max_examples=int(os.environ.get("FEED_EXAMPLES", "150")),
    suppress_health_check=[HealthCheck.too_slow],
)


def page_or_none(body: bytes) -> Page | None:
    """The page, or None for a ParseError naming the source; anything else fails."""
    try:
        page = FEED.parse_page(SPEC, body, REQUEST)
    except ParseError as exc:
        error = exc
    else:
        error = None
    if error is not None:
        assert error.source == "src_feed"
        assert error.url == REQUEST.url
        return None
    assert isinstance(page, Page)
    for item in page.items:
        assert isinstance(item, RawItem)
        assert item.source == "src_feed"
        assert item.upstream_id.strip() == item.upstream_id != ""
        assert item.url is None or item.url.startswith(("http://", "https://"))
    for dropped in page.dropped:
        assert dropped.reason.startswith("[src_feed] ")
    return page


@FAST
@given(body=st.binary(max_size=400))
def test_any_bytes_give_a_page_or_a_parse_error(body: bytes) -> None:
    page_or_none(body)


# Pieces of real feeds, shuffled and repeated: gets much deeper into feedparser than
# random bytes, including half-finished and mis-nested documents.
FRAGMENTS = [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<?xml version="1.0" encoding="gbk"?>',
    '<?xml version="1.0" encoding="no-such-charset"?>',
    '<rss version="2.0">',
    "<rss>",
    "</rss>",
    "<channel>",
    "</channel>",
    "<title>财经</title>",
    "<item>",
    "</item>",
    "<guid>1</guid>",
    "<guid> </guid>",
    "<link>/a/1</link>",
    "<link>javascript:alert(1)</link>",
    "<pubDate>Tue, 01 Sep 2026 00:00:20 +0800</pubDate>",
    "<pubDate>2026-13-45 99:99</pubDate>",
    "<pubDate>Mon, 31 Aug 2026 15:59:59 CST</pubDate>",
    "<description><![CDATA[<p>正文</p>]]></description>",
    '<feed xmlns="http://www.w3.org/2005/Atom" xml:base="../b/">',
    "</feed>",
    "<entry>",
    "</entry>",
    '<link rel="next" href="p2.xml"/>',
    "<id>urn:x</id>",
    '<content type="html">&lt;img src="x.png"&gt;</content>',
    "<!DOCTYPE rss [<!ENTITY e 'x'>]>",
    "&e;",
    "\u4e2d\u6587",
    "<",
    "&",
]


@FAST
@given(
    parts=st.lists(st.sampled_from(FRAGMENTS), max_size=25),
    codec=st.sampled_from(["utf-8", "gbk", "big5", "utf-16"]),
)
def test_feed_like_documents_give_a_page_or_a_parse_error(parts: list[str], codec: str) -> None:
    body = "".join(parts).encode(codec, errors="replace")
    page_or_none(body)


scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
item_fields = ["id", "url", "external_url", "title", "content_html", "content_text", "summary"]
items = st.fixed_dictionaries(
    {},
    optional={
        **dict.fromkeys(item_fields, st.none() | st.text(max_size=20) | st.integers()),
        "date_published": st.sampled_from(["2026-09-01T00:00:20+08:00", "", "x", 3]),
        "authors": json_values,
        "tags": json_values,
    },
)


@FAST
@given(entries=st.lists(items | json_values, max_size=8), next_url=json_values)
def test_every_json_feed_entry_is_kept_or_dropped(entries: list[Any], next_url: Any) -> None:
    feed = {"version": "https://jsonfeed.org/version/1.1", "items": entries, "next_url": next_url}
    page = page_or_none(json.dumps(feed).encode())
    if page is not None:
        assert len(page.items) + len(page.dropped) == len(entries)


@FAST
@given(value=json_values)
def test_any_json_gives_a_page_or_a_parse_error(value: Any) -> None:
    page_or_none(json.dumps(value).encode())


@FAST
@given(body=st.binary(max_size=300), declared=st.none() | st.text(max_size=12))
# Labels of codecs that are not charsets (bytes-to-bytes or str-to-str): each raised
# LookupError "not a text encoding" once a body was not UTF-8 (issue 19, point 12).
@example(body=b"\x80", declared="UU")
@example(body=b"\x80", declared="hex")
@example(body=b"\x80", declared="base64")
@example(body=b"\x80", declared="zlib")
@example(body=b"\x80", declared="rot13")
@example(body=b"\x80", declared="bz2")
@example(body=b"\x80", declared="quopri")
def test_decoding_never_fails(body: bytes, declared: str | None) -> None:
    decoded = decode_document(body, declared)
    assert isinstance(decoded.text, str)


@FAST
@given(text=st.text(max_size=60), codec=st.sampled_from(["utf-8", "gb18030", "big5hkscs"]))
def test_text_that_is_valid_utf8_comes_back_unchanged(text: str, codec: str) -> None:
    """Whatever the declaration says, UTF-8 bytes decode to the text they encode."""
    assert decode_document(text.encode("utf-8"), codec).text == text


@FAST
@given(
    body=st.binary(max_size=300) | st.text(max_size=200).map(lambda t: t.encode()),
    selector=st.sampled_from(["", "div", "#content", "p > a", "div["]),
)
def test_article_extraction_gives_text_or_one_clear_error(body: bytes, selector: str) -> None:
    try:
        fragment = extract_article(body, "https://news.example/a/1.html", selector)
    except NoArticleError:
        assert selector
        return
    except ConfigError as exc:
        bad_key = exc.key
    else:
        assert isinstance(fragment, str)
        return
    assert bad_key == "fulltext_selector"
