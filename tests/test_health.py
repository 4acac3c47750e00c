"""Health for people and monitoring: ``/healthz``, ``/readyz``, ``/status``, ``/api/status``
and ``/metrics`` in the live app (in process, both engines), and ``finews sources``' text."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from finews.derive import open_store
from finews.models import SourceSpec, SourceState
from finews.publish import health
from finews.publish.settings import SiteSettings
from finews.publish.web import create_app
from finews.sources_cli import source_line
from finews.store import Store
from finews.store.fulltext import FulltextJob, FulltextQueue
from finews.store.health import record_poll
from helpers import make_item
from site_data import TestClient

pytestmark = pytest.mark.timeout(60)

NOW = datetime.now(UTC).replace(microsecond=0)
SOURCES = [("em_fast", "东方财富 7x24 快讯"), ("idle", "空闲来源")]
ERROR = "[em_fast] HTTP 429 <script>alert(1)</script>"


def fill(store: Store) -> None:
    """em_fast: three items stored in the last day (two in the last hour, each 30 s after
    publication), four polls of which three failed, one full text waiting, one given up."""
    for minutes in (10, 50, 300):
        fetched = NOW - timedelta(minutes=minutes)
        store.upsert_items(
            [
                make_item(
                    source="em_fast",
                    published_at=fetched - timedelta(seconds=30),
                    fetched_at=fetched,
                )
            ]
        )
    store.save_state(
        SourceState(
            "em_fast",
            last_attempt=NOW - timedelta(seconds=5),
            last_success=NOW - timedelta(minutes=3),
            last_error=ERROR,
            consecutive_failures=3,
        )
    )
    for ok in (True, False, False, False):
        record_poll(
            store,
            "em_fast",
            ok=ok,
            new=3 if ok else 0,
            updated=0,
            elapsed=0.5,
            next_poll=NOW + timedelta(minutes=4),
            retry_after=None if ok else 120.0,
        )
    queue = FulltextQueue(store)
    queue.enqueue("em_fast", ["a", "b"], now=NOW - timedelta(minutes=1))
    queue.failed(FulltextJob("em_fast", "b", attempts=4), "HTTP 404", retry_at=None)


@pytest.fixture
def client(db_url: str) -> Iterator[TestClient]:
    with open_store(db_url) as store:
        fill(store)
    app = create_app(db_url, SiteSettings(), sources=SOURCES)
    # the lead mounts these in create_app; until then (or twice) the first match wins
    if not any(getattr(route, "path", None) == "/status" for route in app.router.routes):
        app.router.routes[:0] = health.routes
    with TestClient(app) as test_client:
        yield test_client


def test_liveness_and_readiness(client: TestClient, tmp_path: Path) -> None:
    alive = client.get("/healthz")
    assert (alive.status_code, alive.text) == (200, "ok\n")
    ready = client.get("/readyz")
    assert (ready.status_code, ready.text) == (200, "ready\n")
    # a database that stops answering makes the app unready, not dead
    site = client.app.state.site  # type: ignore[attr-defined]
    working, gone = site.store, open_store(f"sqlite:///{tmp_path / 'gone.db'}")
    gone.close()
    site.store = gone
    try:
        unready = client.get("/readyz")
        assert unready.status_code == 503
        assert "not ready" in unready.json()["error"]
        assert client.get("/healthz").status_code == 200
    finally:
        site.store = working


def test_api_status_shows_every_sources_health(client: TestClient) -> None:
    reply = client.get("/api/status")
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("application/json")
    body = reply.json()
    assert body["fulltext_queue"] == {"pending": 1, "failed": 1}
    by_id = {s["id"]: s for s in body["sources"]}
    assert set(by_id) == {"em_fast", "idle"}
    fast = by_id["em_fast"]
    assert fast["name"] == "东方财富 7x24 快讯"
    assert fast["in_backoff"] is True
    assert fast["consecutive_failures"] == 3
    assert fast["last_error"] == ERROR
    assert fast["retry_after"] == 120.0
    assert fast["next_poll"] == f"{NOW + timedelta(minutes=4):%Y-%m-%dT%H:%M:%SZ}"
    assert fast["last_success"] == f"{NOW - timedelta(minutes=3):%Y-%m-%dT%H:%M:%SZ}"
    assert (fast["items"], fast["items_last_hour"], fast["items_last_day"]) == (3, 2, 3)
    assert fast["median_delay_seconds"] == 30.0
    assert (fast["polls"], fast["poll_failures"]) == (4, 3)
    assert (fast["fulltext_pending"], fast["fulltext_failed"]) == (1, 1)
    idle = by_id["idle"]
    assert idle["last_attempt"] is None
    assert idle["in_backoff"] is False
    assert idle["items"] == 0
    assert idle["median_delay_seconds"] is None


def test_the_status_page_shows_backoff_and_escapes_errors(client: TestClient) -> None:
    page = client.get("/status")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    text = page.text
    assert "退避中" in text
    assert "连续失败 3 次" in text
    assert "尚未抓取" in text  # the idle source
    assert "<script>alert(1)" not in text
    assert html.escape(ERROR, quote=False) in text
    assert "2 / 3 条" in text  # items in the last hour / day
    assert "30 秒" in text  # the median delay


def test_metrics_report_what_the_database_knows(client: TestClient) -> None:
    reply = client.get("/metrics")
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/plain")
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(reply.text)
        for sample in family.samples
    }

    def value(name: str, **labels: str) -> float:
        return samples[(name, tuple(sorted(labels.items())))]

    assert value("finews_source_polls_total", source="em_fast") == 4
    assert value("finews_source_poll_errors_total", source="em_fast") == 3
    assert value("finews_source_items_stored_total", source="em_fast", kind="new") == 3
    assert value("finews_source_poll_duration_seconds_count", source="em_fast") == 4
    assert value("finews_source_poll_duration_seconds_sum", source="em_fast") == 2.0
    assert value("finews_source_in_backoff", source="em_fast") == 1
    assert value("finews_source_in_backoff", source="idle") == 0
    assert value("finews_source_items_recent", source="em_fast", window="1h") == 2
    assert value("finews_source_median_delay_seconds", source="em_fast") == 30
    assert value("finews_fulltext_queue_depth", state="pending") == 1
    assert value("finews_fulltext_queue_depth", state="failed") == 1
    # the web process's own
    assert value("process_resident_memory_bytes") > 0


def test_request_metrics_count_the_web_processs_requests() -> None:
    async def hello(request: Request) -> PlainTextResponse:
        return PlainTextResponse("hi")

    app = Starlette(
        routes=[Route("/hello", hello), *health.routes],
        middleware=[Middleware(health.RequestMetrics)],
    )
    registry = health.WEB_REGISTRY
    labels = {"method": "GET", "status": "200"}
    before = registry.get_sample_value("finews_web_requests_total", labels) or 0.0
    missing = registry.get_sample_value("finews_web_requests_total", {**labels, "status": "404"})
    with TestClient(app) as test_client:
        for _ in range(3):
            assert test_client.get("/hello").status_code == 200
        assert test_client.get("/nowhere").status_code == 404
        scraped = test_client.get("/healthz")
    assert scraped.status_code == 200
    assert registry.get_sample_value("finews_web_requests_total", labels) == before + 4
    after_404 = registry.get_sample_value("finews_web_requests_total", {**labels, "status": "404"})
    assert after_404 == (missing or 0.0) + 1


def test_finews_sources_text(store: Store) -> None:
    fill(store)
    spec = SourceSpec("em_fast", "eastmoney_fast", name="东方财富 7x24 快讯")
    line = source_line(store, spec, NOW)
    assert line.cells == (
        "on",
        "em_fast",
        "eastmoney_fast",
        "3",
        "BACKOFF after 3 failure(s)",
        "in 4 min",
        "3 min ago",
        "2",
        "3",
        "30 s",
        "东方财富 7x24 快讯",
    )
    assert "em_fast: full text: 1 waiting, 1 given up" in line.notes
    assert f"em_fast: last error: {ERROR}" in line.notes
    idle = source_line(store, SourceSpec("idle", "eastmoney_fast", enabled=False), NOW)
    assert idle.cells[:2] == ("off", "idle")
    assert (idle.cells[4], idle.cells[5], idle.cells[6], idle.cells[9]) == (
        "never polled",
        "-",
        "never",
        "-",
    )


def test_the_queue_hands_out_due_jobs_oldest_first_and_skips_those_in_hand(store: Store) -> None:
    queue = FulltextQueue(store)
    queue.enqueue("s", ["1", "2"], now=NOW - timedelta(minutes=2))
    queue.enqueue("s", ["3"], now=NOW - timedelta(minutes=1))
    queue.enqueue("s", ["1"], now=NOW)  # already queued: keeps its place
    queue.enqueue("other", ["9"], now=NOW - timedelta(hours=1))
    queue.failed(FulltextJob("s", "2"), "HTTP 500", retry_at=NOW + timedelta(hours=1))
    jobs = queue.due(["s"], limit=5, now=NOW)
    assert [j.upstream_id for j in jobs] == ["1", "3"]
    assert queue.due(["s"], limit=5, exclude={("s", "1")}, now=NOW)[0].upstream_id == "3"
    assert queue.due(["s"], limit=1, now=NOW)[0].upstream_id == "1"
    later = queue.due(["s"], limit=5, now=NOW + timedelta(hours=2))
    retried = next(j for j in later if j.upstream_id == "2")
    assert (retried.attempts, retried.last_error) == (1, "HTTP 500")


def test_the_status_page_is_a_dashboard_with_enabled_sources_first(db_url: str) -> None:
    with open_store(db_url) as store:
        fill(store)
    sources = [("a_off", "停用的来源"), *SOURCES]
    app = create_app(db_url, SiteSettings(), sources=sources, disabled=["a_off"])
    with TestClient(app) as client:
        page = client.get("/status").text
        body = client.get("/api/status").json()
    rows = re.findall(r'<tr class="source-row (\w+)" id="source-(\w+)">', page)
    # one row per source; the switched-off one last (its id sorts first), said so in words
    assert rows == [("bad", "em_fast"), ("idle", "idle"), ("off", "a_off")]
    off_row = page.split('id="source-a_off"')[1].split("</tr>")[0]
    assert "已停用" in off_row
    assert "尚未抓取" not in off_row
    assert {s["id"]: s["enabled"] for s in body["sources"]} == {
        "em_fast": True,
        "idle": True,
        "a_off": False,
    }
    fast_row = page.split('id="source-em_fast"')[1].split("</tr>")[0]
    assert "2 / 3 条" in fast_row  # items in the last hour / day
    assert "30 秒" in fast_row  # the median delay


def test_the_demos_live_polls_are_kept_as_the_daemon_keeps_them(tmp_path: Path) -> None:
    """The demo's status page shows its polls and the next one, not 0 and 未排定."""
    import threading
    import time

    from finews.demo.live import LiveFeed
    from finews.demo.replay import ReplayServer, demo_routes
    from finews.demo.run import demo_config, keep_publishing
    from finews.store.health import source_health

    live = LiveFeed()
    stop = threading.Event()
    with ReplayServer(demo_routes(live=live.items)) as upstream:
        config = demo_config(upstream.url, tmp_path)
        worker = threading.Thread(
            target=keep_publishing, args=(config, live, stop, 0.1, lambda _line: None)
        )
        worker.start()
        try:
            deadline = time.monotonic() + 20
            with open_store(config.database_url) as store:
                while source_health(store, "em_fast").stats.polls < 2:
                    assert time.monotonic() < deadline, "the demo did not poll twice"
                    time.sleep(0.05)
        finally:
            stop.set()
            worker.join(20)
        with open_store(config.database_url) as store:
            health = source_health(store, "em_fast")
    assert health.stats.failures == 0
    assert health.state.last_success is not None
    assert health.state.next_poll is not None
    assert health.state.next_poll >= health.state.last_success  # (stored to the second)
