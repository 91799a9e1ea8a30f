"""Online scoring: up to a thousand customers scored inside a request and stored like a batch.

The customers go through exactly what a batch file's rows go through: every value as text into
:func:`customers.validate.normalise` (same exclusion codes), :func:`processing.score_rows` with
the production models pinned on the job (same reason codes and model versions), and
:func:`processing.storage_frame` into ``customer_scores``. The job and its rows are written in
the caller's one transaction, so the job is never seen without its rows; it is born
``completed`` and has no file behind it (``storagePath`` is empty), so it cannot be reprocessed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import polars as pl
from sqlalchemy import insert
from sqlalchemy.orm import Session

from credguard.batches import processing
from credguard.batches.tables import BatchJob, BatchStatus, CustomerScore
from credguard.config import Settings
from credguard.customers.contract import REQUIRED_COLUMNS, ROW_NUMBER
from credguard.customers.validate import DuplicateTracker, normalise
from credguard.db.base import Base, utcnow
from credguard.errors import InvalidInput

MAX_CUSTOMERS = 1_000
FILE_NAME = "online"

Value = str | int | float | None


@dataclass(frozen=True)
class OnlineScores:
    """The stored job and its rows (``rowNumber`` 1… in request order, score columns filled)."""

    job: BatchJob
    rows: pl.DataFrame


def _as_text(value: Value) -> str | None:
    """A JSON value as a CSV cell would hold it: 10 for an integral number, never 10.0."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return str(value)


def raw_frame(customers: Sequence[Mapping[str, Value]]) -> pl.DataFrame:
    """The customers as a raw chunk, every value as text, as the CSV reader would yield it."""
    columns: dict[str, list[str | None]] = {
        name: [_as_text(customer.get(name)) for customer in customers] for name in REQUIRED_COLUMNS
    }
    return pl.DataFrame(
        {ROW_NUMBER: list(range(1, len(customers) + 1)), **columns},
        schema={ROW_NUMBER: pl.Int64(), **dict.fromkeys(REQUIRED_COLUMNS, pl.String())},
    )


def score(
    session: Session,
    settings: Settings,
    customers: Sequence[Mapping[str, Value]],
    *,
    client_id: int,
    submitted_by: int | None = None,
) -> OnlineScores:
    """Validate, score and store ``customers`` as a completed job of ``client_id``.

    Flushes only; the caller's commit makes the job and its rows visible together.
    """
    if not 1 <= len(customers) <= MAX_CUSTOMERS:
        raise InvalidInput(f"send between 1 and {MAX_CUSTOMERS} customers")
    raw = raw_frame(customers)
    digest = hashlib.sha256(raw.write_csv().encode()).hexdigest()
    now = utcnow()
    job = BatchJob(
        client_id=client_id,
        status=BatchStatus.PROCESSING,
        file_name=FILE_NAME,
        storage_path="",
        file_sha256=digest,
        file_size=0,
        submitted_by=submitted_by,
        rows_total=raw.height,
        rows_processed=0,
        rows_scored=0,
        rows_excluded=0,
        attempts=1,
        created_at=now,
        updated_at=now,
    )
    models = processing.pin_models(session, job, settings)
    assert job.reference_date is not None  # set by pin_models
    normalised = normalise(
        raw, products=list(models), today=job.reference_date, seen=DuplicateTracker()
    )
    result = processing.score_rows(
        normalised, models, settings=settings, reference_date=job.reference_date
    )
    job.status = BatchStatus.COMPLETED
    job.rows_processed = raw.height
    job.rows_scored = result.scored
    job.rows_excluded = result.excluded
    job.finished_at = utcnow()
    session.add(job)
    session.flush()
    frame = processing.storage_frame(
        result.rows, job_id=job.id, client_id=client_id, created_at=now, now=now
    )
    session.execute(insert(Base.metadata.tables[CustomerScore.__tablename__]), frame.to_dicts())
    return OnlineScores(job=job, rows=result.rows)
