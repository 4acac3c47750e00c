"""Soak: 20 loopback sources at 10× real rates under one ``finews run``: CPU, memory over
time, and zero lost items.

Everything runs ten times faster than real life: 16 fast-news feeds publish about 400 items
an hour each (East Money 7x24 gives about 40) and are polled every 3 s (30 s in real life);
4 article lists publish about 100 an hour each, with a ~1,500-character full text per item,
and are polled every 30 s (5 min); the minimum spacing between requests to one host is
0.02 s (0.2 s). The daemon is the real command in a child process; its CPU time and
resident memory are read from /proc every few seconds. At the end every published item must
be stored exactly once, every full text fetched, and the database sound.

``--speed`` sets how much faster than real life (rates up, intervals and spacing down by
the same factor); ``--speed 144 --duration 600`` puts a whole day of polling (every poll and
every item a day brings) into ten minutes, to show memory stays flat over a day.

    .venv/bin/python bench/soak.py --duration 600
    .venv/bin/python bench/soak.py --duration 600 --speed 144
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path

from loopback import FastFeed, RollingFeed, start_daemon, stop_daemon, write_config

from finews.demo.replay import ReplayServer, Route
from finews.derive import derive_backlog, open_store
from finews.derive.search import index_status
from finews.store.fulltext import FulltextQueue
from finews.store.health import source_stats

FAST_SOURCES = 16
ROLLING_SOURCES = 4
#: real-life rates (items an hour) and poll intervals (s) of each kind of source
FAST_PER_HOUR, FAST_INTERVAL = 40, 30.0
ROLLING_PER_HOUR, ROLLING_INTERVAL = 10, 300.0
HOST_SPACING = 0.2
#: the shortest poll interval finews accepts (above 30× a fast feed polls less often than
#: the speed asks, and so takes more items a poll)
MIN_INTERVAL = 1.0


def sample(pid: int) -> tuple[float, float]:
    """(CPU seconds so far, resident MB) of process ``pid``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    rss_kb = next(
        int(line.split()[1])
        for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        if line.startswith("VmRSS:")
    )
    return cpu, rss_kb / 1024


class Publisher(threading.Thread):
    """Publishes to every feed at its rate, at random (Poisson) times."""

    def __init__(self, feeds: list[tuple[FastFeed | RollingFeed, float]], seed: int) -> None:
        super().__init__(daemon=True)
        self.feeds = feeds
        self.rng = random.Random(seed)
        self.stop = threading.Event()

    def run(self) -> None:
        total = sum(rate for _, rate in self.feeds)
        weights = [rate for _, rate in self.feeds]
        while not self.stop.wait(self.rng.expovariate(total / 3600.0)):
            feed = self.rng.choices([f for f, _ in self.feeds], weights)[0]
            feed.publish()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of publishing")
    parser.add_argument("--every", type=float, default=5.0, help="seconds between samples")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--database-url", help="default: SQLite in a temporary folder")
    parser.add_argument(
        "--speed", type=float, default=10.0, help="times faster than real life (default 10)"
    )
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="finews-soak-"))
    url = args.database_url or f"sqlite:///{folder / 'soak.db'}"
    # the news' own clock runs at the same speed: the items of a simulated day span a day
    started = time.time()

    def clock() -> float:
        return started + (time.time() - started) * args.speed

    fast = [
        FastFeed(f"/fast/{i:02d}", prefix=f"F{i:02d}", clock=clock) for i in range(FAST_SOURCES)
    ]
    rolling = [
        RollingFeed(f"/rolling/{i}", f"/text/{i}", prefix=f"R{i}", clock=clock)
        for i in range(ROLLING_SOURCES)
    ]
    routes: list[Route] = [feed.route() for feed in fast]
    for feed in rolling:
        routes += feed.routes()
    with ReplayServer(routes) as upstream:
        speed = args.speed
        sources = "".join(
            f.toml(f"fast{i:02d}", upstream.url, max(FAST_INTERVAL / speed, MIN_INTERVAL))
            for i, f in enumerate(fast)
        )
        sources += "".join(
            f.toml(f"rolling{i}", upstream.url, max(ROLLING_INTERVAL / speed, MIN_INTERVAL))
            for i, f in enumerate(rolling)
        )
        extra = f"[daemon]\nhost_spacing = {HOST_SPACING / speed:g}\n[http]\ntimeout = 10\n"
        config = write_config(folder / "finews.toml", url, sources, extra)
        proc = start_daemon(config, folder / "daemon.log")
        try:
            publisher = Publisher(
                [(f, FAST_PER_HOUR * speed) for f in fast]
                + [(f, ROLLING_PER_HOUR * speed) for f in rolling],
                args.seed,
            )
            began = time.monotonic()
            publisher.start()
            samples: list[tuple[float, float, float]] = []
            while time.monotonic() - began < args.duration:
                time.sleep(args.every)
                cpu, rss = sample(proc.pid)
                samples.append((time.monotonic() - began, cpu, rss))
            publisher.stop.set()
            publisher.join()
            published = {(f"fast{i:02d}", c) for i, f in enumerate(fast) for c in f.published}
            published |= {(f"rolling{i}", c) for i, f in enumerate(rolling) for c in f.published}
            # let the last polls (30 s for the lists) and the full-text queue finish
            deadline = time.monotonic() + 60
            with open_store(url) as store:
                while time.monotonic() < deadline:
                    if (
                        store.count_items() >= len(published)
                        and not FulltextQueue(store).counts().pending
                        and not derive_backlog(store)
                    ):
                        break
                    time.sleep(0.5)
        finally:  # (a failed check must not leave the daemon running for hours)
            stopped_in = stop_daemon(proc)
    with open_store(url) as store:
        stored = [(i.source, i.upstream_id) for i in store.items()]
        texts = sum(1 for i in store.items() if i.source.startswith("rolling") and i.content)
        stats = source_stats(store)
        problems = store.integrity_problems()
        queue = FulltextQueue(store).counts()
        backlog = derive_backlog(store)
        indexed = index_status(store)
    warm = [s for s in samples if s[0] >= 15.0] or samples
    window = warm[-1][0] - warm[0][0]
    cpu_share = (warm[-1][1] - warm[0][1]) / window if window > 0 else float("nan")
    rss = [s[2] for s in warm]
    half = len(rss) // 2
    result = {
        "duration_s": args.duration,
        "speed": args.speed,
        "real_life_hours_covered": round(args.duration * args.speed / 3600, 1),
        "sources": FAST_SOURCES + ROLLING_SOURCES,
        "published": len(published),
        "stored": len(stored),
        "lost": len(published - set(stored)),
        "duplicated": len(stored) - len(set(stored)),
        "unexpected": len(set(stored) - published),
        "full_texts": texts,
        "rolling_published": sum(len(f.published) for f in rolling),
        "fulltext_pending": queue.pending,
        "fulltext_failed": queue.failed,
        "derive_backlog_at_end": backlog,
        "search_index_complete": indexed.ok,
        "polls": sum(s.polls for s in stats.values()),
        "poll_failures": sum(s.failures for s in stats.values()),
        "cpu_share_of_one_core": round(cpu_share, 3),
        "cpu_seconds_total": round(samples[-1][1], 1),
        "rss_MB_after_15s": round(rss[0], 1),
        "rss_MB_end": round(rss[-1], 1),
        "rss_MB_max": round(max(rss), 1),
        "rss_MB_median_first_half": round(statistics.median(rss[: max(half, 1)]), 1),
        "rss_MB_median_second_half": round(statistics.median(rss[half:]), 1),
        # RSS through the run, at each simulated hour mark (the last sample before it)
        "rss_MB_by_simulated_hour": {
            f"{hour:g}": round(
                max(
                    (s for s in samples if s[0] * args.speed <= hour * 3600),
                    key=lambda s: s[0],
                    default=samples[0],
                )[2],
                1,
            )
            for hour in [
                h
                for h in (1, 2, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48)
                if h * 3600 <= args.duration * args.speed
            ]
        },
        "stop_seconds": round(stopped_in, 2),
        "integrity_problems": problems,
    }
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
