"""Delivering the alert outbox through Apprise (the guarantee: :mod:`finews.alerts`).

One pass (:meth:`Sender.send_due`) claims the rows that are due, groups them by channel
and sends each channel's rows in order on a thread of its own, so a dead or slow channel
(each attempt capped at ``alerts.timeout``) delays no other. When a channel refuses a
row, that row waits ``alerts.backoff`` seconds doubled per attempt (up to
``alerts.backoff_cap``) and the channel's other rows of the pass are handed back to be
tried at the same time, instead of each hitting the refusing channel in turn. After
``alerts.attempts`` attempts a row is ``failed``.

A channel is found by its key (:func:`~finews.process.rules.channel_key`): the URL itself
is read from the settings at send time and never stored; a row whose channel left the
settings fails at once, saying so. Errors are kept and shown without the URL's secrets:
every part of the URL is masked out of Apprise's messages, and the rest passes
:func:`~finews.redact.redact`.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from finews.process.rules import Rule, channel_label
from finews.redact import redact
from finews.store import Store
from finews.store import alerts as outbox

__all__ = ["Delivery", "SendReport", "Sender", "deliver", "release_threads"]

log = logging.getLogger("finews.alerts")
# Apprise's own log lines can name parts of a notify URL (a chat id, a host): they stay
# with Apprise, and the sender logs each failure itself with the URL's parts masked
logging.getLogger("apprise").propagate = False

#: how long a sender's claim on rows lasts, beyond ``PER_CHANNEL`` timeouts: a sender
#: killed mid-send leaves its rows to be sent again after this (the at-least-once window)
CLAIM_SECONDS = 60.0
#: rows of one channel taken in one pass
PER_CHANNEL = 10

_URL_PARTS = re.compile(r"[^:/@?&=#,+]{4,}")


@dataclass(frozen=True, slots=True)
class Delivery:
    """What one attempt at sending came to."""

    ok: bool
    error: str = ""


def _scrub(text: str, url: str) -> str:
    """``text`` without any part of ``url`` longer than three characters (tokens, hosts,
    passwords, chat ids), then redacted."""
    for part in sorted(set(_URL_PARTS.findall(url)), key=len, reverse=True):
        text = text.replace(part, "…")
    return redact(text)


def deliver(url: str, title: str, body: str, *, timeout: float) -> Delivery:
    """Send one message to one Apprise URL; the error is already scrubbed of the URL."""
    import apprise

    sender = apprise.Apprise()
    try:
        if not sender.add(url):
            return Delivery(False, f"{channel_label(url)} is not a URL Apprise can send to")
        result = sender.notify(body=body, title=title, timeout=timeout)
    except Exception as exc:  # a plugin's own failure: the row is retried like any other
        return Delivery(False, _scrub(f"{type(exc).__name__}: {exc}", url))
    if result:
        return Delivery(True)
    messages = [entry.message for entry in result.logs() if entry.level in ("WARNING", "ERROR")]
    error = "; ".join(messages[-3:]) or f"{channel_label(url)} refused the message"
    return Delivery(False, _scrub(error, url)[:500])


def release_threads() -> None:
    """End the worker threads Apprise keeps for the whole process once it has sent
    something (its shared pools; they are made again when next needed), so a command that
    is done sending leaves no thread behind: a later fork (the static build's workers)
    needs a process with one thread. Apprise names no public call for it; without the
    pools (another version) this does nothing."""
    module = sys.modules.get("apprise.apprise")
    if module is None:
        return
    for name, lock in (
        ("_shared_executor", "_shared_executor_lock"),
        ("_coordinator_executor", "_coordinator_executor_lock"),
    ):
        guard = getattr(module, lock, None)
        pool = getattr(module, name, None)
        if guard is None or not isinstance(pool, ThreadPoolExecutor):
            continue
        with guard:
            setattr(module, name, None)
        pool.shutdown(wait=True)


@dataclass
class SendReport:
    """What a pass (or a sender over its life) did."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    #: rows handed back unattempted, their channel backing off
    deferred: int = 0

    def add(self, other: SendReport) -> None:
        self.sent += other.sent
        self.retried += other.retried
        self.failed += other.failed
        self.deferred += other.deferred


class Sender:
    """Delivers the outbox of ``rules`` (see the module docstring).

    Each channel's rows go out on a thread of their own, in order; a channel still busy
    (a slow or hanging endpoint, each attempt capped at ``timeout``) is left out of the
    next passes until it is done, so it holds up no other channel, in this pass or later.
    A pass takes at most :data:`PER_CHANNEL` rows of one channel, so a claim (60 s plus
    that many timeouts) outlasts the channel's work. ``on_done`` is called from the
    channel's thread when it finishes (the daemon wakes its alert task: more may be due).
    """

    def __init__(
        self,
        store: Store,
        rules: Sequence[Rule],
        *,
        attempts: int = 8,
        backoff: float = 5.0,
        backoff_cap: float = 900.0,
        timeout: float = 15.0,
        worker: str | None = None,
        send: Callable[[str, str, str], Delivery] | None = None,
        clock: Callable[[], datetime] | None = None,
        on_done: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.channels = {key: url for rule in rules for key, url in rule.channels}
        self.attempts = attempts
        self.backoff = backoff
        self.backoff_cap = backoff_cap
        self.timeout = timeout
        self.worker = worker or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
        self._send = send or (lambda url, title, body: deliver(url, title, body, timeout=timeout))
        self.clock = clock or (lambda: datetime.now(UTC))
        self.on_done = on_done
        #: what every pass of this sender did so far
        self.totals = SendReport()
        self._lock = threading.Lock()
        self._busy: set[str] = set()
        self._pool: ThreadPoolExecutor | None = None

    @classmethod
    def from_config(cls, store: Store, config: Any, **options: Any) -> Sender:
        """A sender with a :class:`~finews.config.Config`'s rules and settings."""
        return cls(
            store,
            config.rules,
            attempts=config.get("alerts.attempts"),
            backoff=config.get("alerts.backoff"),
            backoff_cap=config.get("alerts.backoff_cap"),
            timeout=config.get("alerts.timeout"),
            **options,
        )

    def retry_delay(self, attempts: int) -> float:
        """Seconds before the next attempt after ``attempts`` failed ones."""
        return float(min(self.backoff * 2 ** max(attempts - 1, 0), self.backoff_cap))

    def send_due(self, *, limit: int = 200, wait: bool = True) -> SendReport:
        """Claim the rows that are due (of channels not busy) and send them, each channel
        on its own thread. ``wait``: return when they are done, with what they came to;
        else at once (what they come to is added to :attr:`totals`)."""
        now = self.clock()
        busy = self.busy()
        rows = outbox.claim_due(
            self.store,
            self.worker,
            now=now,
            until=now + timedelta(seconds=CLAIM_SECONDS + PER_CHANNEL * self.timeout),
            limit=limit,
            skip=busy,
        )
        report = SendReport()
        if not rows:
            return report
        by_channel: dict[str, list[outbox.OutboxRow]] = {}
        extra: list[int] = []
        for row in rows:
            queued = by_channel.setdefault(row.channel, [])
            if len(queued) < PER_CHANNEL:
                queued.append(row)
            else:
                extra.append(row.id)
        outbox.release(self.store, extra, retry_at=now)  # the next pass takes them
        with self._lock:
            self._busy.update(by_channel)
        if wait:
            # threads for this pass only: none is left running once it returns
            with ThreadPoolExecutor(max_workers=min(len(by_channel), 16)) as pool:
                for future in [
                    pool.submit(self._channel, channel, queued, report)
                    for channel, queued in by_channel.items()
                ]:
                    future.result()
            return report
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="alerts")
        for channel, queued in by_channel.items():
            self._pool.submit(self._channel, channel, queued, report)
        return report

    def busy(self) -> set[str]:
        """The channels with rows in flight on this sender's threads."""
        with self._lock:
            return set(self._busy)

    def close(self, *, wait: bool = True) -> None:
        """Stop the threads, after the channels in flight are done (``wait``), or at
        once: a row in flight then stays claimed, and is sent again once its claim expires
        (the at-least-once case)."""
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=not wait)
            self._pool = None
        if wait:
            release_threads()

    def _channel(self, channel: str, rows: list[outbox.OutboxRow], report: SendReport) -> None:
        done = SendReport()
        try:
            self._deliver(channel, rows, done)
        except Exception:  # a database error: the claim expires and another pass retries
            log.exception("delivering alerts to %s failed", channel)
        finally:
            with self._lock:
                self._busy.discard(channel)
                report.add(done)
                self.totals.add(done)
            if self.on_done is not None:
                self.on_done()

    def _deliver(self, channel: str, rows: list[outbox.OutboxRow], done: SendReport) -> None:
        url = self.channels.get(channel)
        for index, row in enumerate(rows):
            if url is None:
                self._failed(row, "this channel is no longer in the rule's notify list", None)
                done.failed += 1
                continue
            delivery = self._send(url, row.title, row.body)
            now = self.clock()
            if delivery.ok:
                outbox.mark_sent(self.store, row.id, now=now)
                done.sent += 1
                continue
            tries = row.attempts + 1
            retry_at = (
                None if tries >= self.attempts else now + timedelta(seconds=self.retry_delay(tries))
            )
            self._failed(row, delivery.error, retry_at)
            rest = [later.id for later in rows[index + 1 :]]
            # the channel is backing off: its other rows wait as long (none after a
            # row given up, which says nothing of the next)
            outbox.release(self.store, rest, retry_at=retry_at or now)
            if retry_at is None:
                done.failed += 1
            else:
                done.retried += 1
            done.deferred += len(rest)
            return

    def _failed(self, row: outbox.OutboxRow, error: str, retry_at: datetime | None) -> None:
        what = "giving up" if retry_at is None else f"retry at {retry_at:%H:%M:%S} UTC"
        log.warning(
            "alert %s of rule %s to %s failed (attempt %d, %s): %s",
            row.id,
            row.rule,
            row.channel,
            row.attempts + 1,
            what,
            error,
        )
        outbox.mark_failed(self.store, row.id, error, retry_at=retry_at)
