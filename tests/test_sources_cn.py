"""The Chinese finance adapters (issue 5): each recorded page against its expected result,
and a contract test per adapter: its fixtures served by a real loopback upstream, polled by
the real ``HttpClient`` and ``refresh_source`` into a real SQLite store (both cursor pages
walked, error bodies and a changed shape shown as the source's error, nothing crashing)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from finews.config import load_config
from finews.demo.replay import Received, ReplayServer, Reply, Route
from finews.derive import open_store
from finews.errors import ParseError
from finews.fetch import HttpClient, HttpSettings
from finews.models import RawItem, SourceSpec
from finews.refresh import SourceReport, refresh_source
from finews.sources import get_adapter
from finews.sources.base import Request
from finews.sources.cls import cls_sign
from finews.sources.eastmoney_article import parse_article
from finews.store import Store

DATA = Path(__file__).parent / "data"
QUICK = HttpSettings(timeout=2.0, retries=0, backoff=0.01)

#: the two instants every fixture has either side of midnight, Beijing time
AFTER_MIDNIGHT = datetime(2026, 8, 31, 16, 0, 8, tzinfo=UTC)  # 2026-09-01 00:00:08 +08:00
BEFORE_MIDNIGHT = datetime(2026, 8, 31, 15, 59, 51, tzinfo=UTC)  # 2026-08-31 23:59:51 +08:00


def data(path: str) -> bytes:
    return (DATA / path).read_bytes()


def reply(path: str, status: int = 200) -> Reply:
    return Reply(status=status, body=data(path), headers={"Content-Type": "application/json"})


# ---- each recorded page against its expected result ---------------------------------

PAGES = [
    ("eastmoney_column", "em_column_1207", "eastmoney_column/column_1207_page1.json", "1207"),
    ("eastmoney_column", "em_column_1207", "eastmoney_column/column_1207_page2.json", "1207"),
    ("eastmoney_column", "em_column_350", "eastmoney_column/column_350_page1.json", "350"),
    ("sina_zhibo", "sina_zhibo", "sina_zhibo/page1.json", None),
    ("sina_zhibo", "sina_zhibo", "sina_zhibo/page2.json", None),
    ("ths", "ths", "ths/page1.json", None),
    ("ths", "ths", "ths/page2.json", None),
    ("wallstreetcn", "wallstreetcn", "wallstreetcn/page1.json", None),
    ("wallstreetcn", "wallstreetcn", "wallstreetcn/page2.json", None),
    ("jin10", "jin10", "jin10/page1.json", None),
    ("jin10", "jin10", "jin10/page2.json", None),
    ("jin10", "jin10", "jin10/flash_newest.js", None),
    ("cls", "cls", "cls/page1.json", None),
    ("cls", "cls", "cls/page2.json", None),
]


def asdict_text(item: RawItem) -> dict[str, Any]:
    """An item's fields as the expected files hold them: without its raw record."""
    fields = dataclasses.asdict(item)
    for name in ("record", "record_format", "article"):
        del fields[name]
    return fields


@pytest.mark.parametrize(("adapter", "source", "payload", "column"), PAGES)
def test_recorded_page_gives_the_expected_items(
    adapter: str, source: str, payload: str, column: str | None
) -> None:
    expected = (DATA / payload).with_suffix(".expected.json")
    want = json.loads(expected.read_text("utf-8"))
    plugin = get_adapter(adapter)
    settings = {"column": column} if column else {}
    spec = SourceSpec(id=source, adapter=adapter, settings=settings)
    page = plugin.parse_page(spec, data(payload), plugin.first_page(spec))
    items = [json.loads(json.dumps(asdict_text(i), ensure_ascii=False)) for i in page.items]
    assert items == want["items"]
    # each item keeps its entry as received, and reading it back gives the same item
    for item in page.items:
        assert item.record_format == "json"
        assert item.record is not None
        assert plugin.parse_record(spec, item.record) == item  # type: ignore[attr-defined]
    dropped = [{"upstream_id": d.upstream_id, "reason": d.reason} for d in page.dropped]
    assert dropped == want["dropped"]
    assert page.next is not None
    following = {k: v for k, v in page.next.params.items() if k != "req_trace"}
    assert following == want["next"]
    # Upstreams without a title leave it None: the normaliser titles them all one way.
    assert all(item.title is None or item.title.strip() for item in page.items)


# ---- East Money article pages -----------------------------------------------------------


def test_article_page_body_is_cleaned() -> None:
    text = parse_article(
        data("eastmoney_article/202609010600123456.html"), source="s", url="http://u"
    )
    expected = (DATA / "eastmoney_article/202609010600123456.expected.html").read_text("utf-8")
    assert text == expected.strip()


def test_article_page_without_content_body_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match=r"no #ContentBody \(page title '页面不存在") as caught:
        parse_article(data("eastmoney_article/no_content_body.html"), source="s", url="http://u")
    assert (caught.value.source, caught.value.url) == ("s", "http://u")


def test_fast_news_reads_article_pages_only_when_asked() -> None:
    adapter = get_adapter("eastmoney_fast")
    item = RawItem(source="em_fast", upstream_id="202609010600123456")
    off = SourceSpec(id="em_fast", adapter="eastmoney_fast")
    assert adapter.fulltext_request(off, item) is None
    on = SourceSpec(id="em_fast", adapter="eastmoney_fast", settings={"fulltext": True})
    request = adapter.fulltext_request(on, item)
    assert request == Request(
        url="https://finance.eastmoney.com/a/202609010600123456.html",
        fallback_urls=("https://wap.eastmoney.com/a/202609010600123456.html",),
    )
    no_mobile = SourceSpec(
        id="em_fast",
        adapter="eastmoney_fast",
        settings={"fulltext": True, "mobile_article_url": ""},
    )
    assert adapter.fulltext_request(no_mobile, item) == Request(url=request.url)
    # A code that is not plain letters and digits names no page (it goes into a URL path).
    odd = RawItem(source="em_fast", upstream_id="../../admin")
    assert adapter.fulltext_request(on, odd) is None
    text = adapter.parse_fulltext(on, data("eastmoney_article/202609010600123456.html"), item)
    assert text.startswith("<p>　　<strong>【宏观】</strong></p>")


def test_focus_column_is_the_fast_adapter_with_column_100() -> None:
    spec = load_config(env={}, read_file=False).source("em_focus")
    request = get_adapter(spec.adapter).first_page(spec)
    assert request.params["fastColumn"] == "100"
    assert request.params["sortEnd"] == ""


# ---- 财联社 signature ------------------------------------------------------------------


def test_cls_sign_matches_the_published_vector() -> None:
    assert cls_sign({"rn": "50", "app": "CailianpressWeb", "os": "web"}) == (
        "e833b86a1feaf6119652b85fd0c52676"
    )
    # Sorting by key, not the order given, decides the signature.
    assert cls_sign({"os": "web", "app": "CailianpressWeb", "rn": "50"}) == cls_sign(
        {"app": "CailianpressWeb", "rn": "50", "os": "web"}
    )
    assert cls_sign({"rn": "20", "app": "CailianpressWeb", "os": "web"}) != (
        "e833b86a1feaf6119652b85fd0c52676"
    )


def test_cls_requests_are_signed_last_and_resigned_per_page() -> None:
    adapter = get_adapter("cls")
    spec = SourceSpec(id="cls", adapter="cls", settings={"sv": "8.7.9", "category": "red"})
    first = adapter.first_page(spec)
    params = dict(first.params)
    assert list(params)[-1] == "sign"
    sign = params.pop("sign")
    assert sign == cls_sign(params)
    assert params["sv"] == "8.7.9"
    assert params["category"] == "red"
    page = adapter.parse_page(spec, data("cls/page1.json"), first)
    assert page.next is not None
    nxt = dict(page.next.params)
    assert nxt.pop("sign") == cls_sign(nxt) != sign


# ---- request settings -----------------------------------------------------------------


def test_jin10_headers_are_settings() -> None:
    spec = SourceSpec(
        id="jin10", adapter="jin10", settings={"app_id": "newAppId", "app_version": "2.0.1"}
    )
    request = get_adapter("jin10").first_page(spec)
    assert request.headers["x-app-id"] == "newAppId"
    assert request.headers["x-version"] == "2.0.1"
    assert dict(request.params) == {"channel": "-8200", "vip": "1", "max_time": ""}
    default = get_adapter("jin10").first_page(SourceSpec(id="j", adapter="jin10"))
    assert default.headers["x-app-id"] == "bVBF4FyRTn5NJF5n"
    assert default.fallback_urls[0].endswith("/flash_newest.js")


def test_paging_by_number_stops_at_an_empty_page() -> None:
    for adapter, stem, name in [
        ("sina_zhibo", "sina_zhibo/end.json", "page"),
        ("ths", "ths/end.json", "page"),
        ("eastmoney_column", "eastmoney_column/column_1207_end.json", "page_index"),
    ]:
        plugin = get_adapter(adapter)
        spec = SourceSpec(id=adapter, adapter=adapter)
        first = plugin.first_page(spec)
        assert first.params[name] == "1"
        assert plugin.parse_page(spec, data(stem), first).next is None


@pytest.mark.parametrize(
    ("adapter", "stem"),
    [
        ("wallstreetcn", "wallstreetcn/end.json"),
        ("jin10", "jin10/end.json"),
        ("cls", "cls/end.json"),
    ],
)
def test_paging_by_cursor_stops_at_an_empty_page(adapter: str, stem: str) -> None:
    plugin = get_adapter(adapter)
    spec = SourceSpec(id=adapter, adapter=adapter)
    assert plugin.parse_page(spec, data(stem), plugin.first_page(spec)).next is None


def test_a_cursor_that_does_not_move_ends_the_walk() -> None:
    """A page whose cursor is the one just sent would be asked for forever."""
    adapter = get_adapter("wallstreetcn")
    spec = SourceSpec(id="w", adapter="wallstreetcn")
    page = adapter.parse_page(spec, data("wallstreetcn/page1.json"), adapter.first_page(spec))
    assert page.next is not None
    again = adapter.parse_page(spec, data("wallstreetcn/page1.json"), page.next)
    assert again.next is None
    jin10 = get_adapter("jin10")
    spec = SourceSpec(id="j", adapter="jin10")
    page = jin10.parse_page(spec, data("jin10/page1.json"), jin10.first_page(spec))
    assert page.next is not None
    assert jin10.parse_page(spec, data("jin10/page1.json"), page.next).next is None
    cls = get_adapter("cls")
    spec = SourceSpec(id="c", adapter="cls")
    page = cls.parse_page(spec, data("cls/page1.json"), cls.first_page(spec))
    assert page.next is not None
    assert cls.parse_page(spec, data("cls/page1.json"), page.next).next is None


# ---- contract: fixtures → loopback upstream → HttpClient → refresh → SQLite -----------


@dataclass
class Expect:
    """What one stored item must hold."""

    title: str
    importance: int
    stocks: tuple[str, ...] = ()
    published: datetime | None = None


@dataclass
class Contract:
    """One adapter's loopback upstream and what a poll of it must store."""

    source: str
    path: str
    route: Callable[[Received], Reply]
    #: settings pointing the source at the loopback server (``{base}`` is its URL)
    settings: Mapping[str, Any]
    #: the request parameter that pages, and its value on each of the three pages
    cursor: str
    cursors: tuple[str, str, str]
    stored: int
    dropped: int
    expect: Mapping[str, Expect]
    category: str
    tag: str
    extra_routes: list[Route] = field(default_factory=list)


def paged(param: str, pages: Mapping[str, str], default: str) -> Callable[[Received], Reply]:
    """A route answering by one query parameter's value."""

    def handle(received: Received) -> Reply:
        return reply(pages.get(received.query.get(param, ""), default))

    return handle


def ths_route(received: Received) -> Reply:
    if not received.headers.get("referer"):
        return reply("ths/error_400.json", status=400)
    return paged("page", {"1": "ths/page1.json", "2": "ths/page2.json"}, "ths/end.json")(received)


def jin10_route(received: Received) -> Reply:
    if received.headers.get("x-app-id") != "testAppId" or received.headers.get("x-version") != (
        "9.9.9"
    ):
        return reply("jin10/error.json")
    pages = {"": "jin10/page1.json", "2026-08-31 23:59:51": "jin10/page2.json"}
    return paged("max_time", pages, "jin10/end.json")(received)


def cls_route(received: Received) -> Reply:
    params = dict(received.query)
    if params.pop("sign", None) != cls_sign(params):
        return reply("cls/error_sign.json")
    pages = {"1788191991": "cls/page2.json", "1788181530": "cls/end.json"}
    last_time = received.query.get("last_time", "")
    return reply(pages.get(last_time, "cls/page1.json"))


CONTRACTS = {
    "em_column_1207": Contract(
        source="em_column_1207",
        path="/comm/web/getNewsByColumns",
        route=paged(
            "page_index",
            {
                "1": "eastmoney_column/column_1207_page1.json",
                "2": "eastmoney_column/column_1207_page2.json",
            },
            "eastmoney_column/column_1207_end.json",
        ),
        settings={
            "article_url": "{base}/a/{code}.html",
            "mobile_article_url": "{base}/wap/a/{code}.html",
        },
        cursor="page_index",
        cursors=("1", "2", "3"),
        stored=4,
        dropped=2,
        expect={
            "202609010600123456": Expect("财经早餐：央行开展MLF操作，A股三大指数集体收涨", 0),
            "202609010000082233": Expect(
                "隔夜外盘：美股三大指数涨跌不一 国际油价小幅回落", 1, published=AFTER_MIDNIGHT
            ),
            "202608312359517788": Expect(
                "财经早餐：八月制造业PMI公布在即", 0, published=BEFORE_MIDNIGHT
            ),
        },
        category="emzaocan",
        tag="东财财经早餐",
        extra_routes=[
            Route("/a/202609010600123456.html", reply("eastmoney_article/202609010600123456.html")),
            Route(
                "/wap/a/202609010000082233.html",
                reply("eastmoney_article/mobile_202609010000082233.html"),
            ),
            Route("/a/202608312359517788.html", reply("eastmoney_article/no_content_body.html")),
        ],
    ),
    "sina_zhibo": Contract(
        source="sina_zhibo",
        path="/api/zhibo/feed",
        route=paged(
            "page",
            {"1": "sina_zhibo/page1.json", "2": "sina_zhibo/page2.json"},
            "sina_zhibo/end.json",
        ),
        settings={},
        cursor="page",
        cursors=("1", "2", "3"),
        stored=5,
        dropped=2,
        expect={
            "5000210": Expect("贵州茅台：上半年净利润同比增长15%", 1, ("sh600519",)),
            "5000209": Expect(
                "港股恒生指数午间收涨0.6%，腾讯控股涨1.2%，美团跌0.8%。", 0, ("hk00700", "hk03690")
            ),
            "5000208": Expect("央行：开展3000亿元MLF操作", 0, published=AFTER_MIDNIGHT),
            "5000207": Expect(
                "美股开盘涨跌不一，道指涨0.1%，纳指跌0.2%。",
                0,
                ("usAAPL",),
                published=BEFORE_MIDNIGHT,
            ),
        },
        category="sinazhibo",
        tag="新浪7x24",
    ),
    "ths": Contract(
        source="ths",
        path="/tapp/news/push/stock/",
        route=ths_route,
        settings={},
        cursor="page",
        cursors=("1", "2", "3"),
        stored=5,
        dropped=2,
        expect={
            "680012345": Expect("国务院常务会议：部署推动大规模设备更新", 2),
            "680012300": Expect("贵州茅台盘中涨超2% 白酒板块走强", 1, ("sh600519", "sz000858")),
            "680012100": Expect("北交所新股今日申购", 0, ("bj920118",), AFTER_MIDNIGHT),
            "680012099": Expect("美股三大指数开盘涨跌不一", 0, published=BEFORE_MIDNIGHT),
        },
        category="thskuaixun",
        tag="同花顺快讯",
    ),
    "wallstreetcn": Contract(
        source="wallstreetcn",
        path="/apiv1/content/lives",
        route=paged(
            "cursor",
            {"": "wallstreetcn/page1.json", "1788191991": "wallstreetcn/page2.json"},
            "wallstreetcn/end.json",
        ),
        settings={"fallback_urls": []},
        cursor="cursor",
        cursors=("", "1788191991", "1788181530"),
        stored=5,
        dropped=1,
        expect={
            "3000105": Expect("美联储官员：年内仍有降息空间", 1),
            "3000104": Expect("A股午评", 0),
            "3000103": Expect("离岸人民币兑美元日内涨超100点。", 0, published=AFTER_MIDNIGHT),
            "3000102": Expect(
                "美股三大指数开盘涨跌不一，道指涨0.1%。", 1, published=BEFORE_MIDNIGHT
            ),
        },
        category="wallstreetcn",
        tag="华尔街见闻",
    ),
    "jin10": Contract(
        source="jin10",
        path="/get_flash_list",
        route=jin10_route,
        settings={"fallback_urls": [], "app_id": "testAppId", "app_version": "9.9.9"},
        cursor="max_time",
        cursors=("", "2026-08-31 23:59:51", "2026-08-31 21:05:30"),
        stored=4,
        dropped=3,
        expect={
            "20260901101500123400": Expect("美联储官员：年内仍有降息空间", 1),
            "20260901000008222200": Expect("离岸人民币日内走强", 0, published=AFTER_MIDNIGHT),
            "20260831235951333300": Expect(
                "美股三大指数开盘涨跌不一，道指涨0.1%，纳指跌0.2%。", 0, published=BEFORE_MIDNIGHT
            ),
        },
        category="jin10",
        tag="金十快讯",
    ),
    "cls": Contract(
        source="cls",
        path="/v1/roll/get_roll_list",
        route=cls_route,
        settings={},
        cursor="last_time",
        cursors=("(now)", "1788191991", "1788181530"),
        stored=5,
        dropped=2,
        expect={
            "2400105": Expect("国务院常务会议部署推动大规模设备更新", 2),
            "2400104": Expect("白酒板块午后走强", 1, ("sh600519", "sz000858", "cls80152")),
            "2400102": Expect(
                "财联社9月1日电，离岸人民币兑美元日内涨超100点，现报7.1020。",
                0,
                ("hk00700",),
                AFTER_MIDNIGHT,
            ),
            "2400101": Expect("美股开盘涨跌不一", 0, ("usAAPL",), BEFORE_MIDNIGHT),
        },
        category="cls",
        tag="财联社电报",
    ),
}


def spec_for(contract: Contract, base: str, **more: Any) -> SourceSpec:
    """The source as configured by default, pointed at the loopback server, switched on."""
    settings = {
        key: value.replace("{base}", base) if isinstance(value, str) else value
        for key, value in contract.settings.items()
    }
    overrides = {"enabled": True, "url": base + contract.path, **settings, **more}
    config = load_config(env={}, read_file=False, source_overrides={contract.source: overrides})
    return config.source(contract.source)


def poll(spec: SourceSpec, db: Path) -> SourceReport:
    async def run() -> SourceReport:
        async with HttpClient(QUICK) as client:
            with open_store(f"sqlite:///{db}") as store:
                return await refresh_source(spec, store, client)

    return asyncio.run(run())


def stored(db: Path, check: Callable[[Store], Any]) -> Any:
    with open_store(f"sqlite:///{db}") as store:
        return check(store)


@pytest.mark.parametrize("name", sorted(CONTRACTS))
def test_a_poll_walks_both_pages_and_stores_one_meaning(name: str, tmp_path: Path) -> None:
    contract = CONTRACTS[name]
    db = tmp_path / "cn.db"
    routes = [Route(contract.path, contract.route), *contract.extra_routes]
    with ReplayServer(routes) as upstream:
        spec = spec_for(contract, upstream.url)
        first = poll(spec, db)
        walked = [r.query.get(contract.cursor, "") for r in upstream.requests_to(contract.path)]
        again = poll(spec, db)
        asked_again = len(upstream.requests_to(contract.path)) - len(walked)
    assert first.error is None, first.error
    assert (first.pages, first.new, len(first.dropped)) == (3, contract.stored, contract.dropped)
    assert all(drop.reason.startswith(f"[{name}] ") for drop in first.dropped)
    if contract.cursors[0] == "(now)":  # 财联社's first page asks "older than now"
        assert int(walked[0]) > 1788228900
        walked[0] = "(now)"
    assert tuple(walked) == contract.cursors
    # The next poll meets stored items on its first page and walks back no further.
    assert (again.error, again.pages, again.new, asked_again) == (None, 1, 0, 1)

    def check(store: Store) -> None:
        assert store.count_items(name) == contract.stored
        state = store.get_state(name)
        assert state.last_error is None
        assert state.last_success is not None
        for upstream_id, want in contract.expect.items():
            item = store.get_item(name, upstream_id)
            assert item is not None, upstream_id
            assert (item.title, item.importance, item.stocks) == (
                want.title,
                want.importance,
                want.stocks,
            ), upstream_id
            if want.published is not None:
                assert item.published_at == want.published, upstream_id
            assert (item.category, item.tag) == (contract.category, contract.tag)

    stored(db, check)


def test_east_money_column_reads_full_text_with_mobile_fallback(tmp_path: Path) -> None:
    contract = CONTRACTS["em_column_1207"]
    db = tmp_path / "cn.db"
    with ReplayServer([Route(contract.path, contract.route), *contract.extra_routes]) as upstream:
        report = poll(spec_for(contract, upstream.url), db)
        paths = [r.path for r in upstream.requests]
    # Four new items: a page, a mobile fallback, a page without #ContentBody, a 404 on both.
    assert report.error is None
    assert report.fulltext_errors == 2
    assert paths.count("/wap/a/202609010000082233.html") == 1
    assert "/wap/a/202608310600445566.html" in paths
    expected = (DATA / "eastmoney_article/202609010600123456.expected.html").read_text("utf-8")

    def check(store: Store) -> None:
        desktop = store.get_item("em_column_1207", "202609010600123456")
        mobile = store.get_item("em_column_1207", "202609010000082233")
        no_body = store.get_item("em_column_1207", "202608312359517788")
        missing = store.get_item("em_column_1207", "202608310600445566")
        assert desktop is not None
        assert mobile is not None
        assert no_body is not None
        assert missing is not None
        # Stored as cleaned by the pipeline (indents removed), the QR code and tail gone.
        assert desktop.content.startswith("<p><strong>【宏观】</strong></p>")
        assert "中期借贷便利" in desktop.content
        assert "扫码" not in desktop.content
        assert "责任编辑" not in desktop.content
        assert desktop.content.count("<p>") == expected.count("<p>")
        assert mobile.content.startswith("<p>隔夜美股三大指数涨跌不一")  # GB2312 page decoded
        # No article body: kept with its digest, never the summary passed off as text.
        assert (no_body.content, missing.content) == ("", "")
        assert no_body.digest.startswith("国家统计局将于今日公布")
        assert desktop.media == "东方财富研究中心"

    stored(db, check)


ERRORS = [
    (
        "em_column_1207",
        "eastmoney_column/error.json",
        200,
        "got code '-1' with message '参数column错误'",
    ),
    ("em_column_1207", "eastmoney_column/changed_shape.json", 200, "expected a list under 'list'"),
    ("sina_zhibo", "sina_zhibo/error.json", 200, "status.code 0, got a number (1)"),
    ("sina_zhibo", "sina_zhibo/changed_shape.json", 200, "expected a list under 'list'"),
    ("ths", "ths/error_400.json", 400, "HTTP 400"),
    ("ths", "ths/error_400.json", 200, "with message '请求参数错误'"),
    ("ths", "ths/changed_shape.json", 200, "expected a list under 'data.list'"),
    ("wallstreetcn", "wallstreetcn/error.json", 200, "got a number (60301)"),
    ("wallstreetcn", "wallstreetcn/changed_shape.json", 200, "expected a list under 'items'"),
    ("jin10", "jin10/error.json", 200, "status 200, got a number (403) with message 'app id"),
    ("jin10", "jin10/changed_shape.json", 200, "expected a list under 'data'"),
    ("cls", "cls/error_sign.json", 200, "signature refused (errno 10012"),
    ("cls", "cls/changed_shape.json", 200, "expected a list under 'roll_data'"),
]


@pytest.mark.parametrize(("name", "body", "status", "message"), ERRORS)
def test_error_bodies_and_changed_shapes_show_as_the_source_error(
    name: str, body: str, status: int, message: str, tmp_path: Path
) -> None:
    contract = CONTRACTS[name]
    db = tmp_path / "cn.db"
    with ReplayServer([Route(contract.path, reply(body, status=status))]) as upstream:
        spec = spec_for(contract, upstream.url)
        first = poll(spec, db)
        second = poll(spec, db)
    assert first.error is not None
    assert message in first.error
    assert first.error.startswith(f"[{name}] ")
    assert upstream.url in first.error  # the error names where it came from
    assert (first.new, second.error) == (0, first.error)

    def check(store: Store) -> None:
        state = store.get_state(name)
        assert state.last_error == first.error
        assert state.consecutive_failures == 2
        assert store.count_items(name) == 0

    stored(db, check)


def test_ths_without_referer_is_refused_by_the_upstream(tmp_path: Path) -> None:
    contract = CONTRACTS["ths"]
    with ReplayServer([Route(contract.path, contract.route)]) as upstream:
        report = poll(spec_for(contract, upstream.url, referer=""), tmp_path / "cn.db")
    assert report.error is not None
    assert "HTTP 400" in report.error


def test_jin10_falls_back_to_flash_newest_js(tmp_path: Path) -> None:
    contract = CONTRACTS["jin10"]
    routes = [
        Route(contract.path, Reply(status=503, body=b"busy")),
        Route("/flash_newest.js", reply("jin10/flash_newest.js")),
    ]
    db = tmp_path / "cn.db"
    with ReplayServer(routes) as upstream:
        spec = spec_for(contract, upstream.url, fallback_urls=[upstream.url + "/flash_newest.js"])
        report = poll(spec, db)
        script = upstream.requests_to("/flash_newest.js")
    assert report.error is None
    assert report.new == 2
    assert script[0].headers["x-app-id"] == "testAppId"

    def check(store: Store) -> None:
        item = store.get_item("jin10", "20260901101500123400")
        assert item is not None
        assert (item.title, item.importance, item.media) == (
            "美联储官员：年内仍有降息空间",
            1,
            "路透",
        )

    stored(db, check)


def test_cls_with_a_stale_signature_rule_records_errno_10012(tmp_path: Path) -> None:
    """The upstream checks the sign; a client whose rule is out of date sees 10012."""
    contract = CONTRACTS["cls"]

    def strict(received: Received) -> Reply:
        params = dict(received.query)
        sign = params.pop("sign", "")
        params["sv"] = "9.0.0"  # the upstream now signs another client version
        return reply("cls/page1.json" if sign == cls_sign(params) else "cls/error_sign.json")

    db = tmp_path / "cn.db"
    with ReplayServer([Route(contract.path, strict)]) as upstream:
        stale = poll(spec_for(contract, upstream.url), db)
    assert stale.error is not None
    assert "errno 10012" in stale.error
    assert "sv" in stale.error
    assert stored(db, lambda store: store.get_state("cls").last_error) == stale.error


def test_every_cn_source_ships_with_its_evidenced_default_and_a_fixed_category() -> None:
    config = load_config(env={}, read_file=False)
    # on by default: two independent public clients of 2025-2026 agree on the shape
    on_by_default = {"sina_zhibo", "ths", "wallstreetcn", "jin10"}
    for source in ("em_focus", "em_column_1207", "em_column_350", *CONTRACTS):
        spec = config.source(source)
        assert spec.enabled is (source in on_by_default), source
        assert spec.settings["category"], source
        assert spec.settings["tag"], source
        fast = spec.adapter not in ("eastmoney_column",)
        assert spec.settings["interval"] == (30.0 if fast else 300.0), source
    focus = config.source("em_focus")
    assert (focus.adapter, focus.settings["column"]) == ("eastmoney_fast", "100")
    assert config.source("em_column_350").settings["column"] == "350"
    # Flashes are whole: full text is off for them unless asked for; on for articles.
    assert config.source("em_fast").settings["fulltext"] is False
    assert config.source("em_column_1207").settings["fulltext"] is True
