"""Hypothesis properties over generated items in the JSON Feed shape: pieces of the corpus's
vectors glued to random text, random ids and dates, through the real path an item takes
(the feed adapter's parser, normalisation, the store) and out through every renderer (an
article page, RSS, Atom and JSON Feed, a Jekyll post). Every item normalisation keeps is
stored and read back, and nothing it renders can run script.

Bounded: a few dozen examples per property, one SQLite file per test.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finews.config import load_config
from finews.derive import open_store
from finews.errors import ExportError
from finews.jekyll.post import JekyllSettings, render_post
from finews.models import Item, SourceSpec
from finews.normalize.pipeline import normalize_item
from finews.publish.feeds import FeedInfo, render_feed
from finews.publish.settings import SiteSettings
from finews.publish.site import SiteRenderer
from finews.sources.base import Request
from finews.sources.feed import FEED
from finews.store import Store
from hostile import checks
from hostile.corpus import ITEM_VECTORS
from hostile.harness import OWN_SCRIPTS

FEED_URL = "https://feeds.example.cn/hx/feed.json"
NOW = datetime(2026, 9, 1, 4, 0, tzinfo=UTC)
INFO = FeedInfo(
    title="对抗",
    description="hostile",
    home_url="https://news.example.cn/",
    self_url="https://news.example.cn/feed.xml",
    feed_id="tag:finews,2021:hx",
)

#: pieces of the ready vectors: the corpus's knowledge of what breaks things
FRAGMENTS = sorted(
    {
        piece
        for vector in ITEM_VECTORS
        if not vector.awaits
        for piece in (vector.title, vector.text, vector.html, vector.summary, vector.url)
        if piece and len(piece) < 400
    }
)
SYNTAX = ["<", ">", "&", "&amp;", "&lt;", '"', "'", "{:", "{{", "{%", "]]>", "\n", "\\", "*", "]("]
WORDS = ["新闻", "A股<B股", "涨停", "600519", "javascript:", "onerror=", "<p>", "</p>"]


def texts(characters: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Text glued from corpus fragments, syntax, words and random characters."""
    piece = st.one_of(
        st.sampled_from(FRAGMENTS),
        st.sampled_from(SYNTAX + WORDS),
        st.text(characters, max_size=12),
    )
    return st.lists(piece, max_size=5).map("".join)


#: characters the store takes as they are (normalising strips the others, see ANY)
PLAIN = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
ANY = st.characters(codec=None)  # lone surrogates and NUL included

READY_DATES = [v.date for v in ITEM_VECTORS if v.date is not None and not v.awaits]
AWAITED_DATES = [v.date for v in ITEM_VECTORS if v.date is not None and v.awaits]


def dates(extreme: bool) -> st.SearchStrategy[str | None]:
    """Dates as JSON Feed writes them: sane ones, the corpus's odd ones, random text."""
    low, high = (
        (datetime(1, 1, 2), datetime(9999, 12, 30))
        if extreme
        else (
            datetime(2000, 1, 1),
            datetime(2026, 8, 31),
        )
    )
    choices: list[st.SearchStrategy[str | None]] = [
        st.none(),
        st.datetimes(low, high, timezones=st.just(UTC)).map(datetime.isoformat),
        st.sampled_from(READY_DATES + (AWAITED_DATES if extreme else [])),
    ]
    if extreme:
        choices.append(st.text(ANY, max_size=30))
    return st.one_of(choices)


def vector_ids(extreme: bool) -> list[str]:
    """The corpus's hostile ids (those awaiting a fix only when ``extreme``)."""
    return [v.id for v in ITEM_VECTORS if v.id and (extreme or not v.awaits)]


def items(characters: st.SearchStrategy[str], extreme: bool) -> st.SearchStrategy[dict[str, Any]]:
    """One JSON Feed item."""
    text = texts(characters)
    return st.fixed_dictionaries(
        {
            "id": st.one_of(text, st.sampled_from(vector_ids(extreme))),
            "title": text,
        },
        optional={
            "content_html": text,
            "content_text": text,
            "summary": text,
            "url": st.one_of(text, st.just("https://news.example.cn/a.html")),
            "date_published": dates(extreme),
            "authors": st.lists(st.fixed_dictionaries({"name": text}), max_size=2),
        },
    )


def feeds(characters: st.SearchStrategy[str], extreme: bool) -> st.SearchStrategy[bytes]:
    """A JSON Feed 1.1 document of 1 to 4 items (ASCII escapes: lone surrogates are JSON)."""
    return st.lists(items(characters, extreme), min_size=1, max_size=4).map(
        lambda entries: json.dumps(
            {"version": "https://jsonfeed.org/version/1.1", "title": "生成", "items": entries},
            ensure_ascii=True,
        ).encode("ascii")
    )


def spec_for(tmp_path: Path) -> SourceSpec:
    path = tmp_path / "finews.toml"
    path.write_text("", encoding="utf-8")
    table = {"adapter": "feed", "url": FEED_URL, "allow_private": True}
    return load_config(path, env={}, source_overrides={"hp": table}).source("hp")


class Pipeline:
    """The path of a fetched item, in-process: parse, normalise, store, read, render."""

    def __init__(self, tmp_path: Path) -> None:
        self.spec = spec_for(tmp_path)
        self.store: Store = open_store(f"sqlite:///{tmp_path / 'hp.db'}")
        self.renderer = SiteRenderer(SiteSettings())
        self.jekyll = JekyllSettings()

    def problems(self, body: bytes) -> list[str]:
        page = FEED.parse_page(self.spec, body, Request(url=FEED_URL))
        kept = [
            item
            for raw in page.items
            if isinstance(item := normalize_item(raw, self.spec, fetched_at=NOW), Item)
        ]
        self.store.upsert_items(kept)
        problems: list[str] = []
        stored = []
        for item in kept:
            found = self.store.get_item(item.source, item.upstream_id)
            if found is None:
                problems.append(f"not stored: {item.upstream_id!r}")
                continue
            stored.append(found)
            where = f"item {item.upstream_id[:40]!r}"
            page_html = self.renderer.article(found)
            problems += checks.html_problems(page_html, where, own_scripts=OWN_SCRIPTS)
            try:
                _, post = render_post(found, self.jekyll, "/category/hp.html")
            except ExportError:
                pass  # refused with its reason, as the export logs and skips it
            else:
                problems += checks.markdown_problems(post.decode("utf-8"), f"{where} post")

        def link(item: Item) -> str:
            return f"https://news.example.cn/a/{item.id}.html"

        for kind in ("rss", "atom"):
            data = render_feed(kind, stored, INFO, link=link, body=self.renderer.body_html)
            problems += checks.xml_problems(data, kind)
        data = render_feed("json", stored, INFO, link=link, body=self.renderer.body_html)
        problems += checks.json_problems(data, "json")
        return problems


PROPERTY = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def test_generated_items_are_stored_and_render_inert(tmp_path: Path) -> None:
    pipeline = Pipeline(tmp_path)

    @PROPERTY
    @given(feeds(PLAIN, extreme=False))
    def check(body: bytes) -> None:
        assert pipeline.problems(body) == []

    try:
        check()
    finally:
        pipeline.store.close()


def test_generated_items_with_any_character_and_date_are_stored_and_render_inert(
    tmp_path: Path,
) -> None:
    """NUL, lone surrogates and dates from year 1 to 9999 (issue 19 point 2)."""
    pipeline = Pipeline(tmp_path)

    @PROPERTY
    @given(feeds(ANY, extreme=True))
    def check(body: bytes) -> None:
        assert pipeline.problems(body) == []

    try:
        check()
    finally:
        pipeline.store.close()
