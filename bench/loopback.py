"""Shared parts of the daemon benchmarks: loopback upstreams that publish in real time, and
``finews run`` as a child process. Not a benchmark itself (see freshness.py, soak.py)."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from finews.demo.replay import Received, Reply, Route

BEIJING = timezone(timedelta(hours=8))

#: ``finews …`` in a fresh interpreter, adding ``run`` should the CLI not list it (yet)
LAUNCH = """
import sys
from finews.cli import cli, main
if "run" not in cli.commands:
    from finews.daemon.command import commands
    for command in commands:
        cli.add_command(command)
main(sys.argv[1:])
"""

#: words for invented bodies: varied enough that unrelated items do not look like one story
_VOCABULARY = (
    "央行 逆回购 利率 流动性 北向资金 成交额 沪指 深成指 创业板 科创板 "
    "半导体 新能源 光伏 储能 锂电 券商 银行 保险 地产 白酒 医药 消费 "
    "汽车 芯片 算力 人工智能 机器人 军工 煤炭 有色 黄金 原油 美元 人民币 "
    "汇率 国债 收益率 通胀 就业 出口 进口 订单 营收 净利润 同比 环比 "
    "增长 下降 回购 增持 减持 分红 融资 并购 重组 上市 停牌 复牌 监管 "
    "政策 会议 部署 发布 公告 数据 指数 期货 现货 港股 美股 欧股 日经 "
    "纳指 标普 恒指 外资 机构 基金 私募 公募 北交所 上交所 深交所 证监会 "
    "发改委 财政部 商务部 统计局 工信部 住建部 海关 市场 情绪 回暖 震荡 "
    "走高 回落 拉升 跳水 反弹 企稳 分化 轮动 主线 题材 龙头 估值 业绩 "
    "预期 指引 订单 产能 价格 供需 库存 景气 复苏 转型 出海 合作 项目 "
    "投资 规划 目标 "
)
_WORDS = _VOCABULARY.split()


def body_text(n: int, length: int, *, vocabulary_only: bool = False) -> str:
    """An invented Chinese news body of about ``length`` characters, different for each
    ``n`` (the same ``n`` gives the same text): finance words mixed with random Han
    characters, so that two bodies share about as many character pairs as two unrelated
    news items do. ``vocabulary_only`` leaves the random characters out: every body then
    looks alike (a worst case for story clustering)."""
    rng = random.Random(n)
    parts = [f"第{n}条消息。"]
    size = len(parts[0])
    while size < length:
        words = rng.choices(_WORDS, k=rng.randint(2, 5))
        if not vocabulary_only:
            words += [chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(rng.randint(6, 14))]
            rng.shuffle(words)
        sentence = "".join(words) + f"{rng.randint(1, 999)}{rng.choice('亿万%点')}"
        sentence += "。" if rng.random() < 0.4 else "，"
        parts.append(sentence)
        size += len(sentence)
    return "".join(parts)[:length]


def headline(n: int) -> str:
    """An invented headline, different for each ``n``."""
    rng = random.Random(-n)
    return "".join(rng.choices(_WORDS, k=4)) + f"{rng.randint(2, 99)}{rng.choice('亿万%点')}"


class FastFeed:
    """East Money 7x24 (``getFastNewsList``) on loopback: items published in real time,
    newest first, paged by ``sortEnd``. ``published`` maps each code to when (``time.time()``)
    it appeared; ``clock`` gives the time written on an item (default: the same; a faster
    clock makes a day of news in minutes)."""

    def __init__(
        self,
        path: str,
        *,
        prefix: str = "",
        body_chars: int = 120,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.prefix = prefix
        self.body_chars = body_chars
        self.clock = clock
        self._items: list[dict[str, Any]] = []
        self._index: dict[str, int] = {}
        self._lock = threading.Lock()
        self.published: dict[str, float] = {}

    def publish(self) -> str:
        """Publish one item now; return its code."""
        with self._lock:
            n = len(self._items) + 1
            at = time.time()
            moment = datetime.fromtimestamp(self.clock(), BEIJING)
            code = f"{moment:%Y%m%d}{self.prefix}{n:08d}"
            title = f"快讯{self.prefix}{n}：" + headline(n)
            self._items.append(
                {
                    "code": code,
                    "title": title,
                    "summary": f"【{title}】{body_text(n, self.body_chars)}",
                    "showTime": f"{moment:%Y-%m-%d %H:%M:%S}",
                    "realSort": str(1_700_000_000_000_000 + n),
                    "stockList": [],
                    "titleColor": 0,
                    "image": [],
                    "pinglun_Num": 0,
                    "share": 0,
                }
            )
            self._index[str(1_700_000_000_000_000 + n)] = n - 1
            self.published[code] = at
        return code

    def handle(self, received: Received) -> Reply:
        size = int(received.query.get("pageSize", "50"))
        cursor = received.query.get("sortEnd", "")
        with self._lock:
            end = len(self._items) if not cursor else self._index.get(cursor, 0)
            page = self._items[max(0, end - size) : end][::-1]
        return Reply.json(
            {
                "req_trace": received.query.get("req_trace", ""),
                "code": "1",
                "message": "success",
                "data": {"sortEnd": page[-1]["realSort"] if page else "", "fastNewsList": page},
            }
        )

    def route(self) -> Route:
        return Route(self.path, self.handle)

    def toml(self, sid: str, base: str, interval: float) -> str:
        return (
            f'[sources.{sid}]\nadapter = "eastmoney_fast"\nurl = "{base}{self.path}"\n'
            f"fallback_urls = []\ninterval = {interval}\npage_size = 50\nmax_pages = 100\n"
            f'category = "{sid}"\n'
        )


class RollingFeed:
    """East Money's legacy rolling list with a full text per item, on loopback."""

    def __init__(
        self,
        path: str,
        text_path: str,
        *,
        prefix: str = "R",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.text_path = text_path
        self.prefix = prefix
        self.clock = clock
        self._items: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.published: dict[str, float] = {}

    def publish(self) -> str:
        with self._lock:
            n = len(self._items) + 1
            at = time.time()
            moment = datetime.fromtimestamp(self.clock(), BEIJING)
            uid = f"{self.prefix}{n:08d}"
            self._items.insert(
                0,
                {
                    "id": uid,
                    "title": f"滚动{self.prefix}{n}：" + headline(n),
                    "digest": f"【滚动新闻第{n}条】摘要。",
                    "url_w": f"http://finance.example.cn/a/{uid}.html",
                    "showtime": f"{moment:%Y-%m-%d %H:%M:%S}",
                    "infoCode": f"NW{uid}",
                },
            )
            self.published[uid] = at
        return uid

    def list_reply(self, received: Received) -> Reply:
        count = int(received.query.get("count", "100"))
        with self._lock:
            return Reply.json({"records": self._items[:count]})

    def text_reply(self, received: Received) -> Reply:
        code = received.query.get("id", "")
        return Reply.json({"content": f"　　{code}：" + body_text(len(code), 1500)})

    def routes(self) -> list[Route]:
        return [Route(self.path, self.list_reply), Route(self.text_path, self.text_reply)]

    def toml(self, sid: str, base: str, interval: float) -> str:
        return (
            f'[sources.{sid}]\nadapter = "eastmoney_rolling"\nenabled = true\n'
            f'url = "{base}{self.path}"\nfulltext_url = "{base}{self.text_path}"\n'
            f'interval = {interval}\ncount = 1000\ncategory = "{sid}"\n'
        )


def write_config(path: Path, database_url: str, sources_toml: str, extra: str = "") -> Path:
    """A finews.toml for the benchmark: the default em_fast off, the given sources on."""
    path.write_text(
        f'database_url = "{database_url}"\nlog_level = "warning"\n{extra}\n'
        "[sources.em_fast]\nenabled = false\n" + sources_toml,
        encoding="utf-8",
    )
    return path


def start_daemon(config: Path, log: Path) -> subprocess.Popen[bytes]:
    """``finews --config CONFIG run`` as a child process, its log in ``log``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FINEWS_")}
    with log.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-c", LAUNCH, "--config", str(config), "run"],
            stdout=subprocess.DEVNULL,
            stderr=sink,
            env=env,
        )


def stop_daemon(proc: subprocess.Popen[bytes]) -> float:
    """SIGTERM the daemon; return the seconds it took to exit."""
    began = time.monotonic()
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    return time.monotonic() - began


def percentile(values: list[float], fraction: float) -> float:
    """The ``fraction`` quantile (nearest rank) of ``values``."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[rank]
