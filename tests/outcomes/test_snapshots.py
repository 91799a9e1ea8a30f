"""Score snapshots: the pseudonymised copy of stored scores that outlives the 90-day archival.

On SQLite and MariaDB: what a capture copies (and never: a CPF, a name), once and then only new
jobs, per client, in chunks, by several processes at once, after a run that died mid-job, after
a reprocess; an outcome sent after the runbook's archival still links and is exported; purge.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from datetime import datetime, time, timedelta
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine, delete, func, select, text, update

from credguard.accounts import service as accounts
from credguard.batches import service as batches
from credguard.batches.tables import BatchJob, CustomerScore
from credguard.config import Settings
from credguard.customers.contract import Exclusion
from credguard.db.base import utcnow
from credguard.db.engine import session_scope
from credguard.outcomes import snapshots
from credguard.outcomes.pseudonym import pseudonym_key
from credguard.outcomes.tables import ScoreSnapshot, ScoreSnapshotJob
from credguard.scoring.features import INPUT_COLUMNS
from tests import factories
from tests.cli.test_cli import credguard
from tests.db.test_runbook_sql import DELETE_ARCHIVED, mysql
from tests.factories import today_utc

#: Snapshot columns copied unchanged from customer_scores.
COPIED = [
    "produto",
    "batchJobId",
    "dataProcessamento",
    *INPUT_COLUMNS,
    "scoreProbInadimplencia",
    "faixaScore",
    "motivoExclusao",
    "modelName",
    "modelVersion",
]


def scored_job(
    engine: Engine,
    settings: Settings,
    client_id: int,
    path: Path,
    *,
    rows: int = 40,
    seed: int = 5,
    dirty_share: float = 0.0,
) -> int:
    customers = factories.make_customers(rows, seed=seed, dirty_share=dirty_share)
    return factories.scored_job(
        engine, settings, client_id, customers.drop("motivo_esperado"), path
    )


def copyable(engine: Engine, *job_ids: int) -> pl.DataFrame:
    """The stored rows of ``job_ids`` a capture copies: all but those with an invalid CPF."""
    rows = pl.concat([factories.stored_rows(engine, job) for job in job_ids], how="vertical")
    return rows.filter(
        pl.col("motivoExclusao").is_null() | (pl.col("motivoExclusao") != Exclusion.CPF_INVALIDO)
    )


def table(engine: Engine, model: type[ScoreSnapshot] | type[ScoreSnapshotJob]) -> pl.DataFrame:
    """Every row of a table, typed as the ORM reads them (dates as dates on both engines)."""
    mapped = model.__table__
    with engine.connect() as connection:
        found = [dict(row) for row in connection.execute(select(mapped)).mappings()]
    return pl.DataFrame(found, infer_schema_length=None)


def count(engine: Engine) -> int:
    with session_scope(engine) as session:
        return session.scalar(select(func.count()).select_from(ScoreSnapshot)) or 0


def as_text(frame: pl.DataFrame, columns: list[str]) -> list[tuple[str | None, ...]]:
    """``columns`` as text, money as a float first (Decimal on one side, float on the other)."""
    return frame.select(
        [
            (pl.col(name).cast(pl.Float64) if name == "valor_total_compras" else pl.col(name)).cast(
                pl.String
            )
            for name in columns
        ]
    ).rows()


def test_capture_copies_each_completed_job_once_then_only_new_ones_per_client(
    engine: Engine, settings: Settings, client_id: int, tmp_path: Path
) -> None:
    first = scored_job(engine, settings, client_id, tmp_path / "a.csv", dirty_share=0.3)
    pending = factories.submit(engine, settings, tmp_path / "a.csv", client_id)
    expected = copyable(engine, first)
    stored = factories.stored_rows(engine, first)
    assert 0 < expected.height < stored.height  # rows with an invalid CPF are left out

    assert snapshots.capture(engine, settings) == expected.height
    copied = table(engine, ScoreSnapshot).sort("scoreId")
    assert copied["scoreId"].to_list() == expected["id"].to_list()
    assert as_text(copied, COPIED) == as_text(expected, COPIED)
    key = pseudonym_key(settings)
    assert copied["cpfHash"].to_list() == [
        hmac.new(key, cpf.encode(), hashlib.sha256).hexdigest() for cpf in expected["cpf"]
    ]
    job = factories.get_job(engine, first)
    assert set(copied["clientId"]) == {client_id}
    assert set(copied["scoreReferenceDate"].cast(pl.Date)) == {job.reference_date}
    assert table(engine, ScoreSnapshotJob)["rows"].to_list() == [expected.height]

    assert snapshots.capture(engine, settings) == 0  # nothing new; the pending job waits
    assert table(engine, ScoreSnapshot).sort("scoreId").equals(copied)

    factories.process(engine, settings, pending)
    with session_scope(engine) as session:
        other_client = accounts.create_client(session, "Outra Loja").id
    theirs = scored_job(engine, settings, other_client, tmp_path / "b.csv", seed=6)
    assert (
        snapshots.capture(engine, settings, client_id=client_id) == copyable(engine, pending).height
    )
    assert snapshots.capture(engine, settings, client_id=client_id) == 0
    assert snapshots.capture(engine, settings) == copyable(engine, theirs).height
    assert count(engine) == copyable(engine, first, pending, theirs).height
    jobs = table(engine, ScoreSnapshotJob).sort("batchJobId")
    assert jobs.select("batchJobId", "clientId").rows() == [
        (first, client_id),
        (pending, client_id),
        (theirs, other_client),
    ]


def test_capture_in_chunks_copies_large_and_small_jobs_alike(
    engine: Engine, settings: Settings, client_id: int, tmp_path: Path
) -> None:
    large = scored_job(engine, settings, client_id, tmp_path / "a.csv", rows=45, dirty_share=0.2)
    small = [
        scored_job(engine, settings, client_id, tmp_path / f"s{i}.csv", rows=3, seed=10 + i)
        for i in range(5)
    ]
    expected = copyable(engine, large, *small)
    key = pseudonym_key(settings)
    # 7 rows per chunk: the large job in several chunks, the small ones two or three together.
    assert snapshots.capture_with_key(engine, key, chunk_rows=7) == expected.height
    copied = table(engine, ScoreSnapshot).sort("scoreId")
    assert copied["scoreId"].to_list() == expected["id"].to_list()
    assert as_text(copied, COPIED) == as_text(expected, COPIED)
    assert table(engine, ScoreSnapshotJob).height == 6
    assert snapshots.capture_with_key(engine, key, chunk_rows=7) == 0


def test_jobs_are_grouped_by_rows_and_by_count() -> None:
    def job(job_id: int, rows: int | None) -> snapshots._Job:
        return snapshots._Job(job_id, 1, None, None, rows)

    jobs = [job(1, 3), job(2, 3), job(3, 30), job(4, None), job(5, 1), job(6, 1), job(7, 1)]
    groups = snapshots._groups(jobs, chunk_rows=7, max_jobs=2)
    assert [[j.id for j in group] for group in groups] == [[1, 2], [3], [4], [5, 6], [7]]


def test_concurrent_captures_copy_each_row_once(
    engine: Engine, settings: Settings, client_id: int, tmp_path: Path
) -> None:
    jobs = [
        scored_job(engine, settings, client_id, tmp_path / f"{i}.csv", rows=30, seed=20 + i)
        for i in range(4)
    ]
    expected = copyable(engine, *jobs).height
    key = pseudonym_key(settings)
    start = threading.Barrier(4)
    results: list[int] = []
    errors: list[BaseException] = []

    def capture() -> None:
        try:
            start.wait()
            results.append(snapshots.capture_with_key(engine, key, chunk_rows=11))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=capture) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert len(results) == 4 and sum(results) == expected  # each group copied by one of them
    assert count(engine) == expected
    assert table(engine, ScoreSnapshotJob)["batchJobId"].sort().to_list() == sorted(jobs)


def test_a_capture_that_died_mid_job_is_completed_by_the_next_without_duplicates(
    engine: Engine, settings: Settings, client_id: int, tmp_path: Path
) -> None:
    job = scored_job(engine, settings, client_id, tmp_path / "a.csv", rows=40)
    key = pseudonym_key(settings)
    snapshots.capture_with_key(engine, key, chunk_rows=10)
    whole = table(engine, ScoreSnapshot).sort("scoreId")
    # What a run leaves when it dies after some chunks: part of the rows, the job not recorded.
    with session_scope(engine) as session:
        session.execute(delete(ScoreSnapshotJob))
        session.execute(
            delete(ScoreSnapshot).where(ScoreSnapshot.score_id > int(whole["scoreId"][19]))
        )
    assert count(engine) == 20

    assert snapshots.capture_with_key(engine, key, chunk_rows=10) == 40
    again = table(engine, ScoreSnapshot).sort("scoreId")
    assert again["scoreId"].to_list() == whole["scoreId"].to_list()
    assert as_text(again, [*COPIED, "cpfHash"]) == as_text(whole, [*COPIED, "cpfHash"])
    assert table(engine, ScoreSnapshotJob).select("batchJobId", "rows").rows() == [(job, 40)]


def test_a_reprocessed_job_is_copied_again_replacing_its_earlier_copy(
    engine: Engine, settings: Settings, client_id: int, tmp_path: Path
) -> None:
    job = scored_job(engine, settings, client_id, tmp_path / "a.csv", rows=40)
    assert snapshots.capture(engine, settings) == 40
    yesterday = utcnow() - timedelta(days=1)
    with session_scope(engine) as session:  # copied yesterday (MariaDB keeps whole seconds)
        session.execute(update(ScoreSnapshot).values(created_at=yesterday))
        session.execute(update(ScoreSnapshotJob).values(finished_at=yesterday))
        batches.reprocess(session, job, lease_timeout_seconds=settings.lease_timeout_seconds)
    assert snapshots.capture(engine, settings) == 0  # pending again: its copy stays meanwhile
    assert count(engine) == 40

    factories.process(engine, settings, job)
    assert snapshots.capture(engine, settings) == 40
    copied = table(engine, ScoreSnapshot).sort("scoreId")
    now_stored = factories.stored_rows(engine, job)
    assert copied["scoreId"].to_list() == now_stored["id"].to_list()
    assert as_text(copied, COPIED) == as_text(now_stored, COPIED)
    assert snapshots.capture(engine, settings) == 0


def test_the_snapshots_never_hold_a_cpf_or_a_name(
    engine: Engine, settings: Settings, client_id: int, tmp_path: Path
) -> None:
    job = scored_job(engine, settings, client_id, tmp_path / "a.csv", rows=60, dirty_share=0.3)
    assert snapshots.capture(engine, settings) > 0
    copied = table(engine, ScoreSnapshot)
    text_cells = " ".join(
        str(value) for column in copied.columns for value in copied[column].to_list()
    )
    stored = factories.stored_rows(engine, job)
    for cpf in stored["cpf"].drop_nulls():
        assert cpf not in text_cells
    for name in stored["nome"].drop_nulls():
        assert name not in text_cells
    assert {"cpf", "nome"}.isdisjoint(copied.columns)


def _archive(engine: Engine) -> None:
    """The runbook's 2.5 archival: verbatim through the mysql client; the same on SQLite."""
    if engine.dialect.name != "sqlite":
        mysql(engine, DELETE_ARCHIVED)
        return
    with engine.begin() as connection:
        cutoff = utcnow() - timedelta(days=90)
        old_jobs = "SELECT id FROM batch_jobs WHERE createdAt < :cutoff"
        connection.execute(
            text(f"DELETE FROM customer_scores WHERE batchJobId IN ({old_jobs})"),
            {"cutoff": cutoff},
        )
        connection.execute(
            text("DELETE FROM batch_jobs WHERE createdAt < :cutoff"), {"cutoff": cutoff}
        )


def test_an_outcome_sent_after_the_archival_links_and_is_exported(
    engine: Engine, settings: Settings, client_id: int, tmp_path: Path
) -> None:
    customers = factories.make_customers(50, seed=40, products=["CARTAO"])
    job = factories.scored_job(
        engine, settings, client_id, customers.drop("motivo_esperado"), tmp_path / "c.csv"
    )
    scored_on = today_utc() - timedelta(days=100)
    with session_scope(engine) as session:  # uploaded and scored 100 days ago
        session.execute(
            update(BatchJob)
            .where(BatchJob.id == job)
            .values(
                created_at=datetime.combine(scored_on, time.min),
                reference_date=scored_on,
            )
        )
        session.execute(
            update(CustomerScore)
            .where(CustomerScore.batch_job_id == job)
            .values(data_processamento=datetime.combine(scored_on, time.min))
        )
    stored = factories.stored_rows(engine, job)
    scored = stored.filter(pl.col("motivoExclusao").is_null()).height
    assert scored == 50  # clean customers: every one scored

    captured = credguard(settings, "outcomes", "capture").stdout  # the daily capture
    assert f"captured {stored.height} score row(s)" in captured
    _archive(engine)
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(CustomerScore)) == 0
        assert session.scalar(select(func.count()).select_from(BatchJob)) == 0

    outcomes = customers.select(
        "cpf",
        pl.lit("CARTAO").alias("produto"),
        pl.col("inadimplente").cast(pl.String),
        pl.lit(today_utc().isoformat()).alias("dataReferencia"),
    )
    outcomes_file = tmp_path / "desfechos.csv"
    outcomes.write_csv(outcomes_file)
    imported = credguard(
        settings, "outcomes", "import", str(outcomes_file), "--client", str(client_id)
    ).stdout
    assert "50 received, 50 stored, 0 updated; 50 linked" in imported

    export = tmp_path / "training.csv"
    exported = credguard(
        settings, "models", "export-training-data", "--product", "CARTAO", "--output", str(export)
    ).stdout
    assert f"wrote {scored} training rows" in exported
    written = pl.read_csv(export, infer_schema=False)
    assert written.height == scored
    assert set(written["data_referencia"]) == {scored_on.isoformat()}
    assert written["label"].cast(pl.Int64).sum() == customers["inadimplente"].sum()
    text_out = export.read_text()
    for cpf in stored["cpf"]:
        assert cpf not in text_out

    # The archived job's record goes with the next purge; its snapshots stay for their term.
    purged = credguard(settings, "outcomes", "purge").stdout
    assert "deleted 0 score snapshot(s) processed more than 1825 days ago" in purged
    assert table(engine, ScoreSnapshotJob).height == 0
    assert count(engine) == stored.height


@pytest.mark.parametrize("chunk_rows", [snapshots.PURGE_CHUNK_ROWS, 3])
def test_purge_deletes_snapshots_processed_before_the_retention(
    engine: Engine, settings: Settings, client_id: int, tmp_path: Path, chunk_rows: int
) -> None:
    job = scored_job(engine, settings, client_id, tmp_path / "a.csv", rows=20)
    assert snapshots.capture(engine, settings) == 20
    ids = table(engine, ScoreSnapshot).sort("scoreId")["scoreId"].to_list()
    ages = {ids[0]: 1_826, ids[1]: 3_000, ids[2]: 1_825, ids[3]: 1_824}
    with session_scope(engine) as session:
        for score_id, age in ages.items():
            session.execute(
                update(ScoreSnapshot)
                .where(ScoreSnapshot.score_id == score_id)
                .values(
                    data_processamento=datetime.combine(today_utc() - timedelta(days=age), time(1))
                )
            )
    retention = settings.outcome_retention_days
    assert retention == 1825
    deleted = snapshots.purge(engine, retention_days=retention, chunk_rows=chunk_rows)
    assert deleted == 2
    remaining = set(table(engine, ScoreSnapshot)["scoreId"])
    assert remaining == set(ids) - {ids[0], ids[1]}
    assert table(engine, ScoreSnapshotJob)["batchJobId"].to_list() == [job]  # job still there
    assert snapshots.purge(engine, retention_days=retention) == 0
