"""``finews sources add`` of feeds whose titles are hostile: the title becomes a setting and a
line on the terminal, so it must neither break out of its TOML string, nor stop the
command (a NUL no setting can hold), nor reach the terminal as an escape sequence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from finews.cli import cli
from finews.config import load_config
from finews.demo.replay import ReplayServer, Reply, Route
from finews.feeds_cli import subcommands
from finews.sources_cli import sources
from hostile.corpus import (
    json_document,
    json_item,
    now_utc,
    rss_document,
    rss_item,
    sentinel_fields,
)

KEEP = "[http]\ntimeout = 5.0\n"
TITLES = {
    "toml": 'T"\n[http]\nuser_agent = "pwned"\n[sources.evil]\nurl = "http://evil.invalid/',
    "quotes": "T\\\"x''' ]] [[ {: \\u0000",
    "nul": "新闻\x00源",
    "escape": "新闻\x1b]0;pwned\x07\x1b[2J源\x9b31m",
    "bidi": "\u202e新闻源",
    "empty": "",
    "huge": "长" * 5_000,
}


@pytest.fixture(scope="module", autouse=True)
def _attached() -> None:
    for command in subcommands:
        sources.add_command(command)


@pytest.mark.parametrize("kind", sorted(TITLES))
def test_a_hostile_feed_title_becomes_a_plain_name(tmp_path: Path, kind: str) -> None:
    title = TITLES[kind]
    now = now_utc()
    item = sentinel_fields("x", 1, now) | {"title": "最新" + title}
    if kind in ("nul", "escape"):  # XML cannot carry them: JSON Feed
        body = json_document(title, [json_item(item)])
    else:
        body = rss_document(
            json.dumps(title)[1:-1].replace("&", "&amp;").replace("<", "&lt;"), [rss_item(item)]
        ).encode()
    config = tmp_path / "finews.toml"
    config.write_text(KEEP, encoding="utf-8")
    with ReplayServer([Route("/feed", Reply(body=body))]) as server:
        result = CliRunner().invoke(
            cli,
            ["--config", str(config), "sources", "add", f"{server.url}/feed", "--allow-private"],
        )
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output
    assert "\x00" not in result.output
    loaded = load_config(config, env={})
    assert loaded.get("http.user_agent") != "pwned"
    added = [s for s in loaded.sources if s.settings.get("url") == f"{server.url}/feed"]
    assert len(added) == 1
    assert "\x00" not in added[0].name
    assert "\x1b" not in added[0].name
    assert "evil" not in {s.id for s in loaded.sources}
