"""Bulk writes of whole Polars frames, one transaction per call, per database engine.

SQLite ingests Arrow through ADBC (about 1M rows/s here); MariaDB/MySQL gets ``LOAD DATA LOCAL
INFILE`` from a temporary CSV (about 55k rows/s), falling back to multi-row INSERTs where the
server forbids ``local_infile`` (MySQL's default). Per-row INSERTs are never used.

A :class:`FrameWriter` runs a guard statement first, in the same transaction as the rows: when it
matches no row (the caller lost its lease on the job), nothing is written.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, cast

import polars as pl
from sqlalchemy import Connection, CursorResult, Engine, Result, text

from credguard.db.engine import SQLITE_BUSY_TIMEOUT_MS, is_sqlite, sqlite_path

_MYSQL_LOCAL_INFILE_REFUSED = {1148, 3948, 2068}
_NAMED_PARAM = re.compile(r":(\w+)")


def _sqlite_ready(frame: pl.DataFrame) -> pl.DataFrame:
    """Dates and datetimes as the text SQLAlchemy stores in SQLite."""
    return frame.with_columns(
        [
            pl.col(name).dt.strftime("%Y-%m-%d")
            for name, dtype in frame.schema.items()
            if dtype == pl.Date
        ]
        + [
            pl.col(name).dt.strftime("%Y-%m-%d %H:%M:%S.%6f")
            for name, dtype in frame.schema.items()
            if isinstance(dtype, pl.Datetime)
        ]
    )


def _mysql_csv_ready(frame: pl.DataFrame) -> pl.DataFrame:
    """Backslashes escaped (LOAD DATA's escape character) and datetimes without fractions."""
    return frame.with_columns(
        [
            pl.col(name).str.replace_all("\\", "\\\\", literal=True)
            for name, dtype in frame.schema.items()
            if dtype == pl.String
        ]
        + [
            pl.col(name).dt.strftime("%Y-%m-%d %H:%M:%S")
            for name, dtype in frame.schema.items()
            if isinstance(dtype, pl.Datetime)
        ]
    )


def rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE matched (typed access to ``CursorResult.rowcount``)."""
    return cast(CursorResult[Any], result).rowcount


class FrameWriter:
    """Appends frames to a table, each together with a guard UPDATE, atomically."""

    def __init__(self, engine: Engine, *, tmp_dir: Path | None = None) -> None:
        self._engine = engine
        self._sqlite = is_sqlite(engine)
        self._tmp_dir = tmp_dir
        self._adbc: Any = None
        self._load_data_allowed = True

    def __enter__(self) -> FrameWriter:
        if self._sqlite:
            import adbc_driver_sqlite.dbapi as adbc_sqlite

            self._adbc = adbc_sqlite.connect(str(sqlite_path(self._engine)))
            cursor = self._adbc.cursor()
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()
            self._adbc.commit()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._adbc is not None:
            self._adbc.close()
            self._adbc = None

    def append(
        self, table: str, frame: pl.DataFrame, guard_sql: str, guard_params: Mapping[str, Any]
    ) -> bool:
        """Run ``guard_sql`` then append ``frame`` in one transaction; False (nothing written) if the guard matched no row."""
        if self._sqlite:
            return self._append_sqlite(table, frame, guard_sql, guard_params)
        return self._append_mysql(table, frame, guard_sql, guard_params)

    def _append_sqlite(
        self, table: str, frame: pl.DataFrame, guard_sql: str, params: Mapping[str, Any]
    ) -> bool:
        cursor = self._adbc.cursor()
        try:
            names = _NAMED_PARAM.findall(guard_sql)
            sql = _NAMED_PARAM.sub("?", guard_sql)
            cursor.execute(sql, [_sqlite_param(params[name]) for name in names])
            cursor.execute("SELECT changes()")
            (changed,) = cursor.fetchone()
            if changed == 0:
                self._adbc.rollback()
                return False
            if frame.height:
                cursor.adbc_ingest(table, _sqlite_ready(frame).to_arrow(), mode="append")
            self._adbc.commit()
            return True
        except BaseException:
            self._adbc.rollback()
            raise
        finally:
            cursor.close()

    def _append_mysql(
        self, table: str, frame: pl.DataFrame, guard_sql: str, params: Mapping[str, Any]
    ) -> bool:
        with self._engine.connect() as connection, connection.begin() as transaction:
            if rowcount(connection.execute(text(guard_sql), dict(params))) == 0:
                transaction.rollback()
                return False
            if frame.height:
                self._mysql_rows(connection, table, frame)
            return True

    def _mysql_rows(self, connection: Connection, table: str, frame: pl.DataFrame) -> None:
        columns = ", ".join(f"`{name}`" for name in frame.columns)
        raw: Any = connection.connection.dbapi_connection
        if self._load_data_allowed:
            fd, name = tempfile.mkstemp(suffix=".csv", dir=self._tmp_dir)
            os.close(fd)
            try:
                _mysql_csv_ready(frame).write_csv(
                    name, null_value="\\N", include_header=False, line_terminator="\n"
                )
                cursor = raw.cursor()
                try:
                    cursor.execute(
                        f"LOAD DATA LOCAL INFILE %s INTO TABLE `{table}` CHARACTER SET utf8mb4 "
                        "FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' ESCAPED BY '\\\\' "
                        f"LINES TERMINATED BY '\\n' ({columns})",
                        (name,),
                    )
                finally:
                    cursor.close()
                return
            except Exception as exc:  # the server refuses LOCAL INFILE: use INSERTs from now on
                if getattr(exc, "args", (None,))[0] not in _MYSQL_LOCAL_INFILE_REFUSED:
                    raise
                self._load_data_allowed = False
            finally:
                Path(name).unlink(missing_ok=True)
        placeholders = ", ".join(["%s"] * frame.width)
        cursor = raw.cursor()
        try:
            cursor.executemany(
                f"INSERT INTO `{table}` ({columns}) VALUES ({placeholders})", frame.rows()
            )
        finally:
            cursor.close()


def _sqlite_param(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    return value


def read_frame(engine: Engine, sql: str) -> pl.DataFrame:
    """Run a SELECT and return its rows as a Polars frame (Arrow-native on SQLite)."""
    if is_sqlite(engine):
        import adbc_driver_sqlite.dbapi as adbc_sqlite

        with adbc_sqlite.connect(str(sqlite_path(engine))) as connection:
            cursor = connection.cursor()
            try:
                cursor.execute(sql)
                result = pl.from_arrow(cursor.fetch_arrow_table())
            finally:
                cursor.close()
        assert isinstance(result, pl.DataFrame)
        return result
    with engine.connect() as connection:
        return pl.read_database(sql, connection)
