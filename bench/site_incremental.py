"""Incremental static build after 100 new items, on archives of growing size.

For each size N the script makes a SQLite archive of N items (once; kept under ``--work``) by
replicating the items of the 10,000-post synthetic archive that ``site_build.py`` imported
(``finews10000.db``): copy k gets its upstream ids suffixed and its times moved k × 60 days
back, and goes in through ``Store.import_rows`` (the bulk path ``finews copy-db`` uses). Going
through ``upsert_items`` would cost ~5-7 ms per item here (search index and clustering), an
hour and more for a million.

Then a full ``finews build`` makes the site and its manifest, except with ``--seed-manifest``
(used for 1,000,000 items, whose full build takes longer than this benchmark may): the
manifest is then written from one ``Catalog.scan`` exactly as a full build would write it,
without the million article files (the incremental build reads the manifest, never the old
articles; a page it must rewrite is then written fresh instead of compared).

Each round stores 100 new items (the newest, spread over the 12 categories, through
``upsert_items`` as a fetch would; their same-story clusters are then cleared, see
``add_items``) and times ``finews build OUT`` as a separate process. A
no-op build (nothing new) is timed too: it is the floor (interpreter start, imports,
manifest).

    .venv/bin/python bench/site_incremental.py --sizes 10000 100000 --rounds 3
    .venv/bin/python bench/site_incremental.py --sizes 1000000 --seed-manifest --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sqlite3
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from timing import FINEWS, REPO, WORK, machine, median, run_timed

from finews.derive import open_store
from finews.models import Item
from finews.publish.settings import SiteSettings
from finews.publish.site import SiteRenderer
from finews.publish.static_pages import FORMAT, MANIFEST, scan_catalog
from finews.store import ItemQuery, Store
from finews.store.tables import TABLES

_TIME = "%Y-%m-%dT%H:%M:%SZ"
_COPY_SHIFT = timedelta(days=60)  # one 10,000-item copy spans ~49 days
#: old output folders go here, not deleted while timing: this ext4 has no journal, and then
#: creating a file right after many were deleted nearby skips the freed inodes one by one
#: (see site_build.py), which would slow the builds being timed
_TRASH = "trash-incremental"


def _shift(text: str, by: timedelta) -> str:
    return (datetime.strptime(text, _TIME) - by).strftime(_TIME)


def make_archive(template: Path, db: Path, size: int) -> float:
    """An archive of ``size`` items replicated from ``template``; returns seconds taken."""
    started = time.perf_counter()
    with open_store(f"sqlite:///{template}") as src:
        rows = [row for batch in src.export_rows("items", batch=5000) for row in batch]
    pos = {name: i for i, name in enumerate(TABLES["items"])}
    tmp = db.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    with open_store(f"sqlite:///{tmp}") as dst:
        dst.migrate()
        next_id = 1
        copy = 0
        while next_id <= size:
            by = _COPY_SHIFT * copy
            batch = []
            for row in rows:
                if next_id > size:
                    break
                new = list(row)
                new[pos["id"]] = next_id
                if copy:
                    new[pos["upstream_id"]] = f"{row[pos['upstream_id']]}-c{copy}"
                    for name in ("published_at", "fetched_at", "updated_at"):
                        new[pos[name]] = _shift(row[pos[name]], by)
                batch.append(tuple(new))
                next_id += 1
                if len(batch) == 5000:
                    dst.import_rows("items", batch)
                    batch = []
            if batch:
                dst.import_rows("items", batch)
            copy += 1
            print(f"  {next_id - 1} items", flush=True)
    tmp.rename(db)
    return time.perf_counter() - started


def seed_manifest(db: Path, out: Path) -> float:
    """Write the manifest a full build would leave, from one catalog scan (no pages)."""
    started = time.perf_counter()
    settings = SiteSettings()
    with open_store(f"sqlite:///{db}") as store:
        catalog = scan_catalog(store, settings)
    manifest = {
        "format": FORMAT,
        "fingerprint": SiteRenderer(settings).fingerprint(),
        "catalog": catalog.to_json(),
    }
    out.mkdir(parents=True, exist_ok=True)
    data = json.dumps(manifest, ensure_ascii=False, separators=(",", ":"))
    (out / MANIFEST).write_text(data, encoding="utf-8")
    return time.perf_counter() - started


def add_items(store: Store, count: int, round_no: int, templates: list[Item]) -> None:
    """Store ``count`` new items, newer than everything, as a fetch would."""
    newest = next(iter(store.items(ItemQuery(limit=1)))).published_at
    now = datetime.now(UTC)
    fresh = [
        templates[i % len(templates)].replace(
            id=None,
            upstream_id=f"new-{round_no}-{i}",
            published_at=newest + timedelta(seconds=30 * (i + 1)),
            fetched_at=now,
        )
        for i in range(count)
    ]
    result = store.upsert_items(fresh)
    assert result.new == count, result
    # the new items are copies of a few archive items, and the synthetic bodies all look
    # alike: clustering would make each round's items further reports of the last round's
    # story, and the build would re-render every earlier round's articles for their "also
    # reported by". A fetch brings unrelated stories; so do these, once unclustered.
    url = getattr(store, "url", "")
    assert url.startswith("sqlite:///"), url
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        conn.execute("DELETE FROM item_clusters")


def _build_line(text: str) -> str:
    lines = [line for line in text.splitlines() if "build:" in line]
    return lines[-1] if lines else text.strip()[-200:]


def timed_build(label: str, url: str, out: Path) -> dict[str, Any]:
    """``finews build`` in its own process: wall and CPU seconds, and its summary line."""
    cmd = [FINEWS, "--database-url", url, "build", str(out)]
    load = os.getloadavg()[0]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    text = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{label} failed: {text[-2000:]}")
    line = _build_line(text)
    written = re.search(r"(\d+) files written", line)
    cpu = usage.ru_utime + usage.ru_stime
    print(f"  {label}: {wall:.3f} s wall, {cpu:.3f} s CPU, load {load:.1f}: {line}", flush=True)
    return {
        "label": label,
        "wall": wall,
        "cpu": cpu,
        "load_before": load,
        "files_written": int(written.group(1)) if written else None,
        "summary": line,
        "command": " ".join(cmd),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10000, 100000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--new", type=int, default=100, help="new items per round")
    parser.add_argument("--work", type=Path, default=WORK)
    parser.add_argument("--seed-manifest", action="store_true")
    parser.add_argument("--results", type=Path, default=REPO / "bench" / "results")
    args = parser.parse_args()
    template = args.work / "finews10000.db"
    if not template.exists():
        raise SystemExit(f"{template} missing: run bench/site_build.py --posts 10000 first")
    with open_store(f"sqlite:///{template}") as store:
        templates = list(store.items(ItemQuery(limit=200)))
    results: dict[str, Any] = {"machine": machine(), "new_per_round": args.new, "sizes": {}}
    trash = args.work / _TRASH
    for size in args.sizes:
        print(f"archive of {size} items", flush=True)
        db = args.work / f"inc{size}.db"
        setup: dict[str, Any] = {}
        if not db.exists():
            setup["make_archive_s"] = make_archive(template, db, size)
        work_db = args.work / f"inc{size}-run.db"
        shutil.copyfile(db, work_db)  # rounds add items: keep the archive as it was
        url = f"sqlite:///{work_db}"
        out = args.work / f"inc_out{size}"
        if out.exists():  # moved aside, not deleted: see _TRASH
            trash.mkdir(exist_ok=True)
            out.rename(trash / f"{out.name}-{time.time_ns()}")
        if args.seed_manifest:
            setup["seed_manifest_s"] = seed_manifest(work_db, out)
            setup["first_build"] = "seeded manifest (catalog scan), no pages written"
        else:
            full = run_timed("full build", [FINEWS, "--database-url", url, "build", str(out)])
            setup["full_build"] = full.to_json()
        runs = [timed_build("no-op build", url, out)]
        for round_no in range(args.rounds):
            with open_store(url) as store:
                add_items(store, args.new, round_no, templates)
            runs.append(timed_build(f"+{args.new} items", url, out))
        runs.append(timed_build("no-op build", url, out))
        incremental = [r["wall"] for r in runs if r["label"].startswith("+")]
        noop = [r["wall"] for r in runs if r["label"].startswith("no-op")]
        results["sizes"][str(size)] = {
            "setup": setup,
            "runs": runs,
            "incremental_median_s": median(incremental),
            "incremental_cpu_median_s": median(
                [r["cpu"] for r in runs if r["label"].startswith("+")]
            ),
            "noop_median_s": median(noop),
            "noop_cpu_median_s": median([r["cpu"] for r in runs if r["label"].startswith("no-op")]),
        }
        work_db.unlink()
        for suffix in ("-wal", "-shm"):
            Path(f"{work_db}{suffix}").unlink(missing_ok=True)
    if trash.exists():  # deleting ~100,000 files takes minutes here (discard): left to you
        print(f"old outputs moved to {trash}: delete them when no benchmark runs")
    args.results.mkdir(parents=True, exist_ok=True)
    name = "_".join(str(s) for s in args.sizes)
    target = args.results / f"site_incremental_{name}.json"
    target.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print("| items | +100 items: wall s (median) | CPU s | no-op wall s | CPU s | files written |")
    print("|---:|---:|---:|---:|---:|---:|")
    for size, row in results["sizes"].items():
        written = [r["files_written"] for r in row["runs"] if r["label"].startswith("+")]
        print(
            f"| {size} | {row['incremental_median_s']:.3f} | {row['incremental_cpu_median_s']:.3f} "
            f"| {row['noop_median_s']:.3f} | {row['noop_cpu_median_s']:.3f} | {median(written)} |"
        )
    print(f"results: {target}")


if __name__ == "__main__":
    main()
