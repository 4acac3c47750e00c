"""One of each: the yes/no words and the Beijing time every entry point reads alike.

A person types ``important=on`` into the API, ``all=YES`` into search, or
``FINEWS_SITE_DEDUPE=off`` into the environment: each entry point must take the same words
(:func:`finews.config.parse_bool`) and the same dates and times
(:func:`finews.normalize.times.parse_bound`, Beijing time when no offset is given).
"""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import finews
from finews.config import FALSE_WORDS, TRUE_WORDS, load_config
from finews.derive.search import query_from_params
from finews.errors import ConfigError
from finews.normalize.times import BEIJING, parse_bound
from finews.process.index import QueryError
from finews.publish.api import ParameterError, parse_items_query
from finews.publish.urls import BEIJING as PAGES_ZONE

#: every word, as typed in any case and with blanks around
SPELLINGS = [
    (spelling, truth)
    for words, truth in ((TRUE_WORDS, True), (FALSE_WORDS, False))
    for word in words
    for spelling in (word, word.upper(), f" {word.title()} ")
]


def _settings(text: str) -> tuple[bool, bool]:
    from_env = load_config(env={"FINEWS_SITE_DEDUPE": text}, read_file=False)
    from_cli = load_config(env={}, overrides={"site.dedupe": text}, read_file=False)
    return from_env.values["site.dedupe"], from_cli.values["site.dedupe"]


@pytest.mark.parametrize(("text", "truth"), SPELLINGS)
def test_every_entry_point_reads_the_same_yes_and_no(text: str, truth: bool) -> None:
    assert _settings(text) == (truth, truth)
    assert parse_items_query({"important": [text]}).important is truth
    searched = query_from_params({"q": "央行", "important": text, "all": text})
    assert searched.important is truth
    assert searched.dedupe is not truth


@pytest.mark.parametrize("text", ["y", "n", "真", "2", "enabled", "t"])
def test_every_entry_point_refuses_the_same_other_words(text: str) -> None:
    with pytest.raises(ConfigError, match="expected true or false"):
        load_config(env={"FINEWS_SITE_DEDUPE": text}, read_file=False)
    with pytest.raises(ParameterError, match=r"important: .* is not true or false"):
        parse_items_query({"important": [text]})
    with pytest.raises(QueryError, match=r"important: .* is not true or false"):
        query_from_params({"q": "央行", "important": text})


def test_the_api_and_search_read_since_and_until_alike() -> None:
    for since, until in [
        ("2024-09-02", "2024-09-03"),
        ("2024-09-02T09:30", "2024-09-02T23:00:00+08:00"),
        (" 2024-09-02T01:30:00Z ", "2024-09-02T18:00+00:00"),
    ]:
        api = parse_items_query({"since": [since], "until": [until]})
        search = query_from_params({"q": "央行", "since": since, "until": until})
        assert (api.since, api.until) == (search.since, search.until)
        assert (api.since, api.until) == (
            parse_bound(since, end=False),
            parse_bound(until, end=True),
        )
    # a bare date is a Beijing day, and as an end it includes that day
    assert parse_bound("2024-09-02", end=False) == datetime(2024, 9, 1, 16, tzinfo=UTC)
    assert parse_bound("2024-09-02", end=True) == datetime(2024, 9, 2, 16, tzinfo=UTC)
    assert parse_bound("2024-09-02T09:30", end=True) == datetime(2024, 9, 2, 1, 30, tzinfo=UTC)
    with pytest.raises(ParameterError, match=r"since: '9月2日' is not a date \(2024-09-02\)"):
        parse_items_query({"since": ["9月2日"]})
    with pytest.raises(QueryError, match=r"since: '9月2日' is not a date \(2024-09-02\)"):
        query_from_params({"q": "央行", "since": "9月2日"})


def test_one_beijing_zone() -> None:
    assert PAGES_ZONE is BEIJING
    assert datetime(2026, 1, 1, tzinfo=BEIJING).utcoffset() == timedelta(hours=8)
    # no other definition of the zone in finews's source
    defined = []
    for path in Path(finews.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", getattr(node.func, "attr", ""))
                text = ast.unparse(node)
                if name == "ZoneInfo" or (name == "timedelta" and text == "timedelta(hours=8)"):
                    defined.append(f"{path.name}: {text}")
    assert sorted(defined) == [
        "times.py: ZoneInfo('Asia/Shanghai')",
        "times.py: timedelta(hours=8)",
    ]
