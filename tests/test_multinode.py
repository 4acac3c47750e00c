"""Several web nodes and several writers on one PostgreSQL database.

Two live sites (two uvicorn servers on loopback, each with its own store connection and its
own LISTEN connection) follow one database while three writer processes store items into it
and one writer is killed with SIGKILL half-way. Every SSE client on both nodes must see every
item exactly once, in change-log order, with no gap, and the database must hold every item
exactly once. The poller's safety-net timer is pushed out to two minutes, so within the
bounds of these tests only ``NOTIFY`` can wake the nodes. Notification latency (commit to
event at a client) is measured and printed, never asserted.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from finews.demo.replay import Received, ReplayServer, Reply, Route
from finews.derive import open_store
from finews.models import Item
from finews.publish.events import ChangeFeed
from finews.publish.settings import SiteSettings
from finews.publish.web import LiveSite, create_app
from finews.store import Store
from finews.store.notify import APPLICATION_NAME
from site_data import LiveServer
from upstreams import FAST_PATH, FastNewsFeed

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(240)]

# the console script: `python -m finews.cli` imports cli.py twice (as __main__ and as
# finews.cli), which the command modules that import finews.cli cannot survive
FINEWS = [str(Path(sys.executable).with_name("finews"))]
SETTINGS = SiteSettings(page_size=20)
WAIT = 60.0  # bound on every wait; a healthy run needs a few seconds

# a writer process: upsert batches of distinct items, print each batch once committed
WRITER = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime, timedelta
    from finews.models import Item
    from finews.derive import open_store

    url, source, batches, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    TOPICS = ["沪深两市成交额突破万亿元", "央行开展逆回购操作", "北向资金净买入",
              "人民币中间价调升", "半导体板块领涨", "国债期货全线收涨", "原油价格大幅波动"]
    store = open_store(url)
    start = datetime(2026, 9, 1, 1, 0, tzinfo=UTC)
    for b in range(batches):
        store.upsert_items([
            Item(
                source=source,
                upstream_id=f"{source}-{b}-{n}",
                title=f"{source}第{b}批第{n}条：{TOPICS[(b * size + n) % len(TOPICS)]}",
                digest="市场情绪回暖，成交温和放大。" * 8,
                published_at=start + timedelta(seconds=b * size + n),
                fetched_at=start,
                category="emkuaixun",
                tag="东财快讯",
            )
            for n in range(size)
        ])
        print(b, flush=True)
    store.close()
    """
)


class SseClient:
    """An ``EventSource`` on one node, in a thread: every event with its arrival time."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.url = url
        self.headers = headers or {}
        #: (seq, data, arrival time.time()) in arrival order
        self.events: list[tuple[int, dict[str, Any], float]] = []
        self.error: BaseException | None = None
        self._open = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name=f"sse {url}", daemon=True)

    def __enter__(self) -> SseClient:
        self._thread.start()
        assert self._open.wait(WAIT), f"{self.url}: the stream did not open"
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(WAIT)

    def _read(self) -> None:
        try:
            with (
                httpx.Client(timeout=httpx.Timeout(WAIT)) as http,
                http.stream("GET", self.url, headers=self.headers) as response,
            ):
                response.raise_for_status()
                fields: dict[str, str] = {}
                for line in response.iter_lines():
                    self._open.set()  # the first line is ``retry:``: the stream is registered
                    if self._stop.is_set():
                        return
                    if line == "" and fields.get("event") == "item":
                        arrived = time.time()
                        self.events.append((int(fields["id"]), json.loads(fields["data"]), arrived))
                    if line == "":
                        fields = {}
                    elif not line.startswith(":"):
                        name, _, value = line.partition(":")
                        fields[name] = value.removeprefix(" ")
        except BaseException as exc:  # reported by the test, not lost in the thread
            self.error = exc
        finally:
            self._open.set()

    def wait_for(self, count: int) -> list[tuple[int, dict[str, Any], float]]:
        """The events once ``count`` arrived (or what arrived within :data:`WAIT`)."""
        deadline = time.monotonic() + WAIT
        while len(self.events) < count and time.monotonic() < deadline and self.error is None:
            time.sleep(0.02)
        return list(self.events)


def change_log(url: str) -> list[tuple[int, int]]:
    """(seq, item id) of the whole change log, in order."""
    with open_store(url, migrate=False) as store:
        return [(c.seq, c.item_id) for c in store.changes_since(0, 1_000_000)]


def assert_saw_exactly_the_log(clients: list[SseClient], log: list[tuple[int, int]]) -> None:
    for client in clients:
        events = client.wait_for(len(log))
        assert client.error is None, f"{client.url}: {client.error!r}"
        assert [(seq, data["id"]) for seq, data, _ in events] == log, client.url
        assert all(data["kind"] == "new" for _, data, _ in events)


def duplicated_keys(url: str) -> int:
    """Items stored more than once under one (source, upstream id)."""
    with open_store(url, migrate=False) as store:
        keys = [(i.source, i.upstream_id) for i in store.items()]
    return len(keys) - len(set(keys))


def site_of(server: LiveServer) -> LiveSite:
    app: Any = server.server.config.app
    site: LiveSite = app.state.site
    return site


def wait_listening(server: LiveServer) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        listener = site_of(server).changes.listener
        if listener is not None and listener.connected:
            return
        time.sleep(0.02)
    raise AssertionError(f"{server.url}: the change listener did not connect")


def start_nodes(stack: ExitStack, url: str, count: int = 2) -> list[LiveServer]:
    """``count`` live sites on the database at ``url``, each listening."""
    with open_store(url):
        pass  # migrate once, before anything races for it
    servers = [
        stack.enter_context(LiveServer(create_app(url, SETTINGS, heartbeat=0.5)))
        for _ in range(count)
    ]
    for server in servers:
        wait_listening(server)
    return servers


@pytest.fixture
def nodes(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[LiveServer]]:
    """Two live sites on one fresh PostgreSQL database, both listening."""
    # only a notification can wake a node within the bounds of these tests
    monkeypatch.setattr(ChangeFeed, "listen_interval", 120.0)
    with ExitStack() as stack:
        yield start_nodes(stack, pg_url)


def kill_when(proc: subprocess.Popen[Any], ready: Callable[[], bool]) -> None:
    """SIGKILL ``proc`` as soon as ``ready()``; fail if it exits first."""
    deadline = time.monotonic() + WAIT
    while not ready():
        if proc.poll() is not None:
            _, err = proc.communicate()
            raise AssertionError(f"the worker finished before it could be killed: {err!r}")
        assert time.monotonic() < deadline, "the worker never got far enough to be killed"
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=WAIT)  # reaps it and closes its pipes


def reaped(stack: ExitStack, proc: subprocess.Popen[Any]) -> subprocess.Popen[Any]:
    """``proc``, killed (if still running) and reaped when ``stack`` closes, so that a
    failing test leaves no process or pipe behind."""

    def reap() -> None:
        if proc.poll() is None:
            proc.kill()
        proc.wait(WAIT)
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()

    stack.callback(reap)
    return proc


def test_fetch_workers_killed_mid_poll_every_node_sees_every_item_once(
    nodes: list[LiveServer], pg_url: str, tmp_path: Path
) -> None:
    page, per_source = 25, 300
    feeds = {name: FastNewsFeed(page_size=page) for name in ("em_a", "em_b", "em_c")}
    for feed in feeds.values():
        feed.publish(per_source)

    # em_b's third page is held back until the test has killed the worker waiting for it
    killed = threading.Event()
    asked: dict[str, int] = dict.fromkeys(feeds, 0)

    def slow(name: str, feed: FastNewsFeed) -> Callable[[Received], Reply]:
        def handle(received: Received) -> Reply:
            asked[name] += 1  # one poll at a time per source: no race on the count
            if name == "em_b" and asked[name] >= 3:
                killed.wait(WAIT)
            reply = feed.handle(received)
            return Reply(status=reply.status, body=reply.body, headers=reply.headers, delay=0.05)

        return handle

    with ExitStack() as stack:
        config = tmp_path / "finews.toml"
        lines = [f'database_url = "{pg_url}"', "[http]", "retries = 0"]
        for name, feed in feeds.items():
            upstream = stack.enter_context(ReplayServer([Route(FAST_PATH, slow(name, feed))]))
            lines += [
                f"[sources.{name}]",
                'adapter = "eastmoney_fast"',
                f'url = "{upstream.url}{FAST_PATH}"',
                "fallback_urls = []",
                f"page_size = {page}",
                "max_pages = 100",
            ]
        config.write_text("\n".join(lines) + "\n", encoding="utf-8")
        early = [stack.enter_context(SseClient(f"{n.url}/events?since=0")) for n in nodes]

        def fetch(name: str) -> subprocess.Popen[bytes]:
            command = [*FINEWS, "--config", str(config), "fetch", "-s", name]
            return reaped(
                stack, subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            )

        workers = {name: fetch(name) for name in feeds}
        # kill em_b while it waits for its third page: two pages and its cursor are saved
        kill_when(workers["em_b"], lambda: asked["em_b"] >= 3)
        killed.set()
        with open_store(pg_url, migrate=False) as store:
            assert store.count_items("em_b") == 2 * page
        # clients that join while the others write: replay from the log, then live
        late = [stack.enter_context(SseClient(f"{n.url}/events?since=0")) for n in nodes]
        for name in ("em_a", "em_c"):
            _, err = workers[name].communicate(timeout=WAIT)
            assert workers[name].returncode == 0, err.decode()
        again = fetch("em_b")
        _, err = again.communicate(timeout=WAIT)
        assert again.returncode == 0, err.decode()

        with open_store(pg_url, migrate=False) as store:
            assert {name: store.count_items(name) for name in feeds} == dict.fromkeys(
                feeds, per_source
            )
            assert store.integrity_problems() == []
        assert duplicated_keys(pg_url) == 0
        log = change_log(pg_url)
        assert len(log) == 3 * per_source, "one change per item: the re-poll added none"
        assert len({item_id for _, item_id in log}) == len(log)
        assert_saw_exactly_the_log(early + late, log)


def test_writer_killed_mid_write_loses_nothing_and_duplicates_nothing(
    nodes: list[LiveServer], pg_url: str
) -> None:
    batches, size = 20, 10

    with ExitStack() as stack:

        def writer(source: str) -> subprocess.Popen[str]:
            command = [sys.executable, "-c", WRITER, pg_url, source, str(batches), str(size)]
            return reaped(
                stack,
                subprocess.Popen(
                    command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
                ),
            )

        clients = [stack.enter_context(SseClient(f"{n.url}/events?since=0")) for n in nodes]
        procs = {source: writer(source) for source in ("w1", "w2", "w3")}
        victim = procs["w2"]
        assert victim.stdout is not None
        committed = [int(victim.stdout.readline()) for _ in range(5)]
        os.kill(victim.pid, signal.SIGKILL)  # it is writing batch 5 (or 6) right now
        rest, _ = victim.communicate(timeout=WAIT)  # what it printed before it died
        committed += [int(line) for line in rest.split()]
        with open_store(pg_url, migrate=False) as store:
            stored = store.count_items("w2")
            for batch in committed:
                for n in range(size):
                    assert store.get_item("w2", f"w2-{batch}-{n}") is not None
        assert stored % size == 0, "a batch commits whole or not at all"
        assert stored // size in (len(committed), len(committed) + 1)  # +1: killed at commit
        for source in ("w1", "w3"):
            _, err = procs[source].communicate(timeout=WAIT)
            assert procs[source].returncode == 0, err
        redo = writer("w2")  # start over: what was committed comes back unchanged
        _, err = redo.communicate(timeout=WAIT)
        assert redo.returncode == 0, err

        total = 3 * batches * size
        with open_store(pg_url, migrate=False) as store:
            assert store.count_items() == total
            assert store.integrity_problems() == []
        assert duplicated_keys(pg_url) == 0
        log = change_log(pg_url)
        assert len(log) == total, "one change per item: rewriting committed batches added none"
        assert_saw_exactly_the_log(clients, log)

        # and single-item commits after it, each its own event at every node (how soon:
        # bench/notify_latency.py)
        probe_single_commits(pg_url, clients, len(log))


def probe_single_commits(url: str, clients: list[SseClient], seen: int, probes: int = 20) -> None:
    """Commit ``probes`` single items 50 ms apart; each reaches every client once."""
    committed: list[int] = []
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
            committed.append(_item_id(store, probe))
            time.sleep(0.05)
    for client in clients:
        events = client.wait_for(seen + probes)[seen:]
        assert sorted(data["id"] for _, data, _ in events) == sorted(committed), client.url


def _item_id(store: Store, item: Item) -> int:
    stored = store.get_item(item.source, item.upstream_id)
    assert stored is not None
    assert stored.id is not None
    return stored.id


def test_nodes_that_lose_their_listening_connection_miss_nothing(
    nodes: list[LiveServer], pg_url: str
) -> None:
    batches, size = 30, 5
    with ExitStack() as stack:
        clients = [stack.enter_context(SseClient(f"{n.url}/events?since=0")) for n in nodes]
        proc = reaped(
            stack,
            subprocess.Popen(
                [sys.executable, "-c", WRITER, pg_url, "w1", str(batches), str(size)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            ),
        )
        assert proc.stdout is not None
        for _ in range(3):
            proc.stdout.readline()
        # what a server restart or a network cut does to both nodes' LISTEN sessions
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = %s AND datname = current_database()",
                (APPLICATION_NAME,),
            )
        _, err = proc.communicate(timeout=WAIT)
        assert proc.returncode == 0, err
        assert_saw_exactly_the_log(clients, change_log(pg_url))
        for node in nodes:
            wait_listening(node)
            listener = site_of(node).changes.listener
            assert listener is not None
            assert listener.connections == 2


def test_a_writer_that_never_notifies_is_caught_by_the_safety_net(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a worker still on a release without NOTIFY, during a rolling upgrade
    monkeypatch.setattr(ChangeFeed, "listen_interval", 0.3)
    silent = WRITER.replace(
        "from finews.derive import open_store\n",
        "from finews.derive import open_store\n"
        "from finews.store.postgres import PostgresStore\n"
        "PostgresStore._notify_changes = lambda self, cur: None\n",
    )
    assert silent != WRITER
    with ExitStack() as stack:
        nodes = start_nodes(stack, pg_url)
        clients = [stack.enter_context(SseClient(f"{n.url}/events?since=0")) for n in nodes]
        done = subprocess.run(
            [sys.executable, "-c", silent, pg_url, "old", "4", "5"],
            capture_output=True,
            text=True,
            timeout=WAIT,
        )
        assert done.returncode == 0, done.stderr
        log = change_log(pg_url)
        assert len(log) == 20
        assert_saw_exactly_the_log(clients, log)
        for node in nodes:
            listener = site_of(node).changes.listener
            assert listener is not None
            assert listener.received == 0, "it was the timer"


def test_a_client_that_moves_to_another_node_resumes_where_it_left_off(
    nodes: list[LiveServer], pg_url: str
) -> None:
    # event ids are change-log seqs, the same on every node: no sticky sessions needed
    first, second = nodes

    def write(source: str, batches: int) -> None:
        done = subprocess.run(
            [sys.executable, "-c", WRITER, pg_url, source, str(batches), "5"],
            capture_output=True,
            text=True,
            timeout=WAIT,
        )
        assert done.returncode == 0, done.stderr

    with SseClient(f"{first.url}/events?since=0") as before:
        write("w1", 2)
        seen = before.wait_for(10)
    assert len(seen) == 10
    last_id = seen[6][0]  # it read 7 of them when its node went away
    write("w2", 2)
    with SseClient(f"{second.url}/events", {"last-event-id": str(last_id)}) as after:
        rest = after.wait_for(13)
    log = change_log(pg_url)
    assert len(log) == 20
    assert [(seq, data["id"]) for seq, data, _ in seen[:7] + rest] == log


def test_nodes_outlive_a_cut_of_every_database_connection(
    nodes: list[LiveServer], pg_url: str
) -> None:
    # what a PostgreSQL restart or failover does to long-running nodes
    with ExitStack() as stack:
        clients = [stack.enter_context(SseClient(f"{n.url}/events?since=0")) for n in nodes]
        write = [sys.executable, "-c", WRITER, pg_url]
        done = subprocess.run([*write, "w1", "2", "5"], capture_output=True, timeout=WAIT)
        assert done.returncode == 0, done.stderr
        for client in clients:
            assert len(client.wait_for(10)) == 10
        with psycopg.connect(pg_url, autocommit=True) as admin:
            cut = admin.execute(
                "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchone()
        assert cut is not None
        assert cut[0] >= 4, "each node's store and listener connections"
        done = subprocess.run([*write, "w2", "2", "5"], capture_output=True, timeout=WAIT)
        assert done.returncode == 0, done.stderr
        assert_saw_exactly_the_log(clients, change_log(pg_url))
        for node in nodes:
            assert httpx.get(f"{node.url}/", timeout=WAIT).status_code == 200


@pytest.mark.timeout(60)
def test_sigterm_ends_open_streams_and_stops_quietly(tmp_path: Path) -> None:
    """``finews serve`` with event streams open: SIGTERM ends them at once, so the server
    stops within its 2 s grace, without cancelling anything or logging an error."""
    url = f"sqlite:///{tmp_path / 'f.db'}"
    with open_store(url):
        pass
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [*FINEWS, "--database-url", url, "serve", "--port", "0"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + WAIT
        while not (
            found := re.findall(r"Uvicorn running on (http://127\.0\.0\.1:\d+)", log.read_text())
        ):
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "finews serve did not start"
            time.sleep(0.05)
        with SseClient(f"{found[0]}/events") as first, SseClient(f"{found[0]}/events") as second:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=10)
        # both streams ended cleanly (no error in the client), and nothing was cancelled
        assert first.error is None
        assert second.error is None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log.read_text()
    assert "Traceback" not in text, text
    assert "ERROR" not in text, text
    assert "timeout graceful shutdown exceeded" not in text, text
