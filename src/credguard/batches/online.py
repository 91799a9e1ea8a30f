"""Online scoring: up to a thousand customers scored inside a request and stored like a batch.

The customers meet the rules a batch file's rows meet, with the same exclusion codes, the same
production models pinned on a job, the same features, scores, bands and reason codes, and land
in ``customer_scores`` like a batch's rows. Only the route differs: a request holds a handful of
customers and must answer in milliseconds, so they are validated one by one by
:mod:`customers.record` (tested to give exactly what the vectorised path gives) instead of by
Polars, whose fixed cost per call is ~12 ms, and scored by :func:`scoring.score.score_matrix`
on NumPy arrays. A job and its rows are committed in one transaction, so a job is never seen
without its rows (concurrent requests share one: see ``api.group_commit``); it is born
``completed`` and has no file behind it (``storagePath`` is empty), so it cannot be reprocessed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
from sqlalchemy import insert
from sqlalchemy.orm import Session

from credguard.batches import processing
from credguard.batches.tables import BatchJob, BatchStatus, CustomerScore
from credguard.config import Settings
from credguard.customers.contract import EXCLUSION, REQUIRED_COLUMNS
from credguard.customers.record import normalise_records
from credguard.db.base import Base, utcnow
from credguard.errors import InvalidInput
from credguard.scoring.features import INPUT_COLUMNS, feature_matrix
from credguard.scoring.model import ScoringModel
from credguard.scoring.score import BANDS, REASON_CODES, REASON_COLUMNS, score_matrix

MAX_CUSTOMERS = 1_000
FILE_NAME = "online"
_EPOCH = date(1970, 1, 1)
_SCORES_TABLE = Base.metadata.tables[CustomerScore.__tablename__]

Value = str | int | float | None
Row = dict[str, Any]


def _as_text(value: Value) -> str | None:
    """A JSON value as a CSV cell would hold it: 10 for an integral number, never 10.0."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return str(value)


def raw_records(customers: Sequence[Mapping[str, Value]]) -> list[dict[str, str | None]]:
    """The customers with every value as text, as the CSV reader would yield them."""
    return [
        {name: _as_text(customer.get(name)) for name in REQUIRED_COLUMNS} for customer in customers
    ]


def _as_float(value: object) -> float:
    if value is None:
        return float("nan")
    if isinstance(value, date):
        return float((value - _EPOCH).days)
    return float(value)  # type: ignore[arg-type]


def score_records(
    rows: list[Row], models: Mapping[str, ScoringModel], *, settings: Settings, reference_date: date
) -> None:
    """Fill the score columns of normalised ``rows`` in place (left null on excluded rows)."""
    by_product: dict[str, list[Row]] = {}
    for row in rows:
        for name in processing.SCORE_COLUMNS:
            row[name] = None
        if row[EXCLUSION] is None:
            by_product.setdefault(row["produto"], []).append(row)
    for product, group in by_product.items():
        model = models[product]
        columns = {
            name: np.array([_as_float(row[name]) for row in group], dtype=np.float64)
            for name in INPUT_COLUMNS
        }
        scored = score_matrix(
            feature_matrix(columns, reference_date), model, settings.cutoffs_for(product)
        )
        for i, row in enumerate(group):
            row["scoreProbInadimplencia"] = float(scored.probability[i])
            row["score"] = int(scored.score[i])
            row["faixaScore"] = BANDS[scored.band[i]]
            for j, column in enumerate(REASON_COLUMNS):
                row[column] = REASON_CODES[scored.reasons[i, j]]
            row["modelName"] = model.name
            row["modelVersion"] = str(model.version)


@dataclass(frozen=True)
class OnlineRequest:
    """One request's customers, the client they belong to and who sent them."""

    customers: Sequence[Mapping[str, Value]]
    client_id: int
    submitted_by: int | None = None

    def __post_init__(self) -> None:
        if not 1 <= len(self.customers) <= MAX_CUSTOMERS:
            raise InvalidInput(f"send between 1 and {MAX_CUSTOMERS} customers")


@dataclass(frozen=True)
class Prepared:
    """Requests validated and scored, their jobs built, nothing written yet."""

    jobs: list[BatchJob]
    rows: list[list[Row]]  #: per job, its rows (rowNumber 1…, score columns filled)
    created_at: datetime


def prepare(session: Session, settings: Settings, requests: Sequence[OnlineRequest]) -> Prepared:
    """Validate and score each request as its own job, reading only (production models).

    All jobs pin the production models of this moment; :func:`store` writes them.
    """
    now = utcnow()
    jobs: list[BatchJob] = []
    pinned: dict[str, ScoringModel] = {}
    all_rows: list[list[Row]] = []
    for request in requests:
        records = raw_records(request.customers)
        digest = hashlib.sha256(json.dumps(records, ensure_ascii=False).encode()).hexdigest()
        job = BatchJob(
            client_id=request.client_id,
            status=BatchStatus.COMPLETED,
            file_name=FILE_NAME,
            storage_path="",
            file_sha256=digest,
            file_size=0,
            submitted_by=request.submitted_by,
            rows_total=len(records),
            rows_processed=len(records),
            attempts=1,
            created_at=now,
            updated_at=now,
        )
        if not jobs:
            pinned = processing.pin_models(session, job, settings)
        else:
            job.models, job.reference_date = jobs[0].models, jobs[0].reference_date
            job.started_at = jobs[0].started_at
        assert job.reference_date is not None  # set by pin_models
        columns = normalise_records(records, products=list(pinned), today=job.reference_date)
        jobs.append(job)
        all_rows.append(
            [dict(zip(columns, row, strict=True)) for row in zip(*columns.values(), strict=True)]
        )
    if jobs:
        # Scored together: one NumPy pass per product for the whole group.
        reference_date = jobs[0].reference_date
        assert reference_date is not None
        score_records(
            [row for rows in all_rows for row in rows],
            pinned,
            settings=settings,
            reference_date=reference_date,
        )
    finished = utcnow()
    for job, rows in zip(jobs, all_rows, strict=True):
        job.rows_excluded = sum(row[EXCLUSION] is not None for row in rows)
        job.rows_scored = len(rows) - job.rows_excluded
        job.finished_at = finished
    return Prepared(jobs=jobs, rows=all_rows, created_at=now)


def store(session: Session, prepared: Prepared) -> list[int]:
    """Write the prepared jobs and their rows (flushed; the caller commits); the job ids."""
    if not prepared.jobs:
        return []
    session.add_all(prepared.jobs)
    session.flush()
    now = prepared.created_at
    session.execute(
        insert(_SCORES_TABLE),
        [
            {
                "batchJobId": job.id,
                "clientId": job.client_id,
                **row,
                "dataProcessamento": now,
                "createdAt": now,
            }
            for job, rows in zip(prepared.jobs, prepared.rows, strict=True)
            for row in rows
        ],
    )
    return [job.id for job in prepared.jobs]
