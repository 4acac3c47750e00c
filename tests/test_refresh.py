"""One poll end to end: a real loopback upstream, the real client, a real store."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from finews.cli import cli
from finews.demo.replay import Received, ReplayServer, Reply, Route
from finews.derive import open_store
from finews.fetch.client import HttpClient, HttpSettings
from finews.models import SourceSpec
from finews.refresh import SourceReport, refresh_all, refresh_source
from finews.store import Store
from upstreams import FAST_PATH, FastNewsFeed

FAST_SETTINGS = HttpSettings(timeout=2.0, retries=1, backoff=0.01)


def fast_spec(url: str, **settings: object) -> SourceSpec:
    base = {
        "url": url + FAST_PATH,
        "fallback_urls": [],
        "page_size": 20,
        "category": "emkuaixun",
        "tag": "东财快讯",
        "max_pages": 50,
        "fulltext": False,  # flashes are whole; True would read article pages
    }
    base.update(settings)
    return SourceSpec(id="em_fast", adapter="eastmoney_fast", name="快讯", settings=base)


def poll(spec: SourceSpec, db: Path) -> SourceReport:
    async def run() -> SourceReport:
        async with HttpClient(FAST_SETTINGS) as client:
            with open_store(f"sqlite:///{db}") as store:
                return await refresh_source(spec, store, client)

    return asyncio.run(run())


def test_a_poll_after_a_gap_walks_back_until_it_meets_stored_items(tmp_path: Path) -> None:
    feed = FastNewsFeed(page_size=20)
    feed.publish(30)
    db = tmp_path / "f.db"
    with ReplayServer([feed.route()]) as upstream:
        first = poll(fast_spec(upstream.url), db)
        assert (first.new, first.error) == (30, None)
        # finews is "down" while the upstream publishes 500 more items
        published = feed.publish(500)
        before = len(upstream.requests)
        second = poll(fast_spec(upstream.url), db)
        pages_asked = len(upstream.requests) - before
    assert second.error is None
    assert second.new == 500
    # 500 new items at 20 a page: 25 pages, plus the one that met stored items
    assert pages_asked == 26
    with open_store(f"sqlite:///{db}") as store:
        assert store.count_items("em_fast") == 530
        assert store.known_ids("em_fast", published) == set(published)


def test_walk_back_stops_at_the_max_pages_depth(tmp_path: Path) -> None:
    feed = FastNewsFeed(page_size=10)
    feed.publish(100)
    db = tmp_path / "f.db"
    with ReplayServer([feed.route()]) as upstream:
        spec = fast_spec(upstream.url, max_pages=3)
        first = poll(spec, db)
        feed.publish(5)
        second = poll(spec, db)
    assert (first.pages, first.new) == (3, 30)
    # the depth bounds how far back a poll goes: nothing older is asked for later
    assert (second.pages, second.new) == (1, 5)
    with open_store(f"sqlite:///{db}") as store:
        assert store.count_items("em_fast") == 35
        assert store.get_state("em_fast").cursor is None


def test_a_walk_that_failed_half_way_is_finished_by_the_next_poll(tmp_path: Path) -> None:
    feed = FastNewsFeed(page_size=10)
    feed.publish(50)
    failures = {"left": 0}

    def flaky(received: Received) -> Reply:
        if received.query.get("sortEnd") and failures["left"] > 0:
            failures["left"] -= 1
            return Reply(status=503, body=b"busy")
        return feed.handle(received)

    db = tmp_path / "f.db"
    with ReplayServer([Route(FAST_PATH, flaky)]) as upstream:
        spec = fast_spec(upstream.url)
        poll(spec, db)
        feed.publish(40)
        failures["left"] = 2  # the walk back fails (both attempts) after its first page
        broken = poll(spec, db)
        assert broken.error is not None
        assert broken.new == 10
        healed = poll(spec, db)
    assert healed.error is None
    assert healed.new == 30
    with open_store(f"sqlite:///{db}") as store:
        assert store.count_items("em_fast") == 90
        assert store.get_state("em_fast").cursor is None


def test_a_repeated_poll_stores_nothing_twice(tmp_path: Path) -> None:
    feed = FastNewsFeed()
    feed.publish(15)
    db = tmp_path / "f.db"
    with ReplayServer([feed.route()]) as upstream:
        poll(fast_spec(upstream.url), db)
        again = poll(fast_spec(upstream.url), db)
    assert (again.new, again.updated, again.unchanged) == (0, 0, 15)


def test_a_failing_source_records_its_error_and_the_others_go_on(tmp_path: Path) -> None:
    feed = FastNewsFeed()
    feed.publish(5)
    broken = Route("/broken", Reply(status=500, body=b"upstream down"))
    db = tmp_path / "f.db"
    with ReplayServer([feed.route(), broken]) as upstream:
        good = fast_spec(upstream.url)
        bad = SourceSpec(
            id="bad",
            adapter="eastmoney_fast",
            settings={**good.settings, "url": upstream.url + "/broken"},
        )

        async def run() -> list[SourceReport]:
            async with HttpClient(FAST_SETTINGS) as client:
                with open_store(f"sqlite:///{db}") as store:
                    return await refresh_all([bad, good], store, client)

        reports = asyncio.run(run())
    by_id = {r.source: r for r in reports}
    assert by_id["em_fast"].new == 5
    assert by_id["bad"].error is not None
    assert "HTTP 500" in by_id["bad"].error
    with open_store(f"sqlite:///{db}") as store:
        state = store.get_state("bad")
        assert state.consecutive_failures == 1
        assert state.last_error == by_id["bad"].error
        assert store.get_state("em_fast").last_success is not None


def test_malformed_items_are_dropped_with_reasons_and_good_ones_kept(tmp_path: Path) -> None:
    good = {
        "code": "202609010930000001",
        "title": "好消息",
        "summary": "【好消息】正文",
        "showTime": "2026-09-01 09:30:00",
        "realSort": "1788000000000001",
    }
    reply = {
        "code": "1",
        "message": "success",
        "data": {
            "sortEnd": "",
            "fastNewsList": [
                good,
                {"title": "没有编号"},
                "not an object",
                {**good, "code": "202609010930000002", "stockList": "1.600519"},
            ],
        },
    }
    with ReplayServer([Route(FAST_PATH, Reply.json(reply))]) as upstream:
        report = poll(fast_spec(upstream.url), tmp_path / "f.db")
    assert report.new == 1
    assert len(report.dropped) == 3
    assert all(d.source == "em_fast" and d.reason for d in report.dropped)


def write_config(tmp_path: Path, url: str, *, good: bool) -> Path:
    path = tmp_path / "finews.toml"
    target = url + (FAST_PATH if good else "/nothing-here")
    path.write_text(
        f'database_url = "sqlite:///{tmp_path}/cli.db"\n'
        "[http]\ntimeout = 2\nretries = 0\n"
        f'[sources.em_fast]\nurl = "{target}"\nfallback_urls = []\n',
        encoding="utf-8",
    )
    return path


def test_cli_fetch_prints_a_summary_and_exits_1_when_every_source_failed(
    tmp_path: Path,
) -> None:
    feed = FastNewsFeed()
    feed.publish(3)
    runner = CliRunner()
    with ReplayServer([feed.route()]) as upstream:
        ok = runner.invoke(
            cli, ["--config", str(write_config(tmp_path, upstream.url, good=True)), "fetch"]
        )
        assert ok.exit_code == 0, ok.output
        assert "em_fast" in ok.output
        assert "new    3" in ok.output
        bad = runner.invoke(
            cli, ["--config", str(write_config(tmp_path, upstream.url, good=False)), "fetch"]
        )
    assert bad.exit_code == 1
    assert "HTTP 404" in bad.output
    assert "every source failed" in bad.output


def test_cli_sources_shows_state_and_last_error(tmp_path: Path) -> None:
    runner = CliRunner()
    with ReplayServer([]) as upstream:
        config = write_config(tmp_path, upstream.url, good=False)
        runner.invoke(cli, ["--config", str(config), "fetch"])
    result = runner.invoke(cli, ["--config", str(config), "sources"])
    assert result.exit_code == 0, result.output
    rows = {line.split()[1]: line for line in result.stdout.splitlines()[1:] if line[:1] == "o"}
    assert rows["em_fast"].startswith("on ")
    assert rows["emnews"].startswith("off ")
    assert "BACKOFF after 1 failure(s)" in rows["em_fast"]
    assert "em_fast: last error:" in result.output


class _Died(BaseException):
    """Stands for SIGKILL: nothing after it runs, not even ``finally`` saves of state."""


class _DiesAfterPages:
    """A store whose process "dies" right after its ``pages``-th page commits."""

    def __init__(self, store: Store, pages: int) -> None:
        self._store = store
        self._left = pages

    def upsert_items(self, items: Any, *, state: Any = None, derive: bool = True) -> Any:
        result = self._store.upsert_items(items, state=state, derive=derive)
        self._left -= 1
        if self._left == 0:
            raise _Died
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


@pytest.mark.parametrize("pages", [1, 2, 5])
def test_a_kill_right_after_a_page_commits_leaves_no_gap(tmp_path: Path, pages: int) -> None:
    feed = FastNewsFeed(page_size=25)
    feed.publish(300)
    db = tmp_path / "f.db"
    with ReplayServer([feed.route()]) as upstream:
        spec = fast_spec(upstream.url, page_size=25, max_pages=100)
        with open_store(f"sqlite:///{db}") as store:

            async def run(target: Any) -> SourceReport:
                async with HttpClient(FAST_SETTINGS) as client:
                    return await refresh_source(spec, target, client)

            with pytest.raises(_Died):
                asyncio.run(run(_DiesAfterPages(store, pages)))
            assert store.count_items("em_fast") == 25 * pages
            report = asyncio.run(run(store))
            assert report.error is None
            assert store.count_items("em_fast") == 300
            assert store.get_state("em_fast").cursor is None
