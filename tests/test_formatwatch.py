"""Noticing a changed upstream: a real loopback upstream whose reply changes shape between
polls, the real client, a real store; then ``finews sources``, ``/status`` and ``/metrics``."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from finews.cli import cli
from finews.config import load_config
from finews.daemon.metrics import DaemonMetrics
from finews.daemon.runner import Daemon, DaemonSettings
from finews.demo.replay import Received, ReplayServer, Reply, Route
from finews.derive import open_store
from finews.fetch.client import HttpClient, HttpSettings
from finews.formatwatch import ALARM, SAMPLE_CAP, SAMPLES_KEPT
from finews.models import SourceSpec
from finews.publish.settings import SiteSettings
from finews.publish.web import create_app
from finews.refresh import SourceReport, refresh_all, refresh_source
from finews.sources_cli import source_line
from finews.store import Store
from finews.store.formats import FormatState, load_format, save_format
from site_data import TestClient
from upstreams import FAST_PATH, FastNewsFeed

pytestmark = pytest.mark.timeout(60)

SETTINGS = HttpSettings(timeout=2.0, retries=0, backoff=0.01)
START = datetime(2026, 9, 1, 1, 0, tzinfo=UTC)


class Upstream:
    """East Money 7x24 that a test can switch to another shape between polls."""

    def __init__(self) -> None:
        self.feed = FastNewsFeed(page_size=20)
        self.feed.publish(5)
        self.shape: Callable[[Received], Reply] = self.feed.handle

    def route(self) -> Route:
        return Route(FAST_PATH, lambda received: self.shape(received))


def envelope(items: list[dict[str, Any]]) -> Reply:
    return Reply.json(
        {"code": "1", "message": "success", "data": {"sortEnd": "", "fastNewsList": items}}
    )


def spec_for(url: str) -> SourceSpec:
    settings = {"url": url + FAST_PATH, "fallback_urls": [], "fulltext": False, "max_pages": 3}
    return SourceSpec(id="em_fast", adapter="eastmoney_fast", name="快讯", settings=settings)


class Poller:
    """Polls one source into one database; each poll a minute after the last."""

    def __init__(self, url: str, tmp_path: Path) -> None:
        self.spec = spec_for(url)
        self.db = f"sqlite:///{tmp_path / 'f.db'}"
        self.samples = tmp_path / "data" / "upstream-samples"
        self.moment = START

    def __call__(self) -> SourceReport:
        self.moment += timedelta(minutes=1)
        moment = self.moment

        async def run() -> SourceReport:
            async with HttpClient(SETTINGS) as client:
                with open_store(self.db) as store:
                    return await refresh_source(
                        self.spec, store, client, now=lambda: moment, samples=self.samples
                    )

        return asyncio.run(run())

    def alarm(self) -> str | None:
        with open_store(self.db) as store:
            return load_format(store, "em_fast").alarm

    def kept(self) -> list[Path]:
        return sorted((self.samples / "em_fast").glob("*.txt"))


def alarm_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "finews.formatwatch"]


def test_an_empty_newest_page_after_items_raises_the_alarm_once_and_recovery_clears_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="finews.formatwatch")
    upstream = Upstream()
    with ReplayServer([upstream.route()]) as server:
        poll = Poller(server.url, tmp_path)
        assert poll().new == 5
        assert poll.alarm() is None
        upstream.shape = lambda _received: envelope([])
        first, second = poll(), poll()
        alarm = poll.alarm()
        logged_while_down = alarm_lines(caplog)
        upstream.shape = upstream.feed.handle
        upstream.feed.publish(2)
        back = poll()
    # the polls themselves succeed (nothing is lost); the alarm says what looks wrong
    assert (first.error, second.error) == (None, None)
    assert (first.format_errors, second.format_errors) == (1, 1)
    assert alarm is not None
    assert alarm.startswith(ALARM)
    assert "newest page holds no items" in alarm
    assert len(logged_while_down) == 1  # once per change, not per poll
    assert "em_fast" in logged_while_down[0]
    assert "finews sources probe" in logged_while_down[0]
    assert (back.new, back.format_errors) == (2, 0)
    assert poll.alarm() is None
    recovered = alarm_lines(caplog)[1:]
    assert len(recovered) == 1
    assert "looks right again" in recovered[0]
    with open_store(poll.db) as store:
        assert load_format(store, "em_fast").errors == 2
    assert len(poll.kept()) == 2


def test_an_empty_list_from_a_source_that_never_had_items_is_no_alarm(tmp_path: Path) -> None:
    upstream = Upstream()
    upstream.shape = lambda _received: envelope([])
    with ReplayServer([upstream.route()]) as server:
        poll = Poller(server.url, tmp_path)
        report = poll()
    assert (report.error, report.format_errors) == (None, 0)
    assert poll.alarm() is None
    assert poll.kept() == []


def test_items_lacking_a_needed_field_raise_the_alarm(tmp_path: Path) -> None:
    upstream = Upstream()
    # renamed upstream fields: ids still come, but no title, summary or time
    renamed = [{"code": f"20260901{n:06d}", "headline": "新字段名", "ts": 1} for n in range(3)]
    upstream.shape = lambda _received: envelope(renamed)
    with ReplayServer([upstream.route()]) as server:
        poll = Poller(server.url, tmp_path)
        report = poll()
    alarm = poll.alarm()
    assert report.format_errors == 1
    assert alarm is not None
    assert alarm.startswith(ALARM)
    assert "title|summary, published" in alarm


def test_a_reply_that_does_not_parse_raises_the_alarm_with_a_redacted_capped_sample(
    tmp_path: Path,
) -> None:
    upstream = Upstream()
    body = "<html>请验证 token=SECRET123 " + "填充" * 60_000 + "</html>"
    upstream.shape = lambda _received: Reply(
        body=body.encode(), headers={"Content-Type": "text/html"}
    )
    with ReplayServer([upstream.route()]) as server:
        poll = Poller(server.url, tmp_path)
        report = poll()
        for _ in range(SAMPLES_KEPT + 2):
            poll()
    alarm = poll.alarm()
    assert report.error is not None
    assert report.format_errors == 1
    assert alarm is not None
    assert "did not parse" in alarm
    kept = poll.kept()
    assert len(kept) == SAMPLES_KEPT  # bounded: the newest stay
    sample = kept[-1].read_bytes()
    assert len(body.encode()) > SAMPLE_CAP >= len(sample)
    text = sample.decode("utf-8")  # cut on a character, not inside one
    assert "SECRET123" not in text
    assert "token=***" in text
    assert text.startswith("<html>请验证")
    assert not list((poll.samples / "em_fast").glob(".sample-*"))  # no temporary file left


def test_sources_status_and_metrics_show_the_alarm(tmp_path: Path) -> None:
    upstream = Upstream()
    with ReplayServer([upstream.route()]) as server:
        poll = Poller(server.url, tmp_path)
        poll()
        upstream.shape = lambda _received: envelope([])
        poll()
        poll()
    with open_store(poll.db) as store:
        text = "\n".join(source_line(store, poll.spec, poll.moment).notes)
    assert f"em_fast: {ALARM} the newest page holds no items" in text
    assert "finews sources probe em_fast" in text
    app = create_app(poll.db, SiteSettings(), sources=[("em_fast", "快讯")])
    with TestClient(app) as client:
        page = client.get("/status").text
        metrics = client.get("/metrics").text
        api = client.get("/api/status").json()
    assert "上游格式可能已变" in page
    (shown,) = api["sources"]
    assert shown["format_alarm"].startswith(f"{ALARM} the newest page holds no items")
    assert shown["format_errors"] == 2
    assert ALARM in page
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(metrics)
        for s in family.samples
    }
    assert samples[("finews_source_format_errors_total", (("source", "em_fast"),))] == 2
    assert samples[("finews_source_format_alarm", (("source", "em_fast"),))] == 1


def test_finews_sources_prints_the_alarm(tmp_path: Path) -> None:
    upstream = Upstream()
    upstream.shape = lambda _received: Reply(body=b"not json")
    config = tmp_path / "finews.toml"
    runner = CliRunner()
    with ReplayServer([upstream.route()]) as server:
        config.write_text(
            f'data_dir = "{tmp_path}/data"\n'
            "[http]\ntimeout = 2\nretries = 0\n"
            f'[sources.em_fast]\nurl = "{server.url}{FAST_PATH}"\nfallback_urls = []\n',
            encoding="utf-8",
        )
        fetched = runner.invoke(cli, ["--config", str(config), "fetch"])
    assert fetched.exit_code == 1, fetched.output
    assert "upstream format changed? (see finews sources)" in fetched.stdout
    shown = runner.invoke(cli, ["--config", str(config), "sources"])
    assert shown.exit_code == 0, shown.output
    assert f"{ALARM} the reply did not parse" in shown.stdout
    assert str(tmp_path / "data" / "upstream-samples" / "em_fast") in shown.stdout


async def _until(check: Callable[[], bool], what: str) -> None:
    """Wait until ``check()`` holds; fail naming ``what`` after 30 s."""
    for _ in range(600):
        if check():
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"gave up waiting for {what}")


def test_the_daemon_counts_format_errors_and_a_broken_source_costs_the_others_nothing(
    tmp_path: Path,
) -> None:
    good = Upstream()
    broken_path = "/broken" + FAST_PATH
    routes = [good.route(), Route(broken_path, Reply(body=b"<html>changed</html>"))]
    metrics = DaemonMetrics()

    async def scenario(base: str) -> list[SourceReport]:
        stop = asyncio.Event()
        polls: list[SourceReport] = []
        broken = SourceSpec(
            id="em_broken",
            adapter="eastmoney_fast",
            name="坏的",
            settings={**spec_for(base).settings, "url": base + broken_path, "interval": 0.2},
        )
        fast = SourceSpec(
            id="em_fast",
            adapter="eastmoney_fast",
            name="快讯",
            settings={**spec_for(base).settings, "interval": 0.2},
        )
        with open_store(f"sqlite:///{tmp_path / 'd.db'}") as store:
            daemon = Daemon(
                [fast, broken],
                store,
                DaemonSettings(host_spacing=0, stop_grace=1),
                HttpSettings(timeout=2, retries=0),
                metrics=metrics,
                on_poll=polls.append,
                samples=tmp_path / "samples",
            )
            task = asyncio.create_task(daemon.run(stop))
            await _until(
                lambda: {p.source for p in polls} == {"em_fast", "em_broken"}, "both polled"
            )
            stop.set()
            await asyncio.wait_for(task, timeout=10)
        return polls

    with ReplayServer(routes) as upstream:
        polls = asyncio.run(scenario(upstream.url))
    fast = next(p for p in polls if p.source == "em_fast")
    assert (fast.error, fast.new, fast.format_errors) == (None, 5, 0)
    count = metrics.registry.get_sample_value
    assert count("finews_source_format_errors_total", {"source": "em_broken"}) >= 1
    assert count("finews_source_format_errors_total", {"source": "em_fast"}) == 0
    assert list((tmp_path / "samples" / "em_broken").glob("*.txt"))


def probe_config(tmp_path: Path, url: str) -> Path:
    config = tmp_path / "finews.toml"
    config.write_text(
        f'data_dir = "{tmp_path}/data"\n'
        "[http]\ntimeout = 2\nretries = 0\n"
        f'[sources.em_fast]\nenabled = false\nurl = "{url}{FAST_PATH}"\nfallback_urls = []\n',
        encoding="utf-8",
    )
    return config


def test_probe_prints_what_was_parsed_and_saves_the_raw_reply(tmp_path: Path) -> None:
    feed = FastNewsFeed(page_size=3)
    codes = feed.publish(4)
    reply = feed.handle(Received(FAST_PATH, {}, {}))
    runner = CliRunner()
    with ReplayServer([Route(FAST_PATH, reply)]) as server:
        config = probe_config(tmp_path, server.url)
        result = runner.invoke(
            cli,
            [
                "--config",
                str(config),
                "sources",
                "probe",
                "em_fast",
                "--save",
                str(tmp_path / "fx"),
            ],
        )
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"GET {server.url}{FAST_PATH}?" in out
    assert "items: 3, dropped: 0" in out
    for code in codes[::-1][:3]:
        assert f"  {code}: found title|summary, published" in out
    assert "MISSING" not in out
    last = json.loads(reply.body)["data"]["sortEnd"]
    assert f"paging: next request (older items): {server.url}{FAST_PATH}?" in out
    assert f"sortEnd={last}" in out
    assert "looks as eastmoney_fast expects" in out
    saved = list((tmp_path / "fx").glob("em_fast-*.json"))
    assert len(saved) == 1
    assert saved[0].read_bytes() == reply.body  # byte for byte: a fixture
    assert not (tmp_path / "data").exists()  # a probe stores nothing, opens no archive


def test_probe_names_missing_fields_and_exits_1(tmp_path: Path) -> None:
    renamed = [{"code": "20260901000001", "headline": "新字段名"}]
    runner = CliRunner()
    with ReplayServer([Route(FAST_PATH, envelope(renamed))]) as server:
        result = runner.invoke(
            cli,
            ["--config", str(probe_config(tmp_path, server.url)), "sources", "probe", "em_fast"],
        )
    assert result.exit_code == 1
    assert "  20260901000001: found -; MISSING title|summary, published" in result.stdout
    assert "upstream format changed? no item of the page has title|summary, published" in (
        result.stdout
    )


def test_a_failing_default_source_costs_the_other_defaults_nothing(tmp_path: Path) -> None:
    feed = FastNewsFeed()
    feed.publish(4)
    # every other source on by default answers with a page that is not its format
    moved = Reply(status=200, body=b"<html>moved</html>")
    others = ("sina_zhibo", "ths", "wallstreetcn", "jin10")
    routes = [feed.route(), *(Route(f"/{sid}/moved", moved) for sid in others)]
    with ReplayServer(routes) as upstream:
        config = load_config(
            env={},  # the real defaults: every source on by default is polled
            read_file=False,
            overrides={"database_url": f"sqlite:///{tmp_path / 'd.db'}", "http.retries": "0"},
            source_overrides={
                "em_fast": {"url": upstream.url + FAST_PATH, "fallback_urls": []},
                **{sid: {"url": f"{upstream.url}/{sid}/moved"} for sid in others},
                "jin10": {"url": f"{upstream.url}/jin10/moved", "fallback_urls": []},
            },
        )
        specs = config.enabled_sources()
        assert [s.id for s in specs] == ["em_fast", *others]

        async def run() -> list[SourceReport]:
            async with HttpClient(SETTINGS) as client:
                with open_store(config.database_url) as store:
                    return await refresh_all(specs, store, client)

        fast, *failing = asyncio.run(run())
    assert (fast.error, fast.new) == (None, 4)
    assert [(r.source, r.error is not None, r.format_errors) for r in failing] == [
        (sid, True, 1) for sid in others
    ]
    with open_store(config.database_url) as store:
        assert store.count_items("em_fast") == 4
        assert load_format(store, "em_fast").alarm is None
        for sid in others:
            assert "did not parse" in (load_format(store, sid).alarm or ""), sid


def test_the_format_watch_is_kept_on_both_engines(store: Store) -> None:
    moment = START.replace(microsecond=0)
    state = FormatState(
        "em_fast",
        alarm=f"{ALARM} the reply did not parse",
        since=moment,
        errors=3,
        had_items=True,
        sample="data/upstream-samples/em_fast/x.txt",
    )
    assert load_format(store, "em_fast") == FormatState("em_fast")
    save_format(store, state)
    assert load_format(store, "em_fast") == state
    save_format(store, FormatState("em_fast", errors=3, had_items=True))
    assert load_format(store, "em_fast").alarm is None
