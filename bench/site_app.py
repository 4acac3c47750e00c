"""The live app for the HTTP benchmarks, as an import string uvicorn can load in each worker:

    FINEWS_BENCH_DB=sqlite:////tmp/finews-bench/finews10000.db \\
        .venv/bin/uvicorn --factory site_app:app --app-dir bench --workers 2

or, run as a script, several uvicorn workers on a listening socket that keeps TCP_NODELAY:

    FINEWS_BENCH_DB=... .venv/bin/python bench/site_app.py --port 8000 --workers 2

``uvicorn --workers N`` (N > 1) binds its socket with ``proto`` 0, so asyncio never sets
TCP_NODELAY on the accepted connections and every keep-alive response after the first waits
~40 ms for the client's delayed ACK (Kludex/uvicorn#3149, open). The script binds the socket
itself with ``IPPROTO_TCP`` and hands it to uvicorn's own multiprocess supervisor.
"""

from __future__ import annotations

import argparse
import os
import socket

import uvicorn
from starlette.applications import Starlette
from uvicorn.supervisors import Multiprocess

from finews.publish.settings import SiteSettings
from finews.publish.web import create_app


def app() -> Starlette:
    """The app over ``$FINEWS_BENCH_DB`` with default site settings (what ``finews serve``
    runs, without its configuration file)."""
    poll = float(os.environ.get("FINEWS_BENCH_POLL", "0.25"))
    return create_app(os.environ["FINEWS_BENCH_DB"], SiteSettings(), poll_interval=poll)


def main() -> None:
    """Serve :func:`app` with ``--workers`` uvicorn processes on 127.0.0.1."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    # uvicorn's choice: "auto" takes uvloop and httptools where installed (uvicorn[standard],
    # as finews depends on); "asyncio" and "h11" are the pure-Python ones it used before
    parser.add_argument("--loop", default="auto", choices=["auto", "asyncio", "uvloop"])
    parser.add_argument("--http", default="auto", choices=["auto", "h11", "httptools"])
    args = parser.parse_args()
    config = uvicorn.Config(
        "site_app:app",
        factory=True,
        host="127.0.0.1",
        port=args.port,
        workers=args.workers,
        loop=args.loop,
        http=args.http,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=2,
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    sock.set_inheritable(True)
    if args.workers > 1:
        Multiprocess(config, sockets=[sock]).run()
    else:
        uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
