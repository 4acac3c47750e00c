"""One settings registry: defaults < ``finews.toml`` < ``FINEWS_*`` environment < CLI flags.

Every global setting is declared once in :data:`SETTINGS` (name, type, default, help); the
same list drives loading, validation, ``finews config`` and the README's table. Sources are
declared under ``[sources.<id>]``: the common settings in :data:`SOURCE_SETTINGS`, plus the
settings of the source's adapter (every upstream URL among them). A wrong value raises
:class:`~finews.errors.ConfigError` naming the key, the bad value and what is allowed.

Environment overrides: ``FINEWS_DATABASE_URL``, ``FINEWS_HTTP_TIMEOUT`` (a dotted name in
upper case with ``_``), and ``FINEWS_SOURCE_<ID>_<SETTING>`` for a source
(``FINEWS_SOURCE_EM_FAST_ENABLED=false``).
"""

from __future__ import annotations

import contextlib
import difflib
import json
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from finews.errors import ConfigError
from finews.models import Setting, SourceSpec, header_text, http_url, http_urls
from finews.process.rules import Rule, channel_label, parse_rule

__all__ = [
    "DEFAULT_SOURCES",
    "SETTINGS",
    "SOURCE_SETTINGS",
    "Config",
    "Option",
    "allowed_values",
    "load_config",
]


#: one setting: the same type as an adapter's settings (name, type, default, help, and
#: the values it allows: choices, minimum and maximum, a check)
Option = Setting


def _database_url(value: Any) -> str | None:
    """``database_url``: empty, ``sqlite:///file`` in an existing folder, or PostgreSQL."""
    url = str(value)
    if not url or url.startswith(("postgresql://", "postgres://")):
        return None
    if not url.startswith("sqlite:///"):
        return "sqlite:///path/to/finews.db or postgresql://user@host/dbname (empty: the default)"
    path = url[len("sqlite:///") :]
    if path in ("", ":memory:"):
        return None
    folder = Path(path).parent
    if not folder.is_dir():
        # finews creates only data_dir itself; a mistyped folder must not appear silently
        return (
            f"a file in an existing folder, and {str(folder)!r} does not exist: create it "
            f"first (mkdir -p {folder}) or choose another path"
        )
    return None


def _listen_host(value: Any) -> str | None:
    """``serve.host``: a host name or an IP address to listen on."""
    text = str(value)
    if text and all("!" <= char <= "~" for char in text):
        return None
    return "a host name or IP address (ASCII, no spaces), e.g. 127.0.0.1 or 0.0.0.0"


def _public_url(value: Any) -> str | None:
    """``site.public_url``: empty, or an absolute http(s) address."""
    text = str(value)
    if not text or (text.startswith(("http://", "https://")) and " " not in text):
        return None
    return "an absolute http(s) address such as https://news.example.com (or empty)"


def _text(value: Any) -> str | None:
    """Any text setting: no NUL and no undecodable bytes (e.g. a non-UTF-8 variable)."""
    if "\x00" in value:
        return "UTF-8 text without NUL characters (this value holds a NUL)"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "UTF-8 text without NUL characters (this value holds bytes that are not UTF-8)"
    return None


SETTINGS: tuple[Option, ...] = (
    Option(
        "database_url",
        str,
        "",
        "Database URL: sqlite:///path/file.db or "
        "postgresql://user@host/db. Empty: sqlite in data_dir/finews.db. The folder of a "
        "SQLite file must exist (only data_dir is created when missing).",
        check=_database_url,
    ),
    Option("data_dir", str, "data", "Folder for the embedded database and other state."),
    Option(
        "log_format",
        str,
        "text",
        "Log lines as plain text or JSON lines.",
        choices=("text", "json"),
    ),
    Option(
        "log_level",
        str,
        "info",
        "Least severe log level shown.",
        choices=("debug", "info", "warning", "error"),
    ),
    Option(
        "http.timeout",
        float,
        10.0,
        "Seconds to wait for an upstream reply.",
        minimum=0.01,
        maximum=3600,
    ),
    Option(
        "http.user_agent",
        str,
        "finews/0.1 (+https://github.com/finews)",
        "User-Agent header sent upstream (printable ASCII: it is an HTTP header).",
        check=header_text,
    ),
    Option(
        "http.max_body_bytes",
        int,
        8_000_000,
        "Largest reply body accepted, in bytes.",
        minimum=1024,
        maximum=1_073_741_824,
    ),
    Option(
        "http.retries", int, 2, "Retries after a timeout, a 429 or a 5xx.", minimum=0, maximum=20
    ),
    Option(
        "http.backoff",
        float,
        0.5,
        "First retry delay in seconds (doubles each retry).",
        minimum=0,
        maximum=3600,
    ),
    Option(
        "http.backoff_cap", float, 30.0, "Longest retry delay in seconds.", minimum=0, maximum=86400
    ),
    Option(
        "http.per_host_concurrency",
        int,
        2,
        "Requests in flight to one host at once.",
        minimum=1,
        maximum=100,
    ),
    Option(
        "http.allow_private_addresses",
        bool,
        False,
        "Let feed sources and `sources add` reach private, loopback and link-local addresses "
        "(SSRF guard off; per source: allow_private).",
    ),
    Option(
        "daemon.jitter",
        float,
        0.1,
        "`finews run`: random spread of each poll interval, as a fraction (0.1: ±10%).",
        minimum=0,
        maximum=0.9,
    ),
    Option(
        "daemon.backoff_cap",
        float,
        1800.0,
        "`finews run`: longest wait, in seconds, before polling a failing source again "
        "(the wait doubles from the source's interval with each failure).",
        minimum=1,
        maximum=604800,
    ),
    Option(
        "daemon.host_spacing",
        float,
        0.2,
        "`finews run`: least seconds between the starts of two requests to one host.",
        minimum=0,
        maximum=3600,
    ),
    Option(
        "daemon.fulltext_workers",
        int,
        4,
        "`finews run`: full-text fetches in flight at once (apart from list polling).",
        minimum=1,
        maximum=256,
    ),
    Option(
        "daemon.fulltext_attempts",
        int,
        5,
        "`finews run`: attempts at an item's full text before giving up on it.",
        minimum=1,
        maximum=1000,
    ),
    Option(
        "daemon.fulltext_retry",
        float,
        30.0,
        "`finews run`: seconds before retrying a failed full-text fetch (doubles each time).",
        minimum=0,
        maximum=604800,
    ),
    Option(
        "daemon.stop_grace",
        float,
        2.0,
        "`finews run`: seconds a stopping daemon lets polls in flight finish before "
        "cancelling them (what is committed stays).",
        minimum=0,
        maximum=3600,
    ),
    Option(
        "daemon.metrics_port",
        int,
        0,
        "`finews run`: serve the daemon's own Prometheus metrics on this loopback port (0: off).",
        minimum=0,
        maximum=65535,
    ),
    Option(
        "daemon.lease_seconds",
        float,
        30.0,
        "`finews run`: how long a worker's lease on a source lasts unless renewed (every "
        "third of it); workers sharing a database take a dead worker's sources over "
        "within this time.",
        minimum=1,
        maximum=86400,
    ),
    Option(
        "alerts.attempts",
        int,
        8,
        "Attempts at delivering one alert to a channel before it counts as failed.",
        minimum=1,
        maximum=1000,
    ),
    Option(
        "alerts.backoff",
        float,
        5.0,
        "Seconds before the first retry of an alert a channel refused (doubles each time).",
        minimum=0,
        maximum=86400,
    ),
    Option(
        "alerts.backoff_cap",
        float,
        900.0,
        "Longest wait, in seconds, between two attempts at one alert.",
        minimum=0,
        maximum=604800,
    ),
    Option(
        "alerts.max_age",
        float,
        24.0,
        "Hours: an item published longer ago than this raises no alert when stored (an "
        "import or a backlog of old items); it is still matched and muted.",
        minimum=0,
        maximum=87600,
    ),
    Option(
        "alerts.timeout",
        float,
        15.0,
        "Seconds one delivery may take before it counts as failed.",
        minimum=0.1,
        maximum=3600,
    ),
    Option(
        "jekyll.site",
        str,
        "//finews.withounder.com",
        "Site address used in back-links of exported posts.",
    ),
    Option(
        "jekyll.share_base",
        str,
        "http://finews.zning.xyz/html_News/NewsShare.html?infoCode=",
        "Share-link base for items without an upstream link (media and market news).",
    ),
    Option(
        "jekyll.window_days",
        int,
        3,
        "Days (today included, Asia/Shanghai) whose posts go to _posts/; older to old_post/.",
        minimum=1,
        maximum=3650,
    ),
    Option(
        "jekyll.verbatim_html",
        bool,
        True,
        "Write the full text of East Money's emnews/em_media/em_market items as received "
        "(the original's bytes) when a strict safety check passes; off: always sanitised.",
    ),
    Option("site.title", str, "金融消息", "Site title."),
    Option(
        "site.public_url",
        str,
        "",
        "The live site's public address (https://news.example.com): alerts link to its "
        "article pages. Empty: alerts link to the original only.",
        check=_public_url,
    ),
    Option("site.base_url", str, "/", "URL path the static site is served under."),
    Option(
        "site.home_per_source",
        int,
        5,
        "Newest items per source on the home page.",
        minimum=1,
        maximum=1000,
    ),
    Option("site.page_size", int, 50, "Items per list page.", minimum=1, maximum=10000),
    Option(
        "site.dedupe",
        bool,
        True,
        "Show each story once (its earliest report; the others under 其他来源的报道); "
        "false shows every report.",
    ),
    Option(
        "site.hot_hours",
        int,
        6,
        "Hours of news the 热点 board (/hot/) ranks stories over.",
        minimum=1,
        maximum=168,
    ),
    Option(
        "site.chinese_variant",
        str,
        "",
        "Show text as written (empty), in Simplified (hans) or Traditional (hant) characters.",
        choices=("", "hans", "hant"),
    ),
    Option(
        "securities.list_enabled",
        bool,
        False,
        "Read every A share's name from East Money's quote list (`finews run` daily, "
        "`finews securities refresh` at once).",
    ),
    Option(
        "securities.list_url",
        str,
        "http://82.push2.eastmoney.com/api/qt/clist/get",
        "East Money's quote list endpoint (as akshare's stock_zh_a_spot_em reads it).",
    ),
    Option(
        "serve.host", str, "127.0.0.1", "Address `finews serve` listens on.", check=_listen_host
    ),
    Option("serve.port", int, 8000, "Port `finews serve` listens on.", minimum=0, maximum=65535),
    Option(
        "serve.workers",
        int,
        1,
        "Processes `finews serve` forks to answer requests (Linux); each follows the change "
        "log, so live updates reach every worker's readers.",
        minimum=1,
        maximum=64,
    ),
)

#: settings every source has, whatever its adapter
SOURCE_SETTINGS: tuple[Option, ...] = (
    Option("adapter", str, "", "Which adapter reads this source (see `finews sources`)."),
    Option("enabled", bool, True, "Poll this source."),
    Option("name", str, "", "Display name."),
    Option(
        "interval", float, 300.0, "Seconds between polls (`finews run`).", minimum=1, maximum=604800
    ),
    Option(
        "category", str, "", "Fixed category slug; empty: the pinyin of each item's media name."
    ),
    Option("tag", str, "", "Tag of a fixed-category source (the media name + 新闻 otherwise)."),
    Option("page_path", str, "", "Path of this source's page; empty: /category/<slug>.html."),
    Option("fulltext", bool, True, "Fetch each new item's full text where the source has it."),
    Option(
        "max_pages",
        int,
        10,
        "Pages to walk back per poll before giving up on reaching stored items.",
        minimum=1,
        maximum=10000,
    ),
)

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


def allowed_values(option: Setting) -> str:
    """What ``option`` accepts, in a few words (the README's "allowed" column)."""
    if option.choices:
        return ", ".join(f"`{c!r}`" for c in option.choices)
    if option.type in (int, float):

        def number(value: float | None) -> str:
            if value is None:
                return "any"
            return f"{int(value):,}".replace(",", " ") if value == int(value) else f"{value:g}"

        return f"{number(option.minimum)} to {number(option.maximum)}"
    if option.check is header_text:
        return "printable ASCII"
    if option.check is http_url:
        return "an http(s) URL"
    if option.check is http_urls:
        return "http(s) URLs"
    if option.check is _listen_host:
        return "a host name or IP address"
    if option.check is _database_url:
        return "`sqlite:///` (existing folder), `postgresql://`"
    if option.check is not None:
        return "see meaning"
    return {bool: "true, false", list: "a list", dict: "a table"}.get(option.type, "text")


#: The words read as true and as false, in any case and with blanks around, wherever
#: finews reads a yes/no from text: settings from the environment or the command line,
#: API and search parameters (:func:`parse_bool`).
TRUE_WORDS = ("true", "1", "yes", "on")
FALSE_WORDS = ("false", "0", "no", "off")


def parse_bool(text: str) -> bool | None:
    """``True`` or ``False`` for one of :data:`TRUE_WORDS` or :data:`FALSE_WORDS`, else
    ``None`` (each caller says what was expected, in its own kind of error)."""
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return None


def _coerce(option: Option, value: Any, key: str, origin: str, *, from_text: bool) -> Any:
    """Check (and, for text from the environment or CLI, convert) one value."""
    kind = option.type
    if from_text and isinstance(value, str) and kind is not str:
        text = value.strip()
        if kind is bool:
            flag = parse_bool(text)
            if flag is not None:
                value = flag
        elif kind in (list, dict):
            try:
                value = json.loads(text)
            except ValueError:
                value = [part.strip() for part in text.split(",") if part.strip()]
        else:
            with contextlib.suppress(ValueError):
                value = kind(text)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
    if not ok:
        raise ConfigError(key, value, f"expected {_type_name(kind)}", origin)
    if option.choices and value not in option.choices:
        allowed = ", ".join(repr(c) for c in option.choices)
        raise ConfigError(key, value, f"expected one of {allowed}", origin)
    if kind in (int, float):
        low, high = option.minimum, option.maximum
        if (
            (kind is float and not math.isfinite(value))
            or (low is not None and value < low)
            or (high is not None and value > high)
        ):
            limits = [f">= {low:g}"] if low is not None else []
            limits += [f"<= {high:g}"] if high is not None else []
            raise ConfigError(key, value, "expected a number " + " and ".join(limits), origin)
    problem = _text(value) if kind is str else None
    if problem is None and option.check is not None:
        problem = option.check(value)
    if problem is not None:
        raise ConfigError(key, value, f"expected {problem}", origin)
    return value


def _type_name(kind: type) -> str:
    return {
        bool: "true or false",
        int: "a whole number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a table",
    }.get(kind, kind.__name__)


@dataclass(frozen=True)
class Config:
    """The loaded configuration."""

    values: Mapping[str, Any]
    sources: tuple[SourceSpec, ...]
    path: Path | None = None
    origins: Mapping[str, str] = field(default_factory=dict)
    #: the ``[rules.NAME]`` tables, checked (finews.process.rules)
    rules: tuple[Rule, ...] = ()

    def rule(self, name: str) -> Rule:
        """One rule by name."""
        for rule in self.rules:
            if rule.name == name:
                return rule
        known = ", ".join(r.name for r in self.rules) or "none; add [rules.NAME] tables"
        raise ConfigError("rules", name, f"no such rule; configured: {known}")

    def get(self, name: str) -> Any:
        """One global setting by dotted name."""
        return self.values[name]

    def section(self, prefix: str) -> dict[str, Any]:
        """Every setting under ``prefix.`` as a dict without the prefix."""
        head = prefix + "."
        return {k[len(head) :]: v for k, v in self.values.items() if k.startswith(head)}

    @property
    def database_url(self) -> str:
        """The database URL, defaulting to SQLite in the data directory."""
        url = str(self.values["database_url"])
        if url:
            return url
        return "sqlite:///" + str(Path(self.values["data_dir"]) / "finews.db")

    def prepare_database(self) -> str:
        """:attr:`database_url`, after creating ``data_dir`` when the database goes there
        (only that folder: its parent must exist; any other folder is the operator's)."""
        if not self.values["database_url"]:
            folder = Path(self.values["data_dir"])
            try:
                folder.mkdir(exist_ok=True)
            except OSError as exc:
                raise ConfigError(
                    "data_dir",
                    str(folder),
                    f"cannot create this folder ({exc.strerror}); create it, "
                    "or set data_dir or database_url",
                    self.origins.get("data_dir", "default"),
                ) from exc
        return self.database_url

    def source(self, source_id: str) -> SourceSpec:
        """One source by id."""
        for spec in self.sources:
            if spec.id == source_id:
                return spec
        known = ", ".join(s.id for s in self.sources)
        raise ConfigError("sources", source_id, f"no such source; configured: {known}")

    def enabled_sources(self) -> list[SourceSpec]:
        """The sources to poll."""
        return [s for s in self.sources if s.enabled]

    def source_names(self) -> list[tuple[str, str]]:
        """(id, display name) of every configured source."""
        return [(s.id, s.name) for s in self.sources]

    def page_paths(self) -> dict[str, str]:
        """Category slug → page path for fixed-category sources with their own path."""
        return {
            str(s.settings["category"]): str(s.settings["page_path"])
            for s in self.sources
            if s.settings.get("category") and s.settings.get("page_path")
        }


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and name not in ("sources", "rules"):
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError("(file)", str(path), f"cannot be read: {exc.strerror}") from exc
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(
            "(file)",
            str(path),
            f"not UTF-8 text (byte {data[exc.start]:#04x} on line {line}); save the file as UTF-8",
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("(file)", str(path), f"not valid TOML: {exc}", str(path)) from exc


def load_config(
    path: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    source_overrides: Mapping[str, Mapping[str, Any]] | None = None,
    read_file: bool = True,
) -> Config:
    """Load the configuration.

    ``path`` None means ``finews.toml`` in the working directory if it exists (a missing
    default file is fine; a missing file named explicitly is an error). ``overrides`` are
    CLI values by dotted name (text is converted as environment values are);
    ``source_overrides`` change or add sources (source id → settings). ``read_file`` False
    ignores every settings file (the demo runs on defaults whatever the folder holds).
    """
    env = os.environ if env is None else env
    by_name = {opt.name: opt for opt in SETTINGS}
    values: dict[str, Any] = {opt.name: opt.default for opt in SETTINGS}
    origins: dict[str, str] = {}
    raw_sources: dict[str, dict[str, Any]] = {k: dict(v) for k, v in DEFAULT_SOURCES.items()}
    source_origin: dict[str, str] = {}
    rule_tables: dict[str, Any] = {}
    rules_origin = "settings"

    explicit = path is not None or "FINEWS_CONFIG" in env
    file_path = Path(path if path is not None else env.get("FINEWS_CONFIG", "finews.toml"))
    if read_file and file_path.exists():
        data = _read_toml(file_path)
        origin = str(file_path)
        file_sources = data.pop("sources", {})
        rule_tables = data.pop("rules", {})
        rules_origin = origin
        if not isinstance(rule_tables, dict):
            raise ConfigError("rules", rule_tables, "expected tables [rules.NAME]", origin)
        if not isinstance(file_sources, dict):
            raise ConfigError("sources", file_sources, "expected tables [sources.<id>]", origin)
        for key, value in _flatten(data).items():
            option = by_name.get(key)
            if option is None:
                raise ConfigError(key, value, _unknown(key, by_name), origin)
            values[key] = _coerce(option, value, key, origin, from_text=False)
            origins[key] = origin
        for sid, table in file_sources.items():
            if not isinstance(table, dict):
                raise ConfigError(f"sources.{sid}", table, "expected a table", origin)
            raw_sources.setdefault(sid, {}).update(table)
            source_origin[sid] = origin
    elif read_file and explicit:
        raise ConfigError(
            "--config", str(file_path), "no such file (create it, or leave --config out)"
        )

    for name, option in by_name.items():
        env_name = "FINEWS_" + name.upper().replace(".", "_")
        if env_name in env:
            values[name] = _coerce(option, env[env_name], name, env_name, from_text=True)
            origins[name] = env_name
    _apply_source_env(env, raw_sources, source_origin)

    for name, value in (overrides or {}).items():
        option = by_name.get(name)
        if option is None and name.startswith("sources."):
            _apply_source_set(name, value, raw_sources, source_origin, overrides or {})
            continue
        if option is None:
            raise ConfigError(name, value, _unknown(name, by_name), "command line")
        values[name] = _coerce(option, value, name, "command line", from_text=True)
        origins[name] = "command line"
    for sid, table in (source_overrides or {}).items():
        raw_sources.setdefault(sid, {}).update(table)
        source_origin[sid] = "command line"

    sources = tuple(
        _source_spec(sid, table, source_origin.get(sid, "defaults"))
        for sid, table in raw_sources.items()
    )
    known = [spec.id for spec in sources]
    rules = tuple(
        parse_rule(name, table, origin=rules_origin, known_sources=known)
        for name, table in rule_tables.items()
    )
    _check_notify_urls(rules, rules_origin)
    return Config(
        values=values,
        sources=sources,
        path=file_path if read_file and file_path.exists() else None,
        origins=origins,
        rules=rules,
    )


def _check_notify_urls(rules: tuple[Rule, ...], origin: str) -> None:
    """Every notify URL is one Apprise can send to (checked at start-up, not at the first
    alert); the error shows the URL's scheme only, since the rest is a secret."""
    urls = [(rule.name, url) for rule in rules for url in rule.notify]
    if not urls:
        return
    import logging

    import apprise  # loaded only when some rule notifies

    # Apprise's log lines can name parts of a URL (finews.alerts.sender logs its own)
    logging.getLogger("apprise").propagate = False

    for name, url in urls:
        if apprise.Apprise.instantiate(url) is None:
            raise ConfigError(
                f"rules.{name}.notify",
                channel_label(url),
                "a URL Apprise can send to (check the scheme, token and host; "
                "https://github.com/caronc/apprise/wiki lists every channel's form)",
                origin,
            )


def _unknown(key: str, known: Mapping[str, Option]) -> str:
    head = key.split(".")[0]
    near = sorted(n for n in known if n.split(".")[0] == head) or sorted(known)
    return f"unknown setting{_did_you_mean(key, known)}; known settings: " + ", ".join(near)


def _did_you_mean(key: str, known: Mapping[str, Any]) -> str:
    """`` (did you mean 'page_size'?)`` for the known name nearest ``key``, if one is near."""
    found = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    return f" (did you mean {found[0]!r}?)" if found else ""


def _apply_source_env(
    env: Mapping[str, str],
    raw_sources: dict[str, dict[str, Any]],
    source_origin: dict[str, str],
) -> None:
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


def _apply_source_set(
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


def _source_spec(sid: str, table: Mapping[str, Any], origin: str) -> SourceSpec:
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
                f"unknown setting{_did_you_mean(key, options)}; the settings of a "
                f"{adapter_name} source: " + ", ".join(sorted(options))
            )
            raise ConfigError(f"{key_prefix}.{key}", value, allowed, origin)
        settings[key] = _coerce(
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
