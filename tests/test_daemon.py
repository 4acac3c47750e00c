"""``finews run``: the always-on poller against real loopback upstreams and real databases.

Every test is bounded: waits go through :func:`until` (which fails after a deadline rather
than hanging), subprocesses are killed in ``finally``. Nothing asserts speed; the one bound
that is a requirement (stopping within 5 s of SIGTERM) is the issue's own.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from finews.cli import cli
from finews.config import Config, load_config
from finews.daemon.command import run_cmd
from finews.daemon.metrics import DaemonMetrics
from finews.daemon.pacing import HostPacing
from finews.daemon.runner import Daemon, DaemonSettings, run_daemon
from finews.daemon.scheduler import RETRY_AFTER_LIMIT, Schedule
from finews.demo.replay import Received, ReplayServer, Reply, Route
from finews.derive import derive_backlog, open_store
from finews.derive.search import SearchQuery, index_status, search
from finews.derive.stories import cluster_status
from finews.errors import ConfigError
from finews.fetch.client import HttpClient, HttpSettings
from finews.models import SourceSpec, SourceState
from finews.normalize.sanitize import SANITIZER_VERSION
from finews.raw import unpack
from finews.refresh import SourceReport
from finews.sources.base import Request
from finews.sources_cli import source_line
from finews.store import Store
from finews.store.fulltext import FulltextQueue
from finews.store.health import source_health
from helpers import OFFLINE_SOURCES_ENV
from upstreams import FAST_PATH, FastNewsFeed

BEIJING = timezone(timedelta(hours=8))
ROLLING_PATH = "/web/webapi"
TEXT_PATH = "/NewsData/GetNewsText.do"


# --- loopback upstreams ----------------------------------------------------------------


class RollingFeed:
    """East Money's legacy rolling list (``records``) with a full text per item."""

    def __init__(self, prefix: str = "R") -> None:
        self.prefix = prefix
        self._items: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._clock = datetime(2026, 9, 1, 8, 0, 0, tzinfo=BEIJING)

    def publish(self, count: int) -> list[str]:
        """Publish ``count`` items; return their ids."""
        ids = []
        with self._lock:
            for _ in range(count):
                n = len(self._items) + 1
                self._clock += timedelta(seconds=30)
                uid = f"{self.prefix}{n:06d}"
                self._items.insert(
                    0,
                    {
                        "id": uid,
                        "title": f"滚动新闻第{n}条：央行开展逆回购操作",
                        "digest": f"【滚动新闻第{n}条】摘要{n}。",
                        "url_w": f"http://finance.example.cn/a/{uid}.html",
                        "showtime": self._clock.strftime("%Y-%m-%d %H:%M:%S"),
                        "infoCode": f"NW{uid}",
                    },
                )
                ids.append(uid)
        return ids

    @staticmethod
    def text_of(info_code: str) -> str:
        return f"　　{info_code} 的全文：市场人士认为，流动性将保持合理充裕。"

    def list_reply(self, received: Received) -> Reply:
        count = int(received.query.get("count", "100"))
        with self._lock:
            return Reply.json({"records": self._items[:count]})

    def text_reply(self, received: Received) -> Reply:
        return Reply.json({"content": self.text_of(received.query.get("id", ""))})


def fast_spec(base: str, *, sid: str = "em_fast", interval: float = 0.2) -> SourceSpec:
    return SourceSpec(
        id=sid,
        adapter="eastmoney_fast",
        name="快讯",
        settings={
            "url": base + FAST_PATH,
            "fallback_urls": [],
            "page_size": 20,
            "category": "emkuaixun",
            "tag": "东财快讯",
            "max_pages": 50,
            "fulltext": False,  # flashes are whole; their article pages are another test's
            "interval": interval,
        },
    )


def rolling_spec(base: str, *, interval: float = 0.2) -> SourceSpec:
    return SourceSpec(
        id="emnews",
        adapter="eastmoney_rolling",
        name="滚动",
        settings={
            "url": base + ROLLING_PATH,
            "fulltext_url": base + TEXT_PATH,
            "count": 500,
            "category": "emnews",
            "tag": "东财滚动新闻",
            "max_pages": 10,
            "fulltext": True,
            "interval": interval,
        },
    )


def daemon_config(tmp_path: Path, **overrides: str) -> Config:
    """Settings for an in-process daemon: short timeouts, tiny backoff, no pacing."""
    path = tmp_path / "finews.toml"
    path.write_text("", encoding="utf-8")
    values = {
        "http.timeout": "0.5",
        "http.retries": "0",
        "daemon.jitter": "0.1",
        "daemon.backoff_cap": "1",
        "daemon.host_spacing": "0",
        "daemon.fulltext_retry": "0.05",
        "daemon.stop_grace": "1",
    }
    values.update(overrides)
    return load_config(path, env={}, overrides=values)


# --- running the daemon in this process ------------------------------------------------


async def until(check: Callable[[], bool], what: str, *, timeout: float = 30.0) -> None:
    """Wait until ``check()`` holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.05)


@asynccontextmanager
async def running(
    config: Config, url: str, specs: list[SourceSpec]
) -> AsyncIterator[list[SourceReport]]:
    """Run the daemon while the block runs; yield the reports of its polls so far."""
    stop = asyncio.Event()
    reports: list[SourceReport] = []
    task = asyncio.create_task(
        run_daemon(config, url, stop_event=stop, specs=specs, on_poll=reports.append)
    )
    try:
        yield reports
        assert not task.done(), f"the daemon ended on its own: {task}"
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)


def stored_ids(store: Store, source: str) -> list[str]:
    return [
        row[0] for row in store.query("SELECT upstream_id FROM items WHERE source = ?", [source])
    ]  # type: ignore[attr-defined]


def new_changes(store: Store) -> list[int]:
    """Item ids of every ``new`` entry in the change log."""
    return [c.item_id for c in store.changes_since(0, limit=1_000_000) if c.kind == "new"]


def assert_each_stored_once(store: Store) -> None:
    items = list(store.items())
    keys = [(i.source, i.upstream_id) for i in items]
    assert len(keys) == len(set(keys))
    created = new_changes(store)
    assert sorted(created) == sorted(i.id for i in items), "one 'new' change per item"


# --- the scheduler ---------------------------------------------------------------------


def test_backoff_doubles_from_the_interval_up_to_the_cap() -> None:
    schedule = Schedule(jitter=0.0, backoff_cap=600.0)
    waits = [schedule.wait_after(30.0, failures) for failures in range(7)]
    assert waits == [30.0, 60.0, 120.0, 240.0, 480.0, 600.0, 600.0]
    # a source slower than the cap is never polled more often than its interval
    assert Schedule(jitter=0.0, backoff_cap=60.0).wait_after(300.0, 3) == 300.0
    # thousands of failures do not overflow
    assert schedule.wait_after(30.0, 5000) == 600.0


def test_retry_after_is_honoured_beyond_the_backoff_but_only_up_to_a_day() -> None:
    schedule = Schedule(jitter=0.0, backoff_cap=60.0)
    assert schedule.wait_after(30.0, 1, retry_after=500.0) == 500.0
    assert schedule.wait_after(30.0, 1, retry_after=5.0) == 60.0
    assert schedule.wait_after(30.0, 1, retry_after=1e9) == RETRY_AFTER_LIMIT


def test_jitter_spreads_waits_within_its_fraction() -> None:
    schedule = Schedule(jitter=0.2, rng=random.Random(4))
    waits = [schedule.wait_after(10.0, 0) for _ in range(500)]
    assert all(8.0 <= w <= 12.0 for w in waits)
    assert max(waits) - min(waits) > 2.0  # actually spread, not constant


def test_a_restarted_daemon_keeps_each_sources_place() -> None:
    now = datetime(2026, 9, 1, tzinfo=UTC)
    schedule = Schedule(jitter=0.1, backoff_cap=1800.0, rng=random.Random(1))
    never = SourceState("a")
    assert 0.0 <= schedule.first_wait(never, 30.0, now) <= 3.0
    overdue = SourceState("a", next_poll=now - timedelta(hours=2))
    assert 0.0 <= schedule.first_wait(overdue, 30.0, now) <= 3.0
    soon = SourceState("a", next_poll=now + timedelta(seconds=12))
    assert schedule.first_wait(soon, 30.0, now) == 12.0
    # in backoff: the persisted wait stands, even far beyond the interval
    backing_off = SourceState("a", consecutive_failures=5, next_poll=now + timedelta(minutes=20))
    assert schedule.first_wait(backing_off, 30.0, now) == 1200.0
    # healthy but scheduled far ahead (the interval was shortened since): the new interval wins
    stale = SourceState("a", next_poll=now + timedelta(hours=1))
    assert schedule.first_wait(stale, 30.0, now) == pytest.approx(33.0)


# --- pacing ----------------------------------------------------------------------------


class _Noting(httpx.AsyncBaseTransport):
    """A real transport that notes when each request leaves through it."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.sent: list[float] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(asyncio.get_running_loop().time())
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_requests_to_one_host_start_at_least_the_spacing_apart() -> None:
    noting = _Noting()

    async def go(url: str) -> None:
        pacing = HostPacing(0.15, noting)
        async with HttpClient(HttpSettings(per_host_concurrency=4), transport=pacing) as client:
            await asyncio.gather(*(client.get(Request(url + "/ping")) for _ in range(5)))

    with ReplayServer([Route("/ping", Reply(body=b"pong"))]) as upstream:
        asyncio.run(go(upstream.url))
        assert len(upstream.requests_to("/ping")) == 5
    gaps = [b - a for a, b in zip(noting.sent, noting.sent[1:], strict=False)]
    assert len(gaps) == 4
    # asyncio may wake a timer up to its clock resolution early
    assert all(gap >= 0.15 - 1e-3 for gap in gaps), gaps


# --- a flaky upstream ------------------------------------------------------------------


class FlakyFeed:
    """A fast-news feed that fails in the way ``mode`` says; ``offered`` collects every
    item id it served in a healthy reply."""

    def __init__(self, feed: FastNewsFeed) -> None:
        self.feed = feed
        self.mode = "ok"
        self.offered: set[str] = set()
        self._lock = threading.Lock()

    def _healthy(self, received: Received) -> Reply:
        reply = self.feed.handle(received)
        assert isinstance(reply.body, bytes)
        codes = [i["code"] for i in json.loads(reply.body)["data"]["fastNewsList"]]
        with self._lock:
            self.offered.update(codes)
        return reply

    def handle(self, received: Received) -> Reply:
        mode = self.mode
        if mode == "ok":
            return self._healthy(received)
        if mode == "slow-but-fine":
            body = self._healthy(received).body
            assert isinstance(body, bytes)
            third = len(body) // 3 + 1

            def trickle() -> Iterable[bytes]:
                for start in range(0, len(body), third):
                    time.sleep(0.05)
                    yield body[start : start + third]

            return Reply(body=trickle)
        if mode == "timeout":
            return Reply(body=b"{}", delay=1.5)
        if mode == "reset":
            # the connection closes long before the promised length: a broken exchange
            return Reply(body=b'{"code": "1", "da', headers={"Content-Length": "90000"})
        if mode == "500":
            return Reply(status=500, body=b"internal error")
        if mode == "429":
            return Reply(status=429, body=b"slow down", headers={"Retry-After": "2"})
        if mode == "slow-body":

            def crawl() -> Iterable[bytes]:
                for _ in range(30):
                    time.sleep(0.1)
                    yield b" "

            return Reply(body=crawl)
        if mode == "malformed":
            return Reply(body=b"{not json", headers={"Content-Type": "application/json"})
        if mode == "changed-shape":
            return Reply.json({"code": "1", "message": "success", "data": {"list": []}})
        raise AssertionError(mode)


#: each fault, with a word its recorded error must contain
FAULTS = {
    "timeout": "s",  # the wording differs by where the deadline struck
    "reset": "connection failed",
    "500": "HTTP 500",
    "429": "HTTP 429",
    "slow-body": "s",
    "malformed": "JSON",
    "changed-shape": "fastNewsList",
}


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_a_flaky_upstream_never_crashes_the_daemon_and_loses_nothing(
    tmp_path: Path, db_url: str
) -> None:
    feed = FastNewsFeed(page_size=20)
    flaky = FlakyFeed(feed)
    config = daemon_config(tmp_path)

    async def scenario(base: str) -> tuple[list[str], list[SourceReport]]:
        spec = fast_spec(base)
        published: list[str] = []
        with open_store(db_url) as store:

            def state() -> SourceState:
                return store.get_state("em_fast")

            def caught_up() -> bool:
                return set(stored_ids(store, "em_fast")) >= flaky.offered >= set(published)

            async with running(config, db_url, [spec]) as reports:
                published += feed.publish(25)
                flaky.mode = "slow-but-fine"
                await until(caught_up, "the first items, served slowly")
                for mode, words in FAULTS.items():
                    published += feed.publish(3)  # published while the upstream fails
                    flaky.mode = mode
                    await until(lambda: state().consecutive_failures >= 2, f"backoff on {mode}")
                    broken = state()
                    assert broken.last_error is not None
                    assert words in broken.last_error
                    assert broken.next_poll is not None
                    assert broken.last_attempt is not None
                    if mode == "429":
                        # Retry-After: 2 outweighs the 1 s backoff cap
                        assert broken.next_poll - broken.last_attempt >= timedelta(seconds=2)
                    assert source_health(store, "em_fast").in_backoff
                    assert "BACKOFF" in source_line(store, spec, datetime.now(UTC)).cells[4]
                    flaky.mode = "ok"
                    await until(
                        lambda: state().consecutive_failures == 0 and caught_up(),
                        f"recovery after {mode}",
                    )
                published += feed.publish(5)
                await until(caught_up, "the last items")
            assert set(stored_ids(store, "em_fast")) == flaky.offered
            assert_each_stored_once(store)
            assert store.integrity_problems() == []
            return published, reports

    with ReplayServer([Route(FAST_PATH, flaky.handle)]) as upstream:
        published, reports = asyncio.run(scenario(upstream.url))
    # every item published, during the faults too, was offered once the upstream was well
    assert flaky.offered == set(published)
    assert len(published) == 25 + 3 * len(FAULTS) + 5
    failed = [r for r in reports if not r.ok]
    assert len(failed) >= 2 * len(FAULTS)
    assert any(r.retry_after == 2.0 for r in failed)


# --- the gap ---------------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_after_a_stop_the_daemon_catches_up_on_500_items(tmp_path: Path, db_url: str) -> None:
    feed = FastNewsFeed(page_size=20)
    config = daemon_config(tmp_path)

    async def scenario(base: str) -> tuple[list[str], set[str]]:
        spec = fast_spec(base)
        with open_store(db_url) as store:
            first = feed.publish(30)
            async with running(config, db_url, [spec]):
                await until(lambda: store.count_items("em_fast") == 30, "the first 30 items")
            # the daemon is stopped while the upstream publishes 500 items
            gap = feed.publish(500)
            async with running(config, db_url, [spec]):
                await until(lambda: store.count_items("em_fast") == 530, "the 500 items")
                # polls store without indexing; the deriving thread catches up behind them
                await until(lambda: derive_backlog(store) == 0, "the search index and stories")
            assert_each_stored_once(store)
            assert index_status(store).ok
            assert cluster_status(store).stale == 0
            newest = search(store, SearchQuery(text="测试快讯第530条"))
            assert [hit.item.upstream_id for hit in newest.hits][:1] == gap[-1:]
            return first + gap, set(stored_ids(store, "em_fast"))

    with ReplayServer([feed.route()]) as upstream:
        published, stored = asyncio.run(scenario(upstream.url))
    assert stored == set(published)


# --- full text: later, in the background, persisted -------------------------------------


@pytest.mark.timeout(120)
def test_full_text_arrives_later_and_never_holds_up_list_polls(
    tmp_path: Path, sqlite_url: str
) -> None:
    rolling = RollingFeed()
    release = threading.Event()
    asked: list[str] = []

    def stuck_text(received: Received) -> Reply:
        asked.append(received.query.get("id", ""))
        release.wait(timeout=30)  # bounded: a failing test still ends
        return rolling.text_reply(received)

    config = daemon_config(tmp_path, **{"http.timeout": "40"})

    async def scenario(base: str) -> None:
        spec = rolling_spec(base)
        with open_store(sqlite_url) as store:
            async with running(config, sqlite_url, [spec]) as reports:
                (first,) = rolling.publish(1)
                await until(lambda: asked == [f"NW{first}"], "the full-text request")
                item = store.get_item("emnews", first)
                assert item is not None
                assert item.content == ""
                assert item.digest
                # the article endpoint hangs; the list goes on being polled
                polls = len(reports)
                (second,) = rolling.publish(1)
                await until(lambda: store.get_item("emnews", second) is not None, "the second item")
                await until(lambda: len(reports) >= polls + 3, "more list polls")
                stuck = store.get_item("emnews", first)
                assert stuck is not None
                assert stuck.content == ""
                with store.transaction() as tx:  # as if stored before versions were kept
                    tx.execute("UPDATE items SET sanitizer = NULL")
                release.set()

                def filled(uid: str) -> bool:
                    found = store.get_item("emnews", uid)
                    return found is not None and bool(found.content)

                await until(lambda: filled(first) and filled(second), "both full texts")
            done = store.get_item("emnews", first)
            assert done is not None
            assert f"NW{first} 的全文" in done.content
            assert done.revision == 2  # stored first with its digest, then updated
            assert done.sanitizer == SANITIZER_VERSION  # its full text's, normalize_item's
            assert FulltextQueue(store).counts().pending == 0
            assert_each_stored_once(store)
            # the list entry and the article reply are both kept, for finews reparse
            kept = {item.upstream_id: raw for item, raw in store.raw_records()}
            assert kept[first].record_format == "zlib:json"
            assert kept[first].article_format == "zlib:article"
            article = unpack(kept[first].article, kept[first].article_format) or b""
            assert f"NW{first}".encode() in article

    routes = [
        Route(ROLLING_PATH, rolling.list_reply, {"type": "102"}),
        Route(TEXT_PATH, stuck_text),
    ]
    try:
        with ReplayServer(routes) as upstream:
            asyncio.run(scenario(upstream.url))
    finally:
        release.set()


@pytest.mark.timeout(60)
def test_full_text_is_retried_then_given_up_keeping_the_digest(
    tmp_path: Path, store: Store, db_url: str
) -> None:
    rolling = RollingFeed()
    config = daemon_config(tmp_path, **{"daemon.fulltext_attempts": "3"})

    async def scenario(base: str) -> None:
        async with running(config, db_url, [rolling_spec(base)]):
            (uid,) = rolling.publish(1)
            await until(lambda: FulltextQueue(store).counts().failed == 1, "the job to be given up")
            item = store.get_item("emnews", uid)
            assert item is not None
            assert item.content == ""
            assert item.digest == f"摘要{1}。"

    routes = [
        Route(ROLLING_PATH, rolling.list_reply, {"type": "102"}),
        Route(TEXT_PATH, Reply(status=503, body=b"busy")),
    ]
    with ReplayServer(routes) as upstream:
        asyncio.run(scenario(upstream.url))
        assert len(upstream.requests_to(TEXT_PATH)) == 3
    assert FulltextQueue(store).counts().pending == 0
    health = source_health(store, "emnews")
    assert health.queue.failed == 1
    assert (
        "emnews: full text: 0 waiting, 1 given up"
        in source_line(store, rolling_spec("http://x"), datetime.now(UTC)).notes
    )


@pytest.mark.timeout(60)
def test_the_full_text_queue_survives_a_restart(tmp_path: Path, sqlite_url: str) -> None:
    rolling = RollingFeed()
    healthy = threading.Event()
    config = daemon_config(tmp_path, **{"daemon.fulltext_retry": "0.2"})

    def text(received: Received) -> Reply:
        if healthy.is_set():
            return rolling.text_reply(received)
        return Reply(status=503, body=b"busy")

    async def scenario(base: str) -> None:
        spec = rolling_spec(base)
        with open_store(sqlite_url) as store:
            ids = rolling.publish(4)
            async with running(config, sqlite_url, [spec]):
                await until(lambda: store.count_items("emnews") == 4, "the items")
                await until(lambda: FulltextQueue(store).counts().pending == 4, "queued full texts")
            assert all(i.content == "" for i in store.items())
            healthy.set()
            async with running(config, sqlite_url, [spec]) as reports:
                await until(
                    lambda: FulltextQueue(store).counts().pending == 0, "the queue to drain"
                )
            assert all(r.new == 0 for r in reports)  # the texts came from the queue
            assert {i.upstream_id for i in store.items() if i.content} == set(ids)

    routes = [Route(ROLLING_PATH, rolling.list_reply, {"type": "102"}), Route(TEXT_PATH, text)]
    with ReplayServer(routes) as upstream:
        asyncio.run(scenario(upstream.url))


# --- the command, as a real process -----------------------------------------------------

#: ``finews …`` in a fresh interpreter. Adds the run command itself should ``finews.cli``
#: not list ``finews.daemon.command`` among its command modules (yet).
_LAUNCH = """
import sys
from finews.cli import cli, main
if "run" not in cli.commands:
    from finews.daemon.command import commands
    for command in commands:
        cli.add_command(command)
main(sys.argv[1:])
"""


def finews(*args: str, stderr: Any = subprocess.DEVNULL) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FINEWS_")}
    env.update(OFFLINE_SOURCES_ENV)  # no default source reaches the internet
    return subprocess.Popen(
        [sys.executable, "-c", _LAUNCH, *args],
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        text=True,
        env=env,
    )


def write_config(path: Path, db: Path, base: str, *, extra: str = "") -> Path:
    path.write_text(
        f'database_url = "sqlite:///{db}"\n'
        'log_format = "json"\n'
        "[http]\ntimeout = 20\nretries = 0\n"
        "[daemon]\nhost_spacing = 0\nstop_grace = 2\nfulltext_retry = 0.2\n"
        f'[sources.em_fast]\nurl = "{base}{FAST_PATH}"\nfallback_urls = []\n'
        "interval = 1\nmax_pages = 100\npage_size = 20\n"
        f'[sources.emnews]\nenabled = true\nurl = "{base}{ROLLING_PATH}"\n'
        f'fulltext_url = "{base}{TEXT_PATH}"\ninterval = 1\ncount = 1000\n' + extra,
        encoding="utf-8",
    )
    return path


def test_run_explains_itself() -> None:
    if "run" not in cli.commands:
        cli.add_command(run_cmd)
    result = CliRunner().invoke(cli, ["run", "--help"])
    assert result.exit_code == 0
    assert "SIGTERM" in result.output
    assert "Examples" in result.output


@pytest.mark.timeout(60)
def test_sigterm_stops_the_daemon_within_five_seconds_mid_request(tmp_path: Path) -> None:
    feed = FastNewsFeed()
    feed.publish(5)
    served = threading.Event()

    def list_then_hang(received: Received) -> Reply:
        newest = received.query.get("sortEnd") == ""
        if newest and served.is_set():
            return Reply(body=b"{}", delay=30)  # the second poll: still in flight at SIGTERM
        served.set()
        return feed.handle(received)

    def newest_pages() -> int:
        return sum(r.query.get("sortEnd") == "" for r in upstream.requests_to(FAST_PATH))

    rolling = RollingFeed()
    routes = [
        Route(FAST_PATH, list_then_hang),
        Route(ROLLING_PATH, rolling.list_reply, {"type": "102"}),
        Route(TEXT_PATH, rolling.text_reply),
    ]
    db = tmp_path / "f.db"
    with ReplayServer(routes) as upstream:
        config = write_config(tmp_path / "finews.toml", db, upstream.url)
        proc = finews("--config", str(config), "run", stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 30
            while newest_pages() < 2:
                assert proc.poll() is None, "finews run exited early"
                assert time.monotonic() < deadline, "no second poll"
                time.sleep(0.05)
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=5)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 0, err
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]
    polls = [e for e in lines if e["logger"] == "finews.refresh" and e.get("source") == "em_fast"]
    assert polls
    assert polls[0]["status"] == "ok"
    assert polls[0]["new"] == 5
    assert {"elapsed", "pages", "new"} <= set(polls[0])
    assert lines[-1]["message"] == "daemon stopped"
    with open_store(f"sqlite:///{db}") as store:
        assert store.count_items("em_fast") == 5


class Killer:
    """Kills the running ``finews run`` (SIGKILL) from inside an upstream handler: when it
    serves the ``nth`` request to ``path`` from now, a few milliseconds later, so the
    daemon dies while it handles that reply (parsing, committing, queueing)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.proc: subprocess.Popen[str] | None = None
        self.path = ""
        self.left = 0
        self.fired = threading.Event()
        self._lock = threading.Lock()

    def arm(self, proc: subprocess.Popen[str], path: str, nth: int) -> None:
        with self._lock:
            self.proc, self.path, self.left = proc, path, nth
            self.fired.clear()

    def disarm(self) -> None:
        with self._lock:
            self.path = ""

    def saw(self, path: str) -> None:
        with self._lock:
            if path != self.path or self.proc is None:
                return
            self.left -= 1
            if self.left > 0:
                return
            self.path = ""
            proc = self.proc
        threading.Timer(self.rng.uniform(0.0, 0.03), proc.kill).start()
        self.fired.set()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_kill_9_at_random_moments_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    rng = random.Random(20260901)
    feed = FastNewsFeed(page_size=20)
    rolling = RollingFeed()
    killer = Killer(random.Random(7))

    def page(received: Received) -> Reply:
        killer.saw(FAST_PATH)
        reply = feed.handle(received)
        return Reply(body=reply.body, headers=reply.headers, delay=rng.uniform(0.0, 0.05))

    def text(received: Received) -> Reply:
        killer.saw(TEXT_PATH)
        reply = rolling.text_reply(received)
        return Reply(body=reply.body, headers=reply.headers, delay=rng.uniform(0.0, 0.05))

    routes = [
        Route(FAST_PATH, page),
        Route(ROLLING_PATH, rolling.list_reply, {"type": "102"}),
        Route(TEXT_PATH, text),
    ]
    db = tmp_path / "f.db"
    url = f"sqlite:///{db}"
    committed: dict[tuple[str, str], int] = {}
    fast_ids: list[str] = []
    rolling_ids: list[str] = []
    killed_at_work = 0
    with ReplayServer(routes) as upstream:
        config = write_config(tmp_path / "finews.toml", db, upstream.url)
        for round_ in range(24):
            fast_ids += feed.publish(rng.randint(30, 120))
            fresh = rolling.publish(rng.randint(1, 8))
            rolling_ids += fresh
            proc = finews("--config", str(config), "run")
            try:
                # a quarter of the kills at a random moment (start-up and migrations
                # included); the rest while the daemon handles a list page or a full text
                way = round_ % 4
                if way == 0:
                    time.sleep(rng.uniform(0.0, 2.5))
                    proc.kill()
                else:
                    # (this round's new items alone ask for at least len(fresh) texts)
                    path, most = (TEXT_PATH, min(3, len(fresh))) if way == 3 else (FAST_PATH, 3)
                    killer.arm(proc, path, rng.randint(1, most))
                    if not killer.fired.wait(timeout=30):
                        pytest.fail(f"round {round_}: the daemon never asked for {path}")
                    killed_at_work += 1
                proc.wait(timeout=10)
            finally:
                killer.disarm()
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            with open_store(url) as store:
                assert store.integrity_problems() == []
                rows = {(i.source, i.upstream_id): i.id or 0 for i in store.items()}
                # nothing committed is lost (and keeps its row id), nothing is duplicated
                assert all(rows.get(key) == row for key, row in committed.items())
                assert_each_stored_once(store)
                assert set(rows) <= {("em_fast", c) for c in fast_ids} | {
                    ("emnews", r) for r in rolling_ids
                }
                committed = rows
        assert killed_at_work == 18
        # a last run, left to finish: everything arrives, full texts included
        asked = len(upstream.requests)
        proc = finews("--config", str(config), "run")
        try:
            with open_store(url) as store:

                def finished() -> bool:
                    # (its first request also shows it is up, its signal handlers set)
                    return (
                        len(upstream.requests) > asked
                        and store.count_items() == len(fast_ids) + len(rolling_ids)
                        and FulltextQueue(store).counts().pending == 0
                        and derive_backlog(store) == 0
                    )

                deadline = time.monotonic() + 60
                while not finished():
                    assert proc.poll() is None, "finews run exited early"
                    assert time.monotonic() < deadline, "the last run did not catch up"
                    time.sleep(0.1)
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 0
    with open_store(url) as store:
        assert store.integrity_problems() == []
        assert_each_stored_once(store)
        assert set(stored_ids(store, "em_fast")) == set(fast_ids)
        texts = {i.upstream_id: i.content for i in store.items() if i.source == "emnews"}
        assert set(texts) == set(rolling_ids)
        assert all(f"NW{uid} 的全文" in texts[uid] for uid in rolling_ids)
        assert FulltextQueue(store).counts().failed == 0
        # kills mid-derive too: the index and stories are complete and current
        assert index_status(store).ok
        assert cluster_status(store).stale == 0


# --- the daemon's own metrics ---------------------------------------------------------


@pytest.mark.timeout(60)
def test_the_daemon_serves_its_own_metrics(tmp_path: Path, sqlite_url: str) -> None:
    feed = FastNewsFeed()
    feed.publish(7)
    metrics = DaemonMetrics()
    metrics.serve(0)  # any free port

    async def scenario(base: str) -> str:
        stop = asyncio.Event()
        polls: list[SourceReport] = []
        with open_store(sqlite_url) as store:
            daemon = Daemon(
                [fast_spec(base)],
                store,
                DaemonSettings(host_spacing=0, stop_grace=1),
                HttpSettings(timeout=2, retries=0),
                metrics=metrics,
                on_poll=polls.append,
            )
            task = asyncio.create_task(daemon.run(stop))
            await until(lambda: len(polls) >= 2, "two polls")
            async with httpx.AsyncClient() as client:
                reply = await client.get(f"http://127.0.0.1:{metrics.port}/metrics")
            stop.set()
            await asyncio.wait_for(task, timeout=10)
        return reply.text

    try:
        with ReplayServer([feed.route()]) as upstream:
            text = asyncio.run(scenario(upstream.url))
    finally:
        metrics.close()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    ok = samples[("finews_daemon_polls_total", (("source", "em_fast"), ("status", "ok")))]
    assert ok >= 2
    new = samples[("finews_daemon_items_stored_total", (("kind", "new"), ("source", "em_fast")))]
    assert new == 7
    assert samples[("finews_daemon_poll_duration_seconds_count", (("source", "em_fast"),))] >= 2
    assert ("finews_daemon_fulltext_queue_depth", ()) in samples
    assert metrics.port is None  # closed


def test_a_daemon_without_sources_refuses_to_start(tmp_path: Path, sqlite_url: str) -> None:
    with pytest.raises(ConfigError, match="enable a source"):
        asyncio.run(
            run_daemon(daemon_config(tmp_path), sqlite_url, stop_event=asyncio.Event(), specs=[])
        )
