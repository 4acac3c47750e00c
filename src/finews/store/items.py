"""The writes of items: a batch of readings stored idempotently by (source, upstream id) in
one transaction, each new item inserted, each changed one updated with its previous
revision kept in ``item_revisions`` (nothing is deleted), with its security keys
(:mod:`~finews.store.stocks`), its raw data (:mod:`~finews.store.raw`), its change-log entry
(:mod:`~finews.store.changes`) and the source's state (:mod:`~finews.store.states`) in the
same transaction; deriving inline when the store has a deriver. An unchanged reading writes
nothing. :meth:`finews.store.sql.SqlStore.upsert_items` calls :func:`write_items`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from finews.errors import StoreError
from finews.models import Dropped, Item, SourceState, UpsertResult
from finews.store.base import Store, Transaction, printable
from finews.store.changes import log_change
from finews.store.columns import ITEM_COLUMNS, item_from_row
from finews.store.marks import mark_derived_inline
from finews.store.raw import write_raw
from finews.store.states import state_values, write_state
from finews.store.stocks import write_stock_keys
from finews.store.times import to_db_time

__all__ = ["write_items"]

log = logging.getLogger("finews.store")


def write_items(
    store: Store, items: Sequence[Item], state: SourceState | None, derive: bool, *, isolate: bool
) -> UpsertResult:
    """:meth:`~finews.store.base.Store.upsert_items` in one transaction; with ``isolate``,
    each item is prepared and written on its own, and one that fails is dropped (logged,
    kept in ``item_faults``) instead of failing the batch."""
    dropped: list[Dropped] = []
    prepared: list[Item] = []
    for given in items:
        try:
            prepared.append(_prepare(given))
        except StoreError as exc:
            if not isolate:
                raise
            dropped.append(Dropped(given.source, given.upstream_id, printable(str(exc))))
    state_row = None if state is None else state_values(state)
    new = updated = unchanged = 0
    now = to_db_time(datetime.now(UTC))
    log_rows: list[tuple[int, str]] = []
    written: list[tuple[int, Item]] = []
    with store.transaction() as tx:
        for item in prepared:
            if isolate:
                try:
                    with tx.savepoint():
                        outcome = _write_item(tx, item, now)
                except Exception as exc:
                    if not store.item_fault(exc):
                        raise
                    reason = printable(f"{type(exc).__name__}: {exc}")
                    dropped.append(Dropped(item.source, item.upstream_id, reason))
                    continue
            else:
                outcome = _write_item(tx, item, now)
            for note in item.notes:
                tx.record_fault(item.source, item.upstream_id, "normalize", note)
            if outcome is None:
                unchanged += 1
                continue
            kind, item_id, stored = outcome
            log_rows.append((item_id, kind))
            written.append((item_id, stored))
            if kind == "new":
                new += 1
            else:
                updated += 1
        for drop in dropped:
            log.warning(
                "source=%s id=%s dropped: the store refused it: %s",
                printable(drop.source),
                printable(drop.upstream_id or "-"),
                drop.reason,
            )
            tx.record_fault(drop.source, drop.upstream_id or "", "store", drop.reason)
        # the change log goes last, so the lock that orders it is held only briefly and
        # never while waiting for another writer's item rows (no deadlock)
        if log_rows:
            tx.lock_change_log()
            first = log_change(tx, log_rows[0][0], log_rows[0][1], now)
            for item_id, kind in log_rows[1:]:
                log_change(tx, item_id, kind, now)
            if derive:
                # the search index and the stories of these items (the readers of
                # finews.derive), one deriving writer at a time (clustering reads the
                # stories it extends); the mark moves past them only when no earlier
                # change still waits for finews.derive
                tx.lock_derived()
                assert store.deriver is not None  # upsert_items checked
                store.deriver(tx, written)
                mark_derived_inline(tx, first)
            tx.notify_changes()
        if state_row is not None:
            write_state(tx, state_row)
    return UpsertResult(new=new, updated=updated, unchanged=unchanged, dropped=tuple(dropped))


def _write_item(tx: Transaction, item: Item, now: str | None) -> tuple[str, int, Item] | None:
    """Insert or update one prepared item: ``("new" | "update", row id, as stored)``,
    or ``None`` when it is unchanged."""
    old = _select_item(tx, item.source, item.upstream_id)
    if old is None:
        item_id = _insert_item(tx, item, now)
        if item_id is not None:
            if item.raw is not None:
                write_raw(tx, item_id, item.raw, now)
            write_stock_keys(tx, item_id, item, fresh=True)
            return "new", item_id, item.replace(id=item_id, revision=1)
        # another worker committed the same key meanwhile: treat as a re-poll
        old = _select_item(tx, item.source, item.upstream_id)
        if old is None:
            raise StoreError(
                f"item {item.source}/{item.upstream_id}: insert conflicted "
                "but no stored row is visible; retry the batch"
            )
    merged = _merge(old, item)
    if merged.content_fields() == old.content_fields():
        if merged.sanitizer != old.sanitizer:  # the same text, made by other rules
            sql = "UPDATE items SET sanitizer = ? WHERE id = ?"
            tx.execute(sql, (merged.sanitizer, old.id))
        return None
    assert old.id is not None
    _update_item(tx, old, merged, now)
    write_stock_keys(tx, old.id, merged, fresh=False)
    if item.raw is not None:
        write_raw(tx, old.id, item.raw, now)
    return "update", old.id, merged.replace(revision=old.revision + 1)


def _prepare(given: Item) -> Item:
    """Check an item before any write and shape it as it will read back, so that a
    re-poll compares like with like (and an unchanged item never makes a revision)."""
    where = f"item {given.source}/{given.upstream_id}"
    for name in ("published_at", "fetched_at"):
        value = getattr(given, name)
        if value.tzinfo is None or value.utcoffset() is None:
            raise StoreError(f"{where}: naive {name} {value!r}; store aware datetimes only")
    texts: list[str | None] = [given.source, given.upstream_id, given.title]
    texts += [given.digest, given.content]
    texts += [given.url, given.media, given.category, given.tag, given.kind]
    texts += [given.author, given.fulltext_key, *given.stocks]
    if any(text is not None and "\x00" in text for text in texts):
        # PostgreSQL cannot store NUL in text; refuse it on every engine alike
        raise StoreError(f"{where}: text contains a NUL character; strip it before storing")
    return given.replace(
        # stored times have whole seconds, stocks are stored space-separated
        published_at=given.published_at.replace(microsecond=0),
        fetched_at=given.fetched_at.replace(microsecond=0),
        stocks=tuple(s for s in " ".join(given.stocks).split(" ") if s),
    )


def _merge(old: Item, new: Item) -> Item:
    """What to store when ``new`` arrives for a stored ``old``: fields the new reading
    lacks (full text fetched earlier, a digest, an author, a publication time) keep
    their stored value."""
    return new.replace(
        id=old.id,
        content=new.content or old.content,
        digest=new.digest or old.digest,
        author=new.author or old.author,
        media=new.media or old.media,
        stocks=new.stocks or old.stocks,
        fulltext_key=new.fulltext_key or old.fulltext_key,
        category=old.category or new.category,
        tag=old.tag or new.tag,
        # a fetch time standing in for a missing or impossible date is the first one
        published_at=old.published_at if new.published_guessed else new.published_at,
        # the version goes with the text it made: a reading without text, or with the
        # same text of unknown version, leaves the stored text's
        sanitizer=new.sanitizer
        if new.content and (new.sanitizer is not None or new.content != old.content)
        else old.sanitizer,
    )


def _select_item(tx: Transaction, source: str, upstream_id: str) -> Item | None:
    tx.execute(
        f"SELECT {ITEM_COLUMNS} FROM items WHERE source = ? AND upstream_id = ?"
        + tx.store.row_lock_clause,
        (source, upstream_id),
    )
    row = tx.fetchone()
    return None if row is None else item_from_row(row)


def _insert_item(tx: Transaction, item: Item, now: str | None) -> int | None:
    """Insert a new item; ``None`` when a concurrent writer stored the same key first."""
    tx.execute(
        "INSERT INTO items (source, upstream_id, title, digest, content, url, "
        "media, category, tag, kind, importance, stocks, author, fulltext_key, "
        "published_at, fetched_at, updated_at, revision, sanitizer) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?) "
        "ON CONFLICT (source, upstream_id) DO NOTHING RETURNING id",
        (
            item.source,
            item.upstream_id,
            item.title,
            item.digest,
            item.content,
            item.url,
            item.media,
            item.category,
            item.tag,
            item.kind,
            item.importance,
            " ".join(item.stocks),
            item.author,
            item.fulltext_key,
            to_db_time(item.published_at),
            to_db_time(item.fetched_at),
            now,
            item.sanitizer,
        ),
    )
    row = tx.fetchone()
    return None if row is None else int(row[0])


def _update_item(tx: Transaction, old: Item, merged: Item, now: str | None) -> None:
    """Keep ``old`` as a revision and store ``merged`` in its place."""
    assert old.id is not None
    tx.execute(
        "INSERT INTO item_revisions (item_id, revision, title, digest, content, "
        "url, media, importance, stocks, author, published_at, replaced_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            old.id,
            old.revision,
            old.title,
            old.digest,
            old.content,
            old.url,
            old.media,
            old.importance,
            " ".join(old.stocks),
            old.author,
            to_db_time(old.published_at),
            now,
        ),
    )
    tx.execute(
        "UPDATE items SET title = ?, digest = ?, content = ?, url = ?, media = ?, "
        "importance = ?, stocks = ?, author = ?, fulltext_key = ?, "
        "published_at = ?, updated_at = ?, revision = ?, sanitizer = ? WHERE id = ?",
        (
            merged.title,
            merged.digest,
            merged.content,
            merged.url,
            merged.media,
            merged.importance,
            " ".join(merged.stocks),
            merged.author,
            merged.fulltext_key,
            to_db_time(merged.published_at),
            now,
            old.revision + 1,
            merged.sanitizer,
            old.id,
        ),
    )
