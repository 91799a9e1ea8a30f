"""Claiming and running batch jobs: the one code path that processes a job, whoever rang.

A worker claims a job with a compare-and-set UPDATE (works alike on SQLite and MariaDB: two
workers never both see their UPDATE match), then reads the stored file in chunks. Each chunk's
rows and the job's progress are committed in one transaction guarded by the lease: the UPDATE
only matches while this worker still owns the job *and* the job's committed row count is the one
it started the chunk from. A worker that was presumed dead and comes back therefore cannot
write anything, and the unique key (batchJobId, rowNumber) backs this up.

Re-running after a crash is safe: the new owner re-reads the file from the start (validation is
cheap and rebuilds the duplicate tracker), skips rows already committed, and continues.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl
import structlog
from sqlalchemy import ColumnElement, Engine, delete, or_, select, update
from sqlalchemy.orm import Session

from credguard import metrics
from credguard.batches.tables import BatchJob, BatchStatus, CustomerScore
from credguard.config import Settings
from credguard.customers.contract import EXCLUSION, INTEGER_COLUMNS, ROW_NUMBER
from credguard.customers.reader import CsvSource, InvalidFile, open_csv
from credguard.customers.validate import DuplicateTracker, normalise
from credguard.db.base import utcnow
from credguard.db.bulk import FrameWriter, rowcount
from credguard.db.engine import session_scope
from credguard.errors import ConfigurationError, CredGuardError
from credguard.ml import registry
from credguard.scoring.model import ScoringModel
from credguard.scoring.score import score_chunk

log = structlog.get_logger(__name__)


SCORE_COLUMNS = pl.Schema(
    {
        "scoreProbInadimplencia": pl.Float64(),
        "score": pl.Int64(),
        "faixaScore": pl.String(),
        "reasonCode1": pl.String(),
        "reasonCode2": pl.String(),
        "reasonCode3": pl.String(),
        "modelName": pl.String(),
        "modelVersion": pl.String(),
    }
)

GUARD_CHUNK = (
    "UPDATE batch_jobs SET rowsProcessed = :rows_done, rowsScored = rowsScored + :scored, "
    "rowsExcluded = rowsExcluded + :excluded, heartbeatAt = :now, updatedAt = :now "
    "WHERE id = :job_id AND workerId = :worker_id AND status = 'processing' "
    "AND rowsProcessed = :rows_before"
)

ProgressCallback = Callable[[int, int | None], None]


@dataclass
class StageTimings:
    """Seconds spent per stage of a job (parse, validate, score, store), for benchmarks and logs."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started


class LeaseLost(CredGuardError):
    """Another worker took the job over (this one was presumed dead)."""


@dataclass(frozen=True)
class ChunkResult:
    rows: pl.DataFrame
    scored: int
    excluded: int


def claim(
    engine: Engine, settings: Settings, worker_id: str, *, only: int | None = None
) -> int | None:
    """Atomically take the oldest pending job, or one whose worker stopped heartbeating.

    With ``only``, take that job or nothing.
    """
    now = utcnow()
    cutoff = now - timedelta(seconds=settings.lease_timeout_seconds)
    claimable = or_(
        BatchJob.status == BatchStatus.PENDING,
        (BatchJob.status == BatchStatus.PROCESSING)
        & or_(BatchJob.heartbeat_at.is_(None), BatchJob.heartbeat_at < cutoff),
    )
    query = select(BatchJob.id, BatchJob.attempts).where(claimable).order_by(BatchJob.id).limit(10)
    if only is not None:
        query = query.where(BatchJob.id == only)
    with session_scope(engine) as session:
        candidates = session.execute(query).all()
    for job_id, attempts in candidates:
        with session_scope(engine) as session:
            if attempts >= settings.max_attempts:
                _give_up(session, job_id, attempts, claimable)
                continue
            taken = rowcount(
                session.execute(
                    update(BatchJob)
                    .where(BatchJob.id == job_id, BatchJob.attempts == attempts, claimable)
                    .values(
                        status=BatchStatus.PROCESSING,
                        worker_id=worker_id,
                        heartbeat_at=now,
                        updated_at=now,
                        attempts=attempts + 1,
                    )
                )
            )
        if taken == 1:
            log.info("batch claimed", job_id=job_id, worker_id=worker_id, attempt=attempts + 1)
            return int(job_id)
    return None


def _give_up(session: Session, job_id: int, attempts: int, claimable: ColumnElement[bool]) -> None:
    """Fail a job that crashed its workers ``attempts`` times instead of looping on it.

    One guarded UPDATE: a job that completed, or was claimed, meanwhile is left alone.
    """
    job = session.get(BatchJob, job_id)
    reason = (job.error if job else None) or "the worker stopped responding while processing it"
    now = utcnow()
    failed = rowcount(
        session.execute(
            update(BatchJob)
            .where(BatchJob.id == job_id, BatchJob.attempts == attempts, claimable)
            .values(
                status=BatchStatus.FAILED,
                error=f"gave up after {attempts} attempts: {reason}"[:2000],
                rows_processed=0,
                rows_scored=0,
                rows_excluded=0,
                finished_at=now,
                updated_at=now,
                heartbeat_at=None,
            )
            .execution_options(synchronize_session=False)
        )
    )
    if failed == 1:
        session.execute(delete(CustomerScore).where(CustomerScore.batch_job_id == job_id))
        log.error("batch failed after repeated crashes", job_id=job_id, attempts=attempts)


def _fail(session: Session, job: BatchJob, message: str) -> None:
    """Mark ``job`` failed with ``message`` and drop what it wrote (a failed job holds no rows)."""
    session.execute(delete(CustomerScore).where(CustomerScore.batch_job_id == job.id))
    job.status = BatchStatus.FAILED
    job.error = message
    job.rows_processed = job.rows_scored = job.rows_excluded = 0
    job.finished_at = job.updated_at = utcnow()
    job.heartbeat_at = None


@dataclass(frozen=True)
class _Run:
    """What one run of a job works with, read once when it starts."""

    job_id: int
    worker_id: str
    client_id: int
    path: Path
    created_at: datetime
    reference_date: date
    rows_done: int
    models: dict[str, ScoringModel]


def process(
    engine: Engine,
    settings: Settings,
    job_id: int,
    worker_id: str,
    on_progress: ProgressCallback | None = None,
    timings: StageTimings | None = None,
) -> str:
    """Run a claimed job to ``completed`` or ``failed``; returns the final status."""
    try:
        run = _start(engine, settings, job_id, worker_id)
        try:
            source = open_csv(run.path)
            if run.rows_done == 0:
                with session_scope(engine) as session:
                    session.execute(
                        update(BatchJob)
                        .where(BatchJob.id == job_id, BatchJob.worker_id == worker_id)
                        .values(rows_total=source.estimated_rows)
                    )
            rows_done = _run_chunks(
                engine, settings, run, source, timings or StageTimings(), on_progress
            )
        except InvalidFile as exc:
            return _finish_failed(engine, job_id, worker_id, str(exc))
        return _finish_completed(engine, job_id, worker_id, rows_done)
    except LeaseLost:
        log.warning("batch lease lost", job_id=job_id, worker_id=worker_id)
        raise
    except ConfigurationError as exc:
        return _finish_failed(engine, job_id, worker_id, str(exc))
    except Exception as exc:
        _release(engine, job_id, worker_id, exc)
        raise


def _start(engine: Engine, settings: Settings, job_id: int, worker_id: str) -> _Run:
    with session_scope(engine) as session:
        job = session.get(BatchJob, job_id)
        if job is None or job.worker_id != worker_id or job.status != BatchStatus.PROCESSING:
            raise LeaseLost(f"batch job {job_id} is no longer held by {worker_id}")
        models = pin_models(session, job, settings)
        return _Run(
            job_id=job_id,
            worker_id=worker_id,
            client_id=job.client_id,
            path=Path(job.storage_path),
            created_at=job.created_at,
            reference_date=job.created_at.date(),
            rows_done=job.rows_processed,
            models=models,
        )


def _run_chunks(
    engine: Engine,
    settings: Settings,
    run: _Run,
    source: CsvSource,
    timings: StageTimings,
    on_progress: ProgressCallback | None,
) -> int:
    """Validate every chunk, score and commit those not yet committed; the rows done."""
    tracker = DuplicateTracker()
    writer = FrameWriter(engine, tmp_dir=settings.data_dir)
    rows_done = run.rows_done
    chunks = source.iter_chunks(settings.chunk_size)
    while True:
        with timings.stage("parse"):
            raw = next(chunks, None)
        if raw is None:
            return rows_done
        with timings.stage("validate"):
            normalised = normalise(
                raw, products=list(run.models), today=run.reference_date, seen=tracker
            )
            fresh = normalised.filter(pl.col(ROW_NUMBER) > rows_done)
        if fresh.height == 0:  # committed by an earlier run: validated only to track duplicates
            continue
        with timings.stage("score"):
            result = score_rows(
                fresh, run.models, settings=settings, reference_date=run.reference_date
            )
        last_row = int(fresh[ROW_NUMBER].max())  # type: ignore[arg-type]
        now = utcnow()
        params = {
            "rows_done": last_row,
            "scored": result.scored,
            "excluded": result.excluded,
            "now": now,
            "job_id": run.job_id,
            "worker_id": run.worker_id,
            "rows_before": rows_done,
        }
        frame = storage_frame(
            result.rows,
            job_id=run.job_id,
            client_id=run.client_id,
            created_at=run.created_at,
            now=now,
        )
        with timings.stage("store"):
            appended = writer.append("customer_scores", frame, GUARD_CHUNK, params)
        if not appended:
            raise LeaseLost(f"batch job {run.job_id} was taken over by another worker")
        rows_done = last_row
        if on_progress is not None:
            on_progress(rows_done, source.estimated_rows)


def pin_models(session: Session, job: BatchJob, settings: Settings) -> dict[str, ScoringModel]:
    """The job's models, pinned at its first start so a promotion mid-job changes nothing."""
    if job.models is None:
        production = registry.production_models(session)
        missing = [product for product in settings.products if product not in production]
        if missing:
            raise ConfigurationError(
                f"no production model for product(s) {', '.join(missing)}; run `credguard init`"
            )
        job.models = json.dumps(
            {
                product: {"modelId": record.id, "name": record.name, "version": record.version}
                for product, record in ((p, production[p]) for p in settings.products)
            }
        )
        job.reference_date = job.created_at.date()
        job.started_at = utcnow()
        return {product: registry.load(production[product]) for product in settings.products}
    pinned: dict[str, dict[str, object]] = json.loads(job.models)
    return {
        product: registry.load(registry.get_or_raise(session, int(str(model["modelId"]))))
        for product, model in pinned.items()
    }


def score_rows(
    normalised: pl.DataFrame,
    models: dict[str, ScoringModel],
    *,
    settings: Settings,
    reference_date: date,
) -> ChunkResult:
    """Score every valid row of a normalised chunk with its product's model; keep exclusions."""
    valid_mask = normalised[EXCLUSION].is_null()
    valid = normalised.filter(valid_mask)
    excluded = normalised.filter(~valid_mask).with_columns(
        [pl.lit(None, dtype=dtype).alias(name) for name, dtype in SCORE_COLUMNS.items()]
    )
    parts = [excluded]
    for (product,), group in valid.partition_by("produto", as_dict=True).items():
        scores = score_chunk(
            group,
            models[str(product)],
            cutoffs=settings.cutoffs_for(str(product)),
            reference_date=reference_date,
        )
        parts.append(pl.concat([group, scores.select(list(SCORE_COLUMNS))], how="horizontal"))
    rows = pl.concat(
        [part.cast(SCORE_COLUMNS, strict=False) if part.height else part for part in parts],
        how="vertical_relaxed",
    ).sort(ROW_NUMBER)
    return ChunkResult(rows=rows, scored=valid.height, excluded=excluded.height)


def storage_frame(
    rows: pl.DataFrame, *, job_id: int, client_id: int, created_at: datetime, now: datetime
) -> pl.DataFrame:
    """A chunk's rows in ``customer_scores`` column order and types.

    ``createdAt`` is the job's, so the runbook's 90-day archival dumps and deletes a job's rows
    together with the job, however late they were processed.
    """
    return rows.select(
        pl.lit(job_id, dtype=pl.Int64).alias("batchJobId"),
        pl.lit(client_id, dtype=pl.Int64).alias("clientId"),
        pl.col(ROW_NUMBER),
        "cpf",
        "nome",
        "produto",
        "data_primeira_compra",
        "data_ultima_compra",
        *INTEGER_COLUMNS[:1],
        "valor_total_compras",
        *INTEGER_COLUMNS[1:],
        *SCORE_COLUMNS,
        pl.col(EXCLUSION),
        pl.lit(now, dtype=pl.Datetime("us")).alias("dataProcessamento"),
        pl.lit(created_at, dtype=pl.Datetime("us")).alias("createdAt"),
    )


def _finish_completed(engine: Engine, job_id: int, worker_id: str, rows_done: int) -> str:
    now = utcnow()
    with session_scope(engine) as session:
        finished = rowcount(
            session.execute(
                update(BatchJob)
                .where(
                    BatchJob.id == job_id,
                    BatchJob.worker_id == worker_id,
                    BatchJob.status == BatchStatus.PROCESSING,
                )
                .values(
                    status=BatchStatus.COMPLETED,
                    rows_total=rows_done,
                    finished_at=now,
                    updated_at=now,
                    heartbeat_at=None,
                    error=None,
                )
            )
        )
    if finished != 1:
        raise LeaseLost(f"batch job {job_id} was taken over before it could complete")
    log.info("batch completed", job_id=job_id, rows=rows_done)
    metrics.observe_batch_job(engine, job_id)
    return BatchStatus.COMPLETED


def _finish_failed(engine: Engine, job_id: int, worker_id: str, message: str) -> str:
    with session_scope(engine) as session:
        job = session.get(BatchJob, job_id)
        if job is None or job.worker_id != worker_id or job.status != BatchStatus.PROCESSING:
            raise LeaseLost(f"batch job {job_id} was taken over or cancelled before it could fail")
        _fail(session, job, message)
    log.warning("batch failed", job_id=job_id, error=message)
    return BatchStatus.FAILED


def _release(engine: Engine, job_id: int, worker_id: str, exc: BaseException) -> None:
    """After an unexpected error, let the job be claimed again at once (attempts still count)."""
    log.exception("batch processing crashed", job_id=job_id, worker_id=worker_id)
    try:
        with session_scope(engine) as session:
            session.execute(
                update(BatchJob)
                .where(BatchJob.id == job_id, BatchJob.worker_id == worker_id)
                .values(heartbeat_at=None, error=f"{type(exc).__name__}: {exc}"[:2000])
            )
    except Exception:  # the database itself may be what failed; the lease will expire anyway
        log.exception("could not release batch job", job_id=job_id)
