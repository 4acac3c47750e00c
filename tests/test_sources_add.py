"""`finews sources add URL`: fetches through the SSRF guard from a real loopback server,
detects what the URL serves, and appends a source table to the settings file."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from finews.cli import cli
from finews.config import load_config
from finews.demo.replay import ReplayServer, Reply, Route
from finews.feeds_cli import subcommands
from finews.sources_cli import sources
from upstreams import FAST_PATH, FastNewsFeed

DATA = Path(__file__).parent / "data" / "feed"
KEEP = "# hand-written settings\n[http]\ntimeout = 5.0\n"


@pytest.fixture(scope="module", autouse=True)
def _attached() -> None:
    for command in subcommands:
        sources.add_command(command)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "finews.toml"
    path.write_text(KEEP, encoding="utf-8")
    return path


def add(config: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        cli, ["--config", str(config), "sources", "add", *args], catch_exceptions=False
    )
    return result.exit_code, result.stdout, result.stderr


def feed_route(path: str, file: str) -> Route:
    return Route(path, Reply(body=(DATA / file).read_bytes()))


def test_an_rss_feed_is_detected_and_appended(config: Path) -> None:
    with ReplayServer([feed_route("/rss.xml", "rss20.xml")]) as server:
        code, out, err = add(config, f"{server.url}/rss.xml", "--allow-private")
    assert code == 0, err
    assert "found: RSS 2.0 “财经快讯”" in out
    assert "items: 4, newest: 央行开展3000亿元MLF操作" in out
    text = config.read_text(encoding="utf-8")
    assert text.startswith(KEEP)
    spec = load_config(config, env={}).source("caijingkuaixun")
    assert spec.adapter == "feed"
    assert spec.name == "财经快讯"
    assert spec.settings["url"] == f"{server.url}/rss.xml"
    assert spec.settings["allow_private"] is True
    assert "[sources.caijingkuaixun]" in out


def test_a_json_feed_with_a_chosen_id_and_name(config: Path) -> None:
    route = Route("/feed.json", Reply(body=(DATA / "jsonfeed.json").read_bytes()))
    with ReplayServer([route]) as server:
        code, out, err = add(
            config, f"{server.url}/feed.json", "--allow-private", "--id", "jf", "--name", "我的"
        )
    assert code == 0, err
    assert "found: JSON Feed 1.1 “JSON 财经”" in out
    spec = load_config(config, env={}).source("jf")
    assert (spec.adapter, spec.name) == ("feed", "我的")


def test_a_page_announcing_its_feed_is_followed(config: Path) -> None:
    page = (
        b'<html><head><link rel="alternate" type="application/atom+xml" href="/atom/feed.atom">'
        b"</head><body>home</body></html>"
    )
    routes = [Route("/", Reply(body=page)), feed_route("/atom/feed.atom", "atom.xml")]
    with ReplayServer(routes) as server:
        code, out, err = add(config, f"{server.url}/", "--allow-private")
    assert code == 0, err
    assert f"the page announces a feed: {server.url}/atom/feed.atom" in out
    assert "found: Atom 1.0" in out
    (spec,) = [s for s in load_config(config, env={}).sources if s.adapter == "feed"]
    assert spec.settings["url"] == f"{server.url}/atom/feed.atom"


def test_an_east_money_fast_news_url_is_recognised(config: Path) -> None:
    upstream = FastNewsFeed()
    upstream.publish(3)
    with ReplayServer([upstream.route()]) as server:
        url = f"{server.url}{FAST_PATH}?client=web&biz=web_724&fastColumn=101&pageSize=20"
        code, out, err = add(config, url, "--allow-private", "--id", "my_em_column")
    assert code == 0, err
    assert "items: 3" in out
    spec = load_config(config, env={}).source("my_em_column")
    assert spec.adapter == "eastmoney_fast"
    assert spec.settings["url"] == f"{server.url}{FAST_PATH}"
    assert spec.settings["column"] == "101"
    assert spec.settings["page_size"] == 20


def test_a_private_address_is_refused_without_allow_private(config: Path) -> None:
    with ReplayServer([feed_route("/rss.xml", "rss20.xml")]) as server:
        code, _, err = add(config, f"{server.url}/rss.xml")
        received = server.requests
    assert code == 1
    assert "127.0.0.1, a loopback address" in err
    assert "add --allow-private" in err
    assert received == []
    assert config.read_text(encoding="utf-8") == KEEP


def test_a_redirect_to_a_private_address_is_refused(config: Path) -> None:
    """Even with the first hop allowed by nothing: the guard applies to every hop. Here
    the first hop is refused already; the redirect case is in test_fetch_guard."""
    hop = Reply(status=302, headers={"Location": "http://169.254.169.254/latest/meta-data/"})
    with ReplayServer([Route("/r", hop)]) as server:
        code, _, err = add(config, f"{server.url}/r")
    assert code == 1
    assert "refused to connect" in err


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html><body>no feed here</body></html>", "is not an RSS, Atom or JSON feed"),
        (b'{"code": 0, "data": {"list": "nope"}}', "no finews adapter reads it"),
    ],
)
def test_something_that_is_not_a_feed_is_reported(config: Path, body: bytes, message: str) -> None:
    with ReplayServer([Route("/x", Reply(body=body))]) as server:
        code, _, err = add(config, f"{server.url}/x", "--allow-private")
    assert code == 1
    assert message in err
    assert config.read_text(encoding="utf-8") == KEEP


def test_taken_ids_and_known_feeds_are_refused(config: Path) -> None:
    with ReplayServer([feed_route("/rss.xml", "rss20.xml")]) as server:
        url = f"{server.url}/rss.xml"
        assert add(config, url, "--allow-private", "--id", "mine")[0] == 0
        once = config.read_text(encoding="utf-8")
        code, _, err = add(config, url, "--allow-private", "--id", "other")
        assert code == 1
        assert "already a configured feed" in err
        code, _, err = add(config, url, "--allow-private", "--id", "em_fast")
        assert code == 1
        assert "a source 'em_fast' exists already" in err
    assert config.read_text(encoding="utf-8") == once


def test_only_http_urls_are_accepted(config: Path) -> None:
    code, _, err = add(config, "file:///etc/passwd")
    assert code == 2
    assert "expected an http:// or https:// URL" in err
