"""RUNBOOK.md's SQL, verbatim, through the ``mysql`` client against a MariaDB CredGuard filled.

Sections 2.1 (step 4), 2.5, 4.1 and 5.2 (step 1). The statements below are copied from the
runbook character for character; only the connection options differ (the test server's root
account instead of ``-u credguard -p``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine, func, select, update

from credguard.batches import processing
from credguard.batches.tables import BatchJob, BatchStatus, CustomerScore
from credguard.bureau.tables import BureauCacheEntry
from credguard.config import Settings
from credguard.db.base import utcnow
from credguard.db.engine import session_scope
from credguard.ml.artifact import ModelArtifact
from credguard.scoring.features import FEATURES
from credguard.scoring.model import ScoringModel
from tests import factories
from tests.conftest import mariadb_engine

pytestmark = pytest.mark.mariadb
ROOT = Path(__file__).resolve().parents[2]

STUCK_JOBS = """SELECT id, status, createdAt, fileName 
FROM batch_jobs 
WHERE status = 'processing' 
AND createdAt < DATE_SUB(NOW(), INTERVAL 1 HOUR);"""

FAILED_JOBS = """SELECT id, status, error, createdAt 
FROM batch_jobs 
WHERE status = 'failed' 
AND createdAt > DATE_SUB(NOW(), INTERVAL 24 HOUR);"""

EXPIRED_BUREAU_CACHE = """DELETE FROM bureau_cache 
WHERE expiresAt < NOW();"""

ARCHIVE_WHERE = "createdAt < DATE_SUB(NOW(), INTERVAL 90 DAY)"

DELETE_ARCHIVED = """DELETE FROM customer_scores WHERE batchJobId IN (
  SELECT id FROM batch_jobs WHERE createdAt < DATE_SUB(NOW(), INTERVAL 90 DAY)
);
DELETE FROM batch_jobs WHERE createdAt < DATE_SUB(NOW(), INTERVAL 90 DAY);"""

SCORE_DISTRIBUTION = """SELECT 
  produto,
  faixaScore,
  COUNT(*) as total,
  ROUND(COUNT(*) * 100.0 / SUM(COUNT(*)) OVER (PARTITION BY produto), 2) as percentual
FROM customer_scores
WHERE dataProcessamento >= DATE_SUB(CURDATE(), INTERVAL 1 MONTH)
GROUP BY produto, faixaScore
ORDER BY produto, faixaScore;"""

TRAINING_EXPORT = """
SELECT 
  cpf, nome, produto, 
  data_primeira_compra, data_ultima_compra,
  total_compras, valor_total_compras,
  total_pagamentos_em_dia, total_atrasos, maior_atraso,
  scoreProbInadimplencia as label
FROM customer_scores
WHERE dataProcessamento >= DATE_SUB(NOW(), INTERVAL 6 MONTH)
AND motivoExclusao IS NULL
"""


def _client_args(engine: Engine) -> list[str]:
    url = engine.url
    args = [
        "-h",
        url.host or "127.0.0.1",
        "-P",
        str(url.port or 3306),
        "-u",
        url.username or "root",
    ]
    if url.password:
        args.append(f"-p{url.password}")
    return args


def mysql(engine: Engine, sql: str, *, flag_e: bool = False) -> list[list[str]]:
    """Run ``sql`` with the mysql client as the runbook does; rows of its tab-separated output."""
    command = ["mysql", *_client_args(engine), str(engine.url.database)]
    if flag_e:
        result = subprocess.run([*command, "-e", sql], capture_output=True, text=True, check=True)
    else:
        result = subprocess.run(command, input=sql, capture_output=True, text=True, check=True)
    lines = result.stdout.splitlines()
    return [line.split("\t") for line in lines]


@pytest.fixture
def engine(mariadb_url: str) -> Iterator[Engine]:
    """MariaDB only: the runbook's SQL is MySQL's."""
    yield from mariadb_engine(mariadb_url)


@pytest.fixture
def filled(engine: Engine, settings: Settings, client_id: int, tmp_path: Path) -> dict[str, int]:
    """A database as production would have it: recent, stuck, failed and 100-day-old jobs."""
    customers = factories.make_customers(2_000, seed=21, dirty_share=0.05)
    path = factories.write_file(customers.drop("motivo_esperado"), tmp_path / "c.csv")
    now = utcnow()
    recent = factories.process(
        engine, settings, factories.submit(engine, settings, path, client_id)
    ).id
    old = factories.submit(engine, settings, path, client_id)
    with session_scope(engine) as session:  # uploaded 100 days ago, processed now
        session.execute(
            update(BatchJob).where(BatchJob.id == old).values(created_at=now - timedelta(days=100))
        )
    factories.process(engine, settings, old)
    stuck = factories.submit(engine, settings, path, client_id)
    assert processing.claim(engine, settings, "stuck-worker", only=stuck) == stuck
    bad = tmp_path / "bad.csv"
    bad.write_text("nome;cpf\nAna;123\n")
    failed = factories.process(
        engine, settings, factories.submit(engine, settings, bad, client_id)
    ).id
    with session_scope(engine) as session:
        session.execute(
            update(BatchJob).where(BatchJob.id == stuck).values(created_at=now - timedelta(hours=6))
        )
        session.execute(  # as if processed back then too, so the monthly distribution leaves it out
            update(CustomerScore)
            .where(CustomerScore.batch_job_id == old)
            .values(data_processamento=now - timedelta(days=100))
        )
        for index, expires in enumerate(
            [now - timedelta(days=1), now - timedelta(minutes=5), now + timedelta(days=7)]
        ):
            session.add(
                BureauCacheEntry(
                    provider="demo", cpf=f"{index:011d}", payload="{}", expires_at=expires
                )
            )
    return {"recent": recent, "old": old, "stuck": stuck, "failed": failed}


def test_morning_check_finds_the_stuck_and_the_failed_jobs(
    engine: Engine, filled: dict[str, int]
) -> None:
    stuck = mysql(engine, STUCK_JOBS)
    assert stuck[0] == ["id", "status", "createdAt", "fileName"]
    assert [row[0] for row in stuck[1:]] == [str(filled["stuck"])]
    assert stuck[1][1] == BatchStatus.PROCESSING

    failed = mysql(engine, FAILED_JOBS)
    assert [row[0] for row in failed[1:]] == [str(filled["failed"])]
    assert "missing required column" in failed[1][2]


def test_expired_bureau_cache_is_deleted(engine: Engine, filled: dict[str, int]) -> None:
    mysql(engine, EXPIRED_BUREAU_CACHE)
    with session_scope(engine) as session:
        remaining = session.scalars(select(BureauCacheEntry.expires_at)).all()
    assert len(remaining) == 1 and remaining[0] > utcnow()


def test_monthly_archive_dumps_then_deletes_only_old_jobs(
    engine: Engine, filled: dict[str, int], tmp_path: Path
) -> None:
    dump = tmp_path / "jobs.sql"
    with dump.open("w") as handle:
        subprocess.run(
            [
                "mysqldump",
                *_client_args(engine),
                str(engine.url.database),
                "batch_jobs",
                "customer_scores",
                f"--where={ARCHIVE_WHERE}",
            ],
            stdout=handle,
            check=True,
        )
    text = dump.read_text()
    assert "INSERT INTO `batch_jobs`" in text and "INSERT INTO `customer_scores`" in text
    with session_scope(engine) as session:
        old_rows = session.scalar(
            select(func.count()).where(CustomerScore.batch_job_id == filled["old"])
        )
        total_before = session.scalar(select(func.count()).select_from(CustomerScore))
    assert old_rows == 2_000

    mysql(engine, DELETE_ARCHIVED)

    with session_scope(engine) as session:
        jobs = set(session.scalars(select(BatchJob.id)))
        total_after = session.scalar(select(func.count()).select_from(CustomerScore))
    assert jobs == {filled["recent"], filled["stuck"], filled["failed"]}
    assert total_after == total_before - old_rows


def test_monthly_score_distribution(engine: Engine, filled: dict[str, int]) -> None:
    rows = mysql(engine, SCORE_DISTRIBUTION)
    assert rows[0] == ["produto", "faixaScore", "total", "percentual"]
    result = pl.DataFrame(rows[1:], schema=rows[0], orient="row").with_columns(
        pl.col("total").cast(pl.Int64), pl.col("percentual").cast(pl.Float64)
    )
    stored = factories.stored_rows(engine, filled["recent"])
    assert result["total"].sum() == stored.height  # the 100-day-old job is outside the month
    assert set(result.filter(pl.col("faixaScore") != "NULL")["faixaScore"]) <= set("ABCDE")
    sums = result.group_by("produto").agg(pl.col("percentual").sum())
    assert sums["percentual"].is_between(99.9, 100.1).all()


def test_retraining_export_writes_scored_rows_of_six_months(
    engine: Engine, filled: dict[str, int], tmp_path: Path
) -> None:
    rows = mysql(engine, TRAINING_EXPORT, flag_e=True)
    header, data = rows[0], rows[1:]
    assert header[-1] == "label" and header[:3] == ["cpf", "nome", "produto"]
    stored = pl.concat(
        [
            factories.stored_rows(engine, filled[job]) for job in ("recent", "old")
        ]  # 100 days < 6 months
    ).filter(pl.col("motivoExclusao").is_null())
    assert len(data) == stored.height
    assert all(0.0 < float(row[-1]) < 1.0 for row in data)


def export_training_data(engine: Engine, path: Path) -> Path:
    """Runbook 5.2 step 1 as written: ``mysql … -e "SELECT …" > path``."""
    with path.open("w") as handle:
        subprocess.run(
            ["mysql", *_client_args(engine), str(engine.url.database), "-e", TRAINING_EXPORT],
            stdout=handle,
            check=True,
        )
    return path


def run_runbook_script(
    script: str,
    *args: str,
    settings: dict[str, str] | None = None,
    env_file: str | None = os.devnull,
) -> subprocess.CompletedProcess[str]:
    """``cd ml_training && python3 SCRIPT ARGS`` with the system's python3, as the runbook does.

    No CREDGUARD_* variable leaks in from the test run except ``settings``; the service's
    settings file is ``env_file`` (by default an empty one; None: the script's default path).
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith("CREDGUARD_")}
    if env_file is not None:
        env["CREDGUARD_ENV_FILE"] = env_file
    env.update(settings or {})
    return subprocess.run(
        [shutil.which("python3") or sys.executable, script, *args],
        cwd=ROOT / "ml_training",
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_retraining_steps_1_and_2_as_the_runbook_runs_them(
    engine: Engine, filled: dict[str, int], tmp_path: Path
) -> None:
    """Export with the runbook's ``mysql -e … > file``, then the system's python3 train_model.py."""
    export = export_training_data(engine, tmp_path / "training_data.csv")
    result = run_runbook_script(
        "train_model.py",
        "--input",
        str(export),
        "--output",
        str(tmp_path / "new_model.pkl"),
        "--product",
        "CARTAO",
    )
    assert result.returncode == 0, result.stderr
    assert "probabilities, not observed defaults" in result.stderr
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["label"] == "probability" and metrics["product"] == "CARTAO"
    cartao = pl.concat(
        [factories.stored_rows(engine, filled[job]) for job in ("recent", "old")]
    ).filter(pl.col("motivoExclusao").is_null() & (pl.col("produto") == "CARTAO"))
    assert metrics["n_train"] + metrics["n_holdout"] == cartao.height
    assert metrics["auc"] > 0.6 and 0 < metrics["brier"] < 0.25
    assert [band["band"] for band in metrics["calibration_by_band"]] == list("ABCDE")
    assert set(metrics["reference"]["features"]) == set(FEATURES)
    model = ScoringModel(ModelArtifact.load(tmp_path / "new_model.pkl"))  # JSON, not a pickle
    assert model.product == "CARTAO"
