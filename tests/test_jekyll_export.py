"""The Jekyll export: exact shapes (golden tree), front matter YAML, window, idempotence.

The golden tree ``tests/golden/jekyll/`` is the whole output of :func:`export_jekyll` for
the invented items below at a fixed "now". To regenerate it after a deliberate change, run
with ``FINEWS_UPDATE_GOLDEN=1`` and review the diff.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from finews.errors import ConfigError, ExportError
from finews.jekyll.post import (
    DEFAULT_PAGE_PATHS,
    ORIGINAL_SOURCES,
    JekyllSettings,
    page_path,
    parse_post,
    post_filename,
    render_category,
    render_post,
    yaml_scalar,
)
from finews.models import Item
from finews.normalize.sanitize import text_as_html
from finews.normalize.times import SHANGHAI
from finews.publish.jekyll import INIT_POST, export_jekyll
from finews.publish.writer import Writer

GOLDEN = Path(__file__).parent / "golden" / "jekyll"
SETTINGS = JekyllSettings()
#: 2024-03-15 10:00 in Beijing
NOW = datetime(2024, 3, 15, 10, 0, tzinfo=SHANGHAI)
FETCHED = datetime(2024, 3, 15, 2, 0, tzinfo=UTC)


def _bj(year: int, month: int, day: int, hour: int, minute: int, second: int) -> datetime:
    """A Beijing wall-clock time as aware UTC."""
    return datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI).astimezone(UTC)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _item(upstream_id: str, published: datetime, **fields: object) -> Item:
    base: dict[str, object] = {
        "source": "emnews",
        "upstream_id": upstream_id,
        "title": "示例标题",
        "published_at": published,
        "fetched_at": FETCHED,
        "category": "emnews",
        "tag": "东财滚动新闻",
    }
    base.update(fields)
    return Item(**base)  # type: ignore[arg-type]


def golden_items() -> list[Item]:
    """Invented items covering every body shape, both directories and category pages."""
    return [
        # shape 1: digest and full text (rolling news), today
        _item(
            "202403150000000001",
            _bj(2024, 3, 15, 9, 30, 0),
            title="示例央行开展500亿元逆回购操作",
            digest="示例央行今日开展500亿元7天期逆回购操作，中标利率1.8%。",
            content=(
                "<p>示例央行公告称，为维护银行体系流动性合理充裕，今日开展500亿元逆回购操作。</p>"
                '<p class="em_media">（文章来源：示例财经）</p>'
            ),
            url="http://finance.eastmoney.com/a/202403150000000001.html",
        ),
        # shape 2: digest only (rolling news), yesterday; `<1%` stays as written
        _item(
            "202403140000000002",
            _bj(2024, 3, 14, 15, 1, 22),
            title="示例期货收盘：螺纹钢主力合约涨超3%",
            digest="示例期货多数收涨，螺纹钢主力合约涨超3%，波动率<1%的品种占三成。",
            url="http://futures.eastmoney.com/news/1513,202403140000000002.html",
        ),
        # shape 3: full text only (media), two days ago, share link built from the id
        _item(
            "NW202403130000000003",
            _bj(2024, 3, 13, 0, 0, 0),
            title="重庆财经：示例新区发布新能源汽车产业计划",
            content=(
                "<p>重庆财经讯 示例新区发布新能源汽车产业计划，签约项目总投资120亿元。</p>\n"
                " <p>计划提出，到2025年新区新能源汽车产量突破50万辆。</p>"
                '<p class="em_media">（文章来源：重庆财经）</p>'
            ),
            media="重庆财经",
            category="zhongqingcaijing",
            tag="重庆财经新闻",
            kind="media",
            source="em_media",
        ),
        # no digest, no content: the title is the digest; explicit empty url; archived
        _item(
            "202403120000000004",
            _bj(2024, 3, 12, 23, 59, 59),
            title="示例国债招标结果出炉（03-12）",
            url="",
        ),
        # an old media item: archived, and its category page written
        _item(
            "NW202403010000000005",
            _bj(2024, 3, 1, 8, 0, 0),
            title="示例财经：季度营收同比增长12%",
            content="<p>示例财经公司一季度营收同比增长12%。</p>",
            media="示例财经",
            category="shilicaijing",
            tag="示例财经新闻",
            kind="media",
            source="em_media",
        ),
    ]


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# --- golden tree --------------------------------------------------------------------------


def test_export_matches_golden_tree(tmp_path: Path) -> None:
    report = export_jekyll(
        golden_items(), tmp_path, SETTINGS, now=NOW, page_paths=DEFAULT_PAGE_PATHS
    )
    produced = _tree(tmp_path)
    if os.environ.get("FINEWS_UPDATE_GOLDEN") == "1":
        for rel, data in produced.items():
            target = GOLDEN / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    assert produced == _tree(GOLDEN)
    assert report.written == 7
    assert report.dirs["_posts"].written == 3
    assert report.dirs["old_post"].written == 2
    assert report.dirs["category"].written == 2
    assert (report.unchanged, report.moved, report.skipped, report.duplicates) == (0, 0, 0, 0)
    assert str(report) == (
        "7 written, 0 unchanged, 0 moved (_posts: 3 written, 0 unchanged; old_post: 2 written,"
        " 0 unchanged; category: 2 written, 0 unchanged); 0 skipped, 0 duplicate file names"
    )


def test_golden_shapes_are_exact() -> None:
    """The goldens spelled out, so a regenerated tree cannot drift from FORMAT.md."""
    shape1 = (GOLDEN / "_posts" / "2024-03-15-202403150000000001.md").read_bytes()
    assert (
        shape1
        == (
            '---\nlayout: post\ntitle: "示例央行开展500亿元逆回购操作"\n'
            "date: 2024-03-15 09:30:00 +0800\ncategories: emnews\ntags: 东财滚动新闻\n---\n"
            "> 示例央行今日开展500亿元7天期逆回购操作，中标利率1.8%。\n\n"
            "<p>示例央行公告称，为维护银行体系流动性合理充裕，今日开展500亿元逆回购操作。</p>"
            '<p class="em_media">（文章来源：示例财经）</p>\n\n'
            "<http://finance.eastmoney.com/a/202403150000000001.html>\n\n"
            "[返回东财滚动新闻](//finews.withounder.com/emnews/)｜[返回首页](//finews.withounder.com/)"
        ).encode()
    )
    shape2 = (GOLDEN / "_posts" / "2024-03-14-202403140000000002.md").read_bytes()
    assert (
        shape2.split(b"\n---\n", 1)[1]
        == (
            "\n示例期货多数收涨，螺纹钢主力合约涨超3%，波动率<1%的品种占三成。\n\n"
            "<http://futures.eastmoney.com/news/1513,202403140000000002.html>\n\n"
            "[返回东财滚动新闻](//finews.withounder.com/emnews/)｜[返回首页](//finews.withounder.com/)"
        ).encode()
    )
    shape3 = (GOLDEN / "_posts" / "2024-03-13-NW202403130000000003.md").read_bytes()
    assert shape3.startswith(
        '---\nlayout: post\ntitle: "重庆财经：示例新区发布新能源汽车产业计划"\n'
        "date: 2024-03-13 00:00:00 +0800\ncategories: zhongqingcaijing\ntags: 重庆财经新闻\n---\n"
        "<p>重庆财经讯".encode()
    )
    assert shape3.endswith(
        "</p>\n\n<http://finews.zning.xyz/html_News/NewsShare.html?infoCode=NW202403130000000003>"
        "\n\n[返回重庆财经新闻](//finews.withounder.com/category/zhongqingcaijing.html)"
        "｜[返回首页](//finews.withounder.com/)".encode()
    )
    title_only = (GOLDEN / "old_post" / "2024-03-12-202403120000000004.md").read_bytes()
    assert (
        title_only.split(b"\n---\n", 1)[1]
        == (
            "\n示例国债招标结果出炉（03-12）\n\n<>\n\n"
            "[返回东财滚动新闻](//finews.withounder.com/emnews/)｜[返回首页](//finews.withounder.com/)"
        ).encode()
    )
    category = (GOLDEN / "category" / "zhongqingcaijing.html").read_bytes()
    assert (
        category
        == "---\nlayout: category\ntitle: 重庆财经新闻\ncategory: zhongqingcaijing\n---".encode()
    )
    for path in GOLDEN.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not data.endswith(b"\n"), path
            assert b"\r" not in data, path


@pytest.mark.parametrize("item", golden_items(), ids=lambda i: i.upstream_id)
def test_render_post_matches_golden_file(item: Item) -> None:
    name, data = render_post(item, SETTINGS, page_path(item, DEFAULT_PAGE_PATHS))
    matches = list(GOLDEN.glob(f"*/{name}"))
    assert len(matches) == 1
    assert data == matches[0].read_bytes()


def test_render_category_matches_golden() -> None:
    data = render_category("shilicaijing", "示例财经新闻")
    assert data == (GOLDEN / "category" / "shilicaijing.html").read_bytes()


# --- window, archive, idempotence --------------------------------------------------------


def test_window_is_today_and_two_days_before_in_shanghai(tmp_path: Path) -> None:
    # 00:30 in Beijing is still the previous day in UTC: the window follows Beijing.
    now = datetime(2024, 3, 15, 0, 30, tzinfo=SHANGHAI)
    items = [
        _item("1", _bj(2024, 3, 15, 0, 0, 0)),
        _item("2", _bj(2024, 3, 13, 0, 0, 0)),
        _item("3", _bj(2024, 3, 12, 23, 59, 59)),
        _item("4", _bj(2024, 3, 16, 8, 0, 0)),  # dated tomorrow: stays in the window
    ]
    export_jekyll(items, tmp_path, SETTINGS, now=now.astimezone(UTC), page_paths=DEFAULT_PAGE_PATHS)
    assert sorted(os.listdir(tmp_path / "_posts")) == [
        "2024-03-13-2.md",
        "2024-03-15-1.md",
        "2024-03-16-4.md",
    ]
    assert sorted(os.listdir(tmp_path / "old_post")) == ["2024-03-12-3.md"]


def test_window_days_setting(tmp_path: Path) -> None:
    items = [_item("1", _bj(2024, 3, 15, 9, 0, 0)), _item("2", _bj(2024, 3, 14, 9, 0, 0))]
    export_jekyll(items, tmp_path, JekyllSettings(window_days=1), now=NOW, page_paths={})
    assert os.listdir(tmp_path / "_posts") == ["2024-03-15-1.md"]
    assert os.listdir(tmp_path / "old_post") == ["2024-03-14-2.md"]


def test_rerun_writes_nothing(tmp_path: Path) -> None:
    export_jekyll(golden_items(), tmp_path, SETTINGS, now=NOW, page_paths=DEFAULT_PAGE_PATHS)
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()}
    for p in before:
        os.utime(p, ns=(1, 1))
    report = export_jekyll(
        golden_items(), tmp_path, SETTINGS, now=NOW, page_paths=DEFAULT_PAGE_PATHS
    )
    assert (report.written, report.unchanged, report.moved) == (0, 7, 0)
    assert all(p.stat().st_mtime_ns == 1 for p in before)


def test_moved_item_leaves_no_stale_copy(tmp_path: Path) -> None:
    posts, archive = tmp_path / "_posts", tmp_path / "old_post"
    posts.mkdir()
    (posts / INIT_POST).write_bytes(b"init")
    (posts / "README").write_bytes(b"not a post")
    (posts / "2024-03-01-orphan.md").write_bytes(b"an old post no item stands for")
    export_jekyll(golden_items(), tmp_path, SETTINGS, now=NOW, page_paths=DEFAULT_PAGE_PATHS)
    assert (posts / "2024-03-13-NW202403130000000003.md").is_file()
    assert not (posts / "2024-03-01-orphan.md").exists()
    assert (archive / "2024-03-01-orphan.md").read_bytes() == b"an old post no item stands for"

    later = NOW + timedelta(days=3)
    report = export_jekyll(
        golden_items(), tmp_path, SETTINGS, now=later, page_paths=DEFAULT_PAGE_PATHS
    )
    assert sorted(os.listdir(posts)) == [INIT_POST, "README"]
    assert (posts / INIT_POST).read_bytes() == b"init"
    assert sorted(os.listdir(archive)) == sorted(
        ["2024-03-01-orphan.md"] + [p.name for p in (GOLDEN).glob("*/*.md")]
    )
    assert report.dirs["old_post"].moved == 3
    assert report.dirs["old_post"].written == 3
    for path in archive.iterdir():
        if path.name != "2024-03-01-orphan.md":
            assert path.read_bytes() == next(GOLDEN.glob(f"*/{path.name}")).read_bytes()


def test_stale_copy_moved_when_this_run_did_not_write_it(tmp_path: Path) -> None:
    (tmp_path / "_posts").mkdir()
    (tmp_path / "old_post").mkdir()
    (tmp_path / "_posts" / "2024-03-02-a.md").write_bytes(b"newer")
    (tmp_path / "old_post" / "2024-03-02-a.md").write_bytes(b"older")
    (tmp_path / "_posts" / "2024-03-03-b.md").write_bytes(b"same")
    (tmp_path / "old_post" / "2024-03-03-b.md").write_bytes(b"same")
    report = export_jekyll([], tmp_path, SETTINGS, now=NOW, page_paths={})
    assert report.moved == 2
    assert os.listdir(tmp_path / "_posts") == []
    assert (tmp_path / "old_post" / "2024-03-02-a.md").read_bytes() == b"newer"
    assert (tmp_path / "old_post" / "2024-03-03-b.md").read_bytes() == b"same"


@pytest.mark.parametrize("newer_first", [False, True])
def test_same_file_name_keeps_newest_revision(
    tmp_path: Path, newer_first: bool, caplog: pytest.LogCaptureFixture
) -> None:
    old = _item("7", _bj(2024, 3, 15, 9, 0, 0), title="旧标题", revision=1)
    new = old.replace(title="新标题", revision=2)
    items = [new, old] if newer_first else [old, new]
    with caplog.at_level(logging.WARNING, logger="finews.publish.jekyll"):
        report = export_jekyll(items, tmp_path, SETTINGS, now=NOW, page_paths=DEFAULT_PAGE_PATHS)
    text = (tmp_path / "_posts" / "2024-03-15-7.md").read_text(encoding="utf-8")
    assert 'title: "新标题"' in text
    assert report.duplicates == 1
    assert report.dirs["_posts"].written == 1
    assert "2024-03-15-7.md" in caplog.text


def test_id_unfit_for_a_file_name_gets_a_hashed_name_inside_posts(tmp_path: Path) -> None:
    items = [_item("../escape", _bj(2024, 3, 15, 9, 0, 0)), _item("ok", _bj(2024, 3, 15, 9, 0, 0))]
    report = export_jekyll(items, tmp_path, SETTINGS, now=NOW, page_paths={})
    assert report.skipped == 0
    names = sorted(os.listdir(tmp_path / "_posts"))
    assert names[0] == "2024-03-15-emnews~escape~" + _sha("../escape") + ".md"
    assert names[1] == "2024-03-15-ok.md"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["_posts", "category"]


def test_bad_item_is_skipped_and_run_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bad = _item("bad1", _bj(2024, 3, 15, 9, 0, 0), title="坏\ud800标题", source="feed")
    good = _item("ok", _bj(2024, 3, 15, 9, 0, 0), category="shilicaijing", tag="示例新闻")
    with caplog.at_level(logging.WARNING, logger="finews.publish.jekyll"):
        report = export_jekyll([bad, good], tmp_path, SETTINGS, now=NOW, page_paths={})
    assert report.skipped == 1
    assert os.listdir(tmp_path / "_posts") == ["2024-03-15-ok.md"]
    assert os.listdir(tmp_path / "category") == ["shilicaijing.html"]
    assert "skipped [feed] 'bad1': " in caplog.text
    assert "not valid Unicode" in caplog.text


def test_category_page_only_for_category_paths(tmp_path: Path) -> None:
    items = [
        _item("1", _bj(2024, 3, 15, 9, 0, 0)),  # emnews: a fixed page
        _item("2", _bj(2024, 3, 15, 9, 0, 0), category="jinrongshibao", tag="金融时报新闻"),
    ]
    export_jekyll(items, tmp_path, SETTINGS, now=NOW, page_paths=DEFAULT_PAGE_PATHS)
    assert os.listdir(tmp_path / "category") == ["jinrongshibao.html"]


def test_export_takes_a_one_pass_iterator(tmp_path: Path) -> None:
    report = export_jekyll(
        iter(golden_items()), tmp_path, SETTINGS, now=NOW, page_paths=DEFAULT_PAGE_PATHS
    )
    assert report.written == 7


def test_settings_are_validated() -> None:
    with pytest.raises(ConfigError, match="window_days"):
        JekyllSettings(window_days=0)
    with pytest.raises(ConfigError, match="posts_dir"):
        JekyllSettings(posts_dir="../x")
    with pytest.raises(ConfigError):
        JekyllSettings(archive_dir="_posts")


def test_page_path() -> None:
    emnews = _item("1", FETCHED)
    media = _item("2", FETCHED, category="xinhuacaijing")
    assert page_path(emnews, DEFAULT_PAGE_PATHS) == "/emnews/"
    assert page_path(media, DEFAULT_PAGE_PATHS) == "/category/xinhuacaijing.html"
    assert page_path(media, {"xinhuacaijing": "/xh/"}) == "/xh/"


def test_url_and_site_settings() -> None:
    custom = JekyllSettings(site="https://example.org", share_base="https://s.example/?id=")
    item = _item("NW9", FETCHED, category="x", tag="X新闻", content="<p>正文</p>")
    _, data = render_post(item, custom, "/category/x.html")
    assert data.endswith(
        b"\n\n<https://s.example/?id=NW9>\n\n"
        + "[返回X新闻](https://example.org/category/x.html)｜[返回首页](https://example.org/)".encode()
    )


# --- front matter is YAML ------------------------------------------------------------------


def _front_matter(data: bytes) -> dict[str, object]:
    text = data.decode("utf-8")
    assert text.startswith("---\nlayout: post\n")
    head, _, _ = text[4:].partition("\n---\n")
    loaded = yaml.safe_load(head)
    assert isinstance(loaded, dict)
    assert len(head.split("\n")) == 5  # layout, title, date, categories, tags: one line each
    return loaded


HOSTILE_TITLES = [
    'He said "buy"',
    "back\\slash \\U0001F600",
    "two\nlines",
    "---",
    "--- \n---\nlayout: evil",
    "key: value # not a comment",
    "  leading and trailing  ",
    "\ttab",
    "<script>alert(1)</script>",
    "{{ site.title }} {% include x %}",
    "\x00\x07\x1b control",
    "emoji 📈 and 𠀀",
    "line\u2028separator\u2029paragraph\x85next",
    "\ufeffbom",
    "'single' and ` backtick",
    "&amp; & @ * ! % |>",
    "null",
]


@pytest.mark.parametrize("title", HOSTILE_TITLES)
def test_hostile_title_round_trips_through_yaml(title: str) -> None:
    item = _item("1", _bj(2024, 3, 15, 9, 0, 0), title=title, digest="摘要")
    _, data = render_post(item, SETTINGS, "/emnews/")
    loaded = _front_matter(data)
    # a layout prints the title as it is: a "<" that could open a tag is written "&lt;"
    assert loaded["title"] == text_as_html(title)
    assert parse_post(data.decode("utf-8"), "2024-03-15-1.md").title == title
    assert loaded["layout"] == "post"
    assert loaded["categories"] == "emnews"


ORDINARY_TITLES = [
    "重庆示例新区发布智能制造产业行动方案",
    "示例指数午后走强：科创板指涨逾2.1% 半导体、软件等板块领涨",
    "示例资金连续第8日净流入？哪些行业获加仓！（附名单）",
    "续航翻倍、支持“快充”！示例电池量产在即……",
    "示例投行：首予示例科技-W(9999.HK)增持评级 目标价12.34港元",
    "示例\xa0不换行空格",
    "示例表情📈上涨",
    "《示例》发布：碳达峰、碳中和等入选" * 12,
    "#话题 示例: 冒号后有空格",
    "- 以短横开头",
]


@pytest.mark.parametrize("title", ORDINARY_TITLES)
def test_ordinary_title_is_written_as_the_original_did(title: str) -> None:
    item = _item("1", _bj(2024, 3, 15, 9, 0, 0), title=title, digest="摘要")
    _, data = render_post(item, SETTINGS, "/emnews/")
    assert f'\ntitle: "{title}"\n'.encode() in data
    assert _front_matter(data)["title"] == title


def test_blank_title_is_refused(tmp_path: Path) -> None:
    item = _item("1", _bj(2024, 3, 15, 9, 0, 0), title=" \n", digest="摘要")
    with pytest.raises(ExportError, match="no title"):
        render_post(item, SETTINGS, "/emnews/")
    report = export_jekyll([item], tmp_path, SETTINGS, now=NOW, page_paths=DEFAULT_PAGE_PATHS)
    assert report.skipped == 1
    assert not (tmp_path / "_posts").exists()


@settings(max_examples=400, deadline=None)
@given(
    title=st.text().filter(str.strip),
    published=st.datetimes(
        min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
)
def test_any_title_gives_valid_front_matter(title: str, published: datetime) -> None:
    item = _item("1", published, title=title, digest="摘要")
    _, data = render_post(item, SETTINGS, "/emnews/")
    assert data.startswith(b"---\nlayout: post\n")
    loaded = _front_matter(data)
    assert loaded["title"] == text_as_html(title)
    date = str(loaded["date"])
    assert date == published.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S +0800")


@pytest.mark.parametrize(
    ("value", "line"),
    [
        ("东财滚动新闻", "东财滚动新闻"),
        ("xinhuacaijing", "xinhuacaijing"),
        ("null", "'null'"),
        ("2021", "'2021'"),
        ("a: b", "'a: b'"),
    ],
)
def test_yaml_scalar_plain_when_possible(value: str, line: str) -> None:
    assert yaml_scalar(value) == line
    assert yaml.safe_load(f"k: {yaml_scalar(value)}") == {"k": value}


def test_tags_with_spaces_stay_one_tag() -> None:
    item = _item("1", FETCHED, category="zhengquanshibao", tag="证券 时报新闻", content="<p>x</p>")
    _, data = render_post(item, SETTINGS, "/category/zhengquanshibao.html")
    assert _front_matter(data)["tags"] == ["证券 时报新闻"]


def test_category_page_title_is_yaml() -> None:
    data = render_category("x", 'a "tag": #1')
    loaded = yaml.safe_load(data.decode().removeprefix("---\n").removesuffix("\n---"))
    assert loaded == {"layout": "category", "title": 'a "tag": #1', "category": "x"}


# --- bodies stay inert in Markdown and Liquid ---------------------------------------------


def _body(**fields: object) -> str:
    item = _item("1", FETCHED, **fields)
    _, data = render_post(item, SETTINGS, "/emnews/")
    return data.decode().split("\n---\n", 1)[1]


def test_liquid_in_text_is_defused() -> None:
    body = _body(digest="模板{{ site.time }}与{% include x %}")
    assert "{{" not in body
    assert "{%" not in body
    assert "模板&#123;{ site.time }}与&#123;% include x %}" in body


def test_markdown_links_to_unsafe_schemes_are_defused() -> None:
    body = _body(
        digest="[点我](javascript:alert(1)) [安全](http://example.com) [e](JaVa&#115;cript:x)"
    )
    assert "[点我\\](javascript:alert(1))" in body
    assert "[安全](http://example.com)" in body
    assert "[e\\](JaVa&#115;cript:x)" in body
    # n backslashes become 2n + 1: always escaped, and the import can count back
    again = _body(digest="[点我\\](javascript:alert(1))")
    assert "[点我\\\\\\](javascript:alert(1))" in again


def test_markdown_link_definitions_to_unsafe_schemes_are_defused() -> None:
    body = _body(content="正文\n[x]: javascript:alert(1)\n[y]: https://example.com")
    assert "\n\\[x]: javascript:alert(1)" in body
    assert "\n[y]: https://example.com" in body


def test_title_as_digest_is_inert() -> None:
    body = _body(title="<script>alert(1)</script>标题")
    assert body.startswith("\n&lt;script>alert(1)&lt;/script>标题\n\n")


def test_url_cannot_close_its_autolink() -> None:
    body = _body(digest="摘要", url='http://a.example/x><script>alert(1)</script> "q"')
    assert "<script" not in body
    assert "\n\n<http://a.example/x%3E%3Cscript%3Ealert(1)%3C/script%3E%20%22q%22>\n\n" in body


def test_multiline_digest_stays_one_blockquote() -> None:
    body = _body(digest="第一行\n\n第三行", content="<p>正文</p>")
    assert body.startswith("> 第一行\n> \n> 第三行\n\n<p>正文</p>\n\n")


def test_full_text_starting_with_quote_marker_is_escaped() -> None:
    assert _body(content="> 引用").startswith("\\> 引用\n\n")


def test_back_link_text_is_escaped() -> None:
    body = _body(tag="[特殊]新闻", digest="摘要")
    assert body.endswith(
        "[返回\\[特殊\\]新闻](//finews.withounder.com/emnews/)｜[返回首页](//finews.withounder.com/)"
    )


# --- the writer ---------------------------------------------------------------------------


def test_writer_writes_skips_and_refuses_twice(tmp_path: Path) -> None:
    writer = Writer(tmp_path)
    assert writer.write("a/b.md", b"one") is True
    assert (tmp_path / "a" / "b.md").read_bytes() == b"one"
    assert stat.S_IMODE((tmp_path / "a" / "b.md").stat().st_mode) == 0o644
    with pytest.raises(ExportError, match="already written"):
        writer.write("a/b.md", b"two")
    assert writer.write("a/b.md", b"two", replace=True) is True
    assert (tmp_path / "a" / "b.md").read_bytes() == b"two"
    assert (writer.written, writer.unchanged) == (1, 0)

    again = Writer(tmp_path)
    os.utime(tmp_path / "a" / "b.md", ns=(5, 5))
    assert again.write("a/b.md", b"two") is False
    assert (tmp_path / "a" / "b.md").stat().st_mtime_ns == 5
    assert (again.written, again.unchanged) == (0, 1)
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["b.md"]  # no temporary files left


def test_leftovers_of_a_killed_run_are_swept(tmp_path: Path) -> None:
    posts = tmp_path / "_posts"
    posts.mkdir()
    (posts / ".2024-03-15-1.md.k3j_9a0z.tmp").write_bytes(b"half a po")
    (posts / ".keep").write_bytes(b"not ours")
    export_jekyll([], tmp_path, SETTINGS, now=NOW, page_paths={})
    assert sorted(os.listdir(posts)) == [".keep"]
    assert Writer(tmp_path).sweep("missing") == 0


def test_writer_keeps_an_existing_files_mode(tmp_path: Path) -> None:
    target = tmp_path / "x.md"
    target.write_bytes(b"old")
    target.chmod(0o600)
    Writer(tmp_path).write("x.md", b"new")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


@pytest.mark.parametrize("bad", ["../x.md", "/etc/x.md", "a/../../x.md", "", "a/.."])
def test_writer_refuses_paths_outside_its_root(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ExportError):
        Writer(tmp_path / "out").write(bad, b"x")


def test_writer_wraps_os_errors(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"a file where a directory should be")
    with pytest.raises(ExportError, match="cannot write"):
        Writer(tmp_path).write("a/b.md", b"x")


# --- file names: bounded, stable, one per (source, id) ------------------------------------

_IDS = st.one_of(
    st.text(min_size=1, max_size=300),
    st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.~-]{0,120}", fullmatch=True),
    st.sampled_from(["202403150000000001", "https://a.example/x?y=1", "x" * 250, "a~b"]),
)
_SOURCES = st.sampled_from(["emnews", "em_media", "em_market", "feed", "a~b", "源", "x" * 150])


@settings(max_examples=300, deadline=None)
@given(first=st.tuples(_SOURCES, _IDS), second=st.tuples(_SOURCES, _IDS))
def test_file_names_are_bounded_safe_and_one_per_source_and_id(
    first: tuple[str, str], second: tuple[str, str]
) -> None:
    published = _bj(2024, 3, 15, 9, 0, 0)
    names = []
    for source, upstream_id in (first, second):
        name = post_filename(_item(upstream_id, published, source=source))
        assert len(name.encode("utf-8")) <= 255
        assert re.fullmatch(r"2024-03-15-[A-Za-z0-9_~][A-Za-z0-9_.~-]*\.md", name), name
        # only the original's sources have names without "~"
        assert ("~" not in name) == (
            source in ORIGINAL_SOURCES and name == f"2024-03-15-{upstream_id}.md"
        )
        assert post_filename(_item(upstream_id, published, source=source)) == name  # stable
        names.append(name)
    assert (names[0] == names[1]) == (first == second or _same_original_name(first, second))


def _same_original_name(first: tuple[str, str], second: tuple[str, str]) -> bool:
    # East Money's three sources share the original's names, as the original did
    return (
        first[1] == second[1]
        and first[0] in ORIGINAL_SOURCES
        and second[0] in ORIGINAL_SOURCES
        and "~" not in post_filename(_item(first[1], _bj(2024, 3, 15, 9, 0, 0), source=first[0]))
    )


def test_the_original_sources_keep_the_original_names() -> None:
    published = _bj(2024, 3, 15, 9, 0, 0)
    for source in ("emnews", "em_media", "em_market"):
        item = _item("NW202403150000000007", published, source=source)
        assert post_filename(item) == "2024-03-15-NW202403150000000007.md"
    assert post_filename(_item("7", published, source="cls")) == "2024-03-15-cls~7.md"


@pytest.mark.parametrize("newer_first", [False, True])
def test_a_clash_never_replaces_another_sources_post(
    tmp_path: Path, newer_first: bool, caplog: pytest.LogCaptureFixture
) -> None:
    rolling = _item("7", _bj(2024, 3, 15, 9, 0, 0), title="滚动新闻", source="emnews")
    media = _item("7", _bj(2024, 3, 15, 9, 0, 0), title="媒体新闻", source="em_media", revision=9)
    items = [media, rolling] if newer_first else [rolling, media]
    with caplog.at_level(logging.WARNING, logger="finews.publish.jekyll"):
        report = export_jekyll(items, tmp_path, SETTINGS, now=NOW, page_paths=DEFAULT_PAGE_PATHS)
    text = (tmp_path / "_posts" / "2024-03-15-7.md").read_text(encoding="utf-8")
    kept = items[0]
    assert f'title: "{kept.title}"' in text
    assert report.duplicates == 1
    assert f"kept {kept.source}'s post, dropped {items[1].source} '7'" in caplog.text


def test_an_item_at_the_end_of_time_is_skipped_and_the_others_written(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    late = _item("late", datetime(9999, 12, 31, 20, 0, tzinfo=UTC), source="feed")
    good = _item("ok", _bj(2024, 3, 15, 9, 0, 0))
    with caplog.at_level(logging.WARNING, logger="finews.publish.jekyll"):
        report = export_jekyll([late, good], tmp_path, SETTINGS, now=NOW, page_paths={})
    assert report.skipped == 1
    assert os.listdir(tmp_path / "_posts") == ["2024-03-15-ok.md"]
    assert "skipped [feed] 'late': " in caplog.text
