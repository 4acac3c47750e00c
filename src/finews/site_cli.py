"""The site's commands: ``finews serve`` (the live site), ``build`` (the static site) and
``demo`` (the whole pipeline offline, then the live site).

:func:`check_port` refuses a port the site could not listen on before anything says the
site is live. The web app, the static build and the demo are imported when a command runs.
"""

from __future__ import annotations

import errno
import math
import socket
from pathlib import Path

import click

from finews.cli_context import CliContext, pass_ctx, progress_bar
from finews.errors import FinewsError
from finews.logs import setup_logging

__all__ = ["check_port", "commands"]


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


@click.command()
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
    from finews.publish.settings import SiteSettings
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


@click.command()
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
    from finews.publish.settings import SiteSettings
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


@click.command()
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


#: the commands of this module, added to ``finews`` by ``cli.py``
commands: list[click.Command] = [serve, build, demo]
