"""Atom 1.0, RSS 2.0 and JSON Feed 1.1: required elements per spec, permanent entry ids,
valid dates, and the same feeds from the live app and the static build."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest

from finews.derive import open_store
from finews.publish.catalog import Catalog
from finews.publish.feeds import FeedInfo, entry_id, render_feed
from finews.publish.pages import Pages
from finews.publish.settings import SiteSettings
from finews.publish.site import SiteRenderer
from finews.publish.static_site import build_site
from finews.publish.urls import article_path, beijing
from finews.publish.web import create_app
from finews.store import Store
from site_data import GOLDEN_SETTINGS, TestClient, fill, parse_xml, site_items

pytestmark = pytest.mark.timeout(60)

ATOM = "{http://www.w3.org/2005/Atom}"
ABSOLUTE = SiteSettings(base_url="https://finews.example.org/", feed_size=10)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'feeds.db'}")
    fill(opened, site_items())
    try:
        yield opened
    finally:
        opened.close()


def pages(store: Store, settings: SiteSettings = ABSOLUTE) -> Pages:
    return Pages(store, Catalog.scan(store, settings.page_size), SiteRenderer(settings))


def check_atom(data: bytes) -> ET.Element:
    root = parse_xml(data)
    assert root.tag == ATOM + "feed"
    for name in ("id", "title", "updated"):
        assert root.find(ATOM + name) is not None, name
    datetime.fromisoformat(root.findtext(ATOM + "updated") or "")
    assert root.find(f"{ATOM}author/{ATOM}name") is not None  # entries may then omit authors
    self_links = [e for e in root.findall(ATOM + "link") if e.get("rel") == "self"]
    assert len(self_links) == 1
    for entry in root.findall(ATOM + "entry"):
        for name in ("id", "title", "updated"):
            assert (entry.findtext(ATOM + name) or "").strip(), name
        datetime.fromisoformat(entry.findtext(ATOM + "updated") or "")
        assert entry.find(ATOM + "link").get("href", "").startswith("https://")  # type: ignore[union-attr]
        content = entry.find(ATOM + "content")
        assert content is not None or entry.find(ATOM + "summary") is not None
        if content is not None:
            assert content.get("type") == "html"
    return root


def check_rss(data: bytes, scheme: str = "https://") -> ET.Element:
    root = parse_xml(data)
    assert root.tag == "rss"
    assert root.get("version") == "2.0"
    channel = root.find("channel")
    assert channel is not None
    for name in ("title", "link", "description"):
        assert (channel.findtext(name) or "").strip(), name
    for item in channel.findall("item"):
        assert item.findtext("title") or item.findtext("description")
        guid = item.find("guid")
        assert guid is not None
        assert guid.get("isPermaLink") == "false"
        parsedate_to_datetime(item.findtext("pubDate") or "")
        assert (item.findtext("link") or "").startswith(scheme)
    return root


def check_json_feed(data: bytes) -> dict:  # type: ignore[type-arg]
    feed = json.loads(data)
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert isinstance(feed["title"], str)
    assert isinstance(feed["items"], list)
    for item in feed["items"]:
        assert isinstance(item["id"], str)
        assert item["id"]
        assert "content_html" in item or "content_text" in item
        datetime.fromisoformat(item["date_published"])
    return feed  # type: ignore[no-any-return]


def test_atom_rss_json_have_what_their_specs_require(store: Store) -> None:
    site = pages(store)
    atom = check_atom(site.feed("atom") or b"")
    rss = check_rss(site.feed("rss") or b"")
    feed = check_json_feed(site.feed("json") or b"")
    newest = sorted(site_items(), key=lambda i: i.published_at, reverse=True)[:10]
    ids = [entry_id(i) for i in newest]
    assert [e.findtext(ATOM + "id") for e in atom.findall(ATOM + "entry")] == ids
    assert [e.findtext("guid") for e in rss.iter("item")] == ids
    assert [e["id"] for e in feed["items"]] == ids
    assert atom.findtext(ATOM + "updated") == "2021-12-09T16:45:00+08:00"
    assert feed["home_page_url"] == "https://finews.example.org/"
    assert feed["feed_url"] == "https://finews.example.org/feed.json"
    self_link = next(e for e in atom.findall(ATOM + "link") if e.get("rel") == "self")
    assert self_link.get("href") == "https://finews.example.org/feed.xml"


def test_entry_ids_are_tag_uris_that_never_change(store: Store) -> None:
    item = site_items()[0]
    assert entry_id(item) == "tag:finews,2021:eastmoney_fast/20211208000000000000"
    odd = item.replace(source="a b", upstream_id="x/y:z")
    assert entry_id(odd) == "tag:finews,2021:a%20b/x%2Fy%3Az"
    moved = SiteSettings(base_url="https://elsewhere.example.net/mirror/", feed_size=10)
    for kind in ("atom", "rss"):
        here = parse_xml(pages(store).feed(kind) or b"")
        there = parse_xml(pages(store, moved).feed(kind) or b"")
        ids = [e.text for e in here.iter() if e.tag in (ATOM + "id", "guid")]
        assert ids == [e.text for e in there.iter() if e.tag in (ATOM + "id", "guid")]


def test_category_feeds(store: Store) -> None:
    site = pages(store)
    feed = check_json_feed(site.feed("json", "cls") or b"")
    assert {i["_finews"]["category"] for i in feed["items"]} == {"cls"}
    assert feed["home_page_url"] == "https://finews.example.org/category/cls.html"
    atom = check_atom(site.feed("atom", "emnews") or b"")
    assert len(atom.findall(ATOM + "entry")) == 6
    check_rss(site.feed("rss", "36ke") or b"")
    assert site.feed("atom", "nosuch") is None


def test_feed_content_is_the_sanitised_body(store: Store) -> None:
    site = pages(store)
    root = parse_xml(site.feed("atom", "xinhuacaijing") or b"")
    content = root.find(f"{ATOM}entry/{ATOM}content")
    assert content is not None
    assert "（文章来源：新华财经）" in (content.text or "")
    feed = json.loads(site.feed("json", "emnews") or b"")
    plain = next(i for i in feed["items"] if "content_html" in i)
    assert "<p>第一段：市场情绪回暖。</p>" in plain["content_html"]
    assert all(i.get("content_text") for i in feed["items"] if "content_html" not in i)


def test_characters_xml_cannot_carry_do_not_break_feeds() -> None:
    item = site_items()[0].replace(id=1, title="控制\x00字符\x1b标题\ufffe", digest="摘\x08要")
    info = FeedInfo("标\x01题", "说明", "https://x.example/", "https://x.example/feed.xml", "tag:x")
    for kind in ("atom", "rss"):
        data = render_feed(
            kind, [item], info, link=lambda _: "https://x.example/a.html", body=lambda _: ""
        )
        assert b"\x00" not in data
        assert "控制字符标题".encode() in data
        parse_xml(data)
    json.loads(render_feed("json", [item], info, link=lambda _: "u", body=lambda _: ""))


def test_an_empty_site_has_valid_feeds(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path / 'empty.db'}") as empty:
        site = pages(empty)
        check_atom(site.feed("atom") or b"")
        check_rss(site.feed("rss") or b"")
        assert check_json_feed(site.feed("json") or b"")["items"] == []


def test_feeds_are_byte_identical_when_nothing_changed(store: Store) -> None:
    first = [pages(store).feed(kind) for kind in ("atom", "rss", "json")]
    assert first == [pages(store).feed(kind) for kind in ("atom", "rss", "json")]


def test_live_app_and_static_build_serve_the_same_feeds(store: Store, tmp_path: Path) -> None:
    report = build_site(store, tmp_path / "site", ABSOLUTE)
    assert report.full
    app = create_app(store.url, ABSOLUTE)  # type: ignore[attr-defined]
    with TestClient(app) as client:
        for path in [
            "/feed.xml",
            "/rss.xml",
            "/feed.json",
            "/feeds/cls/atom.xml",
            "/feeds/emnews/feed.json",
        ]:
            served = client.get(path)
            assert served.status_code == 200
            assert served.content == (tmp_path / "site" / path.lstrip("/")).read_bytes()


def test_live_feeds_use_the_request_origin_when_base_url_is_a_path(store: Store) -> None:
    app = create_app(store.url, SiteSettings())  # type: ignore[attr-defined]
    with TestClient(app, base_url="http://news.example.com") as client:
        root = check_rss(client.get("/rss.xml").content, "http://news.example.com/")
        assert (root.findtext("channel/link") or "") == "http://news.example.com/"


def test_a_title_standing_in_for_the_rss_description_is_escaped_once() -> None:
    # RSS readers read <description> as HTML: an item with neither digest nor body gets its
    # plain-text title there, which must arrive as text (found by the hostile corpus)
    title = '"><img src=x onerror=alert(1)>'
    item = site_items()[0].replace(id=1, title=title, digest="")
    info = FeedInfo("标题", "说明", "https://x.example/", "https://x.example/feed.xml", "tag:x")
    rss = parse_xml(
        render_feed("rss", [item], info, link=lambda _: "https://x.example/a", body=lambda _: "")
    )
    assert rss.findtext("channel/item/description") == '"&gt;&lt;img src=x onerror=alert(1)&gt;'
    atom = parse_xml(
        render_feed("atom", [item], info, link=lambda _: "https://x.example/a", body=lambda _: "")
    )
    assert atom.findtext(f"{ATOM}entry/{ATOM}summary") == title  # Atom's summary is text


@pytest.mark.parametrize("kind", ["atom", "rss"])
def test_browsers_that_apply_xslt_show_a_feed_as_a_page_of_the_site(
    store: Store, kind: str
) -> None:
    # libxslt (lxml, which feedgen brings) is the XSLT 1.0 engine browsers embed
    from lxml import etree

    site = pages(store, GOLDEN_SETTINGS)
    feed = site.feed(kind, "emnews")
    assert feed is not None
    xsl_link = site.renderer.asset_url("feed.xsl")
    assert f'<?xml-stylesheet type="text/xsl" href="{xsl_link}"?>'.encode() in feed
    transform = etree.XSLT(etree.fromstring(site.renderer.assets["feed.xsl"]))
    page = str(transform(etree.fromstring(feed)))
    assert page.startswith("<!DOCTYPE html")
    assert f'href="{site.renderer.asset_url("site.css")}"' in page
    assert "这是一个<strong>订阅源</strong>" in page
    assert "<h1>东财滚动新闻 · 金融消息</h1>" in page
    shown = [item for item in site_items() if item.category == "emnews"]
    assert page.count('<li class="item">') == min(len(shown), GOLDEN_SETTINGS.feed_size)
    newest = max(shown, key=lambda item: item.published_at)
    link = GOLDEN_SETTINGS.url(article_path(newest))
    assert f'<a class="title" href="{link}">{newest.title}</a>' in page
    # each entry's Beijing time, shortened
    when = beijing(newest.published_at)
    shown_time = when.strftime("%m-%d %H:%M" if kind == "atom" else "%d %b %Y %H:%M")
    assert f"{shown_time}</time>" in page
