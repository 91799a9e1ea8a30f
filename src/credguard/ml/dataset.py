"""Training files: the runbook's ``mysql -e`` export (tab-separated) or a CSV, to features and labels.

The runbook's section 5.2 exports ``customer_scores`` with ``mysql -e "SELECT …" > file``: a
header line, tab-separated values, ``NULL`` for missing values and backslash escapes (``\\t``,
``\\n``, ``\\\\``) inside values. A CSV (``,`` or ``;``, as clients send) works too. The
customer columns go through the batch path's own validation (:func:`validate.normalise`), so a
training row means what a scored row means; rows it would exclude are dropped and counted.

The label is the column ``label`` (the runbook's alias) unless told otherwise: 0/1 observed
defaults, or probabilities in [0, 1] — the runbook exports ``scoreProbInadimplencia``, the
previous model's own opinion, and a model trained on it learns that opinion, not outcomes.

Features that count days (relationship length, recency) need the date they were computed at.
The runbook's export carries no processing date, so unless one is given, the reference date is
the most recent ``data_ultima_compra`` of a valid row: the latest day the data can describe,
never in any row's future nor after today. Pass ``--reference-date`` when the export's date is known.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from credguard.customers.contract import EXCLUSION, REQUIRED_COLUMNS, ROW_NUMBER
from credguard.customers.validate import DuplicateTracker, normalise
from credguard.db.base import utcnow
from credguard.errors import InvalidInput
from credguard.scoring.features import build_features

DEFAULT_LABEL = "label"


@dataclass(frozen=True)
class TrainingData:
    """Features and labels of one product's usable rows."""

    X: np.ndarray
    y: np.ndarray
    probability_labels: bool  #: labels are probabilities (not observed 0/1 outcomes)
    reference_date: date
    rows_read: int
    rows_dropped: dict[str, int]  #: why rows were left out, and how many


def read_table(path: Path) -> pl.DataFrame:
    """Every column of a training file as text (missing: null)."""
    if not path.is_file():
        raise InvalidInput(f"{path} does not exist")
    with path.open("rb") as handle:
        header = handle.readline()
    if not header.strip():
        raise InvalidInput(f"{path} is empty")
    if b"\t" in header:  # mysql -e: no quoting, NULL, backslash escapes
        table = pl.read_csv(
            path,
            separator="\t",
            quote_char=None,
            null_values=["NULL"],
            infer_schema=False,
            encoding="utf8-lossy",
        )
        return table.with_columns(pl.all().map_batches(_unescape_mysql, return_dtype=pl.String))
    separator = ";" if header.count(b";") > header.count(b",") else ","
    return pl.read_csv(
        path, separator=separator, null_values=[""], infer_schema=False, encoding="utf8-lossy"
    )


def _unescape_mysql(column: pl.Series) -> pl.Series:
    # mysql's batch output writes \t, \n, \0 and \\ for those characters inside values.
    return (
        column.str.replace_all(r"\\", "\x00BS\x00", literal=True)
        .str.replace_all(r"\t", "\t", literal=True)
        .str.replace_all(r"\n", "\n", literal=True)
        .str.replace_all(r"\0", "", literal=True)
        .str.replace_all("\x00BS\x00", "\\", literal=True)
    )


def load_training_data(
    path: Path,
    *,
    product: str,
    label: str = DEFAULT_LABEL,
    reference_date: date | None = None,
) -> TrainingData:
    """The usable rows of ``product`` in a training file, as features and labels."""
    table = read_table(path)
    missing = [name for name in (*REQUIRED_COLUMNS, label) if name not in table.columns]
    if missing:
        raise InvalidInput(f"{path.name} lacks the column(s) {', '.join(missing)}")
    raw = table.select(
        pl.int_range(1, table.height + 1, dtype=pl.Int64).alias(ROW_NUMBER),
        *REQUIRED_COLUMNS,
        pl.col(label).str.strip_chars().cast(pl.Float64, strict=False).alias("_label"),
    )
    if reference_date is None:
        # The latest last purchase of a valid row; rows dated after today are invalid anyway.
        latest = (
            normalise(
                raw.select(ROW_NUMBER, *REQUIRED_COLUMNS),
                products=[product],
                today=utcnow().date(),
                seen=DuplicateTracker(),
                duplicates=False,
            )
            .filter(pl.col(EXCLUSION).is_null())["data_ultima_compra"]
            .max()
        )
        if not isinstance(latest, date):
            raise InvalidInput(f"{path.name} has no valid data_ultima_compra to date it by")
        reference_date = latest
    typed = normalise(
        raw.select(ROW_NUMBER, *REQUIRED_COLUMNS),
        products=[product],
        today=reference_date,
        seen=DuplicateTracker(),
        duplicates=False,  # a customer scored twice in six months is two observations
    ).with_columns(raw["_label"])
    usable = pl.col(EXCLUSION).is_null()
    labelled = pl.col("_label").is_between(0.0, 1.0)
    dropped = typed.filter(~usable).group_by(EXCLUSION).len().rows()
    rows_dropped = {str(reason): int(count) for reason, count in dropped}
    unlabelled = typed.filter(usable & ~labelled).height
    if unlabelled:
        rows_dropped["label missing or outside [0, 1]"] = unlabelled
    kept = typed.filter(usable & labelled)
    if kept.height == 0:
        raise InvalidInput(f"{path.name} has no usable row of product {product}")
    y = kept["_label"].to_numpy().astype(np.float64)
    return TrainingData(
        X=build_features(kept, reference_date),
        y=y,
        probability_labels=not bool(np.isin(y, (0.0, 1.0)).all()),
        reference_date=reference_date,
        rows_read=table.height,
        rows_dropped=rows_dropped,
    )
