"""The Jekyll export: items written as the original 金融消息 site's posts, byte for byte.

The post format (file names, front matter, bodies, category pages) is
:mod:`finews.jekyll.post`'s; this module writes its files through the one writer.

:func:`export_jekyll` streams items: posts of today and the ``window_days - 1`` days before
(Asia/Shanghai) go to ``_posts/``, older ones to ``old_post/``; a post that has left the
window has its ``_posts/`` copy removed (or moved to ``old_post/`` when this run did not
write it), except the site's first post ``2021-12-01-init.md``. Posts dated after today
stay in ``_posts/``. Two items of one source with the same file name: the newest revision
wins; of two sources (East Money's three share the original's names): the first written
stays, never replaced by another source; each clash is logged. An item that cannot be
written is skipped with a logged reason naming its source and id; the export goes on.
Unchanged files are not rewritten.

The original wrote East Money's full-text HTML as it came. With ``jekyll.verbatim_html``
(on by default), an item of the original's sources whose full text came as HTML is written
with that text as received (handed in by ``received``, read from the kept raw reply) when
:func:`finews.normalize.verbatim.refusal` finds it harmless, so its post is byte for byte
the original's; otherwise, and for every other item, with the sanitised text (logged at
INFO with the source, the id and the reason; :func:`finews.jekyll.post.render_post`).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from finews.errors import ExportError
from finews.jekyll.post import (
    DEFAULT_PAGE_PATHS,
    ORIGINAL_SOURCES,
    JekyllSettings,
    category_stem,
    page_path,
    render_category,
    render_post,
)
from finews.models import Item
from finews.normalize.times import shanghai_date
from finews.publish.writer import Writer

# JekyllSettings is the export's settings (defined with the post format it shapes)
__all__ = [
    "INIT_POST",
    "ORIGINAL_SOURCES",
    "DirCounts",
    "ExportReport",
    "JekyllSettings",
    "export_jekyll",
]

log = logging.getLogger(__name__)

#: The site's first post: never moved, never removed.
INIT_POST = "2021-12-01-init.md"

_SLUG = re.compile(r"[A-Za-z0-9_-]+")
_POST_NAME = re.compile(r"(\d{4}-\d{2}-\d{2})-.+\.md")


@dataclass(frozen=True, slots=True)
class DirCounts:
    """What an export did in one output directory."""

    written: int = 0
    unchanged: int = 0
    #: stale ``_posts`` copies moved here or removed because this run wrote them here
    moved: int = 0


@dataclass(frozen=True, slots=True)
class ExportReport:
    """What one :func:`export_jekyll` run did, per directory and in total."""

    dirs: Mapping[str, DirCounts] = field(default_factory=dict)
    #: items that could not be exported (logged with the reason)
    skipped: int = 0
    #: items that had the same file name as another item (the older revision lost)
    duplicates: int = 0

    @property
    def written(self) -> int:
        """Files created or changed."""
        return sum(c.written for c in self.dirs.values())

    @property
    def unchanged(self) -> int:
        """Files that already held the bytes to write."""
        return sum(c.unchanged for c in self.dirs.values())

    @property
    def moved(self) -> int:
        """Stale ``_posts`` copies moved or removed."""
        return sum(c.moved for c in self.dirs.values())

    def __str__(self) -> str:
        parts = [
            f"{name}: {c.written} written, {c.unchanged} unchanged"
            + (f", {c.moved} moved in" if c.moved else "")
            for name, c in self.dirs.items()
        ]
        totals = f"{self.written} written, {self.unchanged} unchanged, {self.moved} moved"
        extra = f"; {self.skipped} skipped, {self.duplicates} duplicate file names"
        return f"{totals} ({'; '.join(parts)}){extra}"


# --- export ---------------------------------------------------------------------------------


def _rank(item: Item) -> tuple[int, datetime, datetime, str]:
    return (item.revision, item.fetched_at, item.published_at, item.source)


def _move_stale(out_dir: Path, settings: JekyllSettings, window_start: str, writer: Writer) -> int:
    posts = out_dir / settings.posts_dir
    archive = out_dir / settings.archive_dir
    if not posts.is_dir():
        return 0
    moved = 0
    for name in sorted(os.listdir(posts)):
        match = _POST_NAME.fullmatch(name)
        if name == INIT_POST or match is None or match[1] >= window_start:
            continue
        stale = posts / name
        if not stale.is_file():
            continue
        kept = archive / name
        try:
            if writer.wrote(f"{settings.archive_dir}/{name}") or (
                kept.is_file() and kept.read_bytes() == stale.read_bytes()
            ):
                stale.unlink()
            else:
                archive.mkdir(parents=True, exist_ok=True)
                os.replace(stale, kept)
        except OSError as exc:
            raise ExportError(f"cannot move {stale} to {archive}: {exc}") from exc
        log.info("moved %s out of %s", name, settings.posts_dir)
        moved += 1
    return moved


def export_jekyll(
    items: Iterable[Item],
    out_dir: Path,
    settings: JekyllSettings | None = None,
    *,
    now: datetime,
    page_paths: Mapping[str, str] = DEFAULT_PAGE_PATHS,
    received: Callable[[Item], str | None] | None = None,
) -> ExportReport:
    """Write ``items`` as a Jekyll site's posts and category pages under ``out_dir``.

    ``now`` (aware) fixes "today" in Asia/Shanghai; ``page_paths`` maps categories to
    their fixed back-link pages. ``received(item)`` gives an item's full text as its
    upstream sent it, if kept; it is asked for the original's sources' items only, and
    only with ``settings.verbatim_html``. Items are streamed: only their file names, ranks and the
    categories' tags are kept in memory. A bad item is logged and skipped; the run goes on.
    Temporary files an interrupted earlier run left behind are removed first, so only one
    export may write to ``out_dir`` at a time.
    """
    settings = settings or JekyllSettings()
    today = date.fromisoformat(shanghai_date(now))
    window_start = (today - timedelta(days=settings.window_days - 1)).isoformat()
    writer = Writer(out_dir)
    for directory in (settings.posts_dir, settings.archive_dir, settings.category_dir):
        if swept := writer.sweep(directory):
            log.info("removed %d temporary files of an interrupted run from %s", swept, directory)
    ranks: dict[str, tuple[int, datetime, datetime, str]] = {}
    categories: dict[str, tuple[datetime, str]] = {}
    skipped = duplicates = 0
    for item in items:
        try:
            path = page_path(item, page_paths, category_dir=settings.category_dir)
            as_received = None
            if received is not None and settings.verbatim_html and item.source in ORIGINAL_SOURCES:
                as_received = received(item)
            name, data = render_post(item, settings, path, received=as_received)
            rank = _rank(item)
            earlier = ranks.get(name)
            if earlier is not None:
                duplicates += 1
                if earlier[3] != item.source:
                    # Another source's post: never replaced, whatever the revisions say.
                    log.warning(
                        "%s: kept %s's post, dropped %s %r with the same file name",
                        name, earlier[3], item.source, item.upstream_id,
                    )  # fmt: skip
                    continue
                if rank <= earlier:
                    log.warning(
                        "%s: kept the newer revision, dropped %s/%s", name, item.source, rank[0]
                    )
                    continue
                log.warning("%s: replaced by a newer revision from %s", name, item.source)
            directory = settings.posts_dir if name[:10] >= window_start else settings.archive_dir
            writer.write(f"{directory}/{name}", data, replace=earlier is not None)
        except (ExportError, ValueError, OverflowError) as exc:
            # One item that cannot be written costs only itself (ExportError includes the
            # writer's OSError, e.g. a full disk, which then fails each item in turn).
            log.warning("skipped [%s] %r: %s", item.source, item.upstream_id, exc)
            skipped += 1
            continue
        ranks[name] = rank
        if path == f"/{settings.category_dir}/{category_stem(item.category)}.html":
            seen = categories.get(item.category)
            if seen is None or (item.published_at, item.tag) > seen:
                categories[item.category] = (item.published_at, item.tag)
    for slug in sorted(categories):
        if not _SLUG.fullmatch(slug):
            log.warning("no category page for %r: not a slug", slug)
            continue
        try:
            writer.write(
                f"{settings.category_dir}/{category_stem(slug)}.html",
                render_category(slug, categories[slug][1]),
            )
        except ExportError as exc:
            log.warning("no category page for %r: %s", slug, exc)
    moved = _move_stale(out_dir, settings, window_start, writer)
    return ExportReport(
        dirs=_dir_counts(writer, settings, moved), skipped=skipped, duplicates=duplicates
    )


def _dir_counts(writer: Writer, settings: JekyllSettings, moved: int) -> dict[str, DirCounts]:
    written: dict[str, int] = {}
    unchanged: dict[str, int] = {}
    for rel, changed in writer.results.items():
        counter = written if changed else unchanged
        top = rel.partition("/")[0]
        counter[top] = counter.get(top, 0) + 1
    return {
        d: DirCounts(
            written=written.get(d, 0),
            unchanged=unchanged.get(d, 0),
            moved=moved if d == settings.archive_dir else 0,
        )
        for d in (settings.posts_dir, settings.archive_dir, settings.category_dir)
    }
