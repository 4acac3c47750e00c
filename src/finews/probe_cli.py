"""``finews sources probe ID [--save DIR]``: one live request, and what finews read from it.

For a user who suspects an upstream changed (``upstream format changed?`` in ``finews
sources`` or on ``/status``): the source's first request goes out through the real client
with the source's settings, and the command prints what the adapter parsed (every item's
needed fields, found and missing; dropped entries with their reasons; the next request a
poll would send) and whether the reply looks like a changed upstream. ``--save DIR``
keeps the raw reply, byte for byte, as a fixture to attach to a report. Nothing is stored.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import click

from finews.cli_context import CliContext, pass_ctx
from finews.errors import FinewsError, ParseError
from finews.fetch.client import HttpClient, HttpSettings, Response
from finews.formatwatch import field_report, page_problem
from finews.redact import redact
from finews.sources import get_adapter
from finews.sources._encoding import http_charset
from finews.sources.base import Adapter, Page, Request

__all__ = ["probe", "subcommands"]


def _shown(request: Request) -> str:
    """A request as one redacted URL."""
    query = urlencode(dict(request.params))
    return redact(request.url + (("&" if "?" in request.url else "?") + query if query else ""))


def _fixture_name(source: str, response: Response) -> str:
    kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
    ext = "json" if "json" in kind or "javascript" in kind else "xml" if "xml" in kind else "txt"
    if ext == "txt" and "html" in kind:
        ext = "html"
    return f"{source}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.{ext}"


def _print_page(adapter: Adapter, page: Page) -> None:
    click.echo(f"items: {len(page.items)}, dropped: {len(page.dropped)}")
    for item in page.items:
        found, missing = field_report(item, adapter.required_fields)
        line = f"  {item.upstream_id}: found {', '.join(found) or '-'}"
        if missing:
            line += f"; MISSING {', '.join(missing)}"
        click.echo(redact(line))
    for drop in page.dropped:
        click.echo(redact(f"  dropped {drop.upstream_id or '-'}: {drop.reason}"))
    if page.next is None:
        click.echo("paging: no next request (the end of the list)")
    else:
        older = "older items" if page.next_is_older else "another list"
        click.echo(f"paging: next request ({older}): {_shown(page.next)}")


@click.command("probe")
@click.argument("source_id", metavar="ID")
@click.option(
    "--save",
    "save_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to keep the raw reply in, byte for byte, as a test fixture.",
)
@pass_ctx
def probe(obj: CliContext, source_id: str, save_dir: Path | None) -> None:
    """Send source ID's first request once and print what finews read from the reply.

    Prints, per item, the fields finews needs that it found and that are missing, the
    entries it dropped and why, and the next request a poll would send; then whether the
    reply looks like a changed upstream. Exits 1 when the reply does not parse or looks
    changed. Nothing is stored. Works for a disabled source too.

    \b
    Examples:
      finews sources probe em_fast
      finews sources probe cls --save fixtures/
    """
    config = obj.config
    spec = config.source(source_id)
    adapter = get_adapter(spec.adapter)
    request = adapter.first_page(spec)
    click.echo(f"GET {_shown(request)}")

    async def fetch() -> Response:
        async with HttpClient(HttpSettings(**config.section("http"))) as client:
            return await client.get(request, source=spec.id)

    try:
        response = asyncio.run(fetch())
    except FinewsError as exc:
        raise click.ClickException(
            redact(f"{exc}\nThe request failed: nothing to parse. Check the URL settings.")
        ) from exc
    click.echo(
        f"reply: HTTP {response.status}, {len(response.body)} bytes from {redact(response.url)}"
    )
    if save_dir is not None:
        save_dir.mkdir(parents=True, exist_ok=True)
        saved = save_dir / _fixture_name(spec.id, response)
        saved.write_bytes(response.body)
        click.echo(f"raw reply saved to {saved}")
    charset = http_charset(response.headers.get("content-type"))
    try:
        page = adapter.parse_page(spec, response.body, request, charset=charset)
    except ParseError as exc:
        click.echo(redact(f"upstream format changed? the reply did not parse: {exc}"))
        raise SystemExit(1) from exc
    _print_page(adapter, page)
    problem = page_problem(adapter, page, newest=True, had_items=False)
    if problem is not None:
        click.echo(redact(f"upstream format changed? {problem}"))
        raise SystemExit(1)
    click.echo(f"the reply looks as {adapter.name} expects")


#: commands to attach to the ``finews sources`` group
subcommands: list[click.Command] = [probe]
