"""``/metrics`` in Prometheus' text format (``prometheus-client``), off unless
``REFLECTIONS_METRICS_TOKEN`` is set, and then only for ``Authorization: Bearer <token>``.

Two kinds of families. The request families are counted in each process; under
``uvicorn --workers N`` set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory before starting
and every worker's counts are summed in whichever worker answers the scrape (prometheus-client's
multiprocess mode). The city families (``reflections_open_reflections`` and the rest of
:data:`CITY_FAMILIES`) are read from the database at scrape time, cached for
:data:`CITY_CACHE_SECONDS`, and are the same on every process and replica: aggregate them with
``max``, not ``sum``.
"""

import os
import secrets
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from fastapi import APIRouter, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlmodel import Session

from api import faults
from api.problems import problem
from reflections.oversight.service_figures import ServiceFigures, service_figures
from reflections.platform import clock
from reflections.platform.db import get_engine
from reflections.platform.settings import get_settings

PREFIX = "reflections"
CITY_CACHE_SECONDS = 15.0
REGISTRY = CollectorRegistry()
if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
    ProcessCollector(registry=REGISTRY)

REQUESTS = Counter(
    f"{PREFIX}_http_requests",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    f"{PREFIX}_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)
CITY_FAMILIES = (
    "database_up",
    "transitions_total",
    "open_reflections",
    "overdue_reflections",
    "escalated_reflections",
    "outbox_messages",
    "outbox_depth",
    "outbox_oldest_due_seconds",
    "outbox_dead_letters",
    "sla_sweep_lag_seconds",
)


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    REQUESTS.labels(method, route, str(status)).inc()
    LATENCY.labels(method, route).observe(seconds)


class CityCollector(Collector):
    """The figures of :mod:`reflections.oversight.service_figures`, as metric families."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._figures: ServiceFigures | None = None
        self._read_at = -CITY_CACHE_SECONDS

    def figures(self) -> ServiceFigures | None:
        with self._lock:
            if time.monotonic() - self._read_at >= CITY_CACHE_SECONDS:
                try:
                    with Session(get_engine()) as session:
                        self._figures = service_figures(session, clock.now())
                except Exception as error:
                    if not faults.is_fault(error):
                        raise
                    faults.log.warning("metrics: %s", faults.describe(error))
                    self._figures = None
                self._read_at = time.monotonic()
            return self._figures

    def collect(self) -> Iterable[Metric]:
        figures = self.figures()
        yield GaugeMetricFamily(
            f"{PREFIX}_database_up",
            "1 if the figures below could be read from the database just now.",
            value=0 if figures is None else 1,
        )
        if figures is None:
            return
        transitions = CounterMetricFamily(
            f"{PREFIX}_transitions",
            "Lifecycle transitions ever recorded, by event.",
            labels=["event"],
        )
        for event, n in sorted(figures.transitions.items()):
            transitions.add_metric([event], n)
        yield transitions
        open_now = GaugeMetricFamily(
            f"{PREFIX}_open_reflections",
            "Open reflections by state and escalation level.",
            labels=["state", "level"],
        )
        for (state, level), n in sorted(figures.open_reflections.items()):
            open_now.add_metric([state, str(level)], n)
        yield open_now
        yield GaugeMetricFamily(
            f"{PREFIX}_overdue_reflections",
            "Open reflections whose running step is past its deadline.",
            value=figures.overdue,
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_escalated_reflections",
            "Open reflections escalated at least once.",
            value=figures.escalated,
        )
        yield _by_channel(
            "outbox_messages",
            "Outbox rows by channel and outcome (pending, retrying, sending, sent, "
            "failed_permanent, dead): what the dispatchers made of them.",
            figures.outbox_messages,
            extra_label="outcome",
        )
        yield _by_channel(
            "outbox_depth", "Messages not yet delivered, by channel.", figures.outbox_depth
        )
        yield _by_channel(
            "outbox_oldest_due_seconds",
            "How long the oldest message due for delivery has waited, by channel.",
            figures.outbox_oldest_due_seconds,
        )
        yield _by_channel(
            "outbox_dead_letters",
            "Messages given up (dead, or refused for good), by channel.",
            figures.dead_letters,
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_sla_sweep_lag_seconds",
            "How long the oldest due reminder or escalation mark has waited for the sweep.",
            value=figures.sweep_lag_seconds,
        )


def _by_channel(
    name: str,
    documentation: str,
    values: Mapping[str, float] | Mapping[tuple[str, str], int],
    extra_label: str | None = None,
) -> GaugeMetricFamily:
    labels = ["channel", extra_label] if extra_label else ["channel"]
    family = GaugeMetricFamily(f"{PREFIX}_{name}", documentation, labels=labels)
    for key, value in sorted(values.items()):
        family.add_metric(list(key) if isinstance(key, tuple) else [str(key)], value)
    return family


CITY = CityCollector()
REGISTRY.register(CITY)
router = APIRouter(include_in_schema=False)


@router.get("/metrics")
def metrics(request: Request) -> Response:
    token = get_settings().metrics_token
    if token is None:
        return problem(404, "metrics are off; set REFLECTIONS_METRICS_TOKEN to turn them on")
    sent = request.headers.get("authorization", "")
    expected = f"Bearer {token.get_secret_value()}"
    if not secrets.compare_digest(sent.encode(), expected.encode()):
        return problem(
            401, "send the metrics token as a bearer token", headers={"WWW-Authenticate": "Bearer"}
        )
    return Response(generate_latest(_registry()), media_type=CONTENT_TYPE_LATEST)


class _WorkersCollector(MultiProcessCollector):
    """The workers' files summed, but for a file a worker is still creating: prometheus-client
    creates it before sizing it, and one read at 0 bytes fails the whole scrape (for good if
    the worker was killed in that moment; prometheus/client_python#1199, open)."""

    def collect(self) -> Iterable[Metric]:
        folder = Path(self._path)
        files = [str(file) for file in folder.glob("*.db") if _holds_anything(file)]
        return self.merge(files, accumulate=True)  # type: ignore[no-any-return,no-untyped-call]


def _holds_anything(file: Path) -> bool:
    try:
        return file.stat().st_size > 0
    except FileNotFoundError:  # a dead worker's file removed meanwhile
        return False


def _registry() -> CollectorRegistry:
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        return REGISTRY
    combined = CollectorRegistry()
    _WorkersCollector(combined)  # type: ignore[no-untyped-call]
    combined.register(CITY)
    return combined
