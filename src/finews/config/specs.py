"""The sources: the defaults finews knows, and each ``[sources.<id>]`` table read into a
:class:`~finews.models.SourceSpec`.

A source's settings come from :data:`DEFAULT_SOURCES`, the settings file's
``[sources.<id>]`` tables, ``FINEWS_SOURCE_<ID>_<SETTING>`` variables
(:func:`apply_source_env`) and ``--set sources.<id>.<setting>=VALUE``
(:func:`apply_source_set`), in that order; :func:`source_spec` checks each against the
common settings and those of the source's adapter, and builds the adapter's typed options
once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from finews.config.options import SOURCE_SETTINGS, did_you_mean
from finews.config.values import coerce
from finews.errors import ConfigError
from finews.models import SourceSpec

__all__ = ["DEFAULT_SOURCES", "apply_source_env", "apply_source_set", "source_spec"]


#: the sources finews knows out of the box; a config file may change or add to them
DEFAULT_SOURCES: dict[str, dict[str, Any]] = {
    "em_fast": {
        "adapter": "eastmoney_fast",
        "name": "东方财富 7x24 快讯",
        "category": "emkuaixun",
        "tag": "东财快讯",
        "interval": 30.0,
    },
    # Chinese finance feeds (issue 5). On by default only where at least two independent
    # public clients of 2025-2026 agree on the shape (issue 18; the README's source table
    # says why each is on or off): sina_zhibo (akshare 2026-07-22, go-stock 2025-07-12), ths
    # (akshare 2026-07-22, RSSHub 2025-01-31), wallstreetcn (newsnow 2025-06-27, RSSHub
    # 2025-04-22), jin10 (newsnow 2026-06-03, RSSHub 2025-05-31); cls stays off (its recent
    # clients disagree on the request).
    "em_focus": {
        "adapter": "eastmoney_fast",
        "enabled": False,
        "name": "东方财富 焦点",
        "column": "100",  # fastColumn 100 = 焦点, 101 = 要闻 (RSSHub eastmoney/kuaixun)
        "category": "emjiaodian",
        "tag": "东财焦点",
        "interval": 30.0,
    },
    "em_column_1207": {
        "adapter": "eastmoney_column",
        "enabled": False,
        "name": "东方财富 财经早餐",
        "column": "1207",
        "category": "emzaocan",
        "tag": "东财财经早餐",
        "interval": 300.0,
    },
    "em_column_350": {
        "adapter": "eastmoney_column",
        "enabled": False,
        "name": "东方财富 要闻",
        "column": "350",
        "category": "emyaowen",
        "tag": "东财要闻",
        "interval": 300.0,
    },
    "sina_zhibo": {
        "adapter": "sina_zhibo",
        "name": "新浪财经 7x24",
        "category": "sinazhibo",
        "tag": "新浪7x24",
        "interval": 30.0,
    },
    "ths": {
        "adapter": "ths",
        "name": "同花顺 7x24 快讯",
        "category": "thskuaixun",
        "tag": "同花顺快讯",
        "interval": 30.0,
    },
    "wallstreetcn": {
        "adapter": "wallstreetcn",
        "name": "华尔街见闻 实时快讯",
        "category": "wallstreetcn",
        "tag": "华尔街见闻",
        "interval": 30.0,
    },
    "jin10": {
        "adapter": "jin10",
        "name": "金十数据 快讯",
        "category": "jin10",
        "tag": "金十快讯",
        "interval": 30.0,
    },
    "cls": {
        "adapter": "cls",
        "enabled": False,
        "name": "财联社 电报",
        "category": "cls",
        "tag": "财联社电报",
        "interval": 30.0,
    },
    "emnews": {
        "adapter": "eastmoney_rolling",
        "enabled": False,
        "name": "东财滚动新闻",
        "category": "emnews",
        "tag": "东财滚动新闻",
        "page_path": "/emnews/",
        "interval": 300.0,
    },
    "em_media": {
        "adapter": "eastmoney_media",
        "enabled": False,
        "name": "东方财富 媒体新闻",
        "interval": 300.0,
    },
    "em_market": {
        "adapter": "eastmoney_market",
        "enabled": False,
        "name": "东方财富 市场新闻",
        "interval": 300.0,
    },
}


def apply_source_env(
    env: Mapping[str, str],
    raw_sources: dict[str, dict[str, Any]],
    source_origin: dict[str, str],
) -> None:
    """``FINEWS_SOURCE_<ID>_<SETTING>`` variables: one source's setting each, as text to be
    converted to the setting's type; a variable that names no configured source is an
    error."""
    prefix = "FINEWS_SOURCE_"
    # longest ids first, so EM_FAST does not swallow EM_FAST_X's settings
    ids = sorted(raw_sources, key=len, reverse=True)
    for name, text in env.items():
        if not name.startswith(prefix):
            continue
        rest = name[len(prefix) :]
        for sid in ids:
            head = sid.upper() + "_"
            if rest.startswith(head):
                raw_sources[sid][rest[len(head) :].lower()] = _EnvText(text)
                source_origin[sid] = name
                break
        else:
            raise ConfigError(name, text, "no configured source matches this variable's name")


def apply_source_set(
    name: str,
    value: Any,
    raw_sources: dict[str, dict[str, Any]],
    source_origin: dict[str, str],
    overrides: Mapping[str, Any],
) -> None:
    """``--set sources.<id>.<key>=VALUE``: one source's setting, as its environment form
    (``FINEWS_SOURCE_<ID>_<KEY>``) gives it. A new id needs its ``adapter`` set too."""
    _, sid, key = name.split(".", 2) if name.count(".") >= 2 else (name, "", "")
    if not sid or not key:
        raise ConfigError(
            name,
            value,
            "expected sources.<id>.<setting>, e.g. sources.em_fast.enabled",
            "command line",
        )
    if sid not in raw_sources and f"sources.{sid}.adapter" not in overrides:
        known = ", ".join(raw_sources)
        raise ConfigError(name, value, f"no source {sid!r}; configured: {known}", "command line")
    raw_sources.setdefault(sid, {})[key] = _EnvText(value) if isinstance(value, str) else value
    source_origin[sid] = "command line"


class _EnvText(str):
    """A value from the environment: text to be converted to the setting's type."""


def source_spec(sid: str, table: Mapping[str, Any], origin: str) -> SourceSpec:
    """Source ``sid`` from its ``table``: its adapter's and the common settings, each
    checked, and the adapter's typed options."""
    from finews.sources import adapters
    from finews.sources.base import parse_options

    key_prefix = f"sources.{sid}"
    known_adapters = adapters()
    adapter_name = table.get("adapter", "")
    if adapter_name not in known_adapters:
        allowed = "one of " + ", ".join(sorted(known_adapters))
        raise ConfigError(f"{key_prefix}.adapter", adapter_name, allowed, origin)
    adapter = known_adapters[adapter_name]
    options = {opt.name: opt for opt in SOURCE_SETTINGS}
    for setting in adapter.settings:
        options[setting.name] = setting
    settings: dict[str, Any] = {name: opt.default for name, opt in options.items()}
    for key, value in table.items():
        option = options.get(key)
        if option is None:
            allowed = (
                f"unknown setting{did_you_mean(key, options)}; the settings of a "
                f"{adapter_name} source: " + ", ".join(sorted(options))
            )
            raise ConfigError(f"{key_prefix}.{key}", value, allowed, origin)
        settings[key] = coerce(
            option, value, f"{key_prefix}.{key}", origin, from_text=isinstance(value, _EnvText)
        )
    enabled = bool(settings.pop("enabled"))
    name = str(settings.pop("name")) or sid
    settings.pop("adapter")
    # the adapter's own settings, typed, once: adapters read attributes of this
    options = parse_options(adapter.options_class, adapter.settings, settings)
    return SourceSpec(
        id=sid,
        adapter=adapter_name,
        enabled=enabled,
        name=name,
        settings=settings,
        options=options,
    )
