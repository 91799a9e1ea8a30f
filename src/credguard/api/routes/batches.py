"""Batch jobs over HTTP: upload a CSV, follow it, download the results."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel
from starlette.concurrency import run_in_threadpool

from credguard.accounts.tables import Role, User
from credguard.api.deps import CurrentUser, EngineDep, SessionDep, SettingsDep, StaffUser
from credguard.api.errors import responses
from credguard.batches import export, service
from credguard.batches.tables import BatchJob, BatchStatus
from credguard.db.engine import session_scope
from credguard.errors import InvalidInput

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
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
        )


def _scope(user: User) -> int | None:
    """The client whose data ``user`` may see; None for staff, who see all."""
    return user.client_id if user.role == Role.ANALYST else None


@router.post(
    "",
    status_code=202,
    response_model=BatchRead,
    response_model_by_alias=True,
    responses=responses(401, 404, 413, 422),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def upload(
    request: Request,
    user: CurrentUser,
    engine: EngineDep,
    settings: SettingsDep,
    file_name: Annotated[str, Query(alias="fileName", min_length=1, max_length=255)] = "upload.csv",
    client_id: Annotated[
        int | None,
        Query(alias="clientId", description="Staff only: the client the file belongs to."),
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

    def create() -> BatchRead:
        with session_scope(engine) as session:
            job = service.create(
                session, stored, client_id=owner, file_name=file_name, submitted_by=user.id
            )
            session.flush()
            return BatchRead.of(job)

    return await run_in_threadpool(create)


@router.get(
    "", response_model=list[BatchRead], response_model_by_alias=True, responses=responses(401, 422)
)
def list_batches(
    session: SessionDep,
    user: CurrentUser,
    status: BatchStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[BatchRead]:
    """Most recent jobs first (an analyst sees only their company's)."""
    jobs = service.list_jobs(session, client_id=_scope(user), status=status, limit=limit)
    return [BatchRead.of(job) for job in jobs]


@router.get(
    "/{job_id}",
    response_model=BatchRead,
    response_model_by_alias=True,
    responses=responses(401, 404, 422),
)
def get_batch(job_id: int, session: SessionDep, user: CurrentUser) -> BatchRead:
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
    job_id: int, session: SessionDep, engine: EngineDep, settings: SettingsDep, user: CurrentUser
) -> FileResponse:
    """The results of a completed job as CSV, in the input's row order."""
    job = service.get_visible(session, job_id, client_id=_scope(user))
    export.require_completed(job)
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
    job_id: int, session: SessionDep, settings: SettingsDep, user: StaffUser
) -> BatchRead:
    """Re-run a failed or stuck job from scratch (operators and admins)."""
    job = service.reprocess(session, job_id, lease_timeout_seconds=settings.lease_timeout_seconds)
    return BatchRead.of(job)
