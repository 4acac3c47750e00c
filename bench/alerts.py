"""Alerts: how long from a stored item to its alert at the receiver, and what matching
rules costs.

``latency``: ``finews run`` (a child process, the real command) polls a loopback East
Money 7x24 feed that publishes items at random times; 100 rules are configured, one of
which matches every item of the feed and notifies a JSON webhook (Apprise ``json://``) on
loopback in this process. An observer reading the database every 5 ms notes when each
item is stored; the webhook notes when its alert arrives. Target (issue 14): p50 <= 1 s,
p99 <= 3 s.

``throughput``: 100 rules (queries of one to three words, some with exclusions, some with
securities, sources or importance) over 10,000 new items: the pure matching (the item's
tokens once, every rule tested against them), and the derive step with the rules reader
beside the same derive without it (SQLite, or ``--database-url``).

    .venv/bin/python bench/alerts.py latency --items 150 --rate 2
    .venv/bin/python bench/alerts.py throughput --items 10000 --rules 100
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from freshness import Observer
from loopback import _WORDS, FastFeed, body_text, headline, percentile, start_daemon, stop_daemon
from loopback import write_config as _write_config

from finews.alerts.reader import Rules
from finews.demo.inbox import Inbox
from finews.demo.replay import ReplayServer
from finews.derive import derive_all, open_store
from finews.models import Item
from finews.process.rules import ItemText, Rule, parse_rule

RESULTS = Path(__file__).parent / "results"


def make_rules(count: int, *, seed: int = 14) -> list[Rule]:
    """``count`` rules as people write them: one to three finance words, a third with an
    exclusion, a fifth with securities, some limited to sources or importance."""
    rng = random.Random(seed)
    rules = []
    for n in range(count):
        words = rng.sample(_WORDS, rng.choice((1, 1, 2, 3)))
        if rng.random() < 0.33:
            words.append("-" + rng.choice(_WORDS))
        table: dict[str, Any] = {"query": " ".join(words), "mute": n % 10 == 0}
        if rng.random() < 0.2:
            table["stocks"] = [f"{rng.choice(('60', '00', '30'))}{rng.randint(0, 9999):04d}"]
        if rng.random() < 0.1:
            table["sources"] = ["bench"]
        if rng.random() < 0.1:
            table["min_importance"] = 1
        if not table["mute"]:
            table["notify"] = [f"json://127.0.0.1:9/rule{n}"]
        rules.append(parse_rule(f"r{n}", table))
    return rules


def make_items(count: int, *, start: int = 0) -> list[Item]:
    now = datetime.now(UTC)
    return [
        Item(
            source="bench",
            upstream_id=f"b{n:08d}",
            title=headline(n),
            digest=body_text(n, 160),
            published_at=now - timedelta(seconds=count - n),
            fetched_at=now,
            importance=1 if n % 9 == 0 else 0,
            stocks=(f"sh60{n % 10000:04d}",) if n % 4 == 0 else (),
        )
        for n in range(start, start + count)
    ]


def throughput(args: argparse.Namespace) -> dict[str, Any]:
    rules = make_rules(args.rules)
    items = make_items(args.items)
    reader = Rules(rules)
    pures, tokenisings = [], []
    for _ in range(args.runs):
        began = time.perf_counter()
        matched = sum(len(reader.matching(item)) for item in items)
        pures.append(time.perf_counter() - began)
        tokens_began = time.perf_counter()
        for item in items:
            ItemText.of(item)
        tokenisings.append(time.perf_counter() - tokens_began)
    pure, tokenising = min(pures), min(tokenisings)

    def derive(with_rules: bool) -> float:
        with tempfile.TemporaryDirectory() as folder:
            url = args.database_url or f"sqlite:///{folder}/bench.db"
            readers = [lambda _: Rules(rules)] if with_rules else []
            with open_store(url, readers=readers) as store:
                if args.database_url:
                    with store.transaction() as tx:
                        for table in ("alert_outbox", "alert_stories", "item_mutes", "rule_marks"):
                            tx.execute(f"DELETE FROM {table}")
                fresh = make_items(args.items, start=10_000_000 * (2 if with_rules else 1))
                for page in range(0, len(fresh), 200):
                    store.upsert_items(fresh[page : page + 200], derive=False)
                started = time.perf_counter()
                derive_all(store)
                took = time.perf_counter() - started
                written["alerts"] = store.query("SELECT COUNT(*) FROM alert_outbox")[0][0]
                written["muted"] = store.query("SELECT COUNT(*) FROM item_mutes")[0][0]
                return took

    written: dict[str, int] = {}
    # side by side, alternating, so that the load of a shared machine falls on both alike
    plains, ruleds = [], []
    for _ in range(args.runs):
        plains.append(derive(False))
        ruleds.append(derive(True))
    plain, ruled = statistics.median(plains), statistics.median(ruleds)
    return {
        "rules": args.rules,
        "items": args.items,
        "matches": matched,
        "alerts_written": written["alerts"],
        "mutes_written": written["muted"],
        "pure_items_per_s": round(args.items / pure),
        "tokenising_share": round(tokenising / pure, 2),
        "runs": args.runs,
        "derive_without_rules_s": [round(t, 2) for t in plains],
        "derive_with_rules_s": [round(t, 2) for t in ruleds],
        "derive_ratio_with_to_without": round(ruled / plain, 2),
        "derive_with_rules_items_per_s": round(args.items / ruled),
        "rules_reader_items_per_s": round(args.items / (ruled - plain)) if ruled > plain else None,
        "database": "postgresql" if args.database_url else "sqlite",
    }


def latency(args: argparse.Namespace) -> dict[str, Any]:
    feed = FastFeed("/fast")
    rng = random.Random(7)
    others = [
        f'[rules.other{n}]\nquery = "{rule.query}"\nmute = {"true" if rule.mute else "false"}\n'
        + ('notify = ["json://127.0.0.1:9/never"]\n' if not rule.mute else "")
        for n, rule in enumerate(make_rules(args.rules - 1))
    ]
    with (
        tempfile.TemporaryDirectory() as work,
        Inbox() as hook,
        ReplayServer([feed.route()]) as upstream,
    ):
        folder = Path(work)
        url = args.database_url or f"sqlite:///{folder}/alerts.db"
        watch = f'[rules.watch]\nsources = ["bench"]\nnotify = ["json://{hook.host_port}/hook"]\n'
        config = _write_config(
            folder / "finews.toml",
            url,
            feed.toml("bench", upstream.url, args.interval),
            extra="",
        )
        with config.open("a", encoding="utf-8") as settings:
            settings.write("\n" + watch + "\n" + "\n".join(others))
        observer = Observer(url, every=0.005)
        proc = start_daemon(config, folder / "daemon.log")
        try:
            time.sleep(args.warmup)
            observer.start()
            for _ in range(args.items):
                feed.publish()
                time.sleep(rng.expovariate(args.rate))
            deadline = time.monotonic() + 30
            while len(hook.accepted()) < args.items and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            stop_daemon(proc)
            observer.stop.set()
        # the alert's title is the item's: back to its code, which the observer notes
        codes = {entry["title"]: entry["code"] for entry in feed._items}
        received = {codes[post.json()["title"]]: post.at for post in hook.accepted()}
        waits = [
            received[code] - stored for code, stored in observer.seen.items() if code in received
        ]
        log = (folder / "daemon.log").read_text(encoding="utf-8", errors="replace")
    return {
        "items": args.items,
        "rules": args.rules,
        "alerts_received": len(received),
        "measured": len(waits),
        "stored_to_alert_p50_s": round(percentile(waits, 0.5), 3),
        "stored_to_alert_p99_s": round(percentile(waits, 0.99), 3),
        "stored_to_alert_max_s": round(max(waits), 3) if waits else None,
        "stored_to_alert_mean_s": round(statistics.fmean(waits), 3) if waits else None,
        "poll_interval_s": args.interval,
        "publish_rate_per_s": args.rate,
        "database": "postgresql" if args.database_url else "sqlite",
        "daemon_log_problems": [line for line in log.splitlines() if "rror" in line][:5],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    late = sub.add_parser("latency")
    late.add_argument("--items", type=int, default=150)
    late.add_argument("--rate", type=float, default=2.0, help="items published per second")
    late.add_argument("--interval", type=float, default=1.0, help="the feed's poll interval")
    late.add_argument("--rules", type=int, default=100)
    late.add_argument("--warmup", type=float, default=3.0)
    late.add_argument("--database-url", default="")
    fast = sub.add_parser("throughput")
    fast.add_argument("--items", type=int, default=10_000)
    fast.add_argument("--rules", type=int, default=100)
    fast.add_argument("--runs", type=int, default=3, help="alternating runs (medians)")
    fast.add_argument("--database-url", default="")
    args = parser.parse_args()
    result = latency(args) if args.what == "latency" else throughput(args)
    result["command"] = "bench/alerts.py " + " ".join(sys.argv[1:])
    print(json.dumps(result, indent=2, ensure_ascii=False))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"alerts_{args.what}_{result['database']}.json").write_text(
        json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )


if __name__ == "__main__":
    main()
