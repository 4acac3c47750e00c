"""Requests per second of the live app (uvicorn) against nginx serving the static build of the
same archive, under ``wrk`` on loopback.

Needs ``apt-get install wrk nginx`` and the 10,000-post archive of ``site_build.py``
(``finews10000.db`` and its build ``finews_out10000`` under ``--work``). nginx runs from a
config file written to a temporary folder (``worker_processes`` = uvicorn's ``--workers``,
access log off, no gzip: wrk sends no Accept-Encoding, so both send the plain bytes). Each
server gets the home page and one article page, ``--duration`` seconds each after a short
warm-up (the live app renders a page once per change and then serves it from memory).

    .venv/bin/python bench/site_http.py --workers 1 2
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from timing import REPO, WORK, machine

from finews.derive import open_store
from finews.publish.urls import article_path
from finews.store import ItemQuery

_NGINX_CONF = """
worker_processes {workers};
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        index index.html;
    }}
}}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_port(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise SystemExit(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def _rss_mib(pid: int) -> float:
    """Resident memory of a process and its children (uvicorn workers), MiB."""
    total = 0
    for one in [pid, *_children(pid)]:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{one}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total / 1024


@contextlib.contextmanager
def nginx(root: Path, workers: int) -> Iterator[tuple[int, int]]:
    """nginx serving ``root`` on a free loopback port: yields (port, master pid)."""
    with tempfile.TemporaryDirectory(prefix="finews-nginx-") as tmp:
        port = _free_port()
        conf = Path(tmp) / "nginx.conf"
        conf.write_text(_NGINX_CONF.format(workers=workers, tmp=tmp, port=port, root=root))
        proc = subprocess.Popen(
            ["nginx", "-p", tmp, "-c", str(conf), "-g", "daemon off;"],
        )
        try:
            _wait_port(port)
            yield port, proc.pid
        finally:
            proc.send_signal(signal.SIGQUIT)
            proc.wait(10)


@contextlib.contextmanager
def uvicorn(db_url: str, workers: int, cli: bool) -> Iterator[tuple[int, int]]:
    """The live app under uvicorn on a free loopback port: yields (port, master pid).
    ``cli``: the ``uvicorn`` command itself (its ``--workers N`` loses TCP_NODELAY, see
    ``site_app.py``); otherwise ``site_app.py``, uvicorn on a socket of our own."""
    port = _free_port()
    if cli:
        exe = str(Path(sys.executable).with_name("uvicorn"))
        cmd = [exe, "--factory", "site_app:app", "--app-dir", str(REPO / "bench")]
        cmd += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
        cmd += ["--log-level", "warning", "--no-access-log", "--timeout-graceful-shutdown", "2"]
    else:
        cmd = [sys.executable, str(REPO / "bench" / "site_app.py"), "--port", str(port)]
        cmd += ["--workers", str(workers)]
    env = {**os.environ, "FINEWS_BENCH_DB": db_url}
    proc = subprocess.Popen(cmd, env=env)
    try:
        _wait_port(port)
        time.sleep(1.0 if workers > 1 else 0.2)  # every worker has opened its store
        yield port, proc.pid
    finally:
        children = _children(proc.pid)
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for child in children:  # workers of a supervisor that did not stop them
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)


def _children(pid: int) -> list[int]:
    with contextlib.suppress(OSError):
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return []


def wrk(url: str, seconds: int, connections: int, threads: int) -> dict[str, Any]:
    """One wrk run: requests/s, latency percentiles, non-2xx count."""
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    load = os.getloadavg()[0]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    lat = dict(re.findall(r"\s+(50|90|99)%\s+(\S+)", out))
    return {
        "command": " ".join(cmd),
        "rps": rps,
        "non_2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": errors.group(1) if errors else "",
        "latency": lat,
        "load_before": load,
    }


def page_sizes(ports: dict[str, int], path: str) -> dict[str, int]:
    """The body size each server sends for ``path`` (the live page differs from the static
    one only by its change number and live-update attributes)."""
    import httpx

    return {
        name: len(httpx.get(f"http://127.0.0.1:{port}{path}").content)
        for name, port in ports.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, default=WORK)
    parser.add_argument("--posts", type=int, default=10000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--uvicorn-cli", action="store_true", help="run the uvicorn command (--workers N)"
    )
    parser.add_argument("--tag", default="", help="suffix of the results file")
    parser.add_argument("--results", type=Path, default=REPO / "bench" / "results")
    args = parser.parse_args()
    db = args.work / f"finews{args.posts}.db"
    root = args.work / f"finews_out{args.posts}"
    if not (db.exists() and (root / "index.html").exists()):
        raise SystemExit(f"{db} or {root} missing: run bench/site_build.py first")
    url = f"sqlite:///{db}"
    with open_store(url) as store:
        item = next(iter(store.items(ItemQuery(limit=1))))
    paths = {"home": "/", "article": article_path(item)}
    if not (root / paths["article"].lstrip("/")).exists():
        raise SystemExit(f"the static build has no {paths['article']}")
    results: dict[str, Any] = {"machine": machine(), "paths": paths, "runs": []}
    wrk_args = (args.duration, args.connections, args.threads)
    for workers in args.workers:
        servers = nginx(root, workers), uvicorn(url, workers, args.uvicorn_cli)
        with servers[0] as (nport, npid), servers[1] as (uport, upid):
            for name, path in paths.items():
                sizes = page_sizes({"nginx": nport, "finews": uport}, path)
                for server, port, pid in (("nginx", nport, npid), ("finews", uport, upid)):
                    target = f"http://127.0.0.1:{port}{path}"
                    wrk(target, 2, args.connections, args.threads)  # warm-up
                    row = wrk(target, *wrk_args)
                    row.update(server=server, workers=workers, page=name, rss_mib=_rss_mib(pid))
                    row["bytes"] = sizes[server]
                    print(
                        f"  {server} ×{workers} {name}: {row['rps']:.0f} req/s, p99 "
                        f"{row['latency'].get('99')}, non-2xx {row['non_2xx']}, "
                        f"load {row['load_before']:.1f}",
                        flush=True,
                    )
                    results["runs"].append(row)
    args.results.mkdir(parents=True, exist_ok=True)
    target = args.results / f"site_http{args.tag}.json"
    target.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print("| page | workers | finews req/s | nginx req/s | finews / nginx | finews p99 |")
    print("|---|---:|---:|---:|---:|---:|")
    by = {(r["server"], r["workers"], r["page"]): r for r in results["runs"]}
    for workers in args.workers:
        for name in paths:
            mine, theirs = by[("finews", workers, name)], by[("nginx", workers, name)]
            print(
                f"| {name} | {workers} | {mine['rps']:.0f} | {theirs['rps']:.0f} | "
                f"{mine['rps'] / theirs['rps']:.3f} | {mine['latency'].get('99')} |"
            )
    print(f"results: {target}")


if __name__ == "__main__":
    main()
