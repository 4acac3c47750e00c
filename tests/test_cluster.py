"""Same story, shown once: the labelled set's pairwise precision and recall, incremental
clustering in the store against the batch result (any arrival order, edits, both engines),
the near misses that must not merge, and "also reported by".

The labelled set is ``tests/data/cluster/labelled.json`` (see its README.md).
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from itertools import combinations
from pathlib import Path

import pytest

from finews.models import Item
from finews.process.cluster import (
    Fingerprint,
    cluster_batch,
    cluster_stream,
    fingerprint,
    leader_key,
    same_story,
)
from finews.store import Store
from finews.store.clusters import (
    also_reported,
    cluster_status,
    copies_among,
    recluster,
    sync_clusters,
)
from helpers import make_item

LABELLED = json.loads(
    (Path(__file__).parent / "data" / "cluster" / "labelled.json").read_text(encoding="utf-8")
)["items"]

pytestmark = pytest.mark.timeout(240)


def labelled_items() -> list[Item]:
    items = []
    for entry in LABELLED:
        published = datetime.fromisoformat(entry["published"]).astimezone(UTC)
        items.append(
            Item(
                source=entry["source"],
                upstream_id=entry["id"],
                title=entry["title"],
                digest=entry["digest"],
                content=entry["content"],
                media=entry["media"],
                published_at=published,
                fetched_at=published + timedelta(minutes=1),
            )
        )
    return items


def fp_of(item: Item, item_id: int) -> Fingerprint:
    return fingerprint(item_id, item.title, item.digest, item.content, item.published_at)


def pairwise(predicted: Mapping[str, int], truth: Mapping[str, str]) -> tuple[float, float]:
    """Pairwise precision and recall of predicted cluster ids against labels."""
    tp = fp = fn = 0
    for a, b in combinations(sorted(truth), 2):
        same_truth = truth[a] == truth[b]
        same_predicted = predicted[a] == predicted[b]
        tp += same_truth and same_predicted
        fp += same_predicted and not same_truth
        fn += same_truth and not same_predicted
    return tp / (tp + fp), tp / (tp + fn)


def test_labelled_set_is_big_enough() -> None:
    labels = [entry["cluster"] for entry in LABELLED]
    multi = {label for label in labels if labels.count(label) > 1}
    assert len(LABELLED) >= 300
    assert len(multi) >= 60


def test_labelled_precision_and_recall() -> None:
    items = labelled_items()
    fps = [fp_of(item, n) for n, item in enumerate(items, start=1)]
    clusters = cluster_batch(fps)
    predicted = {item.upstream_id: clusters[n] for n, item in enumerate(items, start=1)}
    truth = {entry["id"]: entry["cluster"] for entry in LABELLED}
    precision, recall = pairwise(predicted, truth)
    assert precision >= 0.98, precision
    assert recall >= 0.9, recall


def test_stream_equals_batch() -> None:
    items = labelled_items()
    fps = [fp_of(item, n) for n, item in enumerate(items, start=1)]
    random.Random(3).shuffle(fps)
    assert cluster_stream(sorted(fps, key=leader_key)) == cluster_batch(fps)


def batch_of(store: Store) -> dict[str, int]:
    """What a batch run gives over the store's items, by upstream id."""
    stored = list(store.items())
    fps = [fp_of(item, item.id) for item in stored if item.id is not None]
    clusters = cluster_batch(fps)
    return {item.upstream_id: clusters[item.id] for item in stored if item.id is not None}


def stored_clusters(store: Store) -> dict[str, int]:
    rows = store._query(  # type: ignore[attr-defined]
        "SELECT i.upstream_id, c.cluster_id FROM item_clusters c JOIN items i ON i.id = c.item_id"
    )
    return {str(r[0]): int(r[1]) for r in rows}


@pytest.mark.parametrize("seed", [1, 2])
def test_incremental_equals_batch_in_any_order(store: Store, seed: int) -> None:
    items = labelled_items()
    random.Random(seed).shuffle(items)
    for start in range(0, len(items), 13):
        store.upsert_items(items[start : start + 13])
    incremental = stored_clusters(store)
    assert incremental == batch_of(store)
    assert recluster(store) == len(items)
    assert stored_clusters(store) == incremental
    status = cluster_status(store)
    assert (status.items, status.clustered, status.stale, status.version_ok) == (
        len(items),
        len(items),
        0,
        True,
    )


def test_edits_split_and_merge_stories(store: Store) -> None:
    items = {item.upstream_id: item for item in labelled_items()}
    chosen = [items[f"fed-cut/{n}"] for n in range(5)] + [items["powell-presser/0"]]
    store.upsert_items(chosen)
    before = stored_clusters(store)
    assert len({before[f"fed-cut/{n}"] for n in range(5)}) == 1
    # the earliest report becomes another story: the rest stays one, led by the next
    first = items["fed-cut/0"]
    store.upsert_items(
        [first.replace(title="日本央行维持利率不变", digest="日本央行维持利率不变。")]
    )
    after = stored_clusters(store)
    assert after == batch_of(store)
    assert after["fed-cut/0"] != after["fed-cut/1"]
    assert len({after[f"fed-cut/{n}"] for n in range(1, 5)}) == 1
    # and back: merged again, led by the earliest report again
    store.upsert_items([first])
    again = stored_clusters(store)
    assert again == batch_of(store) == before


def test_unchanged_fingerprint_keeps_the_story(store: Store) -> None:
    items = {item.upstream_id: item for item in labelled_items()}
    pair = [items["pboc-0902/0"], items["pboc-0902/1"]]
    store.upsert_items(pair)
    before = stored_clusters(store)
    store.upsert_items([pair[1].replace(content="<p>全文到了，摘要不变。</p>")])
    assert stored_clusters(store) == before
    assert cluster_status(store).stale == 0


def test_sync_clusters_after_copy(tmp_path: Path, store: Store) -> None:
    from finews.store import open_store
    from finews.store.copy import copy_db

    store.upsert_items(labelled_items()[:60])
    with open_store(f"sqlite:///{tmp_path / 'copy.db'}") as copied:
        copy_db(store, copied)
        assert cluster_status(copied).clustered == 0
        assert sync_clusters(copied) == 60
        assert stored_clusters(copied) == batch_of(copied) == batch_of(store)


NEAR_MISSES = [
    ("close-0903/0", "noon-0903/0", "the same day's noon and closing summaries"),
    ("close-0903/0", "close-0904/0", "closing summaries a day apart"),
    ("pboc-0910/0", "pboc-0911/0", "the same operation, same amount, next day"),
    ("reduce-a/0", "reduce-b/0", "one template, another company"),
    ("buyback-a/0", "buyback-b/0", "one template, another company, same amounts"),
    ("north-0902/0", "north-0903/0", "daily flows, other numbers"),
    ("cpi-aug/0", "ppi-aug/0", "two releases of the same morning"),
    ("pdd-q2/0", "pdd-premarket/0", "an earnings report and the share price reaction"),
    ("lpr-aug/0", "lpr-sep/0", "the same rates a month later"),
    ("rmb-0902/0", "rmb-0903/0", "yesterday's rate in today's report"),
]


@pytest.mark.parametrize(("a", "b", "why"), NEAR_MISSES)
def test_near_misses_do_not_merge(a: str, b: str, why: str) -> None:
    items = {item.upstream_id: item for item in labelled_items()}
    assert not same_story(fp_of(items[a], 1), fp_of(items[b], 2)), why


def test_shared_boilerplate_does_not_make_a_story() -> None:
    tail = "。据财联社记者了解，市场人士认为短期内政策仍将保持稳健，投资者需关注风险。"
    a = make_item(title="沪指午后翻红 半导体板块领涨两市", digest="沪指午后翻红" + tail)
    b = make_item(title="证监会：进一步规范上市公司股东减持行为", digest="证监会发布通知" + tail)
    assert not same_story(fp_of(a, 1), fp_of(b, 2))


def test_east_money_copy_with_and_without_source_tag() -> None:
    items = {item.upstream_id: item for item in labelled_items()}
    assert same_story(fp_of(items["north-0902/0"], 1), fp_of(items["north-0902/1"], 2))


def test_also_reported_and_copies(store: Store) -> None:
    items = {item.upstream_id: item for item in labelled_items()}
    chosen = [items[f"moutai-h1/{n}"] for n in range(4)] + [items["moutai-div/0"]]
    store.upsert_items(chosen)
    stored = {item.upstream_id: item for item in store.items()}
    lead = stored["moutai-h1/0"]
    assert lead.id is not None
    others = also_reported(store, lead.id)
    assert [o.upstream_id for o in others] == ["moutai-h1/1", "moutai-h1/2", "moutai-h1/3"]
    assert [o.published_at for o in others] == sorted(o.published_at for o in others)
    lone = stored["moutai-div/0"]
    assert lone.id is not None
    assert also_reported(store, lone.id) == []
    all_ids = [item.id for item in stored.values() if item.id is not None]
    hidden = copies_among(store, all_ids)
    assert {i for i in all_ids if i not in hidden} == {lead.id, lone.id}
    assert also_reported(store, 999_999) == []


def test_candidate_keys_are_the_same_in_every_process() -> None:
    import subprocess
    import sys

    code = (
        "import json, sys; from datetime import datetime, UTC; "
        "from finews.process.cluster import fingerprint; "
        "fp = fingerprint(1, '贵州茅台：上半年净利润416.96亿元 同比增长15.88%', "
        "'贵州茅台公告，上半年营业总收入834.51亿元。', '', datetime(2024, 9, 2, tzinfo=UTC)); "
        "print(json.dumps(sorted(fp.keys)))"
    )
    runs = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
        for seed in ("1", "2")
    }
    assert len(runs) == 1
