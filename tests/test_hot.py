"""What matters now: the 热点 board (page, feeds, ``/api/hot``) ranks the stories of the last
hours by distinct sources, speed and importance; the important-only listing has feeds; both
live and in the static build, on both engines."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from finews.derive import open_store
from finews.models import Item
from finews.publish.hot import rank
from finews.publish.settings import SiteSettings
from finews.publish.site import display_name
from finews.publish.static_site import build_site
from finews.publish.web import create_app
from helpers import as_static
from site_data import TestClient, fill, parse_xml

pytestmark = pytest.mark.timeout(120)

SETTINGS = SiteSettings(page_size=4, feed_size=5)
ATOM = "{http://www.w3.org/2005/Atom}"

#: (source, category, tag) of three outlets
OUTLETS = [
    ("cls_telegraph", "cls", "财联社电报"),
    ("eastmoney_fast", "emnews", "东财滚动新闻"),
    ("sina_zhibo", "sina", "新浪财经直播"),
]


def this_minute() -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0)


def report(
    story: str,
    outlet: int,
    minutes_ago: float,
    text: str,
    *,
    now: datetime,
    importance: int = 0,
    n: int = 0,
) -> Item:
    """One report of a story (same text as its other reports) by outlet ``outlet``,
    ``minutes_ago`` before ``now``."""
    source, category, tag = OUTLETS[outlet]
    published = now - timedelta(minutes=minutes_ago)
    return Item(
        source=source,
        upstream_id=f"{story}-{outlet}-{n}",
        title=text,
        digest=f"{text}。{story}的详细报道，记者从多个渠道了解到相关的情况。",
        content="",
        url=f"https://example.com/{story}/{outlet}/{n}.html",
        media=None,
        category=category,
        tag=tag,
        published_at=published,
        fetched_at=published + timedelta(seconds=20),
        importance=importance,
    )


def board_items(now: datetime) -> list[Item]:
    """Four stories in the window before ``now`` and one before it:

    - fast: three outlets within 4 minutes (score 3 x 1 x (1 + 60/64) = 5.8125)
    - slow: three outlets over 3 hours (3 x (1 + 60/240) = 3.75)
    - late: first told 8 hours ago, again 50 minutes ago by another outlet (2 x (1 + 60/490))
    - lone: one outlet, important (1 x 2 x 1 = 2)
    - old: 10 hours ago, outside the window
    """
    fast = "央行宣布下调存款准备金率零点五个百分点 释放长期资金约一万亿元"
    slow = "国家统计局公布十一月居民消费价格指数同比上涨零点二个百分点"
    late = "沪深交易所发布程序化交易管理实施细则 自明年起正式施行"
    lone = "证监会就上市公司独立董事管理办法公开征求意见"
    old = "海关总署公布前十一个月进出口总值同比增长百分之零点二"
    return [
        report("old", 0, 600, old, now=now),
        report("late", 0, 480, late, now=now),
        report("slow", 0, 200, slow, now=now),
        report("slow", 1, 110, slow, now=now),
        report("slow", 2, 20, slow, now=now),
        report("late", 1, 50, late, now=now),
        report("lone", 2, 30, lone, importance=1, now=now),
        report("fast", 1, 14, fast, now=now),
        report("fast", 0, 12, fast, now=now),
        report("fast", 0, 11, fast, n=1, now=now),  # the same outlet again: counts once
        report("fast", 2, 10, fast, now=now),
    ]


@pytest.fixture
def now() -> datetime:
    """The minute the test's items are dated from."""
    return this_minute()


@pytest.fixture
def db(db_url: str, now: datetime) -> str:
    with open_store(db_url) as store:
        fill(store, board_items(now))
    return db_url


@pytest.fixture
def client(db: str) -> Iterator[TestClient]:
    app = create_app(db, SETTINGS, poll_interval=0.05, heartbeat=0.5)
    with TestClient(app) as test_client:
        yield test_client


def test_rank_scores_sources_speed_and_importance() -> None:
    base = datetime(2024, 3, 15, 1, 0, tzinfo=UTC)

    def at(item_id: int, minutes: int, tag: str, importance: int = 0) -> Item:
        return Item(
            source="s",
            upstream_id=str(item_id),
            title=f"t{item_id}",
            digest="",
            content="",
            url=None,
            media=None,
            category="c",
            tag=tag,
            published_at=base + timedelta(minutes=minutes),
            fetched_at=base,
            importance=importance,
            id=item_id,
        )

    items = [
        at(1, 0, "A"),
        at(2, 2, "B"),
        at(3, 4, "A"),  # the same source again
        at(4, 6, "C"),
        at(5, 0, "A", importance=2),  # a story of one source, major
        at(7, 30, "B"),  # a report of story 6, which began before the window
    ]
    story_of = {1: 1, 2: 1, 3: 1, 4: 1, 7: 6}
    leads = {6: at(6, -60, "A")}
    board = rank(items, story_of, leads, source=display_name)
    assert [row.story for row in board] == [1, 5, 6]
    first, lone, late = board
    assert first.sources == 3
    assert first.reported == 4
    assert first.minutes == 6  # to the third source
    assert first.score == pytest.approx(3 * (1 + 60 / 66))
    assert [r.id for r in first.reports] == [1, 2, 4]  # each source's first report
    assert lone.minutes is None
    assert lone.score == 3  # 1 source x (1 + 2)
    assert late.lead.id == 6
    assert late.minutes == 90
    assert late.score == pytest.approx(2 * (1 + 60 / 150))
    assert rank(items, story_of, leads, source=display_name, limit=1) == board[:1]


def test_the_board_ranks_stories_of_the_window(client: TestClient) -> None:
    page = client.get("/hot/")
    assert page.status_code == 200
    html = page.text
    order = ["央行宣布", "国家统计局", "沪深交易所", "证监会"]
    at = [html.index(text) for text in order]
    assert at == sorted(at)
    assert "海关总署" not in html  # 10 hours ago
    assert html.count('<li class="hot') == 4
    # each row: its sources (each linking to that source's first report), first time, speed
    first = html[html.index('<li class="hot') : html.index("</li>\n</ul>\n</li>")]
    assert "3 个来源、4 条报道" in first
    assert "4 分钟内 3 个来源" in first
    assert "热度 5.8" in first
    for _, _, tag in OUTLETS:
        assert f">{tag}</a>" in first
    assert "热度 = 来源数 × (1 + 重要性) × 速度系数" in html  # the formula, on the page
    assert '<a href="/hot/">热点</a>' in html  # in the masthead
    assert 'type="application/atom+xml" title="热点 (Atom)" href="/hot/atom.xml"' in html


def test_api_hot(client: TestClient) -> None:
    body = client.get("/api/hot").json()
    assert body["hours"] == 6
    assert "score = sources * (1 + importance) * speed" in body["formula"]
    stories = body["stories"]
    assert [s["sources"] for s in stories] == [3, 3, 2, 1]
    assert stories[0]["score"] == pytest.approx(5.812, abs=0.001)
    assert stories[0]["minutes_to_nth_source"] == 4
    assert [r["tag"] for r in stories[0]["reports"]] == [
        "东财滚动新闻",
        "财联社电报",
        "新浪财经直播",
    ]
    assert stories[0]["page"] == stories[0]["reports"][0]["page"]
    assert stories[3]["importance"] == 1
    assert stories[2]["first_published_at"] < body["as_of"]  # began before the window
    # a narrower window: "slow" keeps its first report and the one 20 minutes ago, not
    # the one 110 minutes ago; bad and unknown parameters are refused
    narrow = client.get("/api/hot?hours=1").json()["stories"]
    assert [(s["title"][:2], s["sources"]) for s in narrow] == [
        ("央行", 3),
        ("国家", 2),
        ("沪深", 2),
        ("证监", 1),
    ]
    assert len(client.get("/api/hot?limit=2").json()["stories"]) == 2
    for query, name in [("hours=0", "hours"), ("limit=x", "limit"), ("since=1", "since")]:
        answer = client.get(f"/api/hot?{query}")
        assert answer.status_code == 400
        assert answer.json()["error"].startswith(f"{name}: ")


def test_board_feeds(client: TestClient) -> None:
    atom = parse_xml(client.get("/hot/atom.xml").content)
    titles = [entry.findtext(f"{ATOM}title") for entry in atom.iter(f"{ATOM}entry")]
    assert len(titles) == 4
    assert str(titles[0]).startswith("央行宣布")
    rss = client.get("/hot/rss.xml")
    assert rss.headers["content-type"].startswith("application/rss+xml")
    feed = client.get("/hot/feed.json").json()
    assert [item["title"][:2] for item in feed["items"]] == ["央行", "国家", "沪深", "证监"]


def test_important_feeds_are_linked_and_carry_only_important_items(client: TestClient) -> None:
    page = client.get("/important/").text
    for name in ("atom.xml", "rss.xml", "feed.json"):
        assert f'href="/important/{name}"' in page
    assert 'rel="alternate" type="application/atom+xml" title="重要消息 (Atom)"' in page
    assert 'href="/important/atom.xml"' in client.get("/subscribe/").text
    feed = client.get("/important/feed.json").json()
    assert [item["title"][:3] for item in feed["items"]] == ["证监会"]
    assert all(item["_finews"]["importance"] > 0 for item in feed["items"])
    atom = parse_xml(client.get("/important/atom.xml").content)
    assert len(list(atom.iter(f"{ATOM}entry"))) == 1
    assert client.get("/important/rss.xml").status_code == 200


_AS_OF = re.compile(rb"\xe6\x88\xaa\xe8\x87\xb3 <time[^>]*>[^<]*</time>")  # 截至 <time…>…</time>


def test_the_static_build_has_the_board_and_the_feeds(db: str, tmp_path: Path) -> None:
    out = tmp_path / "site"
    with open_store(db) as store:
        build_site(store, out, SETTINGS, processes=1)
    board = (out / "hot" / "index.html").read_bytes()
    # as of the build's newest item (10 minutes ago): the same stories as the live board
    assert _AS_OF.search(board) is not None
    with TestClient(create_app(db, SETTINGS)) as client:
        live = as_static(client.get("/hot/").content)
        for path in ("hot/atom.xml", "hot/feed.json", "important/atom.xml", "important/rss.xml"):
            assert (out / path).is_file(), path
        # the same entries (the live feed's links carry its host)
        ours = json.loads((out / "important" / "feed.json").read_bytes())["items"]
        theirs = client.get("/important/feed.json").json()["items"]
        assert [i["id"] for i in ours] == [i["id"] for i in theirs]
    assert _AS_OF.sub(b"", live) == _AS_OF.sub(b"", board)
    feed = json.loads((out / "hot" / "feed.json").read_bytes())
    assert [item["title"][:2] for item in feed["items"]] == ["央行", "国家", "沪深", "证监"]


def test_the_board_follows_new_reports(client: TestClient, db: str, now: datetime) -> None:
    """A story of one source that two more report moves to the top."""
    lone = client.get("/api/hot").json()["stories"][3]
    assert lone["sources"] == 1
    with open_store(db) as store:
        text = "证监会就上市公司独立董事管理办法公开征求意见"
        later = [
            report("lone", 0, 5, text, now=now, importance=1),
            report("lone", 1, 4, text, now=now),
        ]
        fill(store, later)
    deadline = time.monotonic() + 10  # until the app has followed the change log
    while True:
        stories = client.get("/api/hot").json()["stories"]
        moved = next(s for s in stories if s["title"].startswith("证监会"))
        if moved["sources"] != 1 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert moved["sources"] == 3
    assert stories.index(moved) == 0  # 3 sources, within 26 minutes, important
    assert moved["minutes_to_nth_source"] == 26  # first told 30 minutes ago, again 4 ago
    assert client.get(moved["page"]).status_code == 200  # its first report's page


def test_the_watch_page_carries_what_its_filter_reads(client: TestClient) -> None:
    """自选's terms stay in the browser: the page hands site.js each row's text and codes,
    and has no inline script (the CSP forbids one)."""
    html = client.get("/watch/").text
    assert "data-watch-list" in html
    assert "data-live-list" in html  # the live stream reaches it
    rows = re.findall(r'<li class="item[^>]*>', html)
    assert len(rows) == 5  # the newest items (up to 200), each story once
    assert all("data-watch-text=" in row and "data-stocks=" in row for row in rows)
    assert all(row.endswith(" hidden>") for row in rows)  # until site.js matches them
    assert 'data-watch-text="央行宣布下调存款准备金率' in html
    assert "<script>" not in html
    assert '<a href="/watch/">自选</a>' in html
