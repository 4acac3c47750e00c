"""No secret leaks (issue 19, point 10): a source URL with ``user:password@`` and a
``?token=`` that fails on a loopback upstream, and a database URL with a password, are
shown everywhere with their secrets masked: pages, the JSON API, ``/metrics``, logs,
``finews fetch``, ``finews sources``, ``finews config``."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from finews.cli import cli
from finews.config import load_config
from finews.daemon.metrics import DaemonMetrics
from finews.daemon.runner import Daemon, DaemonSettings
from finews.demo.replay import ReplayServer, Reply, Route
from finews.derive import open_store
from finews.fetch.client import HttpClient, HttpSettings
from finews.logs import setup_logging
from finews.publish import health
from finews.publish.settings import SiteSettings
from finews.publish.web import create_app
from finews.redact import MASK, redact
from finews.refresh import SourceReport, refresh_source
from finews.store.sql import SqlStore
from site_data import TestClient

pytestmark = pytest.mark.timeout(60)

PASSWORD = "S3cretPassw0rd"
TOKEN = "T0kenValue42"
API_KEY = "AK-998877"
SECRETS = (PASSWORD, TOKEN, API_KEY)


def assert_clean(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret} shown in {where}:\n{text}"


@pytest.fixture
def upstream() -> Iterator[ReplayServer]:
    """A feed upstream that always fails (HTTP 500)."""
    with ReplayServer([Route("/feed.xml", Reply(status=500, body=b"down"))]) as server:
        yield server


def feed_url(upstream: ReplayServer) -> str:
    host = upstream.url.removeprefix("http://")
    return f"http://bob:{PASSWORD}@{host}/feed.xml?token={TOKEN}&api_key={API_KEY}&page=1"


def write_config(tmp_path: Path, upstream: ReplayServer, db_url: str = "") -> Path:
    path = tmp_path / "finews.toml"
    database = db_url or f"sqlite:///{tmp_path / 'x.db'}"
    path.write_text(
        f'database_url = "{database}"\n'
        "[http]\nretries = 1\nbackoff = 0\n"
        "[sources.em_fast]\nenabled = false\n"
        f'[sources.leaky]\nadapter = "feed"\nurl = "{feed_url(upstream)}"\n'
        "allow_private = true\ninterval = 1\n",
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("http://bob:pw@h:8/f?token=t&page=2", f"http://bob:{MASK}@h:8/f?token={MASK}&page=2"),
        ("postgresql://u:p@ss@db/x", f"postgresql://u:{MASK}@db/x"),
        ("host=db password=hunter2 user=x", f"host=db password={MASK} user=x"),
        ("https://h/?X-Api-Key=1&appSecret=2;sid=3#access_token=4", None),
        ("https://h/?Sign=1&ACCESS_KEY=2&appkey=3&Signature=4&ticket=5&pwd=6", None),
        ("https://h/?session=1&auth=2&passwd=3&secret=4&key=5&accessKey=6", None),
        ("https://h/?page=2&column=350&code=202609", "https://h/?page=2&column=350&code=202609"),
        ("sqlite:///data/finews.db", "sqlite:///data/finews.db"),
        ("https://bob@host/x", "https://bob@host/x"),
    ],
)
def test_redact_masks_passwords_and_secret_values_only(text: str, expected: str | None) -> None:
    shown = redact(text)
    if expected is not None:
        assert shown == expected
    else:  # every value was secret
        assert shown.count(f"={MASK}") == text.count("="), shown
    assert redact(shown) == shown  # redacting twice changes nothing


def test_a_failing_source_shows_no_secret_anywhere(
    tmp_path: Path, upstream: ReplayServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_path = write_config(tmp_path, upstream)
    runner = CliRunner()
    # verbose: the poll's log line too (a plain fetch prints each failure once, not logged)
    fetched = runner.invoke(cli, ["--config", str(config_path), "-v", "fetch"])
    # the source really failed, and the error names its (masked) URL
    assert fetched.exit_code == 1, fetched.output
    assert f"bob:{MASK}@127.0.0.1" in fetched.output
    assert f"token={MASK}" in fetched.output
    assert "status=error" in fetched.output  # the poll's log line, on standard error
    assert_clean(fetched.output, "finews fetch")
    assert upstream.requests  # the real URL was asked for: the secret reached the upstream
    assert upstream.requests[0].query["token"] == TOKEN

    listed = runner.invoke(cli, ["--config", str(config_path), "sources"])
    assert listed.exit_code == 0, listed.output
    assert "last error: [leaky] HTTP 500" in listed.output
    assert_clean(listed.output, "finews sources")

    shown = runner.invoke(cli, ["--config", str(config_path), "config"])
    assert shown.exit_code == 0, shown.output
    assert f'url = "http://bob:{MASK}@' in shown.output
    assert_clean(shown.output, "finews config")

    config = load_config(config_path, env={})
    app = create_app(config.database_url, SiteSettings(), sources=config.source_names())
    if not any(getattr(route, "path", None) == "/status" for route in app.router.routes):
        app.router.routes[:0] = health.routes
    with TestClient(app) as client:
        for path in ("/status", "/api/status", "/api/sources", "/metrics"):
            reply = client.get(path)
            assert reply.status_code == 200, path
            assert_clean(reply.text, path)
        status = {s["id"]: s for s in client.get("/api/status").json()["sources"]}
        assert "HTTP 500" in status["leaky"]["last_error"]
        assert MASK in status["leaky"]["last_error"]
        assert "HTTP 500" in client.get("/status").text


def test_an_error_stored_before_redaction_is_shown_redacted(
    tmp_path: Path, upstream: ReplayServer, db_url: str
) -> None:
    config_path = write_config(tmp_path, upstream, db_url)
    config = load_config(config_path, env={})
    old = f"[leaky] HTTP 500 ({feed_url(upstream)})"
    with open_store(config.database_url) as store:
        assert isinstance(store, SqlStore)
        with store.transaction() as tx:  # as an older finews wrote it
            tx.execute(
                "INSERT INTO source_state (source, last_error, consecutive_failures) "
                "VALUES (?, ?, 1)",
                ("leaky", old),
            )
    app = create_app(config.database_url, SiteSettings(), sources=config.source_names())
    if not any(getattr(route, "path", None) == "/status" for route in app.router.routes):
        app.router.routes[:0] = health.routes
    with TestClient(app) as client:
        sources = {s["id"]: s for s in client.get("/api/sources").json()["sources"]}
        assert sources["leaky"]["state"]["last_error"] == redact(old)
        for path in ("/status", "/api/status", "/api/sources"):
            assert_clean(client.get(path).text, path)
    listed = CliRunner().invoke(cli, ["--config", str(config_path), "sources"])
    assert "last error:" in listed.output
    assert_clean(listed.output, "finews sources")


def test_the_poll_logs_carry_no_secret(
    tmp_path: Path,
    upstream: ReplayServer,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # an earlier CLI run may have set finews's own handler up; let records reach caplog
    monkeypatch.setattr(logging.getLogger("finews"), "propagate", True)
    config = load_config(write_config(tmp_path, upstream), env={})

    async def poll() -> None:
        async with HttpClient(HttpSettings(**config.section("http"))) as client:
            with open_store(config.database_url) as store:
                report = await refresh_source(config.source("leaky"), store, client)
        assert report.error is not None
        assert "HTTP 500" in report.error

    with caplog.at_level(logging.DEBUG):
        asyncio.run(poll())
    assert "status=error" in caplog.text
    assert_clean(caplog.text, "the logs")
    assert all(
        not any(secret in str(value) for secret in SECRETS)
        for record in caplog.records
        for value in vars(record).values()
    )


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_the_log_filter_masks_what_any_finews_logger_writes(
    fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    logger = logging.getLogger("finews.somewhere.deep")
    setup_logging("info", fmt)
    try:
        raise ValueError(f"cannot reach https://u:{PASSWORD}@h/?token={TOKEN}")
    except ValueError:
        logger.exception(
            "fetching %s failed", f"https://h/f?api_key={API_KEY}", extra={"url": f"?sign={TOKEN}"}
        )
    written = capsys.readouterr().err
    assert "fetching https://h/f?api_key=***" in written
    assert "ValueError: cannot reach" in written
    assert_clean(written, f"{fmt} logs")
    if fmt == "json":
        entry = json.loads(written.strip().splitlines()[-1])
        assert entry["url"] == "?sign=***"


def test_finews_config_hides_the_database_password(tmp_path: Path) -> None:
    url = f"postgresql://finews:{PASSWORD}@127.0.0.1:5432/finews?sslmode=disable"
    result = CliRunner().invoke(
        cli, ["--config", str(tmp_path / "none.toml"), "config"], env={"FINEWS_DATABASE_URL": url}
    )
    assert "no such file" in result.output  # the named file is missing: an error, no leak
    result = CliRunner().invoke(cli, ["config"], env={"FINEWS_DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    assert f'database_url = "postgresql://finews:{MASK}@127.0.0.1:5432/finews' in result.output
    assert f"# database: postgresql://finews:{MASK}@" in result.output
    assert_clean(result.output, "finews config")
    # a wrong value is quoted in the error message: masked there too
    bad = CliRunner().invoke(cli, ["--set", f"http.timeout=https://x/?token={TOKEN}", "config"])
    assert bad.exit_code == 2
    assert "http.timeout" in bad.output
    assert_clean(bad.output, "a configuration error")


def test_the_daemon_keeps_and_serves_no_secret(
    tmp_path: Path,
    upstream: ReplayServer,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`finews run`: the failing poll's state, its log lines and the daemon's own metrics."""
    monkeypatch.setattr(logging.getLogger("finews"), "propagate", True)
    config = load_config(write_config(tmp_path, upstream), env={})
    metrics = DaemonMetrics()
    metrics.serve(0)  # any free port

    async def scenario() -> str:
        stop = asyncio.Event()
        polls: list[SourceReport] = []
        with open_store(config.database_url) as store:
            daemon = Daemon(
                [config.source("leaky")],
                store,
                DaemonSettings(host_spacing=0, stop_grace=1),
                HttpSettings(timeout=2, retries=0),
                metrics=metrics,
                on_poll=polls.append,
            )
            task = asyncio.create_task(daemon.run(stop))
            while not polls:
                await asyncio.sleep(0.05)
            async with httpx.AsyncClient() as client:
                reply = await client.get(f"http://127.0.0.1:{metrics.port}/metrics")
            stop.set()
            await asyncio.wait_for(task, timeout=10)
            state = store.get_state("leaky")
        assert polls[0].error is not None
        assert "HTTP 500" in polls[0].error
        assert state.last_error is not None
        assert f"token={MASK}" in state.last_error
        return reply.text

    try:
        with caplog.at_level(logging.INFO, logger="finews"):
            text = asyncio.run(scenario())
    finally:
        metrics.close()
    assert 'finews_daemon_polls_total{source="leaky",status="error"}' in text
    assert_clean(text, "the daemon's /metrics")
    assert "in backoff" in caplog.text
    assert_clean(caplog.text, "the daemon's logs")


_SECRET_NAMES = st.sampled_from(
    [
        "key", "token", "secret", "password", "passwd", "pwd", "sign", "signature", "sig",
        "access_key", "accesskey", "appkey", "app_key", "api_key", "apikey", "auth", "session",
        "sid", "ticket", "access_token", "client_secret", "x-api-key", "jsessionid",
    ]
)  # fmt: skip
_CASES = st.sampled_from([str.lower, str.upper, str.title])
# a value that cannot occur by chance elsewhere in the URL
_VALUES = st.text(
    alphabet=st.characters(
        codec="utf-8", categories=("L", "N"), exclude_characters="#&;=?/@ \t\r\n"
    ),
    min_size=1,
    max_size=20,
).map(lambda text: "Zq9" + text)


@settings(max_examples=300, deadline=None)
@given(
    name=_SECRET_NAMES,
    case=_CASES,
    value=_VALUES,
    password=_VALUES,
    before=st.booleans(),
)
def test_no_generated_secret_survives_redaction(
    name: str, case: Any, value: str, password: str, before: bool
) -> None:
    pair = f"{case(name)}={value}"
    query = f"{pair}&page=2" if before else f"page=2&{pair}"
    url = f"https://reader:{password}@feeds.example.org/rss?{query}"
    for text in (url, f"[src] HTTP 500 ({url})", f"error={url!r}"):
        shown = redact(text)
        assert value not in shown
        assert password not in shown
        assert "page=2" in shown  # nothing but the secrets is lost
        assert "reader:***@feeds.example.org" in shown
        assert redact(shown) == shown
