"""Score snapshots: a pseudonymised copy of every stored score, kept for outcomes that come late.

Defaults take months to show (a model predicts default within 12 months), but the runbook's
archival deletes ``customer_scores`` rows after 90 days. :func:`capture` copies the rows of
completed jobs into ``score_snapshots`` with what an outcome needs from the score it judges
(inputs, probability, band, exclusion, model, the job's reference date) under the keyed hash of
the CPF, never the CPF or the name. Outcomes link against this copy, so one sent after the
archival still links. A snapshot is purged ``outcome_retention_days`` after its
dataProcessamento, like an outcome after its dataReferencia.

Incremental by job: ``score_snapshot_jobs`` lists the jobs already copied with their
``finishedAt``, so a run reads only the rows of jobs completed (or completed again after a
reprocess) since: an anti-join of ``batch_jobs`` with that small table, about 1.5 s per million
jobs on MariaDB. The alternatives were measured or ruled out: an anti-join of every
``customer_scores`` row against the copy is correct but costs 4.7 s per million stored rows on
MariaDB on every run, even with nothing new; a high-water mark on ``customer_scores.id`` loses
rows, because jobs complete out of id order, InnoDB commits ids out of order, and SQLite reuses
the ids of deleted rows (a reprocessed last job).

Safe to re-run, and to run in several processes at once: runs take turns on a named lock for
each group of jobs (about :data:`CHUNK_ROWS` rows, or one large job), checking under it that
the group is still to copy; each chunk is one transaction that upserts rows on their unique
original id (``scoreId``). A job is recorded as copied in the transaction of its last chunk,
which also deletes the job's snapshots not written by this copy (the rows of a reprocessed
job's earlier run). A run that dies mid-job therefore leaves the job to copy again from its
start, overwriting the same rows.

Rows with an invalid CPF are not copied: their ``cpf`` is the raw text of the file, which no
outcome (always a valid CPF) can match.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, cast

import polars as pl
from sqlalchemy import Connection, Engine, Table, delete, exists, insert, or_, select

from credguard.batches.tables import BatchJob, BatchStatus, CustomerScore
from credguard.config import Settings
from credguard.customers.contract import INTEGER_COLUMNS, Exclusion
from credguard.db.base import utcnow
from credguard.db.bulk import dates_as_text, read_frame, rowcount
from credguard.db.engine import named_lock, session_scope, write_lock
from credguard.outcomes.pseudonym import cpf_hashes, pseudonym_key
from credguard.outcomes.tables import ScoreSnapshot, ScoreSnapshotJob
from credguard.scoring.features import INPUT_COLUMNS

#: Rows read, hashed and written per transaction (each holds SQLite's write turn ~1 s).
CHUNK_ROWS = 50_000
#: Most jobs copied together (their ids are bound parameters: SQLite allows 32,766).
GROUP_JOBS = 1_000
#: Page cache of the connection a capture writes with, on SQLite (its default is 2 MB).
SQLITE_CACHE_KIB = 131_072
#: Snapshots deleted per transaction by :func:`purge`.
PURGE_CHUNK_ROWS = 10_000
#: The named lock capture runs take turns on.
LOCK_NAME = "score-snapshots"

_JOBS = cast(Table, ScoreSnapshotJob.__table__)
#: Copied as they are: snapshot column → ``customer_scores`` column.
_COPIED: dict[str, Any] = {
    "scoreId": CustomerScore.id,
    "batchJobId": CustomerScore.batch_job_id,
    "produto": CustomerScore.produto,
    "dataProcessamento": CustomerScore.data_processamento,
    **{name: getattr(CustomerScore, name) for name in INPUT_COLUMNS},
    "scoreProbInadimplencia": CustomerScore.score_prob,
    "faixaScore": CustomerScore.faixa_score,
    "motivoExclusao": CustomerScore.motivo_exclusao,
    "modelName": CustomerScore.model_name,
    "modelVersion": CustomerScore.model_version,
}
_TYPES: dict[str, pl.DataType] = {
    "scoreId": pl.Int64(),
    "batchJobId": pl.Int64(),
    "produto": pl.String(),
    "dataProcessamento": pl.Datetime("us"),
    "data_primeira_compra": pl.Date(),
    "data_ultima_compra": pl.Date(),
    "valor_total_compras": pl.Float64(),
    **{name: pl.Int64() for name in INTEGER_COLUMNS},
    "scoreProbInadimplencia": pl.Float64(),
    "faixaScore": pl.String(),
    "motivoExclusao": pl.String(),
    "modelName": pl.String(),
    "modelVersion": pl.String(),
}
_READ_SCHEMA = pl.Schema(
    {"rowNumber": pl.Int64(), "cpf": pl.String(), **{name: _TYPES[name] for name in _COPIED}}
)


@dataclass(frozen=True)
class _Job:
    """A completed job to copy, as it was when the run listed it."""

    id: int
    client_id: int
    finished_at: datetime | None
    reference_date: date | None
    rows: int | None


def capture(engine: Engine, settings: Settings, *, client_id: int | None = None) -> int:
    """Copy the rows of completed jobs not copied yet (all clients', or one's); rows copied."""
    return capture_with_key(engine, pseudonym_key(settings), client_id=client_id)


def capture_with_key(
    engine: Engine, key: bytes, *, client_id: int | None = None, chunk_rows: int = CHUNK_ROWS
) -> int:
    """:func:`capture` with the pseudonym key at hand."""
    with engine.connect() as writer:
        sqlite_writer = writer.dialect.name == "sqlite"
        if sqlite_writer:  # the linking index's pages are random: keep more of them in memory
            writer.exec_driver_sql(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
            writer.commit()
        try:
            copied = 0
            for listed in _groups(_uncaptured(engine, client_id=client_id), chunk_rows):
                # The lock is taken per group, so another run (an outcomes upload copying its
                # client's new job) waits for one group, not for a whole backfill.
                with named_lock(engine, LOCK_NAME):
                    group = _uncaptured(engine, job_ids=[job.id for job in listed])
                    if group:  # not copied by another run meanwhile
                        # In whole seconds (MariaDB's DATETIME keeps no fraction): the rows
                        # written now carry it, so a job's older snapshots are told apart.
                        copied_at = utcnow().replace(microsecond=0)
                        copied += _capture_group(engine, writer, key, group, copied_at, chunk_rows)
            return copied
        finally:
            if sqlite_writer:
                writer.invalidate()  # its large page cache is not kept in the pool


def _uncaptured(
    engine: Engine, *, client_id: int | None = None, job_ids: list[int] | None = None
) -> list[_Job]:
    """Completed jobs not copied, or copied before they finished again (reprocessed)."""
    query = (
        select(
            BatchJob.id,
            BatchJob.client_id,
            BatchJob.finished_at,
            BatchJob.reference_date,
            BatchJob.rows_total,
        )
        .outerjoin(ScoreSnapshotJob, ScoreSnapshotJob.batch_job_id == BatchJob.id)
        .where(
            BatchJob.status == BatchStatus.COMPLETED,
            or_(
                ScoreSnapshotJob.batch_job_id.is_(None),
                ScoreSnapshotJob.finished_at.is_distinct_from(BatchJob.finished_at),
            ),
        )
        .order_by(BatchJob.id)
    )
    if client_id is not None:
        query = query.where(BatchJob.client_id == client_id)
    if job_ids is not None:
        query = query.where(BatchJob.id.in_(job_ids))
    with engine.connect() as connection:
        return [_Job(*row) for row in connection.execute(query)]


def _groups(jobs: list[_Job], chunk_rows: int, max_jobs: int = GROUP_JOBS) -> list[list[_Job]]:
    """Jobs in groups of at most ``chunk_rows`` rows and ``max_jobs`` jobs, or one larger job:
    many small (online) jobs share a chunk."""
    groups: list[list[_Job]] = []
    current: list[_Job] = []
    size = 0
    for job in jobs:
        rows = job.rows if job.rows is not None else chunk_rows
        if current and (size + rows > chunk_rows or len(current) == max_jobs):
            groups.append(current)
            current, size = [], 0
        current.append(job)
        size += rows
    if current:
        groups.append(current)
    return groups


def _capture_group(
    engine: Engine,
    writer: Connection,
    key: bytes,
    group: list[_Job],
    copied_at: datetime,
    chunk_rows: int,
) -> int:
    """Copy one group of jobs, one transaction per chunk; the last one records the jobs."""
    jobs = pl.DataFrame(
        {
            "batchJobId": [job.id for job in group],
            "clientId": [job.client_id for job in group],
            "scoreReferenceDate": [job.reference_date for job in group],
        },
        schema={"batchJobId": pl.Int64(), "clientId": pl.Int64(), "scoreReferenceDate": pl.Date()},
    )
    ids = [job.id for job in group]
    copied: dict[int, int] = dict.fromkeys(ids, 0)
    after = 0  # rowNumber read up to, for a job read in several chunks
    while True:
        if len(group) == 1:  # a large job: chunks of its rows, by rowNumber
            read = _read(engine, ids, after_row=after, limit=chunk_rows)
            last = read.height < chunk_rows
            if read.height:
                after = int(read["rowNumber"][-1])
        else:  # small jobs, about chunk_rows rows together (their rowsTotal): one read
            read, last = _read(engine, ids), True
        frame = _snapshot_frame(read, jobs, key, copied_at)
        for job_id, count in frame.group_by("batchJobId").len().iter_rows():
            copied[job_id] += count
        with write_lock(engine), writer.begin():
            if frame.height:
                _write(writer, frame)
            if last:
                _record_jobs(writer, group, copied, copied_at)
        if last:
            return sum(copied.values())


def _read(
    engine: Engine, ids: list[int], *, after_row: int = 0, limit: int | None = None
) -> pl.DataFrame:
    """The copyable rows of jobs ``ids`` after row ``after_row``, in job and row order."""
    query = (
        select(
            CustomerScore.row_number,
            CustomerScore.cpf,
            *(column.label(name) for name, column in _COPIED.items()),
        )
        .where(
            CustomerScore.batch_job_id.in_(ids),
            CustomerScore.row_number > after_row,
            CustomerScore.cpf.is_not(None),
            CustomerScore.produto.is_not(None),
            or_(
                CustomerScore.motivo_exclusao.is_(None),
                CustomerScore.motivo_exclusao != Exclusion.CPF_INVALIDO,
            ),
        )
        .order_by(CustomerScore.batch_job_id, CustomerScore.row_number)
        .limit(limit)
    )
    # The driver's own cursor (plain numbers, no bound values to escape): SQLAlchemy's result
    # processing cost more than the query. SQLite hands dates over as text: parsed in bulk.
    sql = str(query.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
    if engine.dialect.name != "sqlite":
        return read_frame(engine, sql, _READ_SCHEMA)
    as_text = {
        name: pl.String() if dtype in (pl.Date, pl.Datetime) else dtype
        for name, dtype in _READ_SCHEMA.items()
    }
    return read_frame(engine, sql, pl.Schema(as_text)).with_columns(
        [pl.col(n).str.to_date("%Y-%m-%d") for n, t in _READ_SCHEMA.items() if t == pl.Date]
        + [
            pl.col(n).str.to_datetime("%Y-%m-%d %H:%M:%S%.f", time_unit="us")
            for n, t in _READ_SCHEMA.items()
            if t == pl.Datetime
        ]
    )


def _snapshot_frame(
    read: pl.DataFrame, jobs: pl.DataFrame, key: bytes, copied_at: datetime
) -> pl.DataFrame:
    """Rows as ``score_snapshots`` stores them: the CPF replaced by its keyed hash."""
    return (
        read.with_columns(cpf_hashes(read["cpf"], key))
        .drop("cpf", "rowNumber")
        .join(jobs, on="batchJobId", how="left")
        .with_columns(pl.lit(copied_at, dtype=pl.Datetime("us")).alias("createdAt"))
    )


def _write(connection: Connection, frame: pl.DataFrame) -> None:
    """Upsert ``frame`` on ``scoreId``: a row copied before is overwritten by this copy.

    Through the driver's ``executemany`` with values Polars formatted (SQLAlchemy's per-row
    parameter processing cost more than the database's insert). Sorted by pseudonym, so the
    rows enter the linking index in its order instead of at random pages.
    """
    frame = frame.sort("clientId", "cpfHash")
    names = frame.columns
    sqlite_dialect = connection.dialect.name == "sqlite"
    values = dates_as_text(frame, fractions=sqlite_dialect).rows()
    quote = connection.dialect.identifier_preparer.quote
    columns = ", ".join(quote(name) for name in names)
    updated = [quote(name) for name in names if name != "scoreId"]
    if sqlite_dialect:
        placeholders = ", ".join("?" for _ in names)
        upsert = 'ON CONFLICT ("scoreId") DO UPDATE SET ' + ", ".join(
            f"{name} = excluded.{name}" for name in updated
        )
    elif connection.dialect.name in ("mysql", "mariadb"):
        placeholders = ", ".join("%s" for _ in names)
        upsert = "ON DUPLICATE KEY UPDATE " + ", ".join(
            f"{name} = VALUES({name})" for name in updated
        )
    else:  # pragma: no cover - CredGuard runs on SQLite and MariaDB/MySQL
        raise NotImplementedError(f"no upsert for {connection.dialect.name}")
    sql = f"INSERT INTO score_snapshots ({columns}) VALUES ({placeholders}) {upsert}"
    connection.exec_driver_sql(sql, values)


def _record_jobs(
    connection: Connection, group: list[_Job], copied: dict[int, int], copied_at: datetime
) -> None:
    """Mark the group's jobs copied, dropping their snapshots this run did not write."""
    ids = [job.id for job in group]
    connection.execute(
        delete(ScoreSnapshot).where(
            ScoreSnapshot.batch_job_id.in_(ids), ScoreSnapshot.created_at < copied_at
        )
    )
    connection.execute(delete(ScoreSnapshotJob).where(ScoreSnapshotJob.batch_job_id.in_(ids)))
    connection.execute(
        insert(_JOBS),
        [
            {
                "batchJobId": job.id,
                "clientId": job.client_id,
                "finishedAt": job.finished_at,
                "rows": copied[job.id],
                "capturedAt": copied_at,
            }
            for job in group
        ],
    )


def purge(
    engine: Engine,
    *,
    retention_days: int,
    today: date | None = None,
    chunk_rows: int = PURGE_CHUNK_ROWS,
) -> int:
    """Delete snapshots processed more than ``retention_days`` ago; how many.

    In chunks of ``chunk_rows``, each its own transaction. Also forgets the copied jobs that
    the archival has since deleted from ``batch_jobs``.
    """
    cutoff = datetime.combine((today or utcnow().date()) - timedelta(days=retention_days), time.min)
    deleted = 0
    while True:
        with write_lock(engine), session_scope(engine) as session:
            ids = session.scalars(
                select(ScoreSnapshot.id)
                .where(ScoreSnapshot.data_processamento < cutoff)
                .limit(chunk_rows)
            ).all()
            if not ids:
                session.execute(
                    delete(ScoreSnapshotJob).where(
                        ~exists().where(BatchJob.id == ScoreSnapshotJob.batch_job_id)
                    )
                )
                return deleted
            deleted += rowcount(
                session.execute(delete(ScoreSnapshot).where(ScoreSnapshot.id.in_(ids)))
            )
