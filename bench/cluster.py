"""Story clustering at scale on SQLite: one pass over an archive, and items clustered as
they are stored into it.

Makes an archive of ``--items`` invented items in which stories are told one to four times
within three hours (East Money copies with （财联社）, half a digest against the whole, a
retold title; about 2.2 reports per story), a story every 70 s on average. The clusters the
one pass finds are scored against the generator's stories (pairwise precision and recall).
The items go in as raw rows; ``recluster`` clusters the whole archive in one pass (batch
throughput). Then ``--new`` more items continuing the timeline are stored with ``upsert_items`` in
batches of ``--batch`` (as polls store them): the time spent in the clustering step of
those writes gives the incremental throughput, at the archive's size; the whole write
(rows, revisions, change log, search index, clustering) is reported too.

    .venv/bin/python bench/cluster.py --items 100000
    .venv/bin/python bench/cluster.py --items 1000000

Results go to ``bench/results/cluster_<items>.json``; the database to
``$FINEWS_BENCH_WORK`` (default /tmp/finews-bench).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from search import COMPANIES, WORDS
from timing import WORK, machine

from finews.derive import open_store
from finews.derive.stories import Stories, cluster_status, recluster
from finews.models import Item
from finews.store import ItemQuery
from finews.store.times import to_db_time

RESULTS = Path(__file__).parent / "results"
START = datetime(2022, 1, 1, tzinfo=UTC)
SOURCES = ["em_fast", "cls", "stcn", "xhcj", "sina"]


def _text(rng: random.Random, length: int) -> str:
    """Invented prose: a finance word or a company name in each clause among random Han
    characters, so that unrelated items share about as many character pairs as the
    labelled set's unrelated items do (Jaccard of bigrams ≈ 0.02)."""
    out: list[str] = []
    size = 0
    while size < length:
        words = [rng.choice(WORDS if rng.random() < 0.7 else COMPANIES)]
        words += ["".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(rng.randint(2, 5)))
                  for _ in range(rng.randint(2, 4))]  # fmt: skip
        rng.shuffle(words)
        clause = "".join(words) + f"{rng.randint(1, 999)}{rng.choice(['亿元', '%', '万股'])}"
        clause += rng.choice("，，。")
        out.append(clause)
        size += len(clause)
    return "".join(out)


def reports(count: int, seed: int = 5, start: datetime = START) -> Iterator[Item]:
    """``count`` items, oldest first: stories told one to four times."""
    rng = random.Random(seed)
    story_time = start
    pending: list[Item] = []
    n = 0
    while n < count:
        story_time += timedelta(seconds=rng.randint(10, 130))
        title = f"{_text(rng, 14)[:18]}{rng.randint(2, 999)}亿元"
        digest = _text(rng, rng.randint(60, 160))
        body = _text(rng, rng.randint(600, 1500)) if rng.random() < 0.3 else ""
        versions = [(title, f"财联社{story_time.month}月{story_time.day}日电，{digest}", body)]
        for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
            roll = rng.random()
            if roll < 0.4:
                versions.append((title, digest + "（财联社）", ""))
            elif roll < 0.7:
                versions.append((title, digest[: max(20, len(digest) // 2)], body))
            else:
                versions.append((f"{title[:6]}：{title[6:]}", digest, ""))
        for index, (head, text, content) in enumerate(versions):
            at = story_time + timedelta(minutes=rng.randint(0, 180) if index else 0)
            pending.append(
                Item(
                    source=rng.choice(SOURCES),
                    upstream_id=f"{seed}-{n}-{index}",
                    title=head,
                    digest=text,
                    content=content,
                    media="财联社",
                    published_at=at,
                    fetched_at=at,
                )
            )
        n += len(versions)
        pending.sort(key=lambda item: item.published_at)
        # hand out what can no longer be preceded by a later story's copy
        while pending and pending[0].published_at < story_time - timedelta(hours=3):
            yield pending.pop(0)
    pending.sort(key=lambda item: item.published_at)
    yield from pending


def row(item_id: int, item: Item) -> tuple[Any, ...]:
    at = to_db_time(item.published_at)
    return (
        item_id, item.source, item.upstream_id, item.title, item.digest, item.content, None,
        item.media, "cls", "财联社新闻", "news", 0, "", None, None, at, at, at, 1, None,
    )  # fmt: skip


def build(path: Path, count: int) -> tuple[dict[str, float], datetime]:
    if path.exists():
        path.unlink()
    timings: dict[str, float] = {}
    last = START
    with open_store(f"sqlite:///{path}") as store:
        started = time.perf_counter()
        batch: list[tuple[Any, ...]] = []
        for item_id, item in enumerate(reports(count), start=1):
            batch.append(row(item_id, item))
            last = max(last, item.published_at)
            if len(batch) == 5000:
                store.import_rows("items", batch)
                batch = []
        if batch:
            store.import_rows("items", batch)
        timings["import_s"] = time.perf_counter() - started
        started = time.perf_counter()
        recluster(store, batch=5000)
        timings["recluster_s"] = time.perf_counter() - started
        timings["recluster_items_per_s"] = count / timings["recluster_s"]
        timings |= quality(store)
    return timings, last


def quality(store: Any) -> dict[str, float]:
    """Pairwise precision and recall of the stored clusters against the generated stories
    (an upstream id is ``seed-story-version``)."""
    rows = store.query(
        "SELECT i.upstream_id, c.cluster_id FROM item_clusters c JOIN items i ON i.id = c.item_id"
    )
    truth: Counter[str] = Counter()
    predicted: Counter[int] = Counter()
    both: Counter[tuple[str, int]] = Counter()
    for upstream_id, cluster_id in rows:
        story = upstream_id.rsplit("-", 1)[0]
        truth[story] += 1
        predicted[int(cluster_id)] += 1
        both[(story, int(cluster_id))] += 1

    def pairs(counts: Counter[Any]) -> int:
        return sum(n * (n - 1) // 2 for n in counts.values())

    same = pairs(both)
    return {
        "pairwise_precision": same / max(pairs(predicted), 1),
        "pairwise_recall": same / max(pairs(truth), 1),
    }


def incremental(
    path: Path, new: int, batch: int, after: datetime, *, seed: int
) -> dict[str, float]:
    """Store ``new`` items after the archive's end; time the clustering step alone (wall
    and this process's CPU time, which a busy machine inflates less)."""
    spent = [0.0, 0.0]
    original = Stories._cluster_items

    def timed(self: Stories, tx: Any, written: Any) -> None:
        started, cpu = time.perf_counter(), time.process_time()
        original(self, tx, written)
        spent[0] += time.perf_counter() - started
        spent[1] += time.process_time() - cpu

    items = list(reports(new, seed=seed, start=after + timedelta(minutes=1)))
    Stories._cluster_items = timed  # type: ignore[method-assign]
    try:
        with open_store(f"sqlite:///{path}") as store:
            started = time.perf_counter()
            for first in range(0, len(items), batch):
                store.upsert_items(items[first : first + batch])
            total = time.perf_counter() - started
            status = cluster_status(store)
    finally:
        Stories._cluster_items = original  # type: ignore[method-assign]
    return {
        "new_items": len(items),
        "batch": batch,
        "clustering_s": spent[0],
        "clustering_items_per_s": len(items) / spent[0],
        "clustering_cpu_s": spent[1],
        "clustering_items_per_cpu_s": len(items) / spent[1],
        "upsert_s": total,
        "upsert_items_per_s": len(items) / total,
        "stories": status.stories,
        "items_after": status.items,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--new", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument(
        "--reuse", action="store_true", help="keep the archive a previous run built (and grew)"
    )
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / f"cluster_{args.items}.db"
    out = RESULTS / f"cluster_{args.items}.json"
    if args.reuse and path.exists():
        with open_store(f"sqlite:///{path}") as store:
            last = next(iter(store.items(ItemQuery(limit=1)))).published_at
        timings = json.loads(out.read_text(encoding="utf-8"))["build"] if out.exists() else {}
    else:
        timings, last = build(path, args.items)
    print(f"archive of {args.items}: {json.dumps(timings)}")
    with open_store(f"sqlite:///{path}") as store:
        before = cluster_status(store)
    result = incremental(path, args.new, args.batch, last, seed=1000 + args.batch)
    print(json.dumps(result))
    report = {
        "items": args.items,
        "machine": machine(),
        "load_average_after": os.getloadavg(),
        "build": timings,
        "stories_in_archive": before.stories,
        "incremental": result,
    }
    RESULTS.mkdir(exist_ok=True)
    if args.reuse and out.exists():
        earlier = json.loads(out.read_text(encoding="utf-8"))
        report["incremental_runs"] = [*earlier.get("incremental_runs", []), earlier["incremental"]]
    out.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
