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

CredGuard's own training export (``credguard models export-training-data``) is pseudonymised: no
``cpf`` or ``nome`` column, and a per-row ``data_referencia``, the day each row was scored; each
row's features then count days up to its own date, and a purchase after it is invalid. Its
labels are observed 0/1 outcomes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from credguard.customers.contract import EXCLUSION, REQUIRED_COLUMNS, ROW_NUMBER, Exclusion
from credguard.customers.validate import DuplicateTracker, normalise, parse_dates
from credguard.db.base import utcnow
from credguard.errors import InvalidInput
from credguard.scoring.features import build_features

DEFAULT_LABEL = "label"
#: The training export's per-row reference date: the day the row's features were computed at.
ROW_REFERENCE_DATE = "data_referencia"
#: Columns a pseudonymised training file goes without.
IDENTITY_COLUMNS = ("cpf", "nome")
#: Stands in for the CPF a pseudonymised file lacks, so its rows go through the batch rules
#: unchanged (they were checked, CPF included, when they were scored; training never reads it).
_STAND_IN_CPF = "52998224725"
#: Fewest customers of each outcome to train on: a 25 % stratified hold-out must get some of
#: each, or its AUC and calibration cannot be measured (one crashes the split; two or three
#: give an undefined AUC). Checked on files large enough to train on at all (training refuses
#: fewer than 200 rows itself, with its own message).
MIN_PER_CLASS = 10
_TRAINABLE_ROWS = 200


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
    pseudonymised = not any(name in table.columns for name in IDENTITY_COLUMNS)
    needed = [c for c in REQUIRED_COLUMNS if not (pseudonymised and c in IDENTITY_COLUMNS)]
    missing = [name for name in (*needed, label) if name not in table.columns]
    if missing:
        raise InvalidInput(f"{path.name} lacks the column(s) {', '.join(missing)}")
    per_row = reference_date is None and ROW_REFERENCE_DATE in table.columns
    identity = (
        [pl.lit(_STAND_IN_CPF).alias("cpf"), pl.lit(None, dtype=pl.String).alias("nome")]
        if pseudonymised
        else []
    )
    raw = table.with_columns(identity).select(
        pl.int_range(1, table.height + 1, dtype=pl.Int64).alias(ROW_NUMBER),
        *REQUIRED_COLUMNS,
        _number(pl.col(label)).alias("_label"),
        (_date(pl.col(ROW_REFERENCE_DATE)) if per_row else pl.lit(None, dtype=pl.Date)).alias(
            "_reference"
        ),
    )
    if per_row:
        latest_row_date = raw["_reference"].max()
        if not isinstance(latest_row_date, date):
            raise InvalidInput(
                f"{path.name} has no valid {ROW_REFERENCE_DATE} (dates like 2026-05-31)"
            )
        reference_date = latest_row_date
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
    ).with_columns(raw["_label"], raw["_reference"])
    if per_row:
        # Each row is judged by its own date, as the batch that scored it judged it.
        row_date = pl.col("_reference")
        after_it = (pl.col("data_primeira_compra") > row_date) | (
            pl.col("data_ultima_compra") > row_date
        )
        typed = typed.with_columns(
            pl.when(pl.col(EXCLUSION).is_null() & row_date.is_not_null() & after_it)
            .then(pl.lit(Exclusion.DATA_INVALIDA.value))
            .otherwise(pl.col(EXCLUSION))
            .alias(EXCLUSION)
        )
    usable = pl.col(EXCLUSION).is_null()
    labelled = pl.col("_label").is_between(0.0, 1.0)
    dropped = typed.filter(~usable).group_by(EXCLUSION).len().rows()
    rows_dropped = {str(reason): int(count) for reason, count in dropped}
    if per_row:
        undated = typed.filter(usable & pl.col("_reference").is_null()).height
        if undated:
            rows_dropped[f"{ROW_REFERENCE_DATE} missing or not a date"] = undated
        usable = usable & pl.col("_reference").is_not_null()
    unlabelled = typed.filter(usable & ~labelled).height
    if unlabelled:
        rows_dropped["label missing or outside [0, 1]"] = unlabelled
    kept = typed.filter(usable & labelled)
    if kept.height == 0:
        raise InvalidInput(f"{path.name} has no usable row of product {product}")
    y = kept["_label"].to_numpy().astype(np.float64)
    probability_labels = not bool(np.isin(y, (0.0, 1.0)).all())
    _check_both_outcomes(y, probability_labels, where=f"{path.name} ({product})")
    return TrainingData(
        X=build_features(kept, kept["_reference"] if per_row else reference_date),
        y=y,
        probability_labels=probability_labels,
        reference_date=reference_date,
        rows_read=table.height,
        rows_dropped=rows_dropped,
    )


def _number(text: pl.Expr) -> pl.Expr:
    """A label as a number: ``0.35``, or ``0,35`` as a pt-BR spreadsheet writes it."""
    stripped = text.str.strip_chars()
    with_point = (
        pl.when(stripped.str.contains(r"^-?[0-9]*,[0-9]+$"))
        .then(stripped.str.replace(",", ".", literal=True))
        .otherwise(stripped)
    )
    return with_point.cast(pl.Float64, strict=False)


def _date(text: pl.Expr) -> pl.Expr:
    """A date written ``2026-05-31`` (a time after it is ignored) or ``31/05/2026``; else null."""
    return parse_dates(text.str.strip_chars().str.slice(0, 10))


def _check_both_outcomes(y: np.ndarray, probabilities: bool, *, where: str) -> None:
    """Refuse labels a model cannot learn from: one outcome only, or too few of one."""
    if probabilities:
        if float(y.min()) == float(y.max()):
            raise InvalidInput(
                f"the labels of {where} are all {y[0]:g}: a model needs labels that differ"
            )
        return
    defaults = int(y.sum())
    for count, value, kind in (
        (len(y) - defaults, 1, "non-defaulted (0)"),
        (defaults, 0, "defaulted (1)"),
    ):
        if count == 0:
            raise InvalidInput(
                f"the labels of {where} are all {value}: a model needs both defaulted and "
                "non-defaulted customers"
            )
        if count < MIN_PER_CLASS and len(y) >= _TRAINABLE_ROWS:
            raise InvalidInput(
                f"{where} has only {count} {kind} customer(s): at least {MIN_PER_CLASS} of each "
                "outcome are needed to train a model and check it on held-out customers"
            )
