"""The outcomes commands end to end through the real entry point: score, import, export, train."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
from sqlalchemy import Engine

from credguard.config import Settings
from credguard.db.base import utcnow
from tests import factories
from tests.cli.test_cli import credguard


def test_score_then_import_outcomes_then_export_then_train(
    engine: Engine, settings: Settings, client_id: int, tmp_path: Path
) -> None:
    del engine
    customers = factories.make_customers(4_000, seed=31, products=["CARTAO"])
    source = factories.write_file(
        customers.drop("motivo_esperado", "prob_inadimplencia_real", "inadimplente"),
        tmp_path / "clientes.csv",
    )
    credguard(
        settings, "score", str(source), "-o", str(tmp_path / "r.csv"), "--client", "Loja Teste"
    )

    # What the client observed later: the synthetic customers' drawn outcomes (from their
    # true default probabilities), sent back as a pt-BR spreadsheet would save them.
    today = utcnow().date().strftime("%d/%m/%Y")
    outcomes = customers.select(
        "cpf",
        pl.lit("Cartão").alias("produto"),
        pl.when(pl.col("inadimplente") == 1)
        .then(pl.lit("sim"))
        .otherwise(pl.lit("não"))
        .alias("inadimplente"),
        pl.lit(today).alias("dataReferencia"),
    )
    outcomes_file = tmp_path / "desfechos.csv"
    outcomes.write_csv(outcomes_file, separator=";")
    imported = credguard(
        settings, "outcomes", "import", str(outcomes_file), "--client", str(client_id)
    )
    assert "4000 received, 4000 stored, 0 updated; 4000 linked" in imported.stdout
    again = credguard(settings, "outcomes", "import", str(outcomes_file), "--client", "Loja Teste")
    assert "4000 received, 0 stored, 4000 updated; 4000 linked" in again.stdout
    summary = credguard(settings, "outcomes", "summary").stdout
    assert "CARTAO" in summary and "100.0%" in summary

    export = tmp_path / "training.csv"
    exported = credguard(
        settings, "models", "export-training-data", "--product", "CARTAO", "--output", str(export)
    )
    assert "wrote 4000 training rows" in exported.stdout
    written = pl.read_csv(export, infer_schema=False)
    assert (
        written.height == 4_000 and "cpf" not in written.columns and "nome" not in written.columns
    )
    assert written["label"].cast(pl.Int64).sum() == customers["inadimplente"].sum()

    model = tmp_path / "model" / "new_model.json"
    credguard(
        settings,
        "models",
        "train",
        "--input",
        str(export),
        "--output",
        str(model),
        "--product",
        "CARTAO",
    )
    metrics = json.loads((model.parent / "metrics.json").read_text())
    assert metrics["label"] == "outcome" and metrics["warnings"] == []
    # True probabilities rank CARTAO customers at AUC 0.78; the hold-out is ~1,000 customers.
    assert 0.68 < metrics["auc"] < 0.88

    kept = credguard(settings, "outcomes", "purge")
    assert "deleted 0 outcome(s) with a dataReferencia more than 1825 days ago" in kept.stdout


def test_a_bad_outcomes_file_is_refused_with_its_problems_and_no_traceback(
    engine: Engine, settings: Settings, client_id: int, tmp_path: Path
) -> None:
    del engine
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "cpf,produto,inadimplente,dataReferencia\n12345678900,CARTAO,talvez,2026-01-01\n"
    )
    result = credguard(
        settings, "outcomes", "import", str(bad), "--client", str(client_id), check=False
    )
    assert result.returncode == 1
    assert "1 of 1 outcome(s) are not valid, so none was stored" in result.stderr
    assert "not a valid CPF" in result.stderr and "'talvez' is not yes or no" in result.stderr
    assert "Traceback" not in result.stderr and "12345678900" not in result.stderr
    blank = tmp_path / "blank.csv"
    blank.write_bytes(b"\x1c\r\n\x1e")  # Python's line breaks, kept by bytes.strip()
    result = credguard(
        settings, "outcomes", "import", str(blank), "--client", str(client_id), check=False
    )
    assert result.returncode == 1 and "the file is empty" in result.stderr
    assert "Traceback" not in result.stderr
    unknown = credguard(settings, "outcomes", "import", str(bad), "--client", "Nobody", check=False)
    assert unknown.returncode == 1 and "client 'Nobody' does not exist" in unknown.stderr
