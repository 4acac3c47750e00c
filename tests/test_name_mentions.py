"""Mentions by known name (``derive/mentions.py``): an item whose title or digest names a
security the directory knows is about it, on both engines: ``ItemQuery.stock``, the
security's page (marked 提及（名称）), its feeds and ``/api/items?stock=`` find it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from finews.derive import Mentions, default_readers, open_store
from finews.models import Item
from finews.publish.settings import SiteSettings
from finews.publish.web import create_app
from finews.sources.securities import NameMatcher, security
from finews.store import ItemQuery
from finews.store.securities import learn_names
from finews.store.stocks import named_stocks
from site_data import TestClient, site_items

pytestmark = pytest.mark.timeout(60)


def _item(upstream_id: str, title: str, digest: str = "", minutes: int = 0) -> Item:
    base = site_items()[0]
    return base.replace(
        upstream_id=upstream_id,
        title=title,
        digest=digest,
        published_at=base.published_at + timedelta(minutes=minutes),
        stocks=(),
    )


def _about(db_url: str, code: str) -> list[str]:
    with open_store(db_url) as store:
        query = ItemQuery(stock=security(code))  # as the API and the pages ask
        return [item.upstream_id for item in store.items(query)]


def test_an_item_naming_a_known_name_is_on_its_page(db_url: str) -> None:
    with open_store(db_url) as store:
        learn_names(store, {"sh600519": "贵州茅台"}, "test")
        store.upsert_items(
            [
                _item("named", "贵州茅台发布年度报告", "营收增长。"),
                _item("in-digest", "白酒板块走强", "其中贵州茅台涨 2%。", minutes=1),
                _item("other", "白酒板块走弱", "与它无关。", minutes=2),
            ]
        )
        ids = {item.upstream_id: item.id for item in store.items(ItemQuery())}
        named = named_stocks(store, [i for i in ids.values() if i is not None])
        assert named == {ids["named"]: {"sh600519"}, ids["in-digest"]: {"sh600519"}}
    # every notation of the code finds them
    for code in ("sh600519", "600519", "1.600519"):
        assert sorted(_about(db_url, code)) == ["in-digest", "named"], code
    app = create_app(db_url, SiteSettings(page_size=4), poll_interval=0.05, heartbeat=0.5)
    with TestClient(app) as client:
        html = client.get("/stock/sh600519/").text
        assert "贵州茅台发布年度报告" in html
        assert html.count('class="how how-named">提及（名称）') == 2
        assert "「提及（名称）」：写到了它的名称（贵州茅台）" in html
        assert "白酒板块走弱" not in html
        feed = client.get("/stock/sh600519/feed.json").json()
        assert sorted(entry["title"] for entry in feed["items"]) == [
            "白酒板块走强",
            "贵州茅台发布年度报告",
        ]
        api = client.get("/api/items", params={"stock": "600519"}).json()
        assert sorted(row["title"] for row in api["items"]) == [
            "白酒板块走强",
            "贵州茅台发布年度报告",
        ]


def test_an_edit_is_read_again(db_url: str) -> None:
    with open_store(db_url) as store:
        learn_names(store, {"sh600519": "贵州茅台", "sz000858": "五粮液"}, "test")
        store.upsert_items([_item("edited", "贵州茅台发布公告")])
        assert _about(db_url, "sh600519") == ["edited"]
        store.upsert_items([_item("edited", "五粮液发布公告")])
    assert _about(db_url, "sh600519") == []
    assert _about(db_url, "sz000858") == ["edited"]


def test_the_longest_name_wins(db_url: str) -> None:
    with open_store(db_url) as store:
        # a made-up directory: one name is the start of the other
        learn_names(store, {"sz000001": "平安银行", "sh601318": "平安"}, "test")
        store.upsert_items([_item("bank", "平安银行发布公告")])
    assert _about(db_url, "sz000001") == ["bank"]
    assert _about(db_url, "sh601318") == []


def test_no_directory_no_mentions_and_no_rescan(db_url: str) -> None:
    with open_store(db_url) as store:
        store.upsert_items([_item("early", "贵州茅台发布年度报告")])
        assert _about(db_url, "sh600519") == []
        # the name learned later: the item stored before is not read again, a new one is
        learn_names(store, {"sh600519": "贵州茅台"}, "test")
        store.upsert_items([_item("late", "贵州茅台再发公告", minutes=1)])
    assert _about(db_url, "sh600519") == ["late"]


def test_mentions_is_a_default_reader_after_stories(db_url: str) -> None:
    with open_store(db_url) as store:
        stages = [reader.stage for reader in default_readers(store)]
        assert stages[-1] == Mentions.stage
        assert stages.index("mentions") > stages.index("stories")


def test_the_matcher() -> None:
    matcher = NameMatcher(
        {
            "sh601318": "中国平安",
            "hk02318": "中国平安",  # an A share and its H share: one name, both codes
            "sz000001": "平安银行",
            "usAAPL": "Apple",  # no Chinese character: also a part of words
            "sz000002": "万",  # one character
        }
    )
    assert matcher.codes("中国平安银行") == {"sh601318", "hk02318"}
    assert matcher.codes("平安银行、Apple 与万科") == {"sz000001"}
    assert not NameMatcher({})
    assert NameMatcher({}).codes("中国平安") == set()
