"""Batch jobs seen from their owners: submit, get, list, cancel, reprocess."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.orm import Session

from credguard.accounts.tables import Client
from credguard.batches.tables import BatchJob, BatchStatus, CustomerScore
from credguard.db.base import utcnow
from credguard.db.bulk import rowcount
from credguard.errors import Conflict, CredGuardError, InvalidInput, NotFound


class BatchNotFound(NotFound):
    def __init__(self, job_id: int) -> None:
        super().__init__(f"batch job {job_id} does not exist")


class TooLarge(CredGuardError):
    status = 413


class ClientNotFound(NotFound):
    def __init__(self, client_id: int) -> None:
        super().__init__(f"client {client_id} does not exist")


class IdempotencyKeyReused(Conflict):
    def __init__(self, key: str) -> None:
        super().__init__(
            f"the Idempotency-Key {key!r} was already used for a different file; "
            "use a new key for a new file"
        )


#: Jobs that can still be cancelled.
CANCELLABLE = (BatchStatus.PENDING, BatchStatus.PROCESSING)


def _size(count: int) -> str:
    return f"{count / (1024 * 1024):.0f} MB" if count >= 1024 * 1024 else f"{count / 1024:.0f} KB"


def too_large(max_bytes: int) -> TooLarge:
    return TooLarge(f"the file is larger than the {_size(max_bytes)} limit")


class UploadWriter:
    """Receives a file block by block into ``uploads_dir``: hashed, size-capped, fsynced, atomic."""

    def __init__(self, uploads_dir: Path, *, max_bytes: int | None = None) -> None:
        uploads_dir.mkdir(parents=True, exist_ok=True)
        self._dir = uploads_dir
        self._max = max_bytes
        self._digest = hashlib.sha256()
        self.size = 0
        fd, name = tempfile.mkstemp(dir=uploads_dir, suffix=".part")
        self._tmp = Path(name)
        self._handle = os.fdopen(fd, "wb")

    def write(self, block: bytes) -> None:
        self.size += len(block)
        if self._max is not None and self.size > self._max:
            self.abort()
            raise too_large(self._max)
        self._digest.update(block)
        self._handle.write(block)

    def finish(self) -> tuple[Path, str, int]:
        """Make the file durable under its content hash; (path, sha256, size)."""
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        target = self._dir / f"{self._digest.hexdigest()}.csv"
        os.replace(self._tmp, target)
        return target, self._digest.hexdigest(), self.size

    def abort(self) -> None:
        if not self._handle.closed:
            self._handle.close()
        self._tmp.unlink(missing_ok=True)


def store_upload(source: Path, uploads_dir: Path) -> tuple[Path, str, int]:
    """Copy ``source`` durably into ``uploads_dir``, content-addressed; (path, sha256, size)."""
    if not source.is_file():
        raise InvalidInput(f"{source} is not a file")
    writer = UploadWriter(uploads_dir)
    try:
        with source.open("rb") as reader:
            for block in iter(lambda: reader.read(1 << 20), b""):
                writer.write(block)
        return writer.finish()
    except BaseException:
        writer.abort()
        raise


def submit(
    session: Session,
    source: Path,
    *,
    uploads_dir: Path,
    client_id: int,
    file_name: str | None = None,
    submitted_by: int | None = None,
    claimed_by: str | None = None,
) -> BatchJob:
    """Store the file and create its job: ``pending`` for any worker, or already claimed by one.

    The caller's commit makes it visible.
    """
    stored = store_upload(source, uploads_dir)
    job = create(
        session,
        stored,
        client_id=client_id,
        file_name=file_name or source.name,
        submitted_by=submitted_by,
    )
    if claimed_by is not None:
        job.status = BatchStatus.PROCESSING
        job.worker_id = claimed_by
        job.heartbeat_at = utcnow()
        job.attempts = 1
    return job


def create(
    session: Session,
    stored: tuple[Path, str, int],
    *,
    client_id: int,
    file_name: str,
    submitted_by: int | None = None,
    idempotency_key: str | None = None,
) -> BatchJob:
    """The ``pending`` job of a file already stored by :class:`UploadWriter`."""
    path, sha256, size = stored
    job = BatchJob(
        client_id=client_id,
        status=BatchStatus.PENDING,
        file_name=file_name[:255],
        storage_path=str(path.resolve()),
        file_sha256=sha256,
        file_size=size,
        submitted_by=submitted_by,
        rows_processed=0,
        rows_scored=0,
        rows_excluded=0,
        attempts=0,
        idempotency_key=idempotency_key,
    )
    session.add(job)
    session.flush()
    return job


def create_once(
    session: Session,
    stored: tuple[Path, str, int],
    *,
    client_id: int,
    file_name: str,
    submitted_by: int | None,
    idempotency_key: str,
) -> tuple[BatchJob, bool]:
    """The job of ``idempotency_key``: the one created earlier for this file, or a new one.

    Returns ``(job, replayed)``. A different file under a used key is refused. Two concurrent
    first calls both insert; the unique (clientId, idempotencyKey) lets one win and the loser's
    flush raises ``IntegrityError``: its caller rolls back and calls :func:`get_idempotent`,
    which then finds the winner.
    """
    earlier = get_idempotent(session, client_id, idempotency_key, stored[1])
    if earlier is not None:
        return earlier, True
    job = create(
        session,
        stored,
        client_id=client_id,
        file_name=file_name,
        submitted_by=submitted_by,
        idempotency_key=idempotency_key,
    )
    return job, False


def get_idempotent(session: Session, client_id: int, key: str, sha256: str) -> BatchJob | None:
    """The job ``client_id`` created earlier under ``key`` for this same file, if any."""
    job = session.scalar(
        select(BatchJob).where(BatchJob.client_id == client_id, BatchJob.idempotency_key == key)
    )
    if job is not None and job.file_sha256 != sha256:
        raise IdempotencyKeyReused(key)
    return job


def require_client(session: Session, client_id: int) -> None:
    """Raise :class:`ClientNotFound` unless the client exists."""
    if session.get(Client, client_id) is None:
        raise ClientNotFound(client_id)


def get_or_raise(session: Session, job_id: int) -> BatchJob:
    job = session.get(BatchJob, job_id)
    if job is None:
        raise BatchNotFound(job_id)
    return job


def _matching(client_id: int | None, status: str | None) -> list[ColumnElement[bool]]:
    conditions = []
    if client_id is not None:
        conditions.append(BatchJob.client_id == client_id)
    if status is not None:
        conditions.append(BatchJob.status == status)
    return conditions


def list_jobs(
    session: Session,
    *,
    client_id: int | None = None,
    status: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[BatchJob]:
    """Most recent jobs first, optionally for one client or status; a page of ``limit``."""
    query = select(BatchJob).where(*_matching(client_id, status))
    return list(session.scalars(query.order_by(BatchJob.id.desc()).limit(limit).offset(offset)))


def count(session: Session, *, client_id: int | None = None, status: str | None = None) -> int:
    """How many jobs :func:`list_jobs` pages through."""
    query = select(func.count()).select_from(BatchJob).where(*_matching(client_id, status))
    return int(session.scalar(query) or 0)


def cancel(session: Session, job_id: int, *, client_id: int | None) -> BatchJob:
    """Cancel a pending or processing job visible to ``client_id``; its stored rows are deleted.

    One guarded UPDATE decides (a job that completed meanwhile is refused); a worker still
    processing the job then fails its next chunk's guard (status must be ``processing``) and
    stops with ``LeaseLost`` without writing. The rows are deleted in the same transaction.
    """
    job = get_visible(session, job_id, client_id=client_id)
    now = utcnow()
    cancelled = rowcount(
        session.execute(
            update(BatchJob)
            .where(BatchJob.id == job_id, BatchJob.status.in_(CANCELLABLE))
            .values(
                status=BatchStatus.CANCELLED,
                heartbeat_at=None,
                finished_at=now,
                updated_at=now,
                rows_processed=0,
                rows_scored=0,
                rows_excluded=0,
            )
            .execution_options(synchronize_session=False)
        )
    )
    session.refresh(job)
    if cancelled != 1:
        raise Conflict(
            f"batch job {job_id} is {job.status}; only pending or processing jobs can be cancelled"
        )
    session.execute(delete(CustomerScore).where(CustomerScore.batch_job_id == job_id))
    return job


def reprocess(
    session: Session, job_id: int, *, lease_timeout_seconds: float, force: bool = False
) -> BatchJob:
    """Put a job back to ``pending`` from scratch: its stored rows are deleted, models re-pinned.

    Safe to repeat: whatever an earlier run wrote is removed in the same transaction that
    re-queues the job. A job whose worker is alive (fresh heartbeat) is refused unless ``force``.
    """
    job = get_or_raise(session, job_id)
    if not job.storage_path:
        raise Conflict(f"batch job {job_id} was scored online; there is no file to process again")
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


def get_visible(session: Session, job_id: int, *, client_id: int | None) -> BatchJob:
    """The job, if ``client_id`` may see it (None: CredGuard staff, who see every client's).

    Another client's job is reported exactly like a job that does not exist.
    """
    job = session.get(BatchJob, job_id)
    if job is None or (client_id is not None and job.client_id != client_id):
        raise BatchNotFound(job_id)
    return job
