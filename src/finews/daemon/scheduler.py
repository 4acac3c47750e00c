"""When each source is polled next: its interval with jitter, exponential backoff with a
cap after failures, and the upstream's ``Retry-After`` honoured.

Pure arithmetic over :class:`~finews.models.SourceState` (whose ``next_poll`` and
``consecutive_failures`` are persisted), so a restarted daemon keeps every source's place:
one in backoff stays in backoff, one polled a moment ago is not polled again at once.

The wait after a poll, for a source with interval *i* and *n* consecutive failures:

* success: *i*, spread by ±``jitter`` (so sources started together drift apart);
* failure: ``min(cap, i * 2**n)`` (never less than *i*), spread the same way, and at least
  the upstream's ``Retry-After`` (itself capped at :data:`RETRY_AFTER_LIMIT`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from finews.errors import ConfigError
from finews.models import SourceSpec, SourceState

__all__ = ["RETRY_AFTER_LIMIT", "Schedule", "interval_of"]

#: the longest ``Retry-After`` obeyed, in seconds: a day. A longer one (or a date years
#: ahead) is taken as a day, so a source is never silenced for good by one reply.
RETRY_AFTER_LIMIT = 86_400.0


def interval_of(spec: SourceSpec) -> float:
    """A source's poll interval in seconds (its ``interval`` setting)."""
    value = spec.get("interval", 300.0)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigError(f"sources.{spec.id}.interval", value, "a number of seconds above 0")
    return float(value)


@dataclass(frozen=True)
class Schedule:
    """The polling rules shared by every source. ``rng`` is the jitter's randomness (seeded
    in tests)."""

    jitter: float = 0.1
    backoff_cap: float = 1800.0
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def __post_init__(self) -> None:
        if not 0 <= self.jitter < 1:
            raise ConfigError("daemon.jitter", self.jitter, "a fraction from 0 to below 1")
        if not self.backoff_cap > 0:
            raise ConfigError("daemon.backoff_cap", self.backoff_cap, "seconds above 0")

    def _spread(self, seconds: float) -> float:
        if not self.jitter:
            return seconds
        return seconds * (1.0 + self.rng.uniform(-self.jitter, self.jitter))

    def backoff(self, interval: float, failures: int) -> float:
        """The wait, before jitter, after ``failures`` consecutive failures (0: none)."""
        if failures <= 0:
            return interval
        # 2**n overflows a float past n≈1000; the cap is reached long before that
        grown = interval * 2.0 ** min(failures, 60)
        return max(interval, min(self.backoff_cap, grown))

    def wait_after(self, interval: float, failures: int, retry_after: float | None = None) -> float:
        """Seconds until the next poll of a source that has just been polled and now has
        ``failures`` consecutive failures (0 after a success)."""
        wait = self._spread(self.backoff(interval, failures))
        if failures > 0 and retry_after is not None:
            wait = max(wait, min(retry_after, RETRY_AFTER_LIMIT))
        return wait

    def next_poll(
        self,
        now: datetime,
        interval: float,
        failures: int,
        retry_after: float | None = None,
    ) -> datetime:
        """When to poll next, as a time to persist in the source's state."""
        return now + timedelta(seconds=self.wait_after(interval, failures, retry_after))

    def first_wait(self, state: SourceState, interval: float, now: datetime) -> float:
        """Seconds to wait before the first poll of a (re)started daemon.

        A source whose persisted next poll has passed (or that was never polled) is due: it
        waits only a random part of ``jitter × interval``, so sources do not all fire in the
        same instant. One whose next poll is ahead keeps it, but never longer than what its
        current settings would give (an interval shortened since, a smaller cap)."""
        if state.next_poll is None or state.next_poll <= now:
            return self.rng.uniform(0.0, self.jitter * interval) if self.jitter else 0.0
        ahead = (state.next_poll - now).total_seconds()
        if state.consecutive_failures <= 0:
            longest = interval * (1.0 + self.jitter)
        else:
            # a Retry-After may have asked for more than the backoff itself
            longest = max(
                self.backoff(interval, state.consecutive_failures) * (1.0 + self.jitter),
                RETRY_AFTER_LIMIT,
            )
        return min(ahead, longest)
