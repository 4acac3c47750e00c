"""Shared helpers of the site benchmarks: run a command and measure it, find the peer scripts.

Not a test and not part of the package: the benchmark scripts in ``bench/`` import it from
beside them (``python bench/site_build.py`` puts ``bench/`` on ``sys.path``).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "FINEWS",
    "PEERS",
    "REPO",
    "WORK",
    "Run",
    "count_files",
    "machine",
    "median",
    "run_timed",
]

#: the repository root (``bench/..``)
REPO = Path(__file__).resolve().parent.parent
#: the shared peer-benchmark scripts (gen_sites.py, run_jekyll_shim.sh), called in place
PEERS = Path(os.environ.get("FINEWS_BENCH_PEERS", REPO.parent / "shared" / "bench" / "peers"))
#: where the benchmarks keep their archives, sites and databases (several GB at 100,000+)
WORK = Path(os.environ.get("FINEWS_BENCH_WORK", Path(tempfile.gettempdir()) / "finews-bench"))
#: the finews command of the interpreter running the benchmark (the project's venv)
FINEWS = str(Path(sys.executable).with_name("finews"))


@dataclass(frozen=True, slots=True)
class Run:
    """One measured run of a command: wall seconds, CPU seconds of the process and its
    children (user + system), their peak resident memory, and the 1-minute load average
    just before it started (the machine is shared; a high load explains a slow run)."""

    label: str
    wall: float
    cpu: float
    max_rss_mib: float
    load_before: float
    returncode: int

    def to_json(self) -> dict[str, Any]:
        """The run as plain JSON values."""
        return asdict(self)


def run_timed(label: str, cmd: Sequence[str], *, quiet: bool = True, env: Any = None) -> Run:
    """Run ``cmd`` to completion and measure it with ``wait4`` (wall, CPU, peak RSS)."""
    load = os.getloadavg()[0]
    out = subprocess.DEVNULL if quiet else None
    started = time.perf_counter()
    proc = subprocess.Popen(list(cmd), stdout=out, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    run = Run(
        label=label,
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        max_rss_mib=usage.ru_maxrss / 1024,
        load_before=load,
        returncode=proc.returncode,
    )
    print(
        f"  {label}: {wall:.2f} s wall, {run.cpu:.2f} s CPU, {run.max_rss_mib:.0f} MiB, "
        f"load {load:.1f}, rc {run.returncode}",
        flush=True,
    )
    return run


def count_files(root: Path, suffix: str | None = None) -> int:
    """Files under ``root`` (with ``suffix``, e.g. ``.html``), hidden ones included."""
    total = 0
    for _, _, names in os.walk(root):
        total += sum(1 for n in names if suffix is None or n.endswith(suffix))
    return total


def median(values: Sequence[float]) -> float:
    """The median (of one value: that value)."""
    return statistics.median(values)


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    model = ""
    with open("/proc/cpuinfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo", encoding="utf-8") as handle:
        mem_kib = int(handle.readline().split()[1])
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cores": os.cpu_count(),
        "cpu": model,
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "python": sys.version.split()[0],
    }
