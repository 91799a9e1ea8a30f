"""Training on observed outcomes: the pseudonymised export, per-row dates, label checks."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from credguard.errors import InvalidInput
from credguard.ml import dataset
from credguard.ml.training import train_file
from credguard.outcomes.export import EXPORT_COLUMNS
from credguard.scoring.features import INPUT_COLUMNS, build_features, feature_matrix
from credguard.synth import generator

EARLY, LATE = date(2026, 1, 31), date(2026, 5, 31)


def scored_on(day: date, rows: int, seed: int) -> pl.DataFrame:
    """Clean CARTAO customers as the export writes them, scored on ``day``, with outcomes."""
    frame = generator.normalise(
        generator.generate(rows, seed=seed, products=["CARTAO"], reference_date=day, dirty_share=0)
    )
    return frame.select(
        "produto",
        *INPUT_COLUMNS,
        pl.lit(day).alias("data_referencia"),
        pl.col(generator.OUTCOME_COLUMN).cast(pl.Int64).alias("label"),
    )


@pytest.fixture(scope="module")
def export_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("export") / "cartao.csv"
    pl.concat([scored_on(EARLY, 3_000, seed=1), scored_on(LATE, 3_000, seed=2)]).write_csv(path)
    return path


def test_the_export_has_the_columns_training_reads(export_file: Path) -> None:
    assert pl.read_csv(export_file, n_rows=1).columns == list(EXPORT_COLUMNS)


def test_each_row_counts_days_to_its_own_reference_date(export_file: Path) -> None:
    data = dataset.load_training_data(export_file, product="CARTAO")
    assert data.reference_date == LATE and not data.probability_labels
    assert len(data.y) == 6_000 and data.rows_dropped == {}
    frame = pl.read_csv(export_file, try_parse_dates=True)
    expected = np.vstack(
        [
            build_features(frame.head(3_000), EARLY),
            build_features(frame.tail(3_000), LATE),
        ]
    )
    np.testing.assert_array_equal(data.X, expected)


def test_feature_matrix_takes_one_date_or_one_per_row() -> None:
    columns = {
        name: np.array([18_000.0, 19_000.0, np.nan]) if name.startswith("data_") else np.ones(3)
        for name in INPUT_COLUMNS
    }
    one = feature_matrix(columns, LATE)
    days = float((LATE - date(1970, 1, 1)).days)
    np.testing.assert_array_equal(feature_matrix(columns, np.full(3, days)), one)
    per_row = feature_matrix(columns, np.array([days, days - 10, days]))
    assert per_row[1, 0] == one[1, 0] - 10 and per_row[1, 1] == one[1, 1] - 10
    assert np.isnan(per_row[2, 0])


def test_a_purchase_after_the_rows_own_date_is_invalid(tmp_path: Path) -> None:
    rows = scored_on(LATE, 300, seed=3).with_columns(
        pl.when(pl.int_range(pl.len()) < 7)
        .then(pl.lit(EARLY))
        .otherwise(pl.col("data_referencia"))
        .alias("data_referencia")
    )
    rows = rows.with_columns(  # the first 7 rows: last purchase after their (early) date
        pl.when(pl.int_range(pl.len()) < 7)
        .then(pl.lit(date(2026, 3, 1)))
        .otherwise(pl.col("data_ultima_compra"))
        .alias("data_ultima_compra"),
        pl.when(pl.int_range(pl.len()) < 7)
        .then(pl.lit(date(2025, 1, 1)))
        .otherwise(pl.col("data_primeira_compra"))
        .alias("data_primeira_compra"),
    )
    rows = pl.concat(
        [rows, rows.head(1).with_columns(pl.lit(None, dtype=pl.Date).alias("data_referencia"))]
    )
    path = tmp_path / "export.csv"
    rows.write_csv(path)
    data = dataset.load_training_data(path, product="CARTAO")
    assert data.rows_dropped == {"DATA_INVALIDA": 7, "data_referencia missing or not a date": 1}
    assert len(data.y) == 293


def test_the_pseudonymised_export_trains_a_model_that_ranks_customers(
    export_file: Path, tmp_path: Path
) -> None:
    _, metrics = train_file(export_file, tmp_path / "model.json", product="CARTAO")
    assert metrics["label"] == "outcome" and metrics["warnings"] == []
    assert metrics["reference_date"] == LATE.isoformat()
    # The true probabilities' AUC is 0.78 for CARTAO; 1,500 held-out customers vary by ~0.02.
    assert 0.70 < metrics["auc"] < 0.86


def write_labels(tmp_path: Path, labels: list[str], separator: str = ",") -> Path:
    frame = scored_on(LATE, len(labels), seed=4).with_columns(
        pl.Series("label", labels, dtype=pl.String)
    )
    path = tmp_path / "labels.csv"
    frame.write_csv(path, separator=separator)
    return path


def test_a_decimal_comma_label_is_read(tmp_path: Path) -> None:
    labels = ["0,35", "0,05", "1", "0", "0.5"] * 60
    data = dataset.load_training_data(write_labels(tmp_path, labels, ";"), product="CARTAO")
    assert len(data.y) == 300 and data.rows_dropped == {}
    assert sorted(set(data.y.tolist())) == [0.0, 0.05, 0.35, 0.5, 1.0]
    assert data.probability_labels


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (["0"] * 400, "are all 0: a model needs both defaulted and non-defaulted customers"),
        (["1"] * 400, "are all 1: a model needs both defaulted and non-defaulted customers"),
        (["0"] * 397 + ["1"] * 3, "only 3 defaulted (1) customer(s): at least 10 of each"),
        (["0,2"] * 400, "are all 0.2: a model needs labels that differ"),
    ],
)
def test_labels_a_model_cannot_learn_from_are_refused_clearly(
    tmp_path: Path, labels: list[str], message: str
) -> None:
    path = write_labels(tmp_path, labels)
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace(")", r"\)")):
        dataset.load_training_data(path, product="CARTAO")
    with pytest.raises(InvalidInput):  # before LightGBM or scikit-learn see the labels
        train_file(path, tmp_path / "model.json", product="CARTAO")
