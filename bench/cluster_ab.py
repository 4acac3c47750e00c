"""Incremental clustering at a large archive, two or more versions of finews side by side.

Each round copies one archive snapshot (a database ``bench/cluster.py`` built and grew) and
stores the same ``--new`` invented items on top of it with ``upsert_items`` in batches of
``--batch``, once per version, the versions one after the other; the time spent in the
clustering step of those writes is the result (as in ``bench/cluster.py``). Round ``r``
uses the items of seed ``--seed + r`` for every version, so each round compares like with
like; this machine's speed drifts by 10-20 % from minute to minute, so read the rounds'
medians, not one run.

    .venv/bin/python bench/cluster.py --items 1000000          # builds the snapshot
    cp /tmp/finews-bench/cluster_1000000.db /tmp/snap.db
    git worktree add /tmp/old <commit>
    .venv/bin/python bench/cluster_ab.py /tmp/snap.db head=src old=/tmp/old/src --rounds 3

A version is ``name=path``: the ``src`` folder of a checkout, put first on ``PYTHONPATH``
and run with the checkout's own ``bench/cluster.py`` (this one where it has none); the
snapshot's schema must be one that version reads. Results go to
``bench/results/cluster_ab<--tag>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from timing import WORK, machine

RESULTS = Path(__file__).parent / "results"

#: what one round runs in a child process (the version's finews on its path)
_CHILD = """
import json, resource, sys
sys.path.insert(0, {bench!r})
import cluster
from finews.derive import open_store
from finews.store import ItemQuery
path = {path!r}
with open_store(f"sqlite:///{{path}}") as store:
    last = next(iter(store.items(ItemQuery(limit=1)))).published_at
result = cluster.incremental(path, {new}, {batch}, last, seed={seed})
result["max_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(result))
"""


def one_round(snapshot: Path, src: str, new: int, batch: int, seed: int) -> dict[str, Any]:
    work = WORK / "cluster_ab.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{work}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(snapshot, work)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    # the version's own bench/cluster.py beside its src (the item generator is the same in
    # every version; its imports follow that version's modules), else this one
    bench = Path(src).resolve().parent / "bench"
    if not (bench / "cluster.py").is_file():
        bench = Path(__file__).parent
    code = _CHILD.format(bench=str(bench), path=str(work), new=new, batch=batch, seed=seed)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{src}: the round failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["load_average_after"] = os.getloadavg()[0]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("snapshot", type=Path, help="an archive bench/cluster.py built")
    parser.add_argument("versions", nargs="+", help="name=path of a version's src folder")
    parser.add_argument("--new", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7000)
    parser.add_argument("--tag", default="")
    args = parser.parse_args()
    versions = dict(version.split("=", 1) for version in args.versions)
    WORK.mkdir(parents=True, exist_ok=True)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in versions}
    for round_no in range(args.rounds):
        for name, src in versions.items():
            result = one_round(args.snapshot, src, args.new, args.batch, args.seed + round_no)
            runs[name].append(result)
            # (a version's bench from before CPU time was recorded gives wall time only)
            cpu = result.get("clustering_items_per_cpu_s")
            print(
                f"round {round_no + 1} {name}: {result['clustering_items_per_s']:.0f} items/s, "
                + ("" if cpu is None else f"{cpu:.0f} a CPU s, ")
                + f"peak RSS {result['max_rss_mib']:.0f} MiB",
                flush=True,
            )
    summary = {
        name: statistics.median(r["clustering_items_per_s"] for r in done)
        for name, done in runs.items()
    }
    per_cpu = {
        name: statistics.median(r["clustering_items_per_cpu_s"] for r in done)
        for name, done in runs.items()
        if all("clustering_items_per_cpu_s" in r for r in done)
    }
    print("median items/s: " + ", ".join(f"{k} {v:.0f}" for k, v in summary.items()))
    print("median items/CPU s: " + ", ".join(f"{k} {v:.0f}" for k, v in per_cpu.items()))
    report = {
        "snapshot": str(args.snapshot),
        "versions": versions,
        "new": args.new,
        "batch": args.batch,
        "machine": machine(),
        "median_clustering_items_per_s": summary,
        "median_clustering_items_per_cpu_s": per_cpu,
        "runs": runs,
    }
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"cluster_ab{args.tag}.json"
    out.write_text(json.dumps(report, indent=1), encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
