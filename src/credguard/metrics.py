"""The process's Prometheus metrics, served by :mod:`credguard.api.observability`.

Per request (observed by :mod:`credguard.api.middleware`): latency histogram and error counter
labelled by route *template* (``/api/v1/batches/{job_id}``), never the raw path, so the number
of series stays bounded. Per batch job: duration and rows per second
(:func:`observe_batch_job`, called by the batch engine when a job completes). This module
imports no web framework, so the batch engine can use it.
"""

from __future__ import annotations

import structlog
from prometheus_client import Counter, Histogram
from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from credguard.batches.tables import BatchJob

log = structlog.get_logger(__name__)

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUEST_LATENCY = Histogram(
    "credguard_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template.",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)
REQUEST_ERRORS = Counter(
    "credguard_http_errors",
    "HTTP answers with status 400 or above, by route template and status.",
    ["method", "route", "status"],
)
BATCH_DURATION = Histogram(
    "credguard_batch_job_duration_seconds",
    "Time from a batch job's start to its completion.",
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200),
)
BATCH_ROWS_PER_SECOND = Histogram(
    "credguard_batch_job_rows_per_second",
    "Rows scored per second by a completed batch job.",
    buckets=(100, 500, 1_000, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000),
)
UNMATCHED_ROUTE = "<unmatched>"
#: Set (to a directory) by ``credguard serve --workers N`` for its processes: prometheus_client
#: then keeps every process's values in files there, and ``/metrics`` adds them up.
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    REQUEST_LATENCY.labels(method, route).observe(seconds)
    if status >= 400:
        REQUEST_ERRORS.labels(method, route, str(status)).inc()


def observe_batch(duration_seconds: float, rows: int) -> None:
    """Record one completed batch job's duration and throughput."""
    BATCH_DURATION.observe(max(duration_seconds, 0.0))
    if duration_seconds > 0:
        BATCH_ROWS_PER_SECOND.observe(rows / duration_seconds)


def observe_batch_job(engine: Engine, job_id: int) -> None:
    """Record a job that has just completed, read from its row; never fails the job."""
    try:
        with engine.connect() as connection:
            row = connection.execute(
                select(BatchJob.started_at, BatchJob.finished_at, BatchJob.rows_total).where(
                    BatchJob.id == job_id
                )
            ).first()
    except SQLAlchemyError as exc:
        log.warning("batch metrics not recorded", job_id=job_id, error=type(exc).__name__)
        return
    if row is None:
        return
    started, finished, rows = row  # positional: a Row's keys are the column names (startedAt)
    if started is not None and finished is not None:
        observe_batch((finished - started).total_seconds(), rows or 0)
