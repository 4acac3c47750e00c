"""``finews sources add|import opml|export opml``: subscribe to feeds from the command line.

This module defines :data:`subcommands`, attached to the ``finews sources`` group by
``cli.py``. ``add`` fetches a URL through the SSRF guard (``fetch.guard``), says what it
found (RSS, Atom, JSON Feed, an upstream an adapter reads, or an HTML page announcing a
feed, which it follows) and appends a ``[sources.<id>]`` table to the settings file. The
OPML commands move feed subscriptions in and out. The settings file is only ever appended
to, atomically, after the result was loaded as finews would load it
(:mod:`finews.configfile`).
"""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import click

from finews.cli_context import CliContext, pass_ctx
from finews.config import Config, load_config
from finews.configfile import SOURCE_ID, Value, append_sources
from finews.errors import FetchError
from finews.fetch.client import HttpClient, HttpSettings
from finews.fetch.guard import AddressRefusedError
from finews.normalize.slug import media_slug
from finews.redact import redact
from finews.sources.base import Request
from finews.sources.detect import Detection, detect, feed_links
from finews.sources.opml import Outline, read_opml, write_opml

__all__ = ["add", "export_group", "import_group", "subcommands", "suggest_id"]


# C0 and C1 controls and DEL: a setting cannot hold NUL, and a terminal runs escapes
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]+")


def _plain_name(title: str | None) -> str:
    """A title an upstream sent, fit for a setting and a terminal: controls become spaces."""
    return _CONTROLS.sub(" ", title or "").strip()


def _config_path(obj: CliContext) -> Path:
    """The settings file to change: ``--config``, else $FINEWS_CONFIG, else finews.toml."""
    if obj.config_path:
        return Path(obj.config_path)
    return Path(os.environ.get("FINEWS_CONFIG", "finews.toml"))


def _validate(temp: Path) -> None:
    load_config(temp)


def suggest_id(title: str | None, url: str, taken: set[str]) -> str:
    """A new source id: the pinyin of the title, else the host name, made unique."""
    base = ""
    if title and any(char.isalnum() for char in title):
        base = media_slug(title.strip()).lower().replace("-", "_")[:40].strip("_")
    if not SOURCE_ID.fullmatch(base):
        host = (urlsplit(url).hostname or "feed").lower()
        labels = [label for label in host.split(".") if label not in ("www", "rss", "feeds")]
        base = "_".join(labels[-3:]).replace("-", "_")[:40] or "feed"
    if not base[0].isalpha():
        base = "feed_" + base
    base = "".join(c if c.isalnum() or c == "_" else "_" for c in base)[:40]
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}_{n}", n + 1
    return candidate


def _feed_urls(config: Config) -> set[str]:
    return {
        str(spec.settings.get("url", "")).strip()
        for spec in config.sources
        if spec.adapter == "feed" and spec.settings.get("url")
    }


async def _fetch(settings: HttpSettings, url: str) -> tuple[str, bytes]:
    async with HttpClient(settings) as client:
        response = await client.get(
            Request(url=url, headers={"Accept": "*/*"}, guarded=True), source="sources add"
        )
    return response.url, response.body


def _probe(settings: HttpSettings, url: str) -> Detection:
    final, body = asyncio.run(_fetch(settings, url))
    found = detect(url, body)
    if found is not None:
        return found
    for link in feed_links(final, body)[:1]:
        click.echo(redact(f"the page announces a feed: {link}"))
        _, feed_body = asyncio.run(_fetch(settings, link))
        found = detect(link, feed_body)
        if found is not None:
            return found
    raise click.ClickException(
        f"{url} is not an RSS, Atom or JSON feed, no finews adapter reads it, "
        "and it announces no feed"
    )


@click.command("add")
@click.argument("url")
@click.option("--id", "source_id", metavar="ID", help="Source id (default: from the title).")
@click.option("--name", metavar="NAME", help="Display name (default: the feed's title).")
@click.option(
    "--allow-private",
    is_flag=True,
    help="Allow private, loopback and link-local addresses for this source (a feed on "
    "your own network); refused otherwise.",
)
@pass_ctx
def add(
    obj: CliContext, url: str, source_id: str | None, name: str | None, allow_private: bool
) -> None:
    """Subscribe to URL: detect what it serves and add it to the settings file.

    URL may be an RSS, Atom or JSON feed (RSSHub routes included), an upstream a finews
    adapter reads (an East Money getFastNewsList URL, for one), or a web page that
    announces its feed. Addresses on private networks are refused unless --allow-private.
    A [sources.ID] table is appended to the settings file (--config, else finews.toml),
    the rest of the file left as it was.

    \b
    Examples:
      finews sources add https://rsshub.example.org/cls/telegraph
      finews sources add https://example.com/feed.xml --id example --name 示例
    """
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
        raise click.BadParameter("expected an http:// or https:// URL", param_hint="URL")
    config = obj.config
    settings = HttpSettings(**config.section("http"))
    if allow_private:
        settings = HttpSettings(**{**config.section("http"), "allow_private_addresses": True})
    try:
        found = _probe(settings, url)
    except AddressRefusedError as exc:
        raise click.ClickException(
            f"cannot fetch {url}: {exc}. For a feed on your own network, add --allow-private."
        ) from exc
    except FetchError as exc:
        raise click.ClickException(f"cannot fetch {url}: {exc}") from exc
    taken = {spec.id for spec in config.sources}
    title = _plain_name(found.title)
    sid = source_id or suggest_id(title, url, taken)
    if sid in taken:
        raise click.ClickException(f"a source {sid!r} exists already; choose another --id")
    if found.adapter == "feed" and found.settings["url"] in _feed_urls(config):
        raise click.ClickException(f"{found.settings['url']} is already a configured feed")
    table: dict[str, Value] = {"adapter": found.adapter}
    table["name"] = (name or title or sid).strip()
    table.update(found.settings)
    if allow_private and found.adapter == "feed":
        table["allow_private"] = True
    click.echo(f"found: {found.kind}" + (f" “{title}”" if title else ""))
    newest = _plain_name(found.newest)
    click.echo(f"items: {found.items}" + (f", newest: {newest}" if newest else ""))
    path = _config_path(obj)
    added = append_sources(path, {sid: table}, validate=_validate)
    click.echo(redact(f"added to {path}:{added}"), nl=False)


@click.group("import")
def import_group() -> None:
    """Add sources from another reader's export."""


@import_group.command("opml")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Show what would be added; change nothing.")
@pass_ctx
def import_opml(obj: CliContext, file: Path, dry_run: bool) -> None:
    """Add every feed of an OPML subscription list as a `feed` source.

    Feeds already configured (same URL) and non-http(s) URLs are skipped and reported.
    Nothing is fetched now; each feed is checked by the SSRF guard when polled.

    \b
    Example:
      finews sources import opml subscriptions.opml
    """
    outlines = read_opml(file.read_bytes(), where=str(file))
    config = obj.config
    taken = {spec.id for spec in config.sources}
    known = _feed_urls(config)
    tables: dict[str, dict[str, Value]] = {}
    for outline in outlines:
        url = outline.xml_url
        if urlsplit(url).scheme not in ("http", "https"):
            click.echo(redact(f"skipped {url!r}: not an http(s) URL"), err=True)
            continue
        if url in known:
            click.echo(redact(f"skipped {url}: already configured"), err=True)
            continue
        title = _plain_name(outline.title)
        sid = suggest_id(title, url, taken)
        taken.add(sid)
        known.add(url)
        tables[sid] = {"adapter": "feed", "name": title or sid, "url": url}
    if not tables:
        click.echo(f"nothing to add from {file} ({len(outlines)} feeds listed)")
        return
    if dry_run:
        for sid, table in tables.items():
            click.echo(redact(f"would add {sid}: {table['name']} <{table['url']}>"))
        return
    path = _config_path(obj)
    append_sources(path, tables, validate=_validate)
    click.echo(f"added {len(tables)} feed sources to {path} ({len(outlines)} feeds listed)")


@click.group("export")
def export_group() -> None:
    """Write the configured sources out for another reader."""


@export_group.command("opml")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@pass_ctx
def export_opml(obj: CliContext, file: Path | None) -> None:
    """Write every `feed` source as OPML 2.0 to FILE (default: standard output).

    \b
    Examples:
      finews sources export opml feeds.opml
      finews sources export opml > feeds.opml
    """
    outlines = [
        Outline(title=spec.name, xml_url=str(spec.settings["url"]))
        for spec in obj.config.sources
        if spec.adapter == "feed" and spec.settings.get("url")
    ]
    document = write_opml(outlines, title=obj.config.get("site.title"))
    if file is None:
        click.echo(document.decode("utf-8"), nl=False)
        return
    from finews.publish.writer import Writer

    Writer(file.parent).write(file.name, document)  # never half a file, as every output
    click.echo(f"wrote {len(outlines)} feeds to {file}")


#: commands to attach to the ``finews sources`` group (``sources.add_command(c)`` each)
subcommands: list[click.Command] = [add, import_group, export_group]
