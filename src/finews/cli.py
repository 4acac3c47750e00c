"""The ``finews`` command line.

Every command reads the same configuration (``--config``, ``FINEWS_*``, ``--set``) and
explains itself with ``--help``. Errors a person sees say what went wrong and what to do;
the exit code is non-zero.
"""

from __future__ import annotations

import errno
import importlib
import json
import logging
import math
import socket
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

import click

from finews import __version__
from finews.cli_context import CliContext, only_sources, pass_ctx, progress_bar, progress_wanted
from finews.config import SETTINGS, Config
from finews.derive import open_store
from finews.errors import FinewsError
from finews.logs import setup_logging
from finews.redact import redact
from finews.store import Store

__all__ = ["check_port", "cli", "main", "toml_value"]


def _finite(value: float, name: str) -> float:
    """``value``, or a usage error for ``inf`` and ``nan`` (which click's ranges let by)."""
    if not math.isfinite(value):
        raise click.BadParameter(f"{value!r}: expected a finite number", param_hint=name)
    return value


def check_port(host: str, port: int, hint: str) -> None:
    """Raise a :class:`FinewsError` naming the problem and ``hint`` when the site could not
    listen on ``host:port`` (busy, not allowed, no such address), before anything is
    printed that says the site is live. Port 0 (any free port) is always fine."""
    if port == 0:
        return
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            # as uvicorn does: a port in TIME_WAIT after an earlier run is free
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if exc.errno == errno.EADDRINUSE:
            reason = "the port is already in use (another finews, or another program)"
        raise FinewsError(f"cannot listen on {host}:{port}: {reason}; {hint}") from exc


def toml_value(value: Any) -> str:
    """``value`` written as TOML: true/false, quoted strings, numbers, arrays."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    # a JSON string is a TOML basic string (the same escapes)
    return json.dumps(str(value), ensure_ascii=False)


def _parse_sets(values: Sequence[str]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for value in values:
        key, sep, setting = value.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{value!r}: expected KEY=VALUE, e.g. http.timeout=5")
        result[key.strip()] = setting
    return result


class _Group(click.Group):
    """Turns a FinewsError anywhere below into a clear message and exit code 2, and loads
    the commands of :attr:`lazy` (name → ``module:list`` that holds them) only
    when one is used or listed: ``finews build`` need not import the daemon or the HTTP
    client (a tenth of a second or more of a short build)."""

    lazy: Mapping[str, str] = MappingProxyType({})
    group_class = type  # subgroups (`finews sources`) are _Group too

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


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
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


@cli.command()
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


@cli.group(invoke_without_command=True)
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


@cli.group("import")
def import_() -> None:
    """Bring an existing archive into the store."""


@import_.command("jekyll")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@pass_ctx
def import_jekyll(obj: CliContext, paths: Sequence[Path]) -> None:
    """Read posts written by the original 金融消息 (every historical variant) into the store.

    PATHS are post files or folders (searched recursively for *.md posts and
    category/*.html pages). A file that cannot be read is reported and skipped.

    \b
    Example:
      finews import jekyll old-site/_posts old-site/old_post old-site/category
    """
    from finews.importing import import_paths

    with obj.store() as store, progress_bar("importing files") as progress:
        report = import_paths(store, paths, progress=progress)
    click.echo(
        f"imported {report.posts} posts ({report.new} new, {report.updated} updated), "
        f"{report.categories} category pages, {len(report.failed)} failed"
    )
    for path, reason in report.failed:
        click.echo(f"  skipped {path}: {reason}", err=True)


@cli.group("export")
def export() -> None:
    """Write the archive out in another format."""


@export.command("jekyll")
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--now",
    metavar="DATETIME",
    help="Pretend it is this time (ISO 8601) when splitting _posts/ from old_post/.",
)
@pass_ctx
def export_jekyll_cmd(obj: CliContext, out_dir: Path, now: str | None) -> None:
    """Write Jekyll posts exactly as the original 金融消息 did.

    Items of today and the previous days (jekyll.window_days, Asia/Shanghai) go to
    OUT_DIR/_posts/, older ones to OUT_DIR/old_post/, plus OUT_DIR/category/<slug>.html.
    Re-running rewrites nothing that did not change; every write is atomic. East Money's
    HTML full texts are written as the upstream sent them, as the original did, when a
    strict safety check passes (jekyll.verbatim_html), else sanitised.

    \b
    Examples:
      finews export jekyll ~/site
      finews --set jekyll.site=//news.example.org export jekyll ~/site
    """
    from finews.publish.jekyll import JekyllSettings, export_jekyll
    from finews.reparse import jekyll_items

    config = obj.config
    settings = JekyllSettings(**config.section("jekyll"))
    try:
        moment = datetime.fromisoformat(now) if now else datetime.now(UTC)
    except ValueError as exc:
        raise click.BadParameter(
            f"{now!r}: expected ISO 8601, e.g. 2026-09-01T09:00", param_hint="--now"
        ) from exc
    if moment.tzinfo is None:
        from finews.normalize.times import SHANGHAI

        moment = moment.replace(tzinfo=SHANGHAI)
    with obj.store() as store:
        if store.count_items() == 0:
            click.echo(
                f"nothing to export: the archive ({redact(config.database_url)}) holds no "
                f"items yet; {out_dir} was not touched. Fill it with `finews fetch` or "
                "`finews import jekyll`."
            )
            return
        # the original's East Money posts get their full text as received (the kept raw
        # reply), when jekyll.verbatim_html is on and the text passes the safety check
        specs = {spec.id: spec for spec in config.sources}
        items, received = jekyll_items(store, specs, verbatim_html=settings.verbatim_html)
        report = export_jekyll(
            items,
            out_dir,
            settings,
            now=moment,
            page_paths=config.page_paths(),
            received=received,
        )
    if report.written or report.moved:
        click.echo(f"{report}\nwrote to {out_dir}")
    else:
        click.echo(f"{report}\nnothing changed: {out_dir} was already up to date")


@cli.command()
@click.option("--host", metavar="ADDR", help="Address to listen on (serve.host, 127.0.0.1).")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    metavar="N",
    help="Port to listen on (serve.port, 8000).",
)
@pass_ctx
def serve(obj: CliContext, host: str | None, port: int | None) -> None:
    """Serve the live site: pages, feeds, the JSON API, and live updates.

    Open pages get new items within a second of any process storing them (a running
    `finews run`, or a `finews fetch` from cron), without a reload.

    \b
    Examples:
      finews serve
      finews serve --host 0.0.0.0 --port 8080
      finews --set serve.workers=2 serve     # two processes, one port
    """
    from finews.publish.site import SiteSettings
    from finews.publish.web import serve as serve_site

    config = obj.config
    address = host or config.get("serve.host")
    number = port if port is not None else config.get("serve.port")
    check_port(address, number, f"choose another with `finews serve --port {_other(number)}`")
    with obj.store():
        pass  # creates or upgrades the database before the first request
    serve_site(
        config.database_url,
        SiteSettings.from_config(config),
        host=address,
        port=number,
        sources=config.source_names(),
        log_level=config.get("log_level"),
        log_format=config.get("log_format"),
        disabled=[spec.id for spec in config.sources if not spec.enabled],
        workers=config.get("serve.workers"),
    )


def _other(port: int) -> int:
    """A port to suggest instead of ``port``."""
    return port + 1 if 0 < port < 65535 else 8001


@cli.command()
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@pass_ctx
def build(obj: CliContext, out_dir: Path) -> None:
    """Write the whole site (every item ever) as static files for any static host.

    The first build is assembled in a hidden folder inside OUT_DIR and moved into place
    when complete (only OUT_DIR needs to be writable); later
    builds rewrite only the pages whose bytes changed (new articles, the first pages of
    their sources and days, home, feeds). Set site.base_url for a site under a path,
    e.g. GitHub Pages: --set site.base_url=/finews/

    \b
    Examples:
      finews build public/
      finews --set site.base_url=https://news.example.org/ build public/
    """
    from finews.publish.site import SiteSettings
    from finews.publish.static_site import build_site

    with obj.store() as store, progress_bar("building the site", counting=False):
        report = build_site(store, out_dir, SiteSettings.from_config(obj.config))
    kind = "full" if report.full else "incremental"
    if not report.full and not report.written and not report.removed:
        click.echo(
            f"incremental build: nothing to do, {out_dir} is up to date "
            "(nothing stored or changed since the last build)"
        )
        return
    click.echo(
        f"{kind} build: {len(report.written)} files written, {report.unchanged} unchanged, "
        f"{report.articles} articles, {report.seconds:.1f}s -> {out_dir}"
    )


@cli.command()
@click.option(
    "--out",
    "out_dir",
    default="demo-output",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the demo database, Jekyll posts and static site.",
)
@click.option("--no-serve", is_flag=True, help="Stop after fetch, export and build.")
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port of the live site.",
)
@click.option(
    "--every",
    default=5.0,
    show_default=True,
    type=click.FloatRange(0.1, 3600),
    callback=lambda _ctx, _param, value: _finite(value, "--every"),
    help="Seconds between new items.",
)
def demo(out_dir: Path, no_serve: bool, port: int, every: float) -> None:
    """Run the whole pipeline offline on bundled sample feeds, then serve the site.

    A loopback upstream replays synthetic East Money payloads (in the upstreams' exact
    shapes); finews fetches them into SQLite, exports Jekyll posts, builds the static
    site, and serves the live site while new sample items keep arriving.

    \b
    Example:
      finews demo              (what `make demo` runs)
      finews demo --no-serve
    """
    from finews.demo.run import run_demo

    setup_logging("warning")
    if not no_serve:
        check_port(
            "127.0.0.1",
            port,
            f"choose another with `finews demo --port {_other(port)}` "
            f"(or `make demo PORT={_other(port)}`)",
        )
    run_demo(out_dir, serve=not no_serve, port=port, every=every, echo=click.echo)


@cli.command("copy-db")
@click.argument("source_url", metavar="FROM")
@click.argument("target_url", metavar="TO")
def copy_db_cmd(source_url: str, target_url: str) -> None:
    """Copy a whole archive between databases (SQLite to PostgreSQL, or back), then verify.

    Every item with its revision history, the change log, media slugs and source states
    are copied in batches; then row counts and checksums of both sides are compared. Then
    TO gets the same stories (same-story clusters) and its own search index over every
    item (the longest part for a large archive). A non-empty TO is refused unless it is an
    earlier copy of the same archive (an interrupted copy is then completed). Exits 1 when
    verification fails or the search index or stories are incomplete.

    \b
    Example:
      finews copy-db sqlite:///data/finews.db postgresql://finews@db.example.org/finews
    """
    from finews.derive.copy import copy_db

    shown = progress_wanted()

    def stage(what: str) -> None:
        if shown:
            click.echo(f"bringing the {what} up to date", err=True)

    with open_store(source_url) as src, open_store(target_url) as dst:
        total = src.count_items()
        with progress_bar("copying items", total=total, shown=shown) as progress:
            report = copy_db(src, dst, progress=progress, derived=True, stage=stage)
    click.echo(report.summary())
    if not report.rows_ok:
        click.echo("finews: copy-db: verification FAILED: counts or checksums differ", err=True)
        sys.exit(1)
    if not report.ok:
        click.echo(
            "finews: copy-db: the search index or the stories are incomplete; "
            "run `finews --database-url TO reindex --missing-only`",
            err=True,
        )
        sys.exit(1)


@cli.command()
@click.option("--source", "source_id", metavar="ID", help="Only this source's items.")
@click.option(
    "--since",
    metavar="DATE",
    help="Only items published at or after this date or time (ISO 8601; Beijing time "
    "unless it says otherwise).",
)
@pass_ctx
def reparse(obj: CliContext, source_id: str | None, since: str | None) -> None:
    """Read the kept raw upstream data of stored items again with today's parsers.

    After an upgrade that fixed how a source is read or cleaned, this repairs history:
    an item whose reading changes gets a new revision (the earlier one is kept) and its
    search entry and story follow; unchanged items are not written. Items stored before
    finews kept raw data (schema version 10) have none and are left as they are.

    \b
    Examples:
      finews reparse
      finews reparse --source em_fast --since 2026-11-01
    """
    from finews.reparse import reparse as run_reparse

    config = obj.config
    moment = None
    if since is not None:
        try:
            moment = datetime.fromisoformat(since)
        except ValueError as exc:
            raise click.BadParameter(
                f"{since!r}: expected ISO 8601, e.g. 2026-11-01 or 2026-11-01T09:00",
                param_hint="--since",
            ) from exc
        if moment.tzinfo is None:
            from finews.normalize.times import SHANGHAI

            moment = moment.replace(tzinfo=SHANGHAI)
    if source_id is not None:
        config.source(source_id)  # an unknown id is refused with the configured ones
    specs = {spec.id: spec for spec in config.sources}
    with obj.store() as store, progress_bar("reparsing items") as progress:
        report = run_reparse(store, specs, source=source_id, since=moment, progress=progress)
    click.echo(report.summary())


@cli.group("securities")
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


@cli.command()
@pass_ctx
def migrate(obj: CliContext) -> None:
    """Create or upgrade the database schema (other commands do this on their own too)."""
    from finews.derive import open_store as _open

    store = _open(obj.config.prepare_database(), migrate=False)
    try:
        applied = store.migrate()
        version = store.schema_version()
    finally:
        store.close()
    done = ", ".join(map(str, applied)) if applied else "nothing to do"
    click.echo(f"migrations applied: {done}; schema version {version}")


@cli.command("config")
@click.option("--markdown", is_flag=True, help="Print the settings reference as Markdown.")
@pass_ctx
def show_config(obj: CliContext, markdown: bool) -> None:
    """Show every setting, its value and where the value came from.

    \b
    Examples:
      finews config
      finews --config prod.toml config
      finews config --markdown      (the tables in the README)
    """
    if markdown:
        click.echo(settings_markdown())
        return
    config = obj.config
    # TOML a settings file could hold; passwords in URLs and secret query values are
    # shown as *** (finews.redact)
    click.echo(f"# file: {config.path or '(none; defaults)'}")
    click.echo(redact(f"# database: {config.database_url}"))
    for option in SETTINGS:
        origin = config.origins.get(option.name, "default")
        value = toml_value(config.get(option.name))
        click.echo(redact(f"{option.name} = {value}    # {origin}"))
    for spec in config.sources:
        click.echo(f"\n[sources.{spec.id}]")
        click.echo(f"adapter = {toml_value(spec.adapter)}")
        click.echo(f"enabled = {toml_value(spec.enabled)}")
        click.echo(redact(f"name = {toml_value(spec.name)}"))
        for key, value in sorted(spec.settings.items()):
            click.echo(redact(f"{key} = {toml_value(value)}"))


def settings_markdown() -> str:
    """The settings reference (global, per-source, per-adapter) as Markdown tables."""
    from finews.config import SOURCE_SETTINGS, allowed_values
    from finews.sources import adapters

    def cell(value: Any) -> str:
        return "(empty)" if value in ("", [], None) else f"`{value!r}`".replace("|", "\\|")

    def row(o: Any) -> str:
        return f"| `{o.name}` | {cell(o.default)} | {allowed_values(o)} | {o.help} |"

    head = "| {} | default | allowed | meaning |"
    rule = "|---|---|---|---|"
    lines = [head.format("setting"), rule, *map(row, SETTINGS)]
    lines += ["", "Every source (`[sources.<id>]`):", ""]
    lines += [head.format("source setting"), rule, *map(row, SOURCE_SETTINGS)]
    for name, adapter in adapters().items():
        lines += ["", f"Adapter `{name}`: {adapter.description}", ""]
        lines += [head.format("setting"), rule, *map(row, adapter.settings)]
    return "\n".join(lines)


# commands in modules of their own (each defines ``commands`` or ``subcommands``: a list
# of click commands), loaded when used (see _Group); they import cli_context, not this
assert isinstance(cli, _Group)
assert isinstance(sources, _Group)
cli.lazy = MappingProxyType(
    {
        "run": "finews.daemon.command:commands",
        "search": "finews.search_cli:commands",
        "reindex": "finews.search_cli:commands",
        "rules": "finews.alerts.cli:commands",
        "alerts": "finews.alerts.cli:commands",
    }
)
sources.lazy = MappingProxyType(
    {
        **dict.fromkeys(("add", "import", "export"), "finews.feeds_cli:subcommands"),
        "probe": "finews.probe_cli:subcommands",
    }
)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``finews`` console script."""
    cli.main(args=list(argv) if argv is not None else None, prog_name="finews")
