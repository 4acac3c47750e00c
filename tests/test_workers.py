"""Several ``finews run`` workers on one database: leases, balancing, takeover, claims.

The lease SQL and the :class:`~finews.daemon.leasing.LeaseKeeper` run on both engines with
a settable clock (several keepers in one process, each on its own connection, behave as
workers on different machines: their pid is alive, so only expiry frees their leases).
Then real ``finews run`` processes share a database and a loopback upstream: three on
PostgreSQL, one of them killed with SIGKILL in the middle of a poll; three fetching full
texts from one queue, on both engines.

Every wait is bounded; processes are killed in ``finally``.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from finews.daemon.leasing import LeaseKeeper, machine_identity
from finews.demo.replay import Received, ReplayServer, Reply, Route
from finews.derive import open_store
from finews.models import SourceSpec
from finews.sources_cli import source_line
from finews.store import Store
from finews.store.fulltext import FulltextJob, FulltextQueue
from finews.store.leases import (
    acquire_leases,
    forget_worker,
    heartbeat,
    lease_of,
    leases,
    live_workers,
    prepare_leases,
    release_leases,
    renew_leases,
)
from helpers import OFFLINE_SOURCES_ENV
from upstreams import FAST_PATH, FastNewsFeed

T0 = datetime(2026, 9, 1, 1, 0, tzinfo=UTC)
SOURCES = [f"s{n}" for n in range(7)]


class Clock:
    """A wall clock the test moves by hand."""

    def __init__(self) -> None:
        self.at = T0

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


# --- the lease SQL -------------------------------------------------------------------------


def test_a_free_lease_is_taken_once_and_held_until_it_expires(store: Store) -> None:
    until = T0 + timedelta(seconds=30)
    prepare_leases(store, SOURCES, now=T0)
    prepare_leases(store, SOURCES, now=T0)  # again: nothing changes
    assert acquire_leases(store, "a", SOURCES[:3], now=T0, until=until) == SOURCES[:3]
    assert acquire_leases(store, "b", SOURCES, now=T0, until=until, limit=2) == SOURCES[3:5]
    # held: nobody else takes them, however often asked
    assert acquire_leases(store, "c", SOURCES[:5], now=T0, until=until) == []
    assert (
        acquire_leases(store, "c", SOURCES[:5], now=until - timedelta(microseconds=1), until=until)
        == []
    )
    # renewed by its holder: still not free at the old expiry
    later = until + timedelta(seconds=30)
    assert renew_leases(store, "a", until=later) == SOURCES[:3]
    assert acquire_leases(store, "c", SOURCES[:5], now=until, until=later) == SOURCES[3:5]
    # b's leases expired and c took them: b renews nothing
    assert renew_leases(store, "b", until=later) == []
    held = leases(store)
    assert {s: held[s].worker for s in SOURCES[:5]} == {
        "s0": "a",
        "s1": "a",
        "s2": "a",
        "s3": "c",
        "s4": "c",
    }
    assert lease_of(store, "s5") is not None
    assert lease_of(store, "nowhere") is None
    assert not held["s5"].live(T0)  # prepared, never taken
    assert held["s0"].live(until)
    assert not held["s0"].live(later)


def test_released_and_forgotten_leases_are_free_at_once(store: Store) -> None:
    until = T0 + timedelta(seconds=30)
    prepare_leases(store, SOURCES, now=T0)
    acquire_leases(store, "a", SOURCES, now=T0, until=until)
    release_leases(store, "a", ["s1", "s2"], now=T0)
    release_leases(store, "b", ["s3"], now=T0)  # not b's: stays a's
    assert acquire_leases(store, "b", SOURCES, now=T0, until=until) == ["s1", "s2"]
    heartbeat(store, "a", machine="m", pid=1, held=5, wants=0, now=T0, until=until)
    assert [w.worker for w in live_workers(store, now=T0)] == ["a"]
    forget_worker(store, "a", now=T0)
    assert live_workers(store, now=T0) == []
    assert sorted(acquire_leases(store, "b", SOURCES, now=T0, until=until)) == [
        s for s in SOURCES if s not in ("s1", "s2")
    ]
    # a lease free for a whole period can be asked for as such
    free_since = T0 - timedelta(seconds=30)
    release_leases(store, "b", ["s0"], now=T0)
    assert acquire_leases(store, "c", ["s0"], now=T0, until=until, free_since=free_since) == []
    assert acquire_leases(
        store, "c", ["s0"], now=T0 + timedelta(seconds=30), until=until, free_since=T0
    ) == ["s0"]


def test_full_text_claims_are_exclusive_until_they_expire(store: Store) -> None:
    queue = FulltextQueue(store)
    queue.enqueue("src", ["u1", "u2", "u3"], now=T0)
    now = T0 + timedelta(seconds=1)
    until = now + timedelta(seconds=30)
    first = queue.claim("a", ["src"], limit=2, now=now, until=until)
    assert [j.upstream_id for j in first] == ["u1", "u2"]
    second = queue.claim("b", ["src"], limit=5, now=now, until=until)
    assert [j.upstream_id for j in second] == ["u3"]
    assert queue.claim("c", ["src"], limit=5, now=now, until=until) == []
    # a failed attempt hands the job back (due again at its retry time)
    queue.failed(FulltextJob("src", "u3"), "boom", retry_at=now)
    again = queue.claim("c", ["src"], limit=5, now=now, until=until)
    assert [j.upstream_id for j in again] == ["u3"]
    # a claim whose holder stopped renewing it expires; one renewed does not
    later = until + timedelta(seconds=30)
    queue.renew("a", [("src", "u1")], until=later)
    taken = queue.claim("d", ["src"], limit=5, now=until, until=later)
    assert sorted(j.upstream_id for j in taken) == ["u2", "u3"]
    assert taken[0].attempts + taken[1].attempts == 1  # u3 kept its attempt count
    forget_worker(store, "a", now=until)  # a gone: its claim on u1 is free at once
    freed = queue.claim("d", ["src"], limit=5, now=until, until=later)
    assert [j.upstream_id for j in freed] == ["u1"]


@pytest.mark.postgres
@pytest.mark.timeout(60)
def test_concurrent_takers_on_postgresql_never_take_one_lease_twice(pg_url: str) -> None:
    sources = [f"p{n:02d}" for n in range(40)]
    until = T0 + timedelta(seconds=30)
    with open_store(pg_url) as setup:
        prepare_leases(setup, sources, now=T0)
        FulltextQueue(setup).enqueue("p00", [f"u{n}" for n in range(40)], now=T0)
    takers = 8
    stores = [open_store(pg_url, migrate=False) for _ in range(takers)]
    start = threading.Barrier(takers)

    def take(index: int) -> tuple[list[str], list[str]]:
        store, worker = stores[index], f"w{index}"
        start.wait(timeout=20)
        got: list[str] = []
        jobs: list[str] = []
        for _ in range(10):
            got += acquire_leases(store, worker, sources, now=T0, until=until, limit=1)
            jobs += [
                j.upstream_id
                for j in FulltextQueue(store).claim(worker, ["p00"], limit=1, now=T0, until=until)
            ]
        return got, jobs

    try:
        with ThreadPoolExecutor(takers) as pool:
            results = list(pool.map(take, range(takers)))
    finally:
        for store in stores:
            store.close()
    taken = [s for got, _ in results for s in got]
    claimed = [u for _, jobs in results for u in jobs]
    assert len(taken) == len(set(taken)) == 40  # every lease once, none twice
    assert len(claimed) == len(set(claimed)) == 40
    with open_store(pg_url, migrate=False) as check:
        holders = {s: lease.worker for s, lease in leases(check).items()}
    assert all(holders[s] == f"w{i}" for i, (got, _) in enumerate(results) for s in got)


# --- the keeper: balancing and takeover ----------------------------------------------------


@dataclass
class Worker:
    keeper: LeaseKeeper
    store: Store
    busy: set[str] = field(default_factory=set)

    def tick(self) -> None:
        self.keeper.tick(busy=self.busy)


class Workers:
    """Keepers on ``SOURCES``, each on its own connection to one database, sharing a clock."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.clock = Clock()
        self.opened: list[Store] = []

    def __call__(self, name: str) -> Worker:
        store = open_store(self.url)
        self.opened.append(store)
        return Worker(
            LeaseKeeper(store, SOURCES, lease_seconds=30, worker=name, now=self.clock), store
        )


@pytest.fixture
def workers(db_url: str) -> Iterator[Workers]:
    """Makes in-process workers on each engine in turn."""
    pool = Workers(db_url)
    try:
        yield pool
    finally:
        for store in pool.opened:
            store.close()


def holdings(*ws: Worker) -> dict[str, frozenset[str]]:
    return {w.keeper.worker: w.keeper.held for w in ws}


def assert_disjoint(*ws: Worker) -> None:
    seen: list[str] = [s for w in ws for s in w.keeper.held]
    assert len(seen) == len(set(seen)), holdings(*ws)
    stored = leases(ws[0].store)
    for w in ws:
        assert all(stored[s].worker == w.keeper.worker for s in w.keeper.held)


def test_a_single_worker_holds_every_source_at_once(workers: Workers) -> None:
    alone = workers("alone")
    alone.tick()
    assert alone.keeper.held == frozenset(SOURCES)
    assert all(alone.keeper.holds(s) for s in SOURCES)
    assert alone.keeper.seconds_to_next_tick() == pytest.approx(10.0)
    assert any(
        "s1: polled by worker alone" in note
        for note in source_line(alone.store, _spec("s1"), T0).notes
    )
    alone.keeper.release_all()
    assert alone.keeper.held == frozenset()
    assert not any(lease.live(T0) for lease in leases(alone.store).values())
    assert not any(
        "polled by worker" in note for note in source_line(alone.store, _spec("s1"), T0).notes
    )


def _spec(sid: str) -> SourceSpec:
    return SourceSpec(id=sid, adapter="eastmoney_fast", name=sid, settings={})


def test_workers_share_the_sources_and_take_over_a_dead_ones(
    workers: Workers,
) -> None:
    clock = workers.clock
    a, b, c = workers("a"), workers("b"), workers("c")
    a.tick()
    assert len(a.keeper.held) == 7  # first up: everything, until others show up
    a.busy = {"s5", "s6"}  # being polled: never handed over meanwhile
    for _ in range(4):
        for w in (b, c, a):
            clock.advance(1)
            w.tick()
            assert_disjoint(a, b, c)
    sizes = sorted(len(w.keeper.held) for w in (a, b, c))
    assert sizes == [2, 2, 3], holdings(a, b, c)
    assert {"s5", "s6"} <= a.keeper.held
    assert set().union(*(w.keeper.held for w in (a, b, c))) == set(SOURCES)
    # c dies (stops ticking). Before its leases expire nobody touches them
    gone = c.keeper.held
    for _ in range(5):
        clock.advance(5)
        for w in (a, b):
            w.tick()
            assert not (w.keeper.held & gone)
    # the keepers wake just after c's first lease expires
    wait = min(a.keeper.seconds_to_next_tick(), b.keeper.seconds_to_next_tick())
    assert wait <= 5.0 + 0.01
    clock.advance(wait)
    for _ in range(3):
        for w in (a, b):
            w.tick()
            clock.advance(1)
    assert_disjoint(a, b)
    assert a.keeper.held | b.keeper.held == frozenset(SOURCES)
    assert sorted(len(w.keeper.held) for w in (a, b)) == [3, 4]
    # c comes back to life: it finds it lost its leases and stops polling them
    lost = c.keeper.tick()
    assert set(lost.lost) == gone
    assert not any(c.keeper.holds(s) for s in gone)


def test_a_worker_busy_with_every_source_hands_some_over_after_their_polls(
    workers: Workers,
) -> None:
    clock = workers.clock
    a, b = workers("a"), workers("b")
    a.tick()
    a.busy = set(SOURCES)  # it cannot keep up: a poll is always in progress
    b.tick()
    clock.advance(1)
    a.tick()
    # three are being handed back: no new poll of them starts, but a still holds them
    draining = set(SOURCES) - a.keeper.held
    assert len(draining) == 3
    assert not any(a.keeper.holds(s) for s in draining)
    stored = leases(a.store)
    assert all(stored[s].worker == "a" for s in draining)
    for _ in range(3):
        clock.advance(1)
        b.tick()
        a.tick()
        assert b.keeper.held == frozenset()  # not while their polls run
    a.busy = set(a.keeper.held)  # the polls of the three have ended
    clock.advance(1)
    a.tick()
    clock.advance(1)
    b.tick()
    assert b.keeper.held == draining
    assert_disjoint(a, b)
    assert len(a.keeper.held) == 4


def test_a_worker_whose_process_is_gone_is_replaced_at_once(
    workers: Workers,
) -> None:
    if not machine_identity():
        pytest.skip("no pid namespace identity on this system")
    # a real process that has exited (and been reaped): its pid exists no more
    ended = subprocess.run([sys.executable, "-c", "pass"], check=True)
    assert ended.returncode == 0
    probe = subprocess.Popen([sys.executable, "-c", "pass"])
    probe.wait()
    dead_pid = probe.pid
    clock = workers.clock
    heir = workers("heir")
    until = clock() + timedelta(seconds=30)
    prepare_leases(heir.store, SOURCES, now=clock())
    assert acquire_leases(heir.store, "dead", SOURCES, now=clock(), until=until) == SOURCES
    heartbeat(
        heir.store,
        "dead",
        machine=machine_identity(),
        pid=dead_pid,
        held=7,
        wants=0,
        now=clock(),
        until=until,
    )
    queue = FulltextQueue(heir.store)
    queue.enqueue("s0", ["x"], now=clock())
    assert queue.claim("dead", ["s0"], limit=1, now=clock(), until=until)
    heir.tick()
    assert heir.keeper.held == frozenset(SOURCES)  # no wait for expiry
    assert [w.worker for w in live_workers(heir.store, now=clock())] == ["heir"]
    assert queue.claim("heir", ["s0"], limit=1, now=clock(), until=until)
    # a worker elsewhere (another machine) is only ever freed by expiry
    other = workers("other")
    heartbeat(
        other.store,
        "far",
        machine="elsewhere",
        pid=dead_pid,
        held=0,
        wants=0,
        now=clock(),
        until=until,
    )
    other.tick()
    assert "far" in {w.worker for w in live_workers(other.store, now=clock())}


# --- real workers: `finews run` processes on one database -----------------------------------

ROLLING_PATH = "/web/webapi"
TEXT_PATH = "/NewsData/GetNewsText.do"
INTERVAL = 1.0
LEASE = 3.0
#: how long the upstream takes over each reply: polls last long enough to overlap, were a
#: source polled by two workers at once
DELAY = 0.1

#: ``finews …`` in a fresh interpreter (adds ``run`` should the CLI not list it)
_LAUNCH = """
import sys
from finews.cli import cli, main
if "run" not in cli.commands:
    from finews.daemon.command import commands
    for command in commands:
        cli.add_command(command)
main(sys.argv[1:])
"""


def start_worker(config: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FINEWS_")}
    env.update(OFFLINE_SOURCES_ENV)  # no default source reaches the internet
    with log.open("wb") as sink:
        return subprocess.Popen(
            [
                sys.executable,
                "-c",
                _LAUNCH,
                "--config",
                str(config),
                "--set",
                f"daemon.lease_seconds={LEASE:g}",
                "run",
            ],
            stdout=subprocess.DEVNULL,
            stderr=sink,
            env=env,
        )


def worker_config(path: Path, url: str, sources: str) -> Path:
    path.write_text(
        f'database_url = "{url}"\nlog_format = "json"\n'
        "[http]\ntimeout = 5\nretries = 0\n"
        "[daemon]\nhost_spacing = 0\nstop_grace = 2\nfulltext_retry = 0.2\n"
        "fulltext_workers = 2\n"
        "[sources.em_fast]\nenabled = false\n" + sources,
        encoding="utf-8",
    )
    return path


def fast_source(sid: str, base: str) -> str:
    return (
        f'[sources.{sid}]\nadapter = "eastmoney_fast"\nname = "{sid}"\n'
        f'url = "{base}/{sid}{FAST_PATH}"\nfallback_urls = []\ninterval = {INTERVAL}\n'
        f'page_size = 20\nmax_pages = 50\nfulltext = false\ncategory = "{sid}"\n'
    )


def wait_for(check: Callable[[], bool], what: str, *, timeout: float = 30.0) -> None:
    """Wait until ``check()`` holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


def stop_all(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def pid_of(worker: str) -> int:
    return int(worker.split(":")[1])


@dataclass
class Span:
    """One request the upstream answered: when it came in and left, which page."""

    enter: float
    leave: float
    newest: bool


class Upstream:
    """Fast-news feeds at ``/<source>/…``, each request's span recorded per source; can
    kill a worker (SIGKILL) just after a request to a chosen source arrives."""

    def __init__(self, sources: list[str]) -> None:
        self.feeds = {sid: FastNewsFeed(page_size=20) for sid in sources}
        self.spans: dict[str, list[Span]] = {sid: [] for sid in sources}
        self._lock = threading.Lock()
        self._victim: tuple[str, subprocess.Popen[bytes]] | None = None
        self.killed_at: float | None = None
        self.fired = threading.Event()

    def arm(self, source: str, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._victim = (source, proc)

    def _kill(self, proc: subprocess.Popen[bytes]) -> None:
        proc.kill()
        self.killed_at = time.time()
        self.fired.set()

    def routes(self) -> list[Route]:
        def route(sid: str) -> Route:
            def handle(received: Received) -> Reply:
                enter = time.time()
                with self._lock:
                    victim, self._victim = self._victim, None
                    if victim is not None and victim[0] != sid:
                        self._victim, victim = victim, None
                if victim is not None:
                    # while this reply is on its way: the worker dies mid-poll
                    threading.Timer(0.02, self._kill, [victim[1]]).start()
                reply = self.feeds[sid].handle(received)
                time.sleep(DELAY)
                newest = received.query.get("sortEnd", "") == ""
                with self._lock:
                    self.spans[sid].append(Span(enter, time.time(), newest))
                return reply

            return Route(f"/{sid}{FAST_PATH}", handle)

        return [route(sid) for sid in self.feeds]

    def published(self) -> set[tuple[str, str]]:
        out = set()
        for sid, feed in self.feeds.items():
            with feed._lock:
                out |= {(sid, item["code"]) for item in feed._items}
        return out


def stored_keys(store: Store) -> list[tuple[str, str]]:
    rows = store.query("SELECT source, upstream_id FROM items")
    return [(str(r[0]), str(r[1])) for r in rows]


def log_lines(path: Path) -> list[dict[str, Any]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.timeout(120)
def test_three_workers_share_sources_and_survive_a_kill_9_mid_poll(
    tmp_path: Path, pg_url: str
) -> None:
    sids = [f"w{n}" for n in range(6)]
    upstream = Upstream(sids)
    for feed in upstream.feeds.values():
        feed.publish(5)
    stop_publishing = threading.Event()

    def publish() -> None:
        n = 0
        while not stop_publishing.wait(0.1):
            upstream.feeds[sids[n % len(sids)]].publish(1 + n % 3)
            n += 1

    publisher = threading.Thread(target=publish)
    procs: list[subprocess.Popen[bytes]] = []
    with ReplayServer(upstream.routes()) as server, open_store(pg_url) as store:
        config = worker_config(
            tmp_path / "finews.toml", pg_url, "".join(fast_source(s, server.url) for s in sids)
        )
        logs = [tmp_path / f"worker{n}.log" for n in range(3)]
        try:
            procs = [start_worker(config, log) for log in logs]
            publisher.start()

            def holders() -> dict[str, str]:
                now = datetime.now(UTC)
                return {s: lease.worker for s, lease in leases(store).items() if lease.live(now)}

            def balanced() -> bool:
                held = holders()
                counts = {w: list(held.values()).count(w) for w in set(held.values())}
                return len(held) == 6 and sorted(counts.values()) == [2, 2, 2]

            wait_for(balanced, "the six sources spread two by two over three workers")
            assert {pid_of(w) for w in holders().values()} == {p.pid for p in procs}
            time.sleep(3 * INTERVAL)
            # the victim: whoever holds w0; it dies in the middle of its next poll of w0
            held = holders()
            victim = held["w0"]
            victim_proc = next(p for p in procs if p.pid == pid_of(victim))
            upstream.arm("w0", victim_proc)
            assert upstream.fired.wait(timeout=10), "the victim never polled w0 again"
            orphans = {s for s, w in leases(store).items() if w.worker == victim}
            assert "w0" in orphans
            expiry = max(leases(store)[s].expires_at for s in orphans).timestamp()
            killed_at = upstream.killed_at
            assert killed_at is not None
            # the victim is left unreaped: its pid still exists, so the survivors cannot
            # know it is dead and must wait for its leases to expire, as they would for a
            # worker on another machine

            def taken_over() -> bool:
                now = holders()
                return all(now.get(s) not in (None, victim) for s in orphans)

            wait_for(taken_over, "the dead worker's sources to be taken over", timeout=30)
            wait_for(
                lambda: all(any(sp.enter > killed_at for sp in upstream.spans[s]) for s in orphans),
                "polls of the taken-over sources",
            )
            time.sleep(3 * INTERVAL)
            stop_publishing.set()
            publisher.join(timeout=5)
            published = upstream.published()
            wait_for(lambda: set(stored_keys(store)) >= published, "every published item stored")
            survivors = [p for p in procs if p is not victim_proc]
            stop_all(survivors)
            assert all(p.returncode == 0 for p in survivors)
        finally:
            stop_publishing.set()
            if publisher.is_alive():
                publisher.join(timeout=5)
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                proc.wait()
        keys = stored_keys(store)
        assert len(keys) == len(set(keys))  # every item stored exactly once
        assert set(keys) == published
        new = [c for c in store.changes_since(0, limit=1_000_000) if c.kind == "new"]
        assert len(new) == len(keys)
        assert store.integrity_problems() == []
    # no source was ever polled by two workers at once
    for sid, spans in upstream.spans.items():
        ordered = sorted(spans, key=lambda sp: sp.enter)
        for before, after in itertools.pairwise(ordered):
            assert after.enter >= before.leave, f"{sid}: two requests at once"
    # ... nor polled more often than its interval asks (three workers would triple it)
    for sid, spans in upstream.spans.items():
        polls = [sp.enter for sp in spans if sp.newest]
        window = polls[-1] - polls[0]
        assert len(polls) <= 1.25 * window / INTERVAL + 3, (sid, len(polls), window)
    # the dead worker's sources: not taken before its leases ran out; taken within one
    # lease period of its death, and polled within one interval after that (+ slack for a
    # machine busy with other tests)
    for sid in orphans:
        first = min(sp.enter for sp in upstream.spans[sid] if sp.enter > killed_at)
        assert first >= expiry - 0.05, sid
        assert first - killed_at <= LEASE + INTERVAL * 1.1 + 1.5, (sid, first - killed_at)
    # each worker took leases and logged it, with its worker id
    took = [[e for e in log_lines(log) if e.get("lease") == "took"] for log in logs]
    assert all(took), "every worker held sources"
    heirs = {s for events in took for e in events if e["worker"] != victim for s in e["sources"]}
    assert orphans <= heirs


class RollingFeed:
    """East Money's rolling list (``records``) with a full text per item; counts the
    full-text requests per item."""

    def __init__(self) -> None:
        self._items: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.asked: dict[str, int] = {}

    def publish(self, count: int) -> list[str]:
        with self._lock:
            ids = []
            for _ in range(count):
                n = len(self._items) + 1
                uid = f"R{n:05d}"
                at = T0 + timedelta(minutes=n)
                self._items.insert(
                    0,
                    {
                        "id": uid,
                        "title": f"滚动新闻第{n}条：央行开展逆回购操作",
                        "digest": f"摘要{n}。",
                        "url_w": f"http://finance.example.cn/a/{uid}.html",
                        "showtime": at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
                        "infoCode": f"NW{uid}",
                    },
                )
                ids.append(uid)
            return ids

    def list_reply(self, received: Received) -> Reply:
        with self._lock:
            return Reply.json({"records": self._items[: int(received.query.get("count", "100"))]})

    def text_reply(self, received: Received) -> Reply:
        code = received.query.get("id", "")
        with self._lock:
            self.asked[code] = self.asked.get(code, 0) + 1
        time.sleep(DELAY)
        return Reply.json({"content": f"　　{code} 的全文：流动性将保持合理充裕。"})


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_three_workers_fetch_each_full_text_once(tmp_path: Path, db_url: str) -> None:
    rolling = RollingFeed()
    ids = rolling.publish(30)
    routes = [
        Route(ROLLING_PATH, rolling.list_reply, {"type": "102"}),
        Route(TEXT_PATH, rolling.text_reply),
    ]
    procs: list[subprocess.Popen[bytes]] = []
    with ReplayServer(routes) as server, open_store(db_url) as store:
        source = (
            f'[sources.emnews]\nenabled = true\nurl = "{server.url}{ROLLING_PATH}"\n'
            f'fulltext_url = "{server.url}{TEXT_PATH}"\ninterval = {INTERVAL}\ncount = 1000\n'
        )
        config = worker_config(tmp_path / "finews.toml", db_url, source)
        try:
            procs = [start_worker(config, tmp_path / f"w{n}.log") for n in range(3)]
            wait_for(
                lambda: len(live_workers(store, now=datetime.now(UTC))) == 3, "three live workers"
            )
            ids += rolling.publish(30)

            def done() -> bool:
                found = {i.upstream_id: i.content for i in store.items()}
                return (
                    set(found) == set(ids)
                    and all(found.values())
                    and FulltextQueue(store).counts().pending == 0
                )

            wait_for(done, "every full text", timeout=60)
            stop_all(procs)
            assert all(p.returncode == 0 for p in procs)
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                proc.wait()
        assert rolling.asked == {f"NW{uid}": 1 for uid in ids}  # each text fetched once
        assert all(f"NW{i.upstream_id} 的全文" in i.content for i in store.items())
        assert FulltextQueue(store).counts().failed == 0
        assert live_workers(store, now=datetime.now(UTC)) == []  # they left cleanly
        assert not any(lease.live(datetime.now(UTC)) for lease in leases(store).values())
