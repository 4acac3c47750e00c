"""A security's page lists every item about it, newest first, each story once: numbered
pages as a listing's (``/stock/<code>/page/N.html``, page 1 the oldest), live and in the
static build (full and incremental alike), on both engines."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from finews.derive import open_store
from finews.models import Item
from finews.publish.settings import SiteSettings
from finews.publish.static_site import build_site
from finews.publish.web import create_app
from helpers import as_static, make_item
from site_data import TestClient, fill

pytestmark = pytest.mark.timeout(120)

SETTINGS = SiteSettings(page_size=4, feed_size=5)
_ROW_ID = re.compile(r'data-item-id="(\d+)"')


_TITLES = (
    "贵州茅台发布年度分红预案",
    "白酒板块午后集体拉升",
    "机构调研聚焦高端消费复苏",
    "茅台经销商大会召开在即",
    "北向资金连续三日增持食品饮料",
    "公司回应渠道库存问题",
    "酱香酒行业产能扩张放缓",
    "董事会审议通过回购方案",
    "国际评级机构上调公司展望",
    "春节备货旺季价格走势平稳",
    "年报披露营收同比增长",
)


def about_moutai() -> list[Item]:
    """Eleven items about 600519 (tagged in several notations, or naming its code), a
    later report of the third from another source (the same story: listed once), and
    two items about other securities."""
    items = []
    for n, title in enumerate(_TITLES):
        digest = f"{title}。"
        if n % 3 == 0:
            items.append(make_item(title=title, digest=f"{title}（600519）。", stocks=()))
        else:
            notation = ("sh600519", "600519.SH", "1.600519")[n % 3]
            items.append(make_item(title=title, digest=digest, stocks=(notation,)))
    copy = items[2].replace(
        source="cls_telegraph",
        upstream_id="copy-2",
        category="cls",
        tag="财联社电报",
        published_at=items[2].published_at + timedelta(seconds=30),
    )
    others = [make_item(stocks=("sz000001",)), make_item(stocks=("hk00700",))]
    return [*items, copy, *others]


@pytest.fixture
def db(db_url: str) -> str:
    with open_store(db_url) as store:
        fill(store, about_moutai())
    return db_url


@pytest.fixture
def client(db: str) -> Iterator[TestClient]:
    with TestClient(create_app(db, SETTINGS, poll_interval=0.05)) as test_client:
        yield test_client


def ids(html: str) -> list[int]:
    return [int(found) for found in _ROW_ID.findall(html)]


def test_every_item_about_a_security_is_on_one_of_its_pages(client: TestClient) -> None:
    first = client.get("/stock/sh600519/")
    assert first.status_code == 200
    assert "共 11 条" in first.text  # the copy is the same story: listed once
    newest = ids(first.text)
    assert newest == [11, 10, 9, 8]  # row ids: the items are stored in order, copy 12th
    # 11 items in pages of 4: two full pages (1: the oldest four), the rest on the first
    assert 'href="/stock/sh600519/page/2.html">较早 →' in first.text
    second = client.get("/stock/sh600519/page/2.html")
    assert second.status_code == 200
    assert ids(second.text) == [8, 7, 6, 5]
    assert "第 2 页" in second.text
    assert 'rel="prev" href="/stock/sh600519/">← 较新' in second.text
    assert 'rel="next" href="/stock/sh600519/page/1.html"' in second.text
    assert "data-live-list" not in second.text  # a numbered page stays as it is
    oldest = client.get("/stock/sh600519/page/1.html")
    assert ids(oldest.text) == [4, 3, 2, 1]
    assert 'rel="prev" href="/stock/sh600519/page/2.html"' in oldest.text
    assert 'rel="next"' not in oldest.text
    assert 'class="how how-mentioned">提及' in oldest.text  # item 1 names the code
    shown = set(newest) | set(ids(second.text)) | set(ids(oldest.text))
    assert shown == set(range(1, 12))
    for missing in ("/stock/sh600519/page/3.html", "/stock/sh600519/page/0.html"):
        assert client.get(missing).status_code == 404
    assert client.get("/stock/sz000001/page/1.html").status_code == 404  # one item: no pages
    moved = client.get("/stock/600519.SH/page/2.html", follow_redirects=False)
    assert moved.status_code == 301
    assert moved.headers["location"] == "/stock/sh600519/page/2.html"


def test_the_static_build_writes_the_same_pages(db: str, tmp_path: Path) -> None:
    out = tmp_path / "site"
    with open_store(db) as store:
        build_site(store, out, SETTINGS, processes=1)
    folder = out / "stock" / "sh600519"
    assert sorted(p.name for p in (folder / "page").iterdir()) == ["1.html", "2.html"]
    with TestClient(create_app(db, SETTINGS)) as client:
        for name in ("", "page/1.html", "page/2.html"):
            served = client.get(f"/stock/sh600519/{name}")
            assert as_static(served.content) == (folder / (name or "index.html")).read_bytes()


def test_an_incremental_build_adds_the_new_page(db: str, tmp_path: Path) -> None:
    out = tmp_path / "site"
    with open_store(db) as store:
        build_site(store, out, SETTINGS, processes=1)
        fill(store, [make_item(stocks=("sh600519",)) for _ in range(2)])
        report = build_site(store, out, SETTINGS, processes=1)
        assert not report.full
        assert "stock/sh600519/page/3.html" in report.written
        assert "stock/sh600519/page/1.html" not in report.written  # below the change
        full = tmp_path / "full"
        build_site(store, full, SETTINGS, processes=1)
    for path in sorted((full / "stock").rglob("*.html")):
        name = path.relative_to(full)
        assert (out / name).read_bytes() == path.read_bytes(), name
