"""Health of the whole system, for people and for monitoring, served by the live app.

======================  ===============================================================
``GET /healthz``        the web process is alive (never touches the database)
``GET /readyz``         the database answers and is migrated (503 with the reason if not)
``GET /status``         the status page: every source's health, the full-text queue and
                        the changes still to index and cluster (derive backlog)
``GET /api/status``     the same as JSON
``GET /metrics``        Prometheus text format
======================  ===============================================================

The daemon (``finews run``) and the web app are different processes, so ``/metrics`` reports
what the database knows, read at scrape time: the poll totals the daemon keeps per source
(``finews_source_*``: polls, errors, poll durations, items stored), each source's state,
the full-text queue depth, the derive backlog (``finews_derive_backlog``) and the alert
outbox per rule and channel (``finews_alerts``, ``finews_alerts_sent``,
``finews_alert_errors``; ``finews_items_muted``). The web
process adds its own ``process_*`` metrics and, when the app is built with
:class:`RequestMetrics`, its request counts and durations.

The routes read ``request.app.state.site`` (a :class:`HealthBackend`: the live app's
``LiveSite``); mount them with ``routes``.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from finews.derive import derive_backlog, fault_counts
from finews.errors import FinewsError
from finews.normalize.times import shanghai_wall
from finews.publish.responses import json_bytes, json_error
from finews.publish.site import SiteRenderer
from finews.store import Store
from finews.store.alerts import ChannelCounts, muted_counts, outbox_counts
from finews.store.fulltext import FulltextQueue, QueueCounts
from finews.store.health import SourceHealth, database_problem, health_sources, source_health

__all__ = [
    "HealthBackend",
    "RequestMetrics",
    "StatusCollector",
    "StatusReport",
    "read_status",
    "routes",
    "status_json",
]

_HTML = "text/html; charset=utf-8"
_NO_CACHE = {"cache-control": "no-cache, no-store"}


class HealthBackend(Protocol):
    """What the health routes read: the live app's store, renderer and source names."""

    store: Store
    renderer: SiteRenderer

    def source_names(self) -> Mapping[str, str]:
        """Every configured source id with its display name."""

    def disabled_sources(self) -> Collection[str]:
        """The configured sources that are switched off (``enabled = false``)."""


@dataclass(frozen=True, slots=True)
class StatusReport:
    """Everything the status page, ``/api/status`` and ``/metrics`` show, read at once."""

    generated_at: datetime
    sources: tuple[tuple[str, str, SourceHealth], ...]
    queue: QueueCounts
    #: changes stored but not yet in the search index and stories (finews.derive)
    derive_backlog: int = 0
    #: configured sources that are switched off
    disabled: frozenset[str] = frozenset()
    #: items with a recorded fault, by stage (``item_faults``): ``store`` dropped, ``index``
    #: and ``stories`` left out of them, ``normalize`` a value replaced
    item_faults: Mapping[str, int] = field(default_factory=dict)
    #: the alert outbox per rule and channel (finews.store.alerts)
    alerts: tuple[ChannelCounts, ...] = ()
    #: items each mute rule hides
    muted: Mapping[str, int] = field(default_factory=dict)


def read_status(
    store: Store, names: Mapping[str, str], disabled: Collection[str] = ()
) -> StatusReport:
    """Read every source's health (configured sources, and any with recorded state):
    enabled sources first, each group by id."""
    now = datetime.now(UTC)
    off = frozenset(disabled)
    ids = sorted(set(names) | set(health_sources(store)), key=lambda sid: (sid in off, sid))
    return StatusReport(
        disabled=off,
        generated_at=now,
        sources=tuple(
            (sid, names.get(sid, sid), source_health(store, sid, now=now)) for sid in ids
        ),
        queue=FulltextQueue(store).counts(),
        derive_backlog=derive_backlog(store),
        item_faults=fault_counts(store),
        alerts=tuple(outbox_counts(store)),
        muted=muted_counts(store),
    )


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else f"{moment.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"


def _source_json(sid: str, name: str, health: SourceHealth, *, enabled: bool) -> dict[str, Any]:
    state, stats = health.state, health.stats
    return {
        "id": sid,
        "name": name,
        "enabled": enabled,
        "last_attempt": _iso(state.last_attempt),
        "last_success": _iso(state.last_success),
        "last_error": state.last_error,
        "consecutive_failures": state.consecutive_failures,
        "next_poll": _iso(state.next_poll),
        "in_backoff": health.in_backoff,
        "retry_after": stats.retry_after if health.in_backoff else None,
        "items": health.items,
        "items_last_hour": health.items_hour,
        "items_last_day": health.items_day,
        "median_delay_seconds": health.median_delay,
        "polls": stats.polls,
        "poll_failures": stats.failures,
        "last_poll_seconds": stats.last_poll_seconds,
        "fulltext_pending": health.queue.pending,
        "fulltext_failed": health.queue.failed,
        # "upstream format changed? …" while the replies look changed, else null
        "format_alarm": health.format.alarm,
        "format_alarm_since": _iso(health.format.since),
        "format_errors": health.format.errors,
    }


def status_json(report: StatusReport) -> dict[str, Any]:
    """The ``/api/status`` document."""
    return {
        "generated_at": _iso(report.generated_at),
        "fulltext_queue": {"pending": report.queue.pending, "failed": report.queue.failed},
        "derive_backlog": report.derive_backlog,
        "item_faults": dict(report.item_faults),
        "alerts": [
            {
                "rule": row.rule,
                "channel": row.channel,
                "pending": row.pending,
                "sent": row.sent,
                "failed": row.failed,
                "last_error": row.last_error,
                "last_sent": _iso(row.last_sent),
            }
            for row in report.alerts
        ],
        "muted": dict(report.muted),
        "sources": [
            _source_json(sid, name, health, enabled=sid not in report.disabled)
            for sid, name, health in report.sources
        ],
    }


def _backend(request: Request) -> HealthBackend:
    backend: HealthBackend = request.app.state.site
    return backend


async def _read(request: Request) -> StatusReport:
    backend = _backend(request)
    return await run_in_threadpool(
        read_status,
        backend.store,
        dict(backend.source_names()),
        frozenset(backend.disabled_sources()),
    )


async def healthz(request: Request) -> Response:
    """``GET /healthz``: the process serves requests."""
    return PlainTextResponse("ok\n", headers=_NO_CACHE)


async def readyz(request: Request) -> Response:
    """``GET /readyz``: the database answers."""
    try:
        problem = await run_in_threadpool(database_problem, _backend(request).store)
    except FinewsError as exc:
        problem = str(exc)
    if problem is not None:
        return json_error(503, f"not ready: {problem}")
    return PlainTextResponse("ready\n", headers=_NO_CACHE)


async def api_status(request: Request) -> Response:
    """``GET /api/status``: every source's health as JSON (it takes no parameter)."""
    for name in request.query_params:
        return json_error(400, f"{name[:40]}: unknown parameter (this path accepts: none)")
    report = await _read(request)
    return Response(
        json_bytes(status_json(report)), media_type="application/json", headers=_NO_CACHE
    )


def _span(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 90:
        return f"{seconds:.0f} 秒"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} 分钟"
    return f"{seconds / 3600:.1f} 小时"


def _when(moment: datetime | None) -> str:
    return "—" if moment is None else shanghai_wall(moment)


def _state(sid: str, health: SourceHealth, report: StatusReport) -> tuple[str, str]:
    """A source's state on the status page: (CSS class, words)."""
    state = health.state
    if sid in report.disabled:
        return "off", "已停用"
    if health.in_backoff:
        return "bad", f"连续失败 {state.consecutive_failures} 次，退避中"
    if state.last_attempt is None and state.last_success is None:
        return "idle", "尚未抓取"
    if health.format.alarm:
        return "warn", "上游格式可能已变"
    if state.last_error:  # a good poll keeps only a warning (a lossy decode)
        return "warn", "正常，有警告"
    return "ok", "正常"


async def status_page(request: Request) -> Response:
    """``GET /status``: the status page."""
    backend = _backend(request)
    report = await _read(request)
    html = backend.renderer.env.get_template("status.html").render(
        live_seq=None, report=report, span=_span, when=_when, state_of=_state
    )
    return Response(html, media_type=_HTML, headers=_NO_CACHE)


# --- metrics ---------------------------------------------------------------------------

#: the web process's own metrics (one registry per process, like the process itself)
WEB_REGISTRY = CollectorRegistry()
ProcessCollector(registry=WEB_REGISTRY)
_REQUESTS = Counter(
    "finews_web_requests",
    "HTTP requests answered by this web process, by method and status.",
    ["method", "status"],
    registry=WEB_REGISTRY,
)
_REQUEST_SECONDS = Histogram(
    "finews_web_request_duration_seconds",
    "Time to the start of the response, per request of this web process.",
    registry=WEB_REGISTRY,
)


class StatusCollector(Collector):
    """Metrics from one :class:`StatusReport`, already read from the database."""

    def __init__(self, report: StatusReport) -> None:
        self.report = report

    def collect(self) -> Iterable[Metric]:
        return list(self._families())

    def _families(self) -> Iterator[Metric]:
        label = ["source"]
        polls = CounterMetricFamily(
            "finews_source_polls", "Polls of a source by finews run (all runs).", labels=label
        )
        errors = CounterMetricFamily(
            "finews_source_poll_errors", "Failed polls of a source (all runs).", labels=label
        )
        stored = CounterMetricFamily(
            "finews_source_items_stored",
            "Items stored by polls, by kind (new or updated), all runs.",
            labels=["source", "kind"],
        )
        durations = SummaryMetricFamily(
            "finews_source_poll_duration_seconds",
            "Time the polls of a source took (count and sum, all runs).",
            labels=label,
        )
        items = GaugeMetricFamily("finews_source_items", "Items stored for a source.", labels=label)
        recent = GaugeMetricFamily(
            "finews_source_items_recent",
            "Items of a source first stored within the window (1h or 1d).",
            labels=["source", "window"],
        )
        failures = GaugeMetricFamily(
            "finews_source_consecutive_failures", "Failures since the last success.", labels=label
        )
        backoff = GaugeMetricFamily(
            "finews_source_in_backoff", "1 while a source waits out failures.", labels=label
        )
        delay = GaugeMetricFamily(
            "finews_source_median_delay_seconds",
            "Median seconds from upstream publication to storing, items of the last day.",
            labels=label,
        )
        success = GaugeMetricFamily(
            "finews_source_last_success_timestamp_seconds",
            "Unix time of the source's last successful poll.",
            labels=label,
        )
        upcoming = GaugeMetricFamily(
            "finews_source_next_poll_timestamp_seconds",
            "Unix time of the source's next poll.",
            labels=label,
        )
        formats = CounterMetricFamily(
            "finews_source_format_errors",
            "Replies of a source that looked like a changed upstream format (all runs).",
            labels=label,
        )
        alarms = GaugeMetricFamily(
            "finews_source_format_alarm",
            "1 while a source's upstream looks changed (upstream format changed?).",
            labels=label,
        )
        for sid, _, health in self.report.sources:
            stats, state = health.stats, health.state
            formats.add_metric([sid], health.format.errors)
            alarms.add_metric([sid], 1 if health.format.alarm else 0)
            polls.add_metric([sid], stats.polls)
            errors.add_metric([sid], stats.failures)
            stored.add_metric([sid, "new"], stats.items_new)
            stored.add_metric([sid, "updated"], stats.items_updated)
            durations.add_metric([sid], count_value=stats.polls, sum_value=stats.poll_seconds)
            items.add_metric([sid], health.items)
            recent.add_metric([sid, "1h"], health.items_hour)
            recent.add_metric([sid, "1d"], health.items_day)
            failures.add_metric([sid], state.consecutive_failures)
            backoff.add_metric([sid], 1 if health.in_backoff else 0)
            if health.median_delay is not None:
                delay.add_metric([sid], health.median_delay)
            if state.last_success is not None:
                success.add_metric([sid], state.last_success.timestamp())
            if state.next_poll is not None:
                upcoming.add_metric([sid], state.next_poll.timestamp())
        queue = GaugeMetricFamily(
            "finews_fulltext_queue_depth",
            "Items whose full text is still to fetch (pending) or was given up (failed).",
            labels=["state"],
        )
        queue.add_metric(["pending"], self.report.queue.pending)
        queue.add_metric(["failed"], self.report.queue.failed)
        derive = GaugeMetricFamily(
            "finews_derive_backlog",
            "Stored changes not yet in the search index and stories (the daemon derives them).",
            value=self.report.derive_backlog,
        )
        faults = GaugeMetricFamily(
            "finews_item_faults",
            "Items dropped (store), left out of the index or stories, or with a value "
            "replaced by normalising (normalize); each is logged with its source and id.",
            labels=["stage"],
        )
        for stage, count in sorted(self.report.item_faults.items()):
            faults.add_metric([stage], count)
        alerts = GaugeMetricFamily(
            "finews_alerts",
            "Alerts in the outbox, by rule, channel (scheme and digest) and state.",
            labels=["rule", "channel", "state"],
        )
        delivered = CounterMetricFamily(
            "finews_alerts_sent",
            "Alerts delivered, by rule and channel (all workers, all runs).",
            labels=["rule", "channel"],
        )
        refused = CounterMetricFamily(
            "finews_alert_errors",
            "Failed attempts at delivering an alert, by rule and channel.",
            labels=["rule", "channel"],
        )
        muted = GaugeMetricFamily(
            "finews_items_muted", "Items a mute rule hides, by rule.", labels=["rule"]
        )
        for row in self.report.alerts:
            alerts.add_metric([row.rule, row.channel, "pending"], row.pending)
            alerts.add_metric([row.rule, row.channel, "failed"], row.failed)
            delivered.add_metric([row.rule, row.channel], row.sent)
            refused.add_metric([row.rule, row.channel], row.errors)
        for rule, count in sorted(self.report.muted.items()):
            muted.add_metric([rule], count)
        yield from (alerts, delivered, refused, muted)
        yield from (polls, errors, stored, durations, items, recent, failures, backoff)
        yield from (delay, success, upcoming, queue, derive, faults, formats, alarms)


async def metrics(request: Request) -> Response:
    """``GET /metrics``: Prometheus text format (database totals, then this process)."""
    report = await _read(request)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StatusCollector(report))
    body = generate_latest(registry) + generate_latest(WEB_REGISTRY)
    return Response(body, media_type=CONTENT_TYPE_LATEST, headers=_NO_CACHE)


class RequestMetrics:
    """ASGI middleware counting this web process's requests and their durations (for
    ``finews_web_requests_total`` and ``finews_web_request_duration_seconds``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        method = str(scope.get("method", ""))

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                _REQUESTS.labels(method, str(message["status"])).inc()
                _REQUEST_SECONDS.observe(time.perf_counter() - started)
            await send(message)

        await self.app(scope, receive, counting_send)


#: the routes to mount in the live app (GET and HEAD)
routes: list[Route] = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
    Route("/status", status_page, methods=["GET"]),
    Route("/api/status", api_status, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
]
