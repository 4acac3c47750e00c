"""Poison items: one bad item never costs another.

An upstream sends an item dated in the year 9999 or 1, or with NUL characters and lone
surrogates in its id, title, body, url or author. Through the real commands (``finews
fetch`` against the loopback upstream, ``finews build``, the live app, the daemon), on
SQLite and PostgreSQL: every good item is stored, the bad values are made storable or the
item is dropped with a reason naming source and id, and no stage stops on it. An old
database that already holds such items (stored before normalising caught them) is derived,
built and served all the same.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finews.cli import cli
from finews.config import load_config
from finews.daemon.runner import run_daemon
from finews.demo.replay import ReplayServer, Reply, Route
from finews.derive import derive_all, derive_backlog, open_store
from finews.derive.search import SearchQuery, search
from finews.fetch.client import HttpClient, HttpSettings
from finews.models import Item, RawItem, SourceSpec
from finews.normalize import normalize_item
from finews.publish.settings import SiteSettings
from finews.publish.web import create_app
from finews.refresh import SourceReport, refresh_source
from finews.store import ItemQuery
from site_data import TestClient
from upstreams import FastNewsFeed

pytestmark = pytest.mark.timeout(120)

FEED_PATH = "/poison.json"
FAR_FUTURE = "9999-12-31T12:00:00Z"
YEAR_ONE = "0001-01-01T00:00:00Z"


def poison_feed() -> dict[str, Any]:
    """A JSON Feed of ten items, four of them poisoned: dates at the ends of the range, a
    NUL and a lone surrogate in the title, id, url and author, a NUL in the body."""
    items: list[dict[str, Any]] = [
        {
            "id": f"good-{n}",
            "title": f"正常新闻第{n}条",
            "content_text": f"正文第{n}条。",
            "url": f"https://news.example.cn/{n}.html",
            "date_published": f"2026-09-01T0{n}:00:00+08:00",
        }
        for n in range(6)
    ]
    items += [
        {
            "id": "far",
            "title": "远未来",
            "content_text": "日期是9999年。",
            "date_published": FAR_FUTURE,
        },
        {
            "id": "ancient",
            "title": "远古",
            "content_text": "日期是公元1年。",
            "date_published": YEAR_ONE,
        },
        {
            "id": "nul\u0000id\ud800",
            "title": "坏\u0000标题\ud800",
            "content_text": "正\u0000文",
            "url": "https://news.example.cn/\u0000x.html",
            "authors": [{"name": "作\u0000者\udfff"}],
        },
        {"id": "surrogate", "title": "\udc00孤立代理项", "summary": "摘\ud800要"},
    ]
    return {"version": "https://jsonfeed.org/version/1.1", "title": "毒", "items": items}


def feed_reply() -> Reply:
    # ensure_ascii: lone surrogates travel as \ud800 escapes, as a broken upstream sends them
    body = json.dumps(poison_feed(), ensure_ascii=True).encode("ascii")
    return Reply(200, body, {"Content-Type": "application/feed+json"})


def write_config(tmp_path: Path, db_url: str, base: str) -> Path:
    path = tmp_path / "finews.toml"
    path.write_text(
        f'database_url = "{db_url}"\n'
        "[http]\ntimeout = 5\nretries = 0\n"
        f'[sources.poison]\nadapter = "feed"\nurl = "{base}{FEED_PATH}"\nallow_private = true\n'
        f'[sources.em_fast]\nurl = "{base}/comm/web/getFastNewsList"\nfallback_urls = []\n'
        "fulltext = false\n",
        encoding="utf-8",
    )
    return path


def fetch(config: Path) -> Any:
    result = CliRunner().invoke(cli, ["--config", str(config), "fetch"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def test_fetch_keeps_every_item_of_a_page_with_poison_items(tmp_path: Path, db_url: str) -> None:
    fast = FastNewsFeed()
    fast.publish(5)
    before = datetime.now(UTC).replace(microsecond=0)
    with ReplayServer([Route(FEED_PATH, feed_reply()), fast.route()]) as upstream:
        config = write_config(tmp_path, db_url, upstream.url)
        first = fetch(config)
        again = fetch(config)  # every poll, not only the first, stores the page
    assert first.exit_code == 0, first.output
    assert again.exit_code == 0, again.output
    assert "ERROR" not in first.output + again.output
    after = datetime.now(UTC)
    with open_store(db_url) as store:
        assert store.count_items("em_fast") == 5  # the other source is not abandoned
        stored = {i.upstream_id: i for i in store.items(ItemQuery(source="poison"))}
        assert set(stored) == {f"good-{n}" for n in range(6)} | {
            "far",
            "ancient",
            "nulid",
            "surrogate",
        }
        bad = stored["nulid"]
        assert (bad.title, bad.content, bad.author) == ("坏标题", "正文", "作者")
        assert bad.url == "https://news.example.cn/x.html"
        assert (stored["surrogate"].title, stored["surrogate"].digest) == ("孤立代理项", "摘要")
        for key in ("far", "ancient"):
            # the fetch time stands in for a date no article has
            assert before <= stored[key].published_at <= after

        # the upstream's values are kept, with why they were replaced
        faults = store.query(
            "SELECT upstream_id, stage, detail FROM item_faults ORDER BY upstream_id"
        )
        assert [(row[0], row[1]) for row in faults] == [
            ("ancient", "normalize"),
            ("far", "normalize"),
        ]
        assert repr(FAR_FUTURE) in faults[1][2]
        assert derive_backlog(store) == 0
        hits = search(store, SearchQuery(text="远未来"))
        assert [hit.item.upstream_id for hit in hits.hits] == ["far"]
        assert store.get_state("poison").consecutive_failures == 0


def test_a_repoll_an_hour_later_keeps_the_stand_in_date(tmp_path: Path, db_url: str) -> None:
    """The fetch time stands in for a missing or impossible date once: later polls neither
    move such an item nor make a revision of it each time."""
    first, later = datetime(2026, 9, 1, 4, 0, tzinfo=UTC), datetime(2026, 9, 1, 5, 0, tzinfo=UTC)
    with ReplayServer([Route(FEED_PATH, feed_reply())]) as upstream:
        spec = feed_source(tmp_path, upstream.url)

        async def poll(now: datetime) -> SourceReport:
            async with HttpClient(HttpSettings(timeout=5.0, retries=0)) as client:
                with open_store(db_url) as store:
                    return await refresh_source(spec, store, client, now=lambda: now)

        reports = [asyncio.run(poll(first)), asyncio.run(poll(later))]
    assert [(r.new, r.updated, r.unchanged) for r in reports] == [(10, 0, 0), (0, 0, 10)]
    with open_store(db_url) as store:
        stored = {i.upstream_id: i for i in store.items(ItemQuery(source="poison"))}
    assert {item.revision for item in stored.values()} == {1}
    for key in ("far", "ancient", "nulid", "surrogate"):
        assert stored[key].published_at == first


# --- an old database that already holds poison ---------------------------------------------

NOW = datetime(2026, 9, 1, 4, 0, tzinfo=UTC)
EXTREMES = {
    "far": datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
    "ancient": datetime(1, 1, 1, tzinfo=UTC),
}


def old_item(upstream_id: str, published: datetime) -> Item:
    return Item(
        source="old",
        upstream_id=upstream_id,
        title=f"旧库条目{upstream_id}",
        published_at=published,
        fetched_at=NOW,
        digest=f"旧库摘要{upstream_id}",
        content=f"旧库正文{upstream_id}。",
        category="oldcat",
        tag="旧库新闻",
    )


@pytest.fixture
def old_db(db_url: str) -> str:
    """A database holding two items at the ends of the datetime range, stored (without
    deriving, as the daemon does) before normalising replaced such dates, and good ones."""
    with open_store(db_url) as store:
        items = [old_item(key, when) for key, when in EXTREMES.items()]
        items += [old_item(f"good-{n}", NOW.replace(minute=n)) for n in range(3)]
        result = store.upsert_items(items, derive=False)
        assert result.new == 5
    return db_url


def test_derive_goes_through_items_at_the_ends_of_time(old_db: str) -> None:
    with open_store(old_db) as store:
        assert derive_all(store) == 5
        assert derive_backlog(store) == 0
        for key in ("far", "ancient", "good-1"):
            hits = search(store, SearchQuery(text=f"旧库条目{key}"))
            assert key in [hit.item.upstream_id for hit in hits.hits]


def test_build_and_pages_take_items_at_the_ends_of_time(tmp_path: Path, old_db: str) -> None:
    with open_store(old_db) as store:
        derive_all(store)
    config = tmp_path / "finews.toml"
    config.write_text(f'database_url = "{old_db}"\n', encoding="utf-8")
    out = tmp_path / "site"
    built = CliRunner().invoke(cli, ["--config", str(config), "build", str(out)])
    assert built.exit_code == 0, built.output
    assert (out / "day" / "9999-12-31" / "index.html").is_file()
    assert (out / "day" / "0001-01-01" / "index.html").is_file()
    assert (out / "oldcat" / "9999" / "12" / "31" / "far.html").is_file()
    jekyll = tmp_path / "jekyll"
    exported = CliRunner().invoke(cli, ["--config", str(config), "export", "jekyll", str(jekyll)])
    assert exported.exit_code == 0, exported.output
    # 9999-12-31 23:59:59 UTC has no Beijing date: that post alone is skipped
    names = sorted(path.name for path in jekyll.rglob("*.md"))
    assert len(names) == 4
    assert names[0].startswith("0001-01-01-")
    assert not [name for name in names if name.startswith("9999")]
    app = create_app(old_db, SiteSettings())
    with TestClient(app, raise_server_exceptions=False) as client:
        for path in [
            "/",
            "/all/",
            "/day/",
            "/day/9999-12-31/",
            "/day/0001-01-01/",
            "/oldcat/9999/12/31/far.html",
            "/oldcat/0001/01/01/ancient.html",
            "/rss.xml",
            "/feed.xml",
            "/feed.json",
            "/feeds/oldcat/atom.xml",
            "/api/items",
            "/search?q=旧库",
            # bounds at the ends of the calendar mean from the start, or to the end
            "/api/items?since=0001-01-01",
            "/api/items?until=9999-12-31",
            "/api/items?until=9999-12-31T23:59:59-12:00",
            "/api/search?q=旧库&since=0001-01-01T00:00:00%2B14:00",
            "/search?q=旧库&until=9999-12-31",
        ]:
            assert client.get(path).status_code == 200, path
        # the API's cursor walks past both ends, every item once
        seen: list[str] = []
        cursor: dict[str, str] = {}
        while True:
            page = client.get("/api/items", params={"limit": 2, **cursor}).json()
            seen += [item["published_at"] for item in page["items"]]
            if not page.get("next_cursor"):
                break
            cursor = {"cursor": page["next_cursor"]}
        assert (len(seen), seen[0], seen[-1]) == (5, "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z")
        # a day no calendar has, or whose bounds do not exist, is not found: never a 500
        for path in [
            "/day/0000-01-01/",
            "/day/9999-12-32/",
            "/day/2026-02-30/",
            "/day/9999-12-30/",
            "/day/0001-01-02/",
            "/day/9999-12-31/page/2.html",
        ]:
            assert client.get(path).status_code == 404, path


# --- the daemon ------------------------------------------------------------------------------


def feed_source(tmp_path: Path, base: str) -> SourceSpec:
    path = tmp_path / "sources.toml"
    path.write_text("", encoding="utf-8")
    table = {"adapter": "feed", "url": base + FEED_PATH, "allow_private": True}
    spec = load_config(path, env={}, source_overrides={"poison": table}).source("poison")
    # polled every 0.2 s (the daemon tests' pace; a configured interval is at least 1 s)
    return dataclasses.replace(spec, settings={**spec.settings, "interval": 0.2})


async def until_true(check: Any, what: str) -> None:
    for _ in range(600):
        if check():
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"gave up waiting for {what}")


def test_the_daemon_stores_derives_and_polls_on_past_poison(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The daemon keeps polling a source with poison items (no backoff), and its deriving
    thread skips an item whose clustering fails (a fault made for the test: normalising
    leaves no real item that fails) instead of retrying it forever: everything after it
    becomes searchable, and the failure is recorded."""
    import finews.derive.stories as clusters

    real = clusters.fingerprint

    def failing(item_id: int, title: str, *args: Any) -> Any:
        if title == "远未来":
            raise ValueError("no story for this item")
        return real(item_id, title, *args)

    monkeypatch.setattr(clusters, "fingerprint", failing)
    path = tmp_path / "finews.toml"
    path.write_text("", encoding="utf-8")
    config = load_config(
        path,
        env={},
        overrides={"http.timeout": "2", "http.retries": "0", "daemon.jitter": "0.1"},
    )
    reports: list[SourceReport] = []

    async def scenario(base: str) -> None:
        stop = asyncio.Event()
        spec = feed_source(tmp_path, base)
        task = asyncio.create_task(
            run_daemon(config, db_url, stop_event=stop, specs=[spec], on_poll=reports.append)
        )
        try:
            with open_store(db_url) as store:
                await until_true(lambda: len(reports) >= 3, "three polls")
                await until_true(lambda: derive_backlog(store) == 0, "the derive backlog")
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=10)

    with ReplayServer([Route(FEED_PATH, feed_reply())]) as upstream:
        asyncio.run(scenario(upstream.url))
    assert all(report.ok for report in reports), [r.error for r in reports]
    with open_store(db_url) as store:
        assert store.count_items("poison") == 10
        assert store.get_state("poison").consecutive_failures == 0
        faults = store.query("SELECT upstream_id, detail FROM item_faults WHERE stage = 'stories'")
        assert faults == [("far", "ValueError: no story for this item")]
        # indexed all the same, and so is everything stored after it
        for title in ("远未来", "孤立代理项", "正常新闻第5条"):
            assert search(store, SearchQuery(text=title)).hits, title
    # and shown where an operator looks
    with TestClient(create_app(db_url, SiteSettings())) as client:
        status = client.get("/api/status").json()
        assert status["item_faults"] == {"normalize": 2, "stories": 1}
        assert status["derive_backlog"] == 0
        assert '<span class="stat">1</span> 条未能编入检索或合并报道' in client.get("/status").text
        assert 'finews_item_faults{stage="stories"} 1.0' in client.get("/metrics").text


# --- finews import jekyll --------------------------------------------------------------------


def post(title: str, date: str, body: str) -> bytes:
    text = f'---\nlayout: post\ntitle: "{title}"\ndate: {date}\ncategories: cat\ntags: 标签\n---\n'
    return (text + body).encode("utf-8")


def test_import_keeps_every_post_of_an_archive_with_poison_posts(
    tmp_path: Path, db_url: str
) -> None:
    posts = tmp_path / "site" / "_posts"
    posts.mkdir(parents=True)
    (posts / "2021-12-08-good1.md").write_bytes(post("好", "2021-12-08 11:00:00 +0800", "好正文"))
    (posts / "2021-12-08-nul1.md").write_bytes(
        post("坏\x00标题", "2021-12-08 10:00:00 +0800", "正\x00文\x1b")
    )
    (posts / "9999-12-31-far1.md").write_bytes(post("远未来", "9999-12-31 23:59:59 +0800", "x"))
    (posts / "0001-01-01-old1.md").write_bytes(post("远古", "0001-01-01 00:00:00 +0800", "x"))
    config = tmp_path / "finews.toml"
    config.write_text(f'database_url = "{db_url}"\n', encoding="utf-8")
    before = datetime.now(UTC).replace(microsecond=0)
    result = CliRunner().invoke(cli, ["--config", str(config), "import", "jekyll", str(posts)])
    assert not isinstance(result.exception, OverflowError | ValueError), result.output
    # the post whose date no calendar can place in Beijing is skipped with its reason
    assert "0001-01-01-old1.md" in result.output
    with open_store(db_url) as store:
        stored = {i.upstream_id: i for i in store.items()}
        assert set(stored) == {"good1", "nul1", "far1"}
        assert (stored["nul1"].title, stored["nul1"].content) == ("坏标题", "正文")
        assert stored["far1"].published_at >= before
        assert derive_backlog(store) == 0


# --- any text, any date: normalised items are always stored ---------------------------------

_ANY_CHAR = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=())
_ANY_TEXT = st.text(_ANY_CHAR, max_size=30)
_ANY_TIME = st.one_of(
    st.none(),
    st.integers(min_value=-(2**40), max_value=2**50),
    st.datetimes(timezones=st.just(UTC)).map(lambda moment: moment.isoformat()),
    _ANY_TEXT,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(_ANY_TEXT, _ANY_TEXT, _ANY_TEXT, _ANY_TEXT, _ANY_TEXT, _ANY_TIME),
        min_size=1,
        max_size=5,
    )
)
def test_every_normalised_item_is_stored_whatever_its_text_and_date(
    fields: list[tuple[str, str, str, str, str, Any]],
) -> None:
    """Whatever characters and times an upstream sends, an item normalising keeps is one
    the store keeps: indexed, in a story, nothing dropped (SQLite; the same checks run on
    PostgreSQL through the poison feed above)."""
    spec = SourceSpec(id="any", adapter="feed", name="任意")
    items = []
    for n, (uid, title, summary, content, author, published) in enumerate(fields):
        raw = RawItem(
            source="any",
            upstream_id=f"{n}-{uid}",
            title=title,
            summary=summary,
            content=content,
            author=author,
            url=f"https://example.com/{uid}",
            published=published,
        )
        result = normalize_item(raw, spec, fetched_at=NOW)
        if isinstance(result, Item):
            items.append(result)
    with open_store("sqlite:///:memory:") as store:
        outcome = store.upsert_items(items)
        assert outcome.dropped == ()
        assert store.count_items() == len({item.upstream_id for item in items})
        faults = store.query("SELECT stage FROM item_faults WHERE stage <> 'normalize'")
        assert faults == []  # none dropped, none left out of the index or the stories
