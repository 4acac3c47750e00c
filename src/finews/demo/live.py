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
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from typing import Any

__all__ = ["SESSIONS", "LiveFeed", "Story"]

_BEIJING = timezone(timedelta(hours=8))

#: parts of the (Beijing) day: name → (first moment, end); words the texts may use in each
SESSIONS = {
    "auction": (time(9, 15), time(9, 30)),
    "morning": (time(9, 30), time(11, 30)),
    "noon": (time(11, 30), time(13, 0)),
    "afternoon": (time(13, 0), time(15, 0)),
    "close": (time(15, 0), time(23, 59, 59)),
    "day": (time(0, 0), time(23, 59, 59)),
}

_SECTORS = ("白酒", "券商", "半导体", "光伏", "银行", "医药", "军工", "汽车", "有色金属", "煤炭")
_FUNDS = ("沪深300ETF", "中证500ETF", "光伏ETF", "半导体ETF", "证券ETF", "科创50ETF")
_COMPANIES = ("某光伏企业", "某券商", "某白酒企业", "某汽车零部件企业", "某医药企业", "某银行")


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
    for company in _COMPANIES:
        stories += [
            Story(
                "day",
                f"{company}公告：拟回购不超过{{a}}亿元股份",
                f"{company}公告，拟以集中竞价方式回购股份，金额不超过{{a}}亿元。",
            ),
            Story(
                "day",
                f"{company}公告：拟投资{{a}}亿元建设新项目",
                f"{company}公告，拟投资{{a}}亿元建设新项目，资金来源为自有及自筹资金。",
            ),
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
        #: (day, story) already told
        self._told: set[tuple[str, Story]] = set()

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
        # one set of numbers per story, chosen when it is told
        values = {
            "a": self._random.randint(10, 900),
            "b": self._random.randint(10, 99),
            "c": f"{self._random.uniform(0.1, 3):.2f}",
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

    def items(self) -> list[dict[str, Any]]:
        """Every published item, newest first (a copy)."""
        with self._lock:
            return [dict(item) for item in self._items]
