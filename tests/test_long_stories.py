"""A story told thousands of times: every article page lists the ``NEAREST`` reports in
time and links the rest ("另有 N 条报道") to the story's own, paged page, in the live app and
the static build alike; and neither a page nor the catalog's start-up reads the whole story
per item. Work is counted as rows the store hands back and, on SQLite, as the virtual
machine steps its statements take (a progress handler), never as time."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from finews.derive import open_store
from finews.models import Item
from finews.publish.build_pool import can_fork
from finews.publish.catalog import Catalog, listing_items, listing_query
from finews.publish.pages import NEAREST, Pages
from finews.publish.settings import SiteSettings
from finews.publish.site import SiteRenderer
from finews.publish.static_site import build_site
from finews.publish.urls import Listing, article_path, file_name, story_path
from finews.store import Store
from finews.store.sql import SqlStore
from helpers import as_static
from site_data import TestClient

pytestmark = pytest.mark.timeout(240)

MEMBERS = 2000
_START = datetime(2024, 3, 1, tzinfo=UTC)
_ALSO = re.compile(r'<section class="also".*?</section>', re.S)


def story(count: int, *, prefix: str = "u", start: datetime = _START) -> list[Item]:
    """``count`` reports of one story (one title and text), a minute apart, four sources."""
    return [
        Item(
            source=f"s{n % 4}",
            upstream_id=f"{prefix}{n:05d}",
            title="央行宣布下调存款准备金率0.5个百分点",
            content="<p>中国人民银行决定于近期下调金融机构存款准备金率0.5个百分点，"
            "释放长期资金约1万亿元。</p>",
            published_at=start + timedelta(minutes=n),
            fetched_at=start,
            category=f"c{n % 4}",
            media="媒体",
        )
        for n in range(count)
    ]


def story_ids(store: Store) -> dict[int, int]:
    rows = store.query("SELECT cluster_id, COUNT(*) FROM item_clusters GROUP BY cluster_id")
    return {int(r[0]): int(r[1]) for r in rows}


@contextmanager
def rows_read(store: Store) -> Iterator[list[int]]:
    """Count the rows the store's reads hand back (every story query goes through
    ``_query``); the list holds one number, updated as it goes."""
    counted = [0]
    original = SqlStore.query

    def counting(self: SqlStore, statement: str, params: Any = ()) -> list[Any]:
        rows = original(self, statement, params)
        if self is store:
            counted[0] += len(rows)
        return rows

    SqlStore.query = counting  # type: ignore[method-assign]
    try:
        yield counted
    finally:
        SqlStore.query = original  # type: ignore[method-assign]


@contextmanager
def vm_steps(store: Store) -> Iterator[list[int]]:
    """Count SQLite virtual machine steps (in thousands) of every statement meanwhile."""
    conn = store._conn._conn  # type: ignore[attr-defined]  # under the autocommit wrapper
    assert isinstance(conn, sqlite3.Connection)
    counted = [0]

    def tick() -> int:
        counted[0] += 1
        return 0

    conn.set_progress_handler(tick, 1000)
    try:
        yield counted
    finally:
        conn.set_progress_handler(None, 0)


@pytest.fixture
def long_story(store: Store) -> Store:
    store.upsert_items(story(MEMBERS))
    assert sorted(story_ids(store).values()) == [MEMBERS], "the reports formed one story"
    return store


def others_listed(html: str) -> list[str]:
    section = _ALSO.search(html)
    assert section is not None
    return re.findall(r'<li><time datetime="([^"]+)"', section.group(0))


def test_an_article_lists_its_nearest_reports_and_links_the_rest(long_story: Store) -> None:
    settings = SiteSettings(page_size=50)
    pages = Pages(
        long_story, Catalog.scan(long_story, 50, first_reports_only=True), SiteRenderer(settings)
    )
    items = sorted(long_story.items(), key=lambda i: i.published_at)
    middle = items[1000]
    html = pages.article(middle)
    listed = others_listed(html)
    assert len(listed) == NEAREST
    # the twenty nearest in time: ten before and ten after, earliest first
    expected = [items[n] for n in [*range(990, 1000), *range(1001, 1011)]]
    times = [datetime.fromisoformat(t) for t in listed]
    assert times == [other.published_at for other in expected]
    more = MEMBERS - 1 - NEAREST
    assert more == 1979
    leader = items[0].id
    assert f'<a href="{story_path(leader or 0)}">另有 1,979 条报道，查看全部</a>' in html
    assert "共 1,999 条" in html
    # the earliest report is no neighbour of the middle one: nothing is marked "earliest"
    assert "最早报道" not in _ALSO.search(html).group(0)  # type: ignore[union-attr]
    first = pages.article(items[0])
    assert "本条是最早的报道" in first
    assert len(others_listed(first)) == NEAREST
    assert [datetime.fromisoformat(t) for t in others_listed(first)] == [
        i.published_at for i in items[1:21]
    ]


def test_the_api_lists_the_nearest_reports_and_counts_the_rest(long_story: Store) -> None:
    from finews.publish.web import create_app

    items = sorted(long_story.items(), key=lambda i: i.published_at)
    middle = items[1000]
    url = long_story.url  # type: ignore[attr-defined]
    with TestClient(create_app(url, SiteSettings(page_size=50), poll_interval=0.05)) as client:
        body = client.get(f"/api/items/{middle.id}").json()
        lone = client.get(f"/api/items/{items[0].id}").json()
    # what the article page lists: the twenty nearest in time, then a count and the story page
    expected = [items[n].id for n in [*range(990, 1000), *range(1001, 1011)]]
    assert [r["id"] for r in body["also_reported"]] == expected
    assert body["also_reported_more"] == MEMBERS - 1 - NEAREST
    assert body["story_page"] == story_path(items[0].id or 0)
    assert len(lone["also_reported"]) == NEAREST
    assert lone["also_reported_more"] == MEMBERS - 1 - NEAREST


def test_a_page_reads_what_it_shows(long_story: Store) -> None:
    settings = SiteSettings(page_size=50)
    catalog = Catalog.scan(long_story, 50, first_reports_only=True)
    pages = Pages(long_story, catalog, SiteRenderer(settings))
    items = sorted(long_story.items(), key=lambda i: i.published_at)
    with rows_read(long_story) as first:
        pages.article(items[500])
    # the story's keys once (two columns per report), its size, the twenty shown
    assert first[0] <= MEMBERS + 2 * NEAREST + 600
    for item in items[501:510]:
        with rows_read(long_story) as each:
            html = pages.article(item)
        assert len(others_listed(html)) == NEAREST
        assert each[0] <= NEAREST, "a page of a story read already reads only what it shows"


def test_the_story_page_lists_every_report_in_pages(long_story: Store) -> None:
    settings = SiteSettings(page_size=50)
    pages = Pages(
        long_story, Catalog.scan(long_story, 50, first_reports_only=True), SiteRenderer(settings)
    )
    items = sorted(long_story.items(), key=lambda i: i.published_at)
    leader = items[0].id or 0
    assert pages.story_pages(leader) == MEMBERS // 50
    seen = []
    for page in range(1, MEMBERS // 50 + 1):
        with rows_read(long_story) as read:
            html = pages.story(leader, page)
        assert html is not None
        assert read[0] <= 50 + 2 * NEAREST, "one page of the story reads one page of reports"
        seen += [int(n) for n in re.findall(r'data-item-id="(\d+)"', html)]
    assert seen == [item.id for item in items]
    assert pages.story(leader, MEMBERS // 50 + 1) is None
    assert pages.story(items[1].id or 0) is None  # not a story's id


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_catalog_start_up_does_not_walk_the_story_per_item(store: Store) -> None:
    """The catalog's scan counts each story once, not once per chunk of items (before,
    one self-join per chunk read every member of the story for every item asked about)."""
    store.upsert_items(story(MEMBERS))
    with vm_steps(store) as small:
        Catalog.scan(store, 50, first_reports_only=True)
    store.upsert_items(story(3 * MEMBERS, prefix="v", start=_START + timedelta(days=30)))
    assert sorted(story_ids(store).values()) == [MEMBERS, 3 * MEMBERS]
    with vm_steps(store) as large, rows_read(store) as rows:
        Catalog.scan(store, 50, first_reports_only=True)
    # four times the items, two stories: about four times the work (linear), where a
    # quadratic walk would take twelve times or more
    assert large[0] <= 6 * small[0], (small[0], large[0])
    # each item once, its story once, and each story's size once per chunk at most
    assert rows[0] <= 2 * 4 * MEMBERS + 2 * (4 * MEMBERS // 500 + 1)


def test_live_and_static_serve_the_same_long_story(tmp_path: Path) -> None:
    from finews.publish.web import create_app

    url = f"sqlite:///{tmp_path / 'long.db'}"
    with open_store(url) as store:
        store.upsert_items(story(300))
        items = sorted(store.items(), key=lambda i: i.published_at)
    settings = SiteSettings(page_size=40)
    out = tmp_path / "site"
    with open_store(url) as store:
        build_site(store, out, settings, processes=1)
    leader = items[0].id or 0
    story_files = sorted(
        p.relative_to(out).as_posix() for p in (out / "story").rglob("*") if p.is_file()
    )
    # 300 reports, 40 a page: 8 pages, and no page for any shorter story
    assert story_files == sorted(file_name(story_path(leader, page)) for page in range(1, 9))
    with TestClient(create_app(url, settings, poll_interval=0.05)) as client:
        for page in range(1, 9):
            path = story_path(leader, page)
            response = client.get(path)
            assert response.status_code == 200, path
            assert as_static(response.content) == (out / file_name(path)).read_bytes()
        assert client.get(story_path(leader, 9)).status_code == 404
        article = client.get(article_path(items[150]))
        assert article.status_code == 200
        assert (
            as_static(article.content) == (out / file_name(article_path(items[150]))).read_bytes()
        )
        assert f'href="{story_path(leader)}"' in article.text


@pytest.mark.parametrize("inline", [True, False], ids=["derived-inline", "derived-later"])
def test_a_long_story_re_led_by_an_edit_moves_its_own_page(tmp_path: Path, inline: bool) -> None:
    """The earliest report of a long story leaves it: the story's id (its earliest
    report's) changes, the old story pages go and the new ones come, and the site is what
    a full build writes."""
    from finews.derive import derive_all
    from test_static_build import STORY_SETTINGS, _same_as_a_full_build

    site = tmp_path / "site"
    with open_store(f"sqlite:///{tmp_path / 'lead.db'}") as store:
        store.upsert_items(story(30))
        items = sorted(store.items(), key=lambda i: i.published_at)
        lead, second = items[0], items[1]
        build_site(store, site, STORY_SETTINGS, processes=1)
        old_page = site / file_name(story_path(lead.id or 0))
        assert old_page.is_file()
        edited = lead.replace(id=None, title="某地举办农产品展销会", content="<p>展销会。</p>")
        store.upsert_items([edited], derive=inline)
        if not inline:
            build_site(store, site, STORY_SETTINGS, processes=1)
            derive_all(store)
        report = build_site(store, site, STORY_SETTINGS, processes=1)
        assert not report.full
        assert not old_page.exists()
        assert file_name(story_path(lead.id or 0)) in report.removed
        assert (site / file_name(story_path(second.id or 0))).is_file()
        _same_as_a_full_build(store, site, tmp_path)


@pytest.mark.skipif(not can_fork(), reason="needs the fork start method, one thread")
def test_parallel_and_serial_builds_write_the_same_story_pages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from finews.publish import static_parallel
    from test_static_build import STORY_SETTINGS, tree

    monkeypatch.setattr(static_parallel, "PARALLEL_MIN", 1)
    monkeypatch.setattr(static_parallel, "SLICE_MIN", 1)
    url = f"sqlite:///{tmp_path / 'par.db'}"
    with open_store(url) as store:
        store.upsert_items(story(60))
        one = build_site(store, tmp_path / "one", STORY_SETTINGS, processes=1)
        two = build_site(store, tmp_path / "two", STORY_SETTINGS, processes=2)
    assert (one.processes, two.processes) == (1, 2)
    assert any(name.startswith("story/") for name in one.written)
    assert tree(tmp_path / "one") == tree(tmp_path / "two")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_day_deep_into_a_long_story_reads_that_day_once(store: Store) -> None:
    """A day's listing shows each story once: with thousands of earlier reports of the
    story on other days, its page costs about the day's items, not day × story."""
    store.upsert_items(story(MEMBERS))
    listing = Listing("day", "2024-03-02")  # the second Beijing day: reports 960 on
    day = list(store.items(listing_query(listing, without_content=True)))
    assert len(day) > 1000
    with vm_steps(store) as steps, rows_read(store) as rows:
        shown = listing_items(
            store, listing, first_reports_only=True, limit=20, without_content=True
        )
    assert [item.id for item in shown] == [min(day, key=lambda i: i.published_at).id]
    assert rows[0] <= 2 * len(day) + 10  # the day's rows and their stories
    # at most a hundred virtual machine steps per item of the day (the store's own test of
    # each row walked the story's reports: over ten thousand per item here)
    assert steps[0] * 1000 <= 100 * len(day), steps[0]
