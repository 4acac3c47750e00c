"""Raw upstream records kept with each item, and ``finews reparse`` over them: a real
loopback upstream, the real client, a real store on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import zlib
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from finews import raw as raw_module
from finews.cli import cli
from finews.config import load_config
from finews.demo.replay import ReplayServer, Reply, Route
from finews.derive import open_store
from finews.derive.search import SearchQuery, search
from finews.fetch.client import HttpClient, HttpSettings
from finews.models import RawItem, SourceSpec
from finews.normalize import pipeline
from finews.normalize.sanitize import SANITIZER_VERSION
from finews.raw import pack, unpack
from finews.refresh import SourceReport, refresh_source
from finews.reparse import reparse
from finews.sources import eastmoney_fast
from finews.sources.base import Dropped, Page
from finews.sources.eastmoney_fast import FastNews
from finews.store import Store
from helpers import make_item
from upstreams import FAST_PATH, FastNewsFeed

SETTINGS = HttpSettings(timeout=2.0, retries=0, backoff=0.01)
ARTICLE_PATH = "/a/"


def fast_spec(url: str, **settings: object) -> SourceSpec:
    base: dict[str, Any] = {
        "url": url + FAST_PATH,
        "fallback_urls": [],
        "page_size": 20,
        "max_pages": 5,
        "fulltext": False,
        "article_url": url + ARTICLE_PATH + "{code}.html",
    }
    base.update(settings)
    return SourceSpec(id="em_fast", adapter="eastmoney_fast", name="快讯", settings=base)


def poll(spec: SourceSpec, store: Store) -> SourceReport:
    async def run() -> SourceReport:
        async with HttpClient(SETTINGS) as client:
            return await refresh_source(spec, store, client)

    return asyncio.run(run())


def publish_with_red(feed: FastNewsFeed, count: int, red: set[int]) -> list[str]:
    """``count`` items; those at the indexes in ``red`` (0 = first published) are red
    headlines about 锂电池."""
    codes = feed.publish(count)
    for entry in feed._items:
        index = codes.index(entry["code"]) if entry["code"] in codes else -1
        if index in red:
            entry["titleColor"] = 1
            entry["summary"] = entry["summary"].replace("正文", "锂电池正文")
    return codes


def old_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    """An older East Money reading: importance always 0, and the word 锂电池 lost (both
    ways the adapter reads an item: a page, and one kept record)."""
    page_today, record_today = FastNews.parse_page, FastNews.parse_record

    def older(item: RawItem) -> RawItem:
        summary = (item.summary or "").replace("锂电池", "")
        return dataclasses.replace(item, importance=0, summary=summary)

    def parse_page(self: FastNews, *args: Any, **kwargs: Any) -> Page:
        page = page_today(self, *args, **kwargs)
        return dataclasses.replace(page, items=[older(item) for item in page.items])

    def parse_record(self: FastNews, spec: SourceSpec, record: str) -> RawItem | Dropped:
        found = record_today(self, spec, record)
        return older(found) if isinstance(found, RawItem) else found

    monkeypatch.setattr(FastNews, "parse_page", parse_page)
    monkeypatch.setattr(FastNews, "parse_record", parse_record)


def test_each_item_keeps_its_upstream_record_compressed(store: Store) -> None:
    feed = FastNewsFeed()
    feed.publish(4)
    with ReplayServer([feed.route()]) as upstream:
        report = poll(fast_spec(upstream.url), store)
        assert (report.new, report.error) == (4, None)
        kept_first = list(store.raw_records())
        # a re-poll of unchanged items writes no raw row again
        again = poll(fast_spec(upstream.url), store)
    assert again.unchanged == 4
    assert list(store.raw_records()) == kept_first
    kept = {item.upstream_id: raw for item, raw in store.raw_records()}
    assert len(kept) == 4
    served = {entry["code"]: entry for entry in feed._items}
    for code, raw in kept.items():
        assert raw.record_format == "zlib:json"
        assert raw.article is None
        assert raw.article_format is None
        record = unpack(raw.record, raw.record_format)
        assert record is not None
        assert json.loads(record) == served[code]  # the object exactly as the upstream sent it
        assert len(raw.record or b"") < len(record)  # compressed


def test_reparse_makes_a_revision_only_where_the_reading_changed(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed = FastNewsFeed()
    codes = publish_with_red(feed, 6, red={1, 4})
    changed = {codes[1], codes[4]}
    with monkeypatch.context() as patch:
        old_parser(patch)
        with ReplayServer([feed.route()]) as upstream:
            spec = fast_spec(upstream.url)
            assert poll(spec, store).new == 6
    assert search(store, SearchQuery(text="锂电池")).hits == ()
    before = {item.upstream_id: item for item in store.items()}
    assert all(item.importance == 0 and item.revision == 1 for item in before.values())
    seq = store.last_change_seq()

    report = reparse(store, {spec.id: spec})

    assert (report.seen, report.updated, report.unchanged, report.dropped) == (6, 2, 4, [])
    after = {item.upstream_id: item for item in store.items()}
    for code, item in after.items():
        old = before[code]
        if code in changed:
            assert item.revision == 2
            assert item.importance == 1
            assert "锂电池" in item.digest
            assert item.id is not None
            kept = store.revisions(item.id)
            assert [r.revision for r in kept] == [1]
            assert kept[0].digest == old.digest  # the earlier reading is kept
        else:
            assert item == old  # untouched: same revision, same fields
            assert item.id is not None
            assert store.revisions(item.id) == []
    # two change-log entries: search and stories follow by the usual derive path
    assert sorted(c.item_id for c in store.changes_since(seq)) == sorted(
        after[code].id or 0 for code in changed
    )
    found = search(store, SearchQuery(text="锂电池"))
    assert {hit.item.upstream_id for hit in found.hits} == changed
    # a second run finds nothing more to change
    again = reparse(store, {spec.id: spec})
    assert (again.updated, again.unchanged) == (0, 6)


def test_reparse_filters_by_source_and_date(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    feed = FastNewsFeed()
    codes = publish_with_red(feed, 4, red={0, 3})
    with monkeypatch.context() as patch:
        old_parser(patch)
        with ReplayServer([feed.route()]) as upstream:
            spec = fast_spec(upstream.url)
            poll(spec, store)
    items = {i.upstream_id: i for i in store.items()}
    other = reparse(store, {spec.id: spec}, source="nowhere")
    assert other.seen == 0
    # only items published at or after the last one's time
    report = reparse(store, {spec.id: spec}, since=items[codes[3]].published_at)
    assert (report.seen, report.updated) == (1, 1)
    assert store.get_item("em_fast", codes[0]).revision == 1  # type: ignore[union-attr]
    # a source that is no longer configured is skipped, not dropped
    gone = reparse(store, {})
    assert gone.skipped == {"source no longer configured": 4}
    assert gone.updated == 0


def test_reparse_reads_the_kept_article_again(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed = FastNewsFeed()
    codes = feed.publish(2)

    def article(code: str) -> Route:
        html = (
            f'<html><body><div id="ContentBody"><p>全文{code}</p>'
            "<p>旧版丢掉的段落</p></div></body></html>"
        )
        headers = {"Content-Type": "text/html; charset=utf-8"}
        return Route(f"{ARTICLE_PATH}{code}.html", Reply(body=html.encode(), headers=headers))

    today = eastmoney_fast.parse_article

    def older(body: bytes, *, source: str, url: str) -> str:
        return today(body, source=source, url=url).replace("<p>旧版丢掉的段落</p>", "")

    with ReplayServer([feed.route(), *map(article, codes)]) as upstream:
        spec = fast_spec(upstream.url, fulltext=True)
        with monkeypatch.context() as patch:
            patch.setattr(eastmoney_fast, "parse_article", older)
            assert poll(spec, store).new == 2
    for _, raw in store.raw_records():
        assert raw.article_format == "zlib:article"
        assert b"ContentBody" in (unpack(raw.article, raw.article_format) or b"")
    stored = store.get_item("em_fast", codes[0])
    assert stored is not None
    assert "旧版丢掉的段落" not in stored.content
    report = reparse(store, {spec.id: spec})
    assert report.updated == 2
    fixed = store.get_item("em_fast", codes[0])
    assert fixed is not None
    assert "旧版丢掉的段落" in fixed.content
    assert fixed.revision == 2


def test_a_record_over_the_cap_is_not_kept_but_its_item_is(
    store: Store, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    feed = FastNewsFeed()
    feed.publish(1)
    monkeypatch.setattr(raw_module, "MAX_STORED", 10)
    with ReplayServer([feed.route()]) as upstream, caplog.at_level(logging.WARNING):
        report = poll(fast_spec(upstream.url), store)
    assert report.new == 1
    assert list(store.raw_records()) == []
    assert "raw json not kept" in caplog.text
    assert "over the 10-byte cap" in caplog.text


def test_pack_and_unpack() -> None:
    packed = pack('{"a": "锂"}', "json", source="s", upstream_id="1")
    assert packed is not None
    blob, fmt = packed
    assert fmt == "zlib:json"
    assert zlib.decompress(blob).decode("utf-8") == '{"a": "锂"}'
    assert unpack(blob, fmt) == '{"a": "锂"}'.encode()
    assert unpack(None, None) is None
    with pytest.raises(ValueError, match="cannot read"):
        unpack(blob, "zstd:json")


def test_cli_reparse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    feed = FastNewsFeed()
    publish_with_red(feed, 3, red={2})
    runner = CliRunner()
    with ReplayServer([feed.route()]) as upstream:
        config = tmp_path / "finews.toml"
        config.write_text(
            f'database_url = "sqlite:///{tmp_path}/cli.db"\n'
            "[http]\ntimeout = 2\nretries = 0\n"
            f'[sources.em_fast]\nurl = "{upstream.url}{FAST_PATH}"\nfallback_urls = []\n',
            encoding="utf-8",
        )
        with monkeypatch.context() as patch:
            old_parser(patch)
            fetched = runner.invoke(cli, ["--config", str(config), "fetch"])
            assert fetched.exit_code == 0, fetched.output
    done = runner.invoke(cli, ["--config", str(config), "reparse", "--source", "em_fast"])
    assert done.exit_code == 0, done.output
    assert "reparsed 3 items: 1 changed" in done.output
    bad = runner.invoke(cli, ["--config", str(config), "reparse", "--since", "yesterday"])
    assert bad.exit_code == 2
    assert "expected ISO 8601" in bad.output
    unknown = runner.invoke(cli, ["--config", str(config), "reparse", "--source", "nope"])
    assert unknown.exit_code != 0
    assert "no such source" in unknown.output
    with open_store(f"sqlite:///{tmp_path}/cli.db") as store:
        assert sum(item.revision == 2 for item in store.items()) == 1


RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>测试财经</title><link>https://news.example.cn/</link>
<item><guid isPermaLink="false">a1</guid><title>央行开展逆回购操作</title><link>https://news.example.cn/a1</link>
<description>&lt;p&gt;今日开展&lt;strong&gt;7天期&lt;/strong&gt;逆回购操作。&lt;/p&gt;</description>
<pubDate>Tue, 01 Sep 2026 09:30:00 +0800</pubDate></item>
<item><guid isPermaLink="false">a2</guid><title>沪指收涨</title><link>https://news.example.cn/a2</link>
<description>沪指收涨0.5%，成交额放大。</description>
<pubDate>Tue, 01 Sep 2026 15:05:00 +0800</pubDate></item>
</channel></rss>"""


def test_reparse_runs_a_changed_sanitiser_over_kept_feed_entries(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "finews.toml"
    config.write_text("", encoding="utf-8")
    route = Route("/f.xml", Reply(body=RSS.encode(), headers={"Content-Type": "application/xml"}))
    with ReplayServer([route]) as server:
        table = {"adapter": "feed", "url": f"{server.url}/f.xml", "allow_private": True}
        spec = load_config(config, env={}, source_overrides={"f": table}).source("f")
        today = pipeline.clean_markup
        with monkeypatch.context() as patch:  # an older sanitiser that dropped <strong>
            patch.setattr(
                pipeline,
                "clean_markup",
                lambda text: today(text.replace("<strong>", "").replace("</strong>", "")),
            )
            assert poll(spec, store).new == 2
    formats = {raw.record_format for _, raw in store.raw_records()}
    assert formats == {"zlib:feed-entry"}
    before = store.get_item("f", "a1")
    assert before is not None
    assert "<strong>" not in before.digest
    report = reparse(store, {"f": spec})
    assert (report.updated, report.unchanged, report.dropped) == (1, 1, [])
    after = store.get_item("f", "a1")
    assert after is not None
    assert "<strong>7天期</strong>" in after.digest
    assert after.revision == 2
    assert after.media == before.media == "测试财经"
    untouched = store.get_item("f", "a2")
    assert untouched is not None
    assert untouched.revision == 1


def test_reparse_records_the_sanitiser_version_of_an_unchanged_text(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed = FastNewsFeed()
    codes = feed.publish(2)

    def article(code: str) -> Route:
        html = f'<html><body><div id="ContentBody"><p class="em">全文{code}</p></div></body></html>'
        headers = {"Content-Type": "text/html; charset=utf-8"}
        return Route(f"{ARTICLE_PATH}{code}.html", Reply(body=html.encode(), headers=headers))

    with ReplayServer([feed.route(), *map(article, codes)]) as upstream:
        spec = fast_spec(upstream.url, fulltext=True)
        with monkeypatch.context() as patch:  # older rules, which made the same text
            patch.setattr(pipeline, "SANITIZER_VERSION", SANITIZER_VERSION - 1)
            assert poll(spec, store).new == 2
    before = {item.upstream_id: item for item in store.items()}
    assert {item.sanitizer for item in before.values()} == {SANITIZER_VERSION - 1}
    assert all('<p class="em">全文' in item.content for item in before.values())
    seq = store.last_change_seq()

    report = reparse(store, {spec.id: spec})

    # the text is the same: no revision and no change-log entry, but today's version
    assert (report.updated, report.unchanged, report.dropped) == (0, 2, [])
    after = {item.upstream_id: item for item in store.items()}
    assert {item.sanitizer for item in after.values()} == {SANITIZER_VERSION}
    assert {code: item.content for code, item in after.items()} == {
        code: item.content for code, item in before.items()
    }
    assert {item.revision for item in after.values()} == {1}
    assert store.changes_since(seq) == []
    # items stored before versions were recorded (migration 0015) get one the same way
    with store.transaction() as tx:
        tx.execute("UPDATE items SET sanitizer = NULL")
    assert {item.sanitizer for item in store.items()} == {None}
    assert reparse(store, {spec.id: spec}).unchanged == 2
    assert {item.sanitizer for item in store.items()} == {SANITIZER_VERSION}
    assert store.last_change_seq() == seq


def test_reparse_runs_todays_sanitiser_over_stored_text_without_raw_data(store: Store) -> None:
    """Items with no raw data to read again (stored before raw data was kept, or written
    without the normaliser) of an older or unknown sanitiser version: today's rules run
    over the stored text; its version is recorded, and a revision made only where the
    text changed."""
    clean = make_item(source="em_fast", content='<p class="em">干净的正文</p>', digest="摘要")
    hostile = make_item(
        source="em_fast",
        content='<p>正文</p><img src="https://img.example.cn/a.png" onerror="alert(1)">',
        digest='<p>摘要<script>alert("x9")</script></p>',
    )
    other = make_item(source="sina", content="<p>别的来源</p>")
    store.upsert_items([clean, hostile, other])
    assert list(store.raw_records()) == []  # nothing to read again
    seq = store.last_change_seq()

    report = reparse(store, {}, source="em_fast")

    assert (report.seen, report.stored_text, report.stored_text_changed) == (0, 2, 1)
    assert "2 more sanitised again from their stored text (1 changed)" in report.summary()
    kept = store.get_item("em_fast", clean.upstream_id)
    assert kept is not None
    assert (kept.content, kept.revision, kept.sanitizer) == (clean.content, 1, SANITIZER_VERSION)
    cleaned = store.get_item("em_fast", hostile.upstream_id)
    assert cleaned is not None
    assert cleaned.sanitizer == SANITIZER_VERSION
    assert cleaned.revision == 2  # the old text stays, as the previous revision
    assert "onerror" not in cleaned.content
    assert "<img" in cleaned.content
    assert "script" not in cleaned.digest
    assert "x9" not in cleaned.digest
    assert [change.item_id for change in store.changes_since(seq)] == [cleaned.id]
    untouched = store.get_item("sina", other.upstream_id)
    assert untouched is not None
    assert untouched.sanitizer is None
    # a second run finds nothing left to do
    assert reparse(store, {}, source="em_fast").stored_text == 0
