"""The static build: a golden tree of fixed data, byte for byte; incremental rebuilds that
write exactly what changed and end up where a full build would; links that always resolve.

Regenerate the golden tree after an intended change of the templates or the scheme with
``FINEWS_UPDATE_GOLDEN=1 pytest tests/test_static_build.py`` and review the diff.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from finews.derive import open_store
from finews.models import Item
from finews.publish import static_pages, static_site
from finews.publish.settings import SiteSettings
from finews.publish.static_site import MANIFEST, STAGING_PREFIX, BuildReport, build_site
from finews.publish.urls import article_path, file_name
from finews.publish.web import create_app
from finews.publish.writer import Writer
from finews.store import Store
from finews.store.securities import learn_names
from helpers import as_static
from site_data import GOLDEN_SETTINGS, TestClient, fill, later_items, site_items

pytestmark = pytest.mark.timeout(120)

GOLDEN = Path(__file__).parent / "golden" / "site"
BASE = GOLDEN_SETTINGS.base_url
_LINK = re.compile(r'(?:href|src)="(/finews/[^"?#]*)')

#: what the rebuild after later_items() writes: three articles; the pages of their
#: categories, days and the all/important listings from the page each item falls into; day
#: list; home; feeds. The clustering takes the backfilled 新华财经 item (same boilerplate
#: body as item 1, 20 minutes later) for a second report of item 1's story: item 1's page
#: gains it under "also reported by", and every listing showing each story once hides it,
#: so no listing page of 新华财经 or of 2021-12-08 changes, nor the 新华财经 feeds.
EXPECTED_INCREMENTAL = {
    # the three new articles, and the earlier report of the backfill's story
    "emnews/2021/12/09/20211209000000000015.html",
    "cls/2021/12/09/20211209000000000016.html",
    "xinhuacaijing/2021/12/08/20211208000000000017.html",
    "xinhuacaijing/2021/12/08/20211208000000000001.html",
    # emnews: 6 -> 7 items; page 1 unchanged, first page changed
    "emnews/index.html",
    # cls: 3 -> 4 items, now a full page 1
    "category/cls.html",
    "category/cls/page/1.html",
    # all: 15 -> 17 shown; page 3 now links on to a new page 4
    "all/index.html",
    "all/page/3.html",
    "all/page/4.html",
    # important: 3 -> 4 items, now a full page 1
    "important/index.html",
    "important/page/1.html",
    # day 2021-12-09 (two new)
    "day/2021-12-09/index.html",
    "day/2021-12-09/page/1.html",
    "day/2021-12-09/page/2.html",
    "day/index.html",
    "index.html",
    # feeds: all, and the two categories with new items shown
    "feed.xml",
    "rss.xml",
    "feed.json",
    "feeds/emnews/atom.xml",
    "feeds/emnews/rss.xml",
    "feeds/emnews/feed.json",
    "feeds/cls/atom.xml",
    "feeds/cls/rss.xml",
    "feeds/cls/feed.json",
    # the important-only feeds (one new important item), the 热点 board as of the newest
    # item and its feeds, the 自选 page (the newest items)
    "important/atom.xml",
    "important/rss.xml",
    "important/feed.json",
    "hot/index.html",
    "hot/atom.xml",
    "hot/rss.xml",
    "hot/feed.json",
    "watch/index.html",
    MANIFEST,
}


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` but the manifest, by relative path."""
    found = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.name != MANIFEST:
            found[path.relative_to(root).as_posix()] = path.read_bytes()
    return found


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'static.db'}")
    fill(opened, site_items())
    try:
        yield opened
    finally:
        opened.close()


def fresh_build(tmp_path: Path, items: list[Item], name: str) -> Path:
    """A full build of ``items`` in a database of its own."""
    with open_store(f"sqlite:///{tmp_path / (name + '.db')}") as other:
        fill(other, items)
        build_site(other, tmp_path / name, GOLDEN_SETTINGS)
    return tmp_path / name


def test_golden_static_build(store: Store, tmp_path: Path) -> None:
    report = build_site(store, tmp_path / "site", GOLDEN_SETTINGS)
    built = tree(tmp_path / "site")
    if os.environ.get("FINEWS_UPDATE_GOLDEN") == "1":
        shutil.rmtree(GOLDEN, ignore_errors=True)
        for name, data in built.items():
            (GOLDEN / name).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / name).write_bytes(data)
    golden = tree(GOLDEN)
    assert sorted(built) == sorted(golden)
    different = [name for name in golden if built[name] != golden[name]]
    assert different == [], f"differs from tests/golden/site: {different}"
    assert report.full
    assert report.articles == 15
    assert report.skipped == 0
    assert set(report.written) == set(built) | {MANIFEST}


def test_rebuild_without_changes_writes_nothing(store: Store, tmp_path: Path) -> None:
    build_site(store, tmp_path / "site", GOLDEN_SETTINGS)
    again = build_site(store, tmp_path / "site", GOLDEN_SETTINGS)
    assert not again.full
    assert again.written == ()
    assert again.articles == 0


def test_incremental_rebuild_writes_exactly_what_changed(store: Store, tmp_path: Path) -> None:
    build_site(store, tmp_path / "site", GOLDEN_SETTINGS)
    fill(store, later_items())
    report = build_site(store, tmp_path / "site", GOLDEN_SETTINGS)
    assert not report.full
    assert report.articles == 4
    assert set(report.written) == EXPECTED_INCREMENTAL
    assert len(report.written) == len(set(report.written))
    # and the result is exactly what a full build of the same items writes
    full = fresh_build(tmp_path, site_items() + later_items(), "full")
    assert tree(tmp_path / "site") == tree(full)


def test_incremental_builds_in_batches_match_a_full_build(tmp_path: Path) -> None:
    items = site_items() + later_items()
    edited = items[4].replace(title="修改后的标题", importance=0)  # an update
    moved = items[2].replace(published_at=items[2].published_at.replace(day=9))  # new day
    batches = [items[5:9], items[:4], items[9:14], [items[4]], [edited, moved], items[14:]]
    with open_store(f"sqlite:///{tmp_path / 'batches.db'}") as store:
        for batch in batches:
            for item in batch:
                store.upsert_items([item])
            build_site(store, tmp_path / "site", GOLDEN_SETTINGS)
        # the same database (same row ids), built at once into an empty directory
        build_site(store, tmp_path / "full", GOLDEN_SETTINGS)
    full = tree(tmp_path / "full")
    built = tree(tmp_path / "site")
    # the only extra file: a "moved" page where the re-dated article used to be
    extra = set(built) - set(full)
    assert extra == {file_name(article_path(items[2]))}
    assert b'http-equiv="refresh"' in built[file_name(article_path(items[2]))]
    assert {name: built[name] for name in full} == full


def _links(html: bytes) -> set[str]:
    return {file_name(link.removeprefix(BASE.rstrip("/"))) for link in _LINK.findall(html.decode())}


def test_every_internal_link_resolves(store: Store, tmp_path: Path) -> None:
    build_site(store, tmp_path / "site", GOLDEN_SETTINGS)
    fill(store, later_items())
    build_site(store, tmp_path / "site", GOLDEN_SETTINGS)
    files = tree(tmp_path / "site")
    for name, data in files.items():
        if name.endswith(".html"):
            missing = _links(data) - set(files)
            assert not missing, f"{name} links to missing {missing}"


def test_incremental_build_writes_link_targets_first(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "site"
    build_site(store, root, GOLDEN_SETTINGS)
    fill(store, later_items())
    original = Writer.write
    dangling: list[tuple[str, str]] = []

    def checked(self: Writer, name: str, data: bytes, *, replace: bool = False) -> bool:
        if name.endswith(".html"):
            for target in _links(data):
                if target != name and not (self.root / target).exists():
                    dangling.append((name, target))
        return original(self, name, data, replace=replace)

    monkeypatch.setattr(Writer, "write", checked)
    build_site(store, root, GOLDEN_SETTINGS)
    assert dangling == []


def test_readers_never_see_a_partial_file(store: Store, tmp_path: Path) -> None:
    root = tmp_path / "site"
    build_site(store, root, GOLDEN_SETTINGS)
    store.upsert_items(
        [
            later_items()[0].replace(upstream_id=f"bulk{n}", title=f"批量{n}" * 40)
            for n in range(200)
        ]
    )
    stop = threading.Event()
    problems: list[str] = []

    def read() -> None:
        while not stop.is_set():
            for path in root.rglob("*.html"):
                try:
                    data = path.read_bytes()
                except FileNotFoundError:
                    continue  # a temporary file renamed away under our feet
                if path.name.startswith(".") or not data.rstrip().endswith(b"</html>"):
                    problems.append(path.name)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        report = build_site(store, root, GOLDEN_SETTINGS)
    finally:
        stop.set()
        reader.join(30)
    # the new items, and the earlier reports whose "also reported by" lists them now
    assert report.articles >= 200
    assert problems == []
    assert not [p for p in root.rglob(".*") if p.name not in (".nojekyll", MANIFEST)]


def test_first_build_appears_complete_at_once(store: Store, tmp_path: Path) -> None:
    target = tmp_path / "deep" / "site"
    report = build_site(store, target, GOLDEN_SETTINGS)
    assert report.full
    assert (target / "index.html").exists()
    assert (target / MANIFEST).exists()
    assert [p.name for p in target.parent.iterdir()] == ["site"]  # nothing beside it
    assert not list(target.glob(f"{STAGING_PREFIX}*"))  # no staging left behind inside
    empty = tmp_path / "empty"
    empty.mkdir()
    build_site(store, empty, GOLDEN_SETTINGS)
    assert tree(empty) == tree(target)


def test_a_killed_first_build_leaves_only_its_staging_folder(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first build stages inside the output folder: what a killed one leaves is a hidden
    folder there (no page of it visible), which the next build removes."""
    root = tmp_path / "www" / "site"
    root.mkdir(parents=True)

    def killed(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt  # as a kill in the middle of writing the listings would

    monkeypatch.setattr(static_pages.Build, "finish", killed)
    with pytest.raises(KeyboardInterrupt):
        build_site(store, root, GOLDEN_SETTINGS)
    assert list(root.iterdir()) == []  # the failed build cleans up after itself
    # a kill -9 cannot clean up: what it leaves is only the staging folder
    stale = root / f"{STAGING_PREFIX}left"
    (stale / "emnews").mkdir(parents=True)
    (stale / "emnews" / "index.html").write_text("<html>half", encoding="utf-8")
    monkeypatch.undo()
    report = build_site(store, root, GOLDEN_SETTINGS)
    assert report.full
    assert not stale.exists()
    assert [p.name for p in (tmp_path / "www").iterdir()] == ["site"]
    assert tree(root) == {name: (GOLDEN / name).read_bytes() for name in tree(GOLDEN)}


def test_staged_entries_go_live_linked_before_linking(tmp_path: Path) -> None:
    for name in ["index.html", MANIFEST, "all", "static", "emnews", "category", "feed.xml"]:
        (tmp_path / name).mkdir() if "." not in name else (tmp_path / name).touch()
    assert static_site.move_order(tmp_path) == [
        "static", "emnews", "all", "category", "feed.xml", "index.html", MANIFEST
    ]  # fmt: skip


def test_changed_settings_or_bad_manifest_mean_a_full_build(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "site"
    build_site(store, root, GOLDEN_SETTINGS)
    other = SiteSettings(base_url=BASE, page_size=3, home_per_source=3, feed_size=5)
    assert build_site(store, root, other).full
    assert not build_site(store, root, other).full
    (root / MANIFEST).write_text("{not json", encoding="utf-8")
    assert build_site(store, root, other).full
    assert "unreadable" in caplog.text


def test_report_summary(store: Store, tmp_path: Path) -> None:
    report: BuildReport = build_site(store, tmp_path / "site", GOLDEN_SETTINGS)
    assert report.summary().startswith("full build: ")
    assert f"{len(report.written)} files written" in report.summary()


def test_live_app_serves_the_same_pages(store: Store, tmp_path: Path) -> None:
    build_site(store, tmp_path / "site", GOLDEN_SETTINGS)
    files = tree(tmp_path / "site")
    app = create_app(store.url, GOLDEN_SETTINGS)  # type: ignore[attr-defined]
    with TestClient(app) as client:
        for name in [
            "index.html",
            "emnews/index.html",
            "emnews/page/1.html",
            "all/page/2.html",
            "day/index.html",
            "day/2021-12-09/index.html",
            "category/cls.html",
            "subscribe/index.html",
            file_name(article_path(site_items()[3])),
            "static/site.js",
            "stock/sh600519/index.html",
            "stock/sz000001/index.html",
        ]:
            path = "/" + name.removesuffix("index.html")
            served = client.get(BASE.rstrip("/") + path)
            assert served.status_code == 200, name
            assert as_static(served.content) == files[name], name


@pytest.fixture
def stories_db(db_url: str) -> Iterator[Store]:
    """An empty store, on each engine in turn."""
    with open_store(db_url) as opened:
        yield opened


STORY_SETTINGS = SiteSettings(page_size=7, home_per_source=3, feed_size=10)


def _same_as_a_full_build(store: Store, site: Path, tmp_path: Path) -> None:
    """``site`` holds, file for file, what a full build of ``store`` now writes."""
    fresh = tmp_path / f"fresh-{len(list(tmp_path.iterdir()))}"
    build_site(store, fresh, STORY_SETTINGS, processes=1)
    built, full = tree(site), tree(fresh)
    assert sorted(built) == sorted(full)
    differ = [name for name in full if built[name] != full[name]]
    assert differ == []


def test_stories_derived_after_a_build_reach_the_next_incremental_build(
    tmp_path: Path, stories_db: Store
) -> None:
    """As under ``finews run``: items stored without their stories, built, then derived;
    the next incremental build makes again every page the stories changed."""
    from finews.derive import derive_all, derive_backlog
    from test_stories_pages import story_items

    items = story_items()
    site = tmp_path / "site"
    store = stories_db
    store.upsert_items(items[:100])  # derived as written
    build_site(store, site, STORY_SETTINGS, processes=1)
    store.upsert_items(items[100:], derive=False)
    assert derive_backlog(store) > 0
    assert not build_site(store, site, STORY_SETTINGS, processes=1).full
    derive_all(store)
    report = build_site(store, site, STORY_SETTINGS, processes=1)
    assert not report.full
    assert report.written, "the stories formed since changed pages"
    pages = [(site / n).read_text(encoding="utf-8") for n in report.written if n.endswith(".html")]
    assert any('class="also"' in page for page in pages)
    _same_as_a_full_build(store, site, tmp_path)
    # and nothing further to do
    assert build_site(store, site, STORY_SETTINGS, processes=1).written == ()


def test_a_first_build_before_derivation_catches_up_later(
    tmp_path: Path, stories_db: Store
) -> None:
    from finews.derive import derive_all
    from test_stories_pages import story_items

    site = tmp_path / "site"
    store = stories_db
    store.upsert_items(story_items(), derive=False)
    assert build_site(store, site, STORY_SETTINGS, processes=1).full
    derive_all(store)
    assert not build_site(store, site, STORY_SETTINGS, processes=1).full
    _same_as_a_full_build(store, site, tmp_path)


@pytest.mark.parametrize("inline", [True, False], ids=["derived-inline", "derived-later"])
def test_a_story_split_by_an_edit_leaves_no_stale_link(
    tmp_path: Path, stories_db: Store, inline: bool
) -> None:
    """An edit takes a report out of its story: the pages of the reports it leaves stop
    listing it (whether the edit is derived as it is written or by the deriver later)."""
    from finews.derive import derive_all
    from finews.store.clusters import also_reported
    from test_stories_pages import by_upstream, story_items

    site = tmp_path / "site"
    store = stories_db
    store.upsert_items(story_items())
    build_site(store, site, STORY_SETTINGS, processes=1)
    items = by_upstream(store)
    copy = items["moutai-h1/1"]
    others = also_reported(store, copy.id or 0)
    assert len(others) >= 2
    lead = others[0]
    assert copy.title in (site / file_name(article_path(lead))).read_text(encoding="utf-8")
    edited = copy.replace(
        id=None, title="某地举办农产品展销会", digest="展销会吸引众多客商。", content=""
    )
    store.upsert_items([edited], derive=inline)
    if not inline:
        build_site(store, site, STORY_SETTINGS, processes=1)  # before the deriver
        derive_all(store)
    assert also_reported(store, copy.id or 0) == []
    assert not build_site(store, site, STORY_SETTINGS, processes=1).full
    page = (site / file_name(article_path(lead))).read_text(encoding="utf-8")
    assert article_path(copy) not in page
    _same_as_a_full_build(store, site, tmp_path)


def test_security_pages_follow_new_items(store: Store, tmp_path: Path) -> None:
    """A security's page and feeds are built for every security an item is tagged with,
    and an incremental build rewrites those of the securities a new item is tagged with or
    names: the same bytes as a full build."""
    build_site(store, tmp_path / "site", GOLDEN_SETTINGS)
    files = tree(tmp_path / "site")
    for code in ("sh600519", "sz000001"):
        for name in ("index.html", "atom.xml", "rss.xml", "feed.json"):
            assert f"stock/{code}/{name}" in files
    later = later_items()
    tagged = later[0].replace(stocks=("600519.SH",))  # stored in finews notation
    named = later[1].replace(title="平安银行（000001）发布公告")  # names a code: 提及
    fill(store, [tagged, named])
    report = build_site(store, tmp_path / "site", GOLDEN_SETTINGS)
    stock_files = {name for name in report.written if name.startswith("stock/")}
    assert stock_files == {
        f"stock/{code}/{name}"
        for code in ("sh600519", "sz000001")
        for name in ("index.html", "atom.xml", "rss.xml", "feed.json")
    }
    page = (tmp_path / "site" / "stock" / "sz000001" / "index.html").read_text()
    assert 'how-mentioned">提及' in page
    assert "平安银行（000001）发布公告" in page
    full = fresh_build(tmp_path, [*site_items(), tagged, named], "full")
    assert tree(tmp_path / "site") == tree(full)


def test_security_pages_list_items_naming_a_known_name(store: Store, tmp_path: Path) -> None:
    """An item naming a security by its known name (derive/mentions.py) is on the
    security's static page, marked 提及（名称）; an incremental build rewrites that page,
    the same bytes as a full build."""
    learn_names(store, {"sz000001": "平安银行"}, "test")
    site = tmp_path / "site"
    build_site(store, site, STORY_SETTINGS, processes=1)
    named = later_items()[1].replace(title="平安银行发布年度业绩公告", stocks=())
    fill(store, [named])
    report = build_site(store, site, STORY_SETTINGS, processes=1)
    assert "stock/sz000001/index.html" in report.written
    assert "stock/sh600519/index.html" not in report.written
    page = (site / "stock" / "sz000001" / "index.html").read_text(encoding="utf-8")
    assert "平安银行发布年度业绩公告" in page
    assert 'how-named">提及（名称）' in page
    _same_as_a_full_build(store, site, tmp_path)
