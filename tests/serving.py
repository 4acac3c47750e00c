"""`finews serve` as a real process on a free loopback port, for the deploy tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    """A port nothing listens on now (the kernel's choice; released at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Served:
    """A running `finews serve`: its base URL and process (output goes to files)."""

    url: str
    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path


@contextmanager
def finews_serve(
    argv: Sequence[str], env: Mapping[str, str], cwd: Path, port: int, *, ready: str = "/healthz"
) -> Iterator[Served]:
    """Start ``argv`` (a `finews … serve` command line listening on ``port``), wait until
    ``ready`` answers, and stop it with SIGTERM when done."""
    out, err = cwd / f"serve-{port}.out", cwd / f"serve-{port}.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(argv, env=dict(env), cwd=cwd, stdout=stdout, stderr=stderr)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"finews serve exited: {err.read_text(errors='replace')}")
            try:
                with urllib.request.urlopen(url + ready, timeout=5):
                    break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline:
                    raise RuntimeError("finews serve did not answer within 60 s") from None
                time.sleep(0.1)
        yield Served(url, process, out, err)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                process.wait()
