"""One storage suite, run on SQLite and on PostgreSQL through the ``store`` fixture."""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finews.derive import derive_backlog, open_store
from finews.errors import StoreError
from finews.models import Item, SourceState, UpsertResult
from finews.store import ItemQuery, Store
from finews.store.sql import SqlStore
from finews.store.tables import TABLES
from helpers import BASE_TIME, BEIJING, make_item, make_items

# --- helpers ---------------------------------------------------------------------------------


def newest_version(store: Store) -> int:
    assert isinstance(store, SqlStore)
    folder = resources.files("finews.store") / "migrations" / store.engine
    return max(int(e.name.split("_", 1)[0]) for e in folder.iterdir() if e.name.endswith(".sql"))


def expected(stored: list[Item], query: ItemQuery) -> list[Item]:
    """What ``items(query)`` must return, worked out in Python."""
    out = [
        i
        for i in stored
        if (query.source is None or i.source == query.source)
        and (query.category is None or i.category == query.category)
        and (query.since is None or i.published_at >= query.since)
        and (query.until is None or i.published_at < query.until)
        and (query.important is None or (i.importance > 0) == query.important)
    ]
    out.sort(key=lambda i: (i.published_at, i.id), reverse=not query.oldest_first)
    if query.before is not None:
        at, item_id = query.before
        if query.oldest_first:
            out = [i for i in out if (i.published_at, i.id or 0) > (at, item_id)]
        else:
            out = [i for i in out if (i.published_at, i.id or 0) < (at, item_id)]
    return out if query.limit is None else out[: query.limit]


def query_id(query: ItemQuery) -> str:
    """A short test id: the fields that differ from the default query, with values."""
    default = ItemQuery()
    parts = [
        f"{name}={getattr(query, name)!s:.10}"
        for name in ItemQuery.__slots__
        if getattr(query, name) != getattr(default, name)
    ]
    return ",".join(parts) or "all"


def ids(items: list[Item]) -> list[int | None]:
    return [i.id for i in items]


@pytest.fixture
def two_stores(db_url: str) -> Iterator[tuple[Store, Store]]:
    first, second = open_store(db_url), open_store(db_url)
    try:
        yield first, second
    finally:
        first.close()
        second.close()


# --- migrations ------------------------------------------------------------------------------


def test_migrate_is_idempotent(store: Store, db_url: str) -> None:
    newest = newest_version(store)
    assert store.schema_version() == newest
    assert store.migrate() == []
    with open_store(db_url) as again:
        assert again.migrate() == []
        assert again.schema_version() == newest


def test_opening_an_up_to_date_store_needs_no_write_lock(tmp_path: Path) -> None:
    """`finews serve` or `finews sources` opening the database while the daemon's writer
    holds SQLite's write lock must not wait for it (nor fail after the busy timeout)."""
    import sqlite3

    path = tmp_path / "locked.db"
    open_store(f"sqlite:///{path}").close()
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        opened = threading.Event()

        def open_and_read() -> None:
            with open_store(f"sqlite:///{path}") as store:
                store.count_items()
                opened.set()

        reader = threading.Thread(target=open_and_read, daemon=True)
        reader.start()
        assert opened.wait(10), "opening the store waited for the write lock"
        reader.join(10)
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_migrate_fresh_database_applies_every_script_once(db_url: str) -> None:
    stores = [open_store(db_url, migrate=False) for _ in range(3)]
    try:
        assert stores[0].schema_version() == 0
        applied: list[list[int]] = []
        threads = [threading.Thread(target=lambda s=s: applied.append(s.migrate())) for s in stores]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        versions = sorted(v for run in applied for v in run)
        # every script once (not range(1, newest): a branch may add 0011 before 0010 lands)
        assert isinstance(stores[0], SqlStore)
        assert versions == [version for version, _ in stores[0]._scripts()]
        assert all(s.schema_version() == versions[-1] for s in stores)
    finally:
        for s in stores:
            s.close()


# --- upsert, revisions, merging --------------------------------------------------------------


def test_upsert_counts_new_unchanged_updated(store: Store) -> None:
    a, b, c = make_items(3)
    assert store.upsert_items([a, b, c]) == UpsertResult(new=3)
    assert store.upsert_items([a, b, c]) == UpsertResult(unchanged=3)
    d = make_item()
    assert store.upsert_items([a.replace(title="修改后的标题"), b, d]) == UpsertResult(
        new=1, updated=1, unchanged=1
    )
    assert store.count_items() == 4
    assert store.upsert_items([]) == UpsertResult()


def test_same_key_twice_in_one_batch(store: Store) -> None:
    a = make_item()
    result = store.upsert_items([a, a.replace(title="同批次内更新")])
    assert result == UpsertResult(new=1, updated=1)
    stored = store.get_item(a.source, a.upstream_id)
    assert stored is not None
    assert (stored.title, stored.revision) == ("同批次内更新", 2)


def test_upstream_edit_keeps_previous_revisions(store: Store) -> None:
    v1 = make_item(title="央行宣布降准0.5个百分点", content="<p>第一版全文</p>")
    store.upsert_items([v1])
    v2 = v1.replace(title="央行宣布降准0.5个百分点 释放长期资金约1万亿元")
    v3 = v2.replace(content="<p>第三版全文，补充了细节</p>", importance=1)
    assert store.upsert_items([v2]).updated == 1
    assert store.upsert_items([v3]).updated == 1
    current = store.get_item(v1.source, v1.upstream_id)
    assert current is not None
    assert current.id is not None
    assert current.revision == 3
    assert (current.title, current.content, current.importance) == (v3.title, v3.content, 1)
    history = store.revisions(current.id)
    assert [r.revision for r in history] == [1, 2]
    assert [(r.title, r.content, r.importance) for r in history] == [
        (v1.title, v1.content, 0),
        (v2.title, v1.content, 0),
    ]
    assert all(r.id == current.id and r.source == v1.source for r in history)
    assert store.revisions(current.id + 1000) == []


def test_repoll_without_content_keeps_full_text(store: Store) -> None:
    full = make_item(content="<p>全文：本周A股三大指数集体上涨。</p>", author="张三")
    store.upsert_items([full])
    bare = full.replace(content="", digest="", author=None, stocks=())
    assert store.upsert_items([bare]) == UpsertResult(unchanged=1)
    kept = store.get_item(full.source, full.upstream_id)
    assert kept is not None
    assert (kept.content, kept.digest, kept.author) == (full.content, full.digest, "张三")
    # a real edit without content still keeps the text, in the row and in the revision
    assert store.upsert_items([bare.replace(title="新标题")]).updated == 1
    edited = store.get_item(full.source, full.upstream_id)
    assert edited is not None
    assert edited.id is not None
    assert (edited.title, edited.content, edited.revision) == ("新标题", full.content, 2)
    assert store.revisions(edited.id)[0].content == full.content


def test_first_category_and_tag_stay(store: Store) -> None:
    item = make_item(category="xinhuacaijing", tag="新华财经新闻")
    store.upsert_items([item])
    store.upsert_items([item.replace(category="other", tag="别的新闻", title="改")])
    kept = store.get_item(item.source, item.upstream_id)
    assert kept is not None
    assert (kept.category, kept.tag, kept.title) == ("xinhuacaijing", "新华财经新闻", "改")


def test_stocks_that_do_not_round_trip_make_no_revision(store: Store) -> None:
    # stocks are stored space-separated: an empty code must not read back as an edit
    item = make_item(stocks=("600519", "", "000001"))
    store.upsert_items([item])
    assert store.upsert_items([item]) == UpsertResult(unchanged=1)
    kept = store.get_item(item.source, item.upstream_id)
    assert kept is not None
    assert kept.stocks == ("600519", "000001")


def test_nothing_is_ever_deleted(store: Store) -> None:
    pool = make_items(40)
    seen: dict[tuple[str, str], int] = {}
    previous = 0
    for round_ in range(8):
        batch = [
            item.replace(title=f"{item.title}（第{round_}次）") if n % 3 == round_ % 3 else item
            for n, item in enumerate(pool[round_ * 3 : round_ * 3 + 12])
        ]
        store.upsert_items(batch)
        count = store.count_items()
        assert count >= previous
        previous = count
        for item in store.items():
            assert item.id is not None
            seen.setdefault((item.source, item.upstream_id), item.id)
        for (source, upstream_id), item_id in seen.items():
            found = store.get_item(source, upstream_id)
            assert found is not None
            assert found.id == item_id
    assert store.count_items() == len(seen) == 33


# --- times -----------------------------------------------------------------------------------


def test_times_round_trip_as_aware_utc_seconds(store: Store) -> None:
    # 00:30 on New Year's Day in Beijing is still the old year in UTC
    published = datetime(2024, 1, 1, 0, 30, 15, 987654, tzinfo=BEIJING)
    fetched = datetime(2023, 12, 31, 11, 31, 2, 5, tzinfo=ZoneInfo("America/New_York"))
    item = make_item(published_at=published, fetched_at=fetched)
    store.upsert_items([item])
    got = store.get_item(item.source, item.upstream_id)
    assert got is not None
    assert got.published_at == datetime(2023, 12, 31, 16, 30, 15, tzinfo=UTC)
    assert got.fetched_at == datetime(2023, 12, 31, 16, 31, 2, tzinfo=UTC)
    for value in (got.published_at, got.fetched_at):
        assert value.utcoffset() == timedelta(0)
        assert value.microsecond == 0
    # the same instant spelled in another zone or with microseconds is not an edit
    assert store.upsert_items([item.replace(published_at=published.astimezone(UTC))]).unchanged


def test_since_until_around_beijing_midnight(store: Store) -> None:
    midnight = datetime(2024, 1, 1, tzinfo=BEIJING)
    before = make_item(source="midnight", published_at=midnight - timedelta(seconds=1))
    at = make_item(source="midnight", published_at=midnight)
    after = make_item(source="midnight", published_at=midnight + timedelta(hours=23, minutes=59))
    store.upsert_items([before, at, after])
    day = list(store.items(ItemQuery(source="midnight", since=midnight)))
    assert [i.upstream_id for i in day] == [after.upstream_id, at.upstream_id]
    old = list(store.items(ItemQuery(source="midnight", until=midnight)))
    assert [i.upstream_id for i in old] == [before.upstream_id]


def test_items_without_content_leave_out_only_the_full_text(store: Store) -> None:
    stored = [make_item(source="rows", content=f"<p>正文{n}</p>" * 50) for n in range(3)]
    store.upsert_items(stored)
    full = list(store.items(ItemQuery(source="rows")))
    rows = list(store.items(ItemQuery(source="rows", without_content=True)))
    assert [i.content for i in full] == [i.content for i in reversed(stored)]
    assert [i.content for i in rows] == ["", "", ""]
    assert [i.replace(content="") for i in full] == rows


def test_naive_datetimes_are_refused(store: Store) -> None:
    good = make_item()
    store.upsert_items([good])
    naive = datetime(2024, 3, 15, 9, 30)
    # the item is dropped with the reason; the rest of its batch is stored all the same
    for batch in (
        [make_item(), make_item(upstream_id="other", published_at=naive)],
        [make_item(upstream_id="other", fetched_at=naive)],
        # also for an item already stored, where fetched_at is not rewritten
        [good.replace(fetched_at=naive)],
    ):
        result = store.upsert_items(batch)
        assert len(result.dropped) == 1
        assert "naive" in result.dropped[0].reason
    assert store.count_items() == 2  # the first batch's good item
    with pytest.raises(StoreError):
        list(store.items(ItemQuery(since=naive)))
    with pytest.raises(StoreError):
        store.save_state(SourceState(source="x", last_attempt=naive))


# --- queries ---------------------------------------------------------------------------------


@pytest.fixture
def varied(store: Store) -> list[Item]:
    """40 items over two sources, three categories, mixed importance, equal times."""
    batch = []
    for n in range(40):
        batch.append(
            make_item(
                source=("eastmoney_fast", "eastmoney_media")[n % 2],
                category=("xinhuacaijing", "36ke", "zhongzhengwang")[n % 3],
                importance=(0, 0, 1, 2)[n % 4],
                published_at=BASE_TIME + timedelta(minutes=n // 4),
            )
        )
    store.upsert_items(batch)
    return list(store.items())


@pytest.mark.parametrize(
    "query",
    [
        ItemQuery(),
        ItemQuery(oldest_first=True),
        ItemQuery(source="eastmoney_media"),
        ItemQuery(category="36ke"),
        ItemQuery(important=True),
        ItemQuery(important=False, oldest_first=True),
        ItemQuery(since=BASE_TIME + timedelta(minutes=3)),
        ItemQuery(until=BASE_TIME + timedelta(minutes=3)),
        ItemQuery(
            source="eastmoney_fast",
            category="xinhuacaijing",
            since=BASE_TIME + timedelta(minutes=1),
            until=BASE_TIME + timedelta(minutes=8),
        ),
        ItemQuery(limit=7),
        ItemQuery(limit=0),
        ItemQuery(limit=5, oldest_first=True, important=True),
        ItemQuery(source="nobody"),
    ],
    ids=query_id,
)
def test_item_queries(store: Store, varied: list[Item], query: ItemQuery) -> None:
    assert len(varied) == 40
    assert ids(list(store.items(query))) == ids(expected(varied, query))


def test_newest_first_order(store: Store, varied: list[Item]) -> None:
    keys = [(i.published_at, i.id or 0) for i in varied]
    assert keys == sorted(keys, reverse=True)
    oldest = list(store.items(ItemQuery(oldest_first=True)))
    assert ids(oldest) == ids(varied)[::-1]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    offsets=st.lists(st.integers(min_value=0, max_value=5), max_size=40),
    page=st.integers(min_value=1, max_value=7),
    oldest_first=st.booleans(),
)
def test_keyset_pages_return_each_item_once(
    store: Store, offsets: list[int], page: int, oldest_first: bool
) -> None:
    source = f"hyp_{uuid.uuid4().hex}"  # the store outlives one example
    store.upsert_items(
        [make_item(source=source, published_at=BASE_TIME + timedelta(seconds=o)) for o in offsets]
    )
    everything = list(store.items(ItemQuery(source=source, oldest_first=oldest_first)))
    pages: list[Item] = []
    cursor = None
    for _ in range(len(offsets) + 2):
        query = ItemQuery(source=source, before=cursor, limit=page, oldest_first=oldest_first)
        got = list(store.items(query))
        pages.extend(got)
        if len(got) < page:
            break
        assert got[-1].id is not None
        cursor = (got[-1].published_at, got[-1].id)
    assert ids(pages) == ids(everything)
    assert len(set(ids(pages))) == len(offsets)


def test_streams_past_the_internal_page_size(store: Store) -> None:
    # 4,500 items, three per second: page boundaries (every 2,000) fall inside ties
    batch = [make_item(published_at=BASE_TIME + timedelta(seconds=n // 3)) for n in range(4500)]
    store.upsert_items(batch)
    newest = list(store.items())
    assert len(newest) == len(set(ids(newest))) == 4500
    keys = [(i.published_at, i.id or 0) for i in newest]
    assert keys == sorted(keys, reverse=True)
    assert ids(list(store.items(ItemQuery(oldest_first=True)))) == ids(newest)[::-1]
    assert ids(list(store.items(ItemQuery(limit=2500)))) == ids(newest)[:2500]
    assert ids(list(store.items(ItemQuery(limit=4000)))) == ids(newest)[:4000]
    cursor = (newest[2999].published_at, newest[2999].id or 0)
    assert ids(list(store.items(ItemQuery(before=cursor)))) == ids(newest)[3000:]


def test_known_ids_in_chunks(store: Store) -> None:
    stored = make_items(1200, source="bulk")
    store.upsert_items(stored)
    store.upsert_items([make_item(source="other", upstream_id="absent-1")])
    asked = [i.upstream_id for i in stored] + [f"absent-{n}" for n in range(300)]
    assert store.known_ids("bulk", asked) == {i.upstream_id for i in stored}
    assert store.known_ids("other", asked) == {"absent-1"}
    assert store.known_ids("bulk", []) == set()
    assert store.count_items("bulk") == 1200


# --- slugs, state, change log ------------------------------------------------------------------


def test_slug_for_media_keeps_the_first_slug(store: Store) -> None:
    assert store.slug_for_media("新华财经", "xinhuacaijing") == "xinhuacaijing"
    assert store.slug_for_media("新华财经", "xinhua") == "xinhuacaijing"
    assert store.slug_for_media("36氪", "36ke") == "36ke"
    assert store.media_slugs() == {"新华财经": "xinhuacaijing", "36氪": "36ke"}


def test_source_state_round_trip(store: Store) -> None:
    assert store.get_state("eastmoney_fast") == SourceState(source="eastmoney_fast")
    state = SourceState(
        source="eastmoney_fast",
        last_attempt=datetime(2024, 1, 1, 0, 0, 5, tzinfo=BEIJING),
        last_success=datetime(2023, 12, 31, 23, 59, 59, tzinfo=BEIJING),
        last_error="HTTP 502：上游网关错误 (https://np-listapi.example.com/…)",
        consecutive_failures=3,
        next_poll=datetime(2024, 1, 1, 0, 5, tzinfo=BEIJING),
        cursor='{"sortEnd": "1704038400123456"}',
    )
    store.save_state(state)
    assert store.get_state("eastmoney_fast") == state
    recovered = state.replace(last_error=None, consecutive_failures=0, next_poll=None)
    store.save_state(recovered)
    got = store.get_state("eastmoney_fast")
    assert got == recovered
    assert got.last_attempt is not None
    assert got.last_attempt.tzinfo is not None
    assert store.get_state("other") == SourceState(source="other")


def test_change_log(store: Store) -> None:
    assert store.last_change_seq() == 0
    assert store.changes_since(0) == []
    a, b = make_items(2)
    store.upsert_items([a, b])
    store.upsert_items([a, b])  # unchanged: no entries
    store.upsert_items([b.replace(title="更正：" + b.title), make_item()])
    changes = store.changes_since(0)
    stored_a = store.get_item(a.source, a.upstream_id)
    stored_b = store.get_item(b.source, b.upstream_id)
    assert stored_a is not None
    assert stored_b is not None
    assert [(c.item_id, c.kind) for c in changes[:3]] == [
        (stored_a.id, "new"),
        (stored_b.id, "new"),
        (stored_b.id, "update"),
    ]
    assert [c.kind for c in changes] == ["new", "new", "update", "new"]
    seqs = [c.seq for c in changes]
    assert seqs == sorted(set(seqs))
    assert store.last_change_seq() == seqs[-1]
    assert store.changes_since(seqs[1]) == changes[2:]
    assert store.changes_since(seqs[0], limit=2) == changes[1:3]
    assert store.changes_since(seqs[-1]) == []


def test_integrity_problems_empty_after_work(store: Store) -> None:
    items = make_items(30)
    store.upsert_items(items)
    store.upsert_items([i.replace(title=i.title + "（更新）") for i in items[::3]])
    store.upsert_items([i.replace(content="<p>全文</p>") for i in items[::3]])
    store.slug_for_media("证券时报", "zhengquanshibao")
    store.save_state(SourceState(source="eastmoney_fast", consecutive_failures=1))
    assert store.integrity_problems() == []


# --- text ------------------------------------------------------------------------------------

TRICKY = [
    "沪深300指数收涨1.2%，两市成交额超8000亿元",
    "📈🚀 牛市来了？🐂🇨🇳 表情符号与国旗",
    "他说：\"这是'重要'的信号\" ‘单引号’ “双引号” 「直角引号」",
    "控制字符\x01\x02\x07\x08\t\n\r\x0b\x0c\x1b\x1f\x7f\x85 结束",
    "反斜杠 \\ 占位符 %s %(x)s ? :name $1 -- ; DROP TABLE items; --",
    "\u200b零宽\u200d字符\ufeff与 BOM",
    "\r\n Windows 行尾 \r\n",
    "组合字符 e\u0301 与 é",
    "  前后空格  ",
    "---\ntitle: YAML 破坏者\n---",
    "",
]


@pytest.mark.parametrize("text", TRICKY, ids=range(len(TRICKY)))
def test_text_round_trips_exactly(store: Store, text: str) -> None:
    item = make_item(
        title=text, digest=text, content=text, url=text, media=text, author=text, tag=text
    )
    store.upsert_items([item])
    got = store.get_item(item.source, item.upstream_id)
    assert got is not None
    for field in ("title", "digest", "content", "url", "media", "author", "tag"):
        assert getattr(got, field).encode("utf-8") == text.encode("utf-8"), field
    assert store.upsert_items([item]) == UpsertResult(unchanged=1)


def test_one_megabyte_of_content_round_trips(store: Store) -> None:
    unit = "<p>今日A股三大指数集体收涨，沪指涨0.85%📊，成交额“放量”至9,876亿元。</p>\n"
    content = (unit * (1_048_576 // len(unit.encode()) + 1)).encode()[:1_048_576]
    text = content.decode("utf-8", errors="ignore")
    item = make_item(content=text)
    store.upsert_items([item])
    got = store.get_item(item.source, item.upstream_id)
    assert got is not None
    assert got.content.encode("utf-8") == text.encode("utf-8")
    assert len(got.content.encode("utf-8")) > 1_048_570


def test_nul_is_refused_on_every_engine(store: Store) -> None:
    result = store.upsert_items([make_item(content="前\x00后")])
    assert [d.reason for d in result.dropped] == [
        f"item eastmoney_fast/{result.dropped[0].upstream_id}: text contains a NUL "
        "character; strip it before storing"
    ]
    with pytest.raises(StoreError, match="NUL"):
        store.save_state(SourceState(source="s", last_error="bad\x00byte"))
    assert store.count_items() == 0


@pytest.mark.parametrize("bad", ["title", "url", "author", "upstream_id"])
def test_an_item_the_store_cannot_hold_costs_no_other_item_nor_the_state(
    store: Store, bad: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Items that skipped normalising (an importer, an old caller): a NUL or a lone
    surrogate in one field drops that item alone, with a logged reason naming it and a row
    in item_faults, and the page's other items and the source's state are stored."""
    good = make_items(4)
    poison = make_item(**{bad: "坏\x00" + chr(0xD800) + "值"})
    state = SourceState(source="eastmoney_fast", cursor="walk-1")
    with caplog.at_level("WARNING", logger="finews.store"):
        result = store.upsert_items([*good[:2], poison, *good[2:]], state=state)
    assert (result.new, [d.upstream_id for d in result.dropped]) == (4, [poison.upstream_id])
    assert store.count_items() == 4
    assert store.get_state("eastmoney_fast").cursor == "walk-1"
    # named in the log, with what no log can hold spelled out
    shown = "坏\\u0000\\ud800值" if bad == "upstream_id" else poison.upstream_id
    assert f"source=eastmoney_fast id={shown} dropped: the store refused it" in caplog.text
    faults = store.query("SELECT stage, detail FROM item_faults")
    assert [row[0] for row in faults] == ["store"]
    # the four are indexed and clustered as ever
    assert derive_backlog(store) == 0


# --- raw rows --------------------------------------------------------------------------------


def test_export_rows_in_key_order_and_batches(store: Store) -> None:
    items = make_items(25)
    store.upsert_items(items)
    store.upsert_items([items[0].replace(title="改")])
    pages = list(store.export_rows("items", batch=10))
    assert [len(p) for p in pages] == [10, 10, 5]
    rows = [row for page in pages for row in page]
    assert [r[0] for r in rows] == sorted(r[0] for r in rows)
    assert all(len(r) == len(TABLES["items"]) for r in rows)
    assert [len(p) for p in store.export_rows("item_revisions")] == [1]
    assert sum(len(p) for p in store.export_rows("changes", batch=7)) == 26
    assert list(store.export_rows("media_slugs")) == []
    with pytest.raises(StoreError, match="unknown table"):
        list(store.export_rows("items; DROP TABLE items"))
    with pytest.raises(StoreError, match="values"):
        store.import_rows("media_slugs", [("only-one-value",)])


# --- several connections ---------------------------------------------------------------------


def test_two_connections_see_each_others_commits(two_stores: tuple[Store, Store]) -> None:
    first, second = two_stores
    a, b = make_items(2)
    first.upsert_items([a])
    assert second.get_item(a.source, a.upstream_id) is not None
    second.upsert_items([b, a.replace(title="第二个连接改的")])
    got = first.get_item(a.source, a.upstream_id)
    assert got is not None
    assert got.title == "第二个连接改的"
    assert first.count_items() == second.count_items() == 2
    first.save_state(SourceState(source="s", consecutive_failures=2))
    assert second.get_state("s").consecutive_failures == 2
    assert first.slug_for_media("36氪", "36ke") == "36ke"
    assert second.slug_for_media("36氪", "sanliuke") == "36ke"
    assert first.last_change_seq() == second.last_change_seq() == 3


_CHILD = """
import sys
from datetime import UTC, datetime
from finews.models import Item
from finews.derive import open_store
store = open_store(sys.argv[1])
now = datetime(2024, 3, 15, 1, 30, tzinfo=UTC)
store.upsert_items([Item(source="child", upstream_id=str(n), title="子进程写入的快讯",
                         published_at=now, fetched_at=now) for n in range(5)])
print(store.count_items("parent"))
store.close()
"""


def test_sqlite_second_process_sees_and_is_seen(sqlite_url: str) -> None:
    with open_store(sqlite_url) as parent:
        parent.upsert_items(make_items(3, source="parent"))
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, sqlite_url],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert done.stdout.strip() == "3"
        assert parent.count_items("child") == 5
        assert parent.known_ids("child", ["0", "4", "5"]) == {"0", "4"}


def test_change_log_readers_never_skip_an_entry(db_url: str) -> None:
    """Entries become visible in seq order even with concurrent writers (live pages
    follow ``changes_since(last_seen)`` and would lose an entry committed late)."""
    writers = [open_store(db_url) for _ in range(4)]
    reader = open_store(db_url)
    stop = threading.Event()
    seen: list[int] = []
    failures: list[BaseException] = []

    def follow() -> None:
        last = 0
        while True:
            finished = stop.is_set()
            for change in reader.changes_since(last):
                seen.append(change.seq)
                last = change.seq
            if finished:
                return

    def write(store: Store, k: int) -> None:
        try:
            for _ in range(30):
                store.upsert_items(make_items(3, source=f"writer{k}"))
        except BaseException as exc:
            failures.append(exc)

    try:
        follower = threading.Thread(target=follow)
        follower.start()
        threads = [threading.Thread(target=write, args=(s, k)) for k, s in enumerate(writers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        stop.set()
        follower.join()
        assert failures == []
        every = [c.seq for c in reader.changes_since(0, limit=10_000)]
        assert len(every) == 4 * 30 * 3
        assert seen == every
    finally:
        for s in [*writers, reader]:
            s.close()


def test_concurrent_writers_of_the_same_items(db_url: str) -> None:
    """Two workers storing the same new items at once: no error, each item once, and every
    edit kept as a revision."""
    stores = [open_store(db_url) for _ in range(4)]
    shared = make_items(25, source="shared")
    barrier = threading.Barrier(len(stores))
    failures: list[BaseException] = []
    results: list[UpsertResult] = []

    def write(store: Store, k: int) -> None:
        try:
            barrier.wait()
            for round_ in range(3):
                batch = [i.replace(title=f"{i.title}（工作者{k}·{round_}）") for i in shared]
                results.append(store.upsert_items(batch))
        except BaseException as exc:
            failures.append(exc)

    try:
        threads = [threading.Thread(target=write, args=(s, k)) for k, s in enumerate(stores)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert failures == []
        main = stores[0]
        assert main.count_items() == 25
        assert sum(r.new for r in results) == 25
        updates = sum(r.updated for r in results)
        assert len(main.changes_since(0, limit=10_000)) == 25 + updates
        for item in main.items():
            assert item.id is not None
            assert len(main.revisions(item.id)) == item.revision - 1
        assert main.integrity_problems() == []
    finally:
        for s in stores:
            s.close()


# --- the two engines agree -------------------------------------------------------------------


def _workload(store: Store) -> None:
    base = datetime(2024, 2, 9, 15, 59, 58, tzinfo=UTC)  # Beijing midnight, Chinese New Year
    items = [
        make_item(
            source=("eastmoney_fast", "eastmoney_media")[n % 2],
            upstream_id=f"agree-{n:03d}",
            title=f"第{n}条：央行公开市场操作净投放{n * 10}亿元",
            digest=f"摘要{n}",
            url=f"https://finance.example.cn/a/agree-{n:03d}.html",
            category=("xinhuacaijing", "36ke")[n % 2],
            importance=n % 3,
            published_at=base + timedelta(seconds=n // 2),
            fetched_at=base + timedelta(minutes=1),
            content="<p>全文</p>" if n % 4 == 0 else "",
            stocks=("600519", "000001") if n % 5 == 0 else (),
        )
        for n in range(60)
    ]
    store.upsert_items(items)
    store.upsert_items([i.replace(title=i.title + "（更新）", content="") for i in items[::4]])
    store.upsert_items([i.replace(importance=2) for i in items[1::7]])
    store.slug_for_media("新华财经", "xinhuacaijing")
    store.slug_for_media("新华财经", "xinhua")
    store.save_state(SourceState(source="eastmoney_fast", last_success=base, cursor="c1"))


@pytest.mark.postgres
def test_both_engines_give_the_same_results(sqlite_url: str, pg_url: str) -> None:
    queries = [
        ItemQuery(),
        ItemQuery(oldest_first=True),
        ItemQuery(source="eastmoney_media", important=True),
        ItemQuery(since=datetime(2024, 2, 10, tzinfo=BEIJING), limit=9),
    ]
    with open_store(sqlite_url) as lite, open_store(pg_url) as pg:
        _workload(lite)
        _workload(pg)
        for query in queries:
            assert list(lite.items(query)) == list(pg.items(query))
        for item in lite.items():
            assert item.id is not None
            assert lite.revisions(item.id) == pg.revisions(item.id)
        assert lite.changes_since(0) == pg.changes_since(0)
        assert lite.media_slugs() == pg.media_slugs()
        assert lite.get_state("eastmoney_fast") == pg.get_state("eastmoney_fast")
        assert lite.count_items("eastmoney_fast") == pg.count_items("eastmoney_fast") == 30
        assert lite.integrity_problems() == pg.integrity_problems() == []


def test_an_empty_in_list_matches_nothing(store: Store) -> None:
    from finews.store.columns import in_list

    store.upsert_items(make_items(3))
    marks, params = in_list([])
    assert store.query(f"SELECT id FROM items WHERE id IN ({marks})", params) == []
    assert store.known_ids("eastmoney_fast", []) == set()


@given(st.lists(st.integers(), min_size=1, max_size=600))
def test_in_lists_take_a_few_forms_and_match_the_same(values: list[int]) -> None:
    from finews.store.columns import in_list

    marks, padded = in_list(values)
    size = marks.count("?")
    assert size == len(padded) >= len(values)
    assert size & (size - 1) == 0  # a power of two: at most ten forms up to 512 values
    assert size < 2 * len(values) or size == 1
    assert padded[: len(values)] == values
    assert set(padded) == set(values)
