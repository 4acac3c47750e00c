"""Ingest throughput of 1, 2 and 4 ``finews run`` workers sharing one PostgreSQL database.

A loopback upstream (``ReplayServer``, in this process) serves ``--sources`` East Money 7x24
feeds (``bench/loopback.py`` ``FastFeed``, invented Chinese items), each reply after
``--latency`` seconds (0: as fast as loopback goes, so the database is the limit; a few
tenths: an upstream across the internet, so waiting is). The workers are the real command
(``finews run``, child processes) with a poll ``--interval`` per source,
``daemon.host_spacing = 0`` (every feed is on one loopback host: the default politeness
spacing would cap each worker at five requests a second), ``daemon.lease_seconds =
--lease``, and each its own User-Agent, so the upstream knows who polled what.

For each worker count, on a fresh PostgreSQL database: start the workers while the feeds
trickle (one item a second in all) until every worker holds its share of the sources; then
publish a burst of ``--burst`` items into every feed at once and time how long the workers
take to store all of them. Throughput is the burst over that time; the ratio compares it
with one worker. Reported beside it: the sources per worker (``source_leases``) when the
burst began; the CPU seconds the workers and their PostgreSQL backends used during it;
sampled four times a second, how many of the workers' database sessions were running a
statement and how many of those were waiting for the change-log lock (the advisory lock
every ``upsert_items`` holds from its change-log rows to its commit); how many sources more
than one worker polled during the burst (0: no source is polled twice); the load average.

    .venv/bin/python bench/workers.py
    .venv/bin/python bench/workers.py --latency 0.3
    .venv/bin/python bench/workers.py --workers 1 2 4 --sources 24 --burst 500

The PostgreSQL server and the upstream run on the same machine as the workers: read the
ratios with ``cores`` beside them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
from loopback import LAUNCH, FastFeed, stop_daemon, write_config
from psycopg import sql
from timing import REPO, machine

from finews.demo.replay import Received, ReplayServer, Reply, Route
from finews.derive import derive_backlog, open_store

DEFAULT_PG = os.environ.get("FINEWS_TEST_PG_URL") or "postgresql://postgres@127.0.0.1:5432/test"


class PolledFeed(FastFeed):
    """A ``FastFeed`` that answers after ``latency`` seconds and notes which worker (by
    User-Agent) asked for its newest page (one request per poll), and when."""

    def __init__(self, path: str, prefix: str, latency: float) -> None:
        super().__init__(path, prefix=prefix)
        self.latency = latency
        self.polls: list[tuple[float, str]] = []

    def handle(self, received: Received) -> Reply:
        if not received.query.get("sortEnd"):
            self.polls.append((time.monotonic(), received.headers.get("user-agent", "")))
        reply = super().handle(received)
        return Reply(body=reply.body, headers=reply.headers, delay=self.latency)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a running process (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def total_cpu(pids: list[int]) -> float:
    """CPU seconds of these processes together (one gone meanwhile counts nothing)."""
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            total += cpu_seconds(pid)
    return total


def database(server: str) -> tuple[str, str]:
    """A new, empty PostgreSQL database on ``server``: its name and URL."""
    name = f"finews_bench_{secrets.token_hex(5)}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(
                sql.Identifier(name)
            )
        )
    return name, urlsplit(server)._replace(path=f"/{name}").geturl()


def drop(server: str, name: str) -> None:
    """Drop the benchmark database ``name``."""
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def backlog(url: str) -> int:
    """Stored changes not yet indexed and clustered."""
    with open_store(url, migrate=False) as store:
        return derive_backlog(store)


def count_items(url: str) -> int:
    """Items stored so far."""
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT COUNT(*) FROM items").fetchone()
        return int(row[0]) if row else 0


def spread(url: str) -> list[int]:
    """Sources held per worker, largest first."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT worker, COUNT(*) FROM source_leases WHERE worker <> '' GROUP BY worker"
        ).fetchall()
    return sorted((int(r[1]) for r in rows), reverse=True)


def backend_pids(url: str, name: str) -> list[int]:
    """The PostgreSQL server processes serving database ``name`` (the workers' sessions)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchall()
    return [int(r[0]) for r in rows]


class Sessions:
    """Samples, until stopped, how many of the database's sessions run a statement and how
    many of those wait for an advisory lock (the change-log lock)."""

    def __init__(self, url: str, name: str) -> None:
        self.url, self.name = url, name
        self.active: list[int] = []
        self.waiting: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self._stop.wait(0.25):
                row = conn.execute(
                    "SELECT count(*) FILTER (WHERE state = 'active'), count(*) FILTER "
                    "(WHERE wait_event_type = 'Lock' AND wait_event = 'advisory') "
                    "FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                    (self.name,),
                ).fetchone()
                if row is not None:
                    self.active.append(int(row[0]))
                    self.waiting.append(int(row[1]))

    def __enter__(self) -> Sessions:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def start_worker(config: Path, log: Path, agent: str) -> subprocess.Popen[bytes]:
    """``finews run`` as a child process with its own User-Agent, its log in ``log``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FINEWS_")}
    command = ["--config", str(config), "--set", f"http.user_agent={agent}", "run"]
    with log.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-c", LAUNCH, *command],
            stdout=subprocess.DEVNULL,
            stderr=sink,
            env=env,
        )


def wait_until(check: Any, what: str, timeout: float) -> None:
    """Wait until ``check()``; give up (exit) after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up after {timeout:g} s waiting for {what}")
        time.sleep(0.1)


def one_run(args: argparse.Namespace, workers: int, work: Path) -> dict[str, Any]:
    """Measure ``workers`` workers; see the module docstring."""
    feeds = [
        PolledFeed(f"/f{n}/getFastNewsList", f"{n:02d}", args.latency) for n in range(args.sources)
    ]
    trickling = threading.Event()
    trickling.set()

    def trickle() -> None:
        n = 0
        while trickling.is_set():
            feeds[n % len(feeds)].publish()
            n += 1
            time.sleep(1.0)

    name, url = database(args.pg_url)
    open_store(url).close()  # migrated before the workers start
    procs: list[subprocess.Popen[bytes]] = []
    try:
        with ReplayServer([Route(f.path, f.handle) for f in feeds]) as upstream:
            sources = "".join(
                f.toml(f"b{n:02d}", upstream.url, args.interval) for n, f in enumerate(feeds)
            )
            config = write_config(
                work / f"finews-{workers}.toml",
                url,
                sources,
                extra=f"[daemon]\nhost_spacing = 0\nlease_seconds = {args.lease}\n",
            )
            for feed in feeds:
                feed.publish()
            publisher = threading.Thread(target=trickle, daemon=True)
            publisher.start()
            procs = [
                start_worker(config, work / f"worker-{workers}-{i}.log", f"finews-bench-w{i}")
                for i in range(workers)
            ]
            share = -(-args.sources // workers)

            def settled() -> bool:
                held = spread(url)
                return len(held) == workers and held[0] <= share and held[-1] >= share - 1

            wait_until(settled, "the sources to spread over the workers", args.settle)
            time.sleep(2 * args.interval)  # every source polled under its settled lease
            trickling.clear()
            publisher.join(timeout=5)
            held = spread(url)
            load = os.getloadavg()[0]
            expected = count_items(url) + args.burst * len(feeds)
            backends = backend_pids(url, name)
            cpu0, pg0 = total_cpu([p.pid for p in procs]), total_cpu(backends)
            t0 = time.monotonic()
            with Sessions(url, name) as sessions:
                for _ in range(args.burst):
                    for feed in feeds:
                        feed.publish()
                published = time.monotonic() - t0
                wait_until(lambda: count_items(url) >= expected, "the burst to be stored", 900)
            t1 = time.monotonic()
            cpu1, pg1 = total_cpu([p.pid for p in procs]), total_cpu(backends)
            # the workers' deriving threads index and cluster behind the stored rows
            wait_until(lambda: backlog(url) == 0, "the burst to be indexed and clustered", 900)
            t2 = time.monotonic()
            stops = [stop_daemon(p) for p in procs]
    finally:
        trickling.clear()
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        drop(args.pg_url, name)
    seconds = t1 - t0
    pollers = [{agent for at, agent in f.polls if t0 <= at <= t1} for f in feeds]
    result = {
        "workers": workers,
        "latency": args.latency,
        "items_per_s": round(args.burst * len(feeds) / seconds, 1),
        "items": args.burst * len(feeds),
        "seconds": round(seconds, 2),
        "indexed_and_clustered_after_s": round(t2 - t0, 2),
        "indexed_items_per_s": round(args.burst * len(feeds) / (t2 - t0), 1),
        "publishing_seconds": round(published, 2),
        "worker_cpu_s": round(cpu1 - cpu0, 1),
        "postgres_cpu_s": round(pg1 - pg0, 1),
        "sources_per_worker": held,
        "sessions_active_mean": round(statistics.fmean(sessions.active or [0]), 2),
        "sessions_waiting_for_change_log_lock_mean": round(
            statistics.fmean(sessions.waiting or [0]), 2
        ),
        "sources_polled_by_two_workers": sum(len(p) > 1 for p in pollers),
        "polls_per_source": round(sum(len(f.polls) for f in feeds) / len(feeds), 1),
        "load_before": round(load, 2),
        "stop_seconds": [round(s, 2) for s in stops],
        "returncodes": [p.returncode for p in procs],
    }
    print(json.dumps(result), flush=True)
    return result


def main() -> None:
    """Measure each worker count in turn; print a Markdown table, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--sources", type=int, default=24, help="feeds, polled by the workers")
    parser.add_argument("--burst", type=int, default=500, help="items published per feed")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each reply")
    parser.add_argument("--interval", type=float, default=1.0, help="poll interval per source")
    parser.add_argument("--lease", type=float, default=6.0, help="daemon.lease_seconds")
    parser.add_argument("--settle", type=float, default=60.0, help="longest wait to spread")
    parser.add_argument("--pg-url", default=DEFAULT_PG)
    parser.add_argument("--out", type=Path, help="JSON results (default bench/results/…)")
    args = parser.parse_args()
    out = args.out or REPO / "bench" / "results" / f"workers_latency{args.latency:g}.json"
    results = []
    with tempfile.TemporaryDirectory(prefix="finews-workers-") as folder:
        for workers in args.workers:
            results.append(one_run(args, workers, Path(folder)))
    base = results[0]["items_per_s"] or float("nan")
    for result in results:
        result["ratio"] = round(result["items_per_s"] / base, 2)
    report = {
        "machine": machine(),
        "args": {k: str(v) for k, v in vars(args).items()},
        "runs": results,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(
        "\n| workers | items/s | ratio | sources per worker | worker CPU s | PostgreSQL CPU s "
        "| sessions active | waiting for the change-log lock | sources polled by two | load |"
    )
    print("|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['workers']} | {r['items_per_s']} | {r['ratio']} | "
            f"{'/'.join(map(str, r['sources_per_worker']))} | {r['worker_cpu_s']} | "
            f"{r['postgres_cpu_s']} | {r['sessions_active_mean']} | "
            f"{r['sessions_waiting_for_change_log_lock_mean']} | "
            f"{r['sources_polled_by_two_workers']} | {r['load_before']} |"
        )


if __name__ == "__main__":
    main()
