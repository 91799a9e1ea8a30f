"""Batch jobs over HTTP: upload a CSV, follow it, download the results, cancel."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from credguard.accounts.auth import Principal
from credguard.accounts.tables import Role
from credguard.api.deps import CurrentUser, EngineDep, JobId, SessionDep, SettingsDep, StaffUser
from credguard.api.errors import responses
from credguard.api.schema import utc
from credguard.batches import export, service
from credguard.batches.tables import BatchJob, BatchStatus
from credguard.db.engine import session_scope
from credguard.errors import Conflict, InvalidInput

router = APIRouter(prefix="/api/v1/batches", tags=["batches"])


class BatchRead(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    id: int
    client_id: int
    file_name: str
    status: BatchStatus
    progress: float
    rows_total: int | None
    rows_processed: int
    rows_scored: int
    rows_excluded: int
    error: str | None
    models: dict[str, Any] | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, job: BatchJob) -> BatchRead:
        return cls(
            id=job.id,
            client_id=job.client_id,
            file_name=job.file_name,
            status=BatchStatus(job.status),
            progress=job.progress,
            rows_total=job.rows_total,
            rows_processed=job.rows_processed,
            rows_scored=job.rows_scored,
            rows_excluded=job.rows_excluded,
            error=job.error,
            models=json.loads(job.models) if job.models else None,
            created_at=utc(job.created_at),
            started_at=utc(job.started_at) if job.started_at else None,
            finished_at=utc(job.finished_at) if job.finished_at else None,
        )


def _scope(user: Principal) -> int | None:
    """The client whose data ``user`` may see; None for staff, who see all."""
    return user.client_id if user.role == Role.ANALYST else None


@router.post(
    "",
    status_code=202,
    response_model=BatchRead,
    response_model_by_alias=True,
    responses={
        200: {
            "model": BatchRead,
            "description": "The same file was already uploaded with this Idempotency-Key: "
            "the job created then",
        },
        **responses(401, 404, 409, 413, 422),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def upload(
    request: Request,
    response: Response,
    user: CurrentUser,
    engine: EngineDep,
    settings: SettingsDep,
    file_name: Annotated[str, Query(alias="fileName", min_length=1, max_length=255)] = "upload.csv",
    client_id: Annotated[
        int | None,
        Query(
            alias="clientId",
            ge=1,
            le=2_147_483_647,
            description="Staff only: the client the file belongs to.",
        ),
    ] = None,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=128,
            description="Retry-safe uploads: the same key with the same file answers 200 with "
            "the job the first upload created; with a different file, 409.",
        ),
    ] = None,
) -> BatchRead:
    """Upload a CSV as the request body; it is stored before the answer, then scored by a worker."""
    owner = _scope(user) if user.role == Role.ANALYST else client_id
    if owner is None:
        raise InvalidInput("staff uploads name the client: add ?clientId=…")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > settings.upload_max_bytes:
        raise service.too_large(settings.upload_max_bytes)
    writer = service.UploadWriter(settings.uploads_dir, max_bytes=settings.upload_max_bytes)
    try:
        async for block in request.stream():
            writer.write(block)
        stored = await run_in_threadpool(writer.finish)
    except BaseException:
        writer.abort()
        raise

    def create() -> tuple[BatchRead, bool]:
        try:
            with session_scope(engine) as session:
                if user.role != Role.ANALYST:
                    service.require_client(session, owner)
                if idempotency_key is None:
                    job = service.create(
                        session, stored, client_id=owner, file_name=file_name, submitted_by=user.id
                    )
                    return BatchRead.of(job), False
                job, replayed = service.create_once(
                    session,
                    stored,
                    client_id=owner,
                    file_name=file_name,
                    submitted_by=user.id,
                    idempotency_key=idempotency_key,
                )
                return BatchRead.of(job), replayed
        except IntegrityError:
            if idempotency_key is None:
                raise
        with session_scope(engine) as session:  # a concurrent upload with the same key won
            winner = service.get_idempotent(session, owner, idempotency_key, stored[1])
            if winner is None:
                raise Conflict("the upload conflicted with another one; try again")
            return BatchRead.of(winner), True

    job, replayed = await run_in_threadpool(create)
    if replayed:
        response.status_code = 200
    return job


@router.get(
    "",
    response_model=list[BatchRead],
    response_model_by_alias=True,
    responses={
        200: {
            "description": "A page of jobs, most recent first",
            "headers": {
                "X-Total-Count": {
                    "description": "How many jobs match the filters, over all pages",
                    "schema": {"type": "integer"},
                }
            },
        },
        **responses(401, 422),
    },
)
def list_batches(
    session: SessionDep,
    user: CurrentUser,
    response: Response,
    status: BatchStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=2_000_000_000)] = 0,
) -> list[BatchRead]:
    """Most recent jobs first (an analyst sees only their company's); the total in X-Total-Count."""
    scope = _scope(user)
    jobs = service.list_jobs(session, client_id=scope, status=status, limit=limit, offset=offset)
    response.headers["X-Total-Count"] = str(service.count(session, client_id=scope, status=status))
    return [BatchRead.of(job) for job in jobs]


@router.get(
    "/{job_id}",
    response_model=BatchRead,
    response_model_by_alias=True,
    responses=responses(401, 404, 422),
)
def get_batch(job_id: JobId, session: SessionDep, user: CurrentUser) -> BatchRead:
    """A job's status and progress."""
    return BatchRead.of(service.get_visible(session, job_id, client_id=_scope(user)))


@router.get(
    "/{job_id}/results",
    response_class=FileResponse,
    responses={
        200: {"content": {"text/csv": {}}, "description": "The results CSV"},
        **responses(401, 404, 409, 422),
    },
)
def download_results(
    job_id: JobId, session: SessionDep, engine: EngineDep, settings: SettingsDep, user: CurrentUser
) -> FileResponse:
    """The results of a completed job as CSV, in the input's row order."""
    job = service.get_visible(session, job_id, client_id=_scope(user))
    export.require_completed(job)
    if not job.storage_path:
        raise Conflict(f"batch job {job.id} was scored online: its results were in the response")
    target = settings.results_dir / f"job-{job.id}-{job.finished_at:%Y%m%d%H%M%S}.csv"
    if not target.exists():
        export.export_results(engine, job, target, chunk_rows=settings.chunk_size)
    name = job.file_name.rsplit(".", 1)[0] + "-resultados.csv"
    return FileResponse(target, media_type="text/csv; charset=utf-8", filename=name)


@router.post(
    "/{job_id}/reprocess",
    status_code=202,
    response_model=BatchRead,
    response_model_by_alias=True,
    responses=responses(401, 403, 404, 409, 422),
)
def reprocess(
    job_id: JobId, session: SessionDep, settings: SettingsDep, user: StaffUser
) -> BatchRead:
    """Re-run a failed or stuck job from scratch (operators and admins)."""
    job = service.reprocess(session, job_id, lease_timeout_seconds=settings.lease_timeout_seconds)
    return BatchRead.of(job)


@router.post(
    "/{job_id}/cancel",
    response_model=BatchRead,
    response_model_by_alias=True,
    responses=responses(401, 404, 409, 422),
)
def cancel(job_id: JobId, session: SessionDep, user: CurrentUser) -> BatchRead:
    """Cancel a pending or processing job; what it stored so far is deleted."""
    job = service.cancel(session, job_id, client_id=_scope(user))
    # Committed before answering: SessionDep's own commit runs only after the response is sent.
    session.commit()
    return BatchRead.of(job)
