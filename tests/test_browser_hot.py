"""The 热点 board and the 自选 page in a real browser (Debian's chromium via Playwright):
axe-core finds nothing serious or critical in light and dark, the layout holds at 1280 and
390 pixels, and 自选 keeps its terms in the browser, filters what arrives live and notifies
when asked.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from finews.derive import open_store
from finews.publish.settings import SiteSettings
from finews.publish.static_site import build_site
from finews.publish.web import create_app
from site_data import LiveServer, fill
from test_browser import ARGS, ARTIFACTS, CHROMIUM, _require_browser
from test_browser_pages import AXE, DESKTOP, PHONE, _axe, _box, check_frame, console_problems
from test_hot import board_items, this_minute

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(240)]

PAGES = {"hot": "/hot/", "watch": "/watch/", "important": "/important/"}

# what another process stores while the 自选 page is open: an item about 600519 and one not
WRITER = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime
    from finews.models import Item
    from finews.derive import open_store

    store = open_store(sys.argv[1])
    now = datetime.now(UTC).replace(microsecond=0)
    # the unrelated item first: its event comes before the one the page waits for
    store.upsert_items([
        Item(source="eastmoney_fast", upstream_id="watch-other", title=sys.argv[3],
             digest="与自选无关的一条。", published_at=now, fetched_at=now,
             category="emnews", tag="东财滚动新闻", stocks=("sz000002",)),
        Item(source="eastmoney_fast", upstream_id="watch-tagged", title=sys.argv[2],
             digest="标注了贵州茅台的一条。", published_at=now, fetched_at=now,
             category="emnews", tag="东财滚动新闻", stocks=("sh600519",)),
    ])
    store.close()
    """
)

# records each notification the page makes (the browser's own class, subclassed)
SPY = """
(() => {
  const Real = window.Notification;
  if (!Real) return;
  window.__notes = [];
  class Recorded extends Real {
    constructor(title, options) { super(title, options); window.__notes.push(title); }
  }
  Object.defineProperty(window, "Notification", { value: Recorded, configurable: true });
})();
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str, str]]:
    """(browser, base URL, database URL) of one live app over the board's stories."""
    sync_playwright = _require_browser()
    if not AXE.exists():
        reason = f"{AXE} is missing: run npm ci --prefix tests/browser-deps"
        if os.environ.get("FINEWS_REQUIRE_BROWSER") == "1":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    db = f"sqlite:///{tmp_path_factory.mktemp('hot') / 'hot.db'}"
    with open_store(db) as store:
        fill(store, board_items(this_minute()))
    app = create_app(db, SiteSettings(page_size=20), poll_interval=0.25)
    with LiveServer(app) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser, server.url, db
        finally:
            browser.close()


def _add_terms(page: Any, *terms: str) -> None:
    for term in terms:
        page.fill("#watch-term", term)
        page.click(".watch-add button")
    # (selectors, not script: the pages' CSP refuses the eval a polled predicate needs)
    page.locator("[data-watch-terms] li").nth(len(terms) - 1).wait_for()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_nothing_serious(site: tuple[Any, str, str], scheme: str) -> None:
    browser, url, _ = site
    context = browser.new_context(viewport=DESKTOP, color_scheme=scheme, bypass_csp=True)
    try:
        page = context.new_page()
        found: dict[str, list[str]] = {}
        for name, path in PAGES.items():
            page.goto(url + path, wait_until="load")
            if name == "watch":  # with its terms and their buttons
                _add_terms(page, "600519", "央行")
            if name == "hot":  # with the formula open
                page.locator(".help summary").click()
            problems = _axe(page)
            if problems:
                found[name] = problems
        assert found == {}, json.dumps(found, ensure_ascii=False, indent=1)
    finally:
        context.close()


@pytest.mark.parametrize(("viewport", "label"), [(DESKTOP, "desktop"), (PHONE, "phone")])
def test_layout_at_desktop_and_phone_widths(
    site: tuple[Any, str, str], viewport: dict[str, int], label: str
) -> None:
    browser, url, _ = site
    context = browser.new_context(viewport=viewport)
    try:
        page = context.new_page()
        problems = console_problems(page)
        ARTIFACTS.mkdir(exist_ok=True)
        for name, path in PAGES.items():
            page.goto(url + path, wait_until="load")
            check_frame(page, viewport, name)
            for link in ("热点", "自选"):  # in the masthead's nav, on screen
                box = _box(page, f".masthead .nav a:text-is('{link}')")
                assert box["x"] + box["width"] <= viewport["width"], (name, link)
            page.screenshot(path=str(ARTIFACTS / f"pages-{name}-{label}.png"), full_page=True)

        # the board: four stories, each title far wider than its rank, its sources on screen
        page.goto(url + "/hot/", wait_until="load")
        assert page.locator(".hot").count() == 4
        rank = _box(page, ".hot .hot-rank")
        title = _box(page, ".hot .title")
        assert title["width"] > 4 * rank["width"]
        assert title["x"] > rank["x"] + rank["width"]  # beside it, not under it
        sources = page.locator(".hot").first.locator(".hot-sources li")
        assert sources.count() == 3
        for index in range(3):
            box = sources.nth(index).bounding_box()
            assert box is not None
            assert box["x"] + box["width"] <= viewport["width"]
        meta = _box(page, ".hot .hot-meta")
        assert abs(meta["x"] - title["x"]) < 2  # the meta line starts under the title
        # the formula is one click away
        page.locator(".help summary").click()
        assert page.locator(".help").get_by_text("速度系数").first.is_visible()
        page.screenshot(path=str(ARTIFACTS / f"pages-hot-{label}-help.png"), full_page=True)

        # 自选: the form on one line at both widths, its terms as chips
        page.goto(url + "/watch/", wait_until="load")
        _add_terms(page, "600519", "央行")
        field = _box(page, "#watch-term")
        button = _box(page, ".watch-add button")
        assert abs(field["y"] - button["y"]) < 8
        assert field["width"] >= 150
        chips = page.locator("[data-watch-terms] li")
        first, second = chips.nth(0).bounding_box(), chips.nth(1).bounding_box()
        assert first is not None
        assert second is not None
        assert abs(first["y"] - second["y"]) < 4  # side by side
        page.screenshot(path=str(ARTIFACTS / f"pages-watch-{label}-terms.png"), full_page=True)
        assert problems == []
    finally:
        context.close()


def test_watch_keeps_its_terms_filters_live_items_and_notifies(
    site: tuple[Any, str, str],
) -> None:
    browser, url, db = site
    context = browser.new_context(viewport=DESKTOP)
    context.grant_permissions(["notifications"], origin=url)
    context.add_init_script(SPY)
    try:
        page = context.new_page()
        problems = console_problems(page)
        page.goto(url + "/watch/", wait_until="load")
        # no terms yet: nothing matches
        assert page.locator("[data-watch-list] .item:visible").count() == 0
        _add_terms(page, "sh600519", "央行")
        # what the page held already: the one story about 央行 of the board's stories
        visible = page.locator("[data-watch-list] .item:visible")
        assert visible.count() == 1
        assert "央行" in visible.first.inner_text()
        # the terms survive a reload: they live in this browser's localStorage only
        page.reload(wait_until="load")
        chips = page.locator("[data-watch-terms] li span")
        assert chips.all_inner_texts() == ["sh600519", "央行"]
        stored = page.evaluate("localStorage.getItem('finews.watch')")
        assert json.loads(stored) == ["sh600519", "央行"]
        # notifications only after a click
        assert page.evaluate("window.__notes.length") == 0
        page.click("[data-watch-notify]")
        page.locator("[data-watch-notify]:text-is('关闭通知')").wait_for()
        assert page.evaluate("localStorage.getItem('finews.watch.notify')") == "1"

        page.wait_for_selector("[data-live-status]:text-is('实时更新中')", timeout=5000)
        stamp = time.time_ns()
        tagged, other = f"茅台的新消息 {stamp}", f"无关的新消息 {stamp}"
        subprocess.run(
            [sys.executable, "-c", WRITER, db, tagged, other],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        page.wait_for_selector(f"[data-watch-list] .item.fresh >> text={tagged}", timeout=10_000)
        texts = page.locator("[data-watch-list] .item").all_inner_texts()
        assert not any(other in text for text in texts), texts
        notes = page.evaluate("window.__notes")
        assert notes == [f"自选「sh600519」：{tagged}"]
        # removing a term filters what is shown again
        page.click("[aria-label='删除自选：sh600519']")
        assert page.locator(f"[data-watch-list] .item:visible >> text={tagged}").count() == 0
        assert json.loads(page.evaluate("localStorage.getItem('finews.watch')")) == ["央行"]
        assert problems == []
    finally:
        context.close()


def test_watch_filters_the_items_a_static_site_holds(
    site: tuple[Any, str, str], tmp_path: Path
) -> None:
    """On a static host there is no live stream: 自选 filters the newest items its page
    holds, with the terms kept the same way."""
    browser, _, db = site
    with open_store(db) as store:
        build_site(store, tmp_path / "static", SiteSettings(page_size=20), processes=1)
    handler = partial(SimpleHTTPRequestHandler, directory=str(tmp_path / "static"))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    context = browser.new_context(viewport=PHONE)
    try:
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/watch/", wait_until="load")
        assert page.locator("body[data-events]").count() == 0  # no live stream here
        _add_terms(page, "统计局")
        visible = page.locator("[data-watch-list] .item:visible")
        assert visible.count() == 1
        assert "国家统计局" in visible.first.inner_text()
        assert "没有匹配" not in page.locator("[data-watch-count]").inner_text()
        page.reload(wait_until="load")
        assert page.locator("[data-watch-list] .item:visible").count() == 1
    finally:
        context.close()
        server.shutdown()
        server.server_close()
