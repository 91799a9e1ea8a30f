"""Plain builders for tests: files of customers, submitted and processed jobs."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
from sqlalchemy import Engine

from credguard.batches import processing, service
from credguard.batches.tables import BatchJob
from credguard.config import Settings
from credguard.db.base import utcnow
from credguard.db.engine import session_scope
from credguard.synth import generator


def today_utc() -> date:
    """The UTC day now, read when a test needs it (a module constant would be the day the
    suite was collected, and a run may cross midnight)."""
    return utcnow().date()


def make_customers(
    rows: int, *, seed: int = 1, dirty_share: float = 0.0, products: list[str] | None = None
) -> pl.DataFrame:
    """Synthetic customers, with the exclusion each dirty row should get (``motivo_esperado``)."""
    return generator.generate(
        rows,
        seed=seed,
        products=products or ["CARTAO", "EMPRESTIMO", "CREDIARIO"],
        reference_date=today_utc(),  # jobs judge dates by their UTC upload day
        dirty_share=dirty_share,
        label_defects=True,
    )


def write_file(frame: pl.DataFrame, path: Path, *, delimiter: str = ",") -> Path:
    generator.write_csv(frame, path, delimiter=delimiter)
    return path


def submit(engine: Engine, settings: Settings, path: Path, client_id: int) -> int:
    with session_scope(engine) as session:
        return service.submit(
            session, path, uploads_dir=settings.uploads_dir, client_id=client_id
        ).id


def process(
    engine: Engine, settings: Settings, job_id: int, worker_id: str = "test-worker"
) -> BatchJob:
    """Claim and run ``job_id`` here; the finished job."""
    assert processing.claim(engine, settings, worker_id, only=job_id) == job_id
    processing.process(engine, settings, job_id, worker_id)
    return get_job(engine, job_id)


def scored_job(
    engine: Engine, settings: Settings, client_id: int, customers: pl.DataFrame, path: Path
) -> int:
    """Write ``customers`` to ``path`` and score them as a completed job of ``client_id``; its id."""
    write_file(customers, path)
    job = process(engine, settings, submit(engine, settings, path, client_id))
    assert job.status == "completed", job.error
    return job.id


def get_job(engine: Engine, job_id: int) -> BatchJob:
    with session_scope(engine) as session:
        return service.get_or_raise(session, job_id)


def stored_rows(engine: Engine, job_id: int) -> pl.DataFrame:
    with engine.connect() as connection:
        return pl.read_database(
            f"SELECT * FROM customer_scores WHERE batchJobId = {job_id} ORDER BY rowNumber",
            connection,
        )


def trained_candidate(folder: Path, *, seed: int, output: str = "new_model.pkl") -> Path:
    """A CARTAO model trained by ``models train`` on 6,000 synthetic customers' outcomes, with
    metrics.json and its card beside it; the model file's path."""
    from credguard.customers.contract import REQUIRED_COLUMNS
    from credguard.ml.training import train_file

    rows = generator.generate(
        6_000, seed=seed, products=["CARTAO"], reference_date=today_utc(), dirty_share=0.0
    ).select(*REQUIRED_COLUMNS, pl.col(generator.OUTCOME_COLUMN).alias("label"))
    rows.write_csv(folder / "train.csv")
    train_file(folder / "train.csv", folder / output, product="CARTAO")
    return folder / output
