"""Listings that show each story once (``ItemQuery.first_reports_only``) at scale, on SQLite
or PostgreSQL, against the same listings showing every report.

Makes an archive of ``--items`` raw rows (five sources, each its own category; stories told
one to four times within three hours by different sources, about 2.2 reports per story,
so over half the items are later reports; one item in twenty important) with its
``item_clusters`` rows written directly: no text work, only the shape the listings read.
Then times, ``--runs`` times each, what a page of the site asks the store for:

- the home stream and ``/all/`` first page (newest 50), a category's and a day's first
  page, the important listing's first page;
- a numbered page deep in the archive (the catalog's range between two keys, oldest
  first), in ``/all/`` and in a category;
- ``Catalog.scan`` over the whole archive (what the live app does at start and the static
  build's full pass), with and without each story once.

    .venv/bin/python bench/listing_dedupe.py --items 1000000
    .venv/bin/python bench/listing_dedupe.py --items 1000000 --db postgresql://postgres@127.0.0.1/bench

Results go to ``bench/results/listing_dedupe_<engine>_<items>.json``; the SQLite database
to ``$FINEWS_BENCH_WORK`` (default /tmp/finews-bench). A PostgreSQL database given with
``--db`` is emptied first.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from timing import WORK, machine

from finews.derive import open_store
from finews.publish.catalog import Catalog, listing_query
from finews.publish.urls import Listing
from finews.store import ItemQuery, Store
from finews.store.times import to_db_time

RESULTS = Path(__file__).parent / "results"
START = datetime(2022, 1, 1, tzinfo=UTC)
SOURCES = ["em_fast", "cls", "stcn", "xhcj", "sina"]
COLUMNS = (
    "id, source, upstream_id, title, digest, content, url, media, category, tag, kind, "
    "importance, stocks, author, fulltext_key, published_at, fetched_at, updated_at, revision"
)


def reports(count: int, seed: int = 11) -> list[tuple[datetime, str, int]]:
    """(published, source, story) of ``count`` items, oldest first."""
    rng = random.Random(seed)
    found: list[tuple[datetime, str, int]] = []
    moment = START
    story = 0
    while len(found) < count + 4:
        moment += timedelta(seconds=rng.expovariate(1 / 70))
        story += 1
        for n, source in enumerate(rng.sample(SOURCES, rng.choice([1, 1, 2, 2, 3, 4]))):
            delay = 0 if n == 0 else rng.randint(30, 3 * 3600)
            found.append((moment + timedelta(seconds=delay), source, story))
    found.sort()
    return found[:count]


def _row(item_id: int, when: datetime, source: str, rng: random.Random) -> tuple[Any, ...]:
    stamp = to_db_time(when)
    return (
        item_id,
        source,
        f"u{item_id}",
        f"标题{item_id}",
        "摘要",
        "",
        None,
        None,
        source,
        source,
        "news",
        1 if rng.random() < 0.05 else 0,
        "",
        None,
        None,
        stamp,
        stamp,
        stamp,
        1,
    )


def build(store: Store, count: int) -> float:
    """Write the archive as raw rows; the story of each item is led by its first report."""
    started = time.perf_counter()
    leaders: dict[int, int] = {}
    batch_items: list[tuple[Any, ...]] = []
    batch_stories: list[tuple[int, int, int]] = []
    insert_item = f"INSERT INTO items ({COLUMNS}) VALUES ({', '.join('?' * 19)})"
    insert_story = "INSERT INTO item_clusters (item_id, cluster_id, revision) VALUES (?, ?, 1)"

    def flush() -> None:
        with store.transaction() as tx:
            tx.executemany(insert_item, batch_items)
            tx.executemany(insert_story, [(i, c) for i, c, _ in batch_stories])
        batch_items.clear()
        batch_stories.clear()

    rng = random.Random(3)
    for item_id, (when, source, story) in enumerate(reports(count), start=1):
        leader = leaders.setdefault(story, item_id)
        batch_items.append(_row(item_id, when, source, rng))
        batch_stories.append((item_id, leader, 1))
        if len(batch_items) == 5000:
            flush()
    if batch_items:
        flush()
    if store.engine == "postgres":
        with store.transaction() as tx:
            tx.execute("SELECT setval('items_id_seq', (SELECT MAX(id) FROM items))")
        import psycopg

        with psycopg.connect(store.url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
    else:
        store.query("ANALYZE")
    return time.perf_counter() - started


def timed(fn: Callable[[], Any], runs: int) -> dict[str, float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {
        "p50_ms": round(statistics.median(samples), 2),
        "max_ms": round(samples[-1], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--db", default="", help="a PostgreSQL URL (default: SQLite in WORK)")
    parser.add_argument("--reuse", action="store_true", help="keep an archive built before")
    args = parser.parse_args()
    if args.db:
        url, engine = args.db, "postgres"
    else:
        WORK.mkdir(parents=True, exist_ok=True)
        path = WORK / f"listing_dedupe_{args.items}.db"
        if not args.reuse:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        url, engine = f"sqlite:///{path}", "sqlite"
    store = open_store(url)
    if engine == "postgres" and not args.reuse:
        with store.transaction() as tx:
            tx.execute("TRUNCATE items, item_clusters, item_revisions, changes CASCADE")
    built = None
    if not args.reuse:
        built = build(store, args.items)
        print(f"built {args.items} items in {built:.1f} s", flush=True)
    newest = next(iter(store.items(ItemQuery(limit=1))))
    day = Listing("day", (newest.published_at + timedelta(hours=8)).date().isoformat())
    oldest = list(store.items(ItemQuery(limit=args.items // 2, oldest_first=True)))
    low = (oldest[-1001].published_at, oldest[-1001].id or 0)
    high = (oldest[-951].published_at, oldest[-951].id or 0)
    del oldest
    cls_keys = list(
        store.items(ItemQuery(category="cls", limit=args.items // 10, oldest_first=True))
    )
    cls_low = (cls_keys[-51].published_at, cls_keys[-51].id or 0)
    cls_high = (cls_keys[-1].published_at, cls_keys[-1].id or 0)
    del cls_keys
    cases: dict[str, Callable[[bool], ItemQuery]] = {
        "all, first page": lambda once: ItemQuery(limit=50, first_reports_only=once),
        "category, first page": lambda once: listing_query(
            Listing("category", "cls"), limit=50, first_reports_only=once
        ),
        "day, first page": lambda once: listing_query(day, limit=50, first_reports_only=once),
        "important, first page": lambda once: listing_query(
            Listing("important"), limit=50, first_reports_only=once
        ),
        "all, a page in the middle": lambda once: ItemQuery(
            before=low, through=high, oldest_first=True, first_reports_only=once
        ),
        "category, a page in the middle": lambda once: listing_query(
            Listing("category", "cls"),
            before=cls_low,
            through=cls_high,
            oldest_first=True,
            first_reports_only=once,
        ),
    }
    results: dict[str, Any] = {}
    for name, make in cases.items():
        for once in (False, True):
            query = make(once)
            label = f"{name}, {'each story once' if once else 'every report'}"
            found = len(list(store.items(query)))
            results[label] = {**timed(lambda q=query: list(store.items(q)), args.runs),
                              "items": found}  # fmt: skip
            print(f"  {label}: {results[label]}", flush=True)
    scans: dict[str, Any] = {}
    for once in (False, True):
        load = os.getloadavg()[0]
        started = time.perf_counter()
        catalog = Catalog.scan(store, 50, first_reports_only=once)
        seconds = time.perf_counter() - started
        listed = catalog.get(Listing("all"))
        label = "each story once" if once else "every report"
        scans[label] = {
            "seconds": round(seconds, 1),
            "all_count": listed.count(50) if listed else 0,
            "load_before": load,
        }
        print(f"  Catalog.scan, {label}: {scans[label]}", flush=True)
    copies = int(
        store.query("SELECT COUNT(*) FROM item_clusters WHERE cluster_id <> item_id")[0][0]
    )
    report = {
        "engine": engine,
        "items": args.items,
        "later_reports": copies,
        "build_seconds": built,
        "queries": results,
        "catalog_scan": scans,
        "machine": machine(),
        "load_average_after": os.getloadavg(),
    }
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"listing_dedupe_{engine}_{args.items}.json"
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    store.close()


if __name__ == "__main__":
    main()
