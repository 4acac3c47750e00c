"""The archive's own commands: ``finews import jekyll``, ``export jekyll``, ``reparse``,
``copy-db`` and ``migrate``.

Each brings items into the store, writes them out, reads their kept raw data again, copies
the whole archive to another database or upgrades its schema; the work itself is done by
``importing.py``, ``publish/jekyll.py``, ``reparse.py``, ``derive/copy.py`` and the store,
imported when a command runs.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import click

from finews.cli_context import CliContext, Group, pass_ctx, progress_bar, progress_wanted
from finews.derive import open_store
from finews.redact import redact

__all__ = ["commands"]


@click.group("import", cls=Group)
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


@click.group("export", cls=Group)
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


@click.command("copy-db")
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


@click.command()
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


@click.command()
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


#: the commands of this module, added to ``finews`` by ``cli.py``
commands: list[click.Command] = [import_, export, copy_db_cmd, reparse, migrate]
