"""Synthetic 7x24 items that the demo upstream "publishes" while the demo runs.

The headlines are invented templates filled with varying numbers; nothing here is real
news. Each published item has the exact shape of an East Money fast-news entry.
"""

from __future__ import annotations

import itertools
import random
import threading
from datetime import datetime, timedelta, timezone
from typing import Any

__all__ = ["LiveFeed"]

_BEIJING = timezone(timedelta(hours=8))

_TEMPLATES = (
    (
        "北向资金午后净流入{a}亿元",
        "北向资金午后加速流入，截至发稿净流入{a}亿元，食品饮料、电子板块获加仓。",
    ),
    (
        "人民币兑美元中间价调升{b}个基点",
        "中国外汇交易中心公布，人民币兑美元中间价报7.1{b}，调升{b}个基点。",
    ),
    (
        "沪指震荡走高涨{c}% 券商板块拉升",
        "沪指震荡走高，现涨{c}%，券商板块午后拉升，多只个股涨超5%。",
    ),
    (
        "央行开展{a}亿元7天期逆回购操作",
        "央行公告称，为维护银行体系流动性合理充裕，今日开展{a}亿元7天期逆回购操作。",
    ),
    ("光伏ETF成交额突破{a}亿元", "光伏ETF（515790）午后放量，成交额突破{a}亿元，成分股多数上涨。"),
    ("贵州茅台(600519)股价涨{c}%", "贵州茅台(600519)午后走强，股价现涨{c}%，成交额放大。"),
    ("5G概念股异动拉升 多股涨停", "5G概念股异动拉升，板块指数涨{c}%，多只个股涨停。"),
)


class LiveFeed:
    """A growing list of fast-news items, newest first; thread-safe."""

    def __init__(self, seed: int = 7) -> None:
        self._items: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._random = random.Random(seed)  # noqa: S311 - invented demo text, no secrets
        self._counter = itertools.count(1)

    def publish(self, now: datetime | None = None) -> dict[str, Any]:
        """Add one new item (dated ``now``) and return it."""
        moment = (now or datetime.now(_BEIJING)).astimezone(_BEIJING)
        title, body = self._random.choice(_TEMPLATES)
        values = {
            "a": self._random.randint(10, 900),
            "b": self._random.randint(10, 99),
            "c": f"{self._random.uniform(0.1, 3):.2f}",
        }
        title, body = title.format(**values), body.format(**values)
        number = next(self._counter)
        item = {
            "code": moment.strftime("%Y%m%d%H%M%S") + f"{number:04d}",
            "title": title,
            "summary": f"【{title}】{body}",
            "showTime": moment.strftime("%Y-%m-%d %H:%M:%S"),
            "realSort": str(int(moment.timestamp() * 1_000_000) + number),
            "stockList": ["1.600519"] if "600519" in body else [],
            "titleColor": 3 if number % 4 == 0 else 0,
            "image": [],
            "pinglun_Num": 0,
            "share": 0,
        }
        with self._lock:
            self._items.insert(0, item)
        return item

    def items(self) -> list[dict[str, Any]]:
        """Every published item, newest first (a copy)."""
        with self._lock:
            return [dict(item) for item in self._items]
