"""The adapters against what public clients of the same hosts read and send (issue 18,
"Mismatches found"; issue 19 point 12).

Every payload here is written for this test in the shape the evidence shows (see each
adapter's docstring and the README's source table); the text is invented. Parsing tests feed
bytes to the pure adapter; fetch tests serve the payloads from the real loopback
``ReplayServer`` and poll it with the real ``HttpClient`` and ``refresh_source`` into a real
SQLite store, checking the query parameters and headers the adapter sends."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from finews.cli import cli
from finews.config import load_config
from finews.demo.replay import Received, ReplayServer, Reply, Route
from finews.derive import open_store
from finews.errors import ConfigError, ParseError
from finews.fetch import HttpClient, HttpSettings
from finews.models import IMPORTANCE_HIGH, IMPORTANCE_NORMAL, SourceSpec
from finews.refresh import SourceReport, refresh_source
from finews.sources import get_adapter
from finews.sources._fields import BROWSER_USER_AGENT
from finews.sources.base import Page, Request
from finews.sources.cls import cls_sign
from finews.store import ItemQuery, Store

QUICK = HttpSettings(timeout=5.0, retries=0, backoff=0.01)
FINEWS_AGENT = HttpSettings().user_agent


def body(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def parse(adapter: str, payload: object, request: Request | None = None, **settings: Any) -> Page:
    plugin = get_adapter(adapter)
    spec = SourceSpec(id=adapter, adapter=adapter, settings=settings)
    return plugin.parse_page(spec, body(payload), request or plugin.first_page(spec))


def configured(source: str, adapter: str, url: str, **settings: Any) -> SourceSpec:
    """A source as finews.toml would configure it: every default filled in and checked."""
    table = {"adapter": adapter, "enabled": True, "url": url, **settings}
    return load_config(env={}, read_file=False, source_overrides={source: table}).source(source)


def poll(spec: SourceSpec, db: Path, settings: HttpSettings = QUICK) -> SourceReport:
    async def run() -> SourceReport:
        async with HttpClient(settings) as client:
            with open_store(f"sqlite:///{db}") as store:
                return await refresh_source(spec, store, client)

    return asyncio.run(run())


def stored(db: Path, check: Callable[[Store], Any]) -> Any:
    with open_store(f"sqlite:///{db}") as store:
        return check(store)


# ---- 1. 同花顺: data.list without code; name-only stocks; three tag shapes ---------------

THS_NO_CODE = {
    "data": {
        "list": [
            {
                "id": "710000002",
                "seq": "710000002",
                "title": "测试快讯：某板块午后拉升",
                "digest": "测试正文：某板块午后拉升，多只个股涨停。",
                "url": "https://news.10jqka.com.cn/20261207/c710000002.shtml",
                "ctime": "1796608800",
                "source": "测试社",
                "color": "2",
                "import": "1",
                "tags": [{"id": "21103", "name": "A股"}],
                "tagInfo": [{"id": "9", "name": "机会"}, {"id": "21103", "name": "A股"}],
                "stock": [{"name": "测试股份"}, {"name": "示例科技", "stockCode": "300001"}],
            },
            {
                "id": "710000001",
                "title": "测试快讯：某公司发布公告",
                "digest": "测试正文：某公司发布公告。",
                "ctime": "1796608700",
                "tag": "公告, A股",
                "stock": [{"name": "测试股份"}],
            },
        ]
    }
}


def test_ths_reads_data_list_without_an_envelope_code() -> None:
    page = parse("ths", THS_NO_CODE)
    assert [item.upstream_id for item in page.items] == ["710000002", "710000001"]
    assert page.dropped == []
    assert page.next is not None
    assert page.next.params["page"] == "2"
    first, second = page.items
    assert first.importance == IMPORTANCE_HIGH  # color "2"
    assert first.extra["tags"] == ("A股", "机会")  # tags[] and tagInfo[] merged, once each
    assert second.extra["tags"] == ("公告", "A股")  # "tag" as a comma-separated string
    assert first.stocks == ("sz300001",)
    assert first.extra["stock_names"] == ("测试股份",)  # a name with no code is kept by name
    assert second.stocks == ()
    assert second.extra["stock_names"] == ("测试股份",)


def test_ths_reply_without_a_list_names_its_code_and_message() -> None:
    with pytest.raises(ParseError, match=r"'data.list'.*'400'.*请求参数错误"):
        parse("ths", {"code": "400", "msg": "请求参数错误", "data": None})


# ---- 2. Sina: importance marks of every vintage; both page-size spellings -----------------


def sina_entry(n: int, **marks: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": 9000 + n,
        "zhibo_id": 152,
        "rich_text": f"【测试{n}】测试正文第{n}条。",
        "create_time": f"2026-12-07 09:0{n}:00",
        "creator": "tester@staff.sina.com",
        "tag": [{"id": "1", "name": "A股"}],
        "ext": json.dumps({"docurl": f"https://finance.sina.com.cn/7x24/t{n}.shtml"}),
    }
    entry.update(marks)
    return entry


def sina_reply(entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "result": {
            "status": {"code": 0, "msg": "OK"},
            "data": {"feed": {"list": entries, "html": ""}},
        }
    }


def test_sina_importance_from_top_value_is_focus_the_focus_tag_or_is_top() -> None:
    entries = [
        sina_entry(1, top_value=1, is_focus=0),  # 2025-12 shape: no is_top
        sina_entry(2, top_value=0, is_focus=1),
        sina_entry(3, top_value=0, is_focus=0, tag=[{"id": "8", "name": "焦点"}]),
        sina_entry(4, top_value=0, is_focus=0),
        sina_entry(5, is_top=1),  # the older shape still counts
        sina_entry(6, top_value="0", is_focus="0"),
    ]
    page = parse("sina_zhibo", sina_reply(entries))
    assert page.dropped == []
    assert [item.importance for item in page.items] == [
        IMPORTANCE_HIGH,
        IMPORTANCE_HIGH,
        IMPORTANCE_HIGH,
        IMPORTANCE_NORMAL,
        IMPORTANCE_HIGH,
        IMPORTANCE_NORMAL,
    ]


def test_sina_sends_both_page_size_spellings_at_most_ten() -> None:
    plugin = get_adapter("sina_zhibo")
    default = plugin.first_page(SourceSpec(id="s", adapter="sina_zhibo"))
    assert (default.params["pagesize"], default.params["page_size"]) == ("10", "10")
    big = plugin.first_page(SourceSpec(id="s", adapter="sina_zhibo", settings={"page_size": 50}))
    assert (big.params["pagesize"], big.params["page_size"]) == ("10", "10")
    small = plugin.first_page(SourceSpec(id="s", adapter="sina_zhibo", settings={"page_size": 5}))
    assert (small.params["pagesize"], small.params["page_size"]) == ("5", "5")


def test_sina_fetch_sends_the_evidenced_query_and_stores_the_marks(tmp_path: Path) -> None:
    pages = {"1": [sina_entry(1, top_value=1, is_focus=0), sina_entry(2)], "2": []}

    def route(received: Received) -> Reply:
        return Reply.json(sina_reply(pages.get(received.query.get("page", ""), [])))

    db = tmp_path / "s.db"
    with ReplayServer([Route("/api/zhibo/feed", route)]) as upstream:
        report = poll(configured("sz", "sina_zhibo", upstream.url + "/api/zhibo/feed"), db)
        asked = upstream.requests_to("/api/zhibo/feed")
    assert report.error is None, report.error
    assert report.new == 2
    first = asked[0]
    assert {k: first.query[k] for k in ("zhibo_id", "page", "pagesize", "page_size")} == {
        "zhibo_id": "152",
        "page": "1",
        "pagesize": "10",
        "page_size": "10",
    }
    assert [r.query["page"] for r in asked] == ["1", "2"]
    assert first.headers["user-agent"] == BROWSER_USER_AGENT
    assert first.headers["referer"] == "https://finance.sina.com.cn/7x24/"
    assert stored(db, lambda s: s.get_item("sz", "9001").importance) == IMPORTANCE_HIGH
    assert stored(db, lambda s: s.get_item("sz", "9002").importance) == IMPORTANCE_NORMAL


# ---- 3. 金十: source_link, the flash detail link, lock and channel 5 -----------------------


def jin10_entry(n: int, data: dict[str, Any], **more: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": f"2026120709000{n}000000",
        "time": f"2026-12-07 09:00:0{n}",
        "type": 0,
        "important": 0,
        "channel": [1],
        "tags": [],
        "remark": [],
        "data": {"content": f"测试快讯第{n}条正文。", "title": "", "pic": "", **data},
    }
    entry.update(more)
    return entry


def test_jin10_links_and_vip_handling_follow_newsnow() -> None:
    entries = [
        jin10_entry(1, {"source_link": "https://example.com/a1", "link": "https://x/old"}),
        jin10_entry(2, {"link": "https://www.jin10.com/details/2"}),
        jin10_entry(3, {}),
        jin10_entry(4, {"lock": True, "vip_level": 1, "content": "测试锁定内容。"}),
        jin10_entry(5, {}, channel=[1, 5]),
        jin10_entry(6, {"content": "", "vip_title": "测试会员标题", "vip_level": 1}),
        jin10_entry(7, {"vip_level": 0, "lock": False}),
    ]
    page = parse("jin10", {"status": 200, "message": "OK", "data": entries})
    urls = {item.upstream_id[13]: item.url for item in page.items}
    assert urls == {
        "1": "https://example.com/a1",
        "2": "https://www.jin10.com/details/2",
        "3": "https://flash.jin10.com/detail/20261207090003000000",
        "7": "https://flash.jin10.com/detail/20261207090007000000",
    }
    reasons = {drop.upstream_id[13]: drop.reason for drop in page.dropped if drop.upstream_id}
    assert "data.lock" in reasons["4"]
    assert "channel 5" in reasons["5"]
    assert "neither data.title nor data.content" in reasons["6"]
    assert all(reason.startswith("[jin10] item ") for reason in reasons.values())


def test_jin10_falls_back_only_to_the_evidenced_host() -> None:
    request = get_adapter("jin10").first_page(SourceSpec(id="j", adapter="jin10"))
    assert request.fallback_urls == ("https://www.jin10.com/flash_newest.js",)
    assert request.headers["User-Agent"] == BROWSER_USER_AGENT


def test_jin10_fetch_stores_the_source_link(tmp_path: Path) -> None:
    entries = [jin10_entry(1, {"source_link": "https://example.com/a1"}), jin10_entry(2, {})]
    pages = {"": entries}

    def route(received: Received) -> Reply:
        found = pages.get(received.query.get("max_time", "x"), [])
        return Reply.json({"status": 200, "message": "OK", "data": found})

    db = tmp_path / "j.db"
    with ReplayServer([Route("/get_flash_list", route)]) as upstream:
        spec = configured("jx", "jin10", upstream.url + "/get_flash_list", fallback_urls=[])
        report = poll(spec, db)
        asked = upstream.requests_to("/get_flash_list")
    assert report.error is None, report.error
    assert [r.query["max_time"] for r in asked] == ["", "2026-12-07 09:00:02"]
    assert asked[0].headers["user-agent"] == BROWSER_USER_AGENT
    assert stored(db, lambda s: s.get_item("jx", "20261207090001000000").url) == (
        "https://example.com/a1"
    )
    assert stored(db, lambda s: s.get_item("jx", "20261207090002000000").url) == (
        "https://flash.jin10.com/detail/20261207090002000000"
    )


# ---- 4. East Money: "data": null past the end; column 100 is 焦点 --------------------------

EM_END = {"code": "1", "message": "success", "data": None}


def em_entry(n: int) -> dict[str, Any]:
    return {
        "code": f"20261207090{n}00000{n}",
        "title": f"测试快讯{n}",
        "summary": f"【测试快讯{n}】测试正文。",
        "showTime": f"2026-12-07 09:0{n}:00",
        "realSort": f"179660880000000{n}",
        "stockList": [],
        "titleColor": 0,
        "image": [],
    }


def test_east_money_data_null_ends_the_walk() -> None:
    page = parse("eastmoney_fast", EM_END)
    assert (page.items, page.dropped, page.next) == ([], [], None)


def test_east_money_focus_source_asks_column_100() -> None:
    spec = load_config(env={}, read_file=False).source("em_focus")
    assert get_adapter(spec.adapter).first_page(spec).params["fastColumn"] == "100"
    column = next(s for s in get_adapter("eastmoney_fast").settings if s.name == "column")
    assert "100 = 焦点" in column.help
    assert "101 = 要闻" in column.help


def test_east_money_fetch_ends_quietly_on_data_null(tmp_path: Path) -> None:
    first = {
        "code": "1",
        "message": "success",
        "data": {"fastNewsList": [em_entry(2), em_entry(1)], "sortEnd": "1796608800000001"},
    }

    def route(received: Received) -> Reply:
        return Reply.json(first if not received.query.get("sortEnd") else EM_END)

    db = tmp_path / "e.db"
    path = "/comm/web/getFastNewsList"
    with ReplayServer([Route(path, route)]) as upstream:
        report = poll(configured("ex", "eastmoney_fast", upstream.url + path, fallback_urls=[]), db)
        asked = upstream.requests_to(path)
    assert report.error is None, report.error
    assert (report.pages, report.new) == (2, 2)
    assert [r.query["sortEnd"] for r in asked] == ["", "1796608800000001"]
    # East Money takes finews's own User-Agent (akshare sends python-requests'): unchanged
    assert all(r.headers["user-agent"] == FINEWS_AGENT for r in asked)
    assert stored(db, lambda s: s.get_state("ex").last_error) is None


# ---- 5. 华尔街见闻: later pages say first_page=false ----------------------------------------


def wscn_reply(ids: list[int], cursor: str) -> dict[str, Any]:
    items = [
        {
            "id": n,
            "title": "",
            "content_text": f"测试快讯{n}。",
            "content": f"<p>测试快讯{n}。</p>",
            "content_more": "",
            "display_time": 1796608800 - n,
            "score": 1,
            "uri": f"https://wallstreetcn.com/livenews/{n}",
            "author": {"display_name": "测试编辑"},
            "images": [],
        }
        for n in ids
    ]
    return {"code": 20000, "message": "OK", "data": {"items": items, "next_cursor": cursor}}


def test_wallstreetcn_later_pages_send_first_page_false_with_the_cursor(tmp_path: Path) -> None:
    def route(received: Received) -> Reply:
        if received.query.get("first_page") == "true":
            return Reply.json(wscn_reply([3, 2], "1796608798"))
        if received.query.get("cursor") == "1796608798":
            return Reply.json(wscn_reply([1], "1796608799"))
        return Reply.json(wscn_reply([], ""))

    db = tmp_path / "w.db"
    path = "/apiv1/content/lives"
    with ReplayServer([Route(path, route)]) as upstream:
        report = poll(configured("wx", "wallstreetcn", upstream.url + path, fallback_urls=[]), db)
        asked = upstream.requests_to(path)
    assert report.error is None, report.error
    assert report.new == 3
    paging = [(r.query.get("first_page"), r.query.get("cursor")) for r in asked]
    assert paging == [("true", None), ("false", "1796608798"), ("false", "1796608799")]
    assert all(r.query["client"] == "pc" and r.query["accept"] == "live" for r in asked)
    assert asked[0].headers["user-agent"] == BROWSER_USER_AGENT


# ---- 6. 财联社: the request variants the evidence shows -----------------------------------


def cls_reply(ids: list[int], *, errno: bool = True) -> dict[str, Any]:
    rolls = [
        {
            "id": n,
            "title": "",
            "brief": f"【测试电报{n}】测试正文。",
            "content": f"【测试电报{n}】测试正文。",
            "ctime": 1796608800 - n,
            "level": "C",
            "shareurl": f"https://api3.cls.cn/share/article/{n}",
            "stock_list": [],
            "subjects": [],
            "images": [],
        }
        for n in ids
    ]
    reply: dict[str, Any] = {"data": {"roll_data": rolls}}
    if errno:
        reply = {"errno": 0, "msg": "", **reply}
    return reply


def signed(received: Received) -> bool:
    params = dict(received.query)
    return params.pop("sign", None) == cls_sign(params)


@pytest.mark.parametrize(
    ("variant", "app_param", "sv"),
    [("web", "app", "8.4.6"), ("appname", "appName", "7.7.5")],
)
def test_cls_roll_list_variants_send_their_shape_signed(
    variant: str, app_param: str, sv: str, tmp_path: Path
) -> None:
    def route(received: Received) -> Reply:
        if not signed(received):
            return Reply.json({"errno": 10012, "msg": "签名错误"})
        return Reply.json(cls_reply([2, 1] if received.query["last_time"] != "1796608798" else []))

    db = tmp_path / "c.db"
    path = "/v1/roll/get_roll_list"
    with ReplayServer([Route(path, route)]) as upstream:
        report = poll(configured("cx", "cls", upstream.url + path, variant=variant), db)
        asked = upstream.requests_to(path)
    assert report.error is None, report.error
    assert report.new == 2
    query = asked[0].query
    assert query[app_param] == "CailianpressWeb"
    assert ({"app", "appName"} - {app_param}).isdisjoint(query)
    assert (query["sv"], query["os"], query["refresh_type"], query["rn"]) == (sv, "web", "1", "20")
    assert [r.query["last_time"] for r in asked][1:] == ["1796608798"]
    assert asked[0].headers["user-agent"] == BROWSER_USER_AGENT


def test_cls_cache_variant_reads_the_unfiltered_list_once(tmp_path: Path) -> None:
    def route(received: Received) -> Reply:
        if not signed(received) or received.query.get("name") != "telegraph":
            return Reply(status=400, body=b"bad request")
        return Reply.json(cls_reply([3, 2, 1], errno=False))  # RSSHub reads no errno here

    db = tmp_path / "c.db"
    with ReplayServer([Route("/api/cache", route)]) as upstream:
        spec = configured(
            "cc",
            "cls",
            upstream.url + "/unused",
            variant="cache",
            cache_url=upstream.url + "/api/cache",
        )
        report = poll(spec, db)
        asked = upstream.requests_to("/api/cache")
    assert report.error is None, report.error
    assert (report.pages, report.new) == (1, 3)
    (only,) = asked
    assert set(only.query) == {"appName", "name", "os", "sv", "sign"}
    assert (only.query["appName"], only.query["sv"]) == ("CailianpressWeb", "7.7.5")


def test_cls_sv_setting_overrides_the_variant_default() -> None:
    plugin = get_adapter("cls")
    request = plugin.first_page(
        SourceSpec(id="c", adapter="cls", settings={"variant": "appname", "sv": "8.7.9"})
    )
    assert request.params["sv"] == "8.7.9"
    params = dict(request.params)
    assert params.pop("sign") == cls_sign(params)


def test_cls_unknown_variant_is_refused_at_start_up() -> None:
    with pytest.raises(ConfigError, match=r"variant.*'web', 'appname', 'cache'"):
        configured("cv", "cls", "https://www.cls.cn/v1/roll/get_roll_list", variant="mobile")


# ---- 7. User-Agent per source -------------------------------------------------------------

BROWSER_HOSTS = ["ths", "sina_zhibo", "jin10", "wallstreetcn", "cls"]


@pytest.mark.parametrize("adapter", BROWSER_HOSTS)
def test_hosts_whose_clients_all_send_a_browser_agent_get_one(adapter: str) -> None:
    plugin = get_adapter(adapter)
    request = plugin.first_page(SourceSpec(id="x", adapter=adapter))
    assert request.headers["User-Agent"] == BROWSER_USER_AGENT
    own = plugin.first_page(SourceSpec(id="x", adapter=adapter, settings={"user_agent": ""}))
    assert "User-Agent" not in own.headers  # empty: the client's http.user_agent goes out


def test_a_configured_user_agent_goes_out_and_http_user_agent_stays_the_fallback(
    tmp_path: Path,
) -> None:
    pages = {"1": THS_NO_CODE}

    def route(received: Received) -> Reply:
        return Reply.json(pages.get(received.query.get("page", ""), {"data": {"list": []}}))

    path = "/tapp/news/push/stock/"
    with ReplayServer([Route(path, route)]) as upstream:
        custom = configured("t1", "ths", upstream.url + path, user_agent="test-agent/1.0")
        poll(custom, tmp_path / "a.db")
        own = configured("t2", "ths", upstream.url + path, user_agent="")
        poll(own, tmp_path / "b.db", HttpSettings(timeout=5.0, retries=0, user_agent="mine/2"))
        agents = [r.headers["user-agent"] for r in upstream.requests_to(path)]
    assert agents == ["test-agent/1.0"] * 2 + ["mine/2"] * 2


def test_ths_fetch_without_code_stores_every_item(tmp_path: Path) -> None:
    def route(received: Received) -> Reply:
        page = received.query.get("page")
        return Reply.json(THS_NO_CODE if page == "1" else {"data": {"list": []}})

    db = tmp_path / "t.db"
    path = "/tapp/news/push/stock/"
    with ReplayServer([Route(path, route)]) as upstream:
        report = poll(configured("tx", "ths", upstream.url + path), db)
        asked = upstream.requests_to(path)
    assert report.error is None, report.error
    assert report.new == 2
    assert [(r.query["page"], r.query["track"], r.query["tag"]) for r in asked] == [
        ("1", "website", ""),
        ("2", "website", ""),
    ]
    assert asked[0].headers["referer"] == "https://news.10jqka.com.cn/realtimenews.html"


# ---- 9. charsets: the HTTP header, a lossy decode, JSON Feed 1.1 ------------------------


def rss(title: bytes, declaration: bytes = b'<?xml version="1.0"?>') -> bytes:
    return (
        declaration
        + b'<rss version="2.0"><channel><title>T</title><item><title>'
        + title
        + b"</title><guid>g1</guid><link>https://example.com/1</link></item></channel></rss>"
    )


def feed_poll(tmp_path: Path, reply: Reply) -> tuple[SourceReport, list[Any], str | None]:
    db = tmp_path / "f.db"
    with ReplayServer([Route("/f", reply)]) as upstream:
        spec = configured("ff", "feed", upstream.url + "/f", allow_private=True)
        report = poll(spec, db)

    def check(store: Store) -> tuple[list[Any], str | None]:
        return list(store.items(ItemQuery(source="ff"))), store.get_state("ff").last_error

    items, last_error = stored(db, check)
    return report, items, last_error


def test_a_charset_given_only_in_the_http_header_is_used(tmp_path: Path) -> None:
    headers = {"Content-Type": "text/xml; charset=windows-1252"}
    report, items, last_error = feed_poll(
        tmp_path, Reply(body=rss(b"This is a \x93test.\x94"), headers=headers)
    )
    assert report.error is None, report.error
    assert [item.title for item in items] == ["This is a \u201ctest.\u201d"]
    assert (report.warning, last_error) == (None, None)


def test_the_http_charset_ranks_before_the_documents_declaration(tmp_path: Path) -> None:
    title = "Тестовая новость"  # invented
    headers = {"Content-Type": 'application/rss+xml; charset="KOI8-R"'}
    body = rss(title.encode("koi8-r"), b'<?xml version="1.0" encoding="iso-8859-1"?>')
    report, items, _ = feed_poll(tmp_path, Reply(body=body, headers=headers))
    assert report.error is None, report.error
    assert [item.title for item in items] == [title]


def test_a_lossy_decode_is_kept_logged_and_recorded_on_the_source(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # 0xFF starts no character in UTF-8, GB18030 or Big5-HKSCS: some bytes must be replaced
    body = rss(b"\xb2\xe2\xca\xd4\xff\xff")
    with caplog.at_level(logging.WARNING, logger="finews.refresh"):
        report, items, last_error = feed_poll(tmp_path, Reply(body=body, headers={}))
    assert report.error is None, report.error
    assert len(items) == 1  # the item is kept
    assert "\ufffd" in items[0].title
    assert report.warning is not None
    assert "U+FFFD" in report.warning
    assert last_error is not None
    assert last_error.startswith("warning: ")
    assert any("source=ff" in r.getMessage() and "U+FFFD" in r.getMessage() for r in caplog.records)


def test_a_json_feed_with_a_bare_version_number_is_read(tmp_path: Path) -> None:
    feed = {
        "version": "1.1",
        "title": "测试",
        "items": [{"id": "j1", "url": "https://example.com/j1", "title": "测试条目"}],
    }
    report, items, _ = feed_poll(tmp_path, Reply.json(feed))
    assert report.error is None, report.error
    assert [item.title for item in items] == ["测试条目"]


@pytest.mark.parametrize("label", ["hex", "base64", "uu", "zlib", "rot13", "bz2", "quopri"])
def test_a_codec_that_is_no_charset_does_not_stop_finews_fetch(label: str, tmp_path: Path) -> None:
    """Issue 19 point 12: such a label ended ``finews fetch`` with LookupError."""
    title = "测试标题"
    body = rss(title.encode("gb18030"), f'<?xml version="1.0" encoding="{label}"?>'.encode())
    with ReplayServer([Route("/f", Reply(body=body, headers={"Content-Type": "text/xml"}))]) as up:
        config = tmp_path / "finews.toml"
        config.write_text(
            f'database_url = "sqlite:///{tmp_path}/x.db"\n[http]\nretries = 0\n'
            f'[sources.hx]\nadapter = "feed"\nenabled = true\nurl = "{up.url}/f"\n'
            "allow_private = true\n",
            encoding="utf-8",
        )
        result = CliRunner().invoke(cli, ["--config", str(config), "fetch", "-s", "hx"])
    assert result.exit_code == 0, result.output
    items = stored(tmp_path / "x.db", lambda s: list(s.items(ItemQuery(source="hx"))))
    assert [item.title for item in items] == [title]
