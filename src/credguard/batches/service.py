"""Batch jobs seen from their owners: submit, get, list, reprocess."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from credguard.batches.tables import BatchJob, BatchStatus, CustomerScore
from credguard.db.base import utcnow
from credguard.errors import Conflict, InvalidInput, NotFound


class BatchNotFound(NotFound):
    def __init__(self, job_id: int) -> None:
        super().__init__(f"batch job {job_id} does not exist")


def store_upload(source: Path, uploads_dir: Path) -> tuple[Path, str, int]:
    """Copy ``source`` durably into ``uploads_dir``, content-addressed; (path, sha256, size)."""
    if not source.is_file():
        raise InvalidInput(f"{source} is not a file")
    uploads_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(dir=uploads_dir, suffix=".part")
    try:
        with source.open("rb") as reader, os.fdopen(fd, "wb") as writer:
            for block in iter(lambda: reader.read(1 << 20), b""):
                digest.update(block)
                writer.write(block)
            writer.flush()
            os.fsync(writer.fileno())
        target = uploads_dir / f"{digest.hexdigest()}.csv"
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return target, digest.hexdigest(), target.stat().st_size


def submit(
    session: Session,
    source: Path,
    *,
    uploads_dir: Path,
    client_id: int,
    file_name: str | None = None,
    submitted_by: int | None = None,
) -> BatchJob:
    """Store the file and create its ``pending`` job; the caller's commit makes it visible to workers."""
    path, sha256, size = store_upload(source, uploads_dir)
    job = BatchJob(
        client_id=client_id,
        status=BatchStatus.PENDING,
        file_name=(file_name or source.name)[:255],
        storage_path=str(path.resolve()),
        file_sha256=sha256,
        file_size=size,
        submitted_by=submitted_by,
        rows_processed=0,
        rows_scored=0,
        rows_excluded=0,
        attempts=0,
    )
    session.add(job)
    session.flush()
    return job


def get_or_raise(session: Session, job_id: int) -> BatchJob:
    job = session.get(BatchJob, job_id)
    if job is None:
        raise BatchNotFound(job_id)
    return job


def list_jobs(
    session: Session, *, client_id: int | None = None, status: str | None = None, limit: int = 50
) -> list[BatchJob]:
    """Most recent jobs first, optionally for one client or status."""
    query = select(BatchJob).order_by(BatchJob.id.desc()).limit(limit)
    if client_id is not None:
        query = query.where(BatchJob.client_id == client_id)
    if status is not None:
        query = query.where(BatchJob.status == status)
    return list(session.scalars(query))


def reprocess(
    session: Session, job_id: int, *, lease_timeout_seconds: float, force: bool = False
) -> BatchJob:
    """Put a job back to ``pending`` from scratch: its stored rows are deleted, models re-pinned.

    Safe to repeat: whatever an earlier run wrote is removed in the same transaction that
    re-queues the job. A job whose worker is alive (fresh heartbeat) is refused unless ``force``.
    """
    job = get_or_raise(session, job_id)
    if job.status == BatchStatus.PROCESSING and not force and job.heartbeat_at is not None:
        age = (utcnow() - job.heartbeat_at).total_seconds()
        if age < lease_timeout_seconds:
            raise Conflict(
                f"batch job {job_id} is being processed by worker {job.worker_id} "
                f"(heartbeat {age:.0f} s ago); wait, or use --force if that worker is stuck"
            )
    session.execute(delete(CustomerScore).where(CustomerScore.batch_job_id == job_id))
    job.status = BatchStatus.PENDING
    job.error = None
    job.rows_processed = job.rows_scored = job.rows_excluded = 0
    job.rows_total = None
    job.models = None
    job.reference_date = None
    job.worker_id = None
    job.heartbeat_at = None
    job.attempts = 0
    job.started_at = job.finished_at = None
    job.updated_at = utcnow()
    session.flush()
    return job
