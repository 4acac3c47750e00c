"""``finews import jekyll``: read an existing 金融消息 archive into the store.

The parsing is pure (:mod:`finews.sources.jekyll_posts`); this edge walks the paths,
keeps each category page's media → slug pairing (so old category URLs never change), and
upserts the posts in batches. A file that cannot be read is reported and skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from finews.errors import FinewsError
from finews.models import Item
from finews.sources.jekyll_posts import imported_to_item, parse_category_page, parse_post
from finews.store import Store

__all__ = ["ImportReport", "import_paths"]

log = logging.getLogger("finews.import")


@dataclass
class ImportReport:
    """What an import did."""

    posts: int = 0
    new: int = 0
    updated: int = 0
    categories: int = 0
    failed: list[tuple[Path, str]] = field(default_factory=list)


def _files(paths: Iterable[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.suffix in (".md", ".html"))
        else:
            yield path


def import_paths(store: Store, paths: Iterable[Path], *, batch: int = 500) -> ImportReport:
    """Import every post (``*.md``) and category page (``*.html``) under ``paths``."""
    report = ImportReport()
    fetched_at = datetime.now(UTC)
    pending: list[Item] = []

    def flush() -> None:
        result = store.upsert_items(pending)
        report.new += result.new
        report.updated += result.updated
        pending.clear()

    for path in _files(paths):
        try:
            text = path.read_bytes().decode("utf-8")
            if path.suffix == ".html":
                slug, tag = parse_category_page(text)
                media = tag.removesuffix("新闻")
                if media and slug:
                    store.slug_for_media(media, slug)
                report.categories += 1
                continue
            post = parse_post(text, path.name)
            item = imported_to_item(post, fetched_at)
        except (OSError, UnicodeDecodeError, FinewsError) as exc:
            log.warning("import: skipped %s: %s", path, exc)
            report.failed.append((path, str(exc)))
            continue
        if item.media and item.category:
            store.slug_for_media(item.media, item.category)
        pending.append(item)
        report.posts += 1
        if len(pending) >= batch:
            flush()
    if pending:
        flush()
    return report
