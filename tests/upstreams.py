"""Loopback upstreams for pipeline tests: a paging East Money fast-news feed whose items
the test publishes while finews is stopped, served by the real ReplayServer."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from typing import Any

from finews.demo.replay import Received, Reply, Route

BEIJING = timezone(timedelta(hours=8))
FAST_PATH = "/comm/web/getFastNewsList"


class FastNewsFeed:
    """East Money 7x24 in its exact shape: newest first, ``sortEnd`` cursor paging."""

    def __init__(self, page_size: int = 20) -> None:
        self.page_size = page_size
        self._items: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._clock = datetime(2026, 9, 1, 9, 0, 0, tzinfo=BEIJING)

    def publish(self, count: int) -> list[str]:
        """Publish ``count`` new items, one minute apart; return their codes."""
        codes = []
        with self._lock:
            for _ in range(count):
                self._clock += timedelta(minutes=1)
                n = len(self._items) + 1
                code = self._clock.strftime("%Y%m%d%H%M") + f"{n:06d}"
                self._items.insert(
                    0,
                    {
                        "code": code,
                        "title": f"测试快讯第{n}条：北向资金净流入{n}亿元",
                        "summary": f"【测试快讯第{n}条：北向资金净流入{n}亿元】正文{n}。",
                        "showTime": self._clock.strftime("%Y-%m-%d %H:%M:%S"),
                        "realSort": str(1788000000000000 + n),
                        "stockList": [],
                        "titleColor": 0,
                        "image": [],
                        "pinglun_Num": 0,
                        "share": 0,
                    },
                )
                codes.append(code)
        return codes

    def handle(self, received: Received) -> Reply:
        cursor = received.query.get("sortEnd", "")
        with self._lock:
            items = list(self._items)
        start = 0
        if cursor:
            start = next((i + 1 for i, it in enumerate(items) if it["realSort"] == cursor), 0)
            if start == 0:
                items = []
        page = items[start : start + self.page_size]
        sort_end = page[-1]["realSort"] if page else ""
        return Reply.json(
            {
                "req_trace": received.query.get("req_trace", ""),
                "code": "1",
                "message": "success",
                "data": {"sortEnd": sort_end, "fastNewsList": page},
            }
        )

    def route(self) -> Route:
        return Route(FAST_PATH, self.handle)
