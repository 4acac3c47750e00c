"""The settings registry: defaults < file < environment < CLI, and clear errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from finews.config import DEFAULT_SOURCES, SETTINGS, load_config
from finews.errors import ConfigError
from finews.settings_cli import settings_markdown


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "finews.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(env={})
    assert config.get("http.timeout") == 10.0
    assert config.database_url == "sqlite:///data/finews.db"
    assert {s.id for s in config.sources} == set(DEFAULT_SOURCES)
    # on by default: the sources two recent public clients agree on (README, issue 18)
    assert [s.id for s in config.enabled_sources()] == [
        "em_fast",
        "sina_zhibo",
        "ths",
        "wallstreetcn",
        "jin10",
    ]
    fast = config.source("em_fast")
    assert fast.get("url", "").startswith("https://")
    assert config.page_paths() == {"emnews": "/emnews/"}


def test_precedence_file_env_cli(tmp_path: Path) -> None:
    path = write(tmp_path, 'log_format = "json"\n[http]\ntimeout = 3\nretries = 5\n')
    config = load_config(path, env={"FINEWS_HTTP_TIMEOUT": "4.5"}, overrides={"http.retries": "1"})
    assert config.get("log_format") == "json"
    assert config.get("http.timeout") == 4.5
    assert config.get("http.retries") == 1
    assert config.origins["log_format"] == str(path)
    assert config.origins["http.timeout"] == "FINEWS_HTTP_TIMEOUT"
    assert config.origins["http.retries"] == "command line"


def test_source_settings_from_file_and_env(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[sources.emnews]\nenabled = true\nurl = "http://127.0.0.1:9/webapi"\n'
        "[sources.em_fast]\npage_size = 20\n",
    )
    config = load_config(path, env={"FINEWS_SOURCE_EM_FAST_ENABLED": "false"})
    assert config.source("emnews").enabled
    assert config.source("emnews").get("url") == "http://127.0.0.1:9/webapi"
    assert not config.source("em_fast").enabled
    assert config.source("em_fast").get("page_size") == 20


@pytest.mark.parametrize(
    ("text", "key", "fragment"),
    [
        ('[http]\ntimeout = "fast"\n', "http.timeout", "expected a number"),
        ("[http]\ntimeout = -1\n", "http.timeout", ">= 0.01"),
        ('log_format = "xml"\n', "log_format", "one of 'text', 'json'"),
        ("[http]\ntimeuot = 3\n", "http.timeuot", "http.timeout"),
        ('[sources.x]\nadapter = "nope"\n', "sources.x.adapter", "eastmoney_fast"),
        ("[sources.em_fast]\nurll = 1\n", "sources.em_fast.urll", "url"),
        ('[sources.em_fast]\nenabled = "yes"\n', "sources.em_fast.enabled", "true or false"),
    ],
)
def test_wrong_values_name_key_value_and_what_is_allowed(
    tmp_path: Path, text: str, key: str, fragment: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    message = str(info.value)
    assert info.value.key == key
    assert key in message
    assert fragment in message
    assert str(path) in message


def test_bad_environment_value_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="FINEWS_HTTP_RETRIES") as info:
        load_config(env={"FINEWS_HTTP_RETRIES": "many"})
    assert "a whole number" in str(info.value)


def test_unknown_source_in_environment_is_an_error() -> None:
    with pytest.raises(ConfigError, match="FINEWS_SOURCE_NOPE_ENABLED"):
        load_config(env={"FINEWS_SOURCE_NOPE_ENABLED": "1"})


def test_explicit_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "missing.toml", env={})


def test_broken_toml_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "[http\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path, env={})


def test_the_readme_settings_reference_is_current() -> None:
    """README.md carries `finews config --markdown` verbatim: a new or changed setting
    (global, per source, or an adapter's) fails here until the README says it."""
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    missing = [opt.name for opt in SETTINGS if f"`{opt.name}`" not in readme]
    assert missing == []
    assert settings_markdown() in readme


def test_commands_of_their_own_modules_load_only_when_used() -> None:
    """`finews build` and the other core commands start without the daemon, the HTTP
    client or the feed tools; `--help` still lists every command, and each works."""
    script = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from finews.cli import cli\n"
        "heavy = ('finews.daemon.runner', 'finews.fetch.client', 'finews.feeds_cli', 'httpx')\n"
        "print([name for name in heavy if name in sys.modules])\n"
        "print(CliRunner().invoke(cli, ['--help']).output)\n"
        "print(CliRunner().invoke(cli, ['sources', '--help']).output)\n"
        "print(CliRunner().invoke(cli, ['run', '--help']).output)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    loaded, _, rest = done.stdout.partition("\n")
    assert loaded == "[]"
    for command in ("build", "run", "search", "reindex", "serve", "sources"):
        assert f"\n  {command} " in rest
    for command in ("add", "import", "export"):
        assert f"\n  {command} " in rest.split("Usage: cli sources", 1)[1]
    assert "Poll every enabled source continuously" in rest
