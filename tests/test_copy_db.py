"""``copy_db``: an archive moves between engines and loses nothing."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest

from finews.derive import open_store
from finews.derive.copy import CopyReport, copy_db, store_checksum
from finews.errors import StoreError
from finews.models import RawItem, SourceState
from finews.normalize.sanitize import SANITIZER_VERSION
from finews.store import Store
from finews.store.tables import TABLES
from helpers import BEIJING, make_item

MEDIA = {"新华财经": "xinhuacaijing", "36氪": "36ke", "证券时报": "zhengquanshibao"}


def fill(store: Store, count: int, *, seed: int = 7) -> None:
    """An archive of ``count`` items, a tenth of them edited (some twice), with slugs and
    states, written the way the pipeline writes it."""
    rng = random.Random(seed)
    start = datetime(2023, 12, 31, 15, 0, tzinfo=UTC)  # 23:00 Beijing, across midnight
    items = []
    for n in range(count):
        media = rng.choice(list(MEDIA))
        items.append(
            make_item(
                source=rng.choice(["eastmoney_fast", "eastmoney_media", "eastmoney_market"]),
                upstream_id=f"{n:07d}",
                title=f"第{n}条快讯：{media}报道沪深两市成交{rng.randint(5000, 12000)}亿元",
                digest=f"摘要“{n}”——含引号'与表情📈",
                content=rng.choice(["", "<p>全文</p>", "正文\n第二段\t制表符"]),
                url=f"https://finance.example.cn/{n}.html",
                media=media,
                category=MEDIA[media],
                tag=f"{media}新闻",
                importance=rng.choice([0, 0, 0, 1, 2]),
                stocks=tuple(rng.sample(["600519", "000001", "300750"], rng.randint(0, 2))),
                published_at=start + timedelta(seconds=rng.randint(0, 7200)),
                fetched_at=start + timedelta(hours=3),
                # every third item with its upstream record, every sixth with an article
                raw=None if n % 3 else _raw(n, article=n % 6 == 0),
                # as the normaliser records it, or unknown (stored before migration 0015)
                sanitizer=SANITIZER_VERSION if n % 4 else None,
            )
        )
    for first in range(0, count, 2000):
        store.upsert_items(items[first : first + 2000])
    edited = [i.replace(title=i.title + "（更新）") for i in items[::10]]
    store.upsert_items(edited)
    store.upsert_items([i.replace(content="<p>补全的全文</p>") for i in edited[::3]])
    for media, slug in MEDIA.items():
        store.slug_for_media(media, slug)
    store.save_state(
        SourceState(
            source="eastmoney_fast",
            last_attempt=datetime(2024, 1, 1, 0, 1, tzinfo=BEIJING),
            last_success=datetime(2024, 1, 1, 0, 1, tzinfo=BEIJING),
            cursor="1704038460000000",
        )
    )
    store.save_state(
        SourceState(source="eastmoney_media", last_error="HTTP 503", consecutive_failures=4)
    )


def _raw(n: int, *, article: bool) -> RawItem:
    record = json.dumps({"code": f"{n:07d}", "title": f"第{n}条", "image": []}, ensure_ascii=False)
    html = f"<div id='ContentBody'><p>第{n}条全文</p></div>".encode() if article else None
    return RawItem(source="eastmoney_fast", upstream_id=f"{n:07d}", record=record, article=html)


def snapshot(store: Store) -> dict[str, object]:
    """Everything observable through the ordinary interface."""
    items = list(store.items())
    return {
        "items": items,
        "revisions": {i.id: store.revisions(i.id) for i in items if i.id and i.revision > 1},
        "changes": store.changes_since(0, limit=1_000_000),
        "slugs": store.media_slugs(),
        "states": {s: store.get_state(s) for s in ("eastmoney_fast", "eastmoney_media")},
        "count": store.count_items(),
        "raw": list(store.raw_records()),
    }


def assert_same(report: CopyReport, src: Store, dst: Store) -> None:
    assert report.ok, report.summary()
    assert report.src_checksum == report.dst_checksum == store_checksum(dst)
    assert dict(report.src_counts) == dict(report.dst_counts)
    assert snapshot(src) == snapshot(dst)
    assert dst.integrity_problems() == []


@pytest.mark.postgres
@pytest.mark.slow
def test_round_trip_sqlite_postgres_sqlite_loses_nothing(sqlite_url: str, pg_url: str) -> None:
    back_url = sqlite_url.replace("finews.db", "back.db")
    with open_store(sqlite_url) as lite, open_store(pg_url) as pg, open_store(back_url) as back:
        fill(lite, 10_000)
        original = store_checksum(lite)
        progress: list[int] = []
        there = copy_db(lite, pg, progress=progress.append, batch=1000)
        assert there.items == 10_000
        assert there.src_counts["item_revisions"] == 1000 + 334
        assert there.src_counts["item_raw"] == 3334
        assert progress == list(range(1000, 10_001, 1000))
        assert_same(there, lite, pg)
        home = copy_db(pg, back)
        assert_same(home, pg, back)
        assert home.dst_checksum == original == store_checksum(lite)
        assert not there.resumed
        assert not home.resumed
        # the copy is a working database: new items get fresh ids and change-log entries
        for store in (pg, back):
            before = store.last_change_seq()
            store.upsert_items([make_item(source="after_copy")])
            new = next(iter(store.items()))
            assert new.source == "after_copy"
            assert new.id == 10_001
            assert store.last_change_seq() == before + 1


def test_sqlite_to_sqlite(sqlite_url: str) -> None:
    with open_store(sqlite_url) as src, open_store(sqlite_url + "-copy") as dst:
        fill(src, 1200, seed=3)
        report = copy_db(src, dst, batch=250)
        assert_same(report, src, dst)
        assert "verified" in report.summary()


def test_empty_archive(sqlite_url: str) -> None:
    with open_store(sqlite_url) as src, open_store(sqlite_url + "-copy") as dst:
        report = copy_db(src, dst)
        assert report.ok
        assert report.items == 0
        assert set(report.src_counts) == set(TABLES)


def test_copy_again_and_resume_are_idempotent(sqlite_url: str) -> None:
    with open_store(sqlite_url) as src, open_store(sqlite_url + "-copy") as dst:
        fill(src, 900, seed=5)

        def interrupt(done: int) -> None:
            if done >= 300:
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            copy_db(src, dst, progress=interrupt, batch=100)
        assert dst.count_items() == 300
        resumed = copy_db(src, dst, batch=100)
        assert resumed.resumed
        assert_same(resumed, src, dst)
        again = copy_db(src, dst)
        assert_same(again, src, dst)
        assert again.dst_checksum == resumed.dst_checksum


def test_destination_brought_up_to_date_after_source_grew(sqlite_url: str) -> None:
    with open_store(sqlite_url) as src, open_store(sqlite_url + "-copy") as dst:
        fill(src, 300, seed=9)
        copy_db(src, dst)
        first = next(iter(src.items()))
        src.upsert_items([first.replace(title="来源库后来改的", id=None), make_item()])
        src.save_state(SourceState(source="eastmoney_fast", consecutive_failures=9))
        report = copy_db(src, dst)
        assert report.resumed
        assert_same(report, src, dst)


def versions(store: Store) -> dict[int | None, int | None]:
    return {item.id: item.sanitizer for item in store.items()}


def test_the_sanitiser_version_travels_with_the_copy(sqlite_url: str) -> None:
    with open_store(sqlite_url) as src, open_store(sqlite_url + "-copy") as dst:
        fill(src, 200, seed=13)
        recorded = versions(src)
        assert set(recorded.values()) == {SANITIZER_VERSION, None}
        assert_same(copy_db(src, dst), src, dst)
        assert versions(dst) == recorded
        # a reparse records today's version of an unchanged text, without a revision: the
        # destination still counts as an earlier copy, and is brought up to date
        unknown = [item for item in src.items() if item.sanitizer is None][:5]
        src.upsert_items([item.replace(id=None, sanitizer=SANITIZER_VERSION) for item in unknown])
        assert versions(src) != recorded
        report = copy_db(src, dst)
        assert report.resumed
        assert_same(report, src, dst)
        assert versions(dst) == versions(src)


def test_refuses_a_destination_that_is_not_an_earlier_copy(sqlite_url: str) -> None:
    with open_store(sqlite_url) as src, open_store(sqlite_url + "-copy") as dst:
        fill(src, 50, seed=11)
        dst.upsert_items([make_item(source="own_fetch")])
        untouched = store_checksum(dst)
        with pytest.raises(StoreError, match="not an earlier copy"):
            copy_db(src, dst)
        assert store_checksum(dst) == untouched


def test_refuses_a_destination_that_edited_on_its_own(sqlite_url: str) -> None:
    with open_store(sqlite_url) as src, open_store(sqlite_url + "-copy") as dst:
        fill(src, 50, seed=13)
        copy_db(src, dst)
        item = next(iter(dst.items()))
        dst.upsert_items([item.replace(title="目标库自己改的", id=None)])
        with pytest.raises(StoreError, match="newer than the source"):
            copy_db(src, dst)


def test_refuses_a_destination_with_another_slug(sqlite_url: str) -> None:
    with open_store(sqlite_url) as src, open_store(sqlite_url + "-copy") as dst:
        src.slug_for_media("36氪", "36ke")
        dst.slug_for_media("36氪", "sanliuke")
        with pytest.raises(StoreError, match="media_slugs"):
            copy_db(src, dst)


def test_checksum_sees_every_table(sqlite_url: str) -> None:
    with open_store(sqlite_url) as store:
        sums = {store_checksum(store)}
        store.upsert_items([item := make_item()])
        sums.add(store_checksum(store))
        store.upsert_items([item.replace(title="改")])
        sums.add(store_checksum(store))
        store.slug_for_media("36氪", "36ke")
        sums.add(store_checksum(store))
        store.save_state(SourceState(source="s"))
        sums.add(store_checksum(store))
        store.upsert_items([item.replace(title="再改", raw=_raw(1, article=True))])
        sums.add(store_checksum(store))
        assert len(sums) == 6
        assert store_checksum(store) == store_checksum(store)


def test_bad_batch_size(sqlite_url: str) -> None:
    src, dst = open_store(sqlite_url), open_store(sqlite_url + "-copy")
    try:
        with pytest.raises(StoreError, match="batch"):
            copy_db(src, dst, batch=0)
    finally:
        src.close()
        dst.close()


#: tables a copy does not carry row by row, and why
NOT_COPIED = {
    "schema_version": "written by the destination's own migrations",
    "derive_mark": "the destination's mark is moved past the copied changes",
    "derived_state": "the destination records its own derived versions",
    "item_clusters": "stories are copied as they are by copy_db's own step, or rebuilt",
    "story_prints": "the story window's spill: rebuilt by the destination's clustering",
    "story_keys": "the story window's spill: rebuilt by the destination's clustering",
    "search_docs": "each engine builds its own search index",
    "http_validators": "conditional-GET validators of one machine's polls",
    "source_leases": "which worker polls a source now: runtime only",
    "daemon_workers": "the workers alive now: runtime only",
}


def test_every_table_is_copied_or_rebuilt(sqlite_url: str) -> None:
    with open_store(sqlite_url) as store:
        tables = {
            str(row[0])
            for row in store.query("SELECT name FROM sqlite_master WHERE type = 'table'")
            if not str(row[0]).startswith(("sqlite_", "search_fts"))  # SQLite's and FTS5's own
        }
    assert tables == set(TABLES) | set(NOT_COPIED)
    assert not set(TABLES) & set(NOT_COPIED)


@pytest.mark.postgres
def test_mutes_and_alerts_travel_with_the_copy(sqlite_url: str, pg_url: str) -> None:
    # a copy that dropped them would show muted items again, alert a story twice, and lose
    # the alerts still waiting to be sent
    with open_store(sqlite_url) as lite, open_store(pg_url) as pg:
        lite.upsert_items([make_item(upstream_id="1"), make_item(upstream_id="2", title="另")])
        first, second = sorted(item.id or 0 for item in lite.items())
        with lite.transaction() as tx:
            tx.execute("INSERT INTO rule_marks (item_id, revision) VALUES (?, 1)", (first,))
            tx.execute("INSERT INTO item_mutes (item_id, rule) VALUES (?, 'ads')", (second,))
            tx.execute(
                "INSERT INTO alert_stories (rule, story, kind, item_id, at) "
                "VALUES ('moutai', ?, 'first', ?, '2024-01-01T00:00:00Z')",
                (first, first),
            )
            for state in ("sent", "pending"):
                tx.execute(
                    "INSERT INTO alert_outbox (rule, channel, item_id, story, kind, title, "
                    "body, state, next_attempt, created_at) VALUES ('moutai', 'json:ab12', "
                    "?, ?, 'first', '标题', '正文', ?, '2024-01-01T00:00:00Z', "
                    "'2024-01-01T00:00:00Z')",
                    (first, first, state),
                )
        report = copy_db(lite, pg)
        assert report.ok, report.summary()
        for table in ("rule_marks", "item_mutes", "alert_stories", "alert_outbox"):
            assert list(pg.export_rows(table)) == list(lite.export_rows(table)), table
        # the outbox's ids go on after the copied ones
        with pg.transaction() as tx:
            tx.execute(
                "INSERT INTO alert_outbox (rule, channel, item_id, story, kind, title, body, "
                "next_attempt, created_at) VALUES ('moutai', 'json:ab12', ?, ?, 'first', "
                "'标题', '正文', '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z') RETURNING id",
                (second, second),
            )
            assert tx.fetchone()[0] == 3
