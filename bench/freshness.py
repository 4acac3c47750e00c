"""Freshness: how long from an item's publication upstream until finews has it.

A loopback East Money 7x24 feed publishes items at random (Poisson) times; ``finews run``
(a child process, the real command) polls it every ``--interval`` seconds. An observer
reading the database every 50 ms notes when each item is stored, and a client connected to
the live app's ``/events`` (uvicorn in this process, over the same database) notes when each
item reaches it. The same publication times are then run through a simulation of the
original system, a 5-minute cron job, to compare.

Targets (issue 4): median ≤ interval/2 + 1 s, p99 ≤ interval + 2 s.

    .venv/bin/python bench/freshness.py --interval 5 --duration 180
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn
from loopback import FastFeed, percentile, start_daemon, stop_daemon, write_config

from finews.demo.replay import ReplayServer
from finews.derive import open_store
from finews.publish.settings import SiteSettings
from finews.publish.web import create_app

CRON = 300.0


class Observer(threading.Thread):
    """Notes when each item first shows in the database (polling every ``every`` s)."""

    def __init__(self, url: str, every: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.every = every
        self.seen: dict[str, float] = {}
        self.ids: dict[int, str] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        with open_store(self.url) as store:
            last = 0
            while not self.stop.is_set():
                rows = store.query(
                    "SELECT id, upstream_id FROM items WHERE id > ? ORDER BY id", [last]
                )
                now = time.time()
                for item_id, code in rows:
                    self.seen.setdefault(code, now)
                    self.ids[int(item_id)] = code
                    last = max(last, int(item_id))
                time.sleep(self.every)


class EventClient(threading.Thread):
    """Follows ``/events`` of the live app, noting when each new item's event arrives."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.arrived: dict[int, float] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        # heartbeats come every 5 s, so a 60 s read timeout only ends a dead stream
        try:
            with (
                httpx.Client(timeout=httpx.Timeout(10.0, read=60.0)) as client,
                client.stream("GET", self.url + "/events") as reply,
            ):
                for line in reply.iter_lines():
                    if self.stop.is_set():
                        return
                    if line.startswith("data:"):
                        data = json.loads(line[5:])
                        if data.get("kind") == "new":
                            self.arrived.setdefault(int(data["id"]), time.time())
        except httpx.HTTPError:
            if not self.stop.is_set():
                raise


class LiveApp:
    """The live site on a free loopback port, in a thread."""

    def __init__(self, database_url: str) -> None:
        app = create_app(database_url, SiteSettings(), poll_interval=0.25, heartbeat=5.0)
        config = uvicorn.Config(
            app, host="127.0.0.1", port=0, log_level="critical", timeout_graceful_shutdown=1
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def cron_delays(publish_times: list[float], rng: random.Random, phases: int = 200) -> list[float]:
    """Delays if a cron job fetched every 5 minutes, over ``phases`` random tick phases."""
    delays = []
    for _ in range(phases):
        phase = rng.uniform(0, CRON)
        for t in publish_times:
            ticks = -((phase - t) // CRON)  # the first tick at or after t
            delays.append(phase + ticks * CRON - t)
    return delays


def summary(delays: list[float]) -> dict[str, float | int]:
    found = {
        "median": statistics.median(delays),
        "p90": percentile(delays, 0.90),
        "p99": percentile(delays, 0.99),
        "max": max(delays),
    }
    return {"n": len(delays), **{k: round(v, 2) for k, v in found.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--interval", type=float, default=5.0, help="poll interval, s")
    parser.add_argument("--duration", type=float, default=180.0, help="publishing time, s")
    parser.add_argument("--rate", type=float, default=30.0, help="items per minute")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database-url", help="default: SQLite in a temporary folder")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    folder = Path(tempfile.mkdtemp(prefix="finews-fresh-"))
    url = args.database_url or f"sqlite:///{folder / 'fresh.db'}"
    open_store(url).close()  # migrated before the app and daemon start
    feed = FastFeed("/comm/web/getFastNewsList")
    with ReplayServer([feed.route()]) as upstream:
        config = write_config(
            folder / "finews.toml", url, feed.toml("fresh", upstream.url, args.interval)
        )
        observer = Observer(url)
        observer.start()
        with LiveApp(url) as app_url:
            events = EventClient(app_url)
            events.start()
            proc = start_daemon(config, folder / "daemon.log")
            time.sleep(2.0)  # start-up, as a daemon that has been running would be
            began = time.time()
            while time.time() - began < args.duration:
                time.sleep(rng.expovariate(args.rate / 60.0))
                feed.publish()
            time.sleep(args.interval + 3.0)
            stopped_in = stop_daemon(proc)
            time.sleep(1.0)
            observer.stop.set()
            events.stop.set()
    published = feed.published
    stored = [observer.seen[c] - t for c, t in published.items() if c in observer.seen]
    by_code = {observer.ids[i]: at for i, at in events.arrived.items() if i in observer.ids}
    pushed = [by_code[c] - t for c, t in published.items() if c in by_code]
    cron = cron_delays(list(published.values()), rng)
    result = {
        "interval": args.interval,
        "published": len(published),
        "stored": summary(stored),
        "sse": summary(pushed) if pushed else None,
        "cron_5min": summary(cron),
        "missing": len(published) - len(stored),
        "stop_seconds": round(stopped_in, 2),
        "target_median": args.interval / 2 + 1,
        "target_p99": args.interval + 2,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
