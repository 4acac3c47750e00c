"""Synthetic 7x24 items that the demo upstream "publishes" while the demo runs.

The headlines are invented; nothing here is real news. Each published item has the exact
shape of an East Money fast-news entry, and agrees with its own clock (Beijing time):

- a story belongs to a part of the trading day: 早盘 items come from 09:30, 半日 (the
  midday summary) from 11:30, 午后 from 13:00, 收盘 and 收评 from 15:00; the central
  bank's operation and the fixing come in the morning; announcements at any hour;
- each story is told once a day, with one amount chosen for it, rather than one headline
  every few seconds with a new random number each time;
- no item names a date other than its own day.

When every story of the present part of the day has been told, :meth:`LiveFeed.publish`
publishes nothing until the next part begins.
"""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from finews.normalize.times import BEIJING as _BEIJING

__all__ = ["SESSIONS", "STORIES", "LiveFeed", "Story", "in_session"]


#: parts of the (Beijing) day: name → (first moment, end); words the texts may use in each
SESSIONS = {
    "auction": (time(9, 15), time(9, 30)),
    "morning": (time(9, 30), time(11, 30)),
    "noon": (time(11, 30), time(13, 0)),
    "afternoon": (time(13, 0), time(15, 0)),
    "close": (time(15, 0), time(23, 59, 59)),
    "day": (time(0, 0), time(23, 59, 59)),
}

_SECTORS = (
    "白酒", "券商", "半导体", "光伏", "银行", "医药", "军工", "汽车", "有色金属", "煤炭",
    "保险", "房地产", "电力", "通信", "软件", "家电", "化工", "钢铁", "传媒", "食品饮料",
)  # fmt: skip
_FUNDS = (
    "沪深300ETF", "中证500ETF", "光伏ETF", "半导体ETF", "证券ETF", "科创50ETF",
    "创业板ETF", "医药ETF", "银行ETF", "红利ETF",
)  # fmt: skip
#: invented companies: "某" and a trade, never a real name
_TRADES = (
    "光伏", "券商", "白酒", "汽车零部件", "医药", "银行", "锂电", "芯片", "家电", "化工",
    "物流", "软件", "钢铁", "建材", "食品", "电力设备", "游戏", "航运", "保险", "环保",
)  # fmt: skip
_COMPANY_NEWS = (
    ("拟回购不超过{a}亿元股份", "拟以集中竞价方式回购股份，金额不超过{a}亿元。"),
    ("拟投资{a}亿元建设新项目", "拟投资{a}亿元建设新项目，资金来源为自有及自筹资金。"),
    ("中标{a}亿元项目", "公司预中标一项目，中标金额约{a}亿元。"),
    ("签订{a}亿元销售合同", "公司与客户签订销售合同，合同金额约{a}亿元。"),
    ("控股股东拟增持不超过{a}亿元", "控股股东拟增持公司股份，金额不超过{a}亿元。"),
    ("拟定增募资不超过{a}亿元", "公司拟向特定对象发行股票，募集资金不超过{a}亿元。"),
)


@dataclass(frozen=True, slots=True)
class Story:
    """One invented story: the part of the day it belongs to, its title and text (with
    ``{a}`` an amount in 亿元, ``{b}`` basis points, ``{c}`` a percentage)."""

    session: str
    title: str
    body: str


def _stories() -> list[Story]:
    stories = [
        Story(
            "auction",
            "人民币兑美元中间价调升{b}个基点",
            "中国外汇交易中心公布，人民币兑美元中间价调升{b}个基点。",
        ),
        Story(
            "auction",
            "央行开展{a}亿元7天期逆回购操作",
            "央行公告称，为维护银行体系流动性合理充裕，今日开展{a}亿元7天期逆回购操作。",
        ),
        Story("morning", "北向资金早盘净买入{a}亿元", "截至发稿，北向资金早盘合计净买入{a}亿元。"),
        Story("noon", "沪指半日涨{c}%", "沪指半日涨{c}%，两市半日成交额超{a}亿元。"),
        Story("afternoon", "北向资金午后净流入{a}亿元", "北向资金午后加速流入，净流入{a}亿元。"),
        Story("close", "A股收评：沪指收涨{c}%", "沪指收涨{c}%，两市全天成交额{a}亿元。"),
        Story("close", "北向资金全天净买入{a}亿元", "北向资金全天合计净买入{a}亿元。"),
    ]
    for sector in _SECTORS:
        stories += [
            Story(
                "morning",
                f"{sector}板块早盘拉升 多股涨超{{c}}%",
                f"{sector}板块早盘拉升，板块指数涨{{c}}%，多只个股涨幅居前。",
            ),
            Story(
                "afternoon",
                f"{sector}板块午后走强 涨{{c}}%",
                f"{sector}板块午后走强，板块指数现涨{{c}}%，成交额放大。",
            ),
            Story(
                "close",
                f"{sector}板块收盘涨{{c}}%",
                f"{sector}板块收盘涨{{c}}%，全天成交额{{a}}亿元。",
            ),
        ]
    for fund in _FUNDS:
        stories += [
            Story(
                "morning",
                f"{fund}早盘成交额突破{{a}}亿元",
                f"{fund}早盘放量，成交额突破{{a}}亿元，较上一交易日同期明显放大。",
            ),
            Story(
                "afternoon",
                f"{fund}午后成交额突破{{a}}亿元",
                f"{fund}午后继续放量，成交额突破{{a}}亿元。",
            ),
        ]
    for trade in _TRADES:
        company = f"某{trade}企业"
        stories += [
            Story("day", f"{company}公告：{title}", f"{company}公告，{body}")
            for title, body in _COMPANY_NEWS
        ]
    return stories


#: every story the live feed can tell
STORIES = tuple(_stories())


def in_session(session: str, moment: datetime) -> bool:
    """Whether ``moment`` (Beijing time) falls in the part of the day ``session``."""
    start, end = SESSIONS[session]
    return start <= moment.astimezone(_BEIJING).time() < end


class LiveFeed:
    """A growing list of fast-news items, newest first; thread-safe."""

    def __init__(self, seed: int = 7) -> None:
        self._items: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._random = random.Random(seed)  # noqa: S311 - invented demo text, no secrets
        self._counter = itertools.count(1)
        #: (day, story) already told, and (day, number to two digits) already used
        self._told: set[tuple[str, Story]] = set()
        self._numbers: set[tuple[str, str]] = set()

    def publish(self, now: datetime | None = None) -> dict[str, Any] | None:
        """Add one new item (dated ``now``) and return it, or ``None`` when every story of
        this part of the day has been told."""
        moment = (now or datetime.now(_BEIJING)).astimezone(_BEIJING)
        day = moment.date().isoformat()
        fresh = [
            story
            for story in STORIES
            if in_session(story.session, moment) and (day, story) not in self._told
        ]
        if not fresh:
            return None
        story = self._random.choice(fresh)
        self._told.add((day, story))
        # one set of numbers per story, chosen when it is told, and unlike the numbers of
        # the day's other stories (two sectors both up 0.32%, or 530亿 against 528亿, read
        # as one story told twice, to a reader and to the clustering)
        values = {
            "a": self._fresh(day, lambda: str(self._random.randint(11, 999))),
            "b": self._random.randint(10, 99),
            "c": self._fresh(day, lambda: f"{self._random.uniform(0.11, 2.99):.2f}"),
        }
        title, body = story.title.format(**values), story.body.format(**values)
        number = next(self._counter)
        item: dict[str, Any] = {
            "code": moment.strftime("%Y%m%d%H%M%S") + f"{number:04d}",
            "title": title,
            "summary": f"【{title}】{body}",
            "showTime": moment.strftime("%Y-%m-%d %H:%M:%S"),
            "realSort": str(int(moment.timestamp() * 1_000_000) + number),
            "stockList": [],
            "titleColor": 3 if number % 4 == 0 else 0,
            "image": [],
            "pinglun_Num": 0,
            "share": 0,
        }
        with self._lock:
            self._items.insert(0, item)
        return item

    def _fresh(self, day: str, draw: Callable[[], str]) -> str:
        """A number from ``draw`` that no earlier story of ``day`` used, and not a round
        one (530 equals 528 rounded; 0.32 is not 0.324); the draws offer hundreds."""
        while True:
            value = draw()
            if not value.endswith("0") and (day, value) not in self._numbers:
                self._numbers.add((day, value))
                return value

    def items(self) -> list[dict[str, Any]]:
        """Every published item, newest first (a copy)."""
        with self._lock:
            return [dict(item) for item in self._items]
