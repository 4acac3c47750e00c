"""``finews fetch`` and ``finews securities refresh``: poll the upstreams once, now.

``fetch`` polls every enabled source (or the ``--source`` ones) through ``refresh.py`` and
prints one line per source; ``securities refresh`` reads East Money's quote list into the
directory of security names. The HTTP client and the pipeline are imported when a command
runs, not when ``finews`` starts.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from finews.cli_context import CliContext, Group, only_sources, pass_ctx
from finews.redact import redact
from finews.store import Store

__all__ = ["commands", "fetch", "securities_group"]


@click.command()
@only_sources
@pass_ctx
def fetch(obj: CliContext, only: Sequence[str]) -> None:
    """Poll every enabled source once and store what is new.

    Each source walks back through older pages until it meets items already stored, so
    a fetch after a long pause misses nothing its upstream still lists. Prints one line
    per source: new, updated, dropped (with reasons) and errors. Exits 1 when every
    source failed.

    \b
    Examples:
      finews fetch
      finews fetch -s em_fast
      finews --database-url sqlite:///tmp/x.db fetch
    """
    from finews.fetch.client import HttpClient, HttpSettings
    from finews.formatwatch import SAMPLES_FOLDER
    from finews.refresh import refresh_all

    config = obj.config
    specs = [config.source(s) for s in only] if only else config.enabled_sources()
    if not specs:
        raise click.UsageError("no source is enabled: enable one in finews.toml or use -s ID")
    progress = _progress_printer() if sys.stderr.isatty() else None

    async def run(store: Store) -> list[Any]:
        async with HttpClient(HttpSettings(**config.section("http"))) as client:
            return await refresh_all(
                specs,
                store,
                client,
                progress=progress,
                samples=Path(str(config.get("data_dir"))) / SAMPLES_FOLDER,
            )

    import asyncio

    with obj.store() as store, _quiet_refresh_log(config.get("log_level") != "debug"):
        reports = asyncio.run(run(store))
    if progress is not None:
        click.echo("", err=True)
    for report in reports:
        line = (
            f"{report.source:<12} new {report.new:>4}  updated {report.updated:>3}  "
            f"dropped {len(report.dropped):>3}  pages {report.pages}  {report.elapsed:.1f}s"
        )
        if report.fulltext_errors:
            line += f"  full-text errors {report.fulltext_errors}"
        if report.format_errors:
            line += "  upstream format changed? (see finews sources)"
        if report.error:
            line += f"\n{'':<12} ERROR: {report.error}"
        click.echo(line)
        for drop in report.dropped:
            click.echo(redact(f"{'':<12} dropped {drop.upstream_id or '-'}: {drop.reason}"))
    if all(not r.ok for r in reports):
        click.echo("finews: every source failed; see the errors above", err=True)
        sys.exit(1)


@contextmanager
def _quiet_refresh_log(quiet: bool) -> Iterator[None]:
    """Leave each source's summary out of the log while ``quiet``: the lines ``fetch``
    prints say what each source did, and the same logged line said every error twice
    (``-v`` logs it as well)."""
    logger = logging.getLogger("finews.refresh")
    level = logger.level
    if quiet:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def _progress_printer() -> Any:
    status: dict[str, str] = {}

    def show(source: str, pages: int, items: int) -> None:
        status[source] = f"{source}: {pages} page(s), {items} items"
        click.echo("\r\033[K" + " | ".join(status.values()), nl=False, err=True)

    return show


@click.group("securities", cls=Group)
def securities_group() -> None:
    """The directory of security names (code → name) shown on /stock/<code>/ pages."""


@securities_group.command("refresh")
@pass_ctx
def securities_refresh(obj: CliContext) -> None:
    """Read every A share's name from East Money's quote list (securities.list_url).

    Off by default: set securities.list_enabled = true first. Names the sources attach to
    the codes they tag are learned without it, as items arrive.

    \b
    Examples:
      finews --set securities.list_enabled=true securities refresh
    """
    import asyncio

    from finews.errors import FinewsError
    from finews.fetch.client import HttpClient, HttpSettings
    from finews.refresh import refresh_security_names
    from finews.store.securities import count_names

    config = obj.config
    if not config.get("securities.list_enabled"):
        raise click.UsageError(
            "the quote list is off: set securities.list_enabled = true in finews.toml "
            "(or --set securities.list_enabled=true) to read it"
        )
    url = str(config.get("securities.list_url"))

    async def run(store: Store) -> int:
        async with HttpClient(HttpSettings(**config.section("http"))) as client:
            return await refresh_security_names(store, client, url)

    with obj.store() as store:
        try:
            changed = asyncio.run(run(store))
        except FinewsError as exc:
            click.echo(redact(f"finews: the quote list could not be read: {exc}"), err=True)
            sys.exit(1)
        total = count_names(store)
    click.echo(f"securities: {changed} names new or changed; {total} known")


#: the commands of this module, added to ``finews`` by ``cli.py``
commands: list[click.Command] = [fetch, securities_group]
