"""``finews reparse``: today's parsers and normalisers over the raw data kept with each item.

The store keeps, beside every item fetched since schema version 10, the upstream's own
record of it (``item_raw``, see :mod:`finews.raw`): the JSON object of the list reply, the
feed entry, and the article reply of its full text. After a parser, a normaliser or the
sanitiser is fixed, ``reparse`` reads each record again as a poll would read it now and
stores the result through :meth:`~finews.store.Store.upsert_items`: an item whose reading
changes gets a new revision (the old one kept in ``item_revisions``) and a change-log entry,
so its search entry and story follow by the usual derive path; an unchanged one is not
written, except that a text the current sanitiser made again unchanged records its version
(``Item.sanitizer``: no revision, no change-log entry; pages then insert it as it is).
An item without raw data to read (stored before schema version 10, or whose record no
longer parses) whose text an older sanitiser made, or one not known, has its stored text
run through today's sanitiser instead: the version is recorded, and a revision made only
where the text changed.
Bad records are dropped with a logged reason naming source and id; the run goes on.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from finews.errors import FinewsError
from finews.models import Dropped, Item, RawItem, RawRecord, SourceSpec
from finews.normalize import normalize_item
from finews.normalize.pipeline import unsanitised_fulltext
from finews.normalize.sanitize import SANITIZER_VERSION, clean_markup, looks_like_html
from finews.raw import unpack
from finews.sources import get_adapter
from finews.sources.base import Adapter
from finews.store import ItemQuery, Store
from finews.store.raw import older_sanitised

__all__ = ["ReceivedTexts", "ReparseReport", "jekyll_items", "reparse"]

log = logging.getLogger("finews.reparse")

#: items written per transaction
_BATCH = 200


@dataclass
class ReparseReport:
    """What one ``reparse`` did."""

    #: items with kept raw data that were read again
    seen: int = 0
    #: items whose new reading differs: a new revision each
    updated: int = 0
    unchanged: int = 0
    #: records that no longer parse or normalise (the stored item is left as it is)
    dropped: list[Dropped] = field(default_factory=list)
    #: items left alone, per reason (a source no longer configured, an adapter that cannot
    #: read records back)
    skipped: dict[str, int] = field(default_factory=dict)
    #: items whose stored text (no raw data read again) went through today's sanitiser,
    #: and those of them whose text it changed (a new revision each)
    stored_text: int = 0
    stored_text_changed: int = 0

    def summary(self) -> str:
        """One line for the terminal."""
        line = (
            f"reparsed {self.seen} items: {self.updated} changed (a new revision each), "
            f"{self.unchanged} unchanged, {len(self.dropped)} dropped"
        )
        for reason, count in sorted(self.skipped.items()):
            line += f"; {count} skipped ({reason})"
        if self.stored_text:
            line += (
                f"; {self.stored_text} more sanitised again from their stored text "
                f"({self.stored_text_changed} changed)"
            )
        return line


def reparse(
    store: Store,
    specs: Mapping[str, SourceSpec],
    *,
    source: str | None = None,
    since: datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> ReparseReport:
    """Read every kept record (of ``source``, of items published since ``since``) with
    today's adapter of its source (``specs``, by source id) and store what changed."""
    report = ReparseReport()
    pending: list[Item] = []

    def flush() -> None:
        outcome = store.upsert_items(pending)
        report.updated += outcome.updated
        report.unchanged += outcome.unchanged + outcome.new
        report.dropped.extend(outcome.dropped)
        pending.clear()

    def flush_stored() -> None:
        outcome = store.upsert_items(pending)
        report.stored_text_changed += outcome.updated
        report.dropped.extend(outcome.dropped)
        pending.clear()

    # raw_records reads keyset pages, each whole before it yields: writes between them
    # are safe, and an archive is never held in memory
    for item, raw in store.raw_records(source, since):
        report.seen += 1
        spec = specs.get(item.source)
        if spec is None:
            _skip(report, "source no longer configured")
        else:
            result = _read_again(spec, item, raw)
            if isinstance(result, Dropped):
                log.warning(
                    "source=%s id=%s not reparsed: %s",
                    result.source,
                    result.upstream_id or "-",
                    result.reason,
                )
                report.dropped.append(result)
            elif isinstance(result, str):
                _skip(report, result)
            else:
                pending.append(result)
                if len(pending) >= _BATCH:
                    flush()
        if progress is not None:
            progress(report.seen)
    if pending:
        flush()
    # what no raw data could be read again for (kept since schema version 10 only; or its
    # record dropped, or its source gone): today's rules over the stored text itself
    for item in older_sanitised(store, SANITIZER_VERSION, source, since):
        report.stored_text += 1
        pending.append(
            item.replace(
                digest=clean_markup(item.digest),
                content=clean_markup(item.content),
                sanitizer=SANITIZER_VERSION,
            )
        )
        if len(pending) >= _BATCH:
            flush_stored()
        if progress is not None:
            progress(report.seen + report.stored_text)
    if pending:
        flush_stored()
    return report


def _skip(report: ReparseReport, reason: str) -> None:
    report.skipped[reason] = report.skipped.get(reason, 0) + 1


def _read_again(spec: SourceSpec, item: Item, raw: RawRecord) -> Item | Dropped | str:
    """``item`` as today's code reads its kept data: the new item, a drop with the reason,
    or why it cannot be read back (a skip)."""
    where = f"[{spec.id}] item {item.upstream_id}"
    try:
        adapter = get_adapter(spec.adapter)
        record = unpack(raw.record, raw.record_format)
        article = unpack(raw.article, raw.article_format)
    except (FinewsError, ValueError) as exc:
        return Dropped(item.source, item.upstream_id, f"{where}: {exc}")
    if record is not None:
        try:
            result = adapter.parse_record(spec, record.decode("utf-8", "surrogatepass"))
        except (FinewsError, ValueError) as exc:
            return Dropped(item.source, item.upstream_id, f"{where}: {exc}")
        if isinstance(result, Dropped):
            return result
        if result.upstream_id != item.upstream_id:
            return Dropped(
                item.source,
                item.upstream_id,
                f"{where}: the kept record now reads as id {result.upstream_id!r}; "
                "an id never changes, so the item is left as it is",
            )
        base = result
    elif article is not None:
        base = item.as_raw()  # the article alone: only the full text is read again
    else:
        return "no raw data kept"
    if article is not None:
        base = _with_fulltext(adapter, spec, base, article)
    cleaned = normalize_item(base, spec, fetched_at=item.fetched_at, slug_for=_keep_slug(item))
    if isinstance(cleaned, Dropped):
        return cleaned
    if record is None:  # nothing but the full text was read again: the rest stands
        if not cleaned.content:
            return item
        return item.replace(content=cleaned.content, sanitizer=cleaned.sanitizer)
    return cleaned.replace(raw=None)


def _with_fulltext(adapter: Adapter, spec: SourceSpec, raw: RawItem, article: bytes) -> RawItem:
    """``raw`` with the full text its kept article reply gives today (as it was, when the
    reply no longer parses: logged)."""
    try:
        text = adapter.parse_fulltext(spec, article, raw)
    except FinewsError as exc:
        log.warning("source=%s id=%s full text not reparsed: %s", spec.id, raw.upstream_id, exc)
        return raw
    return dataclasses.replace(raw, content=text) if text else raw


def _keep_slug(item: Item) -> Callable[[str], str]:
    """The stored item keeps its category whatever media name it reads as now (the store
    keeps it too); this only spares the lookup."""
    return lambda _media: item.category


class ReceivedTexts:
    """Items' full texts as their upstream sent them, read again from the kept article
    replies with today's adapters: what ``finews export jekyll`` writes for the original's
    East Money posts (``export_jekyll``'s ``received``).

    :meth:`stream` passes the export's items through, reading ahead a batch at a time:
    one query per batch (:meth:`~finews.store.Store.raw_of`) for the items of ``sources``
    whose stored full text is HTML. Calling the object with an item of that batch gives
    its text (``　　`` removed and stripped, as the pipeline does before sanitising), or
    ``None`` when none was kept or it no longer parses (logged). The export asks in the
    order it is handed items, so one batch is held at a time.
    """

    def __init__(
        self,
        store: Store,
        specs: Mapping[str, SourceSpec],
        sources: Collection[str],
        *,
        batch: int = _BATCH,
    ) -> None:
        self._store = store
        self._specs = specs
        self._sources = sources
        self._batch = batch
        self._kept: dict[int, RawRecord] = {}

    def stream(self, items: Iterable[Item]) -> Iterator[Item]:
        """``items`` unchanged, their kept article replies read a batch ahead."""
        chunk: list[Item] = []
        for item in items:
            chunk.append(item)
            if len(chunk) >= self._batch:
                yield from self._ahead(chunk)
                chunk = []
        yield from self._ahead(chunk)

    def _ahead(self, chunk: list[Item]) -> list[Item]:
        wanted = [
            item.id
            for item in chunk
            if item.id is not None
            and item.source in self._sources
            and looks_like_html(item.content)
        ]
        self._kept = self._store.raw_of(wanted) if wanted else {}
        return chunk

    def __call__(self, item: Item) -> str | None:
        raw = self._kept.get(item.id) if item.id is not None else None
        spec = self._specs.get(item.source)
        if raw is None or raw.article is None or spec is None:
            return None
        try:
            article = unpack(raw.article, raw.article_format)
            if article is None:
                return None
            text = get_adapter(spec.adapter).parse_fulltext(spec, article, item.as_raw())
        except (FinewsError, KeyError, ValueError) as exc:
            log.info(
                "source=%s id=%s: the kept full-text reply is not read: %s",
                item.source,
                item.upstream_id,
                exc,
            )
            return None
        return unsanitised_fulltext(text) if text else None


def jekyll_items(
    store: Store, specs: Mapping[str, SourceSpec], *, verbatim_html: bool
) -> tuple[Iterator[Item], ReceivedTexts | None]:
    """What ``finews export jekyll`` (and the demo) hand ``export_jekyll``: every item,
    oldest first, and with ``verbatim_html`` the lookup of the original's East Money
    items' full texts as received (``ReceivedTexts``, reading ahead of those items)."""
    from finews.publish.jekyll import ORIGINAL_SOURCES

    items = store.items(ItemQuery(oldest_first=True))
    if not verbatim_html:
        return items, None
    received = ReceivedTexts(store, specs, ORIGINAL_SOURCES)
    return received.stream(items), received
