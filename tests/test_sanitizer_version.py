"""The sanitiser version stored with each body (``items.sanitizer``, migration 0015), on
SQLite and PostgreSQL: ``normalize_item`` records it, the store keeps it with the text it
describes, and pages insert a body of the current version as it is, while a body of any
other version or of none (stored by a path that skipped the normaliser, or before 0015) is
sanitised again as it is rendered: the live app, its feeds and the static build alike."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest

from finews.derive import open_store
from finews.models import Item, RawItem, SourceSpec
from finews.normalize import normalize_item, sanitize
from finews.normalize.sanitize import SANITIZER_VERSION, sanitize_html
from finews.publish.settings import SiteSettings
from finews.publish.site import SiteRenderer
from finews.publish.static_site import build_site
from finews.publish.urls import article_path
from finews.publish.web import create_app
from finews.store import Store
from finews.store.sql import SqlStore
from helpers import make_item
from site_data import TestClient, parse_xml

SETTINGS = SiteSettings()
SPEC = SourceSpec(id="em_fast", adapter="eastmoney_fast", name="快讯")
FETCHED = datetime(2026, 9, 1, 2, 0, tzinfo=UTC)

#: East Money's markup, which the sanitiser keeps byte for byte: attributes, and no link
RICH = (
    '<p class="em_p">贵州茅台<span id="stock_600519" class="em_stock">(600519)</span>'
    '公告分红方案</p><p>第二段<img src="https://img.example.cn/k.png" width="10"></p>'
)
#: the same shape, other text
OTHER = RICH.replace("第二段", "第三段")
#: what no page may carry: each payload's marker must be gone
HOSTILE = (
    '<p class="lead">旧库正文</p><script>alert("x9")</script>'
    '<img src="https://img.example.cn/a.png" onerror="alert(\'x8\')">'
    "<a href=\"javascript:alert('x7')\">链接</a>"
)


def assert_inert(page: str) -> None:
    assert "x9" not in page
    assert "onerror" not in page
    assert "javascript:" not in page


def fresh(upstream_id: str, content: str) -> Item:
    """An item as a poll stores it: through ``normalize_item``."""
    raw = RawItem(
        source="em_fast",
        upstream_id=upstream_id,
        title=f"标题{upstream_id}",
        summary="摘要",
        content=content,
        published=FETCHED.timestamp() - 3600,
    )
    item = normalize_item(raw, SPEC, fetched_at=FETCHED)
    assert isinstance(item, Item)
    return item


@pytest.fixture
def sanitised(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every text the page sanitiser is run over from now on."""
    seen: list[str] = []
    full = sanitize.sanitize_for_page

    def spy(html: str) -> str:
        seen.append(html)
        return full(html)

    monkeypatch.setattr(sanitize, "sanitize_for_page", spy)
    return seen


def stored(store: Store, upstream_id: str, source: str = "em_fast") -> Item:
    item = store.get_item(source, upstream_id)
    assert item is not None
    return item


def test_normalize_records_the_version_and_the_store_keeps_it(store: Store) -> None:
    item = fresh("1", RICH)
    assert item.sanitizer == SANITIZER_VERSION
    assert item.content == RICH == sanitize_html(RICH)
    # as a Jekyll post is read back (finews import jekyll): sanitised too, so recorded
    imported = normalize_item(
        RawItem(source="em_fast", upstream_id="2", title="导入", content=RICH),
        SPEC,
        fetched_at=FETCHED,
        as_stored=True,
    )
    assert isinstance(imported, Item)
    assert imported.sanitizer == SANITIZER_VERSION
    direct = make_item(content=RICH)
    assert direct.sanitizer is None  # a body that skipped the normaliser: unknown
    store.upsert_items([item, imported, direct])
    assert stored(store, "1").sanitizer == SANITIZER_VERSION
    assert stored(store, "2").sanitizer == SANITIZER_VERSION
    assert stored(store, direct.upstream_id, direct.source).sanitizer is None
    listed = {i.upstream_id: i.sanitizer for i in store.items()}
    assert listed == {"1": SANITIZER_VERSION, "2": SANITIZER_VERSION, direct.upstream_id: None}


def test_a_current_body_is_inserted_as_it_is_and_an_unknown_one_sanitised(
    db_url: str, sanitised: list[str], tmp_path: Path
) -> None:
    current = fresh("1", RICH)
    unknown = make_item(source="em_fast", category=current.category, content=OTHER)
    hostile = make_item(source="em_fast", category=current.category, content=HOSTILE)
    with open_store(db_url) as store:
        store.upsert_items([current, unknown, hostile])
        items = {i.upstream_id: i for i in store.items()}
    with TestClient(create_app(db_url, SETTINGS, poll_interval=0.05)) as client:
        assert RICH in client.get(article_path(items["1"])).text
        assert OTHER in client.get(article_path(items[unknown.upstream_id])).text
        shown = client.get(article_path(items[hostile.upstream_id])).text
        assert "旧库正文" in shown
        assert_inert(shown)
        feed = client.get("/feed.xml").text
        assert "旧库正文" in feed
        assert_inert(feed)
    # the rules that made the current body are today's: never run again; the others are
    assert RICH not in sanitised
    assert {OTHER, HOSTILE} <= set(sanitised)
    sanitised.clear()
    with open_store(db_url) as store:
        build_site(store, tmp_path / "site", SETTINGS, processes=1)
    assert set(sanitised) == {OTHER, HOSTILE}
    written = (tmp_path / "site" / article_path(items["1"]).lstrip("/")).read_text("utf-8")
    assert RICH in written
    for path in (tmp_path / "site").rglob("*"):
        if path.suffix in (".html", ".xml", ".json"):
            assert_inert(path.read_text("utf-8"))


def test_an_rss_description_of_unknown_version_is_sanitised(db_url: str) -> None:
    """RSS readers read <description> as HTML: a digest stored without the normaliser is
    sanitised before it gets there, one of today's version goes as it is."""
    current = dataclasses.replace(fresh("1", RICH), digest=RICH)
    hostile = make_item(source="em_fast", category=current.category, digest=HOSTILE)
    with open_store(db_url) as store:
        store.upsert_items([current, hostile])
    with TestClient(create_app(db_url, SETTINGS, poll_interval=0.05)) as client:
        rss = client.get("/rss.xml").text
    descriptions = [node.text or "" for node in parse_xml(rss).iter("description")]
    assert RICH in descriptions
    (shown,) = [text for text in descriptions if "旧库正文" in text]
    assert_inert(shown)


def test_a_body_replaced_by_an_unversioned_one_loses_the_version(
    store: Store, sanitised: list[str]
) -> None:
    store.upsert_items([fresh("1", RICH)])
    first = stored(store, "1")
    # the same key written directly (a bench, a script) with other text: unknown again
    store.upsert_items([first.replace(id=None, content=HOSTILE, sanitizer=None)])
    item = stored(store, "1")
    assert (item.revision, item.sanitizer) == (2, None)
    assert item.content == HOSTILE  # stored as written: the page must sanitise it
    page = SiteRenderer(SETTINGS).article(item)
    assert sanitised == [HOSTILE]
    assert_inert(page)


def test_the_version_goes_with_the_text_it_made(store: Store) -> None:
    item = fresh("1", RICH)
    store.upsert_items([item.replace(sanitizer=SANITIZER_VERSION - 1)])  # older rules
    seq = store.last_change_seq()
    # a re-poll without the full text keeps the stored text, and so its version
    result = store.upsert_items([fresh("1", "")])
    assert (result.unchanged, stored(store, "1").sanitizer) == (1, SANITIZER_VERSION - 1)
    # the same text of unknown version tells nothing new about it
    store.upsert_items([item.replace(sanitizer=None)])
    assert stored(store, "1").sanitizer == SANITIZER_VERSION - 1
    # the same text made by today's rules: recorded, with no revision and no change
    result = store.upsert_items([item])
    assert (result.new, result.updated, result.unchanged) == (0, 0, 1)
    now = stored(store, "1")
    assert (now.revision, now.sanitizer) == (1, SANITIZER_VERSION)
    assert store.last_change_seq() == seq
    assert store.integrity_problems() == []
    # an edit made by today's rules carries their version into the new revision
    store.upsert_items([fresh("1", "<p>更正后的正文</p>")])
    edited = stored(store, "1")
    assert (edited.revision, edited.sanitizer) == (2, SANITIZER_VERSION)


def test_an_old_database_migrated_to_0015_renders_safely(
    store: Store, sanitised: list[str]
) -> None:
    assert isinstance(store, SqlStore)
    store.upsert_items([fresh("1", RICH), make_item(source="em_fast", content=HOSTILE)])
    # a database from before migration 0015: no version column at all
    with store.transaction() as tx:
        tx.execute("ALTER TABLE items DROP COLUMN sanitizer")
        tx.execute("DELETE FROM schema_version WHERE version = 15")
    assert store.migrate() == [15]
    items = list(store.items())
    assert len(items) == 2
    assert {item.sanitizer for item in items} == {None}  # unknown, every one
    renderer = SiteRenderer(SETTINGS)
    pages = [renderer.article(item) for item in items]
    assert sorted(sanitised) == sorted([RICH, HOSTILE])  # each sanitised at render
    for page in pages:
        assert_inert(page)
    assert any(RICH in page for page in pages)
