"""Batch jobs end to end on SQLite and MariaDB: every row once, scored or excluded, exported."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import Engine, update

from credguard.batches import export, processing, service
from credguard.batches.tables import BatchJob, BatchStatus
from credguard.config import Settings
from credguard.db.base import utcnow
from credguard.db.engine import session_scope
from credguard.errors import Conflict
from credguard.synth.generator import EXPECTED_EXCLUSION_COLUMN
from tests import factories


@pytest.fixture
def dirty_file(tmp_path: Path) -> tuple[pl.DataFrame, Path]:
    frame = factories.make_customers(3_500, seed=11, dirty_share=0.06)
    return frame, factories.write_file(
        frame.drop(EXPECTED_EXCLUSION_COLUMN), tmp_path / "clientes.csv", delimiter=";"
    )


def test_every_row_is_scored_or_excluded_once(
    engine: Engine, settings: Settings, client_id: int, dirty_file: tuple[pl.DataFrame, Path]
) -> None:
    frame, path = dirty_file
    observed = REGISTRY.get_sample_value("credguard_batch_job_duration_seconds_count") or 0.0
    job = factories.process(engine, settings, factories.submit(engine, settings, path, client_id))

    assert job.status == BatchStatus.COMPLETED, job.error
    assert REGISTRY.get_sample_value("credguard_batch_job_duration_seconds_count") == observed + 1
    assert job.rows_total == frame.height
    assert job.rows_scored + job.rows_excluded == frame.height
    rows = factories.stored_rows(engine, job.id)
    assert rows["rowNumber"].to_list() == list(range(1, frame.height + 1))
    assert rows["motivoExclusao"].to_list() == frame[EXPECTED_EXCLUSION_COLUMN].to_list()
    assert job.rows_excluded == frame[EXPECTED_EXCLUSION_COLUMN].is_not_null().sum() > 0

    scored = rows.filter(pl.col("motivoExclusao").is_null())
    assert scored["scoreProbInadimplencia"].is_between(0, 1).all()
    assert scored["score"].is_between(0, 1000).all()
    assert set(scored["faixaScore"].unique()) <= set("ABCDE")
    assert scored["modelName"].is_not_null().all() and scored["reasonCode1"].is_not_null().any()
    excluded = rows.filter(pl.col("motivoExclusao").is_not_null())
    assert excluded["score"].is_null().all() and excluded["faixaScore"].is_null().all()


def test_export_keeps_input_order_columns_and_neutralises_formulas(
    engine: Engine, settings: Settings, client_id: int, tmp_path: Path
) -> None:
    frame = factories.make_customers(1_500, seed=5).drop(EXPECTED_EXCLUSION_COLUMN)
    frame = frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 3)
        .then(pl.lit('=HYPERLINK("http://x","y")'))
        .otherwise(pl.col("nome"))
        .alias("nome"),
        pl.lit("@SUM(A1)").alias("observacao"),
    )
    path = factories.write_file(frame, tmp_path / "in.csv")
    job = factories.process(engine, settings, factories.submit(engine, settings, path, client_id))
    target = tmp_path / "out.csv"

    assert export.export_results(engine, job, target, chunk_rows=400) == frame.height

    raw = target.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    out = pl.read_csv(target, infer_schema=False)
    assert out.columns[: frame.width] == frame.columns
    assert {
        "scoreProbInadimplencia",
        "score",
        "faixaScore",
        "motivoExclusao",
        "motivosScore",
    } <= set(out.columns)
    assert out["cpf"].to_list() == frame["cpf"].to_list()
    assert out["nome"][3] == "'" + frame["nome"][3]
    assert (out["observacao"] == "'@SUM(A1)").all()
    assert (
        out["prob_inadimplencia_real"].to_list()
        == frame["prob_inadimplencia_real"].cast(pl.String).to_list()
    )


BAD_FILES = {
    "empty": (b"", "empty"),
    "workbook": (b"PK\x03\x04" + bytes(200), "Excel"),
    "missing column": (b"cpf,nome,produto\n52998224725,Ana,CARTAO\n", "total_atrasos"),
    "results file sent back": (
        b"cpf,nome,produto,data_primeira_compra,data_ultima_compra,total_compras,valor_total_compras,"
        b"total_pagamentos_em_dia,total_atrasos,maior_atraso,score,faixaScore\n"
        b"52998224725,Ana,CARTAO,2020-01-01,2024-01-01,3,100.00,3,0,0,900,B\n",
        "score, faixaScore",
    ),
    "ragged": (
        b"cpf,nome,produto,data_primeira_compra,data_ultima_compra,total_compras,valor_total_compras,"
        b"total_pagamentos_em_dia,total_atrasos,maior_atraso\n"
        b"52998224725,Ana,CARTAO,2020-01-01,2024-01-01,3,100.00,3,0,0\n"
        b"52998224725,Ana,CARTAO,2020-01-01\n",
        "line 3",
    ),
}


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_malformed_file_fails_its_job_with_a_clear_error(
    engine: Engine, settings: Settings, client_id: int, tmp_path: Path, name: str
) -> None:
    content, expected = BAD_FILES[name]
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    job = factories.process(engine, settings, factories.submit(engine, settings, path, client_id))

    assert job.status == BatchStatus.FAILED
    assert job.error is not None and expected in job.error
    assert factories.stored_rows(engine, job.id).height == 0


def test_two_workers_never_claim_the_same_job(
    engine: Engine, settings: Settings, client_id: int, tmp_path: Path
) -> None:
    path = factories.write_file(factories.make_customers(5), tmp_path / "small.csv")
    job_ids = {factories.submit(engine, settings, path, client_id) for _ in range(12)}
    claimed: list[int] = []
    lock = threading.Lock()
    # Atomic claims, not lease expiry: a claimed job must not become free again while the
    # threads still claim on a slow machine (the tests' lease is 2 s).
    held = settings.model_copy(update={"lease_timeout_seconds": 600})

    def claim_all(worker: str) -> None:
        while (job_id := processing.claim(engine, held, worker)) is not None:
            with lock:
                claimed.append(job_id)

    threads = [threading.Thread(target=claim_all, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(claimed) == sorted(job_ids)


def _expire_lease(engine: Engine, job_id: int) -> None:
    with session_scope(engine) as session:
        session.execute(
            update(BatchJob)
            .where(BatchJob.id == job_id)
            .values(heartbeat_at=utcnow() - timedelta(hours=1))
        )


def test_a_worker_presumed_dead_cannot_write_and_the_new_owner_completes(
    engine: Engine, settings: Settings, client_id: int, dirty_file: tuple[pl.DataFrame, Path]
) -> None:
    frame, path = dirty_file
    job_id = factories.submit(engine, settings, path, client_id)
    assert processing.claim(engine, settings, "old", only=job_id) == job_id
    _expire_lease(engine, job_id)
    assert processing.claim(engine, settings, "new", only=job_id) == job_id

    with pytest.raises(processing.LeaseLost):
        processing.process(engine, settings, job_id, "old")
    processing.process(engine, settings, job_id, "new")

    job = factories.get_job(engine, job_id)
    assert job.status == BatchStatus.COMPLETED and job.attempts == 2
    assert factories.stored_rows(engine, job_id)["rowNumber"].to_list() == list(
        range(1, frame.height + 1)
    )


def test_a_job_that_keeps_crashing_its_worker_ends_failed(
    engine: Engine, settings: Settings, client_id: int, tmp_path: Path
) -> None:
    path = factories.write_file(factories.make_customers(10), tmp_path / "f.csv")
    job_id = factories.submit(engine, settings, path, client_id)
    for attempt in range(settings.max_attempts):
        assert processing.claim(engine, settings, f"w{attempt}") == job_id
        _expire_lease(engine, job_id)

    assert processing.claim(engine, settings, "last") is None
    job = factories.get_job(engine, job_id)
    assert job.status == BatchStatus.FAILED
    assert job.error is not None and f"after {settings.max_attempts} attempts" in job.error


def test_reprocess_replaces_rows_and_refuses_a_live_job(
    engine: Engine, settings: Settings, client_id: int, dirty_file: tuple[pl.DataFrame, Path]
) -> None:
    frame, path = dirty_file
    job_id = factories.submit(engine, settings, path, client_id)
    first = factories.process(engine, settings, job_id)

    with session_scope(engine) as session:
        service.reprocess(session, job_id, lease_timeout_seconds=settings.lease_timeout_seconds)
    assert factories.stored_rows(engine, job_id).height == 0
    second = factories.process(engine, settings, job_id, worker_id="again")

    assert second.status == BatchStatus.COMPLETED
    assert (second.rows_scored, second.rows_excluded) == (first.rows_scored, first.rows_excluded)
    assert factories.stored_rows(engine, job_id).height == frame.height

    with session_scope(engine) as session:
        service.reprocess(session, job_id, lease_timeout_seconds=settings.lease_timeout_seconds)
    assert processing.claim(engine, settings, "busy", only=job_id) == job_id
    with pytest.raises(Conflict), session_scope(engine) as session:
        service.reprocess(session, job_id, lease_timeout_seconds=settings.lease_timeout_seconds)


def test_export_types_columns_whose_first_rows_are_all_null(
    engine: Engine, settings: Settings, client_id: int, tmp_path: Path
) -> None:
    """Regression: a column's type came from its first 100 rows, all null (nobody excluded)."""
    frame = factories.make_customers(600, seed=8).drop(EXPECTED_EXCLUSION_COLUMN)
    frame = frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 450)
        .then(pl.lit("0"))
        .otherwise(pl.col("total_compras"))
        .alias("total_compras")
    )
    path = factories.write_file(frame, tmp_path / "in.csv")
    job = factories.process(engine, settings, factories.submit(engine, settings, path, client_id))

    export.export_results(engine, job, tmp_path / "out.csv", chunk_rows=10_000)

    out = pl.read_csv(tmp_path / "out.csv", infer_schema=False)
    assert (
        out["motivoExclusao"].to_list() == [None] * 450 + ["HISTORICO_INSUFICIENTE"] + [None] * 149
    )


def test_export_refuses_an_unfinished_job(
    engine: Engine, settings: Settings, client_id: int, tmp_path: Path
) -> None:
    path = factories.write_file(factories.make_customers(10), tmp_path / "f.csv")
    job = factories.get_job(engine, factories.submit(engine, settings, path, client_id))
    with pytest.raises(Conflict, match="pending"):
        export.export_results(engine, job, tmp_path / "out.csv", chunk_rows=100)


def test_an_unexpected_error_releases_the_job_and_repeated_failures_end_it(
    engine: Engine, settings: Settings, client_id: int, tmp_path: Path
) -> None:
    path = factories.write_file(factories.make_customers(10), tmp_path / "f.csv")
    job_id = factories.submit(engine, settings, path, client_id)
    Path(factories.get_job(engine, job_id).storage_path).unlink()  # the stored upload vanished

    for attempt in range(settings.max_attempts):
        assert processing.claim(engine, settings, f"w{attempt}") == job_id  # released at once
        with pytest.raises(FileNotFoundError):
            processing.process(engine, settings, job_id, f"w{attempt}")
        assert factories.get_job(engine, job_id).heartbeat_at is None

    assert processing.claim(engine, settings, "last") is None
    job = factories.get_job(engine, job_id)
    assert job.status == BatchStatus.FAILED
    assert job.error is not None and "FileNotFoundError" in job.error and "3 attempts" in job.error


def test_a_worker_that_loses_its_lease_mid_job_writes_nothing_more(
    engine: Engine, settings: Settings, client_id: int, dirty_file: tuple[pl.DataFrame, Path]
) -> None:
    """The per-chunk guard: the job is taken over between two chunks of the first worker."""
    frame, path = dirty_file
    job_id = factories.submit(engine, settings, path, client_id)
    assert processing.claim(engine, settings, "first", only=job_id) == job_id
    seen: list[int] = []

    def taken_over_after_first_chunk(done: int, _: int | None) -> None:
        seen.append(done)
        if len(seen) == 1:
            _expire_lease(engine, job_id)
            assert processing.claim(engine, settings, "second", only=job_id) == job_id

    with pytest.raises(processing.LeaseLost):
        processing.process(
            engine, settings, job_id, "first", on_progress=taken_over_after_first_chunk
        )
    assert seen == [settings.chunk_size]
    assert factories.stored_rows(engine, job_id).height == settings.chunk_size

    processing.process(engine, settings, job_id, "second")
    rows = factories.stored_rows(engine, job_id)
    assert rows["rowNumber"].to_list() == list(range(1, frame.height + 1))
