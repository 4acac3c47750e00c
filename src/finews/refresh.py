"""The one place the stages meet: poll one source end to end, never fatally.

``refresh_source`` sends the adapter's requests, parses the replies, walks back through
older pages until it meets items already stored (so a poll after a gap misses nothing the
upstream still lists), fetches the full text of new items (or, given a ``fulltext`` sink,
hands them to it and stores them at once with their digest), normalises, and commits page by
page (a crash loses nothing already committed). Where a walk back stands is saved in the
source's state after every page: a walk that was killed or failed half-way is finished
by the next poll, after it has read the newest page, within the same ``max_pages`` depth.
Each bad item is dropped with a logged reason naming source and id; a failing source
records its error in its state and the run goes on with the others.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from finews.errors import FinewsError, ParseError, StatusFetchError, StoreError
from finews.fetch import conditional
from finews.fetch.client import HttpClient
from finews.formatwatch import FormatWatch
from finews.models import Dropped, Item, RawItem, SourceSpec, SourceState
from finews.normalize import normalize_item
from finews.normalize.pipeline import storable_raw
from finews.normalize.slug import media_slug
from finews.normalize.storable import storable_text
from finews.redact import redact
from finews.sources import get_adapter
from finews.sources._encoding import http_charset
from finews.sources.base import Adapter, Page, Request
from finews.store import Store
from finews.store.securities import learn_names
from finews.store.validators import keep_validators, load_validators

__all__ = [
    "FulltextSink",
    "SourceReport",
    "Walk",
    "dump_walks",
    "fetch_fulltext",
    "load_walks",
    "refresh_all",
    "refresh_source",
]

log = logging.getLogger("finews.refresh")


@dataclass
class SourceReport:
    """What one poll of one source did."""

    source: str
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    pages: int = 0
    dropped: list[Dropped] = field(default_factory=list)
    fulltext_errors: int = 0
    #: new items handed to the ``fulltext`` sink instead of being fetched here
    fulltext_queued: int = 0
    error: str | None = None
    #: a problem that cost no item, e.g. a reply that decoded only with replacement
    #: characters; kept in the source's ``last_error`` as ``warning: …`` after a good poll
    warning: str | None = None
    #: seconds the upstream asked us to wait (``Retry-After`` of the failing reply)
    retry_after: float | None = None
    #: replies of this poll that looked like a changed upstream (see finews.formatwatch)
    format_errors: int = 0
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        """Whether the poll reached the upstream and parsed its reply."""
        return self.error is None


#: called with (source id, pages done, items seen so far) while a poll runs
Progress = Callable[[str, int, int], None]

#: called with a source and its new items that have a full text to fetch, before they are
#: stored (so the work is recorded first: a crash in between leaves it queued, never lost)
FulltextSink = Callable[[SourceSpec, Sequence[RawItem]], None]


class _SlugCache:
    """Media name → category slug, stable forever once stored."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._known: dict[str, str] = {}

    def __call__(self, media: str) -> str:
        slug = self._known.get(media)
        if slug is None:
            slug = self._store.slug_for_media(media, media_slug(media))
            self._known[media] = slug
        return slug


async def fetch_fulltext(
    client: HttpClient, adapter: Adapter, spec: SourceSpec, raw: RawItem
) -> RawItem | None:
    """The full-text step, for a poll here and for the daemon's full-text worker: ``raw``
    with the adapter's full text as its content and the article reply kept with it (for
    ``finews reparse``); ``None`` when the item has no full text to fetch or the reply
    held none. A failed request or parse raises its :class:`~finews.errors.FinewsError`."""
    request = adapter.fulltext_request(spec, raw)
    if request is None:
        return None
    response = await client.get(request, source=spec.id)
    text = adapter.parse_fulltext(spec, response.body, raw)
    if not text:
        return None
    return dataclasses.replace(raw, content=text, article=response.body)


async def _fulltext(
    client: HttpClient, adapter: Adapter, spec: SourceSpec, raw: RawItem
) -> tuple[RawItem, str | None]:
    """The item with its full text filled in, and an error message if that failed."""
    try:
        filled = await fetch_fulltext(client, adapter, spec, raw)
    except FinewsError as exc:
        return raw, f"full text of {raw.upstream_id}: {exc}"
    return (raw if filled is None else filled), None


@dataclass
class Walk:
    """One walk back through older pages: the next request, and how many more pages it
    may take (the ``max_pages`` depth it started with, minus pages done). A walk that
    reaches its depth ends there: the depth setting bounds how far back a poll goes."""

    request: Request | None
    depth: int


def load_walks(cursor: str | None) -> list[Walk]:
    """The unfinished walks a source's state remembers."""
    if not cursor:
        return []
    try:
        data = json.loads(cursor)
        return [
            Walk(
                Request(
                    url=str(w["url"]),
                    params={str(k): str(v) for k, v in w["params"].items()},
                    headers={str(k): str(v) for k, v in w["headers"].items()},
                    fallback_urls=tuple(str(u) for u in w["fallback_urls"]),
                    guarded=bool(w.get("guarded", False)),
                ),
                int(w["depth"]),
            )
            for w in data.get("walks", [])
        ]
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        log.warning("ignored an unreadable saved cursor %r: %s", cursor[:200], exc)
        return []


def dump_walks(*groups: Sequence[Walk]) -> str | None:
    """The walks not yet finished, as the source state's cursor text."""
    pending = [
        {
            "url": w.request.url,
            "params": dict(w.request.params),
            "headers": dict(w.request.headers),
            "fallback_urls": list(w.request.fallback_urls),
            "guarded": w.request.guarded,
            "depth": w.depth,
        }
        for group in groups
        for w in group
        if w.request is not None and w.depth > 0
    ]
    return json.dumps({"walks": pending}, ensure_ascii=False) if pending else None


async def refresh_source(
    spec: SourceSpec,
    store: Store,
    client: HttpClient,
    *,
    progress: Progress | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    fulltext: FulltextSink | None = None,
    derive: bool = True,
    samples: Path | None = None,
) -> SourceReport:
    """Poll one source end to end. Never raises for upstream trouble: the error is in the
    report and in the source's stored state.

    ``fulltext``, when given, takes over full-text fetching: new items are stored with their
    digest at once and handed to it (``finews run`` queues them for a background worker),
    so a slow article endpoint never holds up the list. ``derive=False`` stores pages
    without indexing them or clustering them (:mod:`finews.derive` does that later;
    ``finews run`` does, on a thread of its own). ``samples`` is the folder that keeps a
    sample of each reply that looks like a changed upstream (none kept without it)."""
    started = time.monotonic()
    report = SourceReport(source=spec.id)
    state = store.get_state(spec.id).replace(last_attempt=now())
    slug_for = _SlugCache(store)
    seen = 0
    watch = FormatWatch(spec, store, samples, now())
    try:
        adapter = get_adapter(spec.adapter)
        max_pages = int(spec.get("max_pages", 10))
        # Walks still to finish: the newest page first, then every walk back that an earlier
        # poll left unfinished (killed, failed or out of depth budget), oldest gap last.
        first = conditional.with_validators(
            adapter.first_page(spec), load_validators(store, spec.id)
        )
        walks = [Walk(first, max_pages), *load_walks(state.cursor)]
        for index, walk in enumerate(walks):
            while walk.request is not None and walk.depth > 0:
                response = await client.get(walk.request, source=spec.id)
                if response.not_modified:
                    walk.request = None  # 304: the newest page is as the last poll stored it
                    continue
                charset = http_charset(response.headers.get("content-type"))
                try:
                    page = adapter.parse_page(spec, response.body, walk.request, charset=charset)
                except ParseError as exc:
                    watch.failed(exc, response.body)
                    raise
                watch.page(adapter, page, response.body, newest=walk.request is first)
                if page.lossy:
                    _log_lossy(spec.id, response.url, page.lossy)
                    report.warning = report.warning or f"{page.lossy} ({response.url})"
                report.pages += 1
                seen += len(page.items)
                for drop in page.dropped:
                    _log_drop(drop)
                report.dropped.extend(page.dropped)
                asked = walk.request

                def advance(
                    met_stored: bool, page: Page = page, walk: Walk = walk, index: int = index
                ) -> SourceState | None:
                    """Move the walk on; the state to commit together with the page."""
                    nonlocal state
                    if not page.next_is_older:
                        # another list (not older items): always asked for, never a gap
                        walk.request = page.next
                        return None
                    walk.depth -= 1
                    # An older page is only worth asking for while every item was new to us.
                    done = met_stored or not page.items
                    walk.request = None if done else page.next
                    # Where this walk stands commits with the page: a kill leaves no gap.
                    state = state.replace(cursor=dump_walks(walks[: index + 1], walks[index + 1 :]))
                    return state

                await _store_page(
                    spec,
                    store,
                    client,
                    adapter,
                    page.items,
                    report,
                    slug_for,
                    now(),
                    fulltext,
                    advance=advance,
                    derive=derive,
                )
                if asked is first:  # committed: the next poll may now ask "changed?"
                    keep_validators(
                        store, spec.id, conditional.validators_of(first, response.headers)
                    )
                if progress is not None:
                    progress(spec.id, report.pages, seen)
            if walk.request is not None and walk.depth <= 0:
                log.warning(
                    "source=%s walked back max_pages=%d pages without meeting stored items; "
                    "older items are not fetched (raise max_pages to go deeper)",
                    spec.id,
                    max_pages,
                )
        state = state.replace(cursor=dump_walks(walks, []))
        # A good poll clears the last error; a lossy decode stays visible as a warning.
        warning = f"warning: {report.warning}" if report.warning else None
        state = state.replace(last_success=now(), last_error=warning, consecutive_failures=0)
    except FinewsError as exc:
        # an error quotes its URL, which may carry credentials: kept and shown redacted;
        # storable, so that one quoting upstream bytes cannot make the state unsavable
        report.error = storable_text(redact(str(exc)))
        if isinstance(exc, StatusFetchError):
            report.retry_after = exc.retry_after
        state = state.replace(
            last_error=report.error, consecutive_failures=state.consecutive_failures + 1
        )
    report.format_errors = watch.errors
    watch.finish()
    report.elapsed = time.monotonic() - started
    store.save_state(state)
    _log_poll(report)
    return report


async def _store_page(
    spec: SourceSpec,
    store: Store,
    client: HttpClient,
    adapter: Adapter,
    raws: Sequence[RawItem],
    report: SourceReport,
    slug_for: Callable[[str], str],
    fetched_at: datetime,
    fulltext: FulltextSink | None = None,
    *,
    advance: Callable[[bool], SourceState | None] = lambda _met: None,
    derive: bool = True,
) -> None:
    """Normalise and commit one page, with the source state ``advance`` gives for it
    (called with whether the page held an item stored before) in the same transaction."""
    # storable first: an id with a NUL or a lone surrogate would fail the lookups and the
    # full-text queue below for the whole page (normalize_item does it again; a no-op then)
    raws = [storable_raw(raw) for raw in raws]
    known = store.known_ids(spec.id, [raw.upstream_id for raw in raws])
    fresh = [raw for raw in raws if raw.upstream_id not in known]
    if spec.get("fulltext", True) and fresh and fulltext is not None:
        wanted = [raw for raw in fresh if adapter.fulltext_request(spec, raw) is not None]
        if wanted:
            fulltext(spec, wanted)
            report.fulltext_queued += len(wanted)
    elif spec.get("fulltext", True) and fresh:
        results = await asyncio.gather(*(_fulltext(client, adapter, spec, r) for r in fresh))
        filled = {raw.upstream_id: raw for raw, _ in results}
        for _, problem in results:
            if problem is not None:
                report.fulltext_errors += 1
                log.warning("source=%s %s (kept with its digest)", spec.id, problem)
        raws = [filled.get(raw.upstream_id, raw) for raw in raws]
    items: list[Item] = []
    for raw in raws:
        result = normalize_item(raw, spec, fetched_at=fetched_at, slug_for=slug_for)
        if isinstance(result, Dropped):
            _log_drop(result)
            report.dropped.append(result)
        else:
            items.append(result)
    # the store drops (and logs) an item it cannot hold instead of failing the page
    outcome = store.upsert_items(items, state=advance(bool(known)), derive=derive)
    report.dropped.extend(outcome.dropped)
    report.new += outcome.new
    report.updated += outcome.updated
    report.unchanged += outcome.unchanged
    _learn_names(store, spec.id, items)


def _learn_names(store: Store, source: str, items: Sequence[Item]) -> None:
    """Keep the security names the page's items carried (``extra["security_names"]``) in
    the directory of names, after the page committed: a name lost to a failure here is
    learned again from the next item naming the security, and costs the page nothing."""
    names: dict[str, str] = {}
    for item in items:
        found = item.raw.extra.get("security_names") if item.raw is not None else None
        if isinstance(found, dict):
            names.update((str(code), str(name)) for code, name in found.items())
    if not names:
        return
    try:
        learn_names(store, names, source)
    except StoreError as exc:
        log.warning("source=%s security names not kept: %s", source, exc)


async def refresh_security_names(store: Store, client: HttpClient, url: str) -> int:
    """Read East Money's quote list at ``url`` (:mod:`finews.sources.eastmoney_quotes`) and
    keep every name in the directory of names; returns how many rows changed. Raises the
    :class:`~finews.errors.FetchError` or :class:`~finews.errors.ParseError` that stopped
    it (nothing is written then)."""
    from finews.sources.eastmoney_quotes import ORIGIN, parse_quote_list, quote_list_request

    response = await client.get(quote_list_request(url), source=ORIGIN)
    return learn_names(store, parse_quote_list(response.body), ORIGIN)


def _log_drop(drop: Dropped) -> None:
    log.warning("source=%s id=%s dropped: %s", drop.source, drop.upstream_id or "-", drop.reason)


def _log_lossy(source: str, url: str, note: str) -> None:
    log.warning(
        "source=%s url=%s %s; the items are kept, check the feed's charset",
        source,
        url,
        note,
        extra={"source": source, "url": url, "warning": note},
    )


def _log_poll(report: SourceReport) -> None:
    status = "ok" if report.ok else "error"
    log.info(
        "source=%s status=%s new=%d updated=%d unchanged=%d dropped=%d pages=%d elapsed=%.2fs%s",
        report.source,
        status,
        report.new,
        report.updated,
        report.unchanged,
        len(report.dropped),
        report.pages,
        report.elapsed,
        f" error={report.error!r}" if report.error else "",
        extra={
            "source": report.source,
            "status": status,
            "new": report.new,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "dropped": len(report.dropped),
            "pages": report.pages,
            "fulltext_queued": report.fulltext_queued,
            "elapsed": round(report.elapsed, 3),
            "error": report.error,
        },
    )


async def refresh_all(
    specs: Sequence[SourceSpec],
    store: Store,
    client: HttpClient,
    *,
    progress: Progress | None = None,
    samples: Path | None = None,
) -> list[SourceReport]:
    """Poll several sources concurrently; one source's failure never stops the others."""
    return list(
        await asyncio.gather(
            *(
                refresh_source(spec, store, client, progress=progress, samples=samples)
                for spec in specs
            )
        )
    )
