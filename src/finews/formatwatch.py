"""Noticing that an upstream changed its format, once, loudly.

Each adapter states the :class:`~finews.models.RawItem` fields it needs
(``required_fields``; ``"title|summary"`` means either will do). A reply is *suspicious*
when it fails to parse, when the newest page holds no item although earlier replies did,
when every entry of a page was dropped, or when a needed field is empty on every item of a
page. A suspicious reply raises the source's alarm, ``upstream format changed? …`` (kept in
the store, see :mod:`finews.store.formats`), counts one format error, and keeps a sample of
the reply under ``data_dir/upstream-samples/<source>/`` (capped at :data:`SAMPLE_CAP`
bytes, redacted, written atomically, the newest :data:`SAMPLES_KEPT` per source). The
alarm is logged when it is raised or its reason changes, and once more when a poll whose
replies all look right clears it; never once per poll.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from finews.models import RawItem, SourceSpec
from finews.redact import redact
from finews.sources.base import Adapter, Page
from finews.store import Store
from finews.store.formats import FormatState, load_format, save_format

__all__ = [
    "ALARM",
    "SAMPLES_FOLDER",
    "SAMPLES_KEPT",
    "SAMPLE_CAP",
    "FormatWatch",
    "field_report",
    "page_problem",
    "save_sample",
]

log = logging.getLogger("finews.formatwatch")

#: how every alarm starts, on the status page, in ``finews sources`` and in the log
ALARM = "upstream format changed?"
#: bytes of a reply kept as a sample, at most
SAMPLE_CAP = 64 * 1024
#: samples kept per source, newest first; older ones are deleted
SAMPLES_KEPT = 5
#: the folder under ``data_dir`` that holds the samples
SAMPLES_FOLDER = "upstream-samples"

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def _present(item: RawItem, field: str) -> bool:
    value = getattr(item, field, None)
    if isinstance(value, str):
        return bool(value.strip())
    return value is not None and value != ()


def field_report(item: RawItem, required: Sequence[str]) -> tuple[list[str], list[str]]:
    """The needed fields (``a|b`` alternatives as written) an item has, and those it lacks."""
    found: list[str] = []
    missing: list[str] = []
    for wanted in required:
        has = any(_present(item, name) for name in wanted.split("|"))
        (found if has else missing).append(wanted)
    return found, missing


def page_problem(adapter: Adapter, page: Page, *, newest: bool, had_items: bool) -> str | None:
    """What makes a parsed page look like a changed upstream, or ``None`` when it looks right.

    ``newest`` is whether the page answers a poll's first request (an older page may well be
    empty: that is the end of the list); ``had_items``, whether earlier replies held items."""
    if not page.items:
        if page.dropped:
            first = page.dropped[0].reason
            return f"every entry of the page was dropped ({len(page.dropped)}): {first}"
        if newest and had_items:
            return "the newest page holds no items, although earlier replies did"
        return None
    lacking = [
        wanted
        for wanted in adapter.required_fields
        if all(wanted in field_report(item, (wanted,))[1] for item in page.items)
    ]
    if lacking:
        return f"no item of the page has {', '.join(lacking)} ({len(page.items)} items)"
    return None


def save_sample(folder: Path, source: str, body: bytes, at: datetime) -> Path:
    """Keep a reply as a sample: redacted, its first :data:`SAMPLE_CAP` bytes, written
    atomically to ``folder/<source>/<time>.txt``; only the newest :data:`SAMPLES_KEPT` stay."""
    where = folder / (_UNSAFE.sub("_", source) or "source")
    where.mkdir(parents=True, exist_ok=True)
    # redacted as text (a reply may echo a signed URL or a token); cut on a character
    text = redact(body.decode("utf-8", errors="replace"))
    data = text.encode("utf-8")
    if len(data) > SAMPLE_CAP:
        data = data[:SAMPLE_CAP].decode("utf-8", errors="ignore").encode("utf-8")
    path = where / f"{at.strftime('%Y%m%dT%H%M%S.%fZ')}.txt"
    fd, tmp = tempfile.mkstemp(dir=where, prefix=".sample-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    for old in sorted(where.glob("*.txt"), reverse=True)[SAMPLES_KEPT:]:
        with contextlib.suppress(OSError):
            old.unlink()
    return path


@dataclass
class FormatWatch:
    """One poll's watch over its replies: :meth:`page` and :meth:`failed` look at each
    reply, :meth:`finish` stores the verdict and logs a change."""

    spec: SourceSpec
    store: Store
    samples: Path | None
    at: datetime

    def __post_init__(self) -> None:
        self._before = load_format(self.store, self.spec.id)
        self._problem: str | None = None
        self._sample: str | None = None
        self._parsed = 0
        self._had_items = self._before.had_items
        #: replies of this poll that looked changed
        self.errors = 0

    def page(self, adapter: Adapter, page: Page, body: bytes, *, newest: bool) -> None:
        """Look at one parsed reply."""
        self._parsed += 1
        problem = page_problem(adapter, page, newest=newest, had_items=self._had_items)
        if page.items:
            self._had_items = True
        if problem is not None:
            self._suspicious(problem, body)

    def failed(self, error: Exception, body: bytes) -> None:
        """A reply that did not parse."""
        self._parsed += 1
        self._suspicious(f"the reply did not parse: {redact(str(error))}", body)

    def _suspicious(self, problem: str, body: bytes) -> None:
        self.errors += 1
        if self._problem is None:
            self._problem = problem
        if self.samples is not None:
            try:
                self._sample = str(save_sample(self.samples, self.spec.id, body, self.at))
            except OSError as exc:
                log.error("source=%s could not keep a sample of the reply: %s", self.spec.id, exc)

    def finish(self) -> FormatState:
        """Store the verdict of this poll; log when the alarm is raised, changes or clears.
        A poll that parsed nothing (only 304s, or a fetch error) leaves the alarm as it was."""
        before = self._before
        after = replace(before, errors=before.errors + self.errors, had_items=self._had_items)
        if self._problem is not None:
            alarm = f"{ALARM} {self._problem}"
            after = replace(
                after,
                alarm=alarm,
                since=before.since if before.alarm else self.at,
                sample=self._sample or before.sample,
            )
            if before.alarm is None:
                log.error(
                    "source=%s %s (sample: %s); run `finews sources probe %s` to see what the "
                    "upstream sends now",
                    self.spec.id,
                    alarm,
                    after.sample or "not kept",
                    self.spec.id,
                    extra={"source": self.spec.id, "format_alarm": alarm},
                )
            elif _reason(before.alarm) != _reason(alarm):
                log.error(
                    "source=%s %s (was: %s)",
                    self.spec.id,
                    alarm,
                    before.alarm,
                    extra={"source": self.spec.id, "format_alarm": alarm},
                )
        elif self._parsed and before.alarm is not None:
            after = replace(after, alarm=None, since=None)
            log.warning(
                "source=%s upstream format looks right again (alarm since %s cleared)",
                self.spec.id,
                before.since.isoformat() if before.since else "?",
                extra={"source": self.spec.id, "format_alarm": None},
            )
        if after != before:
            save_format(self.store, after)
        return after


def _reason(alarm: str) -> str:
    """An alarm without its counts, so that ``(20 items)`` vs ``(19 items)`` is one change."""
    return re.sub(r"\(\d+[^)]*\)", "", alarm)
