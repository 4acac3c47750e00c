"""The SQL of watchlist rules and alerts (tables from migration 0013).

- ``rule_marks``: the revision of each item the rules have matched, so each revision is
  matched once whichever deriver reaches it first;
- ``item_mutes``: which mute rule hides which item (``ItemQuery.muted`` reads it);
- ``alert_stories``: each (rule, story, kind) alerted, so a story alerts once per rule;
- ``alert_outbox``: one row per alert and channel, delivered by
  :mod:`finews.alerts.sender`.

The deriving side works inside the deriving transaction through a small transaction
object (``execute(sql, params)`` returning itself, ``fetchone()``, ``fetchall()``, ``?``
placeholders); the sending side takes a store and runs short transactions of its own.

Claiming outbox rows is one transaction that selects them ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL (concurrent senders pass each other) and writes the claim; SQLite's
``BEGIN IMMEDIATE`` lets one taker in at a time, as in :mod:`finews.store.leases`. A claim
lasts until ``claimed_until``: a sender killed while holding rows leaves them to be taken
again once the claim has expired.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from finews.models import Item
from finews.redact import redact
from finews.store.base import Store, Transaction
from finews.store.claims import skip_locked, stamp, unstamp
from finews.store.columns import in_list

__all__ = [
    "FAILED",
    "PENDING",
    "SENDING",
    "SENT",
    "Alert",
    "ChannelCounts",
    "OutboxRow",
    "claim_due",
    "enqueue",
    "mark_failed",
    "mark_matched",
    "mark_sent",
    "muted_counts",
    "next_due",
    "outbox_counts",
    "prune_mutes",
    "release",
    "set_mutes",
    "stories_of",
    "story_alerted",
    "unmatched",
]

PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"


#: the deriving transaction the rules reader is handed
Tx = Transaction


# --- the deriving side -------------------------------------------------------------------


def unmatched(tx: Tx, items: Sequence[tuple[int, Item]]) -> list[tuple[int, Item]]:
    """The items whose current revision the rules have not matched yet, with their stored
    id and revision (a writer deriving inline hands them over as it wrote them)."""
    if not items:
        return []
    marks, ids = in_list(sorted({item_id for item_id, _ in items}))
    rows = tx.execute(
        "SELECT i.id, i.revision, m.revision FROM items i "
        f"LEFT JOIN rule_marks m ON m.item_id = i.id WHERE i.id IN ({marks})",
        ids,
    ).fetchall()
    stale = {int(item_id): int(revision) for item_id, revision, seen in rows if seen != revision}
    given = dict(items)
    return [
        (item_id, given[item_id].replace(id=item_id, revision=revision))
        for item_id, revision in sorted(stale.items())
    ]


def mark_matched(tx: Tx, items: Sequence[tuple[int, Item]]) -> None:
    """Record that the rules have matched these items at their revisions."""
    for item_id, item in items:
        tx.execute(
            "INSERT INTO rule_marks (item_id, revision) VALUES (?, ?) "
            "ON CONFLICT (item_id) DO UPDATE SET revision = excluded.revision",
            (item_id, item.revision),
        )


def set_mutes(tx: Tx, item_id: int, rules: Iterable[str]) -> None:
    """The item is muted by exactly these rules (none: shown again after an edit)."""
    tx.execute("DELETE FROM item_mutes WHERE item_id = ?", (item_id,))
    for rule in sorted(set(rules)):
        tx.execute("INSERT INTO item_mutes (item_id, rule) VALUES (?, ?)", (item_id, rule))


def stories_of(tx: Tx, ids: Sequence[int]) -> dict[int, int]:
    """The story (``item_clusters.cluster_id``) of each of these items that has one."""
    if not ids:
        return {}
    marks, args = in_list(sorted(set(ids)))
    rows = tx.execute(
        f"SELECT item_id, cluster_id FROM item_clusters WHERE item_id IN ({marks})", args
    ).fetchall()
    return {int(item_id): int(story) for item_id, story in rows}


def story_alerted(tx: Tx, rule: str, story: int) -> set[str]:
    """The kinds of alert (``first``, ``important``) ``rule`` has raised for ``story``."""
    rows = tx.execute(
        "SELECT kind FROM alert_stories WHERE rule = ? AND story = ?", (rule, story)
    ).fetchall()
    return {str(kind) for (kind,) in rows}


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert to deliver: a rule's message about an item's story, to its channels."""

    rule: str
    item_id: int
    story: int
    kind: str
    title: str
    body: str
    channels: tuple[str, ...]


def enqueue(tx: Tx, alert: Alert, *, now: datetime) -> None:
    """Record that the rule alerted the story, and put one outbox row per channel (in the
    deriving transaction: the alert exists exactly when the item's match does)."""
    at = stamp(now)
    tx.execute(
        "INSERT INTO alert_stories (rule, story, kind, item_id, at) VALUES (?, ?, ?, ?, ?)",
        (alert.rule, alert.story, alert.kind, alert.item_id, at),
    )
    for channel in alert.channels:
        tx.execute(
            "INSERT INTO alert_outbox (rule, channel, item_id, story, kind, title, body, "
            "state, attempts, next_attempt, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
            (
                alert.rule,
                channel,
                alert.item_id,
                alert.story,
                alert.kind,
                alert.title,
                alert.body,
                PENDING,
                at,
                at,
            ),
        )


def prune_mutes(store: Store, rules: Iterable[str]) -> int:
    """Drop the mutes of every rule not in ``rules`` (the mute rules configured now), so a
    rule taken out of the settings shows its items again; return how many went."""
    keep = sorted(set(rules))
    marks, args = in_list(keep) if keep else ("", [])
    where = f" WHERE rule NOT IN ({marks})" if keep else ""
    with store.transaction() as tx:
        (count,) = tx.execute(f"SELECT COUNT(*) FROM item_mutes{where}", args).fetchone()
        if count:
            tx.execute(f"DELETE FROM item_mutes{where}", args)
        return int(count)


def muted_counts(store: Store) -> dict[str, int]:
    """How many items each rule mutes."""
    rows = store.query("SELECT rule, COUNT(*) FROM item_mutes GROUP BY rule")
    return {str(rule): int(count) for rule, count in rows}


# --- the sending side --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One claimed outbox row."""

    id: int
    rule: str
    channel: str
    title: str
    body: str
    attempts: int


def claim_due(
    store: Store,
    worker: str,
    *,
    now: datetime,
    until: datetime,
    limit: int = 100,
    skip: Collection[str] = (),
) -> list[OutboxRow]:
    """Take up to ``limit`` rows that are due (pending and past their next attempt, or
    claimed by a sender whose claim has expired), oldest first, for ``worker`` until
    ``until``; none of the channels in ``skip`` (the ones this sender is busy with)."""
    lock = skip_locked(store)
    at = stamp(now)
    busy, skipped = in_list(sorted(skip)) if skip else ("", [])
    not_busy = f"AND channel NOT IN ({busy}) " if skip else ""
    with store.transaction() as tx:
        tx.execute(
            "SELECT id, rule, channel, title, body, attempts FROM alert_outbox "
            "WHERE ((state = ? AND next_attempt <= ?) OR (state = ? AND claimed_until <= ?)) "
            f"{not_busy}ORDER BY id LIMIT {int(limit)} {lock}",
            [PENDING, at, SENDING, at, *skipped],
        )
        rows = [OutboxRow(int(r[0]), r[1], r[2], r[3], r[4], int(r[5])) for r in tx.fetchall()]
        if rows:
            marks, ids = in_list([row.id for row in rows])
            tx.execute(
                "UPDATE alert_outbox SET state = ?, claimed_by = ?, claimed_until = ? "
                f"WHERE id IN ({marks})",
                [SENDING, worker, stamp(until), *ids],
            )
    return rows


def mark_sent(store: Store, row_id: int, *, now: datetime) -> None:
    """The row was delivered."""
    with store.transaction() as tx:
        tx.execute(
            "UPDATE alert_outbox SET state = ?, attempts = attempts + 1, sent_at = ?, "
            "claimed_by = NULL, claimed_until = NULL WHERE id = ?",
            (SENT, stamp(now), row_id),
        )


def mark_failed(store: Store, row_id: int, error: str, *, retry_at: datetime | None) -> None:
    """An attempt failed: try again at ``retry_at``, or give up (``None``). The error is
    kept redacted."""
    state = FAILED if retry_at is None else PENDING
    with store.transaction() as tx:
        tx.execute(
            "UPDATE alert_outbox SET state = ?, attempts = attempts + 1, last_error = ?, "
            "next_attempt = COALESCE(?, next_attempt), claimed_by = NULL, "
            "claimed_until = NULL WHERE id = ?",
            (
                state,
                redact(error)[:500],
                None if retry_at is None else stamp(retry_at),
                row_id,
            ),
        )


def release(store: Store, row_ids: Sequence[int], *, retry_at: datetime) -> None:
    """Hand claimed rows back unattempted, due at ``retry_at`` (their channel is backing
    off, or the sender is stopping)."""
    if not row_ids:
        return
    marks, ids = in_list(list(row_ids))
    with store.transaction() as tx:
        tx.execute(
            "UPDATE alert_outbox SET state = ?, next_attempt = ?, claimed_by = NULL, "
            f"claimed_until = NULL WHERE id IN ({marks}) AND state = ?",
            [PENDING, stamp(retry_at), *ids, SENDING],
        )


def next_due(store: Store) -> datetime | None:
    """When the next pending row is due (``None``: nothing pending)."""
    rows = store.query("SELECT MIN(next_attempt) FROM alert_outbox WHERE state = ?", (PENDING,))
    return unstamp(rows[0][0]) if rows and rows[0][0] is not None else None


@dataclass(frozen=True, slots=True)
class ChannelCounts:
    """The outbox of one rule and channel."""

    rule: str
    channel: str
    pending: int = 0
    sent: int = 0
    failed: int = 0
    #: the latest error of a row not yet sent (redacted)
    last_error: str | None = None
    last_sent: datetime | None = None
    #: attempts that failed, over every row (the finews_alert_errors counter)
    errors: int = 0


def outbox_counts(store: Store) -> list[ChannelCounts]:
    """Per rule and channel: rows pending (or being sent), sent and failed, the latest
    error and the latest delivery."""
    rows = store.query(
        "SELECT rule, channel, "
        "SUM(CASE WHEN state IN (?, ?) THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN state = ? THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN state = ? THEN 1 ELSE 0 END), "
        "MAX(sent_at), "
        "SUM(CASE WHEN state = ? THEN attempts - 1 ELSE attempts END) "
        "FROM alert_outbox GROUP BY rule, channel ORDER BY rule, channel",
        (PENDING, SENDING, SENT, FAILED, SENT),
    )
    errors = {
        (str(rule), str(channel)): str(error)
        for rule, channel, error in store.query(
            "SELECT o.rule, o.channel, o.last_error FROM alert_outbox o "
            "WHERE o.id = (SELECT MAX(p.id) FROM alert_outbox p WHERE p.rule = o.rule "
            "AND p.channel = o.channel AND p.last_error IS NOT NULL AND p.state <> ?)",
            (SENT,),
        )
    }
    return [
        ChannelCounts(
            rule=str(rule),
            channel=str(channel),
            pending=int(pending or 0),
            sent=int(sent or 0),
            failed=int(failed or 0),
            last_error=errors.get((str(rule), str(channel))),
            last_sent=unstamp(last) if last else None,
            errors=max(int(failures or 0), 0),
        )
        for rule, channel, pending, sent, failed, last, failures in rows
    ]
