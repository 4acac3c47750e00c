"""1,000 concurrent Server-Sent Events clients of the live app while another process stores a
new item every second: delivery delay from the store's commit to each client's receipt.

Three kinds of process, all on 127.0.0.1:
- the server: uvicorn with the live app (one worker) over a copy of the 10,000-post archive;
- ``--procs`` client processes, each holding ``streams / procs`` open ``GET /events`` streams
  with httpx (asyncio), noting the wall-clock time each ``item`` event arrives;
- the writer: a separate process that stores one new item every second through
  ``Store.upsert_items`` (the path a fetch takes) and notes the time it returned, i.e. after
  the commit.

Delay of one delivery = client's receipt time - writer's commit time (one machine, one
clock). It includes the app's change-log poll (``poll_interval``, 0.25 s by default) and the
client process's own time to read 250 sockets. The server's resident memory is sampled every
second.

    .venv/bin/python bench/sse_fanout.py --streams 1000 --seconds 60
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from timing import REPO, WORK, machine

_HERE = Path(__file__).resolve().parent


# --- the client process --------------------------------------------------------------------
async def _one_stream(
    client: Any, url: str, got: list[tuple[str, float]], ready: list[int]
) -> None:
    async with client.stream("GET", url) as response:
        response.raise_for_status()
        ready[0] += 1
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                at = time.time()
                got.append((json.loads(line[6:]).get("title", ""), at))


async def _clients(url: str, streams: int, stop: Path, out: Path) -> None:
    import httpx

    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    timeout = httpx.Timeout(None, connect=30.0)
    received: list[list[tuple[str, float]]] = [[] for _ in range(streams)]
    ready = [0]
    failures: list[str] = []
    async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:
        tasks = [
            asyncio.create_task(_one_stream(client, url, received[i], ready))
            for i in range(streams)
        ]
        while not stop.exists():  # the orchestrator's signal that the run is over
            await asyncio.sleep(0.5)
            Path(f"{out}.ready").write_text(str(ready[0]))
        for task in tasks:
            task.cancel()
        for result in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                failures.append(f"{type(result).__name__}: {result}")
    out.write_text(json.dumps({"received": received, "failures": failures, "ready": ready[0]}))


# --- the writer process --------------------------------------------------------------------
def _writer(db_url: str, count: int, every: float, out: Path) -> None:
    from finews.derive import open_store
    from finews.store import ItemQuery

    commits: dict[str, float] = {}
    with open_store(db_url) as store:
        template = next(iter(store.items(ItemQuery(limit=1))))
        started = time.monotonic()
        for n in range(count):
            delay = started + n * every - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            now = datetime.now(UTC)
            title = f"SSE-{n}-{int(time.time())}"
            item = template.replace(
                id=None,
                upstream_id=f"sse-{n}-{time.time_ns()}",
                title=title,
                published_at=now,
                fetched_at=now,
            )
            store.upsert_items([item])
            commits[title] = time.time()  # upsert_items returns after its commit
    out.write_text(json.dumps(commits))


# --- the orchestrator ----------------------------------------------------------------------
def _rss_mib(pid: int) -> float:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _cpu_s(pid: int) -> float:
    with contextlib.suppress(OSError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return 0.0


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="mode")
    client = sub.add_parser("client")
    client.add_argument("url")
    client.add_argument("streams", type=int)
    client.add_argument("stop", type=Path)
    client.add_argument("out", type=Path)
    writer = sub.add_parser("writer")
    writer.add_argument("db_url")
    writer.add_argument("count", type=int)
    writer.add_argument("every", type=float)
    writer.add_argument("out", type=Path)
    parser.add_argument("--work", type=Path, default=WORK)
    parser.add_argument("--posts", type=int, default=10000)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--procs", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--poll", type=float, default=0.25, help="the app's poll_interval")
    parser.add_argument("--results", type=Path, default=REPO / "bench" / "results")
    args = parser.parse_args()
    if args.mode == "client":
        asyncio.run(_clients(args.url, args.streams, args.stop, args.out))
        return
    if args.mode == "writer":
        _writer(args.db_url, args.count, args.every, args.out)
        return
    run(args)


def run(args: argparse.Namespace) -> None:
    """Start the server, the clients and the writer; collect and summarise."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # inherited by every child
    template = args.work / f"finews{args.posts}.db"
    if not template.exists():
        raise SystemExit(f"{template} missing: run bench/site_build.py first")
    tmp = args.work / "sse"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    db = tmp / "sse.db"
    shutil.copyfile(template, db)
    db_url = f"sqlite:///{db}"
    sys.path.insert(0, str(_HERE))
    from site_http import _free_port, _wait_port

    port = _free_port()
    uvicorn = str(Path(sys.executable).with_name("uvicorn"))
    server_cmd = [
        uvicorn,
        "--factory",
        "site_app:app",
        "--app-dir",
        str(_HERE),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
        "--timeout-graceful-shutdown",
        "2",
        "--backlog",
        "4096",
    ]
    env = {**os.environ, "FINEWS_BENCH_DB": db_url, "FINEWS_BENCH_POLL": str(args.poll)}
    server = subprocess.Popen(server_cmd, env=env)
    results: dict[str, Any] = {"machine": machine(), "streams": args.streams}
    try:
        _wait_port(port)
        rss_idle = _rss_mib(server.pid)
        url = f"http://127.0.0.1:{port}/events"
        per = args.streams // args.procs
        connect_budget = 60.0
        stop = tmp / "stop"
        outs = [tmp / f"client{i}.json" for i in range(args.procs)]
        clients = [
            subprocess.Popen(
                [sys.executable, __file__, "client", url, str(per), str(stop), str(out)]
            )
            for out in outs
        ]
        started = time.monotonic()
        while True:  # every stream open before the first item
            time.sleep(0.5)
            ready = sum(
                int(Path(f"{o}.ready").read_text() or 0)
                for o in outs
                if Path(f"{o}.ready").exists()
            )
            if ready >= per * args.procs or time.monotonic() - started > connect_budget:
                break
        results["connected"] = ready
        results["connect_s"] = time.monotonic() - started
        print(f"  {ready} streams open after {results['connect_s']:.1f} s", flush=True)
        rss_connected = _rss_mib(server.pid)
        cpu_before = _cpu_s(server.pid)
        commits_out = tmp / "commits.json"
        writer = subprocess.Popen(
            [sys.executable, __file__, "writer", db_url, str(args.seconds), "1.0", str(commits_out)]
        )
        samples = []
        loads = []
        while writer.poll() is None:
            samples.append(_rss_mib(server.pid))
            loads.append(os.getloadavg()[0])
            time.sleep(1.0)
        cpu_during = _cpu_s(server.pid) - cpu_before
        time.sleep(3.0)  # the last item's delivery
        stop.write_text("stop")
        for proc in clients:
            proc.wait(60)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
    commits = json.loads(commits_out.read_text())
    delays: list[float] = []
    missing = 0
    failures: list[str] = []
    for out in outs:
        data = json.loads(out.read_text())
        failures += data["failures"]
        for stream in data["received"]:
            seen = dict(stream)
            for title, committed in commits.items():
                if title in seen:
                    delays.append(seen[title] - committed)
                else:
                    missing += 1
    results.update(
        seconds=args.seconds,
        items=len(commits),
        deliveries=len(delays),
        missing=missing,
        client_failures=failures[:10],
        delay_s={
            "p50": _percentile(delays, 0.50),
            "p90": _percentile(delays, 0.90),
            "p99": _percentile(delays, 0.99),
            "max": max(delays) if delays else float("nan"),
        },
        server_rss_mib={
            "idle": rss_idle,
            "connected": rss_connected,
            "max_during": max(samples) if samples else 0.0,
        },
        server_cpu_s_during=cpu_during,
        load_during={"min": min(loads), "max": max(loads)} if loads else {},
        poll_interval=args.poll,
        command=" ".join([sys.executable, *sys.argv]),
    )
    args.results.mkdir(parents=True, exist_ok=True)
    target = args.results / f"sse_fanout_{args.streams}.json"
    target.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    d, m = results["delay_s"], results["server_rss_mib"]
    print(
        f"{results['connected']} streams, {len(commits)} items, {len(delays)} deliveries, "
        f"{missing} missing; delay p50 {d['p50']:.3f} s, p90 {d['p90']:.3f} s, p99 "
        f"{d['p99']:.3f} s, max {d['max']:.3f} s; server RSS idle {m['idle']:.0f} MiB, "
        f"{m['connected']:.0f} MiB connected, max {m['max_during']:.0f} MiB; server CPU "
        f"{cpu_during:.1f} s over {args.seconds} s"
    )
    print(f"results: {target}")


if __name__ == "__main__":
    main()
