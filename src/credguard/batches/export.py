"""Results of a completed batch as CSV: the input file's columns, untouched, plus the scores.

The input is re-read from the stored upload (so extra columns pass through exactly as sent) and
joined, chunk by chunk, with the stored rows by row number; memory stays flat. Output is UTF-8
with a BOM and the input's delimiter (decimal commas with ``;``), as Excel pt-BR expects. Any
input cell a spreadsheet would run as a formula is prefixed with an apostrophe.
"""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
from sqlalchemy import Engine

from credguard.batches.processing import SCORE_COLUMNS
from credguard.batches.tables import BatchJob, BatchStatus
from credguard.customers.contract import EXCLUSION, ROW_NUMBER
from credguard.customers.reader import open_csv
from credguard.db.bulk import read_frame
from credguard.errors import Conflict
from credguard.scoring.reasons import REASONS

RESULT_COLUMNS = (*SCORE_COLUMNS, EXCLUSION)
STORED_SCHEMA = pl.Schema({ROW_NUMBER: pl.Int64(), **SCORE_COLUMNS, EXCLUSION: pl.String()})
REASON_TEXT = "motivosScore"
_FORMULA_START = r"^[=+\-@\t\r]"
_PLAIN_NUMBER = r"^[+-]?[0-9][0-9.,]*$"


def neutralise_formulas(frame: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """Prefix with ``'`` every cell a spreadsheet would evaluate (=, +, -, @, tab, CR)."""
    return frame.with_columns(
        pl.when(
            pl.col(name).str.contains(_FORMULA_START) & ~pl.col(name).str.contains(_PLAIN_NUMBER)
        )
        .then(pl.lit("'") + pl.col(name))
        .otherwise(pl.col(name))
        .alias(name)
        for name in columns
    )


def _reason_text() -> pl.Expr:
    texts = [
        pl.col(f"reasonCode{i}").replace_strict(REASONS, default=None, return_dtype=pl.String)
        for i in (1, 2, 3)
    ]
    return pl.concat_str(texts, separator=" | ", ignore_nulls=True).alias(REASON_TEXT)


def require_completed(job: BatchJob) -> None:
    """Results exist only for a completed job."""
    if job.status != BatchStatus.COMPLETED:
        raise Conflict(
            f"batch job {job.id} is {job.status}; results can be exported once it has completed"
        )


def export_results(engine: Engine, job: BatchJob, target: Path, *, chunk_rows: int) -> int:
    """Write ``job``'s results to ``target`` in input row order; returns the number of rows."""
    require_completed(job)
    source = open_csv(Path(job.storage_path))
    columns = ", ".join(STORED_SCHEMA)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    written = 0
    with partial.open("wb") as handle:
        handle.write("\ufeff".encode())
        for raw in source.iter_chunks(chunk_rows):
            first, last = int(raw[ROW_NUMBER][0]), int(raw[ROW_NUMBER][-1])
            stored = read_frame(
                engine,
                f"SELECT {columns} FROM customer_scores WHERE batchJobId = {int(job.id)} "
                f"AND rowNumber BETWEEN {first} AND {last} ORDER BY rowNumber",
                STORED_SCHEMA,
            )
            if stored.height != raw.height:
                raise Conflict(
                    f"batch job {job.id} has {stored.height} stored rows for input rows "
                    f"{first}–{last} ({raw.height} expected); reprocess it"
                )
            inputs = [name for name in raw.columns if name != ROW_NUMBER]
            out = pl.concat(
                [
                    neutralise_formulas(raw.select(inputs), inputs),
                    stored.select(
                        pl.col("scoreProbInadimplencia").cast(pl.Float64).round(6),
                        pl.col("score").cast(pl.Int64),
                        *[pl.col(name) for name in RESULT_COLUMNS[2:]],
                        _reason_text(),
                    ),
                ],
                how="horizontal",
            )
            out.write_csv(
                handle,
                include_header=written == 0,
                separator=source.delimiter,
                decimal_comma=source.delimiter == ";",
                line_terminator="\r\n",
            )
            written += out.height
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, target)
    return written
