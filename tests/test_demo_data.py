"""The demo's invented news agrees with its own clock: a generated demo day, and the
bundled payloads as the demo upstream serves them (issue 15)."""

from __future__ import annotations

import json
import re
from datetime import datetime, time, timedelta, timezone
from typing import Any

import httpx
import pytest

from finews.demo.live import LiveFeed
from finews.demo.replay import ReplayServer, demo_routes
from finews.process.stories.cluster import cluster_batch
from finews.process.stories.fingerprint import fingerprint

BEIJING = timezone(timedelta(hours=8))
DAY = re.compile(r"(\d{1,2})月(\d{1,2})日")
MONTH = re.compile(r"(?<!\d)(\d{1,2})月(?![\d日])")
#: words of the A-share day, and the earliest time an item may use them
SESSION_WORDS = {"午后": time(13), "半日": time(11, 30), "收评": time(15), "收涨": time(15)}
OVERSEAS = ("美股", "欧洲", "亚洲", "期货", "隔夜", "夜盘", "前一交易日")


def session_problems(moment: datetime, text: str) -> list[str]:
    problems = []
    clock = moment.astimezone(BEIJING).time()
    for word, earliest in SESSION_WORDS.items():
        if word in text and clock < earliest:
            problems.append(f"{word} at {clock}")
    if "收盘" in text and not any(w in text for w in OVERSEAS) and clock < time(15):
        problems.append(f"收盘 at {clock}")
    if "早盘" in text and not any(w in text for w in OVERSEAS) and clock < time(9, 30):
        problems.append(f"早盘 at {clock}")
    return problems


def date_problems(moment: datetime, text: str) -> list[str]:
    day = moment.astimezone(BEIJING).date()
    allowed = {day, day - timedelta(days=1)}  # a report on yesterday's data names it
    problems = [
        f"{m[0]} in an item of {day}"
        for m in DAY.finditer(text)
        if (int(m[1]), int(m[2])) not in {(d.month, d.day) for d in allowed}
    ]
    months = {day.month, (day.replace(day=1) - timedelta(days=1)).month}
    problems += [
        f"{m[0]} in an item of {day}" for m in MONTH.finditer(text) if int(m[1]) not in months
    ]
    return problems


def demo_day(day: datetime) -> list[dict[str, Any]]:
    live = LiveFeed()
    moment = day
    while moment < day + timedelta(days=1):
        live.publish(moment)
        moment += timedelta(seconds=20)
    return live.items()


def test_a_generated_demo_day_keeps_to_its_clock() -> None:
    items = demo_day(datetime(2026, 12, 7, tzinfo=BEIJING))
    assert len(items) >= 60
    titles = [item["title"] for item in items]
    assert len(set(titles)) == len(titles), "a headline told twice"
    stories = [re.sub(r"\d+(?:\.\d+)?", "N", title) for title in titles]
    assert len(set(stories)) == len(stories), "one story told with two amounts"
    for item in items:
        moment = datetime.strptime(item["showTime"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING)
        text = item["title"] + item["summary"]
        assert not session_problems(moment, text), (item["showTime"], text)
        assert not date_problems(moment, text), (item["showTime"], text)
    # the day has a morning, a midday summary, an afternoon and a close
    assert any("早盘" in t for t in titles)
    assert any("半日" in t for t in titles)
    assert any("午后" in t for t in titles)
    assert any("收评" in t for t in titles)


def test_a_demo_days_stories_stay_apart_on_the_home_page() -> None:
    """Every invented story is its own (none vanishes into another as a copy)."""
    items = demo_day(datetime(2026, 12, 7, tzinfo=BEIJING))
    prints = [
        fingerprint(
            n,
            item["title"],
            item["summary"],
            "",
            datetime.strptime(item["showTime"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING),
        )
        for n, item in enumerate(items, start=1)
    ]
    clusters = cluster_batch(prints)
    assert len(set(clusters.values())) == len(items)


def test_the_live_feed_rests_when_the_hours_stories_are_told() -> None:
    live = LiveFeed()
    night = datetime(2026, 12, 7, 3, 0, tzinfo=BEIJING)
    told = [live.publish(night + timedelta(seconds=n)) for n in range(200)]
    published = [item for item in told if item is not None]
    assert published, "announcements may come at night"
    assert told[-1] is None
    assert all("午后" not in item["title"] for item in published)


@pytest.mark.parametrize("hour", [9, 12, 16, 21])
def test_served_demo_payloads_name_their_own_dates(hour: int) -> None:
    now = datetime(2026, 12, 7, hour, 5, tzinfo=BEIJING)
    with ReplayServer(demo_routes(now=lambda: now)) as server, httpx.Client() as client:
        checked = 0
        lists = {
            "/web/webapi?type=102": ("records", "showtime", "digest"),
            "/comm/web/getFastNewsList?sortEnd=": ("fastNewsList", "showTime", "summary"),
        }
        for path, (key, time_field, text_field) in lists.items():
            payload = client.get(server.url + path).json()
            holder = payload["data"] if key == "fastNewsList" else payload
            for item in holder[key]:
                moment = datetime.strptime(item[time_field], "%Y-%m-%d %H:%M:%S")
                moment = moment.replace(tzinfo=BEIJING)
                text = item["title"] + item[text_field]
                assert not session_problems(moment, text), (item[time_field], text)
                assert not date_problems(moment, text), (item[time_field], text)
                code = item.get("infoCode")
                if key == "records" and code:
                    reply = client.get(f"{server.url}/NewsData/GetNewsText.do?id={code}")
                    if reply.status_code == 200:
                        full = json.dumps(reply.json(), ensure_ascii=False)
                        assert not date_problems(moment, full), (item[time_field], full)
                checked += 1
        assert checked >= 20
