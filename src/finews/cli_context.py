"""What ``finews`` and its command modules share: the group class (:class:`Group`), the
context the global options make (:class:`CliContext`, handed to a command by
:data:`pass_ctx`), the ``--source`` option and progress bars.

``cli.py`` defines the ``finews`` group and adds the commands of the ``*_cli.py`` modules;
it loads some of them (``search_cli.py``, ``feeds_cli.py``, ``probe_cli.py``,
``daemon/command.py``, ``alerts/cli.py``) only when one of their commands is used. Those
modules import this one, never ``cli.py``, so the imports go one way.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import MappingProxyType
from typing import Any

import click

from finews.config import Config, load_config
from finews.derive import open_store
from finews.errors import FinewsError
from finews.logs import setup_logging
from finews.redact import redact
from finews.store import Store

__all__ = ["CliContext", "Group", "only_sources", "pass_ctx", "progress_bar", "progress_wanted"]


class Group(click.Group):
    """Turns a FinewsError anywhere below into a clear message and exit code 2, and loads
    the commands of :attr:`lazy` (name → ``module:list`` that holds them) only
    when one is used or listed: ``finews build`` need not import the daemon or the HTTP
    client (a tenth of a second or more of a short build)."""

    lazy: Mapping[str, str] = MappingProxyType({})
    group_class = type  # subgroups (`finews sources`) are Group too

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in self.lazy:
            module, _, attribute = self.lazy[cmd_name].partition(":")
            for found in getattr(importlib.import_module(module), attribute):
                if found.name not in self.commands:
                    self.add_command(found)
            command = super().get_command(ctx, cmd_name)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except FinewsError as exc:
            click.echo(f"finews: error: {redact(str(exc))}", err=True)
            ctx.exit(2)


class CliContext:
    """What the global options gave: how to load the configuration."""

    def __init__(
        self, config_path: str | None, overrides: dict[str, Any], *, progress: bool = False
    ) -> None:
        self.config_path = config_path
        self.overrides = overrides
        #: show progress bars even when stderr is not a terminal (``--progress``)
        self.progress = progress
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_path, overrides=self.overrides)
            setup_logging(self._config.get("log_level"), self._config.get("log_format"))
        return self._config

    @contextmanager
    def store(self, *, read_only: bool = False) -> Iterator[Store]:
        """The configured store. ``read_only`` commands (``sources``, ``search``) create
        nothing: when the SQLite file does not exist yet they read an empty archive in
        memory instead of making ``data/`` and the file."""
        url = self.config.database_url if read_only else self.config.prepare_database()
        if read_only and self.archive_missing():
            folder = Path(url.removeprefix("sqlite:///")).parent
            # a database named in a folder that is not there is still refused (with what
            # to do); the default one in data_dir is simply not made yet
            if folder.is_dir() or not self.config.get("database_url"):
                url = "sqlite:///:memory:"
        readers = []
        if not read_only and self.config.rules:
            # what this command stores and derives is matched against the rules
            from finews.alerts.reader import rules_reader

            readers.append(rules_reader(self.config))
        store = open_store(url, readers=readers)
        try:
            yield store
        finally:
            store.close()

    def archive_missing(self) -> bool:
        """Whether the configured database is a SQLite file that does not exist yet."""
        url = self.config.database_url
        if not url.startswith("sqlite:///"):
            return False
        path = url.removeprefix("sqlite:///")
        return path not in ("", ":memory:") and not Path(path).exists()


pass_ctx = click.make_pass_decorator(CliContext)


#: ``--source``/``-s ID`` (repeatable) of the commands that poll: ``fetch`` and ``run``
only_sources = click.option(
    "--source",
    "-s",
    "only",
    multiple=True,
    metavar="ID",
    help="Poll only this source (repeatable); it is polled even when disabled.",
)


def progress_wanted() -> bool:
    """Whether progress goes to stderr: a terminal, or ``--progress``."""
    found = click.get_current_context(silent=True)
    obj = found.find_object(CliContext) if found is not None else None
    return sys.stderr.isatty() or (obj is not None and obj.progress)


@contextmanager
def progress_bar(
    description: str,
    *,
    total: int | None = None,
    shown: bool | None = None,
    counting: bool = True,
) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr for long work; yields ``update(done)``. Shown only when
    stderr is a terminal or ``--progress`` asked for it, so that scripts and tests read
    clean output; ``total`` None shows a count (none unless ``counting``) and the time
    spent."""
    if not (progress_wanted() if shown is None else shown):
        yield lambda _done: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = [SpinnerColumn(), TextColumn("{task.description}")]
    if total is not None:
        columns += [BarColumn(), MofNCompleteColumn()]
    elif counting:
        columns += [TextColumn("{task.completed}")]
    with Progress(*columns, TimeElapsedColumn(), console=Console(stderr=True)) as progress:
        task = progress.add_task(description, total=total)
        yield lambda done: progress.update(task, completed=done)
