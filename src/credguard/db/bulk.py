"""Bulk writes of whole Polars frames, one transaction per call, per database engine.

SQLite gets one prepared INSERT executed over the whole frame (``executemany``, about 400k rows/s
here); MariaDB/MySQL gets ``LOAD DATA LOCAL INFILE`` from a temporary CSV (about 55k rows/s),
falling back to multi-row INSERTs where the server forbids ``local_infile`` (MySQL's default).
Neither issues one statement per row from Python.

SQLite is written through the same driver SQLAlchemy uses (the standard library's ``sqlite3``).
A second SQLite library in the process (ADBC's driver bundles its own) would be faster at ingest,
but two copies of SQLite in one process do not share their POSIX locks or WAL index: we saw such a
connection read a stale snapshot, and SQLite's documentation warns it can corrupt the file.

:meth:`FrameWriter.append` runs a guard statement first, in the same transaction as the rows: when
it matches no row (the caller lost its lease on the job), nothing is written.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import polars as pl
from sqlalchemy import Connection, CursorResult, Engine, Result, text

_MYSQL_LOCAL_INFILE_REFUSED = {1148, 2068, 3948}


class BulkLoadRejected(RuntimeError):
    """The database did not store a bulk-loaded chunk exactly as sent."""


def rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE matched (typed access to ``CursorResult.rowcount``)."""
    return cast(CursorResult[Any], result).rowcount


def dates_as_text(frame: pl.DataFrame, *, fractions: bool = True) -> pl.DataFrame:
    """Dates and datetimes as SQL text: with microseconds, as SQLAlchemy stores them in SQLite;
    without (``fractions=False``), as a whole-second DATETIME column takes them."""
    stamp = "%Y-%m-%d %H:%M:%S.%6f" if fractions else "%Y-%m-%d %H:%M:%S"
    return frame.with_columns(
        [pl.col(n).dt.strftime("%Y-%m-%d") for n, t in frame.schema.items() if t == pl.Date]
        + [
            pl.col(n).dt.strftime(stamp)
            for n, t in frame.schema.items()
            if isinstance(t, pl.Datetime)
        ]
    )


def _mysql_csv_ready(frame: pl.DataFrame) -> pl.DataFrame:
    """Backslashes escaped (LOAD DATA's escape character), datetimes without fractions."""
    return frame.with_columns(
        [
            pl.col(n).str.replace_all("\\", "\\\\", literal=True)
            for n, t in frame.schema.items()
            if t == pl.String
        ]
        + [
            pl.col(n).dt.strftime("%Y-%m-%d %H:%M:%S")
            for n, t in frame.schema.items()
            if isinstance(t, pl.Datetime)
        ]
    )


class FrameWriter:
    """Appends frames to a table, each together with a guard UPDATE, atomically."""

    def __init__(self, engine: Engine, *, tmp_dir: Path | None = None) -> None:
        self._engine = engine
        self._tmp_dir = tmp_dir
        self._load_data_allowed = True

    def append(
        self, table: str, frame: pl.DataFrame, guard_sql: str, guard_params: Mapping[str, Any]
    ) -> bool:
        """Run ``guard_sql``, then append ``frame``, in one transaction.

        Returns False, having written nothing, when the guard matched no row.
        """
        with self._engine.connect() as connection, connection.begin() as transaction:
            if rowcount(connection.execute(text(guard_sql), dict(guard_params))) == 0:
                transaction.rollback()
                return False
            if frame.height:
                if connection.dialect.name == "sqlite":
                    self._sqlite_rows(connection, table, frame)
                else:
                    self._mysql_rows(connection, table, frame)
            return True

    @staticmethod
    def _sqlite_rows(connection: Connection, table: str, frame: pl.DataFrame) -> None:
        raw: Any = connection.connection.dbapi_connection
        columns = ", ".join(f'"{name}"' for name in frame.columns)
        placeholders = ", ".join(["?"] * frame.width)
        cursor = raw.cursor()
        try:
            cursor.executemany(
                f'INSERT INTO "{table}" ({columns}) VALUES ({placeholders})',
                dates_as_text(frame).iter_rows(),
            )
        except sqlite3.IntegrityError as exc:
            raise BulkLoadRejected(f"the database refused rows of {table}: {exc}") from exc
        finally:
            cursor.close()

    def _mysql_rows(self, connection: Connection, table: str, frame: pl.DataFrame) -> None:
        raw: Any = connection.connection.dbapi_connection
        columns = ", ".join(f"`{name}`" for name in frame.columns)
        if self._load_data_allowed:
            fd, name = tempfile.mkstemp(suffix=".csv", dir=self._tmp_dir)
            os.close(fd)
            cursor = raw.cursor()
            try:
                # Strings quoted, so a customer named "NULL" stays text; nulls stay bare \N.
                _mysql_csv_ready(frame).write_csv(
                    name,
                    null_value="\\N",
                    include_header=False,
                    line_terminator="\n",
                    quote_style="non_numeric",
                )
                cursor.execute(
                    f"LOAD DATA LOCAL INFILE %s INTO TABLE `{table}` CHARACTER SET utf8mb4 "
                    "FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' ESCAPED BY '\\\\' "
                    f"LINES TERMINATED BY '\\n' ({columns})",
                    (name,),
                )
                # LOCAL INFILE turns errors (duplicate key, truncation, out of range) into
                # warnings: any warning means the chunk is not what we sent, so roll it back.
                cursor.execute("SHOW WARNINGS LIMIT 3")
                warnings = cursor.fetchall()
                if warnings:
                    raise BulkLoadRejected(
                        f"the database altered or refused rows of {table}: "
                        + "; ".join(str(warning[2]) for warning in warnings)
                    )
                return
            except Exception as exc:  # the server refuses LOCAL INFILE: use INSERTs from now on
                if (
                    isinstance(exc, BulkLoadRejected)
                    or (exc.args[:1] or (None,))[0] not in _MYSQL_LOCAL_INFILE_REFUSED
                ):
                    raise
                self._load_data_allowed = False
            finally:
                cursor.close()
                Path(name).unlink(missing_ok=True)
        placeholders = ", ".join(["%s"] * frame.width)
        cursor = raw.cursor()
        try:  # PyMySQL turns this into multi-row INSERTs up to max_allowed_packet
            cursor.executemany(
                f"INSERT INTO `{table}` ({columns}) VALUES ({placeholders})", frame.rows()
            )
        finally:
            cursor.close()


def read_frame(engine: Engine, sql: str, schema: pl.Schema) -> pl.DataFrame:
    """Run a SELECT and return its rows as a Polars frame of ``schema`` (never inferred)."""
    with engine.connect() as connection:
        # The driver's own cursor: a third faster than pl.read_database's generic path.
        cursor: Any = cast(Any, connection.connection.dbapi_connection).cursor()
        try:
            cursor.execute(sql)
            return pl.DataFrame(cursor.fetchall(), schema=schema, orient="row")
        finally:
            cursor.close()
