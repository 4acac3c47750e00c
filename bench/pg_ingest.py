"""Ingest throughput on PostgreSQL beside SQLite, with 1, 2 and 4 writer processes.

Each writer process owns one source (``bench-w<n>``, no other writer touches it), builds its
items first (an invented Chinese headline and a body of about ``--body-chars`` characters
each, published a minute apart), waits for the other writers at a barrier, then stores them
with ``upsert_items`` in batches of ``--batch``: one transaction per batch with everything a
poll's commit does (rows, change log, search index, stories, and on PostgreSQL the
``NOTIFY``). Throughput is all writers' items over the wall time from the barrier to the
last commit; the ratio compares it with one writer on the same engine.

Every run gets a fresh database: a SQLite file (WAL) in a temporary folder, or a new
PostgreSQL database on the server of ``--pg-url`` (created, then dropped).

    .venv/bin/python bench/pg_ingest.py
    .venv/bin/python bench/pg_ingest.py --items 1000 --writers 1 2 4 --engines postgres

Both engines order commits to the change log under one lock (SQLite's single writer, a
PostgreSQL advisory lock), and this machine's PostgreSQL server shares the benchmark's CPUs:
read the ratios with ``cores`` beside them.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import secrets
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
from loopback import body_text, headline
from psycopg import sql
from timing import machine

from finews.derive import open_store
from finews.models import Item

DEFAULT_PG = os.environ.get("FINEWS_TEST_PG_URL") or "postgresql://postgres@127.0.0.1:5432/test"
START = datetime(2026, 9, 1, 1, 0, tzinfo=UTC)


def make_items(writer: int, count: int, body_chars: int, apart: bool) -> list[Item]:
    """Writer ``writer``'s items: its own source, bodies of about ``body_chars``, published
    a minute apart, in the same hours as the other writers' items unless ``apart``."""
    items = []
    offset = timedelta(days=365 * writer) if apart else timedelta(0)
    for i in range(count):
        n = writer * 1_000_000 + i
        published = START + offset + timedelta(minutes=i)
        items.append(
            Item(
                source=f"bench-w{writer}",
                upstream_id=f"{writer}-{i}",
                title=headline(n),
                digest=body_text(n, 80),
                content=body_text(n, body_chars),
                media="基准测试",
                category="jizhunceshi",
                tag="基准测试新闻",
                published_at=published,
                fetched_at=published + timedelta(seconds=30),
            )
        )
    return items


def writer(
    url: str, number: int, count: int, body_chars: int, batch: int, apart: bool, barrier: Barrier
) -> None:
    """One writer process: build, wait for the others, store in batches."""
    items = make_items(number, count, body_chars, apart)
    with open_store(url, migrate=False) as store:
        barrier.wait()
        for start in range(0, len(items), batch):
            store.upsert_items(items[start : start + batch])


def run(url: str, writers: int, args: argparse.Namespace) -> float:
    """Seconds from the barrier to the last writer's last commit."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(writers + 1)
    procs = [
        context.Process(
            target=writer,
            args=(url, w, args.items, args.body_chars, args.batch, args.apart, barrier),
        )
        for w in range(writers)
    ]
    for proc in procs:
        proc.start()
    barrier.wait(timeout=300)
    started = time.perf_counter()
    for proc in procs:
        proc.join()
    seconds = time.perf_counter() - started
    failed = [proc.exitcode for proc in procs if proc.exitcode != 0]
    if failed:
        raise SystemExit(f"a writer failed with exit code {failed[0]}")
    with open_store(url, migrate=False) as store:
        stored = store.count_items()
    if stored != writers * args.items:
        raise SystemExit(f"expected {writers * args.items} items, found {stored}")
    return seconds


def fresh_sqlite(folder: Path) -> str:
    url = f"sqlite:///{folder / f'ingest-{secrets.token_hex(4)}.db'}"
    open_store(url).close()
    return url


def fresh_postgres(server: str) -> tuple[str, str]:
    name = f"finews_bench_{secrets.token_hex(4)}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(
                sql.Identifier(name)
            )
        )
    url = urlsplit(server)._replace(path=f"/{name}").geturl()
    open_store(url).close()
    return url, name


def drop_postgres(server: str, name: str) -> None:
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1500, help="items per writer")
    parser.add_argument("--batch", type=int, default=50, help="items per transaction")
    parser.add_argument("--body-chars", type=int, default=1500, help="characters per body")
    parser.add_argument("--writers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--engines", nargs="+", default=["sqlite", "postgres"])
    parser.add_argument("--repeat", type=int, default=1, help="runs per cell (median kept)")
    parser.add_argument("--pg-url", default=DEFAULT_PG, help="PostgreSQL server to use")
    parser.add_argument(
        "--apart",
        action="store_true",
        help="each writer's items a year apart from the others' (no story clustering "
        "across writers; isolates the cost of concurrency from a denser archive)",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    results: list[dict[str, Any]] = []
    print(json.dumps(machine()))
    with tempfile.TemporaryDirectory(prefix="finews-pg-ingest-") as tmp:
        for engine in args.engines:
            base = 0.0
            for writers in args.writers:
                times = []
                for _ in range(args.repeat):
                    load = os.getloadavg()[0]
                    if engine == "sqlite":
                        url = fresh_sqlite(Path(tmp))
                        times.append(run(url, writers, args))
                    else:
                        url, name = fresh_postgres(args.pg_url)
                        try:
                            seconds = run(url, writers, args)
                        finally:
                            drop_postgres(args.pg_url, name)
                        times.append(seconds)
                seconds = statistics.median(times)
                rate = writers * args.items / seconds
                base = base or rate
                row = {
                    "engine": engine,
                    "writers": writers,
                    "items": writers * args.items,
                    "seconds": round(seconds, 2),
                    "items_per_s": round(rate, 1),
                    "ratio": round(rate / base, 2),
                    "load_before": round(load, 2),
                }
                results.append(row)
                print(
                    f"{engine:<8} {writers} writer(s): {row['items']} items in "
                    f"{seconds:.1f} s = {rate:.0f} items/s, x{row['ratio']:.2f} "
                    f"(load before {load:.1f})",
                    flush=True,
                )
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
