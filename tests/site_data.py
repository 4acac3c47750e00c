"""Fixed, invented items for the site tests, and a real uvicorn server on loopback.

``site_items()`` is the archive of the golden static build: 15 items in four categories over
two Beijing days, some important, bodies in HTML, plain text or none. ``later_items()`` are
the three that arrive afterwards (two new, one published earlier than most: a backfill).
"""

from __future__ import annotations

import threading
import time
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import uvicorn

from finews.models import Item
from finews.publish.settings import SiteSettings
from finews.store import Store

with warnings.catch_warnings():
    # Starlette 1.10 prefers httpx2 for its test client; httpx works (see report)
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

__all__ = [
    "GOLDEN_SETTINGS",
    "LiveServer",
    "TestClient",
    "fill",
    "later_items",
    "parse_xml",
    "read_events",
    "site_items",
]

#: settings of the golden build: small pages so every listing has several
GOLDEN_SETTINGS = SiteSettings(base_url="/finews/", page_size=4, home_per_source=3, feed_size=5)

_START = datetime(2021, 12, 8, 1, 5, tzinfo=UTC)  # 09:05 in Beijing
_FETCHED = datetime(2021, 12, 9, 16, 0, tzinfo=UTC)

_CATEGORIES = {
    "emnews": ("eastmoney_fast", None, "东财滚动新闻"),
    "xinhuacaijing": ("eastmoney_media", "新华财经", "新华财经新闻"),
    "36ke": ("eastmoney_media", "36氪", "36氪新闻"),
    "cls": ("cls_telegraph", "财联社", "财联社电报"),
}

_TITLES = [
    "央行开展500亿元7天期逆回购操作",
    "沪指午后翻红 半导体板块领涨",
    "北向资金净买入42亿元",
    "多家银行下调存款挂牌利率",
    "人民币兑美元中间价调升85个基点",
    "证监会：进一步规范股东减持行为",
    "国常会部署推动大规模设备更新",
    "新能源车11月销量同比增长",
    "原油期货夜盘收涨2%",
    "恒指高开0.8% 科技股走强",
    "统计局：11月CPI同比上涨2.3%",
    "两市成交额连续第30个交易日破万亿",
    "美联储官员讲话偏鹰 美元指数走高",
    "A股三大指数集体收涨 创业板指涨1.2%",
    "工信部：加快推进5G应用规模化发展",
    "黄金价格小幅回落",
    "稀土板块异动拉升",
    "房地产板块午后走弱",
]

_HTML_BODY = (
    "<p>　　{title}。记者从有关方面获悉，相关工作将于近期展开。</p>"
    '<p class="em_media">（文章来源：{media}）</p>'
)


def _item(n: int, category: str, minutes: int, **overrides: Any) -> Item:
    source, media, tag = _CATEGORIES[category]
    title = _TITLES[n % len(_TITLES)]
    fields: dict[str, Any] = {
        "source": source,
        "upstream_id": f"2021120{8 + minutes // 1440}{n:012d}",
        "title": title,
        "digest": f"{title}，市场人士认为短期内政策仍将保持稳健。",
        "content": "",
        "url": f"http://finance.eastmoney.com/a/20211208{n:06d}.html",
        "media": media,
        "category": category,
        "tag": tag,
        "published_at": _START + timedelta(minutes=minutes),
        "fetched_at": _FETCHED,
    }
    if media is not None:
        fields["content"] = _HTML_BODY.format(title=title, media=media)
        fields["digest"] = ""
    fields.update(overrides)
    return Item(**fields)


def site_items() -> list[Item]:
    """The golden archive (stored in this order)."""
    plan: list[tuple[str, int, dict[str, Any]]] = [
        ("emnews", 0, {}),
        ("xinhuacaijing", 40, {}),
        ("emnews", 95, {"content": "第一段：市场情绪回暖。\n第二段：成交量放大。"}),
        ("36ke", 130, {"author": "张三"}),
        ("cls", 200, {"importance": 2}),
        ("emnews", 310, {}),
        ("xinhuacaijing", 480, {"stocks": ("600519", "000001")}),
        ("cls", 700, {}),
        ("emnews", 900, {"importance": 1}),
        ("36ke", 1000, {}),
        ("xinhuacaijing", 1500, {}),
        ("emnews", 1620, {}),
        ("cls", 1700, {"importance": 1}),
        ("emnews", 1800, {}),
        ("xinhuacaijing", 1900, {}),
    ]
    return [
        _item(n, category, minutes, **extra) for n, (category, minutes, extra) in enumerate(plan)
    ]


def later_items() -> list[Item]:
    """Three items that arrive after the golden build: two newest, one backfilled."""
    return [
        _item(15, "emnews", 2000),
        _item(16, "cls", 2010, importance=1),
        _item(17, "xinhuacaijing", 60),
    ]


def parse_xml(data: bytes | str) -> ET.Element:
    """Parse XML this project wrote (feeds under test): no untrusted input reaches it."""
    return ET.fromstring(data)  # noqa: S314 - our own output, parsed to check its shape


def fill(store: Store, items: list[Item]) -> None:
    """Store items one transaction each, in order (so ids follow the list)."""
    for item in items:
        store.upsert_items([item])


class LiveServer:
    """A uvicorn server for ``app`` on 127.0.0.1, on a free port, in a thread."""

    def __init__(self, app: Any) -> None:
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=0,
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=1,
            ws="none",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="live-server", daemon=True)
        self.url = ""

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the live server did not start")
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(15)


def read_events(lines: Iterator[str], count: int, seconds: float = 5.0) -> list[dict[str, str]]:
    """The next ``count`` events (``id``, ``event``, ``data``) of a text/event-stream whose
    lines ``lines`` yields; comments and ``retry`` fields are skipped."""
    events: list[dict[str, str]] = []
    current: dict[str, str] = {}
    deadline = time.monotonic() + seconds
    for line in lines:
        if time.monotonic() > deadline:
            break
        if line == "":
            if "event" in current or "data" in current:
                events.append(current)
                if len(events) == count:
                    break
            current = {}
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if name in ("id", "event", "data"):
            current[name] = value.removeprefix(" ")
    return events
