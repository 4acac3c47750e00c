"""``kill -9`` in the middle of ``finews fetch`` or ``finews export jekyll`` loses nothing
committed, leaves the database consistent and never leaves a half-written post."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from finews.demo.replay import Received, ReplayServer, Reply, Route
from finews.derive import open_store
from upstreams import FAST_PATH, FastNewsFeed

pytestmark = pytest.mark.slow

FINEWS = [sys.executable, "-m", "finews"]
PAGE = 25


def start(args: list[str], config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*FINEWS, "--config", str(config), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def kill_after(proc: subprocess.Popen[bytes], delay: float) -> None:
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def test_kill_9_during_fetch_loses_nothing_committed(tmp_path: Path) -> None:
    feed = FastNewsFeed(page_size=PAGE)
    feed.publish(600)

    def slow(received: Received) -> Reply:
        reply = feed.handle(received)
        return Reply(status=reply.status, body=reply.body, headers=reply.headers, delay=0.03)

    db = tmp_path / "crash.db"
    rng = random.Random(1)
    with ReplayServer([Route(FAST_PATH, slow)]) as upstream:
        config = tmp_path / "finews.toml"
        config.write_text(
            f'database_url = "sqlite:///{db}"\n[http]\nretries = 0\n'
            f'[sources.em_fast]\nurl = "{upstream.url}{FAST_PATH}"\nfallback_urls = []\n'
            f"page_size = {PAGE}\nmax_pages = 100\n",
            encoding="utf-8",
        )
        counts = []
        for _ in range(6):
            proc = start(["fetch"], config)
            kill_after(proc, rng.uniform(0.3, 1.5))
            with open_store(f"sqlite:///{db}") as store:
                assert store.integrity_problems() == []
                count = store.count_items("em_fast")
            # pages commit whole: a kill never leaves part of a page
            assert count % PAGE == 0
            counts.append(count)
        assert counts == sorted(counts), "a later run never has fewer items"
        finish = subprocess.run(
            [*FINEWS, "--config", str(config), "fetch"], capture_output=True, timeout=120
        )
        assert finish.returncode == 0, finish.stderr.decode()
    with open_store(f"sqlite:///{db}") as store:
        assert store.count_items("em_fast") == 600
        assert store.integrity_problems() == []


def complete_post(text: str) -> bool:
    return text.startswith("---\nlayout: post\n") and text.endswith("](//finews.withounder.com/)")


def test_kill_9_during_export_leaves_no_partial_post(tmp_path: Path) -> None:
    feed = FastNewsFeed(page_size=200)
    feed.publish(3000)
    db = tmp_path / "export.db"
    config = tmp_path / "finews.toml"
    with ReplayServer([feed.route()]) as upstream:
        config.write_text(
            f'database_url = "sqlite:///{db}"\n'
            f'[sources.em_fast]\nurl = "{upstream.url}{FAST_PATH}"\nfallback_urls = []\n'
            "page_size = 200\nmax_pages = 100\n",
            encoding="utf-8",
        )
        subprocess.run(
            [*FINEWS, "--config", str(config), "fetch"],
            check=True,
            timeout=120,
            capture_output=True,
        )
    out = tmp_path / "site"
    rng = random.Random(2)
    export = ["export", "jekyll", str(out), "--now", "2026-09-04T12:00:00+08:00"]
    for _ in range(5):
        proc = start(export, config)
        kill_after(proc, rng.uniform(0.4, 2.0))
        for post in out.glob("*/*.md"):
            assert complete_post(post.read_text(encoding="utf-8")), post
    subprocess.run(
        [*FINEWS, "--config", str(config), *export], check=True, timeout=120, capture_output=True
    )
    posts = list(out.glob("*/*.md"))
    assert len(posts) == 3000
    assert all(complete_post(p.read_text(encoding="utf-8")) for p in posts)
    leftovers = [p for p in out.rglob(".*") if p.is_file()]
    assert leftovers == [], "temporary files of killed runs are swept by the next run"
