"""Worker processes for the static build: forked once, fed small tasks through one queue.

A full build spends its time rendering pages and creating files, both bound to one core in
one Python process. :class:`BuildPool` forks ``count`` worker processes; each sets itself up
once (its own store connection, renderer and file writer, from the ``setup`` callable it
inherited) and then takes tasks from a shared queue until told to stop, so a fast worker
simply takes more of them. Every task's result comes back with its number; :meth:`wait`
returns once every task submitted so far is done and raises the first error a worker hit.

Forking is used only where it is safe: a ``fork`` start method and a parent running a
single thread (a lock another thread held at the fork would stay locked in the child;
:func:`can_fork` checks). Workers ignore ``SIGINT``: on Ctrl-C the parent stops them through
:attr:`stop`, which they check between files, so none is left half-written. A worker
also ends when its parent does, however the parent ended (``SIGKILL``, the OOM killer):
on Linux the kernel sends it ``SIGKILL`` (``PR_SET_PDEATHSIG``), and on any system it
gives up its task as soon as it sees it has been handed to another parent. A killed build
leaves no renderer writing into a site nobody will finish.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import multiprocessing
import os
import pickle
import queue
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.synchronize import Event
from typing import Any, Protocol

from finews.errors import ExportError

__all__ = [
    "MAX_PROCESSES",
    "BuildPool",
    "Done",
    "Worker",
    "can_fork",
    "default_processes",
    "die_with_parent",
]

log = logging.getLogger(__name__)

#: more processes than this rarely help a build: they share one disk and one database
MAX_PROCESSES = 8
_POLL = 0.5  # seconds between checks that the workers are still alive while waiting
_GRACE = 30.0  # seconds a stopped worker may take to finish its file before it is killed
_PR_SET_PDEATHSIG = 1  # prctl option: the signal a process gets when its parent dies


@dataclass(frozen=True, slots=True)
class Done:
    """What one task wrote: file names (in write order), files already up to date,
    articles rendered and skipped."""

    names: list[str]
    unchanged: int = 0
    articles: int = 0
    skipped: int = 0


class Worker(Protocol):
    """What ``setup`` returns in each worker process."""

    def run(self, kind: str, payload: Any) -> Done:
        """Do one task."""

    def close(self) -> None:
        """Release what ``setup`` opened (the worker is about to exit)."""


def default_processes() -> int:
    """One build process per CPU this process may run on, at most :data:`MAX_PROCESSES`."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_PROCESSES))


def can_fork() -> bool:
    """Whether worker processes may be forked from here (see the module docstring)."""
    return "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1


class BuildPool:
    """``count`` forked workers, each running ``setup(stop)`` once, then its tasks."""

    def __init__(self, count: int, setup: Callable[[Event], Worker]) -> None:
        context = multiprocessing.get_context("fork")
        self.stop = context.Event()
        self._tasks: multiprocessing.Queue[tuple[int, str, Any] | None] = context.Queue()
        self._results: multiprocessing.Queue[tuple[int, BaseException | None, str, Done | None]]
        self._results = context.Queue()
        self._sent = 0
        self._done: dict[int, Done] = {}
        parent = os.getpid()
        self._procs = [
            context.Process(
                target=_serve,
                args=(setup, self.stop, self._tasks, self._results, parent),
                name=f"finews-build-{number + 1}",
                daemon=True,
            )
            for number in range(count)
        ]
        for proc in self._procs:
            proc.start()

    def submit(self, kind: str, payload: Any) -> None:
        """Queue one task (never blocks: the queue's own thread feeds the pipe)."""
        self._tasks.put((self._sent, kind, payload))
        self._sent += 1

    def wait(self) -> None:
        """Return when every task submitted so far is done; raise the first failure."""
        while len(self._done) < self._sent:
            try:
                number, error, trace, done = self._results.get(timeout=_POLL)
            except queue.Empty:
                dead = [proc for proc in self._procs if proc.exitcode is not None]
                if dead:
                    raise ExportError(
                        f"static build: worker process {dead[0].name} died "
                        f"(exit code {dead[0].exitcode})"
                    ) from None
                continue
            if error is not None:
                log.debug("static build: a worker failed:\n%s", trace)
                raise error
            assert done is not None
            self._done[number] = done

    def results(self) -> list[Done]:
        """Every finished task's result, in the order the tasks were submitted."""
        return [self._done[number] for number in sorted(self._done)]

    def close(self, *, ok: bool) -> None:
        """Let the workers go: after their last task (``ok``), or now, each finishing the
        file it is writing (a failed build)."""
        if not ok:
            self.stop.set()
        for _ in self._procs:
            self._tasks.put(None)
        deadline = time.monotonic() + _GRACE
        for proc in self._procs:
            while not ok and proc.is_alive() and time.monotonic() < deadline:
                self._drain()  # a worker cannot exit while its last results wait for a reader
                proc.join(_POLL / 10)
            proc.join(None if ok else 0)
            if proc.exitcode is None:
                proc.kill()
                proc.join()
        if not ok:  # tasks nobody will take may still sit in the queue's buffer
            self._tasks.cancel_join_thread()
        self._tasks.close()
        self._results.close()

    def _drain(self) -> None:
        with contextlib.suppress(queue.Empty):
            while True:
                self._results.get_nowait()


def _serve(
    setup: Callable[[Event], Worker],
    stop: Event,
    tasks: multiprocessing.Queue[tuple[int, str, Any] | None],
    results: multiprocessing.Queue[tuple[int, BaseException | None, str, Done | None]],
    parent: int,
) -> None:
    """A worker process: set up, then do tasks until the ``None`` that ends them."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    die_with_parent(parent)
    try:
        worker = setup(stop)
    except Exception as exc:
        results.put((-1, _portable(exc), traceback.format_exc(), None))
        return
    try:
        while (task := tasks.get()) is not None:
            number, kind, payload = task
            if stop.is_set():
                continue
            if os.getppid() != parent:  # the parent is gone (no PR_SET_PDEATHSIG here)
                return
            try:
                done = worker.run(kind, payload)
            except Exception as exc:
                results.put((number, _portable(exc), traceback.format_exc(), None))
                continue
            results.put((number, None, "", done))
    finally:
        worker.close()


def die_with_parent(parent: int) -> None:
    """Have the kernel kill this process when the process that forked it ends (Linux);
    if the parent ended before that took hold, end now. Used by the build's renderers and
    by ``finews serve``'s workers."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            log.warning(
                "a forked worker could not ask to end with its parent (errno %d)",
                ctypes.get_errno(),
            )
    if os.getppid() != parent:
        os._exit(1)


def _portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives the trip to the parent, else a description of it."""
    try:
        pickle.loads(pickle.dumps(exc))  # noqa: S301 - our own bytes, made just now
    except Exception:
        return ExportError(f"static build: {type(exc).__name__}: {exc}")
    return exc
