"""The ``finews`` command line: the group, its global options, and where each command lives.

Every command reads the same configuration (``--config``, ``FINEWS_*``, ``--set``) and
explains itself with ``--help``. Errors a person sees say what went wrong and what to do;
the exit code is non-zero.

The commands live in modules by what they work on, each importing what they share from
``cli_context.py`` (never this module): ``fetch_cli.py`` (``fetch``, ``securities``),
``sources_cli.py`` (``sources``), ``archive_cli.py`` (``import``, ``export``, ``reparse``,
``copy-db``, ``migrate``), ``site_cli.py`` (``serve``, ``build``, ``demo``) and
``settings_cli.py`` (``config``), added here; those of ``daemon/command.py``,
``search_cli.py`` and ``alerts/cli.py`` are loaded by name when used (:class:`Group`).
"""

from __future__ import annotations

from collections.abc import Sequence
from types import MappingProxyType
from typing import Any

import click

from finews import __version__, archive_cli, fetch_cli, settings_cli, site_cli, sources_cli
from finews.cli_context import CliContext, Group
from finews.configfile import toml_value
from finews.site_cli import check_port

__all__ = ["check_port", "cli", "main", "toml_value"]


def _parse_sets(values: Sequence[str]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for value in values:
        key, sep, setting = value.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{value!r}: expected KEY=VALUE, e.g. http.timeout=5")
        result[key.strip()] = setting
    return result


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="finews")
@click.option(
    "--config",
    "config_path",
    metavar="PATH",
    help="Settings file (TOML). Default: finews.toml here, if it exists, or $FINEWS_CONFIG.",
)
@click.option("--database-url", metavar="URL", help="sqlite:///file.db or postgresql://…")
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override any setting for this run, e.g. --set http.timeout=5 (repeatable).",
)
@click.option("-v", "--verbose", is_flag=True, help="Show debug logs.")
@click.option("--log-format", type=click.Choice(["text", "json"]), help="Log lines format.")
@click.option(
    "--progress",
    is_flag=True,
    help="Show progress bars on stderr even when it is not a terminal.",
)
@click.pass_context
def cli(
    ctx: click.Context,
    config_path: str | None,
    database_url: str | None,
    sets: Sequence[str],
    verbose: bool,
    log_format: str | None,
    progress: bool,
) -> None:
    """finews: keep every Chinese financial news item, publish it your way.

    \b
    Quick start:
      finews fetch                       poll every enabled source once
      finews sources                     what is configured, and how each source is doing
      finews export jekyll site/         write Jekyll posts as the original 金融消息 did
      finews import jekyll old/_posts    bring an existing 金融消息 archive in

    Settings come from finews.toml, then FINEWS_* variables, then --set and the flags
    here; `finews config` shows every setting with where its value came from.
    """
    overrides = _parse_sets(sets)
    if database_url:
        overrides["database_url"] = database_url
    if verbose:
        overrides["log_level"] = "debug"
    if log_format:
        overrides["log_format"] = log_format
    ctx.obj = CliContext(config_path, overrides, progress=progress)


# the commands of this package's command modules (each lists its own in ``commands``)
for command in (
    *fetch_cli.commands,
    *sources_cli.commands,
    *archive_cli.commands,
    *site_cli.commands,
    *settings_cli.commands,
):
    cli.add_command(command)

# commands in modules loaded only when used (see Group): each defines ``commands``, a list
# of click commands, and imports cli_context, not this
cli.lazy = MappingProxyType(
    {
        "run": "finews.daemon.command:commands",
        "search": "finews.search_cli:commands",
        "reindex": "finews.search_cli:commands",
        "rules": "finews.alerts.cli:commands",
        "alerts": "finews.alerts.cli:commands",
    }
)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``finews`` console script."""
    cli.main(args=list(argv) if argv is not None else None, prog_name="finews")
