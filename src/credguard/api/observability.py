"""``/metrics``: Prometheus text format, for the dashboard of the runbook (section 2.1, step 3).

Process-wide metrics (:mod:`credguard.metrics`: request latency and errors per route, batch
durations and rows per second, Python process figures) followed by gauges this app reads at
scrape time: database connections in use against the pool's maximum, and the queue depth.

``/metrics`` is neither authenticated nor rate limited: in production nginx must let only the
monitoring network reach it. Under ``credguard serve --workers N`` the request and batch
metrics are the sum over all N processes (prometheus_client's multiprocess mode: each process
writes its values to files in a directory the supervisor owns); the pool gauges are those of
the process that answered.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select
from sqlalchemy.pool import QueuePool

from credguard.batches.tables import BatchJob, BatchStatus
from credguard.metrics import MULTIPROCESS_ENV


class DatabaseCollector(Collector):
    """Read at scrape time: pool connections in use and maximum, pending batch jobs."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        pool = self.engine.pool
        in_use = GaugeMetricFamily(
            "credguard_db_connections_in_use", "Connections checked out of the pool."
        )
        checkedout = getattr(pool, "checkedout", None)
        if callable(checkedout):
            in_use.add_metric([], float(checkedout()))
            yield in_use
        if isinstance(pool, QueuePool):
            maximum = GaugeMetricFamily(
                "credguard_db_connections_max",
                "Most connections the pool opens (pool size plus overflow; -1: unbounded).",
            )
            overflow = pool._max_overflow  # no public accessor; -1 means no limit
            maximum.add_metric([], -1.0 if overflow < 0 else float(pool.size() + overflow))
            yield maximum
        with self.engine.connect() as connection:
            pending = connection.scalar(
                select(func.count())
                .select_from(BatchJob)
                .where(BatchJob.status == BatchStatus.PENDING)
            )
        depth = GaugeMetricFamily("credguard_batch_queue_depth", "Batch jobs waiting (pending).")
        depth.add_metric([], float(pending or 0))
        yield depth


router = APIRouter()


def _service_registry() -> CollectorRegistry:
    """This process's metrics, or, under ``credguard serve --workers N``, all N processes'."""
    if not os.environ.get(MULTIPROCESS_ENV):
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """Prometheus text format: the service's metrics, then this app's database gauges."""
    app_registry: CollectorRegistry = request.app.state.metrics_registry
    body = generate_latest(_service_registry()) + generate_latest(app_registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def install(app: FastAPI, engine: Engine) -> None:
    """Serve ``/metrics`` with this app's scrape-time gauges beside the process-wide metrics."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(engine))
    app.state.metrics_registry = registry
    app.include_router(router)
