"""The ``credguard`` command through its real entry point (a subprocess, like a user runs it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine, func, select

from credguard.batches.tables import BatchJob
from credguard.config import Settings
from credguard.db import migrate


def credguard(
    settings: Settings, *args: str, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CREDGUARD_DATA_DIR": str(settings.data_dir),
        "CREDGUARD_DATABASE_URL": settings.resolved_database_url,
        "CREDGUARD_CHUNK_SIZE": str(settings.chunk_size),
        "COLUMNS": "200",
        **(env or {}),
    }
    result = subprocess.run(
        [sys.executable, "-m", "credguard", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_synth_then_score_then_batches_commands(
    engine: Engine, settings: Settings, client_id: int, tmp_path: Path
) -> None:
    del client_id  # models and a client are in place
    source = tmp_path / "clientes.csv"
    credguard(
        settings, "synth", "--rows", "2500", "--seed", "4", "-o", str(source), "--delimiter", ";"
    )
    assert pl.read_csv(source, separator=";", infer_schema=False).height == 2500

    out = tmp_path / "resultados.csv"
    scored = credguard(settings, "score", str(source), "-o", str(out), "--client", "Loja Teste")
    assert "completed" in scored.stdout and f"wrote 2500 rows to {out}" in scored.stdout
    results = pl.read_csv(out, separator=";", infer_schema=False)
    assert results.height == 2500 and "faixaScore" in results.columns

    listed = credguard(settings, "batches", "list")
    assert "clientes.csv" in listed.stdout and "completed" in listed.stdout
    with engine.connect() as connection:
        job_id = str(connection.execute(select(func.max(BatchJob.id))).scalar_one())
    shown = credguard(settings, "batches", "show", job_id)
    assert "2500" in shown.stdout
    again = tmp_path / "again.csv"
    credguard(settings, "batches", "export", job_id, "-o", str(again))
    assert again.read_bytes() == out.read_bytes()

    submitted = credguard(settings, "batches", "submit", str(source), "--client", "Loja Teste")
    queued = submitted.stdout.split("submitted job ")[1].split()[0]
    assert "pending" in credguard(settings, "batches", "show", queued).stdout
    credguard(settings, "worker", "--until-idle")
    shown = credguard(settings, "batches", "show", queued).stdout
    assert "completed" in shown and "cartao_base v1" in shown
    credguard(settings, "batches", "reprocess", queued)
    assert "pending" in credguard(settings, "batches", "show", queued).stdout


def test_errors_are_one_clear_line_without_a_stack_trace(
    engine: Engine, settings: Settings, client_id: int, tmp_path: Path
) -> None:
    del client_id
    bad = tmp_path / "planilha.csv"
    bad.write_bytes(b"PK\x03\x04" + bytes(100))
    cases = [
        (("score", str(bad), "-o", str(tmp_path / "o.csv"), "--client", "Loja Teste"), "Excel"),
        (("batches", "show", "999"), "batch job 999 does not exist"),
        (("batches", "export", "999", "-o", str(tmp_path / "x.csv")), "does not exist"),
        (
            ("score", str(tmp_path / "missing.csv"), "-o", "x.csv", "--client", "Loja Teste"),
            "is not a file",
        ),
        (("batches", "list", "--status", "nonsense"), "unknown status"),
    ]
    for args, message in cases:
        result = credguard(settings, *args, check=False)
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        assert message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_commands_refuse_an_unmigrated_database(engine: Engine, tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "fresh", database_url=f"sqlite:///{tmp_path / 'fresh.db'}"
    )
    result = credguard(settings, "batches", "list", check=False)
    assert result.returncode == 1 and "credguard db upgrade" in result.stderr
    assert "database: empty" in credguard(settings, "db", "current").stdout
    credguard(settings, "db", "upgrade")
    assert "completed" not in credguard(settings, "batches", "list").stdout
    head = migrate.head_revision()
    assert f"database: {head}; required: {head}" in credguard(settings, "db", "current").stdout


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_demo_runs_on_a_fresh_installation(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's first command: init, demo file, scored batch, results path."""
    settings = Settings(data_dir=tmp_path / "fresh", database_url="")
    monkeypatch.setenv("CREDGUARD_TRAINING_ROWS", "3000")
    result = credguard(settings, "demo", "--rows", "800")
    results = settings.data_dir / "results" / "job-1.csv"
    assert "password, shown only once" in result.stdout
    assert f"results: {results.resolve()}" in result.stdout.replace("\n", "")
    out = pl.read_csv(results, separator=";", infer_schema=False)
    assert out.height == 800 and out["faixaScore"].is_not_null().sum() > 700
    again = credguard(settings, "demo", "--rows", "100")
    assert "password" not in again.stdout and "job-2.csv" in again.stdout
