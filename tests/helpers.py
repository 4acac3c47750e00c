"""Small builders shared by the tests (import as ``from helpers import make_item``)."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from finews.demo.replay import demo_unserved_sources
from finews.models import Item

__all__ = ["BASE_TIME", "BEIJING", "OFFLINE_SOURCES_ENV", "make_item", "make_items"]

#: Tests never reach the internet: this environment switches off every source that is on
#: by default and that the demo upstream does not serve (sina_zhibo, ths, wallstreetcn,
#: jin10). conftest sets it for the whole run; a test that starts finews with a cleaned
#: environment adds it back.
OFFLINE_SOURCES_ENV = {
    f"FINEWS_SOURCE_{source.upper()}_ENABLED": "false" for source in demo_unserved_sources()
}

BEIJING = ZoneInfo("Asia/Shanghai")

#: 2024-03-15 09:30 in Beijing, the default time of the first item a test makes
BASE_TIME = datetime(2024, 3, 15, 1, 30, tzinfo=UTC)

# invented headlines; {n} makes each one a little different
_TITLES = (
    "央行开展{n}亿元7天期逆回购操作 利率维持不变",
    "沪指午后翻红 半导体板块领涨两市",
    "北向资金今日净买入{n}亿元 食品饮料获加仓",
    "多家银行下调存款挂牌利率 幅度为{n}个基点",
    "人民币兑美元中间价调升{n}个基点",
    "证监会：进一步规范上市公司股东减持行为",
    "国常会部署推动大规模设备更新 涉及{n}个行业",
    "新能源车{n}月销量同比增长 渗透率再创新高",
)

_counter = itertools.count(1)


def make_item(**overrides: Any) -> Item:
    """A plausible stored item; every call gets a fresh ``upstream_id`` and a time one
    minute after the previous call's. Any field can be overridden."""
    n = next(_counter)
    title = _TITLES[n % len(_TITLES)].format(n=n)
    published = BASE_TIME + timedelta(minutes=n)
    fields: dict[str, Any] = {
        "source": "eastmoney_fast",
        "upstream_id": f"20240315{n:010d}",
        "title": title,
        "digest": f"{title}。据财联社记者了解，市场人士认为短期内政策仍将保持稳健。",
        "content": "",
        "url": f"https://finance.example.cn/a/20240315{n:010d}.html",
        "media": "新华财经",
        "category": "xinhuacaijing",
        "tag": "新华财经新闻",
        "published_at": published,
        "fetched_at": published + timedelta(seconds=30),
    }
    fields.update(overrides)
    return Item(**fields)


def make_items(count: int, **overrides: Any) -> list[Item]:
    """``count`` items from :func:`make_item`, each with ``overrides``."""
    return [make_item(**overrides) for _ in range(count)]


# What the live app adds to a page that its static file cannot have: the event stream's
# attributes, the masthead's search box and the subscribe page's search feeds (a static
# host has no search to send them to).
_LIVE_ONLY = re.compile(
    rb' data-events="[^"]*" data-seq="\d+"'
    rb'|<form class="find".*?</form>\n|<section class="search-feeds".*?</section>\n',
    re.S,
)


def as_static(live_page: bytes) -> bytes:
    """A live page less what only the live app has: equal to the static build's file."""
    return _LIVE_ONLY.sub(b"", live_page)
