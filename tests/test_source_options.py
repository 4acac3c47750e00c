"""Each adapter's settings as a frozen dataclass (``SourceSpec.options``), parsed and
checked once as the settings load; a wrong value or an unknown key stops the command at
start-up naming ``sources.<id>.<key>`` and what is allowed."""

from __future__ import annotations

import dataclasses
import os
import typing
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from finews.cli import cli
from finews.config import load_config
from finews.sources import adapters
from finews.sources.base import Adapter, parse_options

pytestmark = pytest.mark.timeout(60)

#: the Python type an attribute has for each Setting.type (a list setting is a tuple)
_ATTRIBUTE_TYPES = {str: str, int: int, float: float, bool: bool, list: tuple}


@pytest.fixture(autouse=True)
def _here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test in its own folder, with no finews setting from the environment."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("FINEWS_"):
            monkeypatch.delenv(name)


@pytest.mark.parametrize(("name", "adapter"), sorted(adapters().items()))
def test_every_adapter_declares_one_attribute_per_setting(name: str, adapter: Adapter) -> None:
    kind = adapter.options_class
    hints = typing.get_type_hints(kind)
    assert dataclasses.is_dataclass(kind)
    assert set(hints) == {option.name for option in adapter.settings}, name
    for option in adapter.settings:
        hint = hints[option.name]
        assert (typing.get_origin(hint) or hint) is _ATTRIBUTE_TYPES[option.type], option.name


@pytest.mark.parametrize(("name", "adapter"), sorted(adapters().items()))
def test_every_adapters_defaults_parse(name: str, adapter: Adapter) -> None:
    options = parse_options(adapter.options_class, adapter.settings, {})
    for option in adapter.settings:
        value = getattr(options, option.name)
        expected = tuple(option.default) if option.type is list else option.default
        assert value == expected, option.name
        assert isinstance(value, _ATTRIBUTE_TYPES[option.type]), option.name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(options, adapter.settings[0].name, "changed")


def test_every_configured_source_carries_its_typed_settings() -> None:
    config = load_config(env={}, read_file=False)
    for spec in config.sources:
        adapter = adapters()[spec.adapter]
        assert isinstance(spec.options, adapter.options_class), spec.id
        for option in adapter.settings:
            value = spec.settings[option.name]
            attribute = getattr(spec.options, option.name)
            assert attribute == (tuple(value) if isinstance(value, list) else value)


def test_a_setting_from_the_file_reaches_the_adapter_typed(tmp_path: Path) -> None:
    path = tmp_path / "finews.toml"
    path.write_text('[sources.em_fast]\npage_size = 20\ncolumn = "101"\n', encoding="utf-8")
    spec = load_config(path, env={}).source("em_fast")
    request = adapters()["eastmoney_fast"].first_page(spec)
    assert request.params["pageSize"] == "20"
    assert request.params["fastColumn"] == "101"
    # and from the environment: text converted once, to the setting's type
    spec = load_config(env={"FINEWS_SOURCE_EM_FAST_PAGE_SIZE": "30"}, read_file=False).source(
        "em_fast"
    )
    assert getattr(spec.options, "page_size") == 30  # noqa: B009 - typed as object here


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env)


def assert_stopped(result: Result, key: str, fragments: tuple[str, ...]) -> None:
    """Exit code 2 and one line naming the setting and what is allowed, no traceback."""
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2, result.output
    assert len(lines) == 1, result.output
    assert lines[0].startswith(f"finews: error: setting {key} = "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert "Traceback" not in result.output


# (source, adapter if a new source, key, TOML value, --set text, what the message says)
CASES: list[tuple[str, str, str, str, str, tuple[str, ...]]] = [
    ("em_fast", "", "page_size", '"many"', "many", ("expected a whole number",)),
    ("em_fast", "", "page_size", "0", "0", ("expected a number >= 1 and <= 1000",)),
    ("em_fast", "", "fulltext", '"maybe"', "maybe", ("expected true or false",)),
    ("cls", "", "variant", '"webb"', "webb", ("expected one of 'web', 'appname', 'cache'",)),
    ("em_market", "", "market_types", '["x"]', '["x"]', ("a non-empty list of whole numbers",)),
    (
        "em_fast",
        "",
        "page_sise",
        "10",
        "10",
        ("unknown setting (did you mean 'page_size'?)", "the settings of a eastmoney_fast"),
    ),
    (
        "mine",
        "feed",
        "fulltext_selecter",
        '"main"',
        "main",
        ("did you mean 'fulltext_selector'?", "allow_private"),
    ),
]


@pytest.mark.parametrize(("sid", "adapter", "key", "toml", "text", "fragments"), CASES)
@pytest.mark.parametrize("form", ["file", "set"])
def test_a_bad_adapter_setting_stops_the_command_naming_it(
    tmp_path: Path,
    form: str,
    sid: str,
    adapter: str,
    key: str,
    toml: str,
    text: str,
    fragments: tuple[str, ...],
) -> None:
    extra: dict[str, Any] = {"url": "https://feeds.example/rss.xml"} if adapter else {}
    if form == "file":
        path = tmp_path / "finews.toml"
        lines = [f"[sources.{sid}]"]
        if adapter:
            lines += [f'adapter = "{adapter}"', *(f'{k} = "{v}"' for k, v in extra.items())]
        path.write_text("\n".join([*lines, f"{key} = {toml}", ""]), encoding="utf-8")
        result = invoke("--config", str(path), "sources")
    else:
        sets = [f"sources.{sid}.adapter={adapter}"] if adapter else []
        sets += [f"sources.{sid}.{k}={v}" for k, v in extra.items()]
        sets.append(f"sources.{sid}.{key}={text}")
        result = invoke(*(arg for item in sets for arg in ("--set", item)), "sources")
    assert_stopped(result, f"sources.{sid}.{key}", fragments)
    assert not (tmp_path / "data").exists()  # stopped before opening any database


def test_a_far_off_unknown_key_lists_the_settings_without_a_guess(tmp_path: Path) -> None:
    path = tmp_path / "finews.toml"
    path.write_text("[sources.em_fast]\nzzz = 1\n", encoding="utf-8")
    result = invoke("--config", str(path), "config")
    assert_stopped(result, "sources.em_fast.zzz", ("unknown setting; the settings of a",))
    assert "did you mean" not in result.output
    assert "page_size" in result.output


def test_an_unknown_global_key_gets_a_guess_too(tmp_path: Path) -> None:
    result = invoke("--set", "http.timout=5", "config")
    assert_stopped(result, "http.timout", ("did you mean 'http.timeout'?",))
