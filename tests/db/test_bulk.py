"""Bulk writes: a chunk is stored exactly as sent, with its guard, or not at all."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine, select

from credguard.batches.tables import BatchJob
from credguard.config import Settings
from credguard.db.bulk import BulkLoadRejected, FrameWriter
from credguard.db.engine import session_scope
from tests import factories

GUARD = "UPDATE batch_jobs SET rowsProcessed = rowsProcessed + :n WHERE id = :job_id"


def _rows(job_id: int, names: list[str | None]) -> pl.DataFrame:
    count = len(names)
    return pl.DataFrame(
        {
            "batchJobId": [job_id] * count,
            "clientId": [1] * count,
            "rowNumber": list(range(1, count + 1)),
            "nome": names,
            "data_primeira_compra": [date(2020, 1, 2)] * count,
            "dataProcessamento": [datetime(2025, 1, 2, 3, 4, 5)] * count,
            "createdAt": [datetime(2025, 1, 2, 3, 4, 5)] * count,
        },
        schema_overrides={"nome": pl.String},
    )


@pytest.fixture
def job_id(engine: Engine, settings: Settings, client_id: int, tmp_path: Path) -> int:
    path = factories.write_file(factories.make_customers(3), tmp_path / "f.csv")
    return factories.submit(engine, settings, path, client_id)


def test_text_survives_as_sent(engine: Engine, settings: Settings, job_id: int) -> None:
    names = ["NULL", None, 'O"Brien, \\N', "back\\slash", "linha\nquebrada", "Conceição"]
    assert FrameWriter(engine, tmp_dir=settings.data_dir).append(
        "customer_scores", _rows(job_id, names), GUARD, {"n": 6, "job_id": job_id}
    )
    stored = factories.stored_rows(engine, job_id)
    assert stored["nome"].to_list() == names
    assert factories.get_job(engine, job_id).rows_processed == 6


def test_a_rejected_chunk_leaves_nothing_behind(
    engine: Engine, settings: Settings, job_id: int
) -> None:
    writer = FrameWriter(engine, tmp_dir=settings.data_dir)
    assert writer.append(
        "customer_scores", _rows(job_id, ["a", "b"]), GUARD, {"n": 2, "job_id": job_id}
    )

    with pytest.raises(BulkLoadRejected):  # rows 1-2 again: the unique key
        writer.append(
            "customer_scores", _rows(job_id, ["a", "b", "c"]), GUARD, {"n": 3, "job_id": job_id}
        )

    assert factories.stored_rows(engine, job_id)["nome"].to_list() == ["a", "b"]
    with session_scope(engine) as session:
        assert session.scalar(select(BatchJob.rows_processed).where(BatchJob.id == job_id)) == 2


def test_a_guard_that_matches_nothing_writes_nothing(
    engine: Engine, settings: Settings, job_id: int
) -> None:
    written = FrameWriter(engine, tmp_dir=settings.data_dir).append(
        "customer_scores", _rows(job_id, ["a"]), GUARD, {"n": 1, "job_id": job_id + 1000}
    )
    assert written is False and factories.stored_rows(engine, job_id).height == 0
