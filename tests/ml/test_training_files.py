"""Training from files: the runbook's mysql export and CSVs, labels, reference dates, metrics."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from credguard.customers.contract import REQUIRED_COLUMNS
from credguard.errors import InvalidInput
from credguard.ml import dataset
from credguard.ml.artifact import ModelArtifact
from credguard.ml.card import CARD_FILE
from credguard.ml.training import METRICS_FILE, evaluate, train_file
from credguard.synth import generator

REF = date(2026, 6, 30)


@pytest.fixture(scope="module")
def customers() -> pl.DataFrame:
    return generator.generate(
        6_000, seed=8, products=["CARTAO", "EMPRESTIMO"], reference_date=REF, dirty_share=0.03
    )


def write_mysql_export(frame: pl.DataFrame, path: Path, label: str) -> None:
    """As ``mysql -e "SELECT … as label …" > file`` writes it: tabs, NULL, backslash escapes."""
    table = frame.select(*REQUIRED_COLUMNS, pl.col(label).cast(pl.String).alias("label"))
    lines = ["\t".join(table.columns)]
    for row in table.iter_rows():
        cells = []
        for value in row:
            if value is None:
                cells.append("NULL")
            else:
                text = str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
                cells.append(text)
        lines.append("\t".join(cells))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_a_mysql_export_reads_as_the_values_it_holds(tmp_path: Path) -> None:
    path = tmp_path / "export.tsv"
    path.write_text(
        "cpf\tnome\tlabel\n"
        "52998224725\tAna\\tMaria \\\\ Souza\\nfilha\t0.25\n"
        "11144477735\tNULL\tNULL\n",
        encoding="utf-8",
    )
    table = dataset.read_table(path)
    assert table.rows() == [
        ("52998224725", "Ana\tMaria \\ Souza\nfilha", "0.25"),
        ("11144477735", None, None),
    ]


def test_the_export_trains_on_probabilities_with_a_warning(
    customers: pl.DataFrame, tmp_path: Path
) -> None:
    export = tmp_path / "training_data.csv"  # the runbook's name; the content is mysql's
    write_mysql_export(customers, export, generator.PROB_COLUMN)
    artifact, metrics = train_file(export, tmp_path / "new_model.pkl", product="CARTAO")
    assert metrics["label"] == "probability"
    assert any("probabilities, not observed defaults" in w for w in metrics["warnings"])
    assert metrics["rows_read"] == customers.height
    # Every row is either used or accounted for; other products count as not supported.
    kept = metrics["n_train"] + metrics["n_holdout"]
    assert kept + sum(metrics["rows_dropped"].values()) == customers.height
    assert 2_000 < kept < customers.height - 2_000
    # Learned the probabilities it was given: calibrated band by band.
    for band in metrics["calibration_by_band"]:
        if band["n"] >= 100:
            assert band["mean_predicted"] == pytest.approx(band["observed"], abs=0.03)
    roc = metrics["roc_curve"]
    assert (roc["fpr"][0], roc["tpr"][0], roc["fpr"][-1], roc["tpr"][-1]) == (0, 0, 1, 1)
    assert all(a <= b for a, b in zip(roc["fpr"], roc["fpr"][1:], strict=False))
    gap = max(t - f for f, t in zip(roc["fpr"], roc["tpr"], strict=True))
    assert gap == pytest.approx(metrics["ks"], abs=0.03)  # 60 of the curve's points
    page = (tmp_path / CARD_FILE).read_text()
    assert page.count("<svg") == 3 and f"{metrics['auc']:.4f}" in page
    assert "probabilities, not observed defaults" in page
    saved = json.loads((tmp_path / METRICS_FILE).read_text())
    assert saved["auc"] == metrics["auc"] and saved["reference_date"] == metrics["reference_date"]
    assert ModelArtifact.load(tmp_path / "new_model.pkl").sha256() == artifact.sha256()


def test_observed_outcomes_train_a_model_as_good_as_the_truth_allows(
    customers: pl.DataFrame, tmp_path: Path
) -> None:
    path = tmp_path / "outcomes.csv"
    customers.select(
        *REQUIRED_COLUMNS, pl.col(generator.OUTCOME_COLUMN).cast(pl.String).alias("observado")
    ).write_csv(path, separator=";")
    _, metrics = train_file(
        path, tmp_path / "m.json", product="CARTAO", label="observado", reference_date=REF
    )
    assert metrics["label"] == "outcome" and metrics["warnings"] == []
    assert metrics["reference_date"] == REF.isoformat()
    assert 0.70 < metrics["auc"] < 0.95 and metrics["gini"] == pytest.approx(2 * metrics["auc"] - 1)


def test_the_reference_date_defaults_to_the_latest_valid_last_purchase(tmp_path: Path) -> None:
    base = {
        "cpf": "52998224725",
        "nome": "Ana",
        "produto": "CARTAO",
        "data_primeira_compra": "2020-01-01",
        "total_compras": "3",
        "valor_total_compras": "100.00",
        "total_pagamentos_em_dia": "3",
        "total_atrasos": "0",
        "maior_atraso": "0",
        "label": "0",
    }
    rows = [
        {**base, "data_ultima_compra": "2026-05-01"},
        {**base, "cpf": "11144477735", "data_ultima_compra": "2026-06-15", "label": "1"},
        {**base, "cpf": "01234567890", "data_ultima_compra": "2099-01-01"},  # invalid: future
        {**base, "produto": "EMPRESTIMO", "data_ultima_compra": "2026-07-01"},  # not CARTAO
        # A customer scored again is another observation, and still meets every other rule.
        {**base, "data_ultima_compra": "2026-06-10", "label": "1"},
        {**base, "data_ultima_compra": "2026-06-12", "total_compras": "0"},
    ]
    path = tmp_path / "export.csv"
    pl.DataFrame(rows).write_csv(path)
    data = dataset.load_training_data(path, product="CARTAO")
    assert data.reference_date == date(2026, 6, 15)
    assert data.rows_dropped == {
        "DATA_INVALIDA": 1,
        "PRODUTO_NAO_SUPORTADO": 1,
        "HISTORICO_INSUFICIENTE": 1,
    }
    assert data.y.tolist() == [0.0, 1.0, 1.0] and not data.probability_labels
    # Told the date, it is used: the recency feature counts days to it.
    told = dataset.load_training_data(path, product="CARTAO", reference_date=date(2026, 6, 30))
    assert told.reference_date == date(2026, 6, 30)
    assert told.X[1, 1] == 15  # days_since_last_purchase


def test_files_that_cannot_train_say_why(customers: pl.DataFrame, tmp_path: Path) -> None:
    no_label = tmp_path / "no_label.csv"
    customers.select(REQUIRED_COLUMNS).write_csv(no_label)
    with pytest.raises(InvalidInput, match="lacks the column"):
        train_file(no_label, tmp_path / "m.json", product="CARTAO")
    tiny = tmp_path / "tiny.csv"
    customers.head(50).select(
        *REQUIRED_COLUMNS, pl.col(generator.OUTCOME_COLUMN).alias("label")
    ).write_csv(tiny)
    with pytest.raises(InvalidInput, match="too few"):
        train_file(tiny, tmp_path / "m.json", product="CARTAO")
    with pytest.raises(InvalidInput, match="does not exist"):
        train_file(tmp_path / "absent.csv", tmp_path / "m.json", product="CARTAO")


def test_probability_labels_are_evaluated_as_expected_outcomes() -> None:
    rng = np.random.default_rng(3)
    truth = rng.uniform(0.01, 0.6, 200_000)
    drawn = (rng.uniform(size=truth.size) < truth).astype(np.float64)
    expected, observed = evaluate(truth, truth), evaluate(drawn, truth)
    for metric in ("auc", "ks", "brier", "observed_default_rate"):
        assert expected[metric] == pytest.approx(observed[metric], abs=0.01), metric
