"""An outcomes upload (JSON items or a CSV file) to typed columns, or every bad row named.

An upload is all or nothing: if any row is invalid, nothing is stored and the error lists each
problem as ``{"row", "field", "problem"}`` (row = the outcome's position, 1 for the first; in a
CSV the header and blank lines are not counted). A half-stored upload would leave the client
guessing which rows to send again. CPFs are never echoed back in a problem (personal data):
a quoted value has every run of 9 or more digits masked, so a CPF sent in the wrong column
(swapped columns) is not quoted either.

``dataReferencia`` is the date of the credit decision the outcome judges; ``inadimplente`` says
whether that customer defaulted within the model's horizon after it. The outcome is linked to
the latest score on or before that date (:mod:`credguard.outcomes.service`).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from datetime import date

import polars as pl

from credguard.customers.contract import MIN_DATE
from credguard.customers.cpf import cpf_is_valid, normalise_cpf
from credguard.customers.validate import parse_dates, product_code, product_index
from credguard.errors import CredGuardError, InvalidInput

#: Outcomes one upload may hold; split larger sets into several uploads.
MAX_OUTCOMES = 100_000
#: Largest upload body (JSON or CSV): room for MAX_OUTCOMES rows with long spellings.
MAX_UPLOAD_BYTES = 32 * 1024 * 1024
#: Problems listed in one answer; the count says how many rows were bad in all.
MAX_LISTED_ERRORS = 100

ROW = "row"
COLUMNS: tuple[str, ...] = ("cpf", "produto", "inadimplente", "dataReferencia")
#: Header names accepted for each column (compared in lower case).
_HEADER_NAMES: dict[str, str] = {
    "cpf": "cpf",
    "produto": "produto",
    "inadimplente": "inadimplente",
    "default": "inadimplente",
    "datareferencia": "dataReferencia",
    "data_referencia": "dataReferencia",
}
_YES = ("1", "true", "t", "sim", "s", "yes", "y", "verdadeiro", "v")
_NO = ("0", "false", "f", "nao", "n", "no", "falso")
_SHOWN = 40  # characters of a bad value quoted back
#: A run of 9 or more digits (any script), separators allowed between them: maybe a CPF.
_CPF_LIKE = r"\d(?:[.\-/\s]?\d){8,}"
_MASK = "***"


class InvalidOutcomes(InvalidInput):
    """An upload refused whole; ``errors`` names each bad row's problem."""


class UploadTooLarge(CredGuardError):
    status = 413


def too_large() -> UploadTooLarge:
    return UploadTooLarge(
        f"the upload is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB; "
        f"send at most {MAX_OUTCOMES:,} outcomes per upload"
    )


def from_records(items: Sequence[Mapping[str, object]]) -> pl.DataFrame:
    """JSON outcomes (already shaped by the API's schema) as the raw text frame."""
    columns: dict[str, list[str | None]] = {name: [] for name in COLUMNS}
    for item in items:  # the JSON parser built these objects one by one already
        for name in COLUMNS:
            value = item.get(name)
            columns[name].append(_text(value))
    return _numbered(MAX_OUTCOMES, pl.DataFrame(columns, schema=dict.fromkeys(COLUMNS, pl.String)))


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def read_csv(data: bytes, *, max_rows: int | None = MAX_OUTCOMES) -> pl.DataFrame:
    """A CSV upload (``,`` or ``;``, UTF-8 with or without BOM, or Latin-1) as the raw frame.

    ``max_rows`` None: no limit (the CLI imports files of any size).
    """
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    head = data[:65_536]
    if b"\x00" in head or head.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0", b"%PDF")):
        raise InvalidOutcomes(
            "the file is not a CSV text file (a spreadsheet must be saved as CSV first)"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    # Emptiness is judged on the text: Python also splits lines at, and strips, characters
    # such as \x1c or \x85 that bytes.strip() keeps.
    header = next((line for line in text.splitlines() if line.strip()), None)
    if header is None:
        raise InvalidOutcomes("the file is empty")
    separator = ";" if header.count(";") > header.count(",") else ","
    try:
        frame = pl.read_csv(
            io.BytesIO(text.encode("utf-8")),
            separator=separator,
            infer_schema=False,
            null_values=[""],
        )
    except pl.exceptions.PolarsError:
        raise InvalidOutcomes(
            "the file could not be read as CSV: a line has more fields than the header; "
            "check the delimiter and quoting"
        ) from None
    found: dict[str, str] = {}
    for name in frame.columns:
        column = _HEADER_NAMES.get(name.strip().strip('"').lower())
        if column is None:
            continue
        if column in found:
            raise InvalidOutcomes(
                f"the header names {column} twice ({found[column]!r} and {name!r}); keep one"
            )
        found[column] = name
    missing = [name for name in COLUMNS if name not in found]
    if missing:
        raise InvalidOutcomes(
            f"the file lacks the column(s) {', '.join(missing)}; its header must name "
            "cpf, produto, inadimplente (or default) and dataReferencia"
        )
    raw = frame.select(pl.col(found[name]).alias(name) for name in COLUMNS)
    # Blank lines (and lines of bare delimiters) are not outcomes.
    return _numbered(
        max_rows,
        raw.filter(
            ~pl.all_horizontal(
                pl.all().str.strip_chars().is_null() | (pl.all().str.strip_chars() == "")
            )
        ),
    )


def _numbered(max_rows: int | None, raw: pl.DataFrame) -> pl.DataFrame:
    if raw.height == 0:
        raise InvalidOutcomes("the upload holds no outcome")
    if max_rows is not None and raw.height > max_rows:
        raise InvalidOutcomes(
            f"the upload holds {raw.height:,} outcomes; send at most {max_rows:,} per upload"
        )
    return raw.select(pl.int_range(1, raw.height + 1, dtype=pl.Int64).alias(ROW), *COLUMNS)


def validate(raw: pl.DataFrame, *, products: Sequence[str], today: date) -> pl.DataFrame:
    """Typed outcomes (row, cpf, produto, inadimplente, dataReferencia), or InvalidOutcomes.

    ``today`` bounds ``dataReferencia``: a credit decision cannot be in the future.
    """
    cpf_text = pl.col("cpf").str.strip_chars()
    produto_text = pl.col("produto").str.strip_chars()
    answer_text = pl.col("inadimplente").str.strip_chars()
    date_text = pl.col("dataReferencia").str.strip_chars()
    answer = answer_text.str.to_lowercase().str.normalize("NFKD").str.replace_all(r"\p{Mn}", "")
    typed = raw.with_columns(
        normalise_cpf(pl.col("cpf")).alias("_cpf11"),
        product_code(product_index(produto_text, products), products).alias("_produto"),
        answer.replace_strict(
            [*_YES, *_NO],
            [True] * len(_YES) + [False] * len(_NO),
            default=None,
            return_dtype=pl.Boolean,
        ).alias("_inadimplente"),
        parse_dates(date_text).alias("_date"),
    ).with_columns(
        pl.when(cpf_is_valid(pl.col("_cpf11")).fill_null(False))
        .then(pl.col("_cpf11"))
        .alias("_cpf"),
    )
    key = ["_cpf", "_produto", "_date"]
    first_row = pl.col(ROW).min().over(key)
    complete_key = pl.all_horizontal(pl.col(name).is_not_null() for name in key)

    def blank(text: pl.Expr) -> pl.Expr:
        return text.is_null() | (text == "")

    def shown(text: pl.Expr) -> pl.Expr:
        # Masked before it is cut: a cut could leave 8 digits of a CPF unmasked.
        return text.str.replace_all(_CPF_LIKE, _MASK).str.slice(0, _SHOWN)

    problems = {
        "cpf": pl.when(blank(cpf_text))
        .then(pl.lit("missing"))
        .when(pl.col("_cpf").is_null())
        .then(pl.lit("not a valid CPF: 11 digits (or 000.000.000-00) with correct check digits")),
        "produto": pl.when(blank(produto_text))
        .then(pl.lit("missing"))
        .when(pl.col("_produto").is_null())
        .then(
            pl.format(
                "'{}' is not a product CredGuard scores ({})",
                shown(produto_text),
                pl.lit(", ".join(products)),
            )
        ),
        "inadimplente": pl.when(blank(answer_text))
        .then(pl.lit("missing: say whether the customer defaulted (1/0, true/false or sim/não)"))
        .when(pl.col("_inadimplente").is_null())
        .then(
            pl.format("'{}' is not yes or no: use 1/0, true/false or sim/não", shown(answer_text))
        ),
        "dataReferencia": pl.when(blank(date_text))
        .then(pl.lit("missing"))
        .when(pl.col("_date").is_null() | (pl.col("_date") < MIN_DATE))
        .then(pl.format("'{}' is not a date: use 2026-10-31 or 31/10/2026", shown(date_text)))
        .when(pl.col("_date") > today)
        .then(
            pl.format(
                "{} is after today ({}): dataReferencia is the date of the credit decision judged",
                pl.col("_date").dt.to_string("%Y-%m-%d"),
                pl.lit(today.isoformat()),
            )
        ),
        ROW: pl.when(complete_key & (pl.col(ROW) != first_row)).then(
            pl.format(
                "the same cpf, produto and dataReferencia as row {}: send each outcome once",
                first_row,
            )
        ),
    }
    found = (
        typed.select(ROW, *(expr.alias(f"_problem_{field}") for field, expr in problems.items()))
        .unpivot(index=ROW, variable_name="field", value_name="problem")
        .drop_nulls("problem")
    )
    if found.height:
        raise _refusal(found, total=raw.height)
    return typed.select(
        ROW,
        pl.col("_cpf").alias("cpf"),
        pl.col("_produto").alias("produto"),
        pl.col("_inadimplente").alias("inadimplente"),
        pl.col("_date").alias("dataReferencia"),
    )


def _refusal(found: pl.DataFrame, *, total: int) -> InvalidOutcomes:
    order = {f"_problem_{field}": index for index, field in enumerate([*COLUMNS, ROW])}
    listed = (
        found.with_columns(
            pl.col("field").replace_strict(order, return_dtype=pl.Int64).alias("_order")
        )
        .sort(ROW, "_order")
        .head(MAX_LISTED_ERRORS)
    )
    bad_rows = found[ROW].n_unique()
    message = (
        f"{bad_rows} of {total} outcome(s) are not valid, so none was stored; "
        "fix them and send the whole upload again"
    )
    if found.height > MAX_LISTED_ERRORS:
        message += f" (the first {MAX_LISTED_ERRORS} of {found.height} problems are listed)"
    errors = [
        {"row": str(row), "field": field.removeprefix("_problem_"), "problem": problem}
        for row, field, problem in listed.select(ROW, "field", "problem").iter_rows()
    ]
    return InvalidOutcomes(message, errors=errors)
