"""The full-text queue's shared names: a job, and the states of its row.

:mod:`finews.store.health` keeps the queue (adds, hands out, finishes and counts jobs) and
:mod:`finews.store.leases` claims jobs among several workers; both build on these, so
neither needs the other's module (no import cycle between them).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FAILED", "PENDING", "FulltextJob"]

#: a job waiting for its full text
PENDING = "pending"
#: a job whose attempts ran out
FAILED = "failed"


@dataclass(frozen=True, slots=True)
class FulltextJob:
    """One item whose full text is still to fetch."""

    source: str
    upstream_id: str
    attempts: int = 0
    last_error: str | None = None
