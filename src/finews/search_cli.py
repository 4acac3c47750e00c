"""``finews search`` and ``finews reindex``: the archive's search from the command line.

Hits are printed newest first (or by relevance), one block each: time, source, title and
a snippet, with the matched text highlighted on a terminal. ``--json`` prints the same as
``/api/search``. ``finews reindex`` rebuilds the search index and the stories from the
stored items (after an upgrade, ``copy_db``, or to repair them).
"""

from __future__ import annotations

import html
import json
import re
import sys
import time
from collections.abc import Sequence
from typing import Any

import click

from finews.cli_context import CliContext, pass_ctx, progress_bar
from finews.derive.search import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    MAX_OFFSET,
    ORDERS,
    SearchResults,
    query_from_params,
)
from finews.errors import FinewsError

__all__ = ["commands", "reindex_cmd", "search_cmd"]

_MARK = re.compile(r"<mark>(.*?)</mark>", re.DOTALL)


def terminal_text(marked: str, *, color: bool) -> str:
    """Escaped HTML with ``<mark>`` hits as terminal text: hits bold yellow when
    ``color``, else plain."""
    parts: list[str] = []
    at = 0
    for match in _MARK.finditer(marked):
        parts.append(html.unescape(marked[at : match.start()]))
        hit = html.unescape(match[1])
        parts.append(click.style(hit, fg="yellow", bold=True) if color else hit)
        at = match.end()
    parts.append(html.unescape(marked[at:]))
    return "".join(parts)


def _print_results(results: SearchResults, *, color: bool) -> None:
    from finews.normalize.times import shanghai_wall

    if not results.hits:
        where = " on this page" if results.query.offset else ""
        click.echo(f"no item matches {results.query.text!r}{where}")
        return
    for hit in results.hits:
        item = hit.item
        head = f"{shanghai_wall(item.published_at)}  {item.source}"
        if item.media:
            head += f" · {item.media}"
        if item.importance > 0:
            head += "  [重要]"
        if hit.copies:
            head += f"  (+{hit.copies} other report{'' if hit.copies == 1 else 's'})"
        click.echo(click.style(head, dim=True) if color else head)
        click.echo("  " + terminal_text(str(hit.title_html), color=color))
        snippet = terminal_text(str(hit.snippet_html), color=color)
        if snippet:
            click.echo("  " + snippet)
        if item.url:
            click.echo(f"  {item.url}")
        click.echo("")
    if results.next_offset is not None:
        click.echo(f"more: add --offset {results.next_offset}")


def _json(results: SearchResults) -> dict[str, Any]:
    from finews.store.times import to_db_time

    return {
        "query": results.query.text,
        "hits": [
            {
                "id": hit.item.id,
                "source": hit.item.source,
                "upstream_id": hit.item.upstream_id,
                "title": hit.item.title,
                "url": hit.item.url,
                "published_at": to_db_time(hit.item.published_at),
                "title_html": str(hit.title_html),
                "snippet_html": str(hit.snippet_html),
                "copies": hit.copies,
            }
            for hit in results.hits
        ],
        "next_offset": results.next_offset,
    }


@click.command("search")
@click.argument("words", nargs=-1, required=True)
@click.option("--source", "-s", metavar="ID", help="Only this source's items.")
@click.option("--since", metavar="DATE", help="From this day or time on (Beijing).")
@click.option("--until", metavar="DATE", help="Up to this day (included) or time.")
@click.option("--important", is_flag=True, help="Only items marked important.")
@click.option("--order", type=click.Choice(ORDERS), default="newest", show_default=True)
@click.option(
    "--limit", "-n", type=click.IntRange(1, MAX_LIMIT), default=DEFAULT_LIMIT, show_default=True
)
@click.option("--offset", type=click.IntRange(0, MAX_OFFSET), default=0, help="Skip hits.")
@click.option("--all-copies", is_flag=True, help="Show every report of a story, not one.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@pass_ctx
def search_cmd(
    obj: CliContext,
    words: Sequence[str],
    source: str | None,
    since: str | None,
    until: str | None,
    important: bool,
    order: str,
    limit: int,
    offset: int,
    all_copies: bool,
    as_json: bool,
) -> None:
    """Search the archive: Chinese words of any length, phrases, codes and names.

    Every word must occur (央行 降准 finds items with both); put a phrase in quotes to
    keep its parts together. Letters, digits and Chinese mix freely: ETF, 600519, 5G,
    A股. Nothing is an operator, so any text is safe to search for.

    \b
    Examples:
      finews search 长安汽车
      finews search 降息 --since 2024-09-01 --order relevance
      finews search '"人民币 汇率"' -s em_fast --important
    """
    from finews.derive.search import search

    params = {
        "q": " ".join(words),
        "source": source or "",
        "since": since or "",
        "until": until or "",
        "important": "true" if important else "",
        "order": order,
        "limit": str(limit),
        "offset": str(offset),
        "all": "true" if all_copies else "false",
    }
    query = query_from_params(params)
    if obj.archive_missing():
        # a read-only command: it creates no data/ folder nor database file
        click.echo(
            f"no archive yet at {obj.config.database_url}: nothing to search; "
            "`finews fetch` fills it",
            err=True,
        )
    with obj.store(read_only=True) as store:
        results = search(store, query)
    if as_json:
        click.echo(json.dumps(_json(results), ensure_ascii=False, indent=1))
    else:
        _print_results(results, color=sys.stdout.isatty())


@click.command("reindex")
@click.option(
    "--missing-only",
    is_flag=True,
    help="Only index and cluster items not yet done (or edited since); keep the rest.",
)
@pass_ctx
def reindex_cmd(obj: CliContext, missing_only: bool) -> None:
    """Rebuild the search index and the stories (same-story clusters) from stored items.

    Run it after an upgrade that changed how text is indexed, after copying a database
    with `finews copy-db`, or if search results look wrong. Safe to interrupt and run again.
    (`finews run` indexes what it stores by itself, a moment after storing it.)

    \b
    Examples:
      finews reindex
      finews reindex --missing-only
    """
    from finews.derive import mark_derived_through
    from finews.derive.search import index_status, reindex, sync_index
    from finews.derive.stories import cluster_status, recluster, sync_clusters

    with (
        obj.store() as store,
        progress_bar("indexing items", total=store.count_items()) as progress,
    ):
        started = time.monotonic()
        # every change logged by now is covered by this rebuild (the daemon's deriving
        # thread then skips ahead instead of visiting each again)
        through = store.last_change_seq()
        if missing_only:
            indexed = sync_index(store, progress=progress)
            clustered = sync_clusters(store)
        else:
            indexed = reindex(store, progress=progress)
            clustered = recluster(store)
        mark_derived_through(store, through)
        status = index_status(store)
        stories = cluster_status(store)
    elapsed = time.monotonic() - started
    click.echo(
        f"indexed {indexed} items, clustered {clustered} in {elapsed:.1f}s; "
        f"index holds {status.indexed} of {status.items} items, "
        f"{stories.stories} stories"
    )
    if not status.ok:
        raise FinewsError("the search index is still incomplete; run `finews reindex` again")


#: the commands this module adds to ``finews``
commands = [search_cmd, reindex_cmd]
