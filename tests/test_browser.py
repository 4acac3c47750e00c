"""A real browser on the live site: Debian's chromium, driven by Playwright.

Open the home page, store a new item from another process, and see it appear without a
reload within 2 s of the commit; no console errors, no CSP violations, the page's own script
runs; screenshots go to ``test-artifacts/``. Skipped when ``/usr/bin/chromium`` is missing,
unless ``FINEWS_REQUIRE_BROWSER=1``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from finews.derive import open_store
from finews.publish.settings import SiteSettings
from finews.publish.urls import article_path
from finews.publish.web import create_app
from site_data import LiveServer, fill, site_items

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
SETTINGS = SiteSettings(page_size=20)

# what the other process runs: open the same database and store one item
WRITER = textwrap.dedent(
    """
    import sys, time
    from datetime import UTC, datetime
    from finews.models import Item
    from finews.derive import open_store

    store = open_store(sys.argv[1])
    now = datetime.now(UTC).replace(microsecond=0)
    store.upsert_items([Item(
        source="eastmoney_fast", upstream_id="browser-1", title=sys.argv[2],
        digest="另一个进程写入的消息。", published_at=now, fetched_at=now,
        category="emnews", tag="东财滚动新闻", importance=1,
    )])
    print(time.time(), flush=True)
    store.close()
    """
)


def _require_browser() -> Any:
    reason = ""
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (apt-get install chromium)"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason = reason or "the playwright package is not installed"
    if reason:
        if os.environ.get("FINEWS_REQUIRE_BROWSER") == "1":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return sync_playwright


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'browser.db'}"
    with open_store(url) as store:
        fill(store, site_items())
    return url


@pytest.fixture
def browser_page(db: str) -> Iterator[tuple[Any, str, list[str]]]:
    sync_playwright = _require_browser()
    app = create_app(db, SETTINGS, poll_interval=0.25)
    problems: list[str] = []
    with LiveServer(app) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on(
                "console",
                lambda m: (
                    problems.append(f"console {m.type}: {m.text}")
                    if m.type in ("error", "warning")
                    else None
                ),
            )
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            yield page, server.url, problems
            page.close()
        finally:
            browser.close()


def test_new_item_from_another_process_appears_without_reload(
    browser_page: tuple[Any, str, list[str]], db: str
) -> None:
    page, url, problems = browser_page
    page.goto(url + "/", wait_until="load")
    # the page's own script ran (the CSP let it) and the event stream is open
    page.wait_for_selector("[data-live-status]:not([hidden])", timeout=5000)
    # (a selector, not wait_for_function: that polls by evaluating a string, which the
    # page's Content-Security-Policy refuses once the first check finds it not yet true)
    page.wait_for_selector("[data-live-status]:text-is('实时更新中')", timeout=5000)
    page.evaluate("window.__notReloaded = true")
    title = f"浏览器测试：另一个进程写入 {time.time_ns()}"
    written = subprocess.run(
        [sys.executable, "-c", WRITER, db, title],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    committed = float(written.stdout.strip().splitlines()[-1])
    remaining_ms = max(0.0, 2.0 - (time.time() - committed)) * 1000
    row = page.wait_for_selector(
        f".stream .items > li.item:first-child >> text={title}", timeout=remaining_ms
    )
    seconds = time.time() - committed
    assert row is not None
    assert seconds < 2.0
    assert page.evaluate("window.__notReloaded") is True
    # it also joined its category's box, as the first of at most five rows
    box = page.locator('[data-filter-category="emnews"] > li')
    assert box.first.inner_text().find(title) >= 0
    assert box.count() <= 5
    # keyboard: j moves to the first row
    page.keyboard.press("j")
    assert page.locator(".item.current").count() == 1
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "browser-home.png"), full_page=False)
    assert problems == []


def test_pages_render_in_light_and_dark_without_errors(
    browser_page: tuple[Any, str, list[str]],
) -> None:
    page, url, problems = browser_page
    ARTIFACTS.mkdir(exist_ok=True)
    article = article_path(site_items()[6])
    page.goto(url + article, wait_until="load")
    assert page.locator("h1").inner_text().endswith(site_items()[6].title)
    page.screenshot(path=str(ARTIFACTS / "browser-article.png"), full_page=True)
    page.emulate_media(color_scheme="dark")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(20, 21, 24)"
    page.screenshot(path=str(ARTIFACTS / "browser-article-dark.png"), full_page=True)
    page.goto(url + "/", wait_until="load")
    page.screenshot(path=str(ARTIFACTS / "browser-home-dark.png"))
    page.set_viewport_size({"width": 390, "height": 844})
    page.emulate_media(color_scheme="light")
    page.goto(url + "/", wait_until="load")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # nothing wider than a phone's screen
    page.screenshot(path=str(ARTIFACTS / "browser-home-phone.png"))
    page.goto(url + "/no/such/2021/12/08/page.html", wait_until="load")
    assert "找不到这个页面" in page.inner_text("h1")
    # a 404 is reported by the browser as a failed resource load; nothing else may complain
    assert [p for p in problems if "404" not in p] == []


STOCK_WRITER = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime
    from finews.models import Item
    from finews.derive import open_store

    from finews.store.securities import learn_names

    store = open_store(sys.argv[1])
    learn_names(store, {"sh600519": "贵州茅台"}, "test")
    now = datetime.now(UTC).replace(microsecond=0)
    # the unrelated item first: its event comes before those the page waits for
    store.upsert_items([
        Item(source="eastmoney_fast", upstream_id="stock-other", title=sys.argv[4],
             digest="与它无关。", published_at=now, fetched_at=now, category="emnews",
             tag="东财滚动新闻", stocks=("sz000002",)),
        Item(source="eastmoney_fast", upstream_id="stock-tagged", title=sys.argv[2],
             digest="标注了贵州茅台。", published_at=now, fetched_at=now, category="emnews",
             tag="东财滚动新闻", stocks=("sh600519",)),
        Item(source="eastmoney_fast", upstream_id="stock-named", title=sys.argv[3],
             digest="摘要写到 600519。", published_at=now, fetched_at=now, category="emnews",
             tag="东财滚动新闻"),
        Item(source="eastmoney_fast", upstream_id="stock-by-name", title=sys.argv[5],
             digest="摘要写到贵州茅台。", published_at=now, fetched_at=now, category="emnews",
             tag="东财滚动新闻"),
    ])
    store.close()
    """
)


def test_a_security_page_takes_its_new_items_live(
    browser_page: tuple[Any, str, list[str]], db: str
) -> None:
    page, url, problems = browser_page
    page.goto(url + "/stock/sh600519/", wait_until="load")
    page.wait_for_selector("[data-live-status]:text-is('实时更新中')", timeout=5000)
    stamp = time.time_ns()
    tagged, named, other = f"标注的消息 {stamp}", f"提及的消息 {stamp}", f"无关的消息 {stamp}"
    by_name = f"提及名称的消息 {stamp}"
    subprocess.run(
        [sys.executable, "-c", STOCK_WRITER, db, tagged, named, other, by_name],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    rows = page.locator("[data-filter-stock] > li.item")
    page.wait_for_selector(f"[data-filter-stock] > li.item >> text={tagged}", timeout=10000)
    page.wait_for_selector(f"[data-filter-stock] > li.item >> text={named}", timeout=10000)
    page.wait_for_selector(f"[data-filter-stock] > li.item >> text={by_name}", timeout=10000)
    texts = rows.all_inner_texts()
    tagged_row = next(text for text in texts if tagged in text)
    named_row = next(text for text in texts if named in text)
    assert "标注" in tagged_row
    assert "提及" in named_row
    assert "提及（名称）" not in named_row
    assert "提及（名称）" in next(text for text in texts if by_name in text)
    assert not any(other in text for text in texts), texts
    assert problems == []
