"""Same story, shown once, on the pages: "also reported by" on article pages (live app,
static build, JSON API), listings and feeds that show each story once (``site.dedupe``) or
every report, pagination with hidden reports (no gaps, no repeats, also while the catalog
catches up with new reports), and ``copy_db`` leaving the destination's search index and
stories in sync, SQLite to PostgreSQL and back.

The stories are the labelled set's (``tests/data/cluster/labelled.json``), clustered by the
store as the items are written; each test checks that the stories it relies on formed.
"""

from __future__ import annotations

import json
import random
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from finews.derive import derive_backlog, open_store
from finews.derive.copy import copy_db, store_checksum
from finews.derive.search import SearchQuery, index_status, search
from finews.derive.stories import cluster_status
from finews.models import Item
from finews.publish.catalog import Catalog, listing_query
from finews.publish.pages import Pages
from finews.publish.settings import SiteSettings
from finews.publish.site import SiteRenderer
from finews.publish.static_site import build_site
from finews.publish.urls import Listing, article_path, day_of, listings_of
from finews.store import ItemQuery, Store
from finews.store.clusters import also_reported
from site_data import TestClient
from test_cluster import labelled_items
from test_site_hostile import EVIL, inspect

pytestmark = pytest.mark.timeout(240)

LABELLED = json.loads(
    (Path(__file__).parent / "data" / "cluster" / "labelled.json").read_text(encoding="utf-8")
)["items"]

#: each source is its own category, as a fixed-category source is
_TAGS = {"cls": "财联社电报", "em_fast": "东财快讯", "stcn": "证券时报", "sina": "新浪财经"}
_ROW_ID = re.compile(r'<li class="item[^"]*" data-item-id="(\d+)"')


def story_items() -> list[Item]:
    """The labelled set as stored items: a category per source, one in seven important."""
    return [
        item.replace(
            category=item.source,
            tag=_TAGS.get(item.source, item.source),
            url=f"https://news.example.cn/{item.source}/{n}.html",
            importance=1 if n % 7 == 0 else 0,
        )
        for n, item in enumerate(labelled_items())
    ]


def by_upstream(store: Store) -> dict[str, Item]:
    return {item.upstream_id: item for item in store.items()}


def stories(store: Store) -> dict[int, int]:
    """Item id → story id, as stored."""
    rows = store.query("SELECT item_id, cluster_id FROM item_clusters")
    return {int(r[0]): int(r[1]) for r in rows}


def key(item: Item) -> tuple[datetime, int]:
    assert item.id is not None
    return (item.published_at, item.id)


def expected_listing(store: Store, listing: Listing, *, once: bool) -> list[int]:
    """The ids a listing shows, newest first, worked out in Python from the stored stories:
    with ``once``, an item goes when an earlier report of its story is in the listing."""
    story = stories(store)
    members = [item for item in store.items() if listing in listings_of(item)]
    members.sort(key=key)
    shown, seen = [], set()
    for item in members:
        assert item.id is not None
        label = story.get(item.id, item.id)
        if once and label in seen:
            continue
        seen.add(label)
        shown.append(item.id)
    return shown[::-1]


def some_listings(store: Store) -> list[Listing]:
    days = sorted({day_of(item) for item in store.items()})
    return [
        Listing("all"),
        Listing("important"),
        *[Listing("category", source) for source in _TAGS],
        *[Listing("day", day.isoformat()) for day in (days[0], days[len(days) // 2], days[-1])],
    ]


def row_ids(html: str) -> list[int]:
    return [int(found) for found in _ROW_ID.findall(html)]


@pytest.fixture
def filled(store: Store) -> Store:
    store.upsert_items(story_items())
    return store


# --- the store: first reports only ---------------------------------------------------------


def test_first_reports_only_per_listing(filled: Store) -> None:
    """On both engines: the SQL gives what the stories say, for every kind of listing."""
    hidden = sum(1 for item_id, story in stories(filled).items() if item_id != story)
    assert hidden > 60  # the labelled set's stories formed
    for listing in some_listings(filled):
        for once in (False, True):
            found = [
                item.id for item in filled.items(listing_query(listing, first_reports_only=once))
            ]
            assert found == expected_listing(filled, listing, once=once), (listing, once)
    everything = [item.id for item in filled.items(ItemQuery(first_reports_only=True))]
    assert len(everything) == len(LABELLED) - hidden


def test_first_reports_only_within_a_category_keeps_its_own_first_report(filled: Store) -> None:
    items = by_upstream(filled)
    copy = items["moutai-h1/1"]  # 东财 re-telling 财联社's report a minute later
    lead = items["moutai-h1/0"]
    assert copy.id is not None
    assert lead.id is not None
    assert stories(filled)[copy.id] == lead.id
    in_all = {i.id for i in filled.items(ItemQuery(first_reports_only=True))}
    in_own = {i.id for i in filled.items(ItemQuery(category="em_fast", first_reports_only=True))}
    assert lead.id in in_all
    assert copy.id not in in_all
    assert copy.id in in_own  # its category holds no earlier report of the story


def test_range_between_two_keys(filled: Store) -> None:
    oldest = list(filled.items(ItemQuery(oldest_first=True)))
    after, through = key(oldest[9]), key(oldest[29])
    page = list(filled.items(ItemQuery(before=after, through=through, oldest_first=True)))
    assert [i.id for i in page] == [i.id for i in oldest[10:30]]
    newest_first = list(filled.items(ItemQuery(before=through, through=after)))
    assert [i.id for i in newest_first] == [i.id for i in oldest[9:29]][::-1]


# --- article pages -------------------------------------------------------------------------


def pages_for(store: Store, *, dedupe: bool = True, page_size: int = 7) -> Pages:
    settings = SiteSettings(page_size=page_size, home_per_source=3, feed_size=10, dedupe=dedupe)
    catalog = Catalog.scan(store, page_size, first_reports_only=dedupe)
    return Pages(store, catalog, SiteRenderer(settings))


def also_section(html: str) -> str:
    start = html.index('<section class="also"')
    return html[start : html.index("</section>", start)]


def test_article_lists_the_other_reports_earliest_first(filled: Store) -> None:
    pages = pages_for(filled)
    items = by_upstream(filled)
    story = [items[f"moutai-h1/{n}"] for n in range(4)]
    assert [o.upstream_id for o in also_reported(filled, story[2].id or 0)] == [
        "moutai-h1/0",
        "moutai-h1/1",
        "moutai-h1/3",
    ]
    section = also_section(pages.article(story[2]))
    # each other report: time in Beijing, source, our page and the upstream link
    for other in (story[0], story[1], story[3]):
        wall = other.published_at.astimezone(UTC) + timedelta(hours=8)
        assert f">{wall:%Y-%m-%d %H:%M}</time>" in section
        assert f'href="/{article_path(other).lstrip("/")}"' in section
        assert f'href="{other.url}"' in section
    assert "财联社电报" in section
    assert "东财快讯" in section
    assert "新浪财经" in section
    positions = [section.index(f'href="{other.url}"') for other in (story[0], story[1], story[3])]
    assert positions == sorted(positions)  # earliest first
    assert section.index("最早报道") < positions[0]  # the earliest report leads, marked
    assert story[2].title not in section  # not itself
    # the first report's own page says so, and lists the three later ones
    lead = also_section(pages.article(story[0]))
    assert "本条是最早的报道" in lead
    assert "最早报道</strong>" not in lead
    assert lead.count("<li>") == 3
    # a story told once has no section at all
    lone = next(i for i in items.values() if not also_reported(filled, i.id or 0))
    assert 'class="also"' not in pages.article(lone)


def test_every_report_still_has_its_page_and_the_live_app_shows_the_list(
    tmp_path: Path,
) -> None:
    from finews.publish.web import create_app

    url = f"sqlite:///{tmp_path / 'live.db'}"
    with open_store(url) as store:
        store.upsert_items(story_items())
        items = by_upstream(store)
    settings = SiteSettings(page_size=7, home_per_source=3, feed_size=10)
    assert settings.dedupe  # the default
    with TestClient(create_app(url, settings, poll_interval=0.05)) as client:
        copy = items["moutai-h1/1"]
        page = client.get(article_path(copy))
        assert page.status_code == 200
        section = also_section(page.text)
        assert items["moutai-h1/0"].title in section
        assert "最早报道" in section
        assert copy.id is not None
        assert copy.id not in row_ids(client.get("/").text)
        api = client.get(f"/api/items/{copy.id}").json()
        assert [r["id"] for r in api["also_reported"]] == [
            items[f"moutai-h1/{n}"].id for n in (0, 2, 3)
        ]
        first = api["also_reported"][0]
        assert first["page"] == article_path(items["moutai-h1/0"])
        assert first["url"] == items["moutai-h1/0"].url
        assert first["published_at"] == f"{items['moutai-h1/0'].published_at:%Y-%m-%dT%H:%M:%SZ}"
        lone = client.get("/api/items?limit=200").json()["items"][0]
        assert "also_reported" not in lone  # lists stay lean
        document = client.get("/api/openapi.json").json()
        assert "also_reported" in document["components"]["schemas"]["Item"]["properties"]
        assert set(document["components"]["schemas"]["Report"]["properties"]) == set(first)


def test_hostile_reports_are_inert(store: Store) -> None:
    items = {item.upstream_id: item for item in story_items()}
    evil_url = "javascript:alert(9)"
    store.upsert_items(
        [
            items["catl-h1/0"],
            items["catl-h1/1"].replace(
                title=items["catl-h1/1"].title + EVIL, tag=EVIL, media=EVIL, url=evil_url
            ),
            items["catl-h1/2"].replace(tag=EVIL, url=" JavaScript:alert(10)"),
        ]
    )
    stored = by_upstream(store)
    lead = stored["catl-h1/0"]
    assert lead.id is not None
    assert also_reported(store, lead.id)
    html = pages_for(store).article(lead)
    inspector = inspect(html)
    text = "".join(inspector.text)
    assert EVIL in text  # shown as text, exactly
    assert "javascript" not in also_section(html).lower()
    payload = json.dumps(
        [
            {"title": o.title, "tag": o.tag}
            for o in also_reported(store, lead.id)
            if o.upstream_id == "catl-h1/1"
        ]
    )
    assert "<script>" in payload  # the data is hostile indeed


# --- listings and pagination ---------------------------------------------------------------


def test_listings_show_each_story_once_or_every_report(filled: Store) -> None:
    once, every = pages_for(filled, dedupe=True), pages_for(filled, dedupe=False)
    copies = {item_id for item_id, story in stories(filled).items() if item_id != story}
    home_once, home_every = row_ids(once.home()), row_ids(every.home())
    stream_once = home_once[:7]
    assert not copies & set(stream_once)
    assert stream_once == expected_listing(filled, Listing("all"), once=True)[:7]
    assert home_every[:7] == expected_listing(filled, Listing("all"), once=False)[:7]
    assert copies & set(home_every[:7])  # the newest items include later reports
    feed_once = json.loads(once.feed("json") or b"{}")
    feed_every = json.loads(every.feed("json") or b"{}")
    assert len(feed_once["items"]) == len(feed_every["items"]) == 10
    titles_once = [entry["title"] for entry in feed_once["items"]]
    newest = {i: item for item in filled.items() if (i := item.id) is not None}
    assert titles_once == [
        newest[i].title for i in expected_listing(filled, Listing("all"), once=True)[:10]
    ]


def walk(pages: Pages, listing: Listing) -> tuple[list[list[int]], list[int]]:
    """Every numbered page's row ids (page 1 first) and the first page's."""
    state = pages.catalog.get(listing)
    assert state is not None
    numbered = []
    for page in range(1, state.pages + 1):
        html = pages.listing(listing, page)
        assert html is not None
        numbered.append(row_ids(html))
    first = pages.listing(listing)
    assert first is not None
    return numbered, row_ids(first)


@pytest.mark.parametrize("counted_once", [True, False], ids=["catalog-once", "catalog-every"])
def test_pages_have_no_gaps_or_repeats(filled: Store, counted_once: bool) -> None:
    """Each story once; the catalog counted the same way (full pages) or counting every
    report (as a caller that does not tell it: shorter pages, still complete)."""
    settings = SiteSettings(page_size=7, home_per_source=3, feed_size=10, dedupe=True)
    catalog = Catalog.scan(filled, 7, first_reports_only=counted_once)
    pages = Pages(filled, catalog, SiteRenderer(settings))
    for listing in some_listings(filled):
        expected = expected_listing(filled, listing, once=True)
        numbered, first = walk(pages, listing)
        flat = [item_id for page in numbered for item_id in page]
        assert len(flat) == len(set(flat)), f"{listing}: an item on two pages"
        assert first == expected[: len(first)]
        assert set(flat) | set(first) == set(expected), f"{listing}: an item on no page"
        # oldest page first; each page newest first
        assert flat == [i for page in numbered for i in sorted(page, key=expected.index)]
        state = catalog.get(listing)
        assert state is not None
        if counted_once:
            assert all(len(page) == 7 for page in numbered)
            assert state.count(7) == len(expected)
            assert len(first) == min(7, len(expected))


def catalog_state(catalog: Catalog) -> dict[str, Any]:
    data = catalog.to_json()
    data.pop("seq")
    return data


@pytest.mark.parametrize("seed", [1, 2])
def test_catalog_follows_new_reports_that_hide_or_merge(store: Store, seed: int) -> None:
    """Items arrive out of order: an earlier report arriving late hides the one that led,
    two stories merge. Applying the change log gives what a fresh scan counts, and every
    article page whose list changed is among the affected items."""
    items = story_items()
    random.Random(seed).shuffle(items)
    catalog = Catalog.scan(store, 5, first_reports_only=True)
    demoted = 0
    for start in range(0, len(items), 23):
        before = stories(store)
        seq = catalog.seq
        store.upsert_items(items[start : start + 23])
        affected = catalog.apply(store, store.changes_since(seq, 10_000))
        assert catalog_state(catalog) == catalog_state(
            Catalog.scan(store, 5, first_reports_only=True)
        )
        after = stories(store)
        touched = {item.id for item in affected.items}
        groups: dict[int, set[int]] = {}
        for item_id, story in after.items():
            groups.setdefault(story, set()).add(item_id)
        for item_id, story in after.items():
            # a report whose story gained or lost members must be re-rendered
            was = {i for i, s in before.items() if s == before.get(item_id)}
            if item_id in before and was != groups[story]:
                assert item_id in touched, item_id
            demoted += before.get(item_id) == item_id != story
    assert demoted > 0  # some reports that led were hidden by an earlier one arriving late


def test_catalog_json_keeps_the_mode(filled: Store) -> None:
    catalog = Catalog.scan(filled, 7, first_reports_only=True)
    again = Catalog.from_json(json.loads(json.dumps(catalog.to_json())))
    assert again.first_reports_only
    assert again.to_json() == catalog.to_json()
    with pytest.raises(ValueError, match="first_reports_only"):
        Catalog.from_json({**catalog.to_json(), "first_reports_only": "yes"})


# --- the static build ----------------------------------------------------------------------


def site_files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.startswith(".finews")
    }


def test_static_build_shows_the_same(tmp_path: Path) -> None:
    items = story_items()
    late = [i for i in items if i.upstream_id in ("moutai-h1/0", "catl-h1/0")]
    early = [i for i in items if i not in late]
    settings = SiteSettings(base_url="/", page_size=7, home_per_source=3, feed_size=10)
    with open_store(f"sqlite:///{tmp_path / 'static.db'}") as store:
        store.upsert_items(early)
        build_site(store, tmp_path / "site", settings)
        # the first reports arrive late: the reports that led until now become copies
        store.upsert_items(late)
        report = build_site(store, tmp_path / "site", settings)
        assert not report.full
        stored = by_upstream(store)
        build_site(store, tmp_path / "full", settings)
        moutai = stored["moutai-h1/1"]
        assert moutai.id is not None
        expected_all = expected_listing(store, Listing("all"), once=True)
        live_section = also_section(pages_for(store, page_size=7).article(moutai))
    built = site_files(tmp_path / "site")
    assert built == site_files(tmp_path / "full")  # incremental = full
    page = built[article_path(moutai).lstrip("/")].decode()
    section = also_section(page)
    assert stored["moutai-h1/0"].title in section
    assert "最早报道" in section
    assert live_section == section  # the same as the live app's
    index = row_ids(built["all/index.html"].decode())
    assert index == expected_all[:7]
    numbered = [
        row_ids(data.decode()) for name, data in built.items() if name.startswith("all/page/")
    ]
    flat = [i for rows in numbered for i in rows]
    assert len(flat) == len(set(flat))
    assert set(flat) | set(index) == set(expected_all)


# --- copy_db -------------------------------------------------------------------------------


def story_map(store: Store) -> dict[str, str]:
    """upstream id → its story's first report's upstream id."""
    ids = {item.id: item.upstream_id for item in store.items()}
    return {ids[item_id]: ids[story] for item_id, story in stories(store).items()}


def hit_ids(store: Store, text: str) -> set[str]:
    found = search(store, SearchQuery(text=text, limit=100))
    return {hit.item.upstream_id for hit in found.hits}


def assert_in_sync(store: Store, original: dict[str, str], searched: set[str]) -> None:
    assert index_status(store).ok
    status = cluster_status(store)
    assert (status.clustered, status.stale, status.version_ok) == (status.items, 0, True)
    assert story_map(store) == original
    assert hit_ids(store, "宁德时代") == searched
    items = by_upstream(store)
    assert [o.upstream_id for o in also_reported(store, items["moutai-h1/3"].id or 0)] == [
        "moutai-h1/0",
        "moutai-h1/1",
        "moutai-h1/2",
    ]


@pytest.mark.postgres
def test_copy_db_keeps_search_and_stories_in_sync(sqlite_url: str, pg_url: str) -> None:
    back_url = sqlite_url.replace("finews.db", "back.db")
    with open_store(sqlite_url) as lite, open_store(pg_url) as pg, open_store(back_url) as back:
        lite.upsert_items(story_items())
        original, searched = story_map(lite), hit_ids(lite, "宁德时代")
        assert searched
        assert len(set(original.values())) < len(original)
        stages: list[str] = []
        there = copy_db(lite, pg, derived=True, stage=stages.append, batch=100)
        assert there.ok, there.summary()
        assert stages == ["stories", "search index"]
        assert there.derived is not None
        assert there.derived.stories_copied == len(LABELLED)
        assert there.derived.indexed == len(LABELLED)
        assert "search index" in there.summary()
        assert "complete" in there.summary()
        assert_in_sync(pg, original, searched)
        # nothing is left for a daemon's deriving thread to redo
        assert derive_backlog(pg) == 0
        home = copy_db(pg, back, derived=True)
        assert home.ok, home.summary()
        assert_in_sync(back, original, searched)
        assert store_checksum(back) == store_checksum(lite)
        # running it again changes nothing and finds everything complete
        again = copy_db(pg, back, derived=True)
        assert again.ok
        assert again.resumed
        assert again.derived is not None
        assert again.derived.indexed == 0


def test_copy_db_clusters_itself_when_the_source_stories_are_stale(sqlite_url: str) -> None:
    with open_store(sqlite_url) as src, open_store(sqlite_url + "-copy") as dst:
        src.upsert_items(story_items())
        original = story_map(src)
        src.query("DELETE FROM item_clusters WHERE item_id % 5 = 0")
        assert cluster_status(src).clustered < len(LABELLED)
        report = copy_db(src, dst, derived=True)
        assert report.ok, report.summary()
        assert report.derived is not None
        assert report.derived.stories_copied == 0
        assert report.derived.clustered == len(LABELLED)
        assert story_map(dst) == original  # the same stories, made from the items
        assert "made from the items" in report.summary()


def test_copy_db_without_derived_leaves_them_to_reindex(sqlite_url: str) -> None:
    with open_store(sqlite_url) as src, open_store(sqlite_url + "-copy") as dst:
        src.upsert_items(story_items()[:40])
        report = copy_db(src, dst)
        assert report.ok
        assert report.derived is None
        assert cluster_status(dst).clustered == 0
        assert not index_status(dst).ok


def test_copy_db_command_reports_the_derived_data(sqlite_url: str, tmp_path: Path) -> None:
    from finews.cli import cli

    target = f"sqlite:///{tmp_path / 'target.db'}"
    with open_store(sqlite_url) as src:
        src.upsert_items(story_items())
        searched = hit_ids(src, "贵州茅台")
    result = CliRunner().invoke(cli, ["copy-db", sqlite_url, target], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "verified" in result.output
    assert f"stories: {len(LABELLED)} copied" in result.output
    assert f"search index: {len(LABELLED)} items indexed" in result.output
    with open_store(target) as dst:
        assert hit_ids(dst, "贵州茅台") == searched
        assert index_status(dst).ok
