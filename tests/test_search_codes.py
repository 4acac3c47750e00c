"""A search for a security code finds the items tagged with it in any notation, as well as
the items naming its code; on SQLite and PostgreSQL, from the command line and the web."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from finews.derive import open_store
from finews.derive.search import SearchQuery, search
from finews.publish.catalog import Catalog
from finews.publish.settings import SiteSettings
from finews.publish.web import LiveSite
from finews.sources.securities import code_query
from finews.store import Store
from helpers import make_item


def _items() -> list[Any]:
    return [
        # tagged in finews notation, the code nowhere in the text
        make_item(upstream_id="tag", title="白酒板块午后走强", digest="多只白酒股上涨。",
                  stocks=("sh600519",)),
        # tagged in East Money's form (stored before codes were put in one notation)
        make_item(upstream_id="old", title="消费龙头获资金流入", digest="北向资金净买入。",
                  stocks=("1.600519",)),
        # naming the code in its text only
        make_item(upstream_id="text", title="公司公告", digest="贵州茅台(600519)公告分红。"),
        make_item(upstream_id="none", title="铜价走高", digest="沪铜主力合约上涨。",
                  stocks=("sz000001",)),
    ]  # fmt: skip


@pytest.mark.parametrize("written", ["600519", "sh600519", "SH600519", "1.600519", "600519.SH"])
def test_search_for_a_code_finds_it_in_any_notation(store: Store, written: str) -> None:
    store.upsert_items(_items())
    results = search(store, SearchQuery(text=written))
    assert [hit.item.upstream_id for hit in results.hits] == ["text", "old", "tag"]
    assert not results.more
    first = search(store, SearchQuery(text=written, limit=2))
    assert [hit.item.upstream_id for hit in first.hits] == ["text", "old"]
    assert first.more
    rest = search(store, SearchQuery(text=written, limit=2, offset=2))
    assert [hit.item.upstream_id for hit in rest.hits] == ["tag"]
    assert not rest.more
    ranked = search(store, SearchQuery(text=written, order="relevance"))
    assert ranked.hits[0].item.upstream_id == "text"  # the one naming it ranks first


def test_words_are_not_taken_for_codes() -> None:
    for word in ("usd", "USA", "央行", "降息", "abc", "2024"):
        assert code_query(word) is None, word
    assert code_query("AAPL.US") == "usAAPL"
    assert code_query("us AAPL") == "usAAPL"
    assert code_query("0700.HK") == "hk00700"
    assert code_query(" 600519 ") == "sh600519"


@pytest.fixture
def filled(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'codes.db'}"
    with open_store(url) as store:
        store.upsert_items(_items())
    return url


def test_search_command_finds_a_code_in_any_notation(filled: str) -> None:
    from click.testing import CliRunner

    from finews.cli import cli

    for written in ("600519", "sh600519"):
        found = CliRunner().invoke(cli, ["--database-url", filled, "search", written, "--json"])
        assert found.exit_code == 0, found.output
        hits = json.loads(found.output)["hits"]
        assert [hit["upstream_id"] for hit in hits] == ["text", "old", "tag"]


def test_web_search_finds_a_code_in_any_notation(filled: str) -> None:
    from starlette.applications import Starlette

    from finews.publish.search_routes import routes
    from site_data import TestClient

    app = Starlette(routes=routes)
    settings = SiteSettings(base_url="https://finews.example.org/", feed_size=5)
    with open_store(filled) as store:
        app.state.site = LiveSite(store, settings, Catalog.scan(store, settings.page_size))
        with TestClient(app) as client:
            reply = client.get("/api/search", params={"q": "1.600519"})
            assert reply.status_code == 200
            assert [hit["upstream_id"] for hit in reply.json()["hits"]] == ["text", "old", "tag"]
            page = client.get("/search", params={"q": "SH600519"})
            assert page.status_code == 200
            assert "白酒板块午后走强" in page.text
            assert "<mark>600519</mark>" in page.text
