"""The East Money adapters: parsing recorded payloads, paging, malformed replies, and whole
polls through the real HTTP client against the replay upstream (fixtures and demo data)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from finews.config import load_config
from finews.demo.replay import ReplayServer, Reply, Route, demo_routes, demo_source_overrides
from finews.errors import ConfigError, ParseError
from finews.fetch import HttpClient, HttpSettings
from finews.models import RawItem, SourceSpec
from finews.sources import adapters, get_adapter, registry
from finews.sources.base import Adapter, Page, Request

DATA = Path(__file__).parent / "data" / "eastmoney"
BEIJING = timezone(timedelta(hours=8))
FAST_SETTINGS = HttpSettings(timeout=2.0, retries=1, backoff=0.01)


def payload(name: str) -> bytes:
    return (DATA / name).read_bytes()


def expected(name: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((DATA / name).read_text("utf-8"))
    return result


def as_json(value: Any) -> Any:
    """A dataclass as the plain JSON shape the .expected.json files use (an item without
    its kept raw record: tests/test_sources_cn.py checks it reads back)."""
    fields = dataclasses.asdict(value)
    for name in ("record", "record_format", "article"):
        fields.pop(name, None)
    return json.loads(json.dumps(fields, ensure_ascii=False))


def spec_for(source_id: str, adapter: str, **settings: Any) -> SourceSpec:
    return SourceSpec(id=source_id, adapter=adapter, settings=settings)


ROLLING = spec_for("emnews", "eastmoney_rolling")
MEDIA = spec_for("em_media", "eastmoney_media")
MARKET = spec_for("em_market", "eastmoney_market")
FAST = spec_for("em_fast", "eastmoney_fast")


def parse(spec: SourceSpec, name: str, request: Request | None = None) -> Page:
    adapter = get_adapter(spec.adapter)
    return adapter.parse_page(spec, payload(name), request or adapter.first_page(spec))


# ---- registry ------------------------------------------------------------------------


def test_registry_lists_every_adapter_by_name() -> None:
    names = ["eastmoney_fast", "eastmoney_market", "eastmoney_media", "eastmoney_rolling"]
    assert list(adapters()) == sorted(registry)  # other upstreams' adapters sit among them
    assert set(names) <= set(registry)
    assert all(get_adapter(name).name == name for name in names)


def test_unknown_adapter_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match=r"known adapters: .*eastmoney_fast, .*eastmoney_rolling"):
        get_adapter("eastmoney_typo")


def test_every_upstream_url_is_a_setting_with_a_default() -> None:
    for adapter in adapters().values():
        settings = {setting.name: setting for setting in adapter.settings}
        if adapter.name == "feed":
            # a feed's URL is the user's; no default exists
            assert settings["url"].default == ""
            continue
        assert settings["url"].default.startswith("http")
        assert all(setting.help for setting in adapter.settings)
        request = adapter.first_page(SourceSpec(id="x", adapter=adapter.name))
        assert request.url == settings["url"].default


# ---- legacy lists --------------------------------------------------------------------


def test_rolling_news_request_and_items() -> None:
    request = get_adapter("eastmoney_rolling").first_page(ROLLING)
    assert request.url == "http://183.136.162.242/web/webapi"
    assert dict(request.params) == {"type": "102", "count": "100", "newsid": "1"}
    page = parse(ROLLING, "rolling_type102.json", request)
    want = expected("rolling_type102.expected.json")
    assert [as_json(item) for item in page.items] == want["items"]
    assert page.dropped == []
    assert page.next is None


def test_rolling_news_count_setting() -> None:
    spec = spec_for("emnews", "eastmoney_rolling", count=500, url="http://mirror.test/api")
    request = get_adapter("eastmoney_rolling").first_page(spec)
    assert request.url == "http://mirror.test/api"
    assert request.params["count"] == "500"


def test_media_news_items_keep_media_names_as_given() -> None:
    request = get_adapter("eastmoney_media").first_page(MEDIA)
    assert dict(request.params) == {"type": "45", "count": "100", "newsid": "1"}
    page = parse(MEDIA, "media_type45.json", request)
    assert [as_json(item) for item in page.items] == expected("media_type45.expected.json")["items"]
    assert page.items[1].media == "Wind 资讯"
    assert page.next is None


def test_market_news_pages_through_the_market_types() -> None:
    adapter = get_adapter("eastmoney_market")
    first = adapter.first_page(MARKET)
    assert first.url == "http://43.240.125.15:1818/information/newmarket/web/webapi"
    assert dict(first.params) == {"marketType": "37", "count": "100"}
    page = adapter.parse_page(MARKET, payload("market_37.json"), first)
    want = expected("market_37.expected.json")
    assert [as_json(item) for item in page.items] == want["items"]
    assert page.next is not None
    assert as_json(page.next) == want["next"]
    second = adapter.parse_page(MARKET, payload("market_38.json"), page.next)
    assert [item.upstream_id for item in second.items] == ["202608312359999999"]
    assert second.next is not None
    assert second.next.params["marketType"] == "39"
    third = adapter.parse_page(MARKET, payload("market_39.json"), second.next)
    assert third.items == []
    assert third.next is None


def test_market_types_setting_orders_the_pages() -> None:
    adapter = get_adapter("eastmoney_market")
    spec = spec_for("em_market", "eastmoney_market", market_types=["39", 37])
    first = adapter.first_page(spec)
    assert first.params["marketType"] == "39"
    page = adapter.parse_page(spec, payload("market_39.json"), first)
    assert page.next is not None
    assert page.next.params["marketType"] == "37"
    assert adapter.parse_page(spec, payload("market_37.json"), page.next).next is None


@pytest.mark.parametrize("bad", [[], "37", [37, "x"], [True], None, ["²"]])
def test_bad_market_types_setting_is_a_config_error(bad: Any) -> None:
    # refused as the settings load, before any request is built
    with pytest.raises(ConfigError, match=r"sources\.em_market\.market_types"):
        load_config(env={}, read_file=False, source_overrides={"em_market": {"market_types": bad}})


def test_market_types_as_digits_are_asked_as_given() -> None:
    config = load_config(
        env={}, read_file=False, source_overrides={"em_market": {"market_types": ["39", 37]}}
    )
    spec = config.source("em_market")
    assert get_adapter("eastmoney_market").first_page(spec).params["marketType"] == "39"


@pytest.mark.parametrize(
    ("spec", "body", "key"),
    [
        (ROLLING, b'{"nodeList": []}', "'records'"),
        (MEDIA, b'{"records": []}', "'nodeList'"),
        (MARKET, b'{"record": {"infoCode": "1"}}', "'record'"),
        (ROLLING, b"[]", "'records'"),
    ],
)
def test_legacy_wrong_envelope_is_a_parse_error(spec: SourceSpec, body: bytes, key: str) -> None:
    adapter = get_adapter(spec.adapter)
    with pytest.raises(ParseError) as caught:
        adapter.parse_page(spec, body, adapter.first_page(spec))
    message = str(caught.value)
    assert f"expected a list under {key}" in message or f"with a list under {key}" in message
    assert f"[{spec.id}]" in message
    assert caught.value.url == adapter.first_page(spec).url


def test_legacy_bad_items_are_dropped_with_reasons() -> None:
    body = json.dumps(
        {
            "nodeList": [
                {
                    "infocode": "1001",
                    "title": "好的",
                    "showtime": "2026-09-01 08:00:00",
                    "from": "甲",
                },
                {"title": "无代码", "showtime": "2026-09-01 08:00:00"},
                42,
                {"infocode": "1002", "title": "坏的", "showtime": {"when": "now"}},
                {"infocode": 1003, "title": "整数代码也可以", "from": "乙"},
            ]
        },
        ensure_ascii=False,
    ).encode()
    page = get_adapter("eastmoney_media").parse_page(MEDIA, body, Request(url="http://u"))
    assert [item.upstream_id for item in page.items] == ["1001", "1003"]
    reasons = {(drop.upstream_id, drop.reason) for drop in page.dropped}
    assert reasons == {
        (None, "[em_media] item #1 has no id (field 'infocode')"),
        (None, "[em_media] item #2 is not an object but a number (42)"),
        (
            "1002",
            "[em_media] item 1002: field 'showtime' should be a time, "
            "got an object with keys [when]",
        ),
    }
    assert all(drop.source == "em_media" for drop in page.dropped)


# ---- legacy full text ----------------------------------------------------------------


def item_for(spec: SourceSpec, key: str | None) -> RawItem:
    return RawItem(source=spec.id, upstream_id="1", fulltext_key=key)


@pytest.mark.parametrize("spec", [ROLLING, MEDIA, MARKET])
def test_fulltext_request_asks_by_infocode(spec: SourceSpec) -> None:
    adapter = get_adapter(spec.adapter)
    request = adapter.fulltext_request(spec, item_for(spec, "NW1"))
    assert request == Request(
        url="http://choicewzp1.eastmoney.com/NewsData/GetNewsText.do", params={"id": "NW1"}
    )
    assert adapter.fulltext_request(spec, item_for(spec, None)) is None


@pytest.mark.parametrize(
    ("name", "starts"),
    [
        ("fulltext_content.json", "<p>　　中国人民银行今日开展3000亿元"),
        ("fulltext_text.json", "<p>　　四家券商发布九月金股组合"),
        ("fulltext_null.json", ""),
    ],
)
@pytest.mark.parametrize("spec", [ROLLING, MEDIA, MARKET])
def test_fulltext_reads_content_or_text(spec: SourceSpec, name: str, starts: str) -> None:
    text = get_adapter(spec.adapter).parse_fulltext(spec, payload(name), item_for(spec, "NW1"))
    assert text.startswith(starts)
    assert bool(text) == bool(starts)


@pytest.mark.parametrize(
    ("body", "text"),
    [
        (b"{}", ""),
        (b'{"content": "", "text": "B"}', "B"),
        (b'{"content": "A", "text": "B"}', "A"),
        (b'\xef\xbb\xbf{"text": "bom"}', "bom"),
    ],
)
def test_fulltext_key_precedence(body: bytes, text: str) -> None:
    adapter = get_adapter("eastmoney_media")
    assert adapter.parse_fulltext(MEDIA, body, item_for(MEDIA, "9")) == text


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b"<html>502 Bad Gateway</html>", "not JSON"),
        (b"", "empty"),
        (b'["content"]', "expected the full-text reply to be an object, got a list of 1"),
        (b'{"content": 12}', "expected text under 'content', got a number"),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_fulltext_bad_reply_is_a_parse_error(body: bytes, match: str) -> None:
    adapter = get_adapter("eastmoney_rolling")
    with pytest.raises(ParseError, match=match) as caught:
        adapter.parse_fulltext(ROLLING, body, item_for(ROLLING, "NW7"))
    assert caught.value.url.endswith("GetNewsText.do?id=NW7")
    assert caught.value.source == "emnews"


# ---- fast news -----------------------------------------------------------------------


def test_fast_first_request() -> None:
    adapter = get_adapter("eastmoney_fast")
    request = adapter.first_page(FAST)
    assert request.url == "https://np-weblist.eastmoney.com/comm/web/getFastNewsList"
    assert request.fallback_urls == ("https://np-listapi.eastmoney.com/comm/web/getFastNewsList",)
    params = dict(request.params)
    trace = params.pop("req_trace")
    assert trace.isdigit()
    assert params == {
        "client": "web",
        "biz": "web_724",
        "fastColumn": "102",
        "sortEnd": "",
        "pageSize": "50",
    }
    assert dict(request.headers) == {"Referer": "https://kuaixun.eastmoney.com/"}
    assert adapter.first_page(FAST).params["req_trace"] != trace


def test_fast_settings_change_the_request() -> None:
    spec = spec_for("em_fast", "eastmoney_fast", column="101", page_size=200, fallback_urls=[])
    request = get_adapter("eastmoney_fast").first_page(spec)
    assert request.params["fastColumn"] == "101"
    assert request.params["pageSize"] == "200"
    assert request.fallback_urls == ()


def test_fast_page_items_and_cursor() -> None:
    page = parse(FAST, "fast_page1.json")
    want = expected("fast_page1.expected.json")
    assert [as_json(item) for item in page.items] == want["items"]
    assert page.dropped == []
    assert page.next is not None
    assert page.next.params["sortEnd"] == want["next_sort_end"]
    assert page.next.params["fastColumn"] == "102"
    assert page.next.headers["Referer"] == "https://kuaixun.eastmoney.com/"


def test_fast_realsort_of_13_and_16_digits_is_kept_as_given() -> None:
    cursors = [item.cursor for item in parse(FAST, "fast_page1.json").items]
    assert {len(cursor or "") for cursor in cursors} == {13, 16}


def test_fast_paging_over_two_pages_then_the_end() -> None:
    adapter = get_adapter("eastmoney_fast")
    first = parse(FAST, "fast_page1.json")
    assert first.next is not None
    second = adapter.parse_page(FAST, payload("fast_page2.json"), first.next)
    assert [item.upstream_id for item in second.items] == ["202608312330000005"]
    assert second.items[0].stocks == ()  # stockList null
    assert second.next is not None
    assert second.next.params["sortEnd"] == "1788190000000005"
    end = adapter.parse_page(FAST, payload("fast_end.json"), second.next)
    assert end.items == []
    assert end.next is None


@pytest.mark.parametrize(
    "data",
    [
        {"fastNewsList": [], "sortEnd": "1788190000000005"},  # empty list: stop, or we loop
        {"fastNewsList": [{"code": "1"}]},  # no cursor
        {"fastNewsList": [{"code": "1"}], "sortEnd": "  "},
    ],
)
def test_fast_no_next_page_without_items_or_cursor(data: dict[str, Any]) -> None:
    body = json.dumps({"code": "1", "message": "success", "data": data}).encode()
    assert get_adapter("eastmoney_fast").parse_page(FAST, body, Request(url="u")).next is None


def test_fast_numeric_sort_end_is_accepted() -> None:
    body = b'{"code": "1", "data": {"sortEnd": 1788190000000005, "fastNewsList": [{"code": "1"}]}}'
    page = get_adapter("eastmoney_fast").parse_page(FAST, body, Request(url="u"))
    assert page.next is not None
    assert page.next.params["sortEnd"] == "1788190000000005"


def test_fast_error_body_names_code_and_message() -> None:
    with pytest.raises(ParseError) as caught:
        parse(FAST, "fast_error.json")
    message = str(caught.value)
    assert 'expected code "1"' in message
    assert "'-1'" in message
    assert "参数错误" in message
    assert caught.value.url == "https://np-weblist.eastmoney.com/comm/web/getFastNewsList"
    assert message.startswith("[em_fast] ")


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b'{"code": 1, "message": "success", "data": {}}', "got code 1 "),
        (b'{"code": "0", "message": "fail"}', "got code '0' with message 'fail'"),
        (b'{"code": "1", "data": {"list": []}}', "expected a list under 'fastNewsList'"),
        (b'{"code": "1", "data": {"fastNewsList": {}}}', "got an empty object"),
        (b'{"code": "1", "data": {"fastNewsList": [], "sortEnd": []}}', "'data.sortEnd'"),
        (b"[1, 2]", "expected the reply to be an object, got a list of 2"),
        (b"<!DOCTYPE html><title>403</title>", "not JSON.*DOCTYPE"),
        (b"callback(not json)", "not JSON"),
    ],
)
def test_fast_wrong_envelope_is_a_parse_error(body: bytes, match: str) -> None:
    request = Request(url="https://np-listapi.eastmoney.com/comm/web/getFastNewsList")
    with pytest.raises(ParseError, match=match) as caught:
        get_adapter("eastmoney_fast").parse_page(FAST, body, request)
    assert caught.value.url == request.url
    assert caught.value.source == "em_fast"


def test_fast_jsonp_reply_is_unwrapped() -> None:
    body = b"jQuery35107_1788000000000(" + payload("fast_page2.json") + b");"
    page = get_adapter("eastmoney_fast").parse_page(FAST, body, Request(url="u"))
    assert [item.upstream_id for item in page.items] == ["202608312330000005"]


def test_fast_bad_items_are_dropped_good_ones_kept() -> None:
    page = parse(FAST, "fast_mixed.json")
    assert [item.upstream_id for item in page.items] == ["202609010800000006", "202609010755000011"]
    assert page.items[1].importance == 1  # titleColor "3" as a string still counts
    assert page.items[1].stocks == ("sz000001",)  # finews notation (sources/securities.py)
    assert [(drop.upstream_id, drop.reason) for drop in page.dropped] == [
        (None, "[em_fast] item #1 is not an object but a string ('not an object')"),
        (None, "[em_fast] item #2 has no id (field 'code')"),
        (None, "[em_fast] item #3 has no id (field 'code')"),
        (
            "202609010757000009",
            "[em_fast] item 202609010757000009: field 'stockList' should be a list of strings, "
            "got a string ('1.600519')",
        ),
        (
            "202609010756000010",
            "[em_fast] item 202609010756000010: field 'title' should be text, got a list of 2",
        ),
    ]
    assert page.next is not None  # dropped items do not end the paging


@pytest.mark.parametrize("color", ["²", "red", 1.5, True])
def test_fast_unreadable_title_color_drops_the_item(color: Any) -> None:
    entry = {"code": "202609010000000001", "title": "t", "titleColor": color}
    body = json.dumps({"code": "1", "data": {"sortEnd": "", "fastNewsList": [entry]}}).encode()
    page = get_adapter("eastmoney_fast").parse_page(FAST, body, Request(url="u"))
    assert page.items == []
    (drop,) = page.dropped
    assert drop.upstream_id == "202609010000000001"
    assert "field 'titleColor' should be an integer" in drop.reason


def test_fast_article_url_setting() -> None:
    spec = spec_for("em_fast", "eastmoney_fast", article_url="https://m.example/{code}?x={y}")
    page = parse(spec, "fast_page2.json")
    assert page.items[0].url == "https://m.example/202608312330000005?x={y}"


def test_fast_has_no_fulltext() -> None:
    item = parse(FAST, "fast_page1.json").items[0]
    assert get_adapter("eastmoney_fast").fulltext_request(FAST, item) is None


# ---- whole polls through HttpClient and the replay upstream --------------------------


async def poll(client: HttpClient, adapter: Adapter, spec: SourceSpec) -> list[Page]:
    """What refresh does, minimally: follow ``next`` until the end (bounded)."""
    pages: list[Page] = []
    request: Request | None = adapter.first_page(spec)
    while request is not None and len(pages) < 10:
        response = await client.get(request, source=spec.id)
        pages.append(adapter.parse_page(spec, response.body, request))
        request = pages[-1].next
    return pages


async def fulltexts(
    client: HttpClient, adapter: Adapter, spec: SourceSpec, items: list[RawItem]
) -> dict[str, str]:
    texts: dict[str, str] = {}
    for item in items:
        request = adapter.fulltext_request(spec, item)
        if request is not None:
            response = await client.get(request, source=spec.id)
            texts[item.upstream_id] = adapter.parse_fulltext(spec, response.body, item)
    return texts


def fixture_routes() -> list[Route]:
    def fast(received: Any) -> Reply:
        pages = {"": "fast_page1.json", "1788192002010000": "fast_page2.json"}
        return Reply(body=payload(pages.get(received.query.get("sortEnd"), "fast_end.json")))

    def text(received: Any) -> Reply:
        name = {"NW202609011030111111": "fulltext_content.json"}.get(received.query["id"])
        return Reply(body=payload(name or "fulltext_text.json"))

    return [
        Route("/web/webapi", Reply(body=payload("rolling_type102.json")), {"type": "102"}),
        Route("/market", Reply(body=payload("market_37.json")), {"marketType": "37"}),
        Route("/market", Reply(body=payload("market_38.json")), {"marketType": "38"}),
        Route("/market", Reply(body=payload("market_39.json")), {"marketType": "39"}),
        Route("/text", text),
        Route("/fast", fast),
    ]


def test_fixture_polls_through_the_http_client() -> None:
    async def run(base: str) -> dict[str, Any]:
        rolling = spec_for(
            "emnews", "eastmoney_rolling", url=f"{base}/web/webapi", fulltext_url=f"{base}/text"
        )
        market = spec_for("em_market", "eastmoney_market", url=f"{base}/market")
        fast = spec_for("em_fast", "eastmoney_fast", url=f"{base}/fast", fallback_urls=[])
        async with HttpClient(FAST_SETTINGS) as client:
            rolling_pages = await poll(client, get_adapter("eastmoney_rolling"), rolling)
            return {
                "rolling": rolling_pages,
                "texts": await fulltexts(
                    client, get_adapter("eastmoney_rolling"), rolling, rolling_pages[0].items
                ),
                "market": await poll(client, get_adapter("eastmoney_market"), market),
                "fast": await poll(client, get_adapter("eastmoney_fast"), fast),
            }

    with ReplayServer(fixture_routes()) as server:
        got = asyncio.run(run(server.url))
        requests = server.requests
    assert [len(page.items) for page in got["rolling"]] == [3]
    assert got["texts"]["202609011030111111"].startswith("<p>　　中国人民银行")
    assert got["texts"]["202609010002222222"].startswith("<p>　　四家券商")
    assert len(got["texts"]) == 2  # the third item has no infoCode: nothing asked
    assert [len(page.items) for page in got["market"]] == [2, 1, 0]
    assert [len(page.items) for page in got["fast"]] == [4, 1, 0]
    fast_requests = [r for r in requests if r.path == "/fast"]
    assert [r.query["sortEnd"] for r in fast_requests] == [
        "",
        "1788192002010000",
        "1788190000000005",
    ]
    assert all(r.headers["referer"] == "https://kuaixun.eastmoney.com/" for r in fast_requests)
    assert len({r.query["req_trace"] for r in fast_requests}) == 3
    assert all(r.headers["user-agent"] == HttpSettings().user_agent for r in requests)


DEMO_NOW = datetime(2026, 11, 26, 8, 0, 0, tzinfo=BEIJING)

DEMO_SOURCES = {
    "emnews": "eastmoney_rolling",
    "em_media": "eastmoney_media",
    "em_market": "eastmoney_market",
    "em_fast": "eastmoney_fast",
}


def demo_poll(routes: list[Route]) -> tuple[dict[str, list[Page]], dict[str, dict[str, str]]]:
    async def run(base: str) -> tuple[dict[str, list[Page]], dict[str, dict[str, str]]]:
        overrides = demo_source_overrides(base)
        pages: dict[str, list[Page]] = {}
        texts: dict[str, dict[str, str]] = {}
        async with HttpClient(FAST_SETTINGS) as client:
            for source_id, adapter_name in DEMO_SOURCES.items():
                adapter = get_adapter(adapter_name)
                spec = spec_for(source_id, adapter_name, **overrides[source_id])
                pages[source_id] = await poll(client, adapter, spec)
                items = [item for page in pages[source_id] for item in page.items]
                texts[source_id] = await fulltexts(client, adapter, spec, items)
        return pages, texts

    with ReplayServer(routes) as server:
        return asyncio.run(run(server.url))


def test_demo_upstream_serves_every_demo_source() -> None:
    pages, texts = demo_poll(demo_routes(now=lambda: DEMO_NOW))
    counts = {sid: [len(page.items) for page in got] for sid, got in pages.items()}
    assert counts == {
        "emnews": [12],
        "em_media": [8],
        "em_market": [3, 3, 3],
        "em_fast": [15, 15, 0],
    }
    assert all(not page.dropped for got in pages.values() for page in got)
    assert len(texts["em_media"]) == 8
    assert len(texts["em_market"]) == 9
    # Rolling news has full texts, empty ones (digest only) and one the upstream lacks.
    rolling = texts["emnews"]
    assert sum(1 for text in rolling.values() if text) >= 6
    assert sum(1 for text in rolling.values() if not text) >= 2
    assert all("　　" in text for text in texts["em_market"].values())
    hostile = [text for text in texts["em_media"].values() if "<script>" in text]
    assert len(hostile) == 1
    assert "onerror=" in hostile[0]
    assert "javascript:" in hostile[0]
    assert "<iframe" in hostile[0]
    media = {item.media for page in pages["em_media"] for item in page.items}
    assert {"新华财经", "36氪", "证券时报", "中国证券报"} <= media
    assert any(" " in name for name in media if name)


def test_demo_times_are_recent_and_keep_midnight() -> None:
    pages, _ = demo_poll(demo_routes(now=lambda: DEMO_NOW))
    items = [item for got in pages.values() for page in got for item in page.items]
    stamps = [
        datetime.strptime(str(item.published), "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING)
        for item in items
    ]
    assert max(stamps) <= DEMO_NOW
    assert min(stamps) >= DEMO_NOW - timedelta(days=3)
    fast_days = {str(item.published)[:10] for page in pages["em_fast"] for item in page.items}
    assert fast_days == {"2026-11-24", "2026-11-25"}  # newest is 09:58, after 08:00: a day back


def test_demo_fast_news_fails_over_to_the_fallback_host() -> None:
    blocked = Route("/comm/web/getFastNewsList", Reply(status=403, body=b"blocked"))
    pages, _ = demo_poll([blocked, *demo_routes(now=lambda: DEMO_NOW)])
    assert [len(page.items) for page in pages["em_fast"]] == [15, 15, 0]


def test_demo_overrides_cover_the_four_demo_sources() -> None:
    overrides = demo_source_overrides("http://127.0.0.1:9/")
    assert set(overrides) == set(DEMO_SOURCES)
    for source_id, settings in overrides.items():
        declared = {s.name for s in get_adapter(DEMO_SOURCES[source_id]).settings}
        assert set(settings) <= declared
        urls = [v for v in settings.values() if isinstance(v, str)]
        urls += [u for v in settings.values() if isinstance(v, list) for u in v]
        assert all(url.startswith("http://127.0.0.1:9/") for url in urls)
