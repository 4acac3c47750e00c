"""Items about one security (ItemQuery.stock, ``/api/items?stock=``): tagged with it in any
stored form, or naming its code in the title or digest; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest

from finews.models import Item
from finews.normalize.storable import storable_item
from finews.sources.securities import security
from finews.store import ItemQuery, Store
from finews.store.postgres import PostgresStore
from finews.store.sql import SqlStore
from finews.store.stocks import stock_keys, stock_mention
from helpers import make_item, make_items


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


def test_an_edit_moves_the_item_to_the_securities_it_now_names(store: Store) -> None:
    item = make_item(title="贵州茅台(600519)公告分红方案", stocks=("sh600519",))
    store.upsert_items([item])
    assert [i.upstream_id for i in store.items(ItemQuery(stock="sh600519"))] == [item.upstream_id]
    # the upstream corrects the item: another code named, another tag
    edited = make_item(
        upstream_id=item.upstream_id,
        published_at=item.published_at,
        title="平安银行(000001)公告分红方案",
        stocks=("sz000001",),
    )
    store.upsert_items([edited])
    assert list(store.items(ItemQuery(stock="sh600519"))) == []
    found = list(store.items(ItemQuery(stock="sz000001")))
    assert [i.upstream_id for i in found] == [item.upstream_id]
    assert stock_mention(found[0], "sz000001") == "tagged"


def test_a_code_inside_a_longer_number_is_no_mention() -> None:
    assert stock_keys("成交额 1600519 元，代码 600519", "港股 00700 与 6005", ()) == {
        "600519",
        "00700",
    }
    assert stock_keys("", "", ("SH600519", "1.600519")) == {"sh600519", "1.600519"}


def test_items_stored_before_the_index_are_found_after_migrating(store: Store) -> None:
    ids = _fill(store)
    assert isinstance(store, SqlStore)
    # an archive from before migration 0012: no item_stocks at all
    with store.transaction() as tx:
        tx.execute("DROP TABLE item_stocks")
        tx.execute("DELETE FROM schema_version WHERE version = 12")
    assert store.migrate() == [12]
    found = [item.id for item in store.items(ItemQuery(stock="sh600519"))]
    assert found == [ids["in_digest"], ids["mentioned"], ids["old_form"], ids["tagged"]]
    assert [i.id for i in store.items(ItemQuery(stock="sz000001"))] == [ids["old_form"]]


@contextmanager
def _statements(store: SqlStore) -> Iterator[list[tuple[str, list[Any]]]]:
    """Every statement ``store`` reads with meanwhile, with its arguments."""
    seen: list[tuple[str, list[Any]]] = []
    original = SqlStore.query

    def recording(self: SqlStore, statement: str, params: Sequence[Any] = ()) -> list[Any]:
        if self is store:
            seen.append((statement, list(params)))
        return original(self, statement, params)

    SqlStore.query = recording  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        SqlStore.query = original  # type: ignore[method-assign]


def _plan(store: SqlStore, query: ItemQuery) -> tuple[list[Item], str]:
    """The items ``query`` lists and the plan of the statement that read them."""
    with _statements(store) as seen:
        found = list(store.items(query))
    statement, args = seen[-1]
    if isinstance(store, PostgresStore):
        return found, "\n".join(row[0] for row in store.query("EXPLAIN " + statement, args))
    rows = store.query("EXPLAIN QUERY PLAN " + statement, args)
    return found, "\n".join(str(row[3]).strip() for row in rows)


def test_a_security_is_looked_up_by_index_not_by_reading_every_item(store: Store) -> None:
    """A security's page reads its items through item_stocks: for a made-up code and a
    rare one the plan has no scan of items on either engine; a common one (more than
    COMMON_STOCK items) walks the newest-first index, probing each row's keys, and stops
    at its page, never sorting all its items."""
    assert isinstance(store, SqlStore)
    for _ in range(6):
        store.upsert_items(make_items(500, stocks=("sh600000",)), derive=False)
    named = make_item(title="浦发银行(600000)公告", stocks=("sh600519",))
    store.upsert_items([named])
    postgres = isinstance(store, PostgresStore)
    if postgres:
        with store.transaction() as tx:  # the planner's row counts, as autovacuum keeps them
            tx.execute("ANALYZE items")
            tx.execute("ANALYZE item_stocks")
    for first_reports_only in (False, True):
        for code in ("sh999999", "sh600519"):
            query = ItemQuery(stock=code, limit=30, first_reports_only=first_reports_only)
            found, plan = _plan(store, query)
            assert [i.upstream_id for i in found] == (
                [named.upstream_id] if code == "sh600519" else []
            )
            assert "item_stocks" in plan
            if postgres:
                assert "Seq Scan on items" not in plan, plan
            else:
                assert not any(line.startswith("SCAN items") for line in plan.splitlines()), plan
        query = ItemQuery(stock="sh600000", limit=30, first_reports_only=first_reports_only)
        found, plan = _plan(store, query)
        assert len(found) == 30
        assert found[0].upstream_id == named.upstream_id
        assert stock_mention(found[0], "sh600000") == "mentioned"
        assert {stock_mention(i, "sh600000") for i in found[1:]} == {"tagged"}
        assert "item_stocks" in plan
        if postgres:
            assert "Seq Scan on items" not in plan, plan
        else:
            assert "SCAN items USING INDEX items_published" in plan, plan
            assert "TEMP B-TREE" not in plan, plan
