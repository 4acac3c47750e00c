"""``finews sources``: the configured sources with their health, as a table.

The ``sources`` group lists each source (on or off, adapter, items, backoff, next poll,
last success, items of the last hour and day, median delay) and then its notes (worker
lease, full-text queue, format alarm, last error). Its subcommands live in modules of their
own, loaded only when used: ``add``, ``import`` and ``export`` in ``feeds_cli.py``,
``probe`` in ``probe_cli.py``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType

import click

from finews.cli_context import CliContext, Group
from finews.config import Config
from finews.models import SourceSpec
from finews.redact import redact
from finews.store import Store

__all__ = ["COLUMNS", "SourceLine", "ago", "commands", "source_line", "sources", "span"]


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


@dataclass(frozen=True, slots=True)
class SourceLine:
    """One source as ``finews sources`` shows it: its row of the table (``cells``, in the
    order of :data:`COLUMNS`) and its notes below the table."""

    cells: tuple[str, ...]
    notes: tuple[str, ...]


#: the table's columns: name and how each is justified
COLUMNS = (
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
)


def span(seconds: float) -> str:
    """A duration for people: ``45 s``, ``12 min``, ``3.5 h``, ``2.0 d``."""
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 36 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def ago(moment: datetime | None, now: datetime) -> str:
    """How long before ``now`` ``moment`` was, for people; ``never`` for none."""
    if moment is None:
        return "never"
    return f"{span((now - moment).total_seconds())} ago"


def source_line(store: Store, spec: SourceSpec, now: datetime) -> SourceLine:
    """What ``finews sources`` shows of one source at ``now``: its row and its notes
    (worker lease, full-text queue, format alarm, last error with secrets hidden)."""
    from finews.store.health import source_health
    from finews.store.leases import lease_of

    health = source_health(store, spec.id, now=now)
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
    elif state.next_poll <= now:
        upcoming = "due now"
    else:
        upcoming = "in " + span((state.next_poll - now).total_seconds())
    cells = (
        "on" if spec.enabled else "off",
        spec.id,
        spec.adapter,
        str(health.items),
        status,
        upcoming,
        ago(state.last_success, now),
        str(health.items_hour),
        str(health.items_day),
        "-" if health.median_delay is None else span(health.median_delay),
        spec.name,
    )
    notes: list[str] = []
    lease = lease_of(store, spec.id)
    if lease is not None and lease.live(now):
        left = span((lease.expires_at - now).total_seconds())
        notes.append(f"{spec.id}: polled by worker {lease.worker} (lease {left} left)")
    if health.queue.pending or health.queue.failed:
        notes.append(
            f"{spec.id}: full text: {health.queue.pending} waiting, {health.queue.failed} given up"
        )
    if health.format.alarm:
        since = ago(health.format.since, now)
        notes.append(f"{spec.id}: {health.format.alarm} (since {since})")
        if health.format.sample:
            notes.append(
                f"{spec.id}: sample of the reply: {health.format.sample}; "
                f"see what it sends now: finews sources probe {spec.id}"
            )
    if state.last_error:
        notes.append(f"{spec.id}: last error: {redact(state.last_error)}")
    return SourceLine(cells, tuple(notes))


def _print_sources(store: Store, config: Config) -> None:
    """The sources as a table (columns hold whatever the ids' lengths), then each source's
    notes: worker lease, full-text queue, last error."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    moment = datetime.now(UTC)
    table = Table(box=None, pad_edge=False, header_style="bold")
    for name, justify in COLUMNS:
        table.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
    notes: list[str] = []
    for spec in config.sources:
        line = source_line(store, spec, moment)
        # Text: a name such as "[bold]" is shown as written, not read as rich's markup
        table.add_row(*(Text(cell) for cell in line.cells))
        notes += line.notes
    # a pipe or a file gets the whole table, unwrapped; a terminal its own width
    console = Console(highlight=False, soft_wrap=False, width=None if sys.stdout.isatty() else 200)
    with console.capture() as captured:
        console.print(table)
    for line_text in captured.get().splitlines():
        click.echo(line_text.rstrip())  # no padding after the last column
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
