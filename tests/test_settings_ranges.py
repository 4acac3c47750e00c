"""Settings that used to pass and break later (issue 19, point 11): every bad value stops
the real command at start-up with one line, exit code 2 and no traceback, whether it came
from the settings file, a ``FINEWS_*`` variable or ``--set``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from finews.cli import cli
from finews.config import SETTINGS, SOURCE_SETTINGS, allowed_values
from finews.demo.replay import ReplayServer, Reply, Route
from finews.sources import adapters

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(autouse=True)
def _here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test in its own folder, with no finews setting from the environment."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("FINEWS_"):
            monkeypatch.delenv(name)


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env)


def assert_stopped(result: Result, key: str, fragment: str) -> None:
    """Exit code 2 and one line naming the setting, no traceback."""
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2, result.output
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), repr(result.exception)
    assert len(lines) == 1, result.output
    assert lines[0].startswith(f"finews: error: setting {key} = "), lines[0]
    assert fragment in lines[0], lines[0]
    assert "Traceback" not in result.output


# (dotted key, text for FINEWS_* and --set, the same in TOML, what the message says)
GLOBAL_CASES = [
    ("serve.port", "99999", "99999", "<= 65535"),
    ("daemon.metrics_port", "70000", "70000", "<= 65535"),
    ("daemon.jitter", "5", "5", "<= 0.9"),
    ("site.page_size", "-1", "-1", ">= 1"),
    ("http.timeout", "inf", "inf", "<= 3600"),
    ("http.timeout", "nan", "nan", "expected a number"),
    ("http.backoff", "-inf", "-inf", "expected a number"),
    ("http.user_agent", "浏览器", '"浏览器"', "printable ASCII"),
    ("http.user_agent", "a\r\nX-Evil: 1", '"a\\r\\nX-Evil: 1"', "printable ASCII"),
    ("serve.host", "not a host", '"not a host"', "a host name or IP address"),
    ("site.title", "\udcff", '"a\\u0000b"', "UTF-8 text without NUL characters"),
]


def toml_for(key: str, value: str) -> str:
    head, _, name = key.rpartition(".")
    return (f"[{head}]\n" if head else "") + f"{name} = {value}\n"


@pytest.mark.parametrize(("key", "text", "toml", "fragment"), GLOBAL_CASES)
@pytest.mark.parametrize("form", ["file", "env", "set"])
def test_a_bad_global_setting_stops_at_start_up(
    tmp_path: Path, form: str, key: str, text: str, toml: str, fragment: str
) -> None:
    command = "serve" if key == "serve.port" else "config"
    if form == "file":
        path = tmp_path / "finews.toml"
        path.write_text(toml_for(key, toml), encoding="utf-8")
        result = invoke("--config", str(path), command)
    elif form == "env":
        result = invoke(command, env={"FINEWS_" + key.upper().replace(".", "_"): text})
    else:
        result = invoke("--set", f"{key}={text}", command)
    assert_stopped(result, key, fragment)
    assert not (tmp_path / "data").exists()  # stopped before opening any database


@pytest.mark.parametrize(
    ("setting", "text", "toml", "fragment"),
    [
        ("interval", "inf", "inf", "<= 604800"),
        ("interval", "nan", "nan", "expected a number"),
        ("interval", "0", "0", ">= 1"),
        ("page_size", "-1", "-1", ">= 1"),
        ("max_pages", "0", "0", ">= 1"),
        ("url", "ftp://example.org/x", '"ftp://example.org/x"', "an http:// or https:// URL"),
        ("referer", "https://例子.cn/", '"https://例子.cn/"', "printable ASCII"),
        ("fallback_urls", "file:///etc/passwd", '["file:///etc/passwd"]', "http:// or https://"),
    ],
)
@pytest.mark.parametrize("form", ["file", "env"])
def test_a_bad_source_setting_stops_at_start_up(
    tmp_path: Path, form: str, setting: str, text: str, toml: str, fragment: str
) -> None:
    if form == "file":
        path = tmp_path / "finews.toml"
        path.write_text(f"[sources.em_fast]\n{setting} = {toml}\n", encoding="utf-8")
        result = invoke("--config", str(path), "sources")
    else:
        result = invoke("sources", env={f"FINEWS_SOURCE_EM_FAST_{setting.upper()}": text})
    assert_stopped(result, f"sources.em_fast.{setting}", fragment)


def test_a_header_finews_cannot_send_is_refused_before_any_request(tmp_path: Path) -> None:
    """`http.user_agent = "浏览器"` used to fail inside the fetch; now nothing is sent."""
    feed = {"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": []}
    route = Route("/feed.json", Reply.json(feed))
    with ReplayServer([route]) as upstream:
        path = tmp_path / "finews.toml"
        path.write_text(
            f'database_url = "sqlite:///{tmp_path / "x.db"}"\n'
            "[sources.em_fast]\nenabled = false\n"
            f'[sources.mine]\nadapter = "feed"\nurl = "{upstream.url}/feed.json"\n'
            "allow_private = true\n",
            encoding="utf-8",
        )
        refused = invoke("--config", str(path), "--set", "http.user_agent=浏览器", "fetch")
        assert_stopped(refused, "http.user_agent", "printable ASCII")
        assert upstream.requests == []
        # the same fetch with an ASCII agent reaches the upstream, with that header
        fine = invoke("--config", str(path), "--set", "http.user_agent=finews-test/1", "fetch")
        assert fine.exit_code == 0, fine.output
        assert upstream.requests[0].headers["user-agent"] == "finews-test/1"


def test_a_settings_file_that_is_not_utf8_is_named_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "finews.toml"
    path.write_bytes('[site]\ntitle = "金融"\n'.encode("gbk"))
    result = invoke("--config", str(path), "config")
    assert_stopped(result, "(file)", "not UTF-8 text (byte 0xbd on line 2); save the file as UTF-8")
    # the default file, found in the working folder, the same
    result = invoke("config")
    assert_stopped(result, "(file)", "not UTF-8")
    # `sources add` reads the file to append to it: the same message, the file untouched
    before = path.read_bytes()
    result = invoke("sources", "add", "https://example.org/feed.xml")
    assert_stopped(result, "(file)", "not UTF-8")
    assert path.read_bytes() == before


def test_a_sqlite_folder_is_never_created_but_data_dir_is(tmp_path: Path) -> None:
    missing = tmp_path / "nonexistent" / "dir"
    url = f"sqlite:///{missing}/x.db"
    for result in (
        invoke("--database-url", url, "sources"),
        invoke("sources", env={"FINEWS_DATABASE_URL": url}),
        invoke("--set", f"database_url={url}", "migrate"),
    ):
        assert_stopped(result, "database_url", f"mkdir -p {missing}")
    assert not (tmp_path / "nonexistent").exists()
    # copy-db takes URLs as they are: the store refuses the same way, with what to do
    copied = invoke("copy-db", f"sqlite:///{tmp_path / 'a.db'}", url)
    assert copied.exit_code == 2, copied.output
    assert f"mkdir -p {missing}" in copied.output
    assert not (tmp_path / "nonexistent").exists()
    # the default database goes in data/, created when missing by a command that writes
    # (read-only ones such as `sources` create nothing: tests/test_cli_usability.py)
    listed = invoke("migrate")
    assert listed.exit_code == 0, listed.output
    assert (tmp_path / "data" / "finews.db").is_file()
    # data_dir itself is created, its parents are not
    nested = invoke("--set", "data_dir=deep/er", "migrate")
    assert nested.exit_code == 2, nested.output
    assert "setting data_dir = 'deep/er'" in nested.output
    assert not (tmp_path / "deep").exists()
    assert invoke("--set", "data_dir=other", "migrate").exit_code == 0
    assert (tmp_path / "other" / "finews.db").is_file()


def test_a_bad_port_on_the_command_line_is_refused_by_the_real_process(tmp_path: Path) -> None:
    for args, env in (
        (["serve", "--port", "99999"], {}),
        (["serve"], {"FINEWS_SERVE_PORT": "99999"}),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "finews", *args],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env={**os.environ, **env},
            timeout=60,
            check=False,
        )
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr
        assert "99999" in done.stderr
    assert not (tmp_path / "data").exists()


def test_every_number_setting_declares_its_range() -> None:
    every = [*SETTINGS, *SOURCE_SETTINGS]
    for adapter in adapters().values():
        every += adapter.settings
    numbers = [s for s in every if s.type in (int, float)]
    assert numbers
    for setting in numbers:
        assert setting.minimum is not None, setting.name
        assert setting.maximum is not None, setting.name
        assert setting.minimum <= setting.default <= setting.maximum, setting.name
        assert " to " in allowed_values(setting)
    for setting in every:  # every default passes its own check
        assert setting.check is None or setting.check(setting.default) is None, setting.name


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["demo", "--no-serve", "--every", "nan"], "expected a finite number"),
        (["demo", "--no-serve", "--every", "inf"], "--every"),
        (["demo", "--no-serve", "--port", "70000"], "--port"),
        (["serve", "--port", "99999"], "--port"),
        (["export", "jekyll", "--now", "yesterday", "out"], "expected ISO 8601"),
    ],
)
def test_a_bad_command_line_option_is_a_usage_error(
    tmp_path: Path, args: list[str], fragment: str
) -> None:
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert fragment in result.output
    assert list(tmp_path.iterdir()) == []  # nothing was started or written
