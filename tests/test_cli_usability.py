"""The command line as a newcomer meets it (issue 15): busy ports, ``--set`` for a source,
empty exports and builds, offline fetches, read-only commands, ``finews config`` as TOML,
the sources table, progress bars and help texts."""

from __future__ import annotations

import socket
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from finews.cli import cli
from finews.demo.live import LiveFeed
from finews.demo.replay import ReplayServer, Route, demo_routes


def invoke(args: list[str], env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, args, env=env, catch_exceptions=False)


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_demo_on_a_busy_port_says_so_before_anything_else(
    busy_port: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke(["demo", "--port", str(busy_port), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert result.stdout == ""  # no banner, nothing fetched
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert f"127.0.0.1:{busy_port}" in lines[0]
    assert "already in use" in lines[0]
    assert f"finews demo --port {busy_port + 1}" in lines[0]
    assert f"make demo PORT={busy_port + 1}" in lines[0]
    assert not (tmp_path / "out").exists()


def test_serve_on_a_busy_port_says_so_in_one_line(busy_port: int, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    result = invoke(["--database-url", url, "serve", "--port", str(busy_port)])
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert f"finews serve --port {busy_port + 1}" in result.stderr


def test_a_port_out_of_range_is_a_usage_error() -> None:
    result = invoke(["demo", "--port", "70000"])
    assert result.exit_code == 2
    assert "70000 is not in the range" in result.stderr
    assert "Traceback" not in result.output


def test_makefile_demo_passes_port() -> None:
    makefile = (Path(__file__).parent.parent / "Makefile").read_text(encoding="utf-8")
    assert "PORT ?= 8000" in makefile
    assert "finews demo --port $(PORT)" in makefile


def test_set_changes_a_source_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke(["--set", "sources.em_fast.enabled=false", "config"])
    assert result.exit_code == 0, result.output
    parsed = tomllib.loads(result.stdout)
    assert parsed["sources"]["em_fast"]["enabled"] is False
    result = invoke(["--set", "sources.em_fast.interval=90", "config"])
    assert tomllib.loads(result.stdout)["sources"]["em_fast"]["interval"] == 90.0


def test_set_names_an_unknown_source_or_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke(["--set", "sources.nosuch.enabled=false", "config"])
    assert result.exit_code == 2
    assert "no source 'nosuch'" in result.stderr
    result = invoke(["--set", "sources.em_fast.enabeld=false", "config"])
    assert result.exit_code == 2
    assert "sources.em_fast.enabeld" in result.stderr


def test_config_prints_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    url = "postgresql://reader:hunter2secret@db.example.org/finews"
    result = invoke(["--database-url", url, "config"])
    assert result.exit_code == 0
    parsed = tomllib.loads(result.stdout)  # raises if it is not TOML
    assert "True" not in result.stdout
    assert "False" not in result.stdout
    assert parsed["serve"]["port"] == 8000
    assert isinstance(parsed["sources"]["em_fast"]["enabled"], bool)
    assert parsed["sources"]["em_fast"]["adapter"] == "eastmoney_fast"
    assert "hunter2secret" not in result.stdout
    assert parsed["database_url"] == "postgresql://reader:***@db.example.org/finews"


def test_config_prints_odd_text_as_toml_that_reads_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A name with a tab, a DEL and a control character (TOML forbids the last two raw
    in a string) is printed escaped, and reads back as written."""
    monkeypatch.chdir(tmp_path)
    name = '快讯\t\x7f\x1b"引号"\\'
    result = invoke(["--set", f"sources.em_fast.name={name}", "config"])
    assert result.exit_code == 0, result.output
    parsed = tomllib.loads(result.stdout)  # raises if it is not TOML
    assert parsed["sources"]["em_fast"]["name"] == name


@pytest.mark.parametrize("args", [["sources"], ["search", "茅台"], ["config"]])
def test_read_only_commands_create_no_data_folder(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke(args)
    assert result.exit_code == 0, result.output
    assert list(tmp_path.iterdir()) == []


def test_search_without_an_archive_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke(["search", "茅台"])
    assert "no archive yet" in result.stderr
    assert "finews fetch" in result.stderr


def test_sources_table_keeps_its_columns_with_long_ids(tmp_path: Path) -> None:
    long_id = "a_source_with_a_really_very_long_identifier"
    env = {
        "FINEWS_CONFIG": str(tmp_path / "finews.toml"),
    }
    (tmp_path / "finews.toml").write_text(
        f'[sources.{long_id}]\nadapter = "feed"\nurl = "http://127.0.0.1:9/feed.xml"\n'
        'name = "[bold]Feed[/bold] [/]"\n',
        encoding="utf-8",
    )
    url = f"sqlite:///{tmp_path / 'x.db'}"
    result = invoke(["--database-url", url, "sources"], env=env)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    header = lines[0]
    row = next(line for line in lines if long_id in line)
    # every column starts where its header does, whatever the id's length
    for column in ("adapter", "state", "name"):
        start = header.index(column)
        assert row[start - 1] == " ", (column, header, row)
        assert row[start] != " ", (column, header, row)
    assert row[header.index("adapter") :].startswith("feed")
    assert row.endswith("[bold]Feed[/bold] [/]")  # as written: no markup read into it


def test_export_of_an_empty_archive_says_nothing_was_exported(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    out = tmp_path / "site"
    result = invoke(["--database-url", url, "export", "jekyll", str(out)])
    assert result.exit_code == 0
    assert "nothing to export" in result.stdout
    assert "wrote to" not in result.stdout
    assert not out.exists()


def _demo_archive(tmp_path: Path) -> str:
    """A database filled from the demo upstream (a real fetch over loopback)."""
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    with ReplayServer(demo_routes()) as upstream:
        base = upstream.url
        sets = [
            "--set",
            f"sources.emnews.url={base}/web/webapi",
            "--set",
            f"sources.emnews.fulltext_url={base}/NewsData/GetNewsText.do",
            "--set",
            "sources.emnews.enabled=true",
            "--set",
            "http.retries=0",
        ]
        result = invoke(["--database-url", url, *sets, "fetch", "-s", "emnews"])
    assert result.exit_code == 0, result.output
    return url


def test_an_incremental_build_with_nothing_to_do_says_so(tmp_path: Path) -> None:
    url = _demo_archive(tmp_path)
    out = tmp_path / "public"
    first = invoke(["--database-url", url, "build", str(out)])
    assert first.stdout.startswith("full build:")
    again = invoke(["--database-url", url, "build", str(out)])
    assert again.exit_code == 0
    assert again.stdout.startswith("incremental build: nothing to do")
    assert "up to date" in again.stdout


def test_offline_fetch_names_each_url_once(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        dead = sock.getsockname()[1]
    primary, fallback = f"http://127.0.0.1:{dead}/a", f"http://127.0.0.1:{dead}/b"
    url = f"sqlite:///{tmp_path / 'x.db'}"
    result = invoke(
        [
            "--database-url",
            url,
            "--set",
            "http.retries=0",
            "--set",
            f"sources.em_fast.url={primary}",
            "--set",
            f"sources.em_fast.fallback_urls={fallback}",
            "fetch",
            "-s",
            "em_fast",
        ]
    )
    assert result.exit_code == 1
    assert result.output.count("connection failed") == 2  # one per URL, each said once
    assert f"{primary}?" in result.output
    assert f"{fallback}?" in result.output
    assert "INFO" not in result.output


def test_progress_goes_to_stderr_only_when_asked(tmp_path: Path) -> None:
    url = _demo_archive(tmp_path)
    quiet = invoke(["--database-url", url, "reindex"])
    assert quiet.stderr == ""
    assert quiet.stdout.startswith("indexed ")
    shown = invoke(["--database-url", url, "--progress", "reindex"])
    assert "indexing items" in shown.stderr
    assert "indexing" not in shown.stdout
    copied = invoke(["--progress", "copy-db", url, f"sqlite:///{tmp_path / 'copy.db'}"])
    assert copied.exit_code == 0, copied.output
    assert "copying items" in copied.stderr
    built = invoke(["--database-url", url, "--progress", "build", str(tmp_path / "public")])
    assert "building the site" in built.stderr
    assert built.stdout.startswith("full build:")
    exported = invoke(["--database-url", url, "export", "jekyll", str(tmp_path / "posts")])
    assert exported.exit_code == 0, exported.output
    other = f"sqlite:///{tmp_path / 'imported.db'}"
    posts = str(tmp_path / "posts" / "_posts")
    imported = invoke(["--database-url", other, "--progress", "import", "jekyll", posts])
    assert imported.exit_code == 0, imported.output
    assert "importing files" in imported.stderr
    assert imported.stdout.startswith("imported 12 posts")
    quiet_import = invoke(["--database-url", other, "import", "jekyll", posts])
    assert quiet_import.stderr == ""


def test_reindex_help_names_the_command() -> None:
    result = invoke(["reindex", "--help"])
    assert "copy_db" not in result.stdout
    assert "finews copy-db" in result.stdout


def test_demo_announces_each_new_item(tmp_path: Path) -> None:
    from datetime import datetime, timedelta, timezone

    from finews.demo.run import demo_config, keep_publishing

    live = LiveFeed()
    lines: list[str] = []
    import threading

    stop = threading.Event()

    def echo(line: str) -> None:
        lines.append(line)
        stop.set()  # one is enough

    beijing = timezone(timedelta(hours=8))
    noon = datetime(2026, 9, 1, 14, 0, tzinfo=beijing)
    routes: list[Route] = demo_routes(now=lambda: noon, live=live.items)
    with ReplayServer(routes) as upstream:
        config = demo_config(upstream.url, tmp_path)
        original = live.publish
        live.publish = lambda now=None: original(noon)  # type: ignore[method-assign]
        keep_publishing(config, live, stop, 0.1, echo)
    assert len(lines) == 1
    published = live.items()[0]
    assert published["title"] in lines[0]
    assert lines[0].startswith("  new item 14:00:00")
