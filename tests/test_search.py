"""Search over the archive on both engines: one- and two-character terms, phrases, mixed
scripts, Simplified and Traditional Chinese, filters, order and pages, the index following
edits, hostile queries, snippets, each story once, the labelled queries' recall@10, and the
web routes.

The archive of the labelled queries is ``tests/data/cluster/labelled.json`` plus
``tests/data/search/extra_items.json``; the queries and the items each should find are in
``tests/data/search/queries.json``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import finews.store.search as store_search
from finews.derive import open_store
from finews.derive.search import (
    SearchQuery,
    index_status,
    query_from_params,
    reindex,
    search,
    sync_index,
)
from finews.models import Item
from finews.normalize.variant import convert
from finews.process.index import MAX_QUERY_CHARS, MAX_TERMS, QueryError, doc_terms, parse_query
from finews.publish.catalog import Catalog
from finews.publish.settings import SiteSettings
from finews.publish.web import LiveSite
from finews.store import Store
from finews.store.search import doc_base
from helpers import BASE_TIME, make_item

DATA = Path(__file__).parent / "data"
QUERIES = json.loads((DATA / "search" / "queries.json").read_text(encoding="utf-8"))["queries"]

pytestmark = pytest.mark.timeout(240)


def archive_items() -> list[Item]:
    """The labelled archive as items (upstream id = the data's id)."""
    raw = json.loads((DATA / "cluster" / "labelled.json").read_text(encoding="utf-8"))["items"]
    raw += json.loads((DATA / "search" / "extra_items.json").read_text(encoding="utf-8"))["items"]
    items = []
    for entry in raw:
        published = datetime.fromisoformat(entry["published"]).astimezone(UTC)
        items.append(
            Item(
                source=entry["source"],
                upstream_id=entry["id"],
                title=entry["title"],
                digest=entry["digest"],
                content=entry["content"],
                media=entry["media"],
                importance=entry.get("importance", 0),
                url=f"https://news.example.cn/{entry['id']}.html",
                published_at=published,
                fetched_at=published + timedelta(seconds=30),
            )
        )
    return items


def load_archive(store: Store) -> None:
    items = archive_items()
    for start in range(0, len(items), 50):
        store.upsert_items(items[start : start + 50])


def labelled_query(entry: dict[str, Any], **changes: Any) -> SearchQuery:
    params = {k: entry[k] for k in ("source", "since", "until") if k in entry}
    if entry.get("important"):
        params["important"] = "true"
    query = query_from_params({"q": entry["q"], **params})
    values = {name: getattr(query, name) for name in SearchQuery.__dataclass_fields__}
    return SearchQuery(**{**values, **changes})


def all_hits(store: Store, query: SearchQuery) -> list[str]:
    """Every hit's upstream id, page after page."""
    found: list[str] = []
    offset = 0
    while True:
        page = SearchQuery(**{**_fields(query), "offset": offset, "limit": 50})
        results = search(store, page)
        found += [hit.item.upstream_id for hit in results.hits]
        if results.next_offset is None:
            return found
        offset = results.next_offset


def _fields(query: SearchQuery) -> dict[str, Any]:
    return {name: getattr(query, name) for name in SearchQuery.__dataclass_fields__}


def ids(store: Store, text: str, **changes: Any) -> set[str]:
    return set(all_hits(store, SearchQuery(text=text, **changes)))


def fts_integrity(store: Store) -> None:
    """FTS5's own consistency check (SQLite); raises when the index is corrupt."""
    if store.url.startswith("sqlite"):  # type: ignore[attr-defined]
        store.query("INSERT INTO search_fts (search_fts, rank) VALUES ('integrity-check', 0)")


# --- terms -----------------------------------------------------------------------------


def test_bigrams_last_characters_and_words() -> None:
    terms = doc_terms("央行宣布降息", "A股、科创50ETF和５Ｇ", "")
    assert terms.title == ("央行", "行宣", "宣布", "布降", "降息", "息")
    assert terms.body == ("a", "股", "科创", "创", "50", "etf", "和", "5", "g")
    assert set(terms.chars) == set("央行宣布降息股科创和")


def test_query_clauses() -> None:
    parsed = parse_query('央 降息 长安汽 A股 股A 中证500ETF "600519.SH" 5G手机 NEAR(x) -y*')
    assert [(c.tokens, c.prefix) for c in parsed.clauses] == [
        (("央",), False),
        (("降息",), False),
        (("长安", "安汽"), False),
        (("a", "股"), True),
        (("股", "a"), False),
        (("中证", "证", "500", "etf"), False),
        (("600519", "sh"), False),
        (("5", "g", "手机"), False),
        (("near",), False),
        (("x",), False),
        (("y",), False),
    ]
    # terms with Chinese characters also match their Traditional form
    assert [[a.tokens for a in c.alternatives] for c in parsed.clauses if c.alternatives] == [
        [("長安", "安汽")],
        [("中證", "證", "500", "etf")],
        [("5", "g", "手機")],
    ]
    # every token is quoted in FTS5 and in tsquery text: nothing is an operator
    phrases = sum(len(clause.phrases()) for clause in parsed.clauses)
    assert parsed.fts5().count('"') == 2 * phrases


def test_query_in_either_script() -> None:
    simplified = parse_query("东方财富")
    assert simplified.fts5() == '("东方 方财 财富" OR "東方 方財 財富")'
    assert simplified.tsquery() == (
        "(('东方' <-> '方财' <-> '财富') | ('東方' <-> '方財' <-> '財富'))"
    )
    assert simplified.needles == ("东方财富", "東方財富")
    traditional = parse_query("東方財富")
    assert set(traditional.clauses[0].phrases()) == set(simplified.clauses[0].phrases())
    # one term, whichever script it is written in
    assert len(parse_query("東方財富 东方财富").clauses) == 1
    # Traditional as OpenCC, Taiwan and Hong Kong write it
    assert {tokens for tokens, _ in parse_query("台积电").clauses[0].phrases()} == {
        ("台积", "积电"),
        ("臺積", "積電"),
        ("台積", "積電"),
    }
    # a lone last character stays a prefix in every form
    assert parse_query("ETF資").clauses[0].phrases() == (
        (("etf", "資"), True),
        (("etf", "资"), True),
    )
    # the same in both scripts, or no Chinese at all: nothing added
    assert parse_query("央行 ETF 600519.SH").fts5() == '"央行" AND "etf" AND "600519 sh"'
    assert parse_query("東方財富", match_variants=False).fts5() == '"東方 方財 財富"'


def test_query_without_chinese_does_not_load_opencc() -> None:
    code = (
        "import sys; from finews.process.index import parse_query; "
        "parse_query('ETF 600519.SH Tesla café 5G'); print('opencc' in sys.modules)"
    )
    ran = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert ran.stdout.strip() == "False"


@pytest.mark.parametrize("text", ["", "   ", "！？。", "***", '"', "--", "()", "\x00"])
def test_query_with_nothing_to_search_is_refused(text: str) -> None:
    with pytest.raises(QueryError, match="no letter, digit or Chinese character"):
        parse_query(text)


def test_too_long_query_is_refused_with_the_limit() -> None:
    with pytest.raises(QueryError, match=f"at most {MAX_QUERY_CHARS}"):
        parse_query("央行" * 150)


def test_doc_ids_order_as_time() -> None:
    assert doc_base(BASE_TIME + timedelta(seconds=1)) == doc_base(BASE_TIME) + 256
    assert doc_base(BASE_TIME + timedelta(milliseconds=999)) == doc_base(BASE_TIME)
    assert doc_base(datetime(1990, 1, 1, tzinfo=UTC)) < doc_base(BASE_TIME)


def test_items_of_one_second_keep_their_order(store: Store) -> None:
    items = [
        make_item(upstream_id=f"q{n}", title=f"同一秒{n}号", published_at=BASE_TIME)
        for n in range(300)
    ]
    store.upsert_items(items)
    assert all_hits(store, SearchQuery(text="同一秒")) == [f"q{n}" for n in reversed(range(300))]
    # the 257th and later items of one second take the next second's slots: still in order
    later = make_item(
        upstream_id="late", title="同一秒之后", published_at=BASE_TIME + timedelta(seconds=1)
    )
    store.upsert_items([later])
    assert all_hits(store, SearchQuery(text="同一秒"))[:2] == ["late", "q299"]
    # (and a date range counts them in that next second)
    until = BASE_TIME + timedelta(seconds=1)
    assert ids(store, "同一秒", until=until) == {f"q{n}" for n in range(256)}


# --- behaviour on both engines ----------------------------------------------------------


@pytest.fixture
def small(store: Store) -> Store:
    items = [
        make_item(upstream_id="a", title="央行宣布降息", digest="央行今日宣布降息25个基点。"),
        make_item(upstream_id="b", title="央行，降息预期升温", digest="市场人士认为仍有空间。"),
        make_item(upstream_id="c", title="长安汽车8月销量增长", digest="长安汽车公布产销快报。"),
        make_item(
            upstream_id="d",
            title="西安长安区发布购房补贴",
            digest="购买新房给予补贴，汽车消费券同步发放。",
        ),
        make_item(
            upstream_id="e", title="科创50ETF成交放量", digest="科创50ETF、沪深300ETF获资金流入。"
        ),
        make_item(
            upstream_id="f", title="贵州茅台（600519.SH）发布公告", digest="600519盘中涨超5%。"
        ),
        make_item(
            upstream_id="g", title="5G-A商用加速", digest="运营商推出5G手机套餐，A股通信板块走强。"
        ),
        make_item(
            upstream_id="h", title="Netflix股价上涨", digest="NEXT财年展望乐观。", source="other"
        ),
        make_item(upstream_id="i", title="铜价走高", digest="沪铜主力合约涨2%。", importance=1),
    ]
    store.upsert_items(items)
    return store


def test_two_characters_inside_a_longer_run(small: Store) -> None:
    assert ids(small, "降息") == {"a", "b"}
    assert ids(small, "宣布") == {"a"}
    # no bigram is made across the comma of 央行，降息
    assert ids(small, "行降") == set()


def test_single_characters(small: Store) -> None:
    assert ids(small, "铜") == {"i"}
    assert ids(small, "息") == {"a", "b"}  # a run's last character
    assert ids(small, "央") == {"a", "b"}  # a run's first character


def test_phrase_keeps_its_characters_together(small: Store) -> None:
    assert ids(small, "长安汽车") == {"c"}
    assert ids(small, "长安") == {"c", "d"}
    assert ids(small, "长安 汽车") == {"c", "d"}  # two words, anywhere
    assert ids(small, '"长安 汽车"') == {"c"}  # quoted: together, as written in Chinese


def test_mixed_scripts(small: Store) -> None:
    assert ids(small, "ETF") == {"e"}
    assert ids(small, "ｅｔｆ") == {"e"}
    assert ids(small, "沪深300ETF") == {"e"}
    assert ids(small, "600519") == {"f"}
    assert ids(small, "600519.SH") == {"f"}
    assert ids(small, "5G") == {"g"}
    assert ids(small, "5G手机") == {"g"}
    assert ids(small, "A股") == {"g"}
    # whole words only: "xt" is not in NEXT, "flix" not in Netflix
    assert ids(small, "xt") == set()
    assert ids(small, "netflix") == {"h"}


@pytest.fixture
def scripts(store: Store) -> Store:
    """The same names in Simplified and in Traditional (OpenCC's, Taiwan's, Hong Kong's)."""
    items = [
        make_item(upstream_id="s1", title="东方财富发布半年报", digest="东方财富营业收入增长。"),
        make_item(upstream_id="t1", title="東方財富發佈半年報", digest="東方財富營業收入增長。"),
        make_item(upstream_id="x", title="东方航空与财富管理", digest="两家公司签约。"),
        make_item(upstream_id="e", title="东方财富ETF获资金流入", digest="规模创新高。"),
        make_item(upstream_id="tw", title="台積電法說會", digest="台積電為全球最大晶圓代工廠。"),
        make_item(upstream_id="std", title="臺積電公佈營收", digest="市場關注。"),
        make_item(
            upstream_id="cn", title="台积电业绩说明会", digest="台积电为全球最大晶圆代工厂。"
        ),
    ]
    store.upsert_items(items)
    return store


def test_traditional_query_finds_simplified_items_and_the_reverse(scripts: Store) -> None:
    assert ids(scripts, "東方財富") == {"s1", "t1", "e"}
    assert ids(scripts, "东方财富") == {"s1", "t1", "e"}
    assert ids(scripts, "發佈") == {"s1", "t1"}
    assert ids(scripts, "发布") == {"s1", "t1"}
    assert ids(scripts, "台积电") == {"tw", "std", "cn"}
    assert ids(scripts, "臺積電") == {"tw", "std", "cn"}
    assert ids(scripts, "为全球") == {"tw", "cn"}
    # one character (the chars field), and words in two scripts in one query
    assert ids(scripts, "財") == {"s1", "t1", "x", "e"}
    assert ids(scripts, "東方 管理") == {"x"}
    assert ids(scripts, "东方财富 營業收入") == {"s1", "t1"}


def test_phrases_across_scripts(scripts: Store) -> None:
    assert ids(scripts, '"東方 財富"') == {"s1", "t1", "e"}  # together, as in Chinese
    assert ids(scripts, "東方 財富") == {"s1", "t1", "x", "e"}  # two words, anywhere
    assert ids(scripts, "東方財富發佈半年報") == {"s1", "t1"}
    assert ids(scripts, "東方財") == {"s1", "t1", "e"}  # the text may go on


def test_mixed_query_in_either_script(scripts: Store) -> None:
    assert ids(scripts, "東方財富ETF") == {"e"}
    assert ids(scripts, "ETF 東方財富") == {"e"}
    assert ids(scripts, "ETF獲") == {"e"}  # 获资金: a lone last character is a prefix
    assert ids(scripts, "ETF 東方航空") == set()


def test_snippets_mark_the_form_the_text_has(scripts: Store) -> None:
    hits = {h.item.upstream_id: h for h in search(scripts, SearchQuery(text="東方財富")).hits}
    assert str(hits["s1"].title_html) == "<mark>东方财富</mark>发布半年报"
    assert str(hits["t1"].title_html) == "<mark>東方財富</mark>發佈半年報"
    assert str(hits["s1"].snippet_html) == "<mark>东方财富</mark>营业收入增长。"
    assert str(hits["t1"].snippet_html) == "<mark>東方財富</mark>營業收入增長。"
    found = search(scripts, SearchQuery(text="台积电 为"))
    marked = {h.item.upstream_id: str(h.snippet_html) for h in found.hits}
    # (hits next to each other are one mark)
    assert marked == {
        "tw": "<mark>台積電為</mark>全球最大晶圓代工廠。",
        "cn": "<mark>台积电为</mark>全球最大晶圆代工厂。",
    }


TRADITIONAL_HOSTILE = [
    '"東方財富',
    "東方財富*",
    "東方財富 OR 央行",
    "NEAR(東方財富 發佈, 2)",
    "東方財富'; DROP TABLE items; --",
    "東方財富 & 發佈 | !財富 <-> x",
    "\\東方財富\\",
    "'東方財富':*",
    "🚀東方財富🚀",
    "東方財富\x00發佈",
    "東方財富發佈半年報" * 22,  # 198 characters: one long phrase, in three scripts
]


@pytest.mark.parametrize("text", TRADITIONAL_HOSTILE)
def test_hostile_queries_in_traditional(scripts: Store, text: str) -> None:
    results = search(scripts, SearchQuery(text=text, order="relevance"))
    assert {h.item.upstream_id for h in results.hits} <= {"s1", "t1", "e"}


def test_long_traditional_queries_are_clear_errors(scripts: Store) -> None:
    with pytest.raises(QueryError, match=f"at most {MAX_QUERY_CHARS}"):
        search(scripts, SearchQuery(text="東方財富" * 51))
    words = "东方 财富 发布 营业 收入 增长 台湾 积电 说会 全球 最大 晶圆 代工 航空 管理 公司 签约"
    assert len(words.split()) == MAX_TERMS + 1
    with pytest.raises(QueryError, match=f"at most {MAX_TERMS}"):
        search(scripts, SearchQuery(text=convert(words, "hant")))


def test_filters(small: Store) -> None:
    everything = ids(small, "央行")
    assert everything == {"a", "b"}
    assert ids(small, "股", source="other") == {"h"}
    assert ids(small, "涨", important=True) == {"i"}
    assert ids(small, "涨", important=False) == {"f", "h"}
    a = small.get_item("eastmoney_fast", "a")
    b = small.get_item("eastmoney_fast", "b")
    assert a is not None
    assert b is not None
    assert ids(small, "央行", since=b.published_at) == {"b"}
    assert ids(small, "央行", until=b.published_at) == {"a"}
    assert ids(small, "央行", since=a.published_at, until=b.published_at) == {"a"}


def test_newest_first_and_pages(small: Store) -> None:
    hits = search(small, SearchQuery(text="涨", limit=2))
    assert [h.item.upstream_id for h in hits.hits] == ["i", "h"]
    assert hits.more
    assert hits.next_offset == 2
    rest = search(small, SearchQuery(text="涨", limit=2, offset=2))
    assert [h.item.upstream_id for h in rest.hits] == ["f"]
    assert rest.next_offset is None
    assert search(small, SearchQuery(text="涨", offset=10)).hits == ()


def test_relevance_order_puts_the_title_hit_first(small: Store) -> None:
    results = search(small, SearchQuery(text="长安汽车", order="relevance"))
    assert [h.item.upstream_id for h in results.hits] == ["c"]
    results = search(small, SearchQuery(text="汽车", order="relevance"))
    assert [h.item.upstream_id for h in results.hits] == ["c", "d"]


def test_relevance_ranks_title_then_digest_then_body_newest_first_among_equals(
    store: Store,
) -> None:
    """Made oldest first, so newest-first order is the reverse of the ranked one: a title
    hit beats a newer digest hit, which beats newer hits further down in the text; equal
    scores go newest first (on both engines: ``store`` runs on each)."""
    items = [
        make_item(upstream_id="title", title="央行宣布降准", digest="释放长期资金。"),
        make_item(upstream_id="digest", title="午间要闻", digest="央行宣布开展买断式逆回购。"),
        make_item(
            upstream_id="body-old",
            title="收盘点评",
            digest="沪指震荡走高。",
            content="<p>两市成交额放大。</p><p>央行今日开展逆回购操作。</p>",
        ),
        make_item(
            upstream_id="body-new",
            title="早盘速递",
            digest="创业板指涨超1%。",
            content="<p>券商板块走强。</p><p>央行公开市场净投放。</p>",
        ),
        # a title in full width and capitals, and a later one where etf only ends a word
        make_item(upstream_id="wide", title="科创５０ＥＴＦ成交放量", digest="资金流入。"),
        make_item(
            upstream_id="netflix",
            title="Netflix股价上涨",
            digest="美股科技股走强。",
            content="<p>相关ETF同步上涨。</p>",
        ),
        # an item without a digest is ranked by the start of its text
        make_item(
            upstream_id="lead",
            title="晚间公告",
            digest="",
            content="<p>财联社11月26日电，央行决定下调存款准备金率0.5个百分点。</p>",
        ),
    ]
    store.upsert_items(items)
    ranked = [
        h.item.upstream_id for h in search(store, SearchQuery(text="央行", order="relevance")).hits
    ]
    newest = all_hits(store, SearchQuery(text="央行"))
    assert newest == ["lead", "body-new", "body-old", "digest", "title"]
    assert ranked == ["title", "digest", "lead", "body-new", "body-old"]
    ranked = [
        h.item.upstream_id for h in search(store, SearchQuery(text="ETF", order="relevance")).hits
    ]
    assert ranked == ["wide", "netflix"]
    assert all_hits(store, SearchQuery(text="ETF")) == ["netflix", "wide"]
    # every term counts: both in the title beats one in the title, newer
    store.upsert_items(
        [
            make_item(upstream_id="both", title="央行降息", digest="利率下调。"),
            make_item(upstream_id="one", title="央行公告", digest="下调存款利率，即降息。"),
        ]
    )
    ranked = [
        h.item.upstream_id
        for h in search(store, SearchQuery(text="央行 降息", order="relevance")).hits
    ]
    assert ranked == ["both", "one"]
    assert all_hits(store, SearchQuery(text="央行 降息")) == ["one", "both"]


def test_edits_are_reflected(store: Store) -> None:
    item = make_item(upstream_id="x1", title="比亚迪发布新车型", digest="售价十万元。")
    store.upsert_items([item])
    assert ids(store, "比亚迪") == {"x1"}
    store.upsert_items([item.replace(title="蔚来发布新车型", digest="售价二十万元。")])
    assert ids(store, "比亚迪") == set()
    assert ids(store, "蔚来") == {"x1"}
    assert ids(store, "二十万") == {"x1"}
    # the published time moved: the date filter follows it
    later = item.published_at + timedelta(days=3)
    store.upsert_items([item.replace(title="蔚来发布新车型", published_at=later)])
    assert ids(store, "蔚来", since=later) == {"x1"}
    assert ids(store, "蔚来", until=later) == set()
    fts_integrity(store)
    assert index_status(store).ok


def test_item_written_twice_in_one_batch(store: Store) -> None:
    first = make_item(upstream_id="t2", title="第一版标题", digest="")
    store.upsert_items([first, first.replace(title="第二版标题")])
    assert ids(store, "第二版") == {"t2"}
    assert ids(store, "第一版") == set()
    fts_integrity(store)


HOSTILE = [
    '"',
    '"央行',
    "央行*",
    "* 央行",
    "NEAR(央行 降息, 2)",
    "央行 OR 降息",
    "央行 AND NOT 降息",
    "-央行",
    "(央行",
    "央行)",
    "title:央行",
    "{title}: 央行",
    "^央行",
    "央行'; DROP TABLE items; --",
    "50% 央行",
    "央行_降息",
    "\\央行\\",
    "'央行':*",
    "央行 & 降息 | !降息 <-> x",
    "🚀央行🚀",
    "央行\x00降息",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_queries_answer_results_or_say_why_not(small: Store, text: str) -> None:
    if "央" not in text:
        with pytest.raises(QueryError, match="search for"):
            search(small, SearchQuery(text=text, order="relevance"))
        return
    results = search(small, SearchQuery(text=text, order="relevance"))
    assert all("央" in h.item.title + h.item.digest for h in results.hits)


def test_very_long_query_is_a_clear_error(small: Store) -> None:
    with pytest.raises(QueryError, match="at most"):
        search(small, SearchQuery(text="央行" * 5000))


@pytest.fixture(scope="module")
def property_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    store = open_store(f"sqlite:///{tmp_path_factory.mktemp('prop') / 'p.db'}")
    store.upsert_items([make_item(upstream_id=f"p{n}") for n in range(5)])
    try:
        yield store
    finally:
        store.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=60))
def test_any_text_is_results_or_a_query_error(property_store: Store, text: str) -> None:
    try:
        results = search(property_store, SearchQuery(text=text, order="relevance"))
    except QueryError as exc:
        assert str(exc)  # noqa: PT017 - any QueryError is fine; it must say something
        return
    assert len(results.hits) <= 5


def test_bad_query_values_are_query_errors() -> None:
    for params, word in (
        ({"q": "x", "order": "oldest"}, "order"),
        ({"q": "x", "limit": "0"}, "limit"),
        ({"q": "x", "limit": "１０"}, "limit"),
        ({"q": "x", "offset": "-1"}, "offset"),
        ({"q": "x", "since": "yesterday"}, "since"),
        ({"q": "x", "important": "maybe"}, "important"),
        ({"q": "x", "since": "2024-09-02", "until": "2024-09-01"}, "since"),
        ({"q": ""}, "q"),
    ):
        with pytest.raises(QueryError, match=word):
            query_from_params(params)
    query = query_from_params({"q": "央行", "until": "2024-09-02"})
    assert query.until == datetime(2024, 9, 2, 16, 0, tzinfo=UTC)  # the day ends 24:00 Beijing


def test_snippets_mark_hits_and_escape_everything_else(store: Store) -> None:
    store.upsert_items(
        [
            make_item(
                upstream_id="s1",
                title="<script>alert(1)</script>央行 & 银行",
                digest="前文" * 60 + "央行宣布降息，<b>市场</b>反应积极" + "后文" * 60,
            )
        ]
    )
    hit = search(store, SearchQuery(text="央行 降息")).hits[0]
    assert str(hit.title_html) == (
        "&lt;script&gt;alert(1)&lt;/script&gt;<mark>央行</mark> &amp; 银行"
    )
    snippet = str(hit.snippet_html)
    assert snippet.startswith("…")
    assert snippet.endswith("…")
    assert "<mark>央行</mark>宣布<mark>降息</mark>" in snippet
    assert "<b>" not in snippet
    assert "<script" not in snippet


def test_each_story_once(store: Store) -> None:
    first = make_item(
        upstream_id="c1",
        title="央行开展4053亿元7天期逆回购操作",
        digest="财联社9月2日电，央行公告称，9月2日开展了4053亿元7天期逆回购操作，中标利率为1.70%。",
    )
    copy = first.replace(
        upstream_id="c2",
        digest="央行公告称，9月2日开展了4053亿元7天期逆回购操作，中标利率为1.70%。东财快讯",
        published_at=first.published_at + timedelta(minutes=1),
    )
    other = make_item(upstream_id="c3", title="央行：近期将下调存款准备金率0.5个百分点")
    store.upsert_items([first, copy, other])
    every = search(store, SearchQuery(text="央行"))
    assert [h.item.upstream_id for h in every.hits] == ["c3", "c2", "c1"]
    assert {h.item.upstream_id: h.copies for h in every.hits} == {"c1": 1, "c2": 1, "c3": 0}
    once = search(store, SearchQuery(text="央行", dedupe=True))
    assert [h.item.upstream_id for h in once.hits] == ["c3", "c1"]
    # a later report stands for its story when the earlier one does not match
    only_copy = search(store, SearchQuery(text="东财快讯", dedupe=True))
    assert [h.item.upstream_id for h in only_copy.hits] == ["c2"]


def test_reindex_and_sync(store: Store) -> None:
    store.upsert_items(
        [make_item(upstream_id=f"r{n}", title=f"第{n}号降息预期") for n in range(30)]
    )
    before = ids(store, "降息")
    assert len(before) == 30
    assert reindex(store, batch=7) == 30
    assert ids(store, "降息") == before
    fts_integrity(store)
    assert sync_index(store) == 0
    status = index_status(store)
    assert (status.items, status.indexed, status.stale, status.ok) == (30, 30, 0, True)


def test_copied_items_are_indexed_by_sync(tmp_path: Path, store: Store) -> None:
    from finews.derive.copy import copy_db

    store.upsert_items([make_item(upstream_id=f"k{n}", title="降息预期升温") for n in range(5)])
    with open_store(f"sqlite:///{tmp_path / 'copy.db'}") as copied:
        copy_db(store, copied)
        assert ids(copied, "降息") == set()
        assert not index_status(copied).ok
        assert sync_index(copied) == 5
        assert len(ids(copied, "降息")) == 5
        assert index_status(copied).ok


# --- the labelled queries ---------------------------------------------------------------


def recall_at_10(store: Store) -> tuple[float, list[str]]:
    total = 0.0
    misses = []
    for entry in QUERIES:
        top = search(store, labelled_query(entry, order="relevance", limit=10))
        found = {hit.item.upstream_id for hit in top.hits}
        expected = set(entry["expected"])
        value = len(found & expected) / min(len(expected), 10) if expected else 1.0
        total += value
        if value < 1:
            misses.append(f"{entry['q']!r}: {value:.2f}")
    return total / len(QUERIES), misses


def test_labelled_queries_recall_at_10_and_exact_hits(store: Store) -> None:
    assert len(QUERIES) >= 50
    load_archive(store)
    recall, misses = recall_at_10(store)
    assert recall >= 0.95, misses
    for entry in QUERIES:
        found = all_hits(store, labelled_query(entry))
        assert sorted(found) == entry["expected"], entry["q"]
        # the archive is Simplified: the query in Traditional finds the very same items
        traditional = convert(entry["q"], "hant")
        assert all_hits(store, labelled_query({**entry, "q": traditional})) == found, traditional
    fts_integrity(store)


@pytest.mark.postgres
def test_both_engines_give_the_same_hits(sqlite_url: str, pg_url: str) -> None:
    with open_store(sqlite_url) as lite, open_store(pg_url) as pg:
        load_archive(lite)
        load_archive(pg)
        for entry in QUERIES:
            newest = labelled_query(entry)
            assert all_hits(lite, newest) == all_hits(pg, newest), entry["q"]
            # relevance is one function of the stored text on both: the same order
            ranked = labelled_query(entry, order="relevance")
            assert all_hits(lite, ranked) == all_hits(pg, ranked), entry["q"]
            once = labelled_query(entry, dedupe=True)
            assert all_hits(lite, once) == all_hits(pg, once), entry["q"]
            traditional = labelled_query({**entry, "q": convert(entry["q"], "hant")})
            assert all_hits(lite, traditional) == all_hits(pg, traditional), entry["q"]
            ranked = labelled_query({**entry, "q": convert(entry["q"], "hant")}, order="relevance")
            assert all_hits(lite, ranked) == all_hits(pg, ranked), entry["q"]
        for text in HOSTILE[1:] + TRADITIONAL_HOSTILE:
            query = SearchQuery(text=text)
            assert all_hits(lite, query) == all_hits(pg, query), text


@pytest.mark.postgres
def test_rare_and_common_terms_newest_first_on_both_engines(
    sqlite_url: str, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL finds a page in steps (the newest documents tested one by one; else at
    most so many matches from the term index; else older documents): with tiny steps, a
    common term, a rare one and one common only long ago each take a different step, and
    every page, filter and order is SQLite's and the expected one."""
    rare = (5, 41, 77, 200)
    items = []
    for n in range(240):
        words = ["锂矿" if n % 2 == 0 else "铜箔"]
        if n in rare:
            words.append("稀土")
        if n < 120 and n % 2 == 1:
            words.append("钴业")
        items.append(
            make_item(
                upstream_id=f"s{n:03d}",
                title=f"第{n}号{'、'.join(words)}公告",
                source="other" if n % 4 == 0 else "eastmoney_fast",
                importance=1 if n % 5 == 0 else 0,
            )
        )
    with open_store(sqlite_url) as lite, open_store(pg_url) as pg:
        lite.upsert_items(items)
        pg.upsert_items(items)
        monkeypatch.setattr(store_search, "PG_WALK", 4)
        monkeypatch.setattr(store_search, "PG_RARE", 3)
        middle = items[120].published_at
        cases: list[tuple[str, dict[str, Any], Any]] = [
            ("锂矿", {}, lambda n: n % 2 == 0),
            ("稀土", {}, lambda n: n in rare),
            ("钴业", {}, lambda n: n < 120 and n % 2 == 1),
            ("公告", {}, lambda n: True),
            ("锂矿", {"source": "other"}, lambda n: n % 4 == 0),
            ("钴业", {"important": True}, lambda n: n < 120 and n % 10 == 5),
            ("稀土", {"important": False}, lambda n: n in (41, 77)),
            ("锂矿", {"until": middle}, lambda n: n < 120 and n % 2 == 0),
            ("稀土", {"since": middle}, lambda n: n == 200),
            (
                "钴业",
                {"since": items[10].published_at, "until": middle},
                lambda n: 10 <= n < 120 and n % 2 == 1,
            ),
        ]
        for text, filters, wanted in cases:
            expected = [it.upstream_id for n, it in reversed(list(enumerate(items))) if wanted(n)]
            query = SearchQuery(text=text, **filters)
            assert all_hits(lite, query) == expected, (text, filters)
            assert all_hits(pg, query) == expected, (text, filters)
            for offset, limit in ((0, 1), (0, 3), (2, 3), (9, 5), (len(expected), 2)):
                page = SearchQuery(text=text, offset=offset, limit=limit, **filters)
                got = [h.item.upstream_id for h in search(pg, page).hits]
                assert got == expected[offset : offset + limit], (text, filters, offset)
                assert got == [h.item.upstream_id for h in search(lite, page).hits]
            ranked = SearchQuery(text=text, order="relevance", **filters)
            assert sorted(all_hits(pg, ranked)) == sorted(expected), (text, filters)
            assert all_hits(lite, ranked) == all_hits(pg, ranked), (text, filters)


# --- the web routes -----------------------------------------------------------------------


@pytest.fixture
def client(small: Store) -> Iterator[Any]:
    from starlette.applications import Starlette

    from finews.publish.search_routes import routes
    from site_data import TestClient

    app = Starlette(routes=routes)
    settings = SiteSettings(base_url="https://finews.example.org/", feed_size=5)
    app.state.site = LiveSite(small, settings, Catalog.scan(small, settings.page_size))
    with TestClient(app) as test_client:
        yield test_client


def test_search_page(client: Any) -> None:
    page = client.get("/search", params={"q": "长安汽车"})
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "<mark>长安汽车</mark>" in page.text
    traditional = client.get("/search", params={"q": "長安汽車"})
    assert traditional.status_code == 200
    assert "<mark>长安汽车</mark>" in traditional.text
    assert 'href="https://finews.example.org/search.xml?q=' in page.text
    assert client.get("/search").status_code == 200  # the empty form
    bad = client.get("/search", params={"q": "央行", "limit": "many"})
    assert bad.status_code == 400
    assert "limit" in bad.text
    long = client.get("/search", params={"q": "央" * 1000})
    assert long.status_code == 400
    assert "at most" in long.text
    twice = client.get("/search?q=a&q=b")
    assert twice.status_code == 400


def test_search_api(client: Any) -> None:
    reply = client.get("/api/search", params={"q": "降息", "order": "relevance"})
    assert reply.status_code == 200
    body = reply.json()
    assert {hit["upstream_id"] for hit in body["hits"]} == {"a", "b"}
    assert "<mark>降息</mark>" in body["hits"][0]["snippet_html"] + body["hits"][0]["title_html"]
    assert body["next_offset"] is None
    for params in ({}, {"q": " "}, {"q": "降息", "offset": "x"}, {"q": "!!!"}):
        error = client.get("/api/search", params=params)
        assert error.status_code == 400
        assert error.json()["error"]


def test_search_feed(client: Any) -> None:
    reply = client.get("/search.xml", params={"q": "降息"})
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("application/atom+xml")
    assert "搜索：降息" in reply.text
    assert reply.text.count("<entry>") == 2
    assert client.get("/search.xml").status_code == 400


# --- the command line ---------------------------------------------------------------------


def test_search_and_reindex_commands(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from finews.cli import cli
    from finews.search_cli import commands

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    with open_store(url) as store:
        store.upsert_items(
            [
                make_item(
                    upstream_id="m1", title="央行宣布降准", digest="央行决定下调存款准备金率。"
                ),
                make_item(upstream_id="m2", title="铜价走高", digest="沪铜主力合约上涨。"),
                make_item(upstream_id="m3", title="东方财富发布公告", digest="东方财富公告。"),
            ]
        )
    added = [c for c in commands if c.name not in cli.commands]
    for command in added:  # the lead registers finews.search_cli in finews.cli
        cli.add_command(command)
    try:
        runner = CliRunner()
        found = runner.invoke(cli, ["--database-url", url, "search", "央行", "--json"])
        assert found.exit_code == 0, found.output
        body = json.loads(found.output)
        assert [hit["upstream_id"] for hit in body["hits"]] == ["m1"]
        assert "<mark>央行</mark>" in body["hits"][0]["title_html"]
        text = runner.invoke(cli, ["--database-url", url, "search", "降准", "--order", "relevance"])
        assert text.exit_code == 0
        assert "央行宣布降准" in text.output
        either = runner.invoke(cli, ["--database-url", url, "search", "東方財富", "--json"])
        assert either.exit_code == 0, either.output
        hits = json.loads(either.output)["hits"]
        assert [hit["upstream_id"] for hit in hits] == ["m3"]
        assert "<mark>东方财富</mark>" in hits[0]["title_html"]
        plain = runner.invoke(cli, ["--database-url", url, "search", "東方財富"])
        assert plain.exit_code == 0
        assert "东方财富发布公告" in plain.output
        empty = runner.invoke(cli, ["--database-url", url, "search", "!!!"])
        assert empty.exit_code == 2
        assert "no letter, digit or Chinese character" in empty.output
        rebuilt = runner.invoke(cli, ["--database-url", url, "reindex"])
        assert rebuilt.exit_code == 0, rebuilt.output
        assert "indexed 3 items" in rebuilt.output
    finally:
        for command in added:
            del cli.commands[str(command.name)]


def test_search_command_counts_other_reports_in_good_english(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from finews.cli import cli

    url = f"sqlite:///{tmp_path / 'copies.db'}"
    first = make_item(
        upstream_id="r1",
        title="央行开展4053亿元7天期逆回购操作",
        digest="财联社9月2日电，央行公告称，9月2日开展了4053亿元7天期逆回购操作。",
    )
    copy = first.replace(
        upstream_id="r2",
        digest="央行公告称，9月2日开展了4053亿元7天期逆回购操作。东财快讯",
        published_at=first.published_at + timedelta(minutes=1),
    )
    with open_store(url) as store:
        store.upsert_items([first, copy])
    found = CliRunner().invoke(cli, ["--database-url", url, "search", "逆回购"])
    assert found.exit_code == 0, found.output
    assert "(+1 other report)" in found.output
    assert "other reports" not in found.output
