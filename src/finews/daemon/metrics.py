"""The daemon's own Prometheus metrics: what this process did since it started.

Each :class:`DaemonMetrics` has its own registry (so several daemons in one test process
do not collide). ``finews run`` serves it on ``daemon.metrics_port`` when that is set; the
web app's ``/metrics`` shows the totals the daemon keeps in the database instead (see
:mod:`finews.publish.health`), which survive restarts and need no second port.
"""

from __future__ import annotations

import threading
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.process_collector import ProcessCollector

__all__ = ["DaemonMetrics"]

#: poll durations, seconds: from a quick loopback poll to a walk back over many pages
_POLL_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


class DaemonMetrics:
    """Counters, histograms and gauges of one daemon."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.polls = Counter(
            "finews_daemon_polls",
            "Polls of a source, by outcome (ok or error).",
            ["source", "status"],
            registry=self.registry,
        )
        self.poll_seconds = Histogram(
            "finews_daemon_poll_duration_seconds",
            "Time one poll of a source took, pages and storing included.",
            ["source"],
            buckets=_POLL_BUCKETS,
            registry=self.registry,
        )
        self.items = Counter(
            "finews_daemon_items_stored",
            "Items stored by polls, by kind (new or updated).",
            ["source", "kind"],
            registry=self.registry,
        )
        self.fulltext = Counter(
            "finews_daemon_fulltext",
            "Full-text attempts, by outcome (stored, empty, retry, failed).",
            ["source", "outcome"],
            registry=self.registry,
        )
        self.derived = Counter(
            "finews_daemon_derived_changes",
            "Stored changes this daemon indexed for search and clustered into stories.",
            registry=self.registry,
        )
        self.alerts = Counter(
            "finews_daemon_alerts",
            "Alert deliveries by this daemon, by outcome (sent, retry, failed).",
            ["outcome"],
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "finews_daemon_fulltext_queue_depth",
            "Items waiting for their full text, as last counted.",
            registry=self.registry,
        )
        self.backoff = Gauge(
            "finews_daemon_source_in_backoff",
            "1 while a source waits out failures, else 0.",
            ["source"],
            registry=self.registry,
        )
        self.format_errors = Counter(
            "finews_source_format_errors",
            "Replies of a source that looked like a changed upstream format (this daemon).",
            ["source"],
            registry=self.registry,
        )
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    def serve(self, port: int, host: str = "127.0.0.1") -> None:
        """Serve ``/metrics`` on ``host:port`` in a background thread until :meth:`close`."""
        self._server, self._thread = start_http_server(port, addr=host, registry=self.registry)

    @property
    def port(self) -> int | None:
        """The port being served on, or ``None``."""
        return None if self._server is None else int(self._server.server_address[1])

    def close(self) -> None:
        """Stop serving (if serving)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
