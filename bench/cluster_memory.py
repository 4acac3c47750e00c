"""Memory of story clustering as a daemon keeps it: two days of news in a minute or two,
in-process.

Stores invented items (stories told one to four times, as in ``bench/cluster.py``) at
``--rate`` items an hour of publication time, the way ``finews run`` does: each poll's items
with ``upsert_items(derive=False)`` on one connection, then ``derive_pending`` (search
index and stories) on a second, which keeps the story window between rounds. A fifth of
the items get their full text in a later write (a new revision, as the full-text queue
does). At every simulated hour it records the process's RSS, the memory Python has
allocated (``tracemalloc``, with ``--trace``), how many items the window holds, and the
window's own size (every object reachable from it, counted once); at the end it drops the
window and reports how much memory that frees per held item, and a digest of every item's
story (so that two runs, say before and after a change, can be shown to cluster alike).

    .venv/bin/python bench/cluster_memory.py --hours 48 --trace
    PYTHONPATH=/path/to/other/src .venv/bin/python bench/cluster_memory.py --tag before

Results go to ``bench/results/cluster_memory_<tag>.json``.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import random
import sys
import tempfile
import time
import tracemalloc
from array import array
from collections.abc import Iterator
from dataclasses import fields, is_dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cluster import reports

import finews
from finews.derive import DEFAULT_BATCH, derive_pending, open_store
from finews.derive.stories import stories_of
from finews.models import Item

RESULTS = Path(__file__).parent / "results"
START = datetime(2026, 1, 5, tzinfo=UTC)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def deep_size(root: Any) -> tuple[int, int]:
    """(bytes, objects) of everything reachable from ``root`` through containers, slotted
    dataclasses and arrays, each object once (ints below 257 and None/bools not counted:
    Python shares them)."""
    seen: set[int] = set()
    total = 0
    stack = [root]
    while stack:
        obj = stack.pop()
        if obj is None or isinstance(obj, bool) or id(obj) in seen:
            continue
        if isinstance(obj, int) and -5 <= obj <= 256:
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        if isinstance(obj, dict):
            stack.extend(obj.keys())
            stack.extend(obj.values())
        elif isinstance(obj, list | tuple | set | frozenset):
            stack.extend(obj)
        elif isinstance(obj, array | str | bytes | int | float | datetime):
            continue
        elif is_dataclass(obj):
            stack.extend(getattr(obj, f.name) for f in fields(obj))
        elif hasattr(obj, "__dict__"):
            stack.append(vars(obj))
        elif hasattr(obj, "__slots__"):
            stack.extend(getattr(obj, s) for s in obj.__slots__ if hasattr(obj, s))
    return total, len(seen)


def timeline(hours: float, rate: float, seed: int) -> Iterator[Item]:
    """``reports`` with publication times squeezed to ``rate`` items an hour (the
    generator makes about 113), sources spread over 20 names as the soak's feeds."""
    made = reports(int(hours * rate) + 1, seed=seed, start=START)
    # the generator's rate: a story every 70 s on average, 2.2 reports each
    squeeze = (3600 / 70 * 2.17) / rate
    rng = random.Random(seed)
    for item in made:
        at = START + (item.published_at - START) * squeeze
        yield item.replace(source=f"src{rng.randrange(20):02d}", published_at=at, fetched_at=at)


def window_of(store: Any) -> Any:
    return stories_of(store).__dict__.get("_story_window")


def held(window: Any) -> int:
    if window is None:
        return 0
    for name in ("fps", "_fps", "held"):
        value = getattr(window, name, None)
        if value is not None:
            return len(value)
    return len(window)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=float, default=48.0)
    parser.add_argument("--rate", type=float, default=680.0, help="items an hour")
    parser.add_argument("--poll", type=float, default=150.0, help="simulated s between polls")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--trace", action="store_true", help="tracemalloc (slower)")
    parser.add_argument("--tag", default="after")
    parser.add_argument(
        "--no-size", action="store_true", help="skip the window's size (to compare CPU time)"
    )
    args = parser.parse_args()
    if args.trace:
        tracemalloc.start()
    folder = Path(tempfile.mkdtemp(prefix="finews-clustermem-"))
    url = f"sqlite:///{folder / 'mem.db'}"
    writer = open_store(url)
    deriver = open_store(url, migrate=False)
    samples: list[dict[str, Any]] = []
    hour = 1
    began = time.perf_counter()
    pending: list[Item] = []
    texts: list[Item] = []
    poll_end = START + timedelta(seconds=args.poll)
    rng = random.Random(args.seed + 1)
    stored = 0

    def flush() -> None:
        nonlocal stored
        if texts:  # full texts fetched since the last poll: a new revision each
            writer.upsert_items(
                [i.replace(content=i.content or i.digest * 8) for i in texts], derive=False
            )
            texts.clear()
        if pending:
            writer.upsert_items(pending, derive=False)
            stored += len(pending)
            texts.extend(i for i in pending if rng.random() < 0.2)
            pending.clear()
        while derive_pending(deriver, limit=DEFAULT_BATCH):
            pass

    def record(at_hour: int) -> None:
        window = window_of(deriver)
        size, objects = deep_size(window) if window is not None and not args.no_size else (0, 0)
        count = held(window)
        from finews.process.stories import quantities as quantities_module

        quantity = getattr(quantities_module, "quantity", None)
        info = quantity.cache_info() if hasattr(quantity, "cache_info") else None
        sample = {
            "hour": at_hour,
            "stored": stored,
            "rss_MB": round(rss_mb(), 1),
            "window_items": count,
            "window_MB": round(size / 2**20, 2),
            "window_objects": objects,
            "window_bytes_per_item": round(size / count) if count else None,
            "fp_cache": len(stories_of(deriver).__dict__.get("_fps", ())),
            "quantity_cache": info.currsize if info else None,
            "elapsed_s": round(time.perf_counter() - began, 1),
        }
        if args.trace:
            current, peak = tracemalloc.get_traced_memory()
            sample["traced_MB"] = round(current / 2**20, 1)
            sample["traced_peak_MB"] = round(peak / 2**20, 1)  # within the hour
            tracemalloc.reset_peak()
        samples.append(sample)
        print(json.dumps(sample), flush=True)

    for item in timeline(args.hours, args.rate, args.seed):
        while item.published_at >= poll_end:
            flush()
            poll_end += timedelta(seconds=args.poll)
            if poll_end - START >= timedelta(hours=hour):
                record(hour)
                hour += 1
        if item.published_at - START > timedelta(hours=args.hours):
            break
        pending.append(item)
    flush()
    result: dict[str, Any] = {
        "tag": args.tag,
        "finews": str(Path(finews.__file__).parent),
        "hours": args.hours,
        "rate": args.rate,
        "stored": stored,
        "load_before": os.getloadavg()[0],
        "samples": samples,
    }
    # what dropping the window frees, per item it held
    gc.collect()
    window = window_of(deriver)
    count = held(window)
    if args.trace:
        before = tracemalloc.get_traced_memory()[0]
        snapshot = tracemalloc.take_snapshot()
        top = snapshot.statistics("lineno")[:12]
        result["top_allocations"] = [
            f"{s.traceback[0].filename.split('/src/')[-1]}:{s.traceback[0].lineno} "
            f"{s.size / 2**20:.2f} MB in {s.count}"
            for s in top
        ]
        del window
        stories_of(deriver).__dict__.pop("_story_window", None)
        gc.collect()
        freed = before - tracemalloc.get_traced_memory()[0]
        result["window_freed_MB"] = round(freed / 2**20, 2)
        result["window_freed_bytes_per_item"] = round(freed / count) if count else None
        result["window_items_at_end"] = count
    rows = deriver.query(
        "SELECT i.source, i.upstream_id, l.source, l.upstream_id FROM item_clusters c "
        "JOIN items i ON i.id = c.item_id JOIN items l ON l.id = c.cluster_id "
        "ORDER BY i.source, i.upstream_id"
    )
    digest = hashlib.sha256(repr(rows).encode()).hexdigest()
    result["stories"] = len({(r[2], r[3]) for r in rows})
    result["clustered"] = len(rows)
    result["stories_sha256"] = digest
    result["elapsed_s"] = round(time.perf_counter() - began, 1)
    result["cpu_s"] = round(time.process_time(), 1)
    result["load_after"] = os.getloadavg()[0]
    writer.close()
    deriver.close()
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"cluster_memory_{args.tag}.json"
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "samples"}, indent=2))


if __name__ == "__main__":
    main()
