"""Where a ``finews run``'s memory goes, sampled from inside it while it runs.

Put this folder first on ``PYTHONPATH`` and set ``MEMPROBE_OUT`` to a file: Python imports
this module at start-up, and in a process whose arguments include ``run`` it starts a
thread that every ``MEMPROBE_EVERY`` seconds (default 30) appends one line: seconds since
start, resident size, Python's allocated blocks and garbage-collected objects, SQLite's own
memory (``sqlite3_memory_used``: page caches, prepared statements), and glibc's main heap
(in use, free, size). With ``MEMPROBE_CENSUS=N`` every Nth sample also writes the objects'
counts and sizes by type and the largest objects to ``<MEMPROBE_OUT>.censusNNN.json``.
Processes other than ``finews run`` (the benchmark itself) are left alone. Linux and glibc
only; how it was used is in docs/benchmarks/daemon.md ("Soak").

    MEMPROBE_OUT=/tmp/probe.log PYTHONPATH=bench/memprobe \\
        .venv/bin/python bench/soak.py --duration 1200 --speed 144 --every 10
"""

import os
import sys

if "run" in sys.argv and os.environ.get("MEMPROBE_OUT"):
    import collections
    import ctypes
    import gc
    import json
    import threading
    import time

    class _MallInfo2(ctypes.Structure):
        _fields_ = [
            (name, ctypes.c_size_t)
            for name in (
                "arena", "ordblks", "smblks", "hblks", "hblkhd",
                "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost",
            )
        ]  # fmt: skip

    _libc = ctypes.CDLL("libc.so.6")
    _libc.mallinfo2.restype = _MallInfo2
    _sqlite = ctypes.CDLL("libsqlite3.so.0")
    _sqlite.sqlite3_memory_used.restype = ctypes.c_int64
    _OUT = os.environ["MEMPROBE_OUT"]
    _EVERY = float(os.environ.get("MEMPROBE_EVERY", "30"))
    _CENSUS = int(os.environ.get("MEMPROBE_CENSUS", "0"))

    def _rss_kb() -> int:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))

    def _census(objects: list[object], path: str) -> None:
        counts: collections.Counter[str] = collections.Counter()
        sizes: collections.Counter[str] = collections.Counter()
        largest = []
        for obj in objects:
            kind = type(obj)
            name = f"{getattr(kind, '__module__', '')}.{getattr(kind, '__qualname__', '?')}"
            size = sys.getsizeof(obj)
            counts[name] += 1
            sizes[name] += size
            if size > 20_000:
                largest.append((size, name, repr(obj)[:160]))
        largest.sort(reverse=True)
        with open(path, "w") as out:
            json.dump(
                {"count": counts.most_common(300), "size": sizes.most_common(100),
                 "largest": largest[:60]},
                out,
            )  # fmt: skip

    def _sample() -> None:
        began = time.monotonic()
        number = 0
        while True:
            time.sleep(_EVERY)
            number += 1
            heap = _libc.mallinfo2()
            objects = gc.get_objects()
            line = (
                f"{time.monotonic() - began:.0f} rss_kb={_rss_kb()} "
                f"pyblocks={sys.getallocatedblocks()} objects={len(objects)} "
                f"sqlite_kb={_sqlite.sqlite3_memory_used() // 1024} "
                f"malloc_inuse_kb={(heap.uordblks + heap.hblkhd) // 1024} "
                f"malloc_free_kb={heap.fordblks // 1024} arena_kb={heap.arena // 1024}\n"
            )
            with open(_OUT, "a") as out:
                out.write(line)
            if _CENSUS and number % _CENSUS == 0:
                try:
                    _census(objects, f"{_OUT}.census{number:03d}.json")
                except Exception as exc:  # a probe must never stop the daemon
                    with open(f"{_OUT}.errors", "a") as out:
                        out.write(f"{exc!r}\n")
            del objects

    threading.Thread(target=_sample, name="memprobe", daemon=True).start()
