"""Short texts cut from a digest that may hold markup (issue 18, point 8): the meta
description, an untitled item's title on pages and in feeds, and the lead a story's
fingerprint reads all come from the digest's plain text, cut on characters, never from
raw HTML cut inside a tag."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from finews.derive import open_store
from finews.models import Item
from finews.process.index import plain_prefix, plain_text
from finews.process.stories.fingerprint import fingerprint
from finews.process.stories.parameters import TEXT_PREFIX
from finews.publish.catalog import Catalog
from finews.publish.pages import Pages
from finews.publish.settings import SiteSettings
from finews.publish.site import SiteRenderer
from finews.store import Store
from site_data import fill, parse_xml

SETTINGS = SiteSettings(base_url="https://finews.example.org/", feed_size=10)
ATOM = "{http://www.w3.org/2005/Atom}"
IMAGE = '<img src="https://img.cls.cn/x.png">'
# an RSSHub description: text, a line break and an image (the text is invented)
RSSHUB_DIGEST = "测试电报正文，某指数午后震荡走高。<br>" + IMAGE


def test_plain_prefix_cuts_the_plain_text_not_the_markup() -> None:
    cut_in_tag = len("测试电报正文，某指数午后震荡走高。<br><img src=")
    assert RSSHUB_DIGEST[:cut_in_tag].endswith("src=")  # where the raw cut used to fall
    assert plain_prefix(RSSHUB_DIGEST, cut_in_tag) == "测试电报正文，某指数午后震荡走高。"
    assert plain_prefix(RSSHUB_DIGEST, 6) == "测试电报正文"
    assert plain_prefix("甲&amp;乙&lt;丙", 4) == "甲&乙<"
    assert plain_prefix("没有标记的摘要", 3) == "没有标"
    assert plain_prefix("", 60) == ""
    assert plain_prefix(RSSHUB_DIGEST, 0) == ""


def test_plain_prefix_reads_past_a_long_run_of_markup() -> None:
    digest = "<p>" + IMAGE * 200 + "</p><p>图后的正文在这里。</p>"
    assert plain_prefix(digest, 60) == "图后的正文在这里。"
    assert plain_prefix(digest, 3) == "图后的"


PIECES = st.sampled_from(
    ["测试", "正文。", " ", "\n", "<br>", "<p>", "</p>", IMAGE, "&amp;", "&lt;", "A&B", "<b>粗</b>"]
)


@settings(max_examples=300, deadline=None)
@given(pieces=st.lists(PIECES, max_size=120), limit=st.integers(min_value=1, max_value=200))
def test_plain_prefix_is_the_plain_texts_prefix(pieces: list[str], limit: int) -> None:
    text = "".join(pieces)
    cut = plain_prefix(text, limit)
    assert cut == plain_text(text)[:limit]
    assert "<" not in cut.replace("&lt;", "") or "<" in plain_text(text)
    assert "src=" not in cut


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'short.db'}")
    try:
        yield opened
    finally:
        opened.close()


def untitled(n: int, digest: str) -> Item:
    return Item(
        source="cls",
        upstream_id=f"short-{n}",
        title="",
        digest=digest,
        content="",
        url=f"https://www.cls.cn/detail/{n}",
        media="财联社",
        category="cls",
        tag="财联社电报",
        published_at=datetime(2026, 12, 7, 1, n, tzinfo=UTC),
        fetched_at=datetime(2026, 12, 7, 2, 0, tzinfo=UTC),
    )


def test_pages_and_feeds_show_plain_short_texts(store: Store) -> None:
    long_text = "某指数午后震荡走高，成交额较上一交易日有所放大。" * 6
    digest = "<p>" + long_text[:120] + "<br>" + IMAGE + long_text[120:] + "</p>"
    assert "<img src=" in digest[:140]  # the raw cut would have shown the tag as text
    fill(store, [untitled(1, digest), untitled(2, RSSHUB_DIGEST)])
    site = Pages(store, Catalog.scan(store, SETTINGS.page_size), SiteRenderer(SETTINGS))
    item = store.get_item("cls", "short-1")
    assert item is not None
    page = site.article(item)
    description = re.search(r'<meta name="description" content="([^"]*)"', page)
    assert description is not None
    assert description[1] == plain_text(digest)[:140]
    assert "img" not in description[1]
    listing = site.home()
    assert "测试电报正文，某指数午后震荡走高。" in listing
    assert "src=" not in re.sub(r"<[^>]*>", "", listing)  # no markup shown as text
    atom = parse_xml(site.feed("atom", "cls") or b"")
    titles = [e.findtext(ATOM + "title") or "" for e in atom.findall(ATOM + "entry")]
    assert titles == ["测试电报正文，某指数午后震荡走高。", plain_text(digest)[:60]]
    feed = json.loads(site.feed("json", "cls") or b"")
    assert [entry["title"] for entry in feed["items"]] == titles


def test_a_fingerprint_reads_the_text_after_markup_past_the_prefix() -> None:
    when = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
    text = "某公司公告称拟以自有资金回购股份，回购价格不超过每股二十元，用于员工持股计划。"
    padded = IMAGE * (TEXT_PREFIX // len(IMAGE) + 1) + text
    # the raw prefix used to end inside an <img> tag, so its URL became the lead
    assert "<img" in plain_text(padded[:TEXT_PREFIX])
    marked = fingerprint(1, "", padded, "", when)
    plain = fingerprint(2, "", text, "", when)
    assert marked.shingles == plain.shingles
    assert marked.keys == plain.keys
