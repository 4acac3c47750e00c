"""The ``[rules.NAME]`` tables of the settings file, read and checked at start-up.

Each table is read by :func:`finews.process.rules.parse_rule`; :func:`read_rules` adds
the check that every notify URL is one Apprise can send to, so a wrong channel is refused
when finews starts rather than at the first alert.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from finews.errors import ConfigError
from finews.process.rules import Rule, channel_label, parse_rule

__all__ = ["read_rules"]


def read_rules(
    tables: Mapping[str, Any], *, origin: str, known_sources: Sequence[str]
) -> tuple[Rule, ...]:
    """The rules of ``tables`` (name → table), each checked, notify URLs included."""
    rules = tuple(
        parse_rule(name, table, origin=origin, known_sources=known_sources)
        for name, table in tables.items()
    )
    _check_notify_urls(rules, origin)
    return rules


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
