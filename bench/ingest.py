"""Ingest throughput: from a fetched payload to committed rows, on one core.

Builds East Money 7x24 pages (``--page-size`` items each, bodies of ``--body-chars``
characters, half of them HTML paragraphs, half plain text) and pushes them through exactly
what a poll does with a reply: the adapter's parser, the known-id check, normalising
(clean-up, sanitising, titles, times) and ``upsert_items`` (rows, revisions, change log)
— one transaction per page. The process is pinned to one CPU.

Three ways, each on a new database, in one run:

- **deferred**, as ``finews run`` stores: ``upsert_items(derive=False)``, then, timed
  apart, ``derive_all`` (search index and stories, what the daemon's deriving thread does);
- **inline**, as ``finews fetch`` stores: each page indexed and clustered in its write;
- the **FTS5 floor**: the same items' search columns (tokens built beforehand, untimed)
  inserted into a bare FTS5 table in the same page transactions: what SQLite alone costs
  for this index, whatever the code around it.

Then the same pages served by a loopback upstream and walked by one ``refresh_source`` poll
(HTTP included, stored as the daemon does). Memory: ``ru_maxrss`` after the deferred run,
and the peak of Python allocations (``tracemalloc``) in a separate, untimed run.

    .venv/bin/python bench/ingest.py --items 20000
    .venv/bin/python bench/ingest.py --items 20000 --database-url postgresql://…/bench
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import resource
import shutil
import sqlite3
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from loopback import body_text, headline

from finews.demo.replay import Received, ReplayServer, Reply, Route
from finews.derive import derive_all, open_store
from finews.fetch.client import HttpClient, HttpSettings
from finews.models import Item, SourceSpec
from finews.normalize import normalize_item
from finews.process.index import doc_terms
from finews.refresh import refresh_source
from finews.sources import get_adapter

BEIJING = timezone(timedelta(hours=8))
PATH = "/comm/web/getFastNewsList"


def make_pages(
    items: int,
    page_size: int,
    body_chars: int,
    spacing: timedelta = timedelta(seconds=60),
    *,
    alike: bool = False,
) -> list[bytes]:
    """Reply bodies, newest page first, each ``sortEnd`` chaining to the next; items are
    published ``spacing`` apart (the story clustering compares items within 20 hours)."""
    start = datetime(2026, 9, 1, 9, 0, tzinfo=BEIJING)
    pages = []
    for first in range(0, items, page_size):
        entries: list[dict[str, Any]] = []
        for n in range(first, min(items, first + page_size)):
            number = items - n  # newest first
            body = body_text(number, body_chars, vocabulary_only=alike)
            if number % 2:
                half = len(body) // 2
                body = f"<p>{body[:half]}</p><p><b>{body[half:]}</b></p>"
            title = headline(number)
            entries.append(
                {
                    "code": f"20260901{number:010d}",
                    "title": title,
                    "summary": f"【{title}】{body}",
                    "showTime": f"{start + spacing * number:%Y-%m-%d %H:%M:%S}",
                    "realSort": str(1_700_000_000_000_000 + number),
                    "stockList": ["1.600519"] if number % 5 == 0 else [],
                    "titleColor": 3 if number % 7 == 0 else 0,
                }
            )
        sort_end = entries[-1]["realSort"] if first + page_size < items else ""
        data = {"sortEnd": sort_end, "fastNewsList": entries}
        reply = {"code": "1", "message": "success", "data": data}
        pages.append(json.dumps(reply, ensure_ascii=False).encode("utf-8"))
    return pages


def spec_for(url: str = "http://127.0.0.1:9", max_pages: int = 10_000) -> SourceSpec:
    return SourceSpec(
        id="bench",
        adapter="eastmoney_fast",
        settings={
            "url": url + PATH,
            "fallback_urls": [],
            "page_size": 200,
            "category": "kuaixun",
            "tag": "快讯",
            "fulltext": False,
            "max_pages": max_pages,
        },
    )


def ingest(
    url: str, pages: list[bytes], *, derive: bool
) -> tuple[int, float, float, dict[str, float]]:
    """Parse, normalise and store every page; return (items stored, wall s, CPU s, and the
    CPU seconds of each stage)."""
    spec = spec_for()
    adapter = get_adapter(spec.adapter)
    request = adapter.first_page(spec)
    stored = 0
    stages = dict.fromkeys(("parse", "normalize", "store"), 0.0)
    with open_store(url) as store:
        wall, cpu = time.perf_counter(), time.process_time()
        for body in pages:
            mark = time.process_time()
            page = adapter.parse_page(spec, body, request)
            stages["parse"] += time.process_time() - mark
            known = store.known_ids(spec.id, [raw.upstream_id for raw in page.items])
            fetched = datetime.now(UTC)
            mark = time.process_time()
            items = [
                item
                for raw in page.items
                if raw.upstream_id not in known
                for item in [normalize_item(raw, spec, fetched_at=fetched)]
                if isinstance(item, Item)
            ]
            stages["normalize"] += time.process_time() - mark
            mark = time.process_time()
            stored += store.upsert_items(items, derive=derive).new
            stages["store"] += time.process_time() - mark
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return stored, wall, cpu, {k: round(v, 2) for k, v in stages.items()}


def derive_later(url: str) -> tuple[int, float, float]:
    """Derive (index and cluster) everything stored; return (changes, wall s, CPU s)."""
    with open_store(url) as store:
        wall, cpu = time.perf_counter(), time.process_time()
        done = derive_all(store)
        return done, time.perf_counter() - wall, time.process_time() - cpu


def fts5_floor(folder: Path, pages: list[bytes]) -> tuple[int, float]:
    """CPU seconds SQLite's FTS5 alone takes to index the items' search columns (built
    beforehand, untimed), in the same transactions of one page each, in a table like
    finews's (contentless, ``unicode61``, WAL, ``synchronous=NORMAL``)."""
    return fts5_insert(folder / "floor.db", search_columns(pages))


def search_columns(pages: list[bytes]) -> list[list[tuple[str, str, str]]]:
    """Each page's items parsed, normalised and tokenised: their FTS5 columns."""
    spec = spec_for()
    adapter = get_adapter(spec.adapter)
    request = adapter.first_page(spec)
    fetched = datetime.now(UTC)
    batches = []
    for body in pages:
        items = [
            normalize_item(raw, spec, fetched_at=fetched)
            for raw in adapter.parse_page(spec, body, request).items
        ]
        batches.append(
            [
                doc_terms(i.title, i.digest, i.content).fts_columns()
                for i in items
                if isinstance(i, Item)
            ]
        )
    return batches


def fts5_insert(
    path: Path, batches: list[list[tuple[str, str, str]]], detail: str = "full"
) -> tuple[int, float]:
    """(items, CPU seconds) of inserting the columns into a new FTS5 table at ``path``,
    a transaction per page."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute(
        "CREATE VIRTUAL TABLE f USING fts5(title, body, chars, content = '', "
        f"detail = {detail}, tokenize = 'unicode61 remove_diacritics 0')"
    )
    rowid = 0
    cpu = time.process_time()
    for batch in batches:
        conn.execute("BEGIN")
        for columns in batch:
            rowid += 1
            conn.execute(
                "INSERT INTO f (rowid, title, body, chars) VALUES (?, ?, ?, ?)", (rowid, *columns)
            )
        conn.execute("COMMIT")
    cpu = time.process_time() - cpu
    conn.close()
    return rowid, cpu


def through_refresh(url: str, pages: list[bytes]) -> tuple[int, float, float]:
    """One ``refresh_source`` poll walking every page from a loopback upstream."""
    by_cursor = {"": pages[0]}
    for previous, body in itertools.pairwise(pages):
        by_cursor[json.loads(previous)["data"]["sortEnd"]] = body

    def reply(received: Received) -> Reply:
        body = by_cursor.get(received.query.get("sortEnd", ""), b"")
        return Reply(body=body, headers={"Content-Type": "application/json"})

    async def poll(base: str) -> tuple[int, float, float]:
        with open_store(url) as store:
            async with HttpClient(HttpSettings(timeout=30)) as client:
                wall, cpu = time.perf_counter(), time.process_time()
                report = await refresh_source(
                    spec_for(base, len(pages) + 1), store, client, derive=False
                )
                assert report.error is None, report.error
                return report.new, time.perf_counter() - wall, time.process_time() - cpu

    with ReplayServer([Route(PATH, reply)]) as upstream:
        return asyncio.run(poll(upstream.url))


def fresh_url(base: str | None, folder: Path, name: str) -> str:
    if base:
        return base
    return f"sqlite:///{folder / name}"


def reset_postgres(url: str) -> None:
    """Empty a PostgreSQL benchmark database (every finews table)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--page-size", type=int, default=200)
    parser.add_argument("--body-chars", type=int, default=1500)
    parser.add_argument(
        "--spacing", type=float, default=60.0, help="seconds between items' publication times"
    )
    parser.add_argument("--cpu", type=int, default=0, help="CPU to pin to")
    parser.add_argument(
        "--alike",
        action="store_true",
        help="bodies from a small vocabulary only: every item resembles every other "
        "(the worst case for story clustering)",
    )
    parser.add_argument(
        "--database-url", help="an EMPTY PostgreSQL database (it is wiped); default: SQLite"
    )
    args = parser.parse_args()
    os.sched_setaffinity(0, {args.cpu})
    folder = Path(tempfile.mkdtemp(prefix="finews-ingest-"))
    spacing = timedelta(seconds=args.spacing)
    pages = make_pages(args.items, args.page_size, args.body_chars, spacing, alike=args.alike)
    payload_mb = sum(map(len, pages)) / 1e6

    def prepare(name: str) -> str:
        url = fresh_url(args.database_url, folder, name)
        if args.database_url:
            reset_postgres(url)
        return url

    deferred_url = prepare("deferred.db")
    stored, wall, cpu, stages = ingest(deferred_url, pages, derive=False)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    derived, derive_wall, derive_cpu = derive_later(deferred_url)
    inline_stored, inline_wall, inline_cpu, inline_stages = ingest(
        prepare("inline.db"), pages, derive=True
    )
    floor_items, floor_cpu = fts5_floor(folder, pages)
    tracemalloc.start()
    ingest(prepare("traced.db"), pages, derive=False)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    http_new, http_wall, http_cpu = through_refresh(prepare("refresh.db"), pages)
    engine = "postgresql" if args.database_url else "sqlite"
    result = {
        "engine": engine,
        "items": stored,
        "pages": len(pages),
        "body_chars": args.body_chars,
        "spacing_s": args.spacing,
        "alike": args.alike,
        "payload_MB": round(payload_mb, 1),
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "items_per_s": round(stored / wall),
        "items_per_cpu_s": round(stored / cpu),
        "cpu_s_by_stage": stages,
        "then_derived": {
            "changes": derived,
            "wall_s": round(derive_wall, 2),
            "cpu_s": round(derive_cpu, 2),
            "items_per_cpu_s": round(derived / derive_cpu),
        },
        "stored_and_derived_items_per_cpu_s": round(stored / (cpu + derive_cpu)),
        "inline": {
            "items": inline_stored,
            "wall_s": round(inline_wall, 2),
            "cpu_s": round(inline_cpu, 2),
            "items_per_cpu_s": round(inline_stored / inline_cpu),
            "cpu_s_by_stage": inline_stages,
        },
        "fts5_floor": {
            "items": floor_items,
            "cpu_s": round(floor_cpu, 2),
            "items_per_cpu_s": round(floor_items / floor_cpu),
        },
        "max_rss_MB": round(rss_mb, 1),
        "tracemalloc_peak_MB": round(peak / 1e6, 1),
        "refresh_over_http": {
            "items": http_new,
            "wall_s": round(http_wall, 2),
            "cpu_s": round(http_cpu, 2),
            "items_per_s": round(http_new / http_wall),
            "items_per_cpu_s": round(http_new / http_cpu),
        },
    }
    print(json.dumps(result, indent=2))
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
