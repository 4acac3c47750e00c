"""The ``feed`` adapter end to end: each flavour served by a real loopback server, fetched by
the real HttpClient, polled by ``refresh_source`` into a real store (SQLite, and
PostgreSQL when it is reachable). Fixtures and their expected results are in
``tests/data/feed/``; ``{base}`` in an expected value stands for the server's URL."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from finews.config import load_config
from finews.demo.replay import Received, ReplayServer, Reply, Route
from finews.derive import open_store
from finews.errors import ConfigError, ParseError, StatusFetchError
from finews.fetch.client import HttpClient, HttpSettings, Response
from finews.models import SourceSpec
from finews.refresh import SourceReport, refresh_source
from finews.sources.base import Request
from finews.store import ItemQuery, Store

DATA = Path(__file__).parent / "data" / "feed"
QUICK = HttpSettings(timeout=5.0, retries=0, backoff=0.01)
NOW = datetime(2026, 9, 1, 3, 0, tzinfo=UTC)

XML = {"Content-Type": "application/xml"}


def feed_spec(tmp_path: Path, url: str, **settings: object) -> SourceSpec:
    """A ``feed`` source as finews.toml would configure it (every default filled in and
    validated by the real configuration loader)."""
    table = {"adapter": "feed", "url": url, "allow_private": True, **settings}
    path = tmp_path / "finews.toml"
    path.write_text("", encoding="utf-8")
    return load_config(path, env={}, source_overrides={"f": table}).source("f")


def poll(spec: SourceSpec, store: Store, settings: HttpSettings = QUICK) -> SourceReport:
    async def run() -> SourceReport:
        async with HttpClient(settings) as client:
            return await refresh_source(spec, store, client, now=lambda: NOW)

    return asyncio.run(run())


def stored(store: Store, source: str = "f") -> list[Any]:
    return list(store.items(ItemQuery(source=source, oldest_first=True)))


def load_expected(name: str, base: str) -> dict[str, Any]:
    text = (DATA / f"{name}.expected.json").read_text(encoding="utf-8")
    return json.loads(text.replace("{base}", base))  # type: ignore[no-any-return]


def check_item(item: Any, want: dict[str, Any]) -> None:
    if want["upstream_id"].endswith("*"):
        assert item.upstream_id.startswith(want["upstream_id"][:-1])
    else:
        assert item.upstream_id == want["upstream_id"]
    assert item.title == want["title"]
    assert item.url == want["url"]
    assert item.media == want["media"]
    assert item.author == want.get("author")
    if want["published_at"] is None:  # no date in the feed: the fetch time stands in
        assert item.published_at == NOW
    else:
        assert item.published_at.isoformat() == want["published_at"]
    for fragment in want.get("content_has", ()):
        assert fragment in item.content


FLAVOURS = [
    ("rss091", "rss091.xml"),
    ("rss10", "rss10.rdf"),
    ("rss20", "rss20.xml"),
    ("atom", "atom.xml"),
    ("jsonfeed", "jsonfeed.json"),
    ("rsshub", "rsshub.xml"),
]


@pytest.mark.parametrize(("name", "file"), FLAVOURS, ids=[f[0] for f in FLAVOURS])
def test_each_feed_flavour_is_polled_into_the_store(
    name: str, file: str, store: Store, tmp_path: Path
) -> None:
    body = (DATA / file).read_bytes()
    content_type = "application/feed+json" if file.endswith(".json") else "application/xml"
    with ReplayServer([]) as server:
        want = load_expected(name, server.url)
        server.routes.append(
            Route(want["feed_path"], Reply(body=body, headers={"Content-Type": content_type}))
        )
        spec = feed_spec(tmp_path, server.url + want["feed_path"])
        report = poll(spec, store)
        again = poll(spec, store)
        (first, *_) = server.requests
    assert report.error is None
    assert report.new == len(want["items"])
    assert len(report.dropped) == want.get("dropped", 0)
    for drop in report.dropped:
        assert drop.reason.startswith("[f] item #")
    items = sorted(stored(store), key=lambda i: [w["title"] for w in want["items"]].index(i.title))
    assert len(items) == len(want["items"])
    for item, expected_item in zip(items, want["items"], strict=True):
        check_item(item, expected_item)
    # Ids are stable: the second poll of the same feed stores nothing new.
    assert (again.error, again.new, again.updated) == (None, 0, 0)
    assert "application/feed+json" in first.headers["accept"]


def test_rsshub_route_is_an_ordinary_feed(store: Store, tmp_path: Path) -> None:
    body = (DATA / "rsshub.xml").read_bytes()
    route = Route("/cls/telegraph", Reply(body=body, headers=XML))
    with ReplayServer([route]) as server:
        report = poll(feed_spec(tmp_path, f"{server.url}/cls/telegraph"), store)
    assert report.error is None
    newest = stored(store)[-1]
    # the HTML description became the digest: markup sanitised, text kept
    assert "央行表示将保持流动性合理充裕" in newest.digest
    assert newest.category  # a slug derived from the media name
    assert newest.tag == "财联社 - 电报新闻"


def test_media_setting_overrides_the_feed_title(store: Store, tmp_path: Path) -> None:
    body = (DATA / "rss20.xml").read_bytes()
    with ReplayServer([Route("/f.xml", Reply(body=body, headers=XML))]) as server:
        report = poll(feed_spec(tmp_path, f"{server.url}/f.xml", media="新华财经"), store)
    assert report.error is None
    assert {item.media for item in stored(store)} == {"新华财经"}


# --- encodings ---------------------------------------------------------------------------

SIMPLIFIED = "东方财富网讯：央行今日开展逆回购操作，沪深两市成交额突破万亿元"
TRADITIONAL = "東方財富網訊：央行今日開展逆回購操作，滬深兩市成交額突破萬億元"


def encoded_feed(title: str, declared: str | None, codec: str) -> bytes:
    declaration = f' encoding="{declared}"' if declared else ""
    text = (
        f'<?xml version="1.0"{declaration}?>\n'
        '<rss version="2.0"><channel><title>编码测试</title><link>https://e.example/</link>'
        f"<item><title>{title}</title><guid>enc-1</guid><description>{title}。</description>"
        "</item></channel></rss>"
    )
    # the channel title must survive too; in Big5 it is written in Traditional
    if codec.startswith("big5"):
        text = text.replace("编码测试", "編碼測試")
    return text.encode(codec)


ENCODINGS = [
    ("gbk declared", SIMPLIFIED, "gbk", "gbk"),
    ("gb2312 declared", SIMPLIFIED, "gb2312", "gb2312"),
    ("gb18030 declared", SIMPLIFIED, "gb18030", "gb18030"),
    ("big5 declared", TRADITIONAL, "big5", "big5"),
    ("gbk undeclared", SIMPLIFIED, None, "gbk"),
    ("big5 undeclared", TRADITIONAL, None, "big5"),
    ("utf-8 declared, gbk bytes", SIMPLIFIED, "utf-8", "gbk"),
    ("utf-8 declared, big5 bytes", TRADITIONAL, "utf-8", "big5"),
    ("gbk declared, big5 bytes", TRADITIONAL, "gbk", "big5"),
    ("big5 declared, gbk bytes", SIMPLIFIED, "big5", "gbk"),
    ("iso-8859-1 declared, gbk bytes", SIMPLIFIED, "iso-8859-1", "gbk"),
    ("gbk declared, utf-8 bytes", SIMPLIFIED, "gbk", "utf-8"),
]


@pytest.mark.parametrize(
    ("title", "declared", "codec"),
    [case[1:] for case in ENCODINGS],
    ids=[case[0] for case in ENCODINGS],
)
def test_any_declared_or_sniffed_encoding_is_read_right(
    title: str, declared: str | None, codec: str, sqlite_url: str, tmp_path: Path
) -> None:
    body = encoded_feed(title, declared, codec)
    # SQLite only: the decoding is under test here, both engines are in the tests above
    with (
        ReplayServer([Route("/enc.xml", Reply(body=body, headers=XML))]) as server,
        open_store(sqlite_url) as store,
    ):
        report = poll(feed_spec(tmp_path, f"{server.url}/enc.xml"), store)
        (item,) = stored(store)
    assert report.error is None
    assert item.title == title
    assert item.media in ("编码测试", "編碼測試")


# --- conditional GET ---------------------------------------------------------------------


class Revalidating:
    """A feed server honouring If-None-Match / If-Modified-Since, whose content (and ETag)
    changes when the test says so."""

    def __init__(self) -> None:
        self.version = 1
        self.modified = "Tue, 01 Sep 2026 02:00:00 GMT"

    def body(self) -> bytes:
        items = "".join(
            f"<item><title>第{n}条快讯</title><guid>c-{n}</guid></item>"
            for n in range(1, self.version + 2)
        )
        return (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>条件请求</title>{items}</channel></rss>"
        ).encode()

    def handle(self, received: Received) -> Reply:
        etag = f'"v{self.version}"'
        validators = {"ETag": etag, "Last-Modified": self.modified}
        if received.headers.get("if-none-match") == etag:
            return Reply(status=304, headers=validators)
        return Reply(body=self.body(), headers={**XML, **validators})


def test_second_poll_is_conditional_and_a_304_stores_nothing(store: Store, tmp_path: Path) -> None:
    upstream = Revalidating()
    with ReplayServer([Route("/c.xml", upstream.handle)]) as server:
        spec = feed_spec(tmp_path, f"{server.url}/c.xml")
        first = poll(spec, store)
        second = poll(spec, store)
        upstream.version = 2
        third = poll(spec, store)
        requests = server.requests_to("/c.xml")
    assert (first.error, first.new) == (None, 2)
    assert "if-none-match" not in requests[0].headers
    # second poll: asked "changed since?", got 304: nothing stored, no error, no page parsed
    assert requests[1].headers["if-none-match"] == '"v1"'
    assert requests[1].headers["if-modified-since"] == "Tue, 01 Sep 2026 02:00:00 GMT"
    assert (second.error, second.new, second.updated, second.pages) == (None, 0, 0, 0)
    state = store.get_state("f")
    assert state.last_error is None
    assert state.consecutive_failures == 0
    assert state.last_success is not None
    # the feed changed: the old ETag no longer matches, the new item is stored
    assert requests[2].headers["if-none-match"] == '"v1"'
    assert (third.error, third.new) == (None, 1)
    assert len(stored(store)) == 3


def test_validators_are_not_sent_to_a_changed_feed_url(store: Store, tmp_path: Path) -> None:
    upstream = Revalidating()
    routes = [Route("/a.xml", upstream.handle), Route("/b.xml", upstream.handle)]
    with ReplayServer(routes) as server:
        poll(feed_spec(tmp_path, f"{server.url}/a.xml"), store)
        moved = poll(feed_spec(tmp_path, f"{server.url}/b.xml"), store)
        (to_b,) = server.requests_to("/b.xml")
    assert "if-none-match" not in to_b.headers
    assert moved.error is None


def test_a_failed_poll_does_not_keep_new_validators(store: Store, tmp_path: Path) -> None:
    """Validators are kept only once their page is stored: a reply that could not be stored
    must be fetched in full next time, not skipped by a 304."""
    upstream = Revalidating()
    broken = Reply(body=b"<html>maintenance</html>", headers={"ETag": '"v1"', **XML})
    with ReplayServer([Route("/c.xml", [broken, Reply(body=b"")])]) as server:
        spec = feed_spec(tmp_path, f"{server.url}/c.xml")
        failed = poll(spec, store)
        server.routes[:] = [Route("/c.xml", upstream.handle)]
        recovered = poll(spec, store)
        requests = server.requests
    assert failed.error is not None
    assert "not an RSS, Atom or JSON feed" in failed.error
    assert "if-none-match" not in requests[1].headers
    assert (recovered.error, recovered.new) == (None, 2)


def fetch(request: Request) -> Response:
    async def run() -> Response:
        async with HttpClient(QUICK) as client:
            return await client.get(request, source="s")

    return asyncio.run(run())


def test_client_answers_a_conditional_304_with_not_modified() -> None:
    route = Route("/x", Reply(status=304, headers={"ETag": '"v9"'}))
    with ReplayServer([route]) as server:
        response = fetch(Request(url=f"{server.url}/x", headers={"If-None-Match": '"v8"'}))
    assert response.not_modified
    assert (response.status, response.body) == (304, b"")
    assert response.headers["etag"] == '"v9"'


def test_an_unasked_304_is_an_upstream_error() -> None:
    with (
        ReplayServer([Route("/x", Reply(status=304))]) as server,
        pytest.raises(StatusFetchError) as caught,
    ):
        fetch(Request(url=f"{server.url}/x"))
    assert caught.value.status == 304


# --- shape changes, bad items, full text -------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<!doctype html><html><body>\xe7\x99\xbb\xe5\xbd\x95</body></html>", "not an RSS"),
        (b'{"code": "1", "data": []}', "not a JSON Feed"),
        (b"", "reply is empty"),
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": {}}', "expected a list"),
    ],
)
def test_a_reply_that_is_not_a_feed_is_a_clear_source_error(
    body: bytes, message: str, store: Store, tmp_path: Path
) -> None:
    with ReplayServer([Route("/f", Reply(body=body))]) as server:
        report = poll(feed_spec(tmp_path, f"{server.url}/f"), store)
        url = f"{server.url}/f"
    assert report.error is not None
    assert message in report.error
    assert report.error.startswith("[f] ")
    assert url in report.error
    state = store.get_state("f")
    assert state.last_error == report.error
    assert state.consecutive_failures == 1


def test_a_feed_url_that_is_not_http_is_a_config_error(store: Store, tmp_path: Path) -> None:
    # the settings loader stops it before anything runs
    with pytest.raises(ConfigError) as info:
        feed_spec(tmp_path, "file:///etc/passwd")
    assert info.value.key == "sources.f.url"
    assert "http:// or https://" in str(info.value)
    # and the adapter refuses it too, for a source made without the loader
    spec = feed_spec(tmp_path, "https://example.org/feed.xml")
    unchecked = SourceSpec(
        id=spec.id,
        adapter=spec.adapter,
        enabled=True,
        name=spec.name,
        settings={**spec.settings, "url": "file:///etc/passwd"},
    )
    report = poll(unchecked, store)
    assert report.error is not None
    assert "sources.f.url" in report.error
    assert "http:// or https://" in report.error


ARTICLE = """<!doctype html><html><head><meta charset="gbk"><title>文章</title></head><body>
<header><nav><a href="/">首页</a> <a href="/markets">市场</a></nav></header>
<div class="layout"><aside>热门推荐：广告位招租广告位招租广告位招租广告位招租广告位</aside>
<div class="article"><h1>标题</h1>
<p>第一段：国家统计局今日公布的数据显示，八月份规模以上工业增加值同比增长。</p>
<p>第二段：分行业看，四十一个大类行业中有三十个行业增加值保持同比增长。</p>
<p><img data-src="/pics/chart.png" src="data:image/gif;base64,R0lGOD"></p></div></div>
<footer>版权所有 (C) 示例网站 联系我们 关于我们 免责声明 网站地图 隐私政策 广告服务</footer>
</body></html>"""


def test_fulltext_takes_the_largest_text_block_of_the_linked_page(
    store: Store, tmp_path: Path
) -> None:
    feed = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>全文</title>'
        "<item><title>工业增加值同比增长</title><link>/a/1.html</link>"
        "<description>摘要</description></item></channel></rss>"
    ).encode()
    routes = [
        Route("/f.xml", Reply(body=feed, headers=XML)),
        Route(
            "/a/1.html", Reply(body=ARTICLE.encode("gbk"), headers={"Content-Type": "text/html"})
        ),
    ]
    with ReplayServer(routes) as server:
        report = poll(feed_spec(tmp_path, f"{server.url}/f.xml", fulltext=True), store)
        base = server.url
    assert (report.error, report.fulltext_errors) == (None, 0)
    (item,) = stored(store)
    assert "第一段：国家统计局" in item.content
    assert "第二段" in item.content
    assert "广告位招租" not in item.content
    assert "首页" not in item.content
    assert "版权所有" not in item.content
    assert f"{base}/pics/chart.png" in item.content  # lazy image made real and absolute
    assert item.digest == "摘要"


def test_fulltext_selector_picks_the_article_and_a_miss_keeps_the_digest(
    store: Store, tmp_path: Path
) -> None:
    feed = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>全文</title>'
        "<item><title>一</title><link>/a/1.html</link><description>摘要一</description></item>"
        "<item><title>二</title><link>/a/2.html</link><description>摘要二</description></item>"
        "</channel></rss>"
    ).encode()
    page_two = b"<html><body><div id='other'>no article here</div></body></html>"
    routes = [
        Route("/f.xml", Reply(body=feed, headers=XML)),
        Route("/a/1.html", Reply(body=ARTICLE.encode("gbk"))),
        Route("/a/2.html", Reply(body=page_two)),
    ]
    with ReplayServer(routes) as server:
        spec = feed_spec(tmp_path, f"{server.url}/f.xml", fulltext=True, fulltext_selector="aside")
        report = poll(spec, store)
    assert report.error is None
    assert report.fulltext_errors == 1  # page two: the selector matched nothing
    by_title = {item.title: item for item in stored(store)}
    assert "广告位招租" in by_title["一"].content
    assert "第一段" not in by_title["一"].content
    assert by_title["二"].content == ""
    assert by_title["二"].digest == "摘要二"


def test_fulltext_is_off_by_default(store: Store, tmp_path: Path) -> None:
    body = (DATA / "rss20.xml").read_bytes()
    with ReplayServer([Route("/f.xml", Reply(body=body, headers=XML))]) as server:
        poll(feed_spec(tmp_path, f"{server.url}/f.xml"), store)
        paths = [r.path for r in server.requests]
    assert paths == ["/f.xml"]


def test_json_feed_next_url_pages_are_walked_and_stay_guarded(store: Store, tmp_path: Path) -> None:
    def page(n: int, next_url: str | None) -> Reply:
        feed: dict[str, Any] = {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "分页",
            "items": [{"id": f"p{n}", "title": f"第{n}页", "content_text": "x"}],
        }
        if next_url:
            feed["next_url"] = next_url
        return Reply.json(feed)

    routes = [Route("/p1.json", page(1, "p2.json")), Route("/p2.json", page(2, None))]
    with ReplayServer(routes) as server:
        report = poll(feed_spec(tmp_path, f"{server.url}/p1.json"), store)
    assert (report.error, report.pages, report.new) == (None, 2, 2)


def test_feed_requests_are_guarded_unless_allowed(store: Store, tmp_path: Path) -> None:
    """Without allow_private a feed on a loopback address is refused before any request."""
    body = (DATA / "rss20.xml").read_bytes()
    with ReplayServer([Route("/f.xml", Reply(body=body, headers=XML))]) as server:
        spec = feed_spec(tmp_path, f"{server.url}/f.xml", allow_private=False)
        refused = poll(spec, store)
        allowed = poll(
            spec, store, HttpSettings(timeout=5.0, retries=0, allow_private_addresses=True)
        )
        received = len(server.requests)
    assert refused.error is not None
    assert "127.0.0.1, a loopback address" in refused.error
    assert "allow_private" in refused.error
    assert allowed.error is None
    assert allowed.new == 4
    assert received == 1  # only the allowed poll reached the server


def test_resumed_walks_keep_their_guard(store: Store, tmp_path: Path) -> None:
    """A walk back saved in the source state (to finish after a failure) is reloaded with
    its ``guarded`` flag: a feed's next page never loses the SSRF check."""
    from finews.refresh import Walk, dump_walks, load_walks

    walk = Walk(Request(url="http://feed.example/p2.json", guarded=True), 3)
    (loaded,) = load_walks(dump_walks([walk]))
    assert loaded.request is not None
    assert loaded.request.guarded
    assert loaded.request.url == "http://feed.example/p2.json"


# --- hostile feeds -----------------------------------------------------------------------

SPEC = SourceSpec(id="h", adapter="feed", settings={"url": "https://feeds.example/rss.xml"})


def parse(body: bytes) -> Any:
    from finews.sources.feed import FEED

    return FEED.parse_page(SPEC, body, FEED.first_page(SPEC))


def test_external_entities_are_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET", encoding="utf-8")
    body = (
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY leak SYSTEM "file://{secret}">]>'
        '<rss version="2.0"><channel><title>t &leak;</title>'
        "<item><title>a &leak;</title><guid>1</guid><description>&leak;</description></item>"
        "</channel></rss>"
    ).encode()
    page = parse(body)
    assert len(page.items) == 1
    assert "TOP-SECRET" not in repr(page)


def test_entity_bombs_are_not_expanded() -> None:
    levels = ['<!ENTITY l0 "lollollollol">'] + [
        f'<!ENTITY l{n} "{f"&l{n - 1};" * 10}">' for n in range(1, 9)
    ]
    body = (
        f'<?xml version="1.0"?><!DOCTYPE rss [{"".join(levels)}]>'
        '<rss version="2.0"><channel><title>bomb</title>'
        "<item><title>&l8;</title><guid>1</guid></item></channel></rss>"
    ).encode()
    page = parse(body)
    assert [len(item.title) for item in page.items] == [len("&l8;")]  # left as written
    # the declarations are gone before any parser sees them (expat would stop the bomb
    # too, but only after feedparser had spent seconds on megabytes of "lol")
    from finews.sources.feed import without_internal_subset

    stripped = without_internal_subset(body.decode())
    assert "<!ENTITY" not in stripped
    assert stripped.startswith('<?xml version="1.0"?><rss version="2.0">')


def test_a_body_naming_a_local_file_is_parsed_not_opened(tmp_path: Path) -> None:
    """feedparser opens a str or bytes argument that names a file; the adapter hands it a
    file object, so a reply that is a path stays a (bad) reply."""
    secret = tmp_path / "feed.xml"
    secret.write_bytes((DATA / "rss20.xml").read_bytes())
    with pytest.raises(ParseError) as caught:
        parse(str(secret).encode())
    assert "not an RSS, Atom or JSON feed" in str(caught.value)
