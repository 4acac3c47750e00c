"""Every route of the live app, in process: statuses, content types, headers, 304s, gzip,
pagination edges, the API's cursors and errors, and the event stream on a real server."""

from __future__ import annotations

import gzip
import json
import re
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from finews.derive import open_store
from finews.publish.api import ITEMS_PARAMETERS
from finews.publish.responses import SECURITY_HEADERS
from finews.publish.settings import SiteSettings
from finews.publish.site import SiteRenderer
from finews.publish.urls import article_path
from finews.publish.web import create_app
from finews.store.securities import learn_names
from helpers import as_static
from site_data import LiveServer, TestClient, fill, later_items, read_events, site_items

pytestmark = pytest.mark.timeout(60)

SETTINGS = SiteSettings(page_size=4, home_per_source=3, feed_size=5)
SOURCES = [
    ("eastmoney_fast", "东方财富 7×24"),
    ("eastmoney_media", "东方财富 媒体"),
    ("idle", "空闲来源"),
]
HTML = "text/html; charset=utf-8"
JSON = "application/json"


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'site.db'}"
    store = open_store(url)
    try:
        fill(store, site_items())
    finally:
        store.close()
    return url


@pytest.fixture
def client(db: str) -> Iterator[TestClient]:
    app = create_app(db, SETTINGS, poll_interval=0.05, sources=SOURCES, heartbeat=0.5)
    with TestClient(app) as test_client:
        yield test_client


def rows(html: str) -> int:
    return html.count('<li class="item')


def first_article() -> str:
    return article_path(site_items()[0])


ROUTES = [
    ("/", 200, HTML),
    ("/index.html", 200, HTML),
    ("/emnews/", 200, HTML),
    ("/emnews/page/1.html", 200, HTML),
    ("/category/xinhuacaijing.html", 200, HTML),
    ("/category/xinhuacaijing/page/1.html", 200, HTML),
    ("/category/cls.html", 200, HTML),
    ("/all/", 200, HTML),
    ("/all/page/3.html", 200, HTML),
    ("/important/", 200, HTML),
    ("/day/", 200, HTML),
    ("/day/2021-12-08/", 200, HTML),
    ("/day/2021-12-09/", 200, HTML),
    ("/subscribe/", 200, HTML),
    ("ARTICLE", 200, HTML),
    ("/feed.xml", 200, "application/atom+xml; charset=utf-8"),
    ("/rss.xml", 200, "application/rss+xml; charset=utf-8"),
    ("/feed.json", 200, "application/feed+json; charset=utf-8"),
    ("/feeds/emnews/atom.xml", 200, "application/atom+xml; charset=utf-8"),
    ("/feeds/36ke/rss.xml", 200, "application/rss+xml; charset=utf-8"),
    ("/feeds/cls/feed.json", 200, "application/feed+json; charset=utf-8"),
    ("/static/site.css", 200, "text/css; charset=utf-8"),
    ("/static/site.js", 200, "text/javascript; charset=utf-8"),
    ("/static/feed.xsl", 200, "text/xsl; charset=utf-8"),
    ("/api/items", 200, JSON),
    ("/api/items/1", 200, JSON),
    ("/api/sources", 200, JSON),
    ("/api/openapi.json", 200, JSON),
    ("/nowhere", 404, HTML),
    ("/category/nosuch.html", 404, HTML),
    ("/day/2020-01-01/", 404, HTML),
    ("/feeds/nosuch/atom.xml", 404, HTML),
    ("/emnews/2021/12/08/nosuch.html", 404, HTML),
    ("/api/items/99999", 404, JSON),
    ("/api/items/abc", 400, JSON),
    ("/api/items?limit=500", 400, JSON),
    ("/api/nosuch", 404, JSON),
]


@pytest.mark.parametrize(("path", "status", "content_type"), ROUTES)
def test_route_status_type_and_security_headers(
    client: TestClient, path: str, status: int, content_type: str
) -> None:
    path = first_article() if path == "ARTICLE" else path
    response = client.get(path, follow_redirects=False)
    assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"] == content_type
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value
    if status == 200:
        assert response.headers["etag"].startswith('W/"')
        assert "last-modified" in response.headers
    if content_type == JSON:
        json.loads(response.content)
    if status == 404 and content_type == HTML:
        assert "找不到这个页面" in response.text


def test_security_headers_on_redirects_304s_errors_and_head(client: TestClient) -> None:
    etag = client.get("/").headers["etag"]
    responses = [
        client.get("/emnews", follow_redirects=False),  # 301 to /emnews/
        client.get("/", headers={"if-none-match": etag}),  # 304
        client.post("/api/items"),  # 405
        client.head("/"),
        client.head("/events"),
        client.get("/events", headers={"last-event-id": "x"}),  # 400
    ]
    assert [r.status_code for r in responses] == [301, 304, 405, 200, 200, 400]
    for response in responses:
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value


def test_csp_has_no_inline_allowance(client: TestClient) -> None:
    csp = client.get("/").headers["content-security-policy"]
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    html = client.get(first_article()).text
    assert re.findall(r"<script\b[^>]*>", html) == [
        '<script src="/static/site.js?v='
        + html.split("site.js?v=")[1].split('"')[0]
        + '" data-sw="/sw.js" defer>'
    ]
    assert " style=" not in html
    assert "<style" not in html


def test_redirects(client: TestClient) -> None:
    response = client.get("/emnews", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (301, "/emnews/")
    item = site_items()[0]
    day = item.published_at + timedelta(days=3)
    wrong = article_path(item.replace(published_at=day))
    response = client.get(wrong, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (301, article_path(item))


def test_etag_and_last_modified_give_304(client: TestClient) -> None:
    for path in [
        "/",
        "/emnews/",
        first_article(),
        "/feed.xml",
        "/api/items",
        "/api/sources",
        "/static/site.css",
    ]:
        first = client.get(path)
        assert first.status_code == 200
        etag, modified = first.headers["etag"], first.headers["last-modified"]
        again = client.get(path, headers={"if-none-match": etag})
        assert again.status_code == 304
        assert again.content == b""
        assert again.headers["etag"] == etag
        assert client.get(path, headers={"if-modified-since": modified}).status_code == 304
        # If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2)
        stale = {"if-none-match": 'W/"other"', "if-modified-since": modified}
        assert client.get(path, headers=stale).status_code == 200
        old = "Mon, 01 Jan 2001 00:00:00 GMT"
        assert client.get(path, headers={"if-modified-since": old}).status_code == 200


def test_a_change_invalidates_validators(client: TestClient, db: str) -> None:
    before = client.get("/")
    store = open_store(db)
    try:
        fill(store, later_items()[:1])
    finally:
        store.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        after = client.get("/", headers={"if-none-match": before.headers["etag"]})
        if after.status_code == 200:
            break
        time.sleep(0.05)
    assert after.status_code == 200
    assert later_items()[0].title in after.text


def test_gzip_when_asked_and_never_for_events(client: TestClient) -> None:
    response = client.get("/", headers={"accept-encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in response.headers["vary"].lower()
    plain = client.get("/", headers={"accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert response.text == plain.text  # httpx decoded it
    raw = client.get("/api/openapi.json", headers={"accept-encoding": "gzip"})
    assert raw.headers["content-encoding"] == "gzip"
    head = client.head("/events", headers={"accept-encoding": "gzip"})
    assert "content-encoding" not in head.headers


def test_pagination_edges(client: TestClient) -> None:
    # emnews: 6 items, pages of 4 -> page 1 (4 oldest) + first page (4 newest)
    index = client.get("/emnews/").text
    assert rows(index) == 4
    assert 'href="/emnews/page/1.html"' in index
    page = client.get("/emnews/page/1.html").text
    assert rows(page) == 4
    assert 'rel="prev" href="/emnews/"' in page
    assert 'rel="next"' not in page
    for missing in ["/emnews/page/0.html", "/emnews/page/2.html", "/emnews/page/01.html"]:
        assert client.get(missing).status_code == 404
    # xinhuacaijing: exactly one page of items -> no "older" link, page 1 holds the same four
    index = client.get("/category/xinhuacaijing.html").text
    assert rows(index) == 4
    assert 'rel="next"' not in index
    assert rows(client.get("/category/xinhuacaijing/page/1.html").text) == 4
    assert client.get("/category/xinhuacaijing/page/2.html").status_code == 404
    # all: 15 items -> pages 1..3 full, the first page links to page 3
    assert 'href="/all/page/3.html"' in client.get("/all/").text
    for number in (1, 2, 3):
        assert rows(client.get(f"/all/page/{number}.html").text) == 4
    assert client.get("/all/page/4.html").status_code == 404
    # page 1 holds the oldest items, newest first
    oldest = [item.title for item in site_items()[:4]]
    text = client.get("/all/page/1.html").text
    positions = [text.index(title) for title in reversed(oldest)]
    assert positions == sorted(positions)


def test_home_shows_every_category_and_the_stream(client: TestClient) -> None:
    html = client.get("/").text
    # the stream's 4, then 3 per category (36氪 has only 2)
    assert rows(html) == 4 + 3 + 3 + 2 + 3
    for name in ["东财滚动新闻", "新华财经新闻", "36氪新闻", "财联社电报"]:
        assert name in html
    assert 'href="/important/"' in html  # the important-only switch works without script
    important = client.get("/important/").text
    assert rows(important) == 3
    assert 'aria-current="page">只看重要' in important


def test_article_page(client: TestClient) -> None:
    item = site_items()[1]
    html = client.get(article_path(item)).text
    assert "(GMT+8, Asia/Shanghai, CST) 2021-12-08 09:45:00" in html
    assert f"<h1>{item.title}</h1>" in html
    assert "（文章来源：新华财经）" in html  # the sanitised body, as HTML
    assert 'href="/category/xinhuacaijing.html">返回新华财经新闻</a>' in html
    assert f'href="{item.url}"' in html


def test_api_cursor_walk_returns_every_item_once(client: TestClient) -> None:
    for extra in ["", "&source=eastmoney_media", "&important=true", "&since=2021-12-09"]:
        seen: list[int] = []
        cursor = None
        for _ in range(50):
            url = "/api/items?limit=2" + extra + (f"&cursor={cursor}" if cursor else "")
            body = client.get(url).json()
            seen += [item["id"] for item in body["items"]]
            cursor = body["next_cursor"]
            if cursor is None:
                break
        everything = client.get("/api/items?limit=200" + extra).json()
        assert everything["next_cursor"] is None
        assert seen == [item["id"] for item in everything["items"]]
        assert len(seen) == len(set(seen)) > 0


def test_api_filters(client: TestClient) -> None:
    every = client.get("/api/items?limit=200").json()["items"]
    assert len(every) == 15
    day = client.get("/api/items?since=2021-12-08&until=2021-12-08").json()["items"]
    assert day
    assert all(i["published_at"] < "2021-12-08T16:00:00Z" for i in day)
    later = client.get("/api/items?since=2021-12-09T00:00:00%2B08:00").json()["items"]
    assert len(day) + len(later) == 15
    important = client.get("/api/items?important=true").json()["items"]
    assert {i["importance"] for i in important} <= {1, 2}
    assert len(important) == 3
    ordinary = client.get("/api/items?important=false&limit=200").json()["items"]
    assert len(ordinary) == 12
    cls = client.get("/api/items?source=cls_telegraph").json()["items"]
    assert {i["source"] for i in cls} == {"cls_telegraph"}


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=ten", "limit"),
        ("limit=-1", "limit"),
        ("since=yesterday", "since"),
        ("until=2021-13-01", "until"),
        ("since=2021-12-09&until=2021-12-08", "since"),
        ("important=maybe", "important"),
        ("cursor=%%%", "cursor"),
        ("cursor=bm90LWEtY3Vyc29y", "cursor"),
        ("limit=1&limit=2", "limit"),
        ("source=" + "x" * 201, "source"),
        ("stock=%E8%8C%85%E5%8F%B0", "stock"),
        ("stok=600519", "stok"),
        ("limit=5&srouce=cls", "srouce"),
    ],
)
def test_api_bad_parameters(client: TestClient, query: str, parameter: str) -> None:
    response = client.get(f"/api/items?{query}")
    assert response.status_code == 400
    assert response.headers["content-type"] == JSON
    message = response.json()["error"]
    assert message.startswith(parameter + ":"), message
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    "path", ["/api/items/1?x=1", "/api/sources?verbose=1", "/api/openapi.json?v=2",
             "/api/search?q=600519&sort=new", "/api/status?all=1"],
)  # fmt: skip
def test_api_unknown_parameters_are_refused(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 400
    message = response.json()["error"]
    assert "unknown parameter" in message, message
    assert "accepts" in message, message


@pytest.mark.parametrize("notation", ["600519", "sh600519", "SH600519", "1.600519", "600519.SH"])
def test_api_stock_filter_in_any_notation(client: TestClient, notation: str) -> None:
    everything = client.get("/api/items?limit=200").json()["items"]
    tagged = [i["id"] for i in everything if {"600519", "sh600519"} & set(i["stocks"])]
    assert tagged  # the golden archive tags one item with 600519
    found = client.get(f"/api/items?stock={notation}").json()["items"]
    assert [i["id"] for i in found] == tagged
    assert client.get("/api/items?stock=hk00700").json()["items"] == []


def test_api_sources_with_health(client: TestClient) -> None:
    sources = {s["id"]: s for s in client.get("/api/sources").json()["sources"]}
    assert set(sources) == {"eastmoney_fast", "eastmoney_media", "cls_telegraph", "idle"}
    assert sources["eastmoney_fast"]["items"] == 6
    assert sources["idle"] == {
        "id": "idle",
        "name": "空闲来源",
        "items": 0,
        "state": {
            "last_attempt": None,
            "last_success": None,
            "last_error": None,
            "consecutive_failures": 0,
            "next_poll": None,
        },
    }


def test_openapi_document_lists_the_routes(client: TestClient) -> None:
    document = client.get("/api/openapi.json").json()
    assert document["openapi"] == "3.1.0"
    assert set(document["paths"]) == {
        "/api/items",
        "/api/items/{id}",
        "/api/sources",
        "/api/hot",
        "/api/status",
        "/api/search",
        "/api/openapi.json",
    }
    names = {p["name"] for p in document["paths"]["/api/items"]["get"]["parameters"]}
    assert names == {
        "source", "category", "since", "until", "important", "stock", "muted", "limit", "cursor"
    }  # fmt: skip
    assert names == set(ITEMS_PARAMETERS)  # every accepted parameter documented, no other
    item = client.get("/api/items/1").json()
    assert set(document["components"]["schemas"]["Item"]["properties"]) == set(item)


def test_base_path_prefix(db: str) -> None:
    settings = SiteSettings(base_url="/finews/", page_size=4)
    with TestClient(create_app(db, settings, poll_interval=0.05)) as client:
        html = client.get("/finews/").text
        assert 'href="/finews/emnews/"' in html
        assert 'data-events="/finews/events"' in html
        assert client.get("/finews/emnews/page/1.html").status_code == 200
        assert client.get("/finews/api/items").status_code == 200
        assert client.get("/emnews/").status_code == 404


# --- the event stream, on a real server --------------------------------------------------


def _store_later(db: str, items: list) -> None:  # type: ignore[type-arg]
    store = open_store(db)
    try:
        fill(store, items)
    finally:
        store.close()


def test_events_push_a_change_stored_after_connecting(db: str) -> None:
    app = create_app(db, SETTINGS, poll_interval=0.05, heartbeat=0.3)
    with (
        LiveServer(app) as server,
        httpx.Client(timeout=5) as http,
        http.stream("GET", server.url + "/events", headers={"accept-encoding": "gzip"}) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert "content-encoding" not in response.headers
        assert response.headers["x-frame-options"] == "DENY"
        lines = response.iter_lines()
        # wait for the stream to be live (a heartbeat), then store from elsewhere
        for line in lines:
            if line.startswith(": ping"):
                break
        _store_later(db, later_items()[:1])
        [event] = read_events(lines, 1)  # how soon is bench/freshness.py's to measure
    assert event["event"] == "item"
    assert event["id"] == "16"
    data = json.loads(event["data"])
    assert data["kind"] == "new"
    assert data["category"] == "emnews"
    assert data["seq"] == 16
    assert data["title"] == later_items()[0].title
    assert data["html"].startswith('<li class="item"')
    assert data["url"].endswith(".html")


def test_a_row_pushed_live_is_the_row_its_page_serves(db: str) -> None:
    """The row an event carries (site.js inserts it as it is) is byte for byte the row the
    pages serve after a reload: its securities too, named from the directory, at most
    three and a count of the rest."""
    store = open_store(db)
    try:
        learn_names(store, {"sh600519": "贵州茅台"}, "test")
    finally:
        store.close()
    stocks = ("sh600519", "sz000001", "hk00700", "sh601318", "sz300750")
    item = later_items()[0].replace(stocks=stocks)
    app = create_app(db, SETTINGS, poll_interval=0.05, heartbeat=0.3)
    with (
        LiveServer(app) as server,
        httpx.Client(timeout=5) as http,
        http.stream("GET", server.url + "/events") as response,
    ):
        lines = response.iter_lines()
        for line in lines:
            if line.startswith(": ping"):
                break
        _store_later(db, [item])
        [event] = read_events(lines, 1)
        row = json.loads(event["data"])["html"]
        assert '<a class="stock" href="/stock/sh600519/">贵州茅台 sh600519</a>' in row
        assert '<a class="stock" href="/stock/sz000001/">sz000001</a>' in row
        assert "sh601318" not in row
        assert ">+2</span>" in row
        for path in ("/", "/all/", "/emnews/", "/stock/sz000001/"):
            page = http.get(server.url + path).text
            assert row.removesuffix("</li>") in page, path


def test_events_resume_from_last_event_id_without_gaps(db: str) -> None:
    app = create_app(db, SETTINGS, poll_interval=0.05, heartbeat=0.3)
    with LiveServer(app) as server, httpx.Client(timeout=5) as http:
        # a client that saw change 15 reconnects after three more were stored
        _store_later(db, later_items())
        time.sleep(0.3)
        with http.stream(
            "GET", server.url + "/events", headers={"last-event-id": "15"}
        ) as response:
            events = read_events(response.iter_lines(), 3)
        assert [e["id"] for e in events] == ["16", "17", "18"]
        # from the change log (older than the server's buffer) as well
        with http.stream("GET", server.url + "/events?since=10") as response:
            events = read_events(response.iter_lines(), 8)
        assert [int(e["id"]) for e in events] == list(range(11, 19))
        # Last-Event-ID wins over ?since=
        with http.stream(
            "GET", server.url + "/events?since=3", headers={"last-event-id": "17"}
        ) as response:
            [event] = read_events(response.iter_lines(), 1)
        assert event["id"] == "18"


def test_events_bad_ids(client: TestClient) -> None:
    for headers, query, name in [
        ({"last-event-id": "abc"}, "", "Last-Event-ID"),
        ({}, "?since=-4", "since"),
    ]:
        response = client.get("/events" + query, headers=headers)
        assert response.status_code == 400
        assert response.json()["error"].startswith(name + ":")


def test_gzip_body_is_gzip(client: TestClient) -> None:
    # read the raw bytes: the body on the wire really is gzip
    with client.stream("GET", "/", headers={"accept-encoding": "gzip"}) as response:
        raw = b"".join(response.iter_raw())
    assert gzip.decompress(raw).startswith(b"<!DOCTYPE html>")


def test_a_server_error_still_carries_the_security_headers(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from finews.publish.pages import Pages

    def broken(*args: object, **kwargs: object) -> str:
        raise RuntimeError("rendering failed")

    monkeypatch.setattr(Pages, "home", broken)
    app = create_app(db, SETTINGS, poll_interval=0.05)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/")
    assert response.status_code == 500
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value


def test_long_unsafe_ids_get_a_short_name_that_still_resolves(db: str) -> None:
    long_id = "长" * 60  # 180 bytes of UTF-8: hex would pass the 255-byte file name limit
    item = site_items()[0].replace(upstream_id=long_id, title="长编号")
    _store_later(db, [item])
    path = article_path(item)
    assert len(path.rsplit("/", 1)[1]) < 60
    with TestClient(create_app(db, SETTINGS, poll_interval=0.05)) as client:
        page = client.get(path)
        assert page.status_code == 200
        assert "长编号" in page.text
        assert client.get(path.replace(".html", "0.html")).status_code == 404


def test_a_list_row_follows_every_value_it_shows() -> None:
    """Rows are kept rendered by the values they show: an edit of any of them is a new row
    (the live app's renderer lives as long as the process)."""
    renderer = SiteRenderer(SiteSettings())
    item = site_items()[0].replace(id=7)
    first = renderer.row(item)
    assert renderer.row(item) == first
    edits: list[dict[str, Any]] = [
        {"title": "改过的标题"},
        {"importance": 1},
        {"tag": "另一个标签"},
        {"tag": "", "media": "另一家媒体"},  # (the tag, when there is one, hides the media)
        {"category": "another"},
        {"upstream_id": "other-id"},
        {"published_at": item.published_at + timedelta(minutes=1)},
        {"stocks": ("sh600519",)},
    ]
    for edit in edits:
        assert renderer.row(item.replace(**edit)) != first, edit
    assert renderer.row(item.replace(tag="")) != renderer.row(item.replace(tag="", media="x"))
    assert "改过的标题" in renderer.row(item.replace(title="改过的标题"))
    assert renderer.row(item.replace(content="<p>正文不在列表里</p>")) == first


def test_every_file_of_the_static_build_is_a_route_of_the_live_app(tmp_path: Path) -> None:
    """A media name so long its category slug becomes a digest in paths: the static build
    writes its article, category pages and feeds, and the live app serves each of them at
    exactly that path (as it does every other file the build wrote)."""
    from finews.normalize.slug import media_slug
    from finews.publish.static_site import MANIFEST, build_site
    from finews.publish.urls import file_name, segment

    media = ("特别长的媒体名称" * 38)[:300]
    slug = media_slug(media)
    assert len(slug) > 200
    assert segment(slug).startswith("~~")
    first = site_items()[0]
    titles = [
        "铜价创下年内新高",
        "新能源汽车销量回落",
        "港口吞吐量同比增长",
        "光伏组件出口放缓",
        "生猪价格连续下跌",
        "航空客运量恢复",
    ]
    long_items = [
        first.replace(
            upstream_id=f"long-{n}",
            title=title,
            content=f"<p>{title}。</p>",
            media=media,
            category=slug,
            tag=f"{media}新闻",
            published_at=first.published_at + timedelta(minutes=n),
        )
        for n, title in enumerate(titles)  # more than a page of 4: numbered pages too
    ]
    url = f"sqlite:///{tmp_path / 'long.db'}"
    with open_store(url) as store:
        fill(store, [*site_items(), *long_items])
        build_site(store, tmp_path / "site", SETTINGS, processes=1)
        stored = [store.get_item(i.source, i.upstream_id) for i in long_items]
    root = tmp_path / "site"
    files = [
        p.relative_to(root).as_posix()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name not in (MANIFEST, ".nojekyll", "404.html")
    ]
    hashed = [name for name in files if segment(slug) in name]
    article = file_name(article_path(stored[0]))  # type: ignore[arg-type]
    category_page = f"category/{segment(slug)}.html"
    assert article in hashed
    assert category_page in hashed
    assert f"category/{segment(slug)}/page/1.html" in hashed
    assert {f"feeds/{segment(slug)}/{name}" for name in ("atom.xml", "rss.xml", "feed.json")} <= (
        set(hashed)
    )
    with TestClient(create_app(url, SETTINGS, poll_interval=0.05, sources=SOURCES)) as client:
        for name in files:
            path = "/" + name.removesuffix("index.html")
            response = client.get(path, follow_redirects=False)
            assert response.status_code == 200, path
        page = client.get("/" + article)
        assert as_static(page.content) == (root / article).read_bytes()
        listing = client.get("/" + category_page).text
        assert all(f'href="/{file_name(article_path(i))}"' in listing for i in stored[2:])  # type: ignore[arg-type]


def test_a_media_tag_ending_in_news_is_shown_once() -> None:
    from finews.publish.site import display_name

    item = site_items()[0].replace(tag="每日经济新闻新闻", media="每日经济新闻")
    assert display_name(item) == "每日经济新闻"
    assert display_name(item.replace(tag="新华财经新闻")) == "新华财经新闻"
    row = SiteRenderer(SiteSettings()).row(item)
    assert "每日经济新闻新闻" not in row


def test_api_docs_are_made_from_the_openapi_document(client: TestClient) -> None:
    page = client.get("/api/docs")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    html = page.text
    document = client.get("/api/openapi.json").json()
    # every path and every parameter of the document is on the page
    for path, methods in document["paths"].items():
        assert f"<code>{path}</code>" in html, path
        for operation in methods.values():
            assert f'id="{operation["operationId"]}"' in html
            for parameter in operation.get("parameters", []):
                assert f"<code>{parameter['name']}</code>" in html
    for name, schema in document["components"]["schemas"].items():
        assert f'id="schema-{name}"' in html
        for field in schema.get("properties", {}):
            assert f"<code>{field}</code>" in html, (name, field)
    # types spelled out, references linked, requests to try
    assert "integer: 1–200, default 50" in html
    assert '<a href="#schema-Item">array of Item</a>' in html
    assert '<a href="/api/search?q=600519"><code>/api/search?q=600519</code></a>' in html
    # no third-party asset: every src and stylesheet is the site's own
    assert re.findall(r'(?:src|href)="(https?:)?//', html) == []
    assert client.get("/api/nosuch").headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    ("path", "indexed"),
    [("/search?q=%E5%A4%AE%E8%A1%8C", False), ("/search", True), ("/status", True), ("/", True)],
)
def test_only_pages_of_results_are_kept_out_of_search_engines(
    client: TestClient, path: str, indexed: bool
) -> None:
    # a page of results is one of endless query pages (noindex, as well-kept sites do);
    # the search page itself and the status dashboard are pages a search engine may list
    html = client.get(path).text
    assert ('<meta name="robots" content="noindex">' not in html) is indexed
