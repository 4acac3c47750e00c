"""Live updates across web nodes: seconds from a commit to its event at an SSE client of
each node, woken by PostgreSQL's ``NOTIFY`` alone.

Two live sites (uvicorn on 127.0.0.1, in threads) on one fresh PostgreSQL database, each
listening for ``NOTIFY finews_changes``, their safety-net poll pushed out to 120 s so that only
the notification can wake them; one ``GET /events`` stream open on each. This process then
commits ``--probes`` single-item transactions ``--gap`` seconds apart; the latency of one is
from ``upsert_items`` returning to the event's arrival at a client (one machine, one clock).
Every probe must reach every client, or the run fails.

    .venv/bin/python bench/notify_latency.py            # FINEWS_TEST_PG_URL names the server

Results go to ``bench/results/notify_latency.json``. (``tests/test_multinode.py`` checks that
every commit reaches every node; this measures how soon.)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import threading
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from pg_ingest import DEFAULT_PG, drop_postgres, fresh_postgres
from timing import machine

from finews.derive import open_store
from finews.models import Item
from finews.publish.events import ChangeFeed
from finews.publish.settings import SiteSettings
from finews.publish.web import create_app

RESULTS = Path(__file__).parent / "results"
WAIT = 60.0


class Node:
    """One live site on 127.0.0.1 (a free port), served by uvicorn in a thread."""

    def __init__(self, url: str) -> None:
        app = create_app(url, SiteSettings(page_size=20), heartbeat=0.5)
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", ws="none")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.app: Any = app
        self.url = ""

    def __enter__(self) -> Node:
        self.thread.start()
        deadline = time.monotonic() + WAIT
        while not self.server.started:
            if time.monotonic() > deadline:
                raise SystemExit("a live node did not start")
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        while True:  # listening before any commit, or its notification would be missed
            listener = self.app.state.site.changes.listener
            if listener is not None and listener.connected:
                return self
            if time.monotonic() > deadline:
                raise SystemExit(f"{self.url}: the change listener did not connect")
            time.sleep(0.02)

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(15)


class Stream:
    """An ``EventSource`` on one node, in a thread: each item event's id and arrival time."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.arrivals: dict[int, float] = {}
        self.opened = threading.Event()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)

    def __enter__(self) -> Stream:
        self.thread.start()
        if not self.opened.wait(WAIT):
            raise SystemExit(f"{self.url}: the stream did not open")
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(5)

    def _read(self) -> None:
        with (
            httpx.Client(timeout=httpx.Timeout(WAIT)) as http,
            http.stream("GET", f"{self.url}/events") as response,
        ):
            fields: dict[str, str] = {}
            for line in response.iter_lines():
                self.opened.set()
                if self.stop.is_set():
                    return
                if line == "":
                    if fields.get("event") == "item":
                        self.arrivals[int(json.loads(fields["data"])["id"])] = time.time()
                    fields = {}
                elif not line.startswith(":"):
                    name, _, value = line.partition(":")
                    fields[name] = value.removeprefix(" ")


def measure(url: str, probes: int, gap: float) -> dict[str, list[float]]:
    """Seconds from each probe's commit to its arrival, per node."""
    ChangeFeed.listen_interval = 120.0  # only a notification wakes a node in time
    with ExitStack() as stack:
        nodes = [stack.enter_context(Node(url)) for _ in range(2)]
        streams = [stack.enter_context(Stream(node.url)) for node in nodes]
        committed: dict[int, float] = {}
        with open_store(url, migrate=False) as store:
            for n in range(probes):
                now = datetime.now(UTC).replace(microsecond=0)
                probe = Item(
                    source="probe",
                    upstream_id=f"probe-{n}",
                    title=f"延迟探针{n}",
                    published_at=now,
                    fetched_at=now,
                )
                store.upsert_items([probe])
                at = time.time()
                stored = store.get_item(probe.source, probe.upstream_id)
                assert stored is not None
                assert stored.id is not None
                committed[stored.id] = at
                time.sleep(gap)
        deadline = time.monotonic() + WAIT
        while any(len(s.arrivals) < probes for s in streams) and time.monotonic() < deadline:
            time.sleep(0.05)
        result = {}
        for node, stream in zip(nodes, streams, strict=True):
            if set(stream.arrivals) != set(committed):
                raise SystemExit(f"{node.url}: {len(stream.arrivals)} of {probes} events arrived")
            result[node.url] = [stream.arrivals[i] - at for i, at in committed.items()]
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--probes", type=int, default=20, help="single-item commits")
    parser.add_argument("--gap", type=float, default=0.05, help="seconds between commits")
    parser.add_argument("--server", default=DEFAULT_PG, help="PostgreSQL server URL")
    args = parser.parse_args()
    url, name = fresh_postgres(args.server)
    try:
        latencies = measure(url, args.probes, args.gap)
    finally:
        drop_postgres(args.server, name)
    nodes = []
    for letter, values in zip("AB", latencies.values(), strict=False):
        ms = sorted(v * 1000 for v in values)
        nodes.append({"node": letter, "median_ms": statistics.median(ms), "max_ms": ms[-1]})
        print(f"node {letter}: median {statistics.median(ms):.1f} ms, max {ms[-1]:.1f} ms")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "notify_latency.json"
    record = {
        "machine": machine(),
        "load_average_after": os.getloadavg()[0],
        "probes": args.probes,
        "gap_s": args.gap,
        "nodes": nodes,
    }
    out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
