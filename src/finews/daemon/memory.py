"""Handing memory the daemon has freed back to the system.

glibc's ``malloc`` keeps what a process frees in its heaps for reuse, one heap per thread
that allocated; a daemon that builds and drops large lists round after round (the
clustering window's reads, the search index's tokens) leaves them pitted with free space,
and its resident size creeps up although it holds no more. ``malloc_trim(0)`` gives the
free pages of every heap back. :class:`Trimmer` calls it at most once a ``period``; on
a C library without it (musl, macOS) it does nothing. Measured in
docs/benchmarks/daemon.md ("Soak").
"""

from __future__ import annotations

import ctypes
import ctypes.util
import time
from collections.abc import Callable

__all__ = ["Trimmer", "malloc_trim"]


def _find_trim() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None)
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


#: glibc's ``malloc_trim``, or ``None`` where the C library has none
malloc_trim = _find_trim()


class Trimmer:
    """Calls :data:`malloc_trim` when asked, at most once a ``period`` seconds."""

    def __init__(self, period: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.period = period
        self._clock = clock
        self._last: float | None = None

    def __call__(self) -> bool:
        """Trim if the period has passed since the last trim; return whether it did."""
        now = self._clock()
        if malloc_trim is None or (self._last is not None and now - self._last < self.period):
            return False
        self._last = now
        malloc_trim(0)
        return True
