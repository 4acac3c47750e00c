"""Deriving later (``upsert_items(derive=False)`` + ``finews.derive``): the search index
and the stories end up exactly as when every write derives its own items, on both engines,
however writes and deriving rounds interleave."""

from __future__ import annotations

import random
import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from finews.derive import derive_all, derive_backlog, derive_pending, open_store
from finews.derive.search import SearchQuery, index_status, search
from finews.derive.stories import cluster_status
from finews.models import Item
from finews.store import Store, Transaction
from helpers import make_item
from test_cluster import batch_of, labelled_items, stored_clusters

pytestmark = pytest.mark.timeout(240)


def hits(store: Store, text: str) -> list[str]:
    found = search(store, SearchQuery(text=text, limit=200))
    return sorted(hit.item.upstream_id for hit in found.hits)


def index_rows(store: Store) -> dict[int, tuple[int, int]]:
    rows = store.query("SELECT item_id, doc, revision FROM search_docs")
    return {int(r[0]): (int(r[1]), int(r[2])) for r in rows}


def test_deferred_items_are_stored_at_once_and_searchable_after_deriving(store: Store) -> None:
    items = labelled_items()[:40]
    result = store.upsert_items(items, derive=False)
    assert result.new == 40
    assert store.count_items() == 40
    # stored and in the change log (live pages announce them), not yet derived
    assert len(store.changes_since(0)) == 40
    assert derive_backlog(store) == 40
    assert index_status(store).indexed == 0
    assert stored_clusters(store) == {}
    word = items[0].title[:2]
    assert hits(store, word) == []

    assert derive_pending(store, limit=15) == 15
    assert derive_backlog(store) == 25
    assert derive_all(store, limit=15) == 25
    assert derive_backlog(store) == 0
    assert derive_pending(store) == 0
    assert index_status(store).ok
    assert items[0].upstream_id in hits(store, word)
    assert stored_clusters(store) == batch_of(store)


def test_deferred_and_inline_writers_interleaved_give_the_inline_result(
    store: Store, sqlite_url: str, tmp_path: object
) -> None:
    items = labelled_items()
    random.Random(5).shuffle(items)
    # the same writes on a second database, each deriving its own items
    with open_store(f"sqlite:///{tmp_path}/inline.db") as inline:
        for n, start in enumerate(range(0, len(items), 17)):
            batch = items[start : start + 17]
            inline.upsert_items(batch)
            store.upsert_items(batch, derive=n % 3 != 0)  # every third write defers
            if n % 4 == 1:
                derive_pending(store, limit=7)  # rounds of another size in between
        derive_all(store)
        assert derive_backlog(store) == 0
        assert stored_clusters(store) == stored_clusters(inline) == batch_of(store)
        for word in ("央行", "降息", "A股", "ETF"):
            assert hits(store, word) == hits(inline, word), word
    assert index_status(store).ok
    status = cluster_status(store)
    assert (status.clustered, status.stale) == (len(items), 0)


def test_an_inline_write_does_not_move_the_mark_past_waiting_changes(store: Store) -> None:
    items = labelled_items()[:30]
    store.upsert_items(items[:10], derive=False)
    store.upsert_items(items[10:20])  # derives its own ten, at once
    assert set(hits(store, items[15].title[:2])) >= {items[15].upstream_id}
    assert derive_backlog(store) == 20  # the first ten still wait, so the mark stays
    indexed = index_rows(store)
    assert len(indexed) == 10
    assert derive_all(store) == 20
    after = index_rows(store)
    assert len(after) == 20
    # the inline write's items were skipped, not indexed a second time
    assert {k: v for k, v in after.items() if k in indexed} == indexed
    store.upsert_items(items[20:])  # nothing waits: the mark follows the inline write
    assert derive_backlog(store) == 0


def test_an_edit_before_deriving_is_derived_at_its_latest_revision(store: Store) -> None:
    item = make_item(title="光伏组件出口创新高", digest="光伏组件出口同比增长", content="")
    store.upsert_items([item], derive=False)
    edited = replace(item, title="央行宣布下调存款准备金率", digest="降准落地，释放长期资金")
    assert store.upsert_items([edited], derive=False).updated == 1
    assert derive_backlog(store) == 2
    assert derive_all(store) == 2
    assert hits(store, "降准") == [item.upstream_id]
    assert hits(store, "光伏") == []
    stored = store.get_item(item.source, item.upstream_id)
    assert stored is not None
    assert stored.id is not None
    assert index_rows(store)[stored.id][1] == stored.revision == 2


def test_concurrent_derivers_share_the_work(db_url: str) -> None:
    items = labelled_items()
    with open_store(db_url) as writer:
        for start in range(0, len(items), 25):
            writer.upsert_items(items[start : start + 25], derive=False)
        assert derive_backlog(writer) == len(items)
        done: list[int] = []
        errors: list[BaseException] = []

        def work() -> None:
            try:
                with open_store(db_url) as own:
                    done.append(derive_all(own, limit=20))
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=180)
        assert not errors, errors
        # every change was covered exactly once, by one deriver or another
        assert sum(done) == len(items)
        assert derive_backlog(writer) == 0
        assert index_status(writer).ok
        assert stored_clusters(writer) == batch_of(writer)
        assert writer.integrity_problems() == []


@pytest.mark.parametrize("args", [["reindex"], ["reindex", "--missing-only"]])
def test_reindex_moves_the_mark_past_what_it_rebuilt(tmp_path: Path, args: list[str]) -> None:
    from click.testing import CliRunner

    from finews.cli import cli
    from finews.search_cli import commands

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    items = labelled_items()[:30]
    with open_store(url) as store:
        store.upsert_items(items, derive=False)
        assert derive_backlog(store) == 30
    added = [c for c in commands if c.name not in cli.commands]
    for command in added:
        cli.add_command(command)
    try:
        result = CliRunner().invoke(cli, ["--database-url", url, *args])
    finally:
        for command in added:
            del cli.commands[str(command.name)]
    assert result.exit_code == 0, result.output
    with open_store(url) as store:
        assert derive_backlog(store) == 0
        assert index_status(store).ok
        assert stored_clusters(store) == batch_of(store)
        # what arrives later waits again, and is derived
        store.upsert_items([make_item(title="沪深两市成交额突破万亿")], derive=False)
        assert derive_backlog(store) == 1
        assert derive_all(store) == 1
        assert hits(store, "成交额") != []


def test_a_store_opened_bare_refuses_to_derive_and_stores_nothing(db_url: str) -> None:
    from finews.errors import StoreError
    from finews.store import open_store as open_bare_store

    with open_bare_store(db_url) as bare:
        items = labelled_items()[:3]
        with pytest.raises(StoreError, match=r"finews\.derive\.open_store"):
            bare.upsert_items(items)
        assert bare.count_items() == 0
        assert bare.upsert_items(items, derive=False).new == 3
        with pytest.raises(StoreError, match=r"finews\.derive\.open_store"):
            derive_pending(bare)
        assert derive_backlog(bare) == 3


class StoryIds:
    """A reader after Search and Stories: it records each item's story as Stories left it
    in the same transaction (what the rules of issue #14 will read)."""

    stage = "story-ids"

    def __init__(self, store: Store) -> None:
        self.seen: dict[int, int] = {}
        self.forgot = 0

    def update(self, tx: Transaction, items: Sequence[tuple[int, Item]]) -> None:
        for item_id, item in items:
            row = tx.execute(
                "SELECT cluster_id FROM item_clusters WHERE item_id = ?", (item_id,)
            ).fetchone()
            if item.title.startswith("坏"):
                raise ValueError(f"this reader cannot read {item.title}")
            self.seen[item_id] = int(row[0])

    def forget(self) -> None:
        self.forgot += 1


@pytest.mark.parametrize("inline", [True, False], ids=["inline", "behind"])
def test_an_extra_reader_runs_after_stories_and_is_isolated_per_item(
    db_url: str, inline: bool
) -> None:
    readers: list[StoryIds] = []

    def make(store: Store) -> StoryIds:
        readers.append(StoryIds(store))
        return readers[-1]

    with open_store(db_url, readers=[make]) as store:
        items = labelled_items()[:20]
        bad = make_item(upstream_id="bad-1", title="坏消息：读不了")
        store.upsert_items([*items[:10], bad, *items[10:]], derive=inline)
        derive_all(store)
        (reader,) = readers
        rows = store.query("SELECT item_id, cluster_id FROM item_clusters")
        clusters = {int(row[0]): int(row[1]) for row in rows}
        assert len(clusters) == 21  # the bad item has its story: only the reader failed
        bad_id = store.get_item("eastmoney_fast", "bad-1")
        assert bad_id is not None
        assert bad_id.id is not None
        assert reader.seen == {i: c for i, c in clusters.items() if i != bad_id.id}
        assert reader.forgot >= 1  # the round failed once, then went item by item
        faults = store.query("SELECT upstream_id, stage FROM item_faults")
        assert [tuple(row) for row in faults] == [("bad-1", "story-ids")]
        assert derive_backlog(store) == 0
