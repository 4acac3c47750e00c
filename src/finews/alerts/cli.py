"""``finews rules`` and ``finews alerts``: the watchlist rules and their alerts from the
command line. Notify URLs are secrets: only their scheme is ever shown."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from finews.alerts.sender import Sender, SendReport
from finews.process.rules import ItemText, Rule, channel_label
from finews.redact import redact

__all__ = ["alerts_group", "commands", "rules_group"]


def _describe(rule: Rule) -> list[str]:
    what = []
    if rule.query:
        what.append(f"query {rule.query!r}")
    if rule.stocks:
        what.append("stocks " + " ".join(rule.stocks))
    if not what:
        what.append("every item")
    if rule.sources:
        what.append("sources " + ", ".join(rule.sources))
    if rule.min_importance:
        what.append(f"importance >= {rule.min_importance}")
    does = []
    if rule.mute:
        does.append("mute")
    if rule.notify:
        channels = ", ".join(channel_label(url) for url in rule.notify)
        does.append(
            f"notify {channels}" + (" (+ follow-up when important)" if rule.follow_up else "")
        )
    return [f"  watches {'; '.join(what)}", f"  does    {'; '.join(does)}"]


@click.group("rules", invoke_without_command=True)
@click.pass_context
def rules_group(ctx: click.Context) -> None:
    """List the watchlist rules of the settings file ([rules.NAME] tables).

    Each rule watches a query (finews search syntax, -word excludes), securities, sources
    and an importance, and mutes what it matches and/or notifies Apprise URLs (shown by
    scheme only: they are secrets). `finews rules check NAME` tries one on the archive.

    \b
    Examples:
      finews rules
      finews rules check moutai --days 3
    """
    if ctx.invoked_subcommand is not None:
        return
    config = ctx.obj.config
    if not config.rules:
        click.echo("no rules; add [rules.NAME] tables to the settings file (see the README)")
        return
    for rule in config.rules:
        click.echo(rule.name)
        for line in _describe(rule):
            click.echo(line)


@rules_group.command("check")
@click.argument("name")
@click.option("--days", type=click.IntRange(1, 3650), default=7, show_default=True)
@click.option("--limit", "-n", type=click.IntRange(1, 10000), default=50, show_default=True)
@click.pass_obj
def check_cmd(obj: Any, name: str, days: int, limit: int) -> None:
    """Show what rule NAME would have matched in the archive's last DAYS days (newest
    first), to tune it before it fires. Nothing is muted or sent."""
    from finews.normalize.times import shanghai_wall
    from finews.store import ItemQuery

    rule = obj.config.rule(name)
    since = datetime.now(UTC) - timedelta(days=days)
    shown = matched = seen = 0
    with obj.store(read_only=True) as store:
        for item in store.items(ItemQuery(since=since, without_content=False)):
            seen += 1
            if not rule.matches(ItemText.of(item)):
                continue
            matched += 1
            if shown < limit:
                shown += 1
                mark = "  [重要]" if item.importance > 0 else ""
                click.echo(f"{shanghai_wall(item.published_at)}  {item.source}{mark}")
                click.echo(f"  {item.title}")
                if item.url:
                    click.echo(f"  {item.url}")
    more = f" (first {shown} shown)" if matched > shown else ""
    click.echo(f"rule {name}: {matched} of {seen} items of the last {days} days match{more}")


@click.group("alerts", invoke_without_command=True)
@click.pass_context
def alerts_group(ctx: click.Context) -> None:
    """The alert outbox per rule and channel: pending, sent, failed, the last error.

    Channels are shown by scheme and a short digest of their URL (the URL is a secret).
    `finews run` delivers alerts by itself; `finews alerts send` does it once (cron).
    """
    if ctx.invoked_subcommand is not None:
        return
    from finews.normalize.times import shanghai_wall
    from finews.store.alerts import muted_counts, outbox_counts

    obj = ctx.obj
    with obj.store(read_only=True) as store:
        counts = outbox_counts(store)
        muted = muted_counts(store)
    if not counts and not muted:
        click.echo("no alerts yet")
    for row in counts:
        last = shanghai_wall(row.last_sent) if row.last_sent else "never"
        click.echo(
            f"{row.rule}  {row.channel}  pending {row.pending}  sent {row.sent}  "
            f"failed {row.failed}  last sent {last}"
        )
        if row.last_error:
            click.echo(f"  last error: {redact(row.last_error)}")
    for rule, count in sorted(muted.items()):
        click.echo(f"{rule}  mutes {count} item{'' if count == 1 else 's'}")


@alerts_group.command("send")
@click.pass_obj
def send_cmd(obj: Any) -> None:
    """Deliver every alert that is due, once (for cron; `finews run` does it by itself).
    Exits non-zero when a delivery failed."""
    with obj.store() as store:
        sender = Sender.from_config(store, obj.config)
        total = SendReport()
        try:
            while True:
                report = sender.send_due()
                total.add(report)
                if not (report.sent or report.failed):
                    break
        finally:
            sender.close()
    click.echo(
        f"sent {total.sent}, to retry {total.retried + total.deferred}, failed {total.failed}"
    )
    if total.retried or total.failed:
        sys.exit(1)


#: the commands this module adds to ``finews``
commands = [rules_group, alerts_group]
