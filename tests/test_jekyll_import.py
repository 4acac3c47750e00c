"""The Jekyll import: every variant the original wrote, and import→export round trips.

Invented fixtures live in ``tests/data/jekyll/`` (``<name>.md`` with ``<name>.json``, the
expected record, beside it). The original site's real posts are read only through
``FINEWS_REFERENCE_DIR``; those tests are skipped without it.
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from finews.cli import cli
from finews.derive import open_store
from finews.errors import ParseError
from finews.jekyll.post import (
    DEFAULT_PAGE_PATHS,
    ImportedPost,
    JekyllSettings,
    imported_to_item,
    page_path,
    parse_category_page,
    parse_post,
    render_post,
)
from finews.models import Dropped, RawItem, SourceSpec
from finews.normalize import normalize_item
from finews.normalize.times import SHANGHAI

DATA = Path(__file__).parent / "data" / "jekyll"
GOLDEN = Path(__file__).parent / "golden" / "jekyll"
FETCHED = datetime(2024, 3, 15, 2, 0, tzinfo=UTC)
SETTINGS = JekyllSettings()


def _reference_dir() -> Path:
    value = os.environ.get("FINEWS_REFERENCE_DIR")
    if not value:
        pytest.skip("FINEWS_REFERENCE_DIR is not set: the original site's posts are not here")
    path = Path(value)
    if not (path / "posts").is_dir():
        pytest.fail(f"FINEWS_REFERENCE_DIR={value} has no posts/ directory")
    return path


def _roundtrip(text: str, filename: str) -> tuple[str, bytes]:
    post = parse_post(text, filename)
    item = imported_to_item(post, FETCHED)
    return render_post(item, SETTINGS, page_path(item, DEFAULT_PAGE_PATHS))


def _as_record(post: ImportedPost) -> dict[str, object]:
    return {
        "filename": post.filename,
        "upstream_id": post.upstream_id,
        "title": post.title,
        "published": post.published.isoformat() if post.published else None,
        "category": post.category,
        "tag": post.tag,
        "media": post.media,
        "kind": post.kind,
        "digest": post.digest,
        "content": post.content,
        "url": post.url,
        "page_path": post.page_path,
        "date_missing": post.date_missing,
        "notes": list(post.notes),
    }


# --- invented fixtures, one per variant -------------------------------------------------------

FIXTURES = sorted(p.stem for p in DATA.glob("*.md"))


def test_every_variant_has_a_fixture() -> None:
    assert set(FIXTURES) >= {
        "blank_line_before_front_matter",
        "date_without_zone",
        "date_empty",
        "date_empty_no_file_date",
        "relative_dot_links",
        "withounder_two_lines",
        "no_back_links",
        "empty_url",
        "broken_title_quote",
        "digest_and_html",
        "full_text_only",
        "share_link_only_id",
    }


@pytest.mark.parametrize("name", FIXTURES)
def test_fixture_imports_as_expected(name: str) -> None:
    text = (DATA / f"{name}.md").read_bytes().decode("utf-8")
    expected = json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))
    post = parse_post(text, expected["filename"])
    assert _as_record(post) == expected


def test_published_is_aware_utc() -> None:
    text = (DATA / "date_without_zone.md").read_text(encoding="utf-8")
    post = parse_post(text, "2021-11-21-202111210000000002.md")
    assert post.published is not None
    assert post.published.utcoffset() is not None
    assert post.published == datetime(2021, 11, 21, 3, 30, 5, tzinfo=UTC)


def test_empty_date_without_file_date_takes_import_time() -> None:
    text = (DATA / "date_empty_no_file_date.md").read_text(encoding="utf-8")
    item = imported_to_item(parse_post(text, "-202201060000000004.md"), FETCHED)
    assert item.published_at == FETCHED
    # no title in the file: the digest's first sentence stands in
    assert item.title == "示例外汇市场人民币中间价调升20个基点。"


def test_digest_and_html_item_is_sanitised_but_keeps_markup() -> None:
    text = (DATA / "digest_and_html.md").read_text(encoding="utf-8")
    item = imported_to_item(parse_post(text, "2022-03-10-202203100000000010.md"), FETCHED)
    assert "EM_StockImg" not in item.content  # comments go
    assert '<span id="stock_1.600000">' in item.content
    assert 'class="em_stock_key_common"' in item.content
    assert 'src="https://dfscdn.dfcfw.com/' in item.content
    assert item.content.endswith('<p class="em_media">（文章来源：示例证券报）</p>')
    assert item.kind == "rolling"
    assert item.media is None


def test_spaces_in_an_original_category_are_removed_on_import() -> None:
    text = (
        '---\nlayout: post\ntitle: "示例"\ndate: 2021-12-08 10:00:00 +0800\n'
        "categories: zhengquan shibao\ntags: 证券 时报新闻\n---\n<p>正文</p>\n\n<>"
    )
    post = parse_post(text, "2021-12-08-1.md")
    assert (post.category, post.tag, post.media) == (
        "zhengquan shibao",
        "证券 时报新闻",
        "证券 时报",
    )
    item = imported_to_item(post, FETCHED)
    assert item.category == "zhengquanshibao"
    _, data = render_post(item, SETTINGS, page_path(item, DEFAULT_PAGE_PATHS))
    assert '\ncategories: zhengquanshibao\ntags: ["证券 时报新闻"]\n'.encode() in data


def test_category_page() -> None:
    text = (DATA / "category_page.html").read_text(encoding="utf-8")
    expected = json.loads((DATA / "category_page.json").read_text(encoding="utf-8"))
    assert parse_category_page(text) == (expected["slug"], expected["tag"])
    assert parse_category_page("\n" + text + "\n") == (expected["slug"], expected["tag"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("no front matter at all", "no front matter"),
        ("---\nlayout: post\ntitle: x\n", "not closed"),
        ("---\nlayout: page\ntitle: x\ncategories: a\n---\nbody", "not a post"),
        ('---\nlayout: post\ntitle: "x"\ndate: 2021-12-08 10:00:00\n---\nbody', "categories"),
        (
            '---\nlayout: post\ntitle: "x"\ndate: yesterday\ncategories: emnews\n---\n\nx\n\n<>',
            "not a time",
        ),
    ],
)
def test_not_a_post(text: str, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_post(text, "2021-12-08-1.md")


def test_post_without_any_id_is_refused() -> None:
    text = '---\nlayout: post\ntitle: "x"\ndate: 2021-12-08 10:00:00\ncategories: emnews\n---\n\nx'
    with pytest.raises(ParseError, match="id"):
        parse_post(text, "somefile.txt")


def test_id_from_an_east_money_news_url() -> None:
    text = (
        '---\nlayout: post\ntitle: "x"\ndate: 2021-12-08 10:00:00 +0800\ncategories: emnews\n'
        "tags: 东财滚动新闻\n---\n\n摘要\n\n<http://hk.eastmoney.com/news/1533,202112080000000042.html>"
    )
    assert parse_post(text, "unnamed.md").upstream_id == "202112080000000042"


def test_not_a_category_page() -> None:
    with pytest.raises(ParseError):
        parse_category_page('---\nlayout: post\ntitle: "x"\n---')


# --- round trips on invented goldens ----------------------------------------------------------


GOLDEN_POSTS = sorted(
    p.relative_to(GOLDEN).as_posix() for p in GOLDEN.glob("*/*.md") if p.is_file()
)


def test_goldens_cover_three_shapes() -> None:
    bodies = [
        (GOLDEN / rel).read_text(encoding="utf-8").split("\n---\n", 1)[1] for rel in GOLDEN_POSTS
    ]
    assert any(b.startswith("> ") for b in bodies)
    assert any(b.startswith("\n") for b in bodies)
    assert any(b.startswith("<p>") for b in bodies)


@pytest.mark.parametrize("rel", GOLDEN_POSTS)
def test_golden_post_round_trips(rel: str) -> None:
    data = (GOLDEN / rel).read_bytes()
    name, out = _roundtrip(data.decode("utf-8"), Path(rel).name)
    assert name == Path(rel).name
    assert out == data


# --- the original site's posts (FINEWS_REFERENCE_DIR) ----------------------------------------

_TITLE_LINE = re.compile(r'^title: "(.*)"$', re.MULTILINE)
_URL = re.compile(r"\n\n<([^<>\n]*)>(?:\n\n|\Z)")


def _reference_posts() -> list[Path]:
    return sorted((_reference_dir() / "posts").glob("*.md"))


def test_every_reference_post_imports_with_the_right_fields() -> None:
    posts = _reference_posts()
    assert len(posts) == 30
    final_form = no_links = empty_url = no_zone = 0
    for path in posts:
        text = path.read_bytes().decode("utf-8")
        post = parse_post(text, path.name)
        assert post.upstream_id == path.stem[11:], path.name
        title = _TITLE_LINE.search(text)
        assert title is not None
        assert post.title == title[1], path.name
        assert post.category == "emnews"
        assert post.tag == "东财滚动新闻"
        assert (post.kind, post.media) == ("rolling", None)
        assert post.published is not None
        date_line = re.search(r"^date: (\S+ \S+)", text, re.MULTILINE)
        assert date_line is not None
        wall = post.published.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
        assert wall == date_line[1], path.name
        url = _URL.search(text)
        assert url is not None
        assert post.url == url[1], path.name
        # plain digest right after the front matter, no full text
        assert post.content == ""
        assert text.split("\n---\n", 1)[1] == "\n" + post.digest + text[url.start() :]
        assert post.digest
        assert "\n" not in post.digest
        final_form += "｜" in text
        no_links += post.page_path is None
        empty_url += post.url == ""
        no_zone += " +0800" not in text
        if post.page_path is not None:
            assert post.page_path == "/emnews/"
    assert (final_form, no_links, empty_url) == (15, 1, 1)
    assert no_zone > 0


def test_seed_imports_with_the_right_fields() -> None:
    seed = _reference_dir() / "seed" / "000_17b71b2a531e0d44.txt"
    text = seed.read_bytes().decode("utf-8")
    post = parse_post(text, seed.name)
    assert post.upstream_id == "NW202205212387234692"
    assert post.published == datetime(2022, 5, 21, 5, 12, 1, tzinfo=UTC)
    assert (post.category, post.tag, post.media, post.kind) == (
        "xinhuacaijing",
        "新华财经新闻",
        "新华财经",
        "media",
    )
    assert post.digest == ""
    assert post.content.startswith("<p>")
    assert post.content.endswith('<p class="em_media">（文章来源：新华财经）</p>')
    assert post.url == SETTINGS.share_base + "NW202205212387234692"
    assert post.page_path == "/category/xinhuacaijing.html"
    assert post.title == _TITLE_LINE.search(text)[1]  # type: ignore[index]


def test_final_form_reference_posts_round_trip_byte_for_byte() -> None:
    checked = 0
    for path in _reference_posts():
        data = path.read_bytes()
        if "｜".encode() not in data:
            continue
        name, out = _roundtrip(data.decode("utf-8"), path.name)
        assert name == path.name
        assert out == data, path.name
        checked += 1
    assert checked == 15


def test_seed_round_trips_byte_for_byte() -> None:
    seed = _reference_dir() / "seed" / "000_17b71b2a531e0d44.txt"
    data = seed.read_bytes()
    name, out = _roundtrip(data.decode("utf-8"), seed.name)
    assert name == "2022-05-21-NW202205212387234692.md"
    assert out == data


def test_seed_round_trips_without_a_stored_url() -> None:
    """A share link equal to share_base + id can also be left to the export to build."""
    seed = _reference_dir() / "seed" / "000_17b71b2a531e0d44.txt"
    data = seed.read_bytes()
    item = imported_to_item(parse_post(data.decode("utf-8"), seed.name), FETCHED)
    item = item.replace(url=None)
    _, out = render_post(item, SETTINGS, page_path(item, DEFAULT_PAGE_PATHS))
    assert out == data


# --- export → import → export is stable for any normalised item ------------------------------

_TOKENS = [
    *"央行降准。>\\\n\r {}%[]()<p/a:#-\"'　】【",
    *("javascript:", "<p>", "</p>", "　　", "---", "[x]: javascript:", "\\\\"),
]
_TEXT = st.lists(st.sampled_from(_TOKENS), max_size=30).map("".join)
_SPEC = SourceSpec(id="demo", adapter="demo", name="示例")


@settings(max_examples=300, deadline=None)
@given(
    title=_TEXT,
    summary=st.none() | _TEXT,
    content=st.none() | _TEXT,
    media=st.sampled_from([None, "示例财经", "重庆 财经"]),
    url=st.sampled_from([None, "", "http://finance.eastmoney.com/a/1.html"]),
)
def test_export_then_import_gives_the_item_back(
    title: str, summary: str | None, content: str | None, media: str | None, url: str | None
) -> None:
    raw = RawItem(
        source="demo",
        upstream_id="202403150000000099",
        title=title,
        summary=summary,
        content=content,
        url=url,
        published="2024-03-15 09:30:00",
        media=media,
    )
    item = normalize_item(raw, _SPEC, fetched_at=FETCHED)
    if isinstance(item, Dropped):
        return  # nothing to export
    name, first = render_post(item, SETTINGS, page_path(item, {}))
    post = parse_post(first.decode("utf-8"), name)
    again = imported_to_item(post, FETCHED)
    assert (again.title, again.published_at, again.category, again.tag) == (
        item.title,
        item.published_at,
        item.category,
        item.tag,
    )
    if item.digest or item.content:  # else the title stood in for the digest
        assert (again.digest, again.content) == (item.digest, item.content)
    assert render_post(again, SETTINGS, page_path(again, {})) == (name, first)


# --- one bad post costs only itself ------------------------------------------------------------


def _post(title: str, date: str, digest: str) -> str:
    return (
        f'---\nlayout: post\ntitle: "{title}"\ndate: {date}\ncategories: emnews\n'
        f"tags: 东财滚动新闻\n---\n\n{digest}\n\n<>\n\n"
        "[返回东财滚动新闻](//finews.withounder.com/emnews/)｜[返回首页](//finews.withounder.com/)"
    )


def test_import_skips_each_bad_post_with_its_reason_and_keeps_the_others(
    tmp_path: Path, db_url: str
) -> None:
    posts = tmp_path / "_posts"
    posts.mkdir()
    good = ["2024-01-01-11.md", "2024-01-02-12.md"]
    for n, name in enumerate(good):
        (posts / name).write_text(_post(f"好{n}", f"2024-01-0{n + 1} 08:00:00 +0800", "好摘要"))
    (posts / "0001-01-01-21.md").write_text(_post("早", "0001-01-01 00:00:00 +0800", "摘要"))
    (posts / "9999-12-31-22.md").write_text(_post("晚", "9999-12-31 23:59:59 -1200", "摘要"))
    (posts / "2024-01-01-23.md").write_text(_post("空", "2024-01-01 00:00:00 +0800", "摘\x00要"))
    (posts / "2024-01-01-24.md").write_bytes(b"---\nlayout: post\ntitle: \xff\n---\n")
    result = CliRunner().invoke(cli, ["--database-url", db_url, "import", "jekyll", str(posts)])
    assert result.exit_code == 0, result.output
    # the NUL is stripped as from any upstream (normalize.storable), so that post is kept
    assert "imported 3 posts (3 new, 0 updated), 0 category pages, 3 failed" in result.output
    for name in ("0001-01-01-21.md", "9999-12-31-22.md", "2024-01-01-24.md"):
        assert f"skipped {posts / name}: " in result.output
    assert "date '0001-01-01 00:00:00 +0800' is out of range" in result.output
    with open_store(db_url) as store:
        assert {i.upstream_id for i in store.items()} == {"11", "12", "23"}
        assert store.get_item("emnews", "23").digest == "摘要"  # type: ignore[union-attr]


def test_an_imported_post_is_normalised_as_a_fetched_item_is(tmp_path: Path, db_url: str) -> None:
    """The import stores each post through normalize_item: an impossible date becomes the
    import time, text is sanitised, the post's category and tag stand. The texts are taken
    as stored (a 【headline】 and indents stay), so that export → import → export is the
    same bytes."""
    posts = tmp_path / "_posts"
    posts.mkdir()
    (posts / "1985-01-01-31.md").write_text(_post("旧", "1985-01-01 08:00:00 +0800", "摘要"))
    headline_post = _post("头", "2024-01-01 08:00:00 +0800", "【标题】摘要")
    (posts / "2024-01-01-32.md").write_text(headline_post)
    body = (
        '---\nlayout: post\ntitle: "正文"\ndate: 2024-01-02 08:00:00 +0800\n'
        "categories: emnews\ntags: 东财滚动新闻\n---\n<p>　　第一段</p><script>x()</script>\n\n"
        "<>\n\n[返回东财滚动新闻](//finews.withounder.com/emnews/)｜[返回首页](//finews.withounder.com/)"
    )
    (posts / "2024-01-02-33.md").write_text(body)
    before = datetime.now(UTC)
    result = CliRunner().invoke(cli, ["--database-url", db_url, "import", "jekyll", str(posts)])
    assert result.exit_code == 0, result.output
    assert "imported 3 posts (3 new, 0 updated), 0 category pages, 0 failed" in result.output
    with open_store(db_url) as store:
        old = store.get_item("emnews", "31")
        headline = store.get_item("emnews", "32")
        indented = store.get_item("emnews", "33")
    assert old is not None
    assert headline is not None
    assert indented is not None
    # before 1990: the import time stands in, as for an upstream's impossible date
    assert old.published_at >= before.replace(microsecond=0)
    assert headline.digest == "【标题】摘要"
    assert indented.content == "<p>　　第一段</p>"  # sanitised, as stored
    assert (indented.category, indented.tag, indented.kind) == ("emnews", "东财滚动新闻", "rolling")
