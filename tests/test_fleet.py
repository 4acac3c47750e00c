"""The whole fleet at once: three ``finews run`` workers and two ``finews serve`` nodes on one
PostgreSQL database, fed by a loopback upstream that keeps publishing (issue 7).

Six East Money fast-news sources live on one :class:`ReplayServer`; the workers share them
through leases, each sending its own User-Agent so the upstream knows who asks. The test
makes the upstream hold the next request for an *older* page of one source (a walk back,
asked for only after the newest page was committed), SIGKILLs the worker whose request is
held, and lets the two others take its sources over. Server-Sent Event clients connected to
both nodes from the start must see every stored item, in change-log order; the database must
hold every published item exactly once and pass its integrity check.

Every wait is bounded. Every process runs in its own process group, and the ``processes``
fixture kills each group when the test ends, whatever happened; the processes' logs are
printed then (pytest shows them when the test fails).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from finews.demo.replay import Received, ReplayServer, Reply, Route
from finews.derive import open_store
from finews.store import Store
from finews.store.leases import leases
from finews.store.sql import SqlStore
from helpers import OFFLINE_SOURCES_ENV
from upstreams import FAST_PATH, FastNewsFeed

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(150)]

#: the console script next to this interpreter (as ``tests/test_multinode.py`` runs it)
FINEWS = str(Path(sys.executable).with_name("finews"))
WAIT = 30.0  # bound on every wait; a healthy run needs a few seconds for each
SOURCES = [f"fleet{n}" for n in range(6)]
HELD = SOURCES[0]  # the source whose walk back the upstream holds while its worker is killed
PAGE = 20
INTERVAL = 1.0  # seconds between polls of one source
LEASE = 3.0  # daemon.lease_seconds: a dead worker's sources are free again after this
DELAY = 0.05  # seconds each upstream reply takes: polls last long enough to overlap, were
# one source ever polled by two workers at once


def agent_of(n: int) -> str:
    """The User-Agent worker ``n`` sends (``http.user_agent``)."""
    return f"finews-fleet-worker-{n}"


def wait_for(check: Callable[[], bool], what: str, *, timeout: float = WAIT) -> None:
    """Wait until ``check()`` holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


# --- the upstream --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hit:
    """One request the upstream answered: which source, who asked, when (monotonic)."""

    source: str
    agent: str
    enter: float
    leave: float


class Upstream:
    """Fast-news feeds at ``/<source>/…`` that record every request; when armed, the next
    request for an older page of :data:`HELD` is held (not answered) until :attr:`release`
    is set, and :attr:`held` is that request."""

    def __init__(self) -> None:
        self.feeds = {sid: FastNewsFeed(page_size=PAGE) for sid in SOURCES}
        self.hits: list[Hit] = []
        self.held: Received | None = None
        self.caught = threading.Event()
        self.release = threading.Event()
        self._armed = False
        self._published: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def publish(self, source: str, count: int) -> set[tuple[str, str]]:
        """Publish ``count`` new items on ``source``; return their (source, code) keys."""
        keys = {(source, code) for code in self.feeds[source].publish(count)}
        with self._lock:
            self._published |= keys
        return keys

    def published(self) -> set[tuple[str, str]]:
        """Every (source, code) published so far."""
        with self._lock:
            return set(self._published)

    def arm(self) -> None:
        with self._lock:
            self._armed = True

    def routes(self) -> list[Route]:
        return [Route(f"/{sid}{FAST_PATH}", self._handler(sid)) for sid in SOURCES]

    def _handler(self, sid: str) -> Callable[[Received], Reply]:
        def handle(received: Received) -> Reply:
            enter = time.monotonic()
            older = received.query.get("sortEnd", "") != ""
            with self._lock:
                hold = self._armed and sid == HELD and older
                if hold:
                    self._armed = False
                    self.held = received
            if hold:
                self.caught.set()
                self.release.wait(WAIT)  # set once the worker asking is dead
                return Reply(status=503)  # nobody reads it
            reply = self.feeds[sid].handle(received)
            time.sleep(DELAY)
            hit = Hit(sid, received.headers.get("user-agent", ""), enter, time.monotonic())
            with self._lock:
                self.hits.append(hit)
            return reply

        return handle

    def hits_of(self, source: str) -> list[Hit]:
        with self._lock:
            return [hit for hit in self.hits if hit.source == source]


class Publisher:
    """A thread publishing one item every 0.1 s, round-robin over the sources."""

    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="publisher", daemon=True)

    def _run(self) -> None:
        for sid in itertools.cycle(SOURCES):
            if self._stop.wait(0.1):
                return
            self.upstream.publish(sid, 1)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(WAIT)


# --- processes -----------------------------------------------------------------------------


class Processes:
    """The ``finews`` processes of one test, each in its own process group, each logging to
    a file under ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.started: list[tuple[str, subprocess.Popen[bytes], Path]] = []

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        """``finews ARGS…`` as ``name``, without the caller's ``FINEWS_*`` settings."""
        log = self.folder / f"{name}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("FINEWS_")}
        env.update(OFFLINE_SOURCES_ENV)  # no default source reaches the internet
        with log.open("wb") as sink:
            proc = subprocess.Popen(
                [FINEWS, *args],
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # its own process group, killed as one
            )
        self.started.append((name, proc, log))
        return proc

    def log(self, proc: subprocess.Popen[bytes]) -> str:
        path = next(log for _, p, log in self.started if p is proc)
        return path.read_text(encoding="utf-8", errors="replace")

    @staticmethod
    def signal(proc: subprocess.Popen[bytes], signum: int) -> None:
        """Send ``signum`` to ``proc``'s whole process group, unless it has been reaped."""
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signum)

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGKILL ``proc``'s group and reap it."""
        self.signal(proc, signal.SIGKILL)
        proc.wait(WAIT)

    def stop(self, procs: list[subprocess.Popen[bytes]]) -> list[int]:
        """SIGTERM each of ``procs`` and wait for it (SIGKILL after :data:`WAIT`); return
        their exit codes."""
        for proc in procs:
            self.signal(proc, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(WAIT)
            except subprocess.TimeoutExpired:
                self.kill(proc)
        return [proc.returncode for proc in procs]

    def kill_all(self) -> None:
        for _, proc, _ in self.started:
            self.signal(proc, signal.SIGKILL)
        for _, proc, _ in self.started:
            proc.wait(WAIT)

    def report(self) -> str:
        parts = []
        for name, proc, log in self.started:
            lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
            parts.append(f"--- {name} (pid {proc.pid}, exit {proc.returncode}), last lines:")
            parts += lines[-30:]
        return "\n".join(parts)


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    """Starts ``finews`` processes; kills every one of them (group and all) afterwards."""
    started = Processes(tmp_path)
    try:
        yield started
    finally:
        started.kill_all()
        print(started.report())  # shown by pytest when the test failed


_LISTENING = re.compile(r"Uvicorn running on (http://127\.0\.0\.1:\d+)")


def start_node(processes: Processes, config: Path, name: str) -> str:
    """``finews serve`` on a free loopback port; its base URL once it answers."""
    proc = processes.start(name, "--config", str(config), "serve", "--port", "0")
    found: list[str] = []

    def listening() -> bool:
        if proc.poll() is not None:
            pytest.fail(f"{name} exited ({proc.returncode}):\n{processes.log(proc)}")
        found[:] = _LISTENING.findall(processes.log(proc))
        return bool(found)

    wait_for(listening, f"{name} to listen")
    url = found[0]
    assert httpx.get(f"{url}/healthz", timeout=WAIT).status_code == 200
    return url


# --- live updates --------------------------------------------------------------------------


class SseClient:
    """An ``EventSource`` on one node, read in a thread: each ``item`` event's (seq, kind,
    item id); any other event name (``reload``) is kept apart, as a failure."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.events: list[tuple[int, str, int]] = []
        self.others: list[str] = []
        self.error: BaseException | None = None
        self._open = threading.Event()
        self._thread = threading.Thread(target=self._read, name=f"sse {url}", daemon=True)

    def open(self) -> SseClient:
        self._thread.start()
        assert self._open.wait(WAIT), f"{self.url}: the stream did not open"
        assert self.error is None, f"{self.url}: {self.error!r}"
        return self

    def close(self) -> None:
        """Wait for the reader to end (it ends when its node stops)."""
        if self._thread.is_alive():
            self._thread.join(WAIT)

    def _read(self) -> None:
        # the node sends a comment every 15 s when idle: a longer read timeout never fires
        timeout = httpx.Timeout(WAIT, read=60.0)
        try:
            with (
                httpx.Client(timeout=timeout) as http,
                http.stream("GET", self.url) as response,
            ):
                response.raise_for_status()
                fields: dict[str, str] = {}
                for line in response.iter_lines():
                    self._open.set()  # the first line is ``retry:``: the stream is registered
                    if line == "":
                        if fields.get("event") == "item":
                            data = json.loads(fields["data"])
                            self.events.append((int(fields["id"]), data["kind"], data["id"]))
                        elif "event" in fields:
                            self.others.append(fields["event"])
                        fields = {}
                    elif not line.startswith(":"):
                        name, _, value = line.partition(":")
                        fields[name] = value.removeprefix(" ")
        except httpx.RemoteProtocolError:
            pass  # the node went away: how every stream ends here
        except BaseException as exc:  # reported by the test, not lost in the thread
            self.error = exc
        finally:
            self._open.set()


# --- the database --------------------------------------------------------------------------


def stored(store: Store) -> list[tuple[str, str, int]]:
    """(source, upstream id, item id) of every stored item."""
    assert isinstance(store, SqlStore)
    rows = store.query("SELECT source, upstream_id, id FROM items")
    return [(str(r[0]), str(r[1]), int(r[2])) for r in rows]


def write_config(path: Path, database_url: str, upstream: str) -> Path:
    lines = [
        f'database_url = "{database_url}"',
        "[http]",
        "timeout = 5",
        "retries = 0",
        "[daemon]",
        "host_spacing = 0",
        "stop_grace = 2",
        f"lease_seconds = {LEASE:g}",
        "[sources.em_fast]",
        "enabled = false",
    ]
    for sid in SOURCES:
        lines += [
            f"[sources.{sid}]",
            'adapter = "eastmoney_fast"',
            f'name = "{sid}"',
            f'url = "{upstream}/{sid}{FAST_PATH}"',
            "fallback_urls = []",
            f"interval = {INTERVAL:g}",
            f"page_size = {PAGE}",
            "max_pages = 50",
            "fulltext = false",
            f'category = "{sid}"',
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --- the test ------------------------------------------------------------------------------


def test_three_workers_and_two_nodes_survive_a_worker_killed_mid_poll(
    tmp_path: Path, pg_url: str, processes: Processes
) -> None:
    upstream = Upstream()
    for sid in SOURCES:
        upstream.publish(sid, 5)
    publisher = Publisher(upstream)
    clients: list[SseClient] = []
    with ReplayServer(upstream.routes()) as server, open_store(pg_url) as store:
        try:
            config = write_config(tmp_path / "finews.toml", pg_url, server.url)
            nodes = [start_node(processes, config, f"node{n}") for n in range(2)]
            clients = [SseClient(f"{url}/events?since=0").open() for url in nodes]
            publisher.start()
            workers = {
                agent_of(n): processes.start(
                    f"worker{n}",
                    "--config",
                    str(config),
                    "--set",
                    f"http.user_agent={agent_of(n)}",
                    "run",
                )
                for n in range(3)
            }
            agents = {proc.pid: agent for agent, proc in workers.items()}

            def holders() -> dict[str, str]:
                """Source -> the agent of the worker holding its lease now."""
                now = datetime.now(UTC)
                return {
                    sid: agents.get(int(lease.worker.split(":")[1]), lease.worker)
                    for sid, lease in leases(store).items()
                    if lease.live(now)
                }

            def balanced() -> bool:
                held = list(holders().values())
                return len(held) == 6 and sorted(held.count(a) for a in set(held)) == [2, 2, 2]

            wait_for(balanced, "the six sources spread two by two over the three workers")
            wait_for(
                lambda: {hit.agent for hit in upstream.hits} == set(workers),
                "a poll by every worker",
            )

            # the kill: the next walk back of HELD is held while its worker is SIGKILLed
            upstream.arm()
            burst = upstream.publish(HELD, 2 * PAGE + 5)  # more than the newest page holds
            assert upstream.caught.wait(WAIT), f"no walk back of {HELD} was asked for"
            assert upstream.held is not None
            victim_agent = upstream.held.headers.get("user-agent", "")
            victim = workers[victim_agent]
            held_by = holders()
            assert held_by[HELD] == victim_agent, "the lease table agrees on who polls it"
            orphans = {sid for sid, agent in held_by.items() if agent == victim_agent}
            burst_stored = burst & {(s, u) for s, u, _ in stored(store)}
            cursor = store.get_state(HELD).cursor
            os.killpg(victim.pid, signal.SIGKILL)
            # dead, but left unreaped (WNOWAIT) until its sources are taken over: its pid still
            # exists, so the others cannot tell it died and wait for its leases to expire, as
            # for a worker on another machine (a reaped one here is replaced at once)
            os.waitid(os.P_PID, victim.pid, os.WEXITED | os.WNOWAIT)
            killed_at = time.monotonic()
            published_at_kill = upstream.published()
            upstream.release.set()
            # it was killed mid-walk: the newest page was committed with the walk's position
            assert 0 < len(burst_stored) < len(burst)
            assert cursor, "the walk's next page was saved with the committed page"

            survivors = {agent for agent in workers if agent != victim_agent}
            wait_for(
                lambda: all(holders().get(sid) in survivors for sid in orphans),
                "the dead worker's sources to be taken over",
            )
            assert victim.wait(WAIT) == -signal.SIGKILL
            for sid in orphans:  # news that only the heirs can fetch
                upstream.publish(sid, 3)
            wait_for(
                lambda: all(
                    any(h.enter > killed_at and h.agent in survivors for h in upstream.hits_of(s))
                    for s in orphans
                ),
                "polls of the taken-over sources",
            )
            publisher.stop()
            published = upstream.published()
            wait_for(
                lambda: {(s, u) for s, u, _ in stored(store)} >= published,
                "every published item to be stored",
            )
            log = [(c.seq, c.kind, c.item_id) for c in store.changes_since(0, 1_000_000)]
            wait_for(
                lambda: all(len(c.events) >= len(log) or c.error is not None for c in clients),
                "the clients of both nodes to see every change",
            )
            codes = processes.stop([workers[agent] for agent in sorted(survivors)])
            assert codes == [0, 0], "the surviving workers stop cleanly"
            node_procs = [proc for name, proc, _ in processes.started if name.startswith("node")]
            processes.stop(node_procs)
        finally:
            publisher.stop()
            upstream.release.set()
            processes.kill_all()
            for client in clients:
                client.close()

        items = stored(store)
        keys = [(s, u) for s, u, _ in items]
        assert len(keys) == len(set(keys)), "an item stored twice"
        assert set(keys) == published, "every published item stored, nothing else"
        late = published - published_at_kill
        # items published after the kill, in each of the dead worker's sources, are stored
        assert {s for s, _ in late} >= orphans
        new = [(seq, item_id) for seq, kind, item_id in log if kind == "new"]
        assert sorted(item_id for _, item_id in new) == sorted(i for _, _, i in items)
        for client in clients:
            assert client.error is None, f"{client.url}: {client.error!r}"
            assert client.others == [], f"{client.url}: {client.others}"
            assert client.events == log, f"{client.url}: not the change log, in order"
            seen_new = {item_id for _, kind, item_id in client.events if kind == "new"}
            assert seen_new == {i for _, _, i in items}, client.url
        assert store.integrity_problems() == []

    # the dead worker never asked again; the heirs did, for each of its sources
    assert not any(h.agent == victim_agent and h.enter > killed_at for h in upstream.hits)
    # no source was ever polled by two workers at once (the held request aside)
    for sid in SOURCES:
        ordered = sorted(upstream.hits_of(sid), key=lambda h: h.enter)
        for before, after in itertools.pairwise(ordered):
            assert after.enter >= before.leave, f"{sid}: {before} and {after} overlap"
