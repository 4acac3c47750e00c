"""A directory of security names (table ``securities``, migration 0014), on both engines:
learned from the names upstreams attach to the codes they tag (THS ``stock[].name``, CLS
``stock_list[].name``) as a poll stores their items, and from East Money's quote list when
switched on (``finews securities refresh``, a loopback server replying in the shape akshare's
``stock_zh_a_spot_em`` reads: ``data.diff[]`` of ``f12`` code, ``f13`` market, ``f14`` name;
``tests/data/eastmoney_quotes`` holds made-up replies of that shape). Security pages, their
feeds and the codes on article pages show the names."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from click.testing import CliRunner

from finews.cli import cli
from finews.daemon.runner import Daemon, DaemonSettings
from finews.demo.replay import ReplayServer, Route
from finews.derive import open_store
from finews.errors import ParseError
from finews.fetch import HttpClient
from finews.publish.settings import SiteSettings
from finews.publish.static_site import build_site
from finews.publish.urls import article_path
from finews.publish.web import create_app
from finews.refresh import SourceReport, refresh_source
from finews.sources.eastmoney_quotes import parse_quote_list, quote_list_request
from finews.store import Store
from finews.store.securities import count_names, learn_names, security_names
from site_data import TestClient
from test_daemon import until
from test_sources_cn import CONTRACTS, DATA, QUICK, reply, spec_for

pytestmark = pytest.mark.timeout(120)

CLIST = "/api/qt/clist/get"


def poll(name: str, db: str) -> None:
    contract = CONTRACTS[name]
    with ReplayServer([Route(contract.path, contract.route)]) as upstream:

        async def run() -> None:
            async with HttpClient(QUICK) as client:
                with open_store(db) as store:
                    report = await refresh_source(spec_for(contract, upstream.url), store, client)
                    assert report.error is None, report.error

        asyncio.run(run())


def names(db: str, *codes: str) -> dict[str, str]:
    with open_store(db) as store:
        return security_names(store, codes)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("ths", {"sh600519": "贵州茅台", "sz000858": "五粮液", "bj920118": "示例科技"}),
        ("cls", {"sh600519": "贵州茅台", "sz000858": "五粮液", "hk00700": "腾讯控股"}),
    ],
)
def test_a_poll_learns_the_names_its_upstream_attaches(
    db_url: str, source: str, expected: dict[str, str]
) -> None:
    poll(source, db_url)
    assert names(db_url, *expected, "sh601318") == expected  # a code no item named: none


def test_pages_feeds_and_articles_show_the_names(db_url: str, tmp_path: Path) -> None:
    poll("ths", db_url)
    settings = SiteSettings()
    with TestClient(create_app(db_url, settings)) as client:
        page = client.get("/stock/sh600519/").text
        assert "<title>贵州茅台（sh600519） · " in page
        assert '<h1>贵州茅台 <small class="code">sh600519</small> 相关消息' in page
        feed = client.get("/stock/sh600519/feed.json").json()
        assert feed["title"].startswith("贵州茅台（sh600519）")
        with open_store(db_url) as store:
            item = store.get_item("ths", "680012300")
        assert item is not None
        article = client.get(article_path(item)).text
        assert '<a class="stock" href="/stock/sh600519/">贵州茅台 sh600519</a>' in article
        live_page = page
    out = tmp_path / "site"
    with open_store(db_url) as store:
        build_site(store, out, settings, processes=1)
    static = (out / "stock" / "sh600519" / "index.html").read_text("utf-8")
    assert '<h1>贵州茅台 <small class="code">sh600519</small>' in static
    assert live_page.count("贵州茅台") == static.count("贵州茅台")


def test_the_newest_name_wins_and_an_unchanged_one_is_not_written(store: Store) -> None:
    assert learn_names(store, {"sz000002": "万科A", "sh600000": "浦发银行"}, "ths") == 2
    assert learn_names(store, {"sz000002": "万科A"}, "cls") == 0
    assert learn_names(store, {"sz000002": "万  科Ａ ", "": "无代码", "sh600001": " "}, "cls") == 1
    assert security_names(store, ["sz000002", "sh600000", "sh600001"]) == {
        "sz000002": "万 科Ａ",
        "sh600000": "浦发银行",
    }
    assert count_names(store) == 2


def test_the_quote_list_parser_reads_the_evidenced_shape() -> None:
    found = parse_quote_list((DATA / "eastmoney_quotes" / "clist.json").read_bytes())
    assert found == {
        "sh600519": "贵州茅台",
        "sz000858": "五粮液",
        "sz300750": "宁德时代",
        "sh688981": "中芯国际",
        "bj920118": "示例科技",  # East Money lists Beijing under market 0
    }  # 000001 has no name: left out
    assert parse_quote_list((DATA / "eastmoney_quotes" / "empty.json").read_bytes()) == {}
    for bad in (b"<html>busy</html>", b"[]", b'{"data": {"diff": 3}}'):
        with pytest.raises(ParseError):
            parse_quote_list(bad)
    request = quote_list_request("http://127.0.0.1:1/x")
    assert request.params["fields"] == "f12,f13,f14"
    assert request.params["fs"] == "m:0 t:6,m:0 t:80,m:1 t:2,m:1 t:23,m:0 t:81 s:2048"


def _refresh(db: str, *sets: str) -> tuple[int, str]:
    args = ["--database-url", db]
    for value in sets:
        args += ["--set", value]
    result = CliRunner().invoke(cli, [*args, "securities", "refresh"], catch_exceptions=False)
    return result.exit_code, result.output


def test_finews_securities_refresh_reads_the_quote_list_when_switched_on(db_url: str) -> None:
    body = reply("eastmoney_quotes/clist.json")
    query = {"np": "1", "fields": "f12,f13,f14"}
    with ReplayServer([Route(CLIST, body, query=query)]) as upstream:
        url = f"securities.list_url={upstream.url}{CLIST}"
        code, output = _refresh(db_url, url)
        assert code == 2  # off by default: nothing asked
        assert "securities.list_enabled = true" in output
        assert upstream.requests == []
        code, output = _refresh(db_url, url, "securities.list_enabled=true")
        assert code == 0, output
        assert "securities: 5 names new or changed; 5 known" in output
        code, output = _refresh(db_url, url, "securities.list_enabled=true")
        assert "securities: 0 names new or changed; 5 known" in output
        assert len(upstream.requests) == 2
    assert names(db_url, "sz300750", "sh688981") == {"sz300750": "宁德时代", "sh688981": "中芯国际"}


def test_a_failing_quote_list_says_so_and_writes_nothing(db_url: str) -> None:
    with ReplayServer([Route(CLIST, reply("eastmoney_quotes/clist.json", status=503))]) as up:
        code, output = _refresh(
            db_url,
            f"securities.list_url={up.url}{CLIST}",
            "securities.list_enabled=true",
            "http.retries=0",
        )
    assert code == 1
    assert "the quote list could not be read" in output
    assert "503" in output
    with open_store(db_url) as store:
        assert count_names(store) == 0


def test_the_daemon_reads_the_quote_list_when_switched_on(sqlite_url: str) -> None:
    """``finews run`` with ``securities.list_enabled`` reads the list as it starts (and
    daily), beside its polls."""
    contract = CONTRACTS["ths"]
    routes = [
        Route(contract.path, contract.route),
        Route(CLIST, reply("eastmoney_quotes/clist.json")),
    ]

    async def scenario(base: str) -> None:
        stop = asyncio.Event()
        polls: list[SourceReport] = []
        with open_store(sqlite_url) as store:
            daemon = Daemon(
                [spec_for(contract, base)],
                store,
                DaemonSettings(host_spacing=0, stop_grace=1),
                QUICK,
                on_poll=polls.append,
                names_url=base + CLIST,
            )
            task = asyncio.create_task(daemon.run(stop))
            await until(lambda: bool(polls) and count_names(store) == 5, "names and a poll")
            stop.set()
            await asyncio.wait_for(task, timeout=10)

    with ReplayServer(routes) as upstream:
        asyncio.run(scenario(upstream.url))
        assert len(upstream.requests_to(CLIST)) == 1
    # the list's five names; the poll's three (贵州茅台, 五粮液, 示例科技) are among them
    assert names(sqlite_url, "sz300750", "bj920118") == {
        "sz300750": "宁德时代",
        "bj920118": "示例科技",
    }
