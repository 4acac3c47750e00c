"""A page per security (``/stock/<code>/``) with its feeds, live; article pages link to it;
its rows tell tagged items (标注) from items naming its code (提及); live events carry what
the page's filter needs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from finews.derive import open_store
from finews.publish.settings import SiteSettings
from finews.publish.web import create_app
from site_data import TestClient, fill, site_items

pytestmark = pytest.mark.timeout(60)

SETTINGS = SiteSettings(page_size=4, home_per_source=3, feed_size=5)


def stock_items() -> list:  # type: ignore[type-arg]
    """The golden archive (one item tagged 600519 and 000001, as stored before codes were
    put in one notation), plus one item naming 600519 in its title and one tagged hk00700."""
    items = site_items()
    mention = replace(items[9], upstream_id="202112080000000000099", title="贵州茅台(600519)公告")
    hong_kong = replace(items[10], upstream_id="202112080000000000098", stocks=("hk00700",))
    return [*items, mention, hong_kong]


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'site.db'}"
    with open_store(url) as store:
        fill(store, stock_items())
    return url


@pytest.fixture
def client(db: str) -> Iterator[TestClient]:
    app = create_app(db, SETTINGS, poll_interval=0.05, heartbeat=0.5)
    with TestClient(app) as test_client:
        yield test_client


def test_a_security_page_lists_tagged_and_mentioning_items(client: TestClient) -> None:
    page = client.get("/stock/sh600519/")
    assert page.status_code == 200
    html = page.text
    tagged, named = site_items()[6].title, "贵州茅台(600519)公告"
    assert tagged in html
    assert named in html
    assert html.index(named) < html.index(tagged)  # newest first (the mention is later)
    assert html.count('class="how how-tagged">标注') == 1
    assert html.count('class="how how-mentioned">提及') == 1
    assert html.count('<li class="item') == 2
    assert 'data-filter-stock="sh600519"' in html
    assert 'data-filter-digits="600519"' in html
    assert 'href="/stock/sh600519/atom.xml"' in html
    assert client.get("/stock/sz000001/").text.count('<li class="item') == 1
    assert client.get("/stock/hk00700/").text.count('how-tagged">标注') == 1


@pytest.mark.parametrize("written", ["600519", "SH600519", "1.600519", "600519.SH"])
def test_any_notation_leads_to_the_one_page(client: TestClient, written: str) -> None:
    moved = client.get(f"/stock/{written}/", follow_redirects=False)
    assert moved.status_code == 301
    assert moved.headers["location"] == "/stock/sh600519/"
    feed = client.get(f"/stock/{written}/feed.json", follow_redirects=False)
    assert feed.headers["location"] == "/stock/sh600519/feed.json"


def test_unknown_securities_and_non_codes_are_not_found(client: TestClient) -> None:
    assert client.get("/stock/sh688981/").status_code == 404  # no item about it
    assert client.get("/stock/sh688981/atom.xml").status_code == 404
    assert client.get("/stock/~e88c85e58fb0/").status_code == 404  # 茅台: not a code


def test_security_feeds(client: TestClient) -> None:
    atom = client.get("/stock/sh600519/atom.xml")
    assert atom.status_code == 200
    assert atom.headers["content-type"].startswith("application/atom+xml")
    assert atom.text.count("<entry>") == 2
    rss = client.get("/stock/sh600519/rss.xml")
    assert rss.text.count("<item>") == 2
    body = json.loads(client.get("/stock/sh600519/feed.json").text)
    assert body["items"][0]["title"] == "贵州茅台(600519)公告"
    assert body["feed_url"].endswith("/stock/sh600519/feed.json")


def test_article_pages_link_codes_to_their_pages(client: TestClient) -> None:
    api = client.get("/api/items?stock=sz000001").json()["items"]
    assert len(api) == 1
    article = client.get(api[0]["page"]).text
    assert '<a class="stock" href="/stock/sh600519/">sh600519</a>' in article
    assert '<a class="stock" href="/stock/sz000001/">sz000001</a>' in article
