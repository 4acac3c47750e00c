"""One pass of Debian's Chromium over the main pages of a site that fetched the hostile
corpus: no injected handler runs (each sets ``window.__hx_pwned`` or calls ``alert``), no
dialog opens, the IAL vector's ``document.title='X'`` never happens, and the site's
Content-Security-Policy never has to refuse anything (a refusal means injected script
reached a page and only the second layer stopped it). Skipped without
``/usr/bin/chromium`` unless ``FINEWS_REQUIRE_BROWSER=1`` (as ``tests/test_browser.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from finews.config import load_config
from finews.derive import open_store
from finews.publish.settings import SiteSettings
from finews.publish.urls import article_path
from finews.publish.web import create_app
from hostile.corpus import ITEM_VECTORS
from hostile.harness import Harness, report
from site_data import LiveServer
from test_browser import ARGS, CHROMIUM, _require_browser

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(300)]

MAIN_PAGES = ["/", "/all/", "/important/", "/day/", "/status", "/search?q=script"]
#: the article pages of these families are visited (their JSON Feed items: all formats
#: render through the same templates, and the HTML checks of every page are test_commands')
FAMILIES = ("xss", "mxss", "url", "markdown", "liquid")


def test_no_injected_handler_runs_in_chromium(tmp_path: Path) -> None:
    sync_playwright = _require_browser()
    harness = Harness(tmp_path)
    with harness.serving():
        harness.fetch()
    assert harness.problems == [], report(harness.problems)
    names = {v.name for v in ITEM_VECTORS if v.family in FAMILIES and not v.awaits}
    url = f"sqlite:///{harness.db}"
    with open_store(url) as store:
        articles = [
            article_path(item)
            for item in store.items()
            if item.source == "hx_json" and item.upstream_id.removeprefix("hx-") in names
        ]
        categories = sorted({f"/category/{item.category}.html" for item in store.items()})
    assert len(articles) == len(names)
    config = load_config(harness.config, env={}, overrides={})
    app = create_app(url, SiteSettings.from_config(config), sources=config.source_names())
    problems: list[str] = []
    with LiveServer(app) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page()
            page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
            # the CSP refuses inline script: a refusal means injected script reached a page
            page.on(
                "console",
                lambda m: (
                    problems.append(f"{page.url}: {m.text}")
                    if "Content Security Policy" in m.text
                    else None
                ),
            )
            for path in [*MAIN_PAGES, *categories, *articles]:
                # "load" waits for images: a broken one's onerror has run by then
                page.goto(server.url + path, wait_until="load")
                state = page.evaluate("[typeof window.__hx_pwned, document.title]")
                if state[0] != "undefined":
                    problems.append(f"{path}: an injected handler ran")
                if state[1] == "X":
                    problems.append(f"{path}: an injected handler set the title")
        finally:
            browser.close()
    assert problems == [], problems
