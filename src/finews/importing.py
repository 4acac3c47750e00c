"""``finews import jekyll``: read an existing 金融消息 archive into the store.

Reading a post is pure (:mod:`finews.jekyll.post`), and each post is normalised as an
upstream's item is (``post_raw`` then ``normalize_item``); this edge walks the paths, keeps
each category page's media → slug pairing (so old category URLs never change), and
upserts the posts in batches. A file that cannot be read is reported and skipped, and so
is a post the store refuses: a batch the store refuses is written again one post at a
time, so that one bad post costs only itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from finews.errors import FinewsError
from finews.jekyll.post import parse_category_page, parse_post, post_raw
from finews.models import Dropped, Item
from finews.normalize.pipeline import normalize_item
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


def import_paths(
    store: Store,
    paths: Iterable[Path],
    *,
    batch: int = 500,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import every post (``*.md``) and category page (``*.html``) under ``paths``;
    ``progress`` hears how many files were read so far."""
    report = ImportReport()
    fetched_at = datetime.now(UTC)
    pending: list[Item] = []
    paths_of: list[Path] = []

    def flush() -> None:
        try:
            results = [store.upsert_items(pending)]
        except Exception:  # whatever one post did, the others are kept
            results = []
            for path, item in zip(paths_of, pending, strict=True):
                try:
                    results.append(store.upsert_items([item]))
                except Exception as exc:  # logged and reported per post
                    reason = f"[{item.source}] {item.upstream_id!r} not stored: {exc}"
                    log.warning("import: skipped %s: %s", path, reason)
                    report.failed.append((path, reason))
                    report.posts -= 1
        for result in results:
            report.new += result.new
            report.updated += result.updated
        pending.clear()
        paths_of.clear()

    for done, path in enumerate(_files(paths), start=1):
        if progress is not None:
            progress(done)
        try:
            text = path.read_bytes().decode("utf-8")
            if path.suffix == ".html":
                slug, tag = parse_category_page(text)
                media = tag.removesuffix("新闻")
                if media and slug:
                    store.slug_for_media(media, slug)
                report.categories += 1
                continue
            raw, spec = post_raw(parse_post(text, path.name))
            item = normalize_item(raw, spec, fetched_at=fetched_at, as_stored=True)
        except (OSError, ValueError, OverflowError, FinewsError) as exc:
            # ValueError includes UnicodeDecodeError; OverflowError is a date out of range
            log.warning("import: skipped %s: %s", path, exc)
            report.failed.append((path, str(exc)))
            continue
        if isinstance(item, Dropped):
            reason = f"[{item.source}] {item.upstream_id!r} dropped: {item.reason}"
            log.warning("import: skipped %s: %s", path, reason)
            report.failed.append((path, reason))
            continue
        if item.media and item.category:
            store.slug_for_media(item.media, item.category)
        pending.append(item)
        paths_of.append(path)
        report.posts += 1
        if len(pending) >= batch:
            flush()
    if pending:
        flush()
    return report
