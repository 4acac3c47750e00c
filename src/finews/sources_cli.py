"""``finews sources``: the configured sources with their health, as a table.

The ``sources`` group lists each source (on or off, adapter, items, backoff, next poll,
last success, items of the last hour and day, median delay) and then its notes (worker
lease, full-text queue, format alarm, last error). Its subcommands live in modules of their
own, loaded only when used: ``add``, ``import`` and ``export`` in ``feeds_cli.py``,
``probe`` in ``probe_cli.py``.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from types import MappingProxyType

import click

from finews.cli_context import CliContext, Group
from finews.config import Config
from finews.redact import redact
from finews.store import Store

__all__ = ["commands", "sources"]


@click.group(cls=Group, invoke_without_command=True)
@click.pass_context
def sources(ctx: click.Context) -> None:
    """List the configured sources with their health and last error.

    For each source: on or off, adapter, items stored, whether it is in backoff, when it
    is polled next, last success and attempt, items stored in the last hour and day, the
    median delay from upstream publication to storage, and the last error.

    \b
    Examples:
      finews sources
      finews sources add https://rsshub.example.org/cls/telegraph
      finews sources export opml feeds.opml
      finews sources probe em_fast --save fixtures/
    """
    if ctx.invoked_subcommand is not None:
        return
    obj: CliContext = ctx.obj
    with obj.store(read_only=True) as store:
        _print_sources(store, obj.config)


def _print_sources(store: Store, config: Config) -> None:
    """The sources as a table (columns hold whatever the ids' lengths), then each source's
    notes: worker lease, full-text queue, last error."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from finews.store.health import _ago, _span, source_health
    from finews.store.leases import lease_of

    moment = datetime.now(UTC)
    table = Table(box=None, pad_edge=False, header_style="bold")
    for name, justify in (
        ("on", "left"),
        ("id", "left"),
        ("adapter", "left"),
        ("items", "right"),
        ("state", "left"),
        ("next poll", "left"),
        ("last success", "left"),
        ("1 h", "right"),
        ("1 day", "right"),
        ("delay", "right"),
        ("name", "left"),
    ):
        table.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
    notes: list[str] = []
    for spec in config.sources:
        health = source_health(store, spec.id, now=moment)
        state = health.state
        if state.last_attempt is None:
            status = "never polled"
        elif health.in_backoff:
            status = f"BACKOFF after {state.consecutive_failures} failure(s)"
        else:
            status = "ok"
        if health.format.alarm:
            status += ", format changed?"
        if state.next_poll is None or not spec.enabled:
            upcoming = "-"
        elif state.next_poll <= moment:
            upcoming = "due now"
        else:
            upcoming = "in " + _span((state.next_poll - moment).total_seconds())
        cells = (
            "on" if spec.enabled else "off",
            spec.id,
            spec.adapter,
            str(health.items),
            status,
            upcoming,
            _ago(state.last_success, moment),
            str(health.items_hour),
            str(health.items_day),
            "-" if health.median_delay is None else _span(health.median_delay),
            spec.name,
        )
        # Text: a name such as "[bold]" is shown as written, not read as rich's markup
        table.add_row(*(Text(cell) for cell in cells))
        lease = lease_of(store, spec.id)
        if lease is not None and lease.live(moment):
            left = _span((lease.expires_at - moment).total_seconds())
            notes.append(f"{spec.id}: polled by worker {lease.worker} (lease {left} left)")
        if health.queue.pending or health.queue.failed:
            notes.append(
                f"{spec.id}: full text: {health.queue.pending} waiting, "
                f"{health.queue.failed} given up"
            )
        if health.format.alarm:
            since = _ago(health.format.since, moment)
            notes.append(f"{spec.id}: {health.format.alarm} (since {since})")
            if health.format.sample:
                notes.append(
                    f"{spec.id}: sample of the reply: {health.format.sample}; "
                    f"see what it sends now: finews sources probe {spec.id}"
                )
        if state.last_error:
            notes.append(f"{spec.id}: last error: {redact(state.last_error)}")
    # a pipe or a file gets the whole table, unwrapped; a terminal its own width
    console = Console(highlight=False, soft_wrap=False, width=None if sys.stdout.isatty() else 200)
    with console.capture() as captured:
        console.print(table)
    for line in captured.get().splitlines():
        click.echo(line.rstrip())  # no padding after the last column
    for note in notes:
        click.echo(note)


# the subcommands in modules of their own (each defines ``subcommands``: a list of click
# commands), loaded when used (see Group); they import cli_context, not this
sources.lazy = MappingProxyType(
    {
        **dict.fromkeys(("add", "import", "export"), "finews.feeds_cli:subcommands"),
        "probe": "finews.probe_cli:subcommands",
    }
)

#: the commands of this module, added to ``finews`` by ``cli.py``
commands: list[click.Command] = [sources]
