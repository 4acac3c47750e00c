"""Search at scale on SQLite or PostgreSQL: index build time and size, and query latency
against a LIKE scan of the same table (the FreshRSS method).

Makes a synthetic archive of ``--items`` invented Chinese news items (three in four short
快讯 of a title and a 60–200-character digest, one in four an article with a 600–1,800-
character body; finance words, company names, stock codes, Latin terms, numbers, and random
Han characters so that character pairs are as varied as in real text). The items go in as
raw rows (``import_rows``, no index), then ``reindex`` builds the index: that is the build
time. Size is what the index's tables take in the file (``dbstat``), or on PostgreSQL
(after ``VACUUM ANALYZE``, as autovacuum would leave it) ``pg_total_relation_size``.

Latency: ``search()`` as the live app calls it (parsing, SQL, loading the page's items,
snippets), newest first, 20 hits, for each kind of query (one character, two, four, a
two-word phrase; half common words, half cut from random items' text, mostly rare), each
query several times; the index query alone (the page's ids); and the same words by
``LIKE '%…%'`` over title, digest and content, newest first, 20 rows.

    .venv/bin/python bench/search.py --items 100000
    .venv/bin/python bench/search.py --items 1000000 --runs 3
    .venv/bin/python bench/search.py --items 100000 \
        --database-url postgresql://postgres@127.0.0.1:5432/finews_bench_search
    # both engines in one run, query by query in turn, both orders (each archive built
    # first, e.g. with --build-only)
    .venv/bin/python bench/search.py --items 100000 --beside-sqlite \
        --database-url postgresql://postgres@127.0.0.1:5432/finews_bench_search
    # SQLite relevance order ranked as now and by FTS5's bm25 (before issue #6's fix), in
    # turn query by query
    .venv/bin/python bench/search.py --items 1000000 --runs 3 --relevance-rankings

The SQLite database is kept in ``$FINEWS_BENCH_WORK`` (default /tmp/finews-bench); a
PostgreSQL one is the database ``--database-url`` names, **dropped and created again** when
it is (re)built. Either is reused when it holds the asked number of items, fully indexed.
Results go to ``bench/results/search_<items>.json`` (``search_postgres_<items>.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
from psycopg import sql as pgsql
from timing import WORK, machine

import finews.derive.search as derive_search
import finews.store.search as store_search
from finews.derive import open_store
from finews.derive.search import RELEVANCE_WINDOW, SearchQuery, index_status, reindex, search
from finews.process.index import parse_query
from finews.store.times import to_db_time

RESULTS = Path(__file__).parent / "results"
START = datetime(2021, 12, 1, tzinfo=UTC)

COMPANIES = [
    "贵州茅台", "长安汽车", "比亚迪", "宁德时代", "招商银行", "中国平安", "五粮液", "隆基绿能",
    "中信证券", "东方财富", "美的集团", "格力电器", "海天味业", "恒瑞医药", "万科", "保利发展",
    "中国石化", "中国神华", "紫金矿业", "京东方", "立讯精密", "海康威视", "工业富联", "中芯国际",
    "北方华创", "中微公司", "阳光电源", "通威股份", "三一重工", "潍柴动力", "伊利股份", "牧原股份",
    "小米集团", "腾讯控股", "阿里巴巴", "美团", "拼多多", "蔚来", "理想汽车", "小鹏汽车",
]  # fmt: skip
CODES = ["600519", "000625", "002594", "300750", "600036", "601318", "000858", "601012"]
WORDS = [
    "央行", "降准", "降息", "逆回购", "证监会", "北向资金", "两市成交额", "净利润", "同比增长",
    "同比下降", "营业收入", "回购", "减持", "增持", "分红", "新能源", "半导体", "人工智能",
    "光伏", "储能", "锂电池", "消费电子", "白酒", "券商", "保险", "银行", "房地产", "楼市",
    "汇率", "人民币", "美联储", "国债", "收益率", "涨停", "跌停", "沪指", "深成指", "创业板指",
    "公告", "业绩", "预期", "市场", "板块", "资金", "政策", "监管", "投资者", "上市公司",
]  # fmt: skip
LATIN = ["ETF", "5G", "AI", "IPO", "GDP", "CPI", "PMI", "LPR", "MLF", "A股", "H股", "QFII"]
PUNCT = "，，，。；、"

#: fixed queries of common words (finance vocabulary, company names); as many again are
#: sampled from the archive's own text by :func:`sampled_queries` (mostly rare terms)
COMMON: dict[str, list[str]] = {
    "1 char": ["股", "债", "茅", "芯", "锂", "汇", "港", "汽"],
    "2 chars": ["央行", "降息", "回购", "光伏", "白酒", "汇率", "蔚来", "美团"],
    "4 chars": [
        "贵州茅台", "长安汽车", "宁德时代", "北向资金", "人工智能", "同比增长", "中信证券",
        "消费电子",
    ],
    "phrase": [
        "央行 降准", "长安汽车 销量", "白酒 分红", "半导体 涨停", "人民币 汇率", "宁德时代 储能",
        "ETF 资金", "600519 回购",
    ],
}  # fmt: skip
_HAN_RUN = re.compile(r"[\u4e00-\u9fa5]{4,}")


def sampled_queries(store: Any, count: int, seed: int = 7) -> dict[str, list[str]]:
    """Queries cut from the text of random stored items: a character, two, four, and two
    two-character words of one item (a phrase that has at least that hit)."""
    rng = random.Random(seed)
    total = store.count_items()
    found: dict[str, list[str]] = {kind: [] for kind in COMMON}
    while min(len(v) for v in found.values()) < count:
        item = store.get_item_by_id(rng.randint(1, total))
        runs = _HAN_RUN.findall(item.digest) if item is not None else []
        if len(runs) < 2:
            continue
        first, second = rng.sample(runs, 2)
        at = rng.randrange(len(first) - 3)
        picks = {
            "1 char": first[at],
            "2 chars": first[at : at + 2],
            "4 chars": first[at : at + 4],
            "phrase": f"{first[at : at + 2]} {second[:2]}",
        }
        for kind, text in picks.items():
            if len(found[kind]) < count:
                found[kind].append(text)
    return found


def _sentence(rng: random.Random) -> str:
    parts: list[str] = []
    for _ in range(rng.randint(2, 4)):
        roll = rng.random()
        if roll < 0.45:
            parts.append(rng.choice(WORDS))
        elif roll < 0.6:
            parts.append(rng.choice(COMPANIES))
        elif roll < 0.68:
            parts.append(rng.choice(LATIN))
        elif roll < 0.72:
            parts.append(rng.choice(CODES))
        else:
            parts.append(
                "".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(rng.randint(2, 6)))
            )
    parts.append(f"{rng.randint(1, 9999)}{rng.choice(['亿元', '万股', '%', '点', '个基点'])}")
    return "".join(parts) + rng.choice(PUNCT)


def _text(rng: random.Random, length: int) -> str:
    out: list[str] = []
    size = 0
    while size < length:
        sentence = _sentence(rng)
        out.append(sentence)
        size += len(sentence)
    return "".join(out)


def item_rows(count: int, seed: int = 1) -> Iterator[tuple[Any, ...]]:
    """Raw ``items`` rows (``TABLES['items']`` order), one a minute or so, oldest first."""
    rng = random.Random(seed)
    sources = ["em_fast", "emnews", "em_media", "cls", "stcn"]
    moment = START
    for n in range(1, count + 1):
        moment += timedelta(seconds=rng.randint(5, 120))
        company = rng.choice(COMPANIES)
        title = f"{company}：{rng.choice(WORDS)}{rng.choice(WORDS)}{rng.randint(1, 999)}亿元"
        digest = _text(rng, rng.randint(60, 200))
        content = f"<p>{_text(rng, rng.randint(600, 1800))}</p>" if rng.random() < 0.25 else ""
        at = to_db_time(moment)
        yield (
            n, rng.choice(sources), f"b{n:08d}", title, digest, content,
            f"https://news.example.cn/{n}.html", "财联社", "cls", "财联社新闻", "news",
            2 if rng.random() < 0.03 else 0, "", None, None, at, at, at, 1, None,
        )  # fmt: skip


def _pg_version(url: str) -> str:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else ""


def is_postgres(url: str) -> bool:
    return url.startswith(("postgresql:", "postgres:"))


def _pg_admin(url: str) -> tuple[str, str]:
    """The server's maintenance database URL and the name of the database ``url`` names."""
    split = urlsplit(url)
    name = split.path.lstrip("/")
    if not name or name in ("postgres", "template0", "template1"):
        raise SystemExit(f"--database-url must name a database of its own, not {name!r}")
    return split._replace(path="/postgres").geturl(), name


def _pg_recreate(url: str) -> None:
    admin_url, name = _pg_admin(url)
    with psycopg.connect(admin_url, autocommit=True) as admin:
        ident = pgsql.Identifier(name)
        admin.execute(pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
        admin.execute(
            pgsql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(ident)
        )


def _pg_size(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    return int(row[0]) if row else 0


def _pg_vacuum(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def _pg_statistics(url: str, target: int) -> None:
    """Set the planner statistics target of ``search_docs.terms`` (-1: the server's
    default) and analyze the table again."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            pgsql.SQL("ALTER TABLE search_docs ALTER COLUMN terms SET STATISTICS {}").format(
                pgsql.Literal(target)
            )
        )
        conn.execute("ANALYZE search_docs")


def _pg_exists(url: str) -> bool:
    admin_url, name = _pg_admin(url)
    with psycopg.connect(admin_url, autocommit=True) as admin:
        row = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    return row is not None


def build(url: str, count: int) -> dict[str, float]:
    """A database of ``count`` items with its search index; timings of each step."""
    postgres = is_postgres(url)
    if postgres:
        _pg_recreate(url)
    else:
        path = Path(url.removeprefix("sqlite:///"))
        if path.exists():
            path.unlink()
    timings: dict[str, float] = {}
    with open_store(url) as store:
        started = time.perf_counter()
        batch: list[tuple[Any, ...]] = []
        for row in item_rows(count):
            batch.append(row)
            if len(batch) == 5000:
                store.import_rows("items", batch)
                batch = []
        if batch:
            store.import_rows("items", batch)
        timings["import_s"] = time.perf_counter() - started
        before = _pg_size(url) if postgres else path.stat().st_size
        started = time.perf_counter()
        reindex(store, batch=2000)
        timings["index_s"] = time.perf_counter() - started
        if postgres:
            started = time.perf_counter()
            _pg_vacuum(url)
            timings["vacuum_analyze_s"] = time.perf_counter() - started
            timings["file_growth_bytes"] = _pg_size(url) - before
        else:
            store.query("PRAGMA wal_checkpoint(TRUNCATE)")
            timings["file_growth_bytes"] = path.stat().st_size - before
        assert index_status(store).ok
    return timings


def sizes(store: Any, url: str) -> dict[str, int]:
    """Bytes on disk of the items table and of the index's tables (``dbstat``; on
    PostgreSQL each table with its indexes and TOAST)."""
    text = store.query("SELECT SUM(LENGTH(title) + LENGTH(digest) + LENGTH(content)) FROM items")
    if is_postgres(url):
        row = store.query(
            "SELECT pg_total_relation_size('items'), pg_total_relation_size('search_docs'), "
            "pg_database_size(current_database())"
        )[0]
        return {
            "items_table_bytes": int(row[0]),
            "index_bytes": int(row[1]),
            "text_chars": int(text[0][0] or 0),
            "file_bytes": int(row[2]),
        }
    rows = store.query("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name")
    by_name = {str(name): int(size) for name, size in rows}
    index = sum(v for k, v in by_name.items() if k.startswith(("search_fts", "search_docs")))
    return {
        "items_table_bytes": by_name.get("items", 0),
        "index_bytes": index,
        "text_chars": int(text[0][0] or 0),
        "file_bytes": sum(by_name.values()),
    }


def like_ids(store: Any, text: str) -> list[int]:
    words = text.split()
    where = " AND ".join("(title LIKE ? OR digest LIKE ? OR content LIKE ?)" for _ in words)
    params: list[str] = []
    for word in words:
        params += [f"%{word}%"] * 3
    rows = store.query(
        f"SELECT id FROM items WHERE {where} ORDER BY published_at DESC, id DESC LIMIT 20",
        params,
    )
    return [int(r[0]) for r in rows]


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(store: Any, queries: dict[str, list[str]], runs: int, order: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind, texts in queries.items():
        fts: list[float] = []
        sql: list[float] = []
        like: list[float] = []
        hits: list[int] = []
        for _ in range(runs):
            for text in texts:
                started = time.perf_counter()
                results = search(store, SearchQuery(text=text, order=order, limit=20))
                fts.append(time.perf_counter() - started)
                hits.append(len(results.hits))
                query = SearchQuery(text=text, order=order, limit=20)
                started = time.perf_counter()
                derive_search._search_docs(store, parse_query(text), query, 0, 21)
                sql.append(time.perf_counter() - started)
                if order == "newest":
                    started = time.perf_counter()
                    like_ids(store, text)
                    like.append(time.perf_counter() - started)
        row: dict[str, Any] = {
            "queries": len(fts),
            "fts_p50_ms": statistics.median(fts) * 1000,
            "fts_p95_ms": percentile(fts, 0.95) * 1000,
            "sql_p50_ms": statistics.median(sql) * 1000,
            "sql_p95_ms": percentile(sql, 0.95) * 1000,
            "mean_hits": statistics.mean(hits),
        }
        if like:
            row |= {
                "like_p50_ms": statistics.median(like) * 1000,
                "like_p95_ms": percentile(like, 0.95) * 1000,
            }
            row["like_over_fts_p50"] = row["like_p50_ms"] / row["fts_p50_ms"]
            row["like_over_fts_p95"] = row["like_p95_ms"] / row["fts_p95_ms"]
        out[kind] = row
    return out


def measure_beside(
    stores: dict[str, Any], queries: dict[str, list[str]], runs: int, order: str
) -> dict[str, dict[str, Any]]:
    """:func:`measure` for several engines in one pass, without the LIKE scan: each query
    on each engine in turn, so a change in the machine's load falls on all alike; and
    whether every engine returned the same page (the same items in the same order, in
    either order: relevance is one function of the stored text on both engines)."""
    samples: dict[str, dict[str, dict[str, list[float]]]] = {
        engine: {kind: {"fts": [], "sql": [], "hits": []} for kind in queries} for engine in stores
    }
    same: dict[str, bool] = dict.fromkeys(queries, True)
    for _ in range(runs):
        for kind, texts in queries.items():
            for text in texts:
                pages = []
                for engine, store in stores.items():
                    into = samples[engine][kind]
                    query = SearchQuery(text=text, order=order, limit=20)
                    started = time.perf_counter()
                    results = search(store, query)
                    into["fts"].append(time.perf_counter() - started)
                    into["hits"].append(len(results.hits))
                    pages.append([hit.item.upstream_id for hit in results.hits])
                    started = time.perf_counter()
                    derive_search._search_docs(store, parse_query(text), query, 0, 21)
                    into["sql"].append(time.perf_counter() - started)
                same[kind] = same[kind] and all(page == pages[0] for page in pages)
    return {
        engine: {
            kind: {
                "queries": len(row["fts"]),
                "fts_p50_ms": statistics.median(row["fts"]) * 1000,
                "fts_p95_ms": percentile(row["fts"], 0.95) * 1000,
                "fts_max_ms": max(row["fts"]) * 1000,
                "sql_p50_ms": statistics.median(row["sql"]) * 1000,
                "sql_p95_ms": percentile(row["sql"], 0.95) * 1000,
                "mean_hits": statistics.mean(row["hits"]),
                "same_page_on_every_engine": same[kind],
            }
            for kind, row in kinds.items()
        }
        for engine, kinds in samples.items()
    }


def beside(sqlite_url: str, pg_url: str, items: int, runs: int, out: Path) -> None:
    """Both engines' search latency, both orders, in one run (``--beside-sqlite``)."""
    load_before = os.getloadavg()
    with open_store(sqlite_url) as lite, open_store(pg_url) as pg:
        sampled = sampled_queries(pg, len(COMMON["1 char"]))
        queries = {kind: COMMON[kind] + sampled[kind] for kind in COMMON}
        stores = {"sqlite": lite, "postgresql": pg}
        # warm the page cache as a running app would be
        measure_beside(stores, queries, 1, "newest")
        measure_beside(stores, queries, 1, "relevance")
        newest = measure_beside(stores, queries, runs, "newest")
        relevance = measure_beside(stores, queries, runs, "relevance")
        found = {"sqlite": sizes(lite, sqlite_url), "postgresql": sizes(pg, pg_url)}
    report = {
        "items": items,
        "sizes": found,
        "server_version": _pg_version(pg_url),
        "machine": machine(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "runs": runs,
        "newest": newest,
        "relevance": relevance,
        "queries": queries,
    }
    out.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    print(
        "| query | order | SQLite p50 | SQLite p95 | PostgreSQL p50 | PostgreSQL p95 | "
        "PostgreSQL max | PostgreSQL index SQL p95 | same pages |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---|")
    for order, rows in (("newest", newest), ("relevance", relevance)):
        for kind in queries:
            lite_row, pg_row = rows["sqlite"][kind], rows["postgresql"][kind]
            print(
                f"| {kind} | {order} | {lite_row['fts_p50_ms']:.2f} ms | "
                f"{lite_row['fts_p95_ms']:.2f} ms | {pg_row['fts_p50_ms']:.2f} ms | "
                f"{pg_row['fts_p95_ms']:.2f} ms | {pg_row['fts_max_ms']:.1f} ms | "
                f"{pg_row['sql_p95_ms']:.2f} ms | "
                f"{'yes' if pg_row['same_page_on_every_engine'] else 'NO'} |"
            )
    print(f"load {load_before} -> {os.getloadavg()}; wrote {out}")


def compare_windows(store: Any, windows: Sequence[int], runs: int, out: Path) -> None:
    """Relevance order with each ranking window (``RELEVANCE_WINDOW``), the windows taking
    turns query by query so that they share the machine's load; print and write p50/p95 of
    search() per kind of query."""
    import finews.derive.search as search_module

    queries = {kind: COMMON[kind] + sampled_queries(store, 8)[kind] for kind in COMMON}
    times: dict[tuple[int, str], list[float]] = {(w, k): [] for w in windows for k in queries}
    for _ in range(runs):
        for kind, texts in queries.items():
            for text in texts:
                for window in windows:
                    search_module.RELEVANCE_WINDOW = window  # type: ignore[misc]
                    started = time.perf_counter()
                    search(store, SearchQuery(text=text, order="relevance", limit=20))
                    times[window, kind].append(time.perf_counter() - started)
    result = {
        str(window): {
            kind: {
                "samples": len(times[window, kind]),
                "p50_ms": round(statistics.median(times[window, kind]) * 1000, 2),
                "p95_ms": round(percentile(times[window, kind], 0.95) * 1000, 2),
            }
            for kind in queries
        }
        for window in windows
    }
    result["load_average_after"] = list(os.getloadavg())  # type: ignore[assignment]
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False), encoding="utf-8")
    print(json.dumps(result, indent=1, ensure_ascii=False))


def _bm25_search_docs(
    store: Any, parsed: Any, query: SearchQuery, offset: int, limit: int
) -> list[tuple[int, int]]:
    """SQLite's relevance page as it was before issue #6's fix: FTS5's bm25 (with its
    corpus IDF) over the newest RELEVANCE_WINDOW matches, best first, then newest."""
    filters = store_search.Filters(query.source, query.since, query.until, query.important)
    body, doc, params = store_search._match(store, parsed.fts5(), filters)
    sql = (
        f"SELECT doc, item_id FROM (SELECT {doc} AS doc, d.item_id AS item_id, "
        f"bm25(search_fts, 3.0, 1.0, 0.2) AS score {body} ORDER BY {doc} DESC "
        f"LIMIT {RELEVANCE_WINDOW}) ORDER BY score, doc DESC LIMIT {int(limit)} "
        f"OFFSET {int(offset)}"
    )
    return [(int(r[0]), int(r[1])) for r in store.query(sql, params)]


def compare_rankings(store: Any, items: int, runs: int, out: Path) -> None:
    """Relevance order on SQLite ranked as now (the window's titles and digests, in
    Python) and as before (FTS5's bm25), query by query in turn so that both share the
    machine's load: p50/p95 of search() and of the index step alone (the page's ids), and
    how many of the top 20 the two rankings share."""
    load_before = os.getloadavg()
    sampled = sampled_queries(store, len(COMMON["1 char"]))
    queries = {kind: COMMON[kind] + sampled[kind] for kind in COMMON}
    ways = ("window", "bm25")
    times: dict[tuple[str, str, str], list[float]] = {
        (way, kind, part): [] for way in ways for kind in queries for part in ("fts", "sql")
    }
    shared: dict[str, list[int]] = {kind: [] for kind in queries}

    original = derive_search._search_docs

    def use(way: str) -> None:
        if way == "bm25":
            derive_search._search_docs = _bm25_search_docs
        else:
            derive_search._search_docs = original

    for run in range(runs + 1):  # the first run warms the page cache and is not counted
        for kind, texts in queries.items():
            for text in texts:
                query = SearchQuery(text=text, order="relevance", limit=20)
                pages = []
                for way in ways:
                    use(way)
                    started = time.perf_counter()
                    results = search(store, query)
                    took = time.perf_counter() - started
                    pages.append({hit.item.upstream_id for hit in results.hits})
                    started = time.perf_counter()
                    derive_search._search_docs(store, parse_query(text), query, 0, 21)
                    if run:
                        times[way, kind, "sql"].append(time.perf_counter() - started)
                        times[way, kind, "fts"].append(took)
                use("window")
                if run:
                    shared[kind].append(len(pages[0] & pages[1]))
    result: dict[str, Any] = {
        "items": items,
        "machine": machine(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "runs": runs,
        "relevance_window": RELEVANCE_WINDOW,
    }
    for way in ways:
        result[way] = {
            kind: {
                "samples": len(times[way, kind, "fts"]),
                "fts_p50_ms": round(statistics.median(times[way, kind, "fts"]) * 1000, 2),
                "fts_p95_ms": round(percentile(times[way, kind, "fts"], 0.95) * 1000, 2),
                "sql_p50_ms": round(statistics.median(times[way, kind, "sql"]) * 1000, 2),
                "sql_p95_ms": round(percentile(times[way, kind, "sql"], 0.95) * 1000, 2),
            }
            for kind in queries
        }
    result["top20_shared_mean"] = {k: statistics.mean(v) for k, v in shared.items()}
    result["queries"] = queries
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False), encoding="utf-8")
    print("| query | window p50 / p95 | bm25 p50 / p95 | index step: window p95 | bm25 p95 |")
    print("|---|---:|---:|---:|---:|")
    for kind in queries:
        now, before = result["window"][kind], result["bm25"][kind]
        print(
            f"| {kind} | {now['fts_p50_ms']:.1f} / {now['fts_p95_ms']:.1f} ms | "
            f"{before['fts_p50_ms']:.1f} / {before['fts_p95_ms']:.1f} ms | "
            f"{now['sql_p95_ms']:.1f} ms | {before['sql_p95_ms']:.1f} ms |"
        )
    print(f"load {load_before} -> {os.getloadavg()}; wrote {out}")


def compare_segmentations() -> None:
    """Recall and precision of other ways to index Chinese on the labelled search queries
    (``tests/data/search``; the queries without filters), against the items each should
    find. Needs ``rjieba`` importable (it is not a finews dependency: install it in a
    scratch environment and put that on ``PYTHONPATH``)."""
    import sqlite3
    import sys
    import tempfile

    import rjieba

    sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
    from finews.process.index import fold, plain_text
    from test_search import QUERIES, archive_items

    items = archive_items()
    texts = {
        it.upstream_id: fold(" ".join(plain_text(t) for t in (it.title, it.digest, it.content)))
        for it in items
    }
    queries = [q for q in QUERIES if not {"source", "since", "until", "important"} & set(q)]

    def words(text: str) -> list[str]:
        return re.findall(r"\w+", fold(text))

    def jieba(text: str) -> list[str]:
        return [w for w in rjieba.cut_for_search(text) if re.search(r"\w", w)]

    def fts(tokenizer: str, docs: dict[str, str]) -> sqlite3.Connection:
        db = sqlite3.connect(":memory:")
        db.execute(f"CREATE VIRTUAL TABLE f USING fts5(uid UNINDEXED, t, tokenize='{tokenizer}')")
        db.executemany("INSERT INTO f (uid, t) VALUES (?, ?)", docs.items())
        return db

    def matcher(db: sqlite3.Connection, split: Any) -> Any:
        def find(text: str) -> set[str]:
            terms = [t for t in split(text) if t]
            if not terms:
                return set()
            expression = " AND ".join('"' + t.replace('"', "") + '"' for t in terms)
            return {r[0] for r in db.execute("SELECT uid FROM f WHERE f MATCH ?", (expression,))}

        return find

    plain = fts("unicode61 remove_diacritics 0", texts)
    trigram = fts("trigram", texts)
    segmented = fts(
        "unicode61 remove_diacritics 0", {u: " ".join(jieba(t)) for u, t in texts.items()}
    )
    store = open_store(f"sqlite:///{tempfile.mkdtemp()}/compare.db")
    for first in range(0, len(items), 50):
        store.upsert_items(items[first : first + 50])

    def ours(text: str) -> set[str]:
        found: set[str] = set()
        offset: int | None = 0
        while offset is not None:
            page = search(store, SearchQuery(text=text, limit=200, offset=offset))
            found |= {hit.item.upstream_id for hit in page.hits}
            offset = page.next_offset
        return found

    ways = {
        "unicode61 over the text as it is": matcher(plain, words),
        "trigram (terms under 3 characters dropped)": matcher(
            trigram, lambda t: [w for w in words(t) if len(w) >= 3]
        ),
        "rjieba words (cut_for_search), queries cut the same way": matcher(
            segmented, lambda t: [w for part in words(t) for w in jieba(part)]
        ),
        "finews (bigrams, last characters, characters)": ours,
    }
    print("| index | recall | precision | queries with exactly the expected items |")
    print("|---|---:|---:|---:|")
    for name, find in ways.items():
        tp = fp = fn = exact = 0
        for query in queries:
            expected, got = set(query["expected"]), find(query["q"])
            tp, fp, fn = (
                tp + len(expected & got),
                fp + len(got - expected),
                fn + len(expected - got),
            )
            exact += got == expected
        recall, precision = tp / (tp + fn), tp / max(tp + fp, 1)
        print(f"| {name} | {recall:.3f} | {precision:.3f} | {exact}/{len(queries)} |")
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5, help="times each query is run")
    parser.add_argument("--rebuild", action="store_true", help="build even if the db exists")
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="postgresql://…/NAME: measure PostgreSQL in database NAME (dropped and created "
        "again when built); default a SQLite file in $FINEWS_BENCH_WORK",
    )
    parser.add_argument(
        "--pg-statistics",
        type=int,
        metavar="N",
        help="PostgreSQL: before measuring, set search_docs.terms' statistics target to N "
        "(-1: the server's default) and ANALYZE it",
    )
    parser.add_argument(
        "--results",
        type=Path,
        metavar="PATH",
        help="write the results here instead of bench/results/search[_postgres]_<items>.json "
        "(whose build timings are kept when the database is reused)",
    )
    parser.add_argument(
        "--beside-sqlite",
        action="store_true",
        help="with a postgresql:// --database-url: measure it and the SQLite archive of the "
        "same size in $FINEWS_BENCH_WORK in one run, query by query in turn, both orders "
        "(no LIKE scan); results in bench/results/search_beside_<items>.json",
    )
    parser.add_argument(
        "--build-only",
        action="store_true",
        help="build the database (unless it is there already) and stop, without measuring",
    )
    parser.add_argument(
        "--relevance-windows",
        type=int,
        nargs="+",
        metavar="N",
        help="measure relevance order with each of these ranking windows instead, taking "
        "turns (results in bench/results/search_relevance_windows_<items>.json)",
    )
    parser.add_argument(
        "--relevance-rankings",
        action="store_true",
        help="SQLite: measure relevance order ranked as now and with FTS5's bm25 (before "
        "issue #6's fix), taking turns (results in "
        "bench/results/search_relevance_rankings_<items>.json)",
    )
    parser.add_argument(
        "--segmentation",
        action="store_true",
        help="compare other indexings on the labelled queries instead (needs rjieba)",
    )
    args = parser.parse_args()
    if args.segmentation:
        compare_segmentations()
        return
    WORK.mkdir(parents=True, exist_ok=True)
    url = args.database_url or f"sqlite:///{WORK / f'search_{args.items}.db'}"
    postgres = is_postgres(url)
    if postgres:
        fresh = args.rebuild or not _pg_exists(url)
    else:
        fresh = args.rebuild or not Path(url.removeprefix("sqlite:///")).exists()
    timings: dict[str, float] = {}
    if not fresh:
        with open_store(url) as store:
            fresh = store.count_items() != args.items or not index_status(store).ok
    if fresh:
        timings = build(url, args.items)
        print(f"built {args.items} items: {json.dumps(timings)}", flush=True)
    if args.build_only:
        if timings:
            RESULTS.mkdir(exist_ok=True)
            out = args.results or RESULTS / (
                f"search_postgres_{args.items}.json" if postgres else f"search_{args.items}.json"
            )
            out.write_text(json.dumps({"build": timings}, indent=1), encoding="utf-8")
        return
    if args.relevance_windows:
        with open_store(url) as store:
            compare_windows(
                store,
                args.relevance_windows,
                args.runs,
                args.results or RESULTS / f"search_relevance_windows_{args.items}.json",
            )
        return
    if args.relevance_rankings:
        if postgres:
            raise SystemExit("--relevance-rankings measures SQLite (bm25 is FTS5's)")
        with open_store(url) as store:
            compare_rankings(
                store,
                args.items,
                args.runs,
                args.results or RESULTS / f"search_relevance_rankings_{args.items}.json",
            )
        return
    if args.beside_sqlite:
        if not postgres:
            raise SystemExit("--beside-sqlite needs a postgresql:// --database-url")
        lite_path = WORK / f"search_{args.items}.db"
        if not lite_path.exists():
            raise SystemExit(f"{lite_path}: build it first (without --database-url)")
        with open_store(f"sqlite:///{lite_path}") as lite:
            if lite.count_items() != args.items or not index_status(lite).ok:
                raise SystemExit(f"{lite_path}: build it first (without --database-url)")
        if args.pg_statistics is not None:
            _pg_statistics(url, args.pg_statistics)
        RESULTS.mkdir(exist_ok=True)
        out = args.results or RESULTS / f"search_beside_{args.items}.json"
        beside(f"sqlite:///{lite_path}", url, args.items, args.runs, out)
        return
    if args.pg_statistics is not None:
        if not postgres:
            raise SystemExit("--pg-statistics needs a postgresql:// --database-url")
        _pg_statistics(url, args.pg_statistics)
    with open_store(url) as store:
        found = sizes(store, url)
        sampled = sampled_queries(store, len(COMMON["1 char"]))
        queries = {kind: COMMON[kind] + sampled[kind] for kind in COMMON}
        # warm the page cache as a running app would be
        measure(store, queries, 1, "newest")
        newest = measure(store, queries, args.runs, "newest")
        relevance = measure(store, queries, max(1, args.runs // 2), "relevance")
    report = {
        "engine": "postgresql" if postgres else "sqlite",
        "server_version": _pg_version(url) if postgres else None,
        "pg_statistics": args.pg_statistics,
        "items": args.items,
        "machine": machine(),
        "load_average_after": os.getloadavg(),
        "build": timings,
        "sizes": found,
        "newest": newest,
        "relevance": relevance,
        "queries": queries,
    }
    RESULTS.mkdir(exist_ok=True)
    base = RESULTS / (
        f"search_postgres_{args.items}.json" if postgres else f"search_{args.items}.json"
    )
    out = args.results or base
    built = next((f for f in (out, base) if f.exists()), None)
    if not timings and built is not None:
        # the database was reused: keep the timings of the run that built it
        report["build"] = json.loads(built.read_text(encoding="utf-8")).get("build", {})
    out.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    print(
        "| query | search() p50 | search() p95 | index SQL p50 | index SQL p95 | "
        "LIKE p50 | LIKE p95 | LIKE/search() p95 | relevance p95 |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for kind, row in newest.items():
        print(
            f"| {kind} | {row['fts_p50_ms']:.2f} ms | {row['fts_p95_ms']:.2f} ms | "
            f"{row['sql_p50_ms']:.2f} ms | {row['sql_p95_ms']:.2f} ms | "
            f"{row['like_p50_ms']:.1f} ms | {row['like_p95_ms']:.1f} ms | "
            f"{row['like_over_fts_p95']:.0f}× | {relevance[kind]['fts_p95_ms']:.1f} ms |"
        )
    print(json.dumps(found))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
