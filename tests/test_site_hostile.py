"""Hostile titles, bodies, links, ids and source names render inert everywhere: every page of
the live app and of the static build, every feed, every API response and the event stream."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest

from finews.derive import open_store
from finews.models import Item
from finews.normalize.sanitize import sanitize_for_page
from finews.publish.settings import SiteSettings
from finews.publish.site import article_body
from finews.publish.static_site import build_site
from finews.publish.urls import article_path
from finews.publish.web import create_app
from site_data import LiveServer, TestClient, parse_xml, read_events

pytestmark = pytest.mark.timeout(60)

EVIL = "<script>alert(1)</script>\"><img src=x onerror=alert(2)>{{ 7*7 }}]]>&amp;'"
EVIL_BODY = (
    '<p>正文</p><script>alert(3)</script><img src="x" onerror="alert(4)">'
    '<a href="javascript:alert(5)">点我</a><iframe src="https://evil.example/"></iframe>'
    '<p style="background:url(javascript:alert(6))" onclick="alert(7)">尾</p>'
    "<svg><script>alert(8)</script></svg>]]>{{ 7*7 }}"
)
SETTINGS = SiteSettings(page_size=3, home_per_source=3, feed_size=10)
ATOM = "{http://www.w3.org/2005/Atom}"


def hostile_items() -> list[Item]:
    when = datetime(2021, 12, 8, 6, 0, tzinfo=UTC)
    base: dict[str, Any] = {
        "fetched_at": when,
        "digest": EVIL,
        "media": EVIL,
        "tag": EVIL + "新闻",
        "author": EVIL,
        "stocks": (EVIL,),
    }
    return [
        Item(
            source="evil",
            upstream_id="plain",
            title=EVIL,
            published_at=when,
            content=EVIL,
            url="javascript:alert(9)",
            category="evil",
            **base,
        ),
        Item(
            source="evil",
            upstream_id='../../<x>"y',
            title=EVIL,
            published_at=when,
            content=EVIL_BODY,
            url=" JavaScript:alert(10)",
            category="evil",
            importance=2,
            **base,
        ),
        Item(
            source='evil"><script>alert(11)</script>',
            upstream_id="{{ 7*7 }}",
            title=EVIL,
            published_at=when,
            content=EVIL_BODY,
            url="data:text/html,<script>alert(12)</script>",
            category='"><script>alert(13)</script>',
            **base,
        ),
    ]


class Inspector(HTMLParser):
    """Collects everything in a page that could run script."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        # the one form a page may have: the site's own search (GET to /search)
        own_search = values.get("action") == "/search" and values.get("method") == "get"
        if tag in ("iframe", "object", "embed", "svg", "math", "base", "form") and not (
            tag == "form" and own_search
        ):
            self.problems.append(f"<{tag}>")
        if tag == "script" and "/static/site.js?v=" not in (values.get("src") or ""):
            self.problems.append(f"script {values}")
        if tag == "meta" and (values.get("http-equiv") or "").lower() == "refresh":
            self.problems.append("meta refresh")
        for name, value in attrs:
            if name.startswith("on") or name == "style":
                self.problems.append(f"{tag} {name}={value}")
            if name in ("href", "src", "action", "formaction", "srcset") and value is not None:
                scheme = value.strip().lower().split(":", 1)[0]
                risky = ":" in value and scheme in ("javascript", "data", "vbscript")
                if risky and not (tag == "link" and value == "data:,"):
                    self.problems.append(f"{tag} {name}={value}")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def inspect(html: str) -> Inspector:
    inspector = Inspector()
    inspector.feed(html)
    inspector.close()
    assert inspector.problems == [], inspector.problems
    return inspector


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'hostile.db'}"
    with open_store(url) as store:
        store.upsert_items(hostile_items())
    return url


@pytest.fixture
def client(db: str) -> Iterator[TestClient]:
    sources = [("evil", EVIL), ('evil"><script>alert(11)</script>', EVIL)]
    with TestClient(create_app(db, SETTINGS, sources=sources, poll_interval=0.05)) as c:
        yield c


def html_paths() -> list[str]:
    items = hostile_items()
    return [
        "/",
        "/all/",
        "/important/",
        "/day/",
        "/day/2021-12-08/",
        "/category/evil.html",
        *[article_path(item) for item in items],
        "/category/" + article_path(items[2]).split("/")[1] + ".html",
    ]


def test_every_live_page_is_inert(client: TestClient) -> None:
    for path in html_paths():
        response = client.get(path)
        assert response.status_code == 200, path
        text = " ".join(inspect(response.text).text)
        if path != "/day/":
            assert "<script>alert(1)</script>" in text  # shown as text, exactly
    article = client.get(article_path(hostile_items()[1])).text
    assert "{{ 7*7 }}" in article
    assert ">49<" not in article
    assert 'href="javascript:' not in article.lower()
    assert "onerror" not in article.replace("onerror=alert(2)", "")


def test_hostile_paths_in_the_404_page(client: TestClient) -> None:
    response = client.get("/%3Cscript%3Ealert(1)%3C/script%3E/x.html")
    assert response.status_code == 404
    inspect(response.text)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text


def test_feeds_stay_well_formed_and_carry_the_text_exactly(client: TestClient) -> None:
    for path in ["/feed.xml", "/rss.xml", "/feeds/evil/atom.xml", "/feeds/evil/rss.xml"]:
        root = parse_xml(client.get(path).content)
        titles = [e.text for e in root.iter() if e.tag in (ATOM + "title", "title")]
        assert EVIL in titles, path
        for element in root.iter():
            if element.tag in (
                ATOM + "content",
                "{http://purl.org/rss/1.0/modules/content/}encoded",
            ):
                inspect(element.text or "")  # the HTML a reader would render is inert
    feed = json.loads(client.get("/feed.json").content)
    assert {item["title"] for item in feed["items"]} == {EVIL}
    for item in feed["items"]:
        inspect(item.get("content_html", ""))
        assert "external_url" not in item  # javascript: and data: links are not passed on


def test_api_responses_escape_markup(client: TestClient) -> None:
    for path in ["/api/items", "/api/items/2", "/api/sources"]:
        response = client.get(path)
        assert b"<" not in response.content, path
        assert b">" not in response.content, path
        json.loads(response.content)
    items = client.get("/api/items").json()["items"]
    assert {item["title"] for item in items} == {EVIL}
    sources = client.get("/api/sources").json()["sources"]
    assert {s["name"] for s in sources} == {EVIL}
    error = client.get("/api/items?source=" + "<x>" * 100)
    assert error.status_code == 400
    assert b"<" not in error.content


def test_event_stream_is_inert(db: str) -> None:
    app = create_app(db, SETTINGS, poll_interval=0.05, heartbeat=0.3)
    with (
        LiveServer(app) as server,
        httpx.Client(timeout=5) as http,
        http.stream("GET", server.url + "/events?since=0") as response,
    ):
        events = read_events(response.iter_lines(), 3)
    assert len(events) == 3
    for event in events:
        assert "<" not in event["data"]
        data = json.loads(event["data"])
        assert data["title"] == EVIL
        inspect(data["html"])


def test_static_build_is_inert_and_stays_inside_its_directory(db: str, tmp_path: Path) -> None:
    with open_store(db) as store:
        build_site(store, tmp_path / "out" / "site", SETTINGS)
    root = tmp_path / "out"
    files = [p for p in root.rglob("*") if p.is_file()]
    assert all(p.resolve().is_relative_to((root / "site").resolve()) for p in files)
    assert not [
        p
        for p in tmp_path.iterdir()
        if p.name not in ("out", "hostile.db") and not p.name.startswith("hostile.db")
    ]
    for path in files:
        if path.suffix == ".html":
            inspect(path.read_text(encoding="utf-8"))
        elif path.suffix == ".xml":
            parse_xml(path.read_bytes())
        elif path.suffix == ".json" and path.name != ".finews-build.json":
            json.loads(path.read_bytes())
    names = {p.relative_to(root / "site").as_posix() for p in files}
    assert "evil/2021/12/08/~2e2e2f2e2e2f3c783e2279.html" in names


@pytest.mark.parametrize(
    "html",
    [
        "<p>段落一</p>\n<p>段落二<br>换行，<strong>加粗</strong>和<em>强调</em></p>",
        "<p><b><i>嵌套</i></b> &amp; &lt;标签&gt; 与&nbsp;空格</p>",
        "纯文本<br>加一个换行",
    ],
)
def test_plain_paragraph_bodies_come_out_as_they_went_in(html: str) -> None:
    assert article_body(html).html == sanitize_for_page(html) == html


@pytest.mark.parametrize(
    "html",
    [
        EVIL_BODY,
        "<p>a > b</p>",  # the sanitiser writes &gt;
        "<p>未闭合",  # it closes the paragraph
        "<b><p>块在行内</p></b>",
        "<p>a</b>",
        '<p onclick="alert(1)">x</p>',
        "<p>a&copy;b</p>",  # it writes the character
        "<p>x</p>\r\n<p>y</p>",
    ],
)
def test_other_bodies_go_through_the_sanitiser(html: str) -> None:
    assert article_body(html).html == sanitize_for_page(html)
