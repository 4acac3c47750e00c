"""The option table: every global setting and every source's common settings, declared once.

:data:`SETTINGS` (name, type, default, help, and the values each allows) drives loading,
validation, ``finews config`` and the README's table; :data:`SOURCE_SETTINGS` are the
settings of every ``[sources.<id>]`` table, whatever its adapter (an adapter declares its
own in ``settings``). :func:`unknown_setting` and :func:`did_you_mean` name the known
settings nearest a mistyped one.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from finews.config.values import database_url, listen_host, public_url
from finews.models import Setting, header_text

__all__ = ["SETTINGS", "SOURCE_SETTINGS", "Option", "did_you_mean", "unknown_setting"]


#: one setting: the same type as an adapter's settings (name, type, default, help, and
#: the values it allows: choices, minimum and maximum, a check)
Option = Setting


SETTINGS: tuple[Option, ...] = (
    Option(
        "database_url",
        str,
        "",
        "Database URL: sqlite:///path/file.db or "
        "postgresql://user@host/db. Empty: sqlite in data_dir/finews.db. The folder of a "
        "SQLite file must exist (only data_dir is created when missing).",
        check=database_url,
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
        check=public_url,
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
    Option("serve.host", str, "127.0.0.1", "Address `finews serve` listens on.", check=listen_host),
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


def unknown_setting(key: str, known: Mapping[str, Option]) -> str:
    """What is wrong with an unknown ``key``: the known name nearest it, and the known
    settings of its section (every one, when none shares its first part)."""
    head = key.split(".")[0]
    near = sorted(n for n in known if n.split(".")[0] == head) or sorted(known)
    return f"unknown setting{did_you_mean(key, known)}; known settings: " + ", ".join(near)


def did_you_mean(key: str, known: Mapping[str, Any]) -> str:
    """`` (did you mean 'page_size'?)`` for the known name nearest ``key``, if one is near."""
    found = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    return f" (did you mean {found[0]!r}?)" if found else ""
