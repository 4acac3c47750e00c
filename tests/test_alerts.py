"""Watchlist rules and alerts: rules read and matched, mutes, the outbox once per story,
and delivery through Apprise to real receivers on loopback (a JSON webhook, an ntfy-style
server, an SMTP server), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner

from finews.alerts.reader import Rules
from finews.alerts.sender import Delivery, Sender, release_threads
from finews.cli import cli
from finews.config import load_config
from finews.demo.inbox import Inbox
from finews.demo.replay import ReplayServer
from finews.derive import derive_backlog, derive_pending, open_store, wire
from finews.errors import ConfigError
from finews.models import Item
from finews.process.rules import ItemText, Rule, channel_key, parse_rule
from finews.publish.api import parse_items_query
from finews.publish.health import StatusCollector, read_status, status_json
from finews.store import ItemQuery, Store
from finews.store import alerts as outbox
from helpers import make_item

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(autouse=True)
def _no_threads_left() -> Iterator[None]:
    """Apprise keeps worker threads for the process once it has sent: end them, as a
    command does when it is done, so later tests that fork find one thread."""
    yield
    release_threads()


def _item(title: str, **fields: Any) -> Item:
    fields.setdefault("published_at", NOW - timedelta(minutes=5))
    fields.setdefault("fetched_at", NOW)
    fields.setdefault("digest", "")
    return make_item(title=title, **fields)


def _matches(rule: Rule, item: Item) -> bool:
    return rule.matches(ItemText.of(item))


def _attach(store: Store, rules: list[Rule], **options: Any) -> Rules:
    """Give ``store`` the rules reader (after search and stories, as the daemon does)."""
    options.setdefault("clock", lambda: NOW)  # alerts are written as of NOW
    reader = Rules(rules, public_url="https://news.example.com", **options)
    wire(store, [lambda _: reader])
    return reader


def _rows(store: Store) -> list[tuple[Any, ...]]:
    return store.query(
        "SELECT rule, channel, item_id, story, kind, title, body, state FROM alert_outbox "
        "ORDER BY id"
    )


# --- rules: reading -----------------------------------------------------------------------


def _config(tmp_path: Path, text: str) -> Any:
    path = tmp_path / "finews.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path, env={})


def test_rules_are_read_from_the_settings_file(tmp_path: Path) -> None:
    config = _config(
        tmp_path,
        '[rules.moutai]\nquery = "茅台 -广告"\nstocks = ["600519.SH", "hk700"]\n'
        'sources = ["cls"]\nmin_importance = 1\nnotify = ["json://127.0.0.1:9/hook"]\n'
        'follow_up = true\n\n[rules.ads]\nquery = "广告"\nmute = true\n',
    )
    moutai, ads = config.rules
    assert moutai.name == "moutai"
    assert moutai.stocks == ("sh600519", "hk00700")
    assert moutai.sources == ("cls",)
    assert moutai.min_importance == 1
    assert moutai.follow_up
    assert [clause.tokens for clause in moutai.include.clauses] == [("茅台",)]
    assert len(moutai.exclude) == 1
    assert not moutai.mute
    assert ads.mute
    assert not ads.notify
    assert config.rule("ads") is ads


@pytest.mark.parametrize(
    ("table", "key", "expected"),
    [
        ('query = "x"', "rules.r.notify", "a rule does something"),
        ('query = "x"\nmute = "yes"', "rules.r.mute", "true or false"),
        ('query = "x"\nmute = true\nstocks = ["茅台"]', "rules.r.stocks", "security code"),
        ('query = "x"\nmute = true\nsources = ["nope"]', "rules.r.sources", "configured"),
        ('query = "x"\nmute = true\nmin_importance = -1', "rules.r.min_importance", "0 to 10"),
        ('query = "x"\nmute = true\ncolour = "red"', "rules.r.colour", "unknown key"),
        ('query = "!!!"\nmute = true', "rules.r.query", "no letter"),
        ('query = "x"\nnotify = ["nosuchscheme://secret-token@host"]', "rules.r.notify", "Apprise"),
        ('query = "x"\nnotify = ["not a url"]', "rules.r.notify", "Apprise URL"),
    ],
)
def test_a_wrong_rule_stops_start_up_naming_the_rule_and_key(
    tmp_path: Path, table: str, key: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        _config(tmp_path, f"[rules.r]\n{table}\n")
    message = str(raised.value)
    assert key in message
    assert expected in message
    assert "secret-token" not in message  # a notify URL is never shown


# --- rules: matching ----------------------------------------------------------------------


def test_a_query_matches_as_search_does_with_exclusions() -> None:
    rule = parse_rule("r", {"query": "茅台 -广告", "mute": True})
    assert _matches(rule, _item("贵州茅台发布年报"))
    assert _matches(rule, _item("年报", digest="贵州茅台净利增长"))  # the digest counts
    assert not _matches(rule, _item("茅台酒广告投放"))  # excluded
    assert not _matches(rule, _item("五粮液发布年报"))
    both = parse_rule("r", {"query": "央行 降准", "mute": True})
    assert _matches(both, _item("央行宣布降准0.5个百分点"))
    assert not _matches(both, _item("央行开展逆回购操作"))  # every term must occur
    phrase = parse_rule("r", {"query": '"长安 汽车"', "mute": True})
    assert _matches(phrase, _item("长安汽车销量"))
    assert not _matches(phrase, _item("长安的汽车"))
    # the other script's forms match as in search; a lone character anywhere
    assert _matches(parse_rule("r", {"query": "東方財富", "mute": True}), _item("东方财富公告"))
    assert _matches(parse_rule("r", {"query": "A股", "mute": True}), _item("A股市场收涨"))
    assert _matches(parse_rule("r", {"query": "息", "mute": True}), _item("央行降息"))


def test_stocks_in_any_notation_and_the_filters() -> None:
    rule = parse_rule("r", {"stocks": ["1.600519"], "mute": True})
    assert _matches(rule, _item("公告", stocks=("sh600519",)))
    assert _matches(rule, _item("公告", stocks=("600519.SH",)))  # stored before notation
    assert _matches(rule, _item("600519 午后拉升"))  # its code named in the title
    assert not _matches(rule, _item("1600519 不是代码"))
    assert not _matches(rule, _item("公告", stocks=("sz000001",)))
    # a query or a stock: either makes the item one the rule watches
    either = parse_rule("r", {"query": "茅台", "stocks": ["600519"], "mute": True})
    assert _matches(either, _item("茅台"))
    assert _matches(either, _item("x", stocks=("sh600519",)))
    only = parse_rule("r", {"sources": ["cls"], "min_importance": 1, "mute": True})
    assert _matches(only, _item("任意", source="cls", importance=1))
    assert not _matches(only, _item("任意", source="cls", importance=0))
    assert not _matches(only, _item("任意", source="em_fast", importance=2))


# --- the reader: mutes and the outbox, both engines -------------------------------------------


def test_mute_hides_an_item_from_listings_and_the_api_flag_shows_it(store: Store) -> None:
    _attach(store, [parse_rule("ads", {"query": "广告", "mute": True})])
    store.upsert_items([_item("茅台酒广告投放"), _item("央行降准")])
    shown = [item.title for item in store.items(ItemQuery(muted=False))]
    assert shown == ["央行降准"]
    assert [item.title for item in store.items(ItemQuery(muted=True))] == ["茅台酒广告投放"]
    assert len(list(store.items(ItemQuery()))) == 2  # still stored
    assert parse_items_query({}).muted is False
    assert parse_items_query({"muted": ["true"]}).muted is None
    assert outbox.muted_counts(store) == {"ads": 1}
    # an edit that no longer matches shows the item again
    edited = next(store.items(ItemQuery(muted=True)))
    store.upsert_items([edited.replace(title="茅台酒投放", id=None)])
    assert outbox.muted_counts(store) == {}
    # a rule taken out of the settings: the daemon prunes its mutes at start
    store.upsert_items([_item("另一条广告")])
    assert outbox.prune_mutes(store, []) == 1
    assert len(list(store.items(ItemQuery(muted=False)))) == 3


def test_one_alert_per_story_per_rule_and_channel(store: Store) -> None:
    rule = parse_rule(
        "moutai",
        {"query": "茅台", "notify": ["json://127.0.0.1:9/a", "ntfy://127.0.0.1:9/b"]},
    )
    _attach(store, [rule], source_names={"cls": "财联社电报"})
    text = "贵州茅台2026年营收同比增长15%，净利润同比增长12%，拟每股派发现金红利30元"
    first = _item(text, source="cls", stocks=("sh600519",), url="https://cls.example/1")
    store.upsert_items([first])
    # the same story from another outlet, and a re-poll of the first: nothing more
    store.upsert_items([_item(text, source="em_fast", published_at=NOW - timedelta(minutes=3))])
    store.upsert_items([first])
    rows = _rows(store)
    assert [(r[0], r[4], r[7]) for r in rows] == [("moutai", "first", "pending")] * 2
    assert {r[1] for r in rows} == {key for key, _ in rule.channels}
    title, body = rows[0][5], rows[0][6]
    assert title == text
    assert "北京时间" in body
    assert "财联社电报" in body
    assert "sh600519" in body
    assert "https://news.example.com/" in body
    assert "https://cls.example/1" in body
    # a new story alerts again
    store.upsert_items([_item("茅台集团召开股东大会 审议通过董事会换届议案")])
    assert len(_rows(store)) == 4


def test_follow_up_once_when_the_story_becomes_important(store: Store) -> None:
    rule = parse_rule("m", {"query": "茅台", "notify": ["json://127.0.0.1:9/a"], "follow_up": True})
    _attach(store, [rule])
    text = "贵州茅台公告：拟以集中竞价方式回购公司股份 回购金额不低于30亿元"
    store.upsert_items([_item(text, source="cls")])
    store.upsert_items([_item(text, source="em_fast", importance=1)])
    store.upsert_items([_item(text, source="sina", importance=1)])
    kinds = [(r[4], r[5].startswith("【重要】")) for r in _rows(store)]
    assert kinds == [("first", False), ("important", True)]
    # a first alert that was important already has no follow-up
    other = "茅台集团董事长调研多家经销商 强调稳价格稳渠道"
    store.upsert_items([_item(other, importance=1)])
    store.upsert_items([_item(other, source="cls", importance=2)])
    assert len(_rows(store)) == 3


def test_old_items_and_the_daemons_derive_path(db_url: str) -> None:
    rule = parse_rule("m", {"query": "茅台", "notify": ["json://127.0.0.1:9/a"]})
    with open_store(db_url) as store:
        _attach(store, [rule], max_age=24)
        # an import of an old item raises no alert
        store.upsert_items([_item("茅台旧闻", published_at=NOW - timedelta(days=3))])
        assert _rows(store) == []
        # stored without deriving (the daemon's polls), derived later by another
        # connection: matched there, once, whichever deriver reaches it
        store.upsert_items([_item("茅台新闻一则")], derive=False)
        assert _rows(store) == []
    with open_store(db_url) as deriver:
        _attach(deriver, [rule], max_age=24)
        while derive_pending(deriver):
            pass
        assert len(_rows(deriver)) == 1
        marks = deriver.query("SELECT COUNT(*) FROM rule_marks")[0][0]
        assert marks == 2


def test_a_failing_item_is_left_out_of_the_rules_and_recorded(store: Store) -> None:
    class Broken(Rules):
        def matching(self, item: Item) -> list[Rule]:
            if "坏" in item.title:
                raise ValueError("this item breaks the rules")
            return super().matching(item)

    broken = Broken([parse_rule("m", {"query": "茅台", "notify": ["json://127.0.0.1:9/a"]})])
    wire(store, [lambda _: broken])
    store.upsert_items([_item("茅台好消息"), _item("茅台坏消息")])
    assert [r[5] for r in _rows(store)] == ["茅台好消息"]
    faults = store.query("SELECT stage, detail FROM item_faults")
    assert [(stage, "breaks the rules" in detail) for stage, detail in faults] == [("rules", True)]


# --- delivery to real receivers ---------------------------------------------------------------


@pytest.fixture
def smtp() -> Iterator[tuple[int, list[Any]]]:
    received: list[Any] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append(envelope)
            return "250 OK"

    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, received
    finally:
        controller.stop()


def test_alerts_reach_a_webhook_an_ntfy_server_and_an_smtp_server(
    store: Store, smtp: tuple[int, list[Any]]
) -> None:
    port, mails = smtp
    with Inbox() as hook, Inbox() as ntfy:
        urls = [
            f"json://{hook.host_port}/finews-hook",
            f"ntfy://{ntfy.host_port}/finews",
            f"mailto://127.0.0.1:{port}?to=reader@example.com&from=finews@example.com"
            "&mode=insecure",
        ]
        rule = parse_rule("moutai", {"query": "茅台", "notify": urls})
        _attach(store, [rule])
        store.upsert_items([_item("贵州茅台发布年报", url="https://cls.example/2")])
        report = Sender(store, [rule]).send_due()
        assert (report.sent, report.failed, report.retried) == (3, 0, 0)
        (posted,) = hook.accepted()
        assert posted.path == "/finews-hook"
        assert posted.json()["title"] == "贵州茅台发布年报"
        assert "https://cls.example/2" in posted.json()["message"]
        (pushed,) = ntfy.accepted()
        assert pushed.json()["topic"] == "finews"
        assert "北京时间" in pushed.json()["message"]
        (mail,) = mails
        assert mail.rcpt_tos == ["reader@example.com"]
        assert "https://cls.example/2" in mail.content.decode("utf-8", "replace")
        # sent once: a second pass finds nothing due
        assert Sender(store, [rule]).send_due().sent == 0
        counts = outbox.outbox_counts(store)
        assert [(c.pending, c.sent, c.failed) for c in counts] == [(0, 1, 0)] * 3


def test_a_refusing_channel_backs_off_and_delays_no_other(store: Store) -> None:
    clock = [NOW]
    with Inbox(statuses=[500, 500]) as bad, Inbox() as good:
        urls = [f"json://{bad.host_port}/bad", f"json://{good.host_port}/good"]
        rule = parse_rule("m", {"query": "茅台", "notify": urls})
        _attach(store, [rule])
        store.upsert_items([_item("茅台新闻一"), _item("茅台集团另一则完全不同的公告内容")])
        sender = Sender(store, [rule], attempts=3, backoff=10, clock=lambda: clock[0])
        first = sender.send_due()
        # the good channel got both; the bad one refused its first and kept the second
        assert len(good.accepted()) == 2
        assert (first.sent, first.retried, first.deferred) == (2, 1, 1)
        assert len(bad.posts) == 1
        (failing,) = [
            c for c in outbox.outbox_counts(store) if c.channel.endswith(channel_key(urls[0])[-10:])
        ]
        assert failing.pending == 2
        assert failing.last_error
        assert "500" in failing.last_error or "HTTP" in failing.last_error
        # not due before the backoff has passed
        clock[0] = NOW + timedelta(seconds=5)
        assert sender.send_due().sent == 0
        assert len(bad.posts) == 1
        clock[0] = NOW + timedelta(seconds=11)
        second = sender.send_due()  # refused again (second 500): waits 20 s now
        assert second.retried == 1
        assert len(bad.posts) == 2
        clock[0] = NOW + timedelta(seconds=40)
        third = sender.send_due()
        assert third.sent == 2
        assert len(bad.accepted()) == 2


def test_a_dead_channel_gives_up_after_its_attempts(store: Store) -> None:
    clock = [NOW]
    with Inbox(statuses=[503] * 10) as dead:
        rule = parse_rule("m", {"query": "茅台", "notify": [f"json://{dead.host_port}/x"]})
        _attach(store, [rule])
        store.upsert_items([_item("茅台新闻")])
        sender = Sender(store, [rule], attempts=2, backoff=1, clock=lambda: clock[0])
        sender.send_due()
        clock[0] += timedelta(seconds=5)
        assert sender.send_due().failed == 1
        (counts,) = outbox.outbox_counts(store)
        assert (counts.pending, counts.failed, counts.errors) == (0, 1, 2)
        assert counts.last_error


def test_a_channel_taken_out_of_the_settings_fails_its_rows(store: Store) -> None:
    rule = parse_rule("m", {"query": "茅台", "notify": ["json://127.0.0.1:9/old"]})
    _attach(store, [rule])
    store.upsert_items([_item("茅台新闻")])
    renamed = parse_rule("m", {"query": "茅台", "notify": ["json://127.0.0.1:9/new"]})
    assert Sender(store, [renamed]).send_due().failed == 1
    (counts,) = outbox.outbox_counts(store)
    assert "no longer" in (counts.last_error or "")


def test_claims_keep_two_senders_from_sending_one_row_and_expire(store: Store) -> None:
    rule = parse_rule("m", {"query": "茅台", "notify": ["json://127.0.0.1:9/a"]})
    _attach(store, [rule])
    store.upsert_items([_item(f"茅台新闻 第{n}则 内容各不相同 {n * 7919}") for n in range(6)])
    until = NOW + timedelta(seconds=60)
    one = outbox.claim_due(store, "one", now=NOW, until=until, limit=4)
    two = outbox.claim_due(store, "two", now=NOW, until=until, limit=4)
    assert len(one) == 4
    assert len(two) == 2
    assert not {row.id for row in one} & {row.id for row in two}
    assert outbox.claim_due(store, "three", now=NOW, until=until) == []
    # "one" was killed after sending: once its claim expires the rows are sent again
    # (at least once), and marking them sent ends it
    again = outbox.claim_due(store, "four", now=until, until=until + timedelta(seconds=60))
    assert {row.id for row in again} == {row.id for row in one + two}
    for row in again:
        outbox.mark_sent(store, row.id, now=until)
    later = until + timedelta(hours=1)
    assert outbox.claim_due(store, "five", now=later, until=later) == []


def test_error_text_never_holds_the_url(store: Store) -> None:
    secret = "json://user:hunter2secret@127.0.0.1:9/hook-token-abcdef"
    rule = parse_rule("m", {"query": "茅台", "notify": [secret]})
    _attach(store, [rule])
    store.upsert_items([_item("茅台新闻")])

    def refuse(url: str, title: str, body: str) -> Delivery:
        from finews.alerts.sender import deliver

        return deliver(url, title, body, timeout=2)

    Sender(store, [rule], send=refuse).send_due()  # nothing listens on port 9
    (counts,) = outbox.outbox_counts(store)
    assert counts.last_error
    for part in ("hunter2secret", "hook-token-abcdef"):
        assert part not in counts.last_error
        assert part not in counts.channel


# --- what people see ----------------------------------------------------------------------


def test_status_api_and_metrics_show_the_outbox(store: Store) -> None:
    rule = parse_rule("m", {"query": "茅台", "notify": ["json://127.0.0.1:9/a"]})
    _attach(store, [rule, parse_rule("ads", {"query": "广告", "mute": True})])
    store.upsert_items([_item("茅台新闻"), _item("广告")])
    report = read_status(store, {})
    document = status_json(report)
    (row,) = document["alerts"]
    assert row["rule"] == "m"
    assert row["pending"] == 1
    assert row["channel"].startswith("json://…#")
    assert document["muted"] == {"ads": 1}
    names = {metric.name for metric in StatusCollector(report).collect()}
    assert {"finews_alerts", "finews_alerts_sent", "finews_alert_errors"} <= names
    assert "finews_items_muted" in names


def test_the_command_line(tmp_path: Path, sqlite_url: str) -> None:
    with Inbox() as hook:
        settings = tmp_path / "finews.toml"
        settings.write_text(
            f'database_url = "{sqlite_url}"\n\n[rules.moutai]\nquery = "茅台 -广告"\n'
            f'notify = ["json://user:s3cr3tpass@{hook.host_port}/hook-secret"]\n'
            '\n[rules.ads]\nquery = "广告"\nmute = true\n',
            encoding="utf-8",
        )
        runner = CliRunner()
        base = ["--config", str(settings)]
        listed = runner.invoke(cli, [*base, "rules"])
        assert listed.exit_code == 0, listed.output
        assert "moutai" in listed.output
        assert "json://…" in listed.output
        assert "s3cr3tpass" not in listed.output
        assert "hook-secret" not in listed.output
        config = load_config(settings, env={})
        with open_store(sqlite_url) as store:
            _attach(store, list(config.rules))
            store.upsert_items([_item("贵州茅台发布年报"), _item("茅台广告")])
        checked = runner.invoke(cli, [*base, "rules", "check", "moutai", "--days", "2"])
        assert checked.exit_code == 0, checked.output
        assert "贵州茅台发布年报" in checked.output
        assert "茅台广告" not in checked.output
        assert "1 of 2 items" in checked.output
        unknown = runner.invoke(cli, [*base, "rules", "check", "nope"])
        assert unknown.exit_code != 0
        assert "moutai" in unknown.output
        pending = runner.invoke(cli, [*base, "alerts"])
        assert "pending 1" in pending.output
        assert "ads  mutes 1 item" in pending.output
        sent = runner.invoke(cli, [*base, "alerts", "send"])
        assert sent.exit_code == 0, sent.output
        assert "sent 1" in sent.output
        (post,) = hook.accepted()
        assert post.json()["title"] == "贵州茅台发布年报"
        done = runner.invoke(cli, [*base, "alerts"])
        assert "sent 1" in done.output
        assert "s3cr3tpass" not in done.output


def test_a_fetch_matches_what_it_stores(tmp_path: Path, sqlite_url: str) -> None:
    """Commands that store through the CLI's store run the rules inline."""
    settings = tmp_path / "finews.toml"
    settings.write_text(
        f'database_url = "{sqlite_url}"\n\n[rules.ads]\nquery = "广告"\nmute = true\n',
        encoding="utf-8",
    )
    from finews.cli_context import CliContext

    context = CliContext(str(settings), {})
    with context.store() as store:
        store.upsert_items([_item("广告"), _item("新闻")])
        assert [item.title for item in store.items(ItemQuery(muted=False))] == ["新闻"]
    with open_store(sqlite_url) as reopened:
        assert json.dumps(outbox.muted_counts(reopened)) == '{"ads": 1}'


# --- the daemon -------------------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_the_daemon_matches_and_delivers_once_per_story(tmp_path: Path, db_url: str) -> None:
    """`finews run` with rules: its deriving thread writes the alerts, its alert task
    delivers them; every story of a matching item reaches the receiver exactly once."""
    import asyncio

    from test_daemon import fast_spec, running, until
    from upstreams import FastNewsFeed

    feed = FastNewsFeed(page_size=20)
    with Inbox() as hook, ReplayServer([feed.route()]) as upstream:
        settings = tmp_path / "finews.toml"
        settings.write_text(
            "[alerts]\nmax_age = 87600\n\n"
            f'[rules.north]\nquery = "北向资金 -第3条"\nnotify = ["json://{hook.host_port}/h"]\n'
            '\n[rules.quiet]\nquery = "第2条"\nmute = true\n',
            encoding="utf-8",
        )
        overrides = {"http.timeout": "0.5", "http.retries": "0", "daemon.host_spacing": "0"}
        config = load_config(settings, env={}, overrides=overrides)

        async def scenario() -> None:
            with open_store(db_url) as store:
                feed.publish(6)
                async with running(config, db_url, [fast_spec(upstream.url)]):
                    await until(lambda: store.count_items("em_fast") == 6, "six items")
                    await until(lambda: derive_backlog(store) == 0, "deriving")
                    await until(
                        lambda: all(c.pending == 0 for c in outbox.outbox_counts(store)),
                        "every alert delivered",
                    )
                stories = store.query(
                    "SELECT DISTINCT c.cluster_id FROM item_clusters c JOIN items i "
                    "ON i.id = c.item_id WHERE i.title NOT LIKE ?",
                    ("%第3条%",),
                )
                posted = hook.accepted()
                assert len(posted) == len(stories)
                assert len({post.json()["title"] for post in posted}) == len(posted)
                assert all("第3条" not in post.json()["title"] for post in posted)
                hidden = [item.title for item in store.items(ItemQuery(muted=True))]
                assert len(hidden) == 1
                assert "第2条" in hidden[0]

        asyncio.run(scenario())


def test_a_hanging_channel_holds_up_no_other_channel_in_later_passes(store: Store) -> None:
    gate = threading.Event()
    with Inbox(hold=gate) as stuck, Inbox() as good:
        urls = [f"json://{stuck.host_port}/stuck", f"json://{good.host_port}/good"]
        rule = parse_rule("m", {"query": "茅台", "notify": urls})
        _attach(store, [rule])
        sender = Sender(store, [rule], timeout=60)
        try:
            store.upsert_items([_item("茅台新闻一")])
            sender.send_due(wait=False)
            assert len(good.wait(1)) == 1
            stuck.wait(1)
            good_channel = channel_key(urls[1])
            deadline = time.monotonic() + 10
            while good_channel in sender.busy() and time.monotonic() < deadline:
                time.sleep(0.01)  # the good channel's thread marks its row sent
            assert sender.busy() == {channel_key(urls[0])}
            # the stuck channel still has its first alert in flight; a new alert reaches
            # the other channel in the next pass all the same
            store.upsert_items([_item("茅台集团另一则完全不同的公告内容")])
            sender.send_due(wait=False)
            assert len(good.wait(2)) == 2
            assert len(stuck.posts) == 1
        finally:
            gate.set()
            sender.close()
        sender.send_due()
        assert len(stuck.accepted()) == 2
        counts = outbox.outbox_counts(store)
        assert [(c.pending, c.sent) for c in counts] == [(0, 2), (0, 2)]


def test_muted_items_leave_the_live_sites_pages_feeds_and_api(tmp_path: Path) -> None:
    from finews.publish.settings import SiteSettings
    from finews.publish.web import create_app
    from site_data import TestClient

    url = f"sqlite:///{tmp_path / 'site.db'}"
    with open_store(url) as store:
        ads = parse_rule("ads", {"query": "推广", "mute": True})
        _attach(store, [ads, parse_rule("pboc", {"query": "央行", "notify": ["json://x.test/h"]})])
        store.upsert_items(
            [
                _item("某品牌白酒推广活动开启", importance=1),
                _item("央行开展逆回购操作", importance=1),
            ]
        )
    settings = SiteSettings(page_size=10, home_per_source=5, feed_size=10)
    with TestClient(create_app(url, settings, poll_interval=0.05)) as client:
        for path in ("/", "/all/", "/important/", "/hot/", "/api/hot", "/feed.xml", "/feed.json"):
            page = client.get(path).text
            assert "央行开展逆回购操作" in page, path
            assert "推广活动" not in page, path
        listed = [item["title"] for item in client.get("/api/items").json()["items"]]
        assert listed == ["央行开展逆回购操作"]
        every = client.get("/api/items?muted=true").json()["items"]
        assert len(every) == 2
        assert client.get("/api/items?muted=maybe").status_code == 400
        status = client.get("/status").text
        assert "屏蔽：ads 1 条" in status
        assert re.search(r"<th scope=\"row\">pboc</th>\s*<td[^>]*><code>json://…#", status)
        assert client.get("/api/status").json()["muted"] == {"ads": 1}
        # still findable
        found = client.get("/api/search?q=推广").json()
        assert [hit["title"] for hit in found["hits"]] == ["某品牌白酒推广活动开启"]
