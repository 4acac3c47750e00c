"""Items about one security (ItemQuery.stock, ``/api/items?stock=``): tagged with it in any
stored form, or naming its code in the title or digest; on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from finews.normalize.storable import storable_item
from finews.sources.securities import security
from finews.store import ItemQuery, Store
from finews.store.base import stock_mention
from helpers import make_item


def _fill(store: Store) -> dict[str, int]:
    items = {
        # stored the way items are stored now: in finews notation
        "tagged": storable_item(make_item(title="白酒板块走强", stocks=("SH600519",))),
        # stored before codes were put in one notation: East Money's form, kept as it was
        "old_form": make_item(title="消费股午后拉升", stocks=("1.600519", "0.000001")),
        "mentioned": make_item(title="贵州茅台(600519)公告分红方案", stocks=()),
        "in_digest": make_item(title="白酒龙头公告", digest="公司代码 600519，拟分红。"),
        "other": make_item(title="腾讯控股发布财报", stocks=("hk00700",)),
        "near_miss": make_item(title="代码 60051 不是任何证券", stocks=("sh600518",)),
    }
    ids = {}
    for name, item in items.items():
        store.upsert_items([item])
        found = store.get_item(item.source, item.upstream_id)
        assert found is not None
        assert found.id is not None
        ids[name] = found.id
    return ids


@pytest.mark.parametrize("notation", ["sh600519", "600519", "SH600519", "1.600519", "600519.SH"])
def test_items_about_a_security_in_any_notation(store: Store, notation: str) -> None:
    ids = _fill(store)
    canonical = security(notation)
    assert canonical == "sh600519"
    found = list(store.items(ItemQuery(stock=canonical)))
    assert [item.id for item in found] == [
        ids["in_digest"], ids["mentioned"], ids["old_form"], ids["tagged"]
    ]  # fmt: skip
    how = {item.id: stock_mention(item, canonical) for item in found}
    assert how == {
        ids["tagged"]: "tagged",
        ids["old_form"]: "tagged",
        ids["mentioned"]: "mentioned",
        ids["in_digest"]: "mentioned",
    }


def test_stock_tags_are_stored_in_finews_notation(store: Store) -> None:
    item = storable_item(make_item(stocks=("600519.SS", "0700.HK", "AAPL.US", "600519")))
    store.upsert_items([item])
    stored = store.get_item(item.source, item.upstream_id)
    assert stored is not None
    assert stored.stocks == ("sh600519", "hk00700", "usAAPL")


def test_a_hong_kong_code_and_the_other_filters_combine(store: Store) -> None:
    ids = _fill(store)
    assert [i.id for i in store.items(ItemQuery(stock="hk00700"))] == [ids["other"]]
    assert [i.id for i in store.items(ItemQuery(stock="sz000001"))] == [ids["old_form"]]
    assert list(store.items(ItemQuery(stock="sh600519", source="nowhere"))) == []
    assert list(store.items(ItemQuery(stock="usAAPL"))) == []
