"""Observed outcomes over HTTP: clients send back what happened to customers they had scored."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Annotated, Any

import polars as pl
from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from credguard.accounts import service as accounts
from credguard.accounts.auth import Principal
from credguard.accounts.tables import Role
from credguard.api.deps import CurrentUser, EngineDep, SessionDep, SettingsDep
from credguard.api.errors import responses
from credguard.api.schema import Camel
from credguard.db.base import utcnow
from credguard.db.engine import session_scope
from credguard.errors import CredGuardError, InvalidInput, NotFound
from credguard.outcomes import rows, service
from credguard.outcomes.pseudonym import pseudonym_key

router = APIRouter(prefix="/api/v1/outcomes", tags=["outcomes"])

Answer = bool | int | str | None


class OutcomeIn(BaseModel):
    """One outcome; values are checked row by row, so a bad one is named with its row."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    cpf: str | int | None = None
    produto: str | None = None
    inadimplente: Answer = Field(
        None,
        description="Did the customer default within the model's horizon (12 months) after the "
        "credit decision dated `dataReferencia`? true/false, 1/0, sim/não.",
    )
    default: Answer = Field(None, description="Another name for `inadimplente`.")
    data_referencia: str | None = Field(
        None,
        alias="dataReferencia",
        description="The date of the credit decision this outcome judges (2026-10-31 or "
        "31/10/2026; not after today), not the date a default was observed. The outcome is "
        "linked to the latest score of this customer and product on or before that date.",
    )


class OutcomesCreate(BaseModel):
    outcomes: list[OutcomeIn] = Field(min_length=1, max_length=rows.MAX_OUTCOMES)


class OutcomesRead(Camel):
    """What the upload did: each received outcome was stored (new) or updated an earlier one."""

    client_id: int
    received: int
    stored: int
    updated: int
    linked: int = Field(
        description="Outcomes linked to the score they judge (usable for training)."
    )
    unlinked: int = Field(description="Outcomes with no score of this client to link to.")


class ProductOutcomesRead(Camel):
    produto: str
    outcomes: int
    linked: int
    linked_share: float
    defaults: int
    default_rate: float


_CSV_TYPES = ("text/csv", "text/plain", "application/csv", "application/vnd.ms-excel")
_REQUEST_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["outcomes"],
                "additionalProperties": False,
                "properties": {
                    "outcomes": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": rows.MAX_OUTCOMES,
                        "items": OutcomeIn.model_json_schema(by_alias=True),
                    }
                },
            }
        },
        "text/csv": {"schema": {"type": "string", "format": "binary"}},
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {"file": {"type": "string", "format": "binary"}},
            }
        },
    },
}


class UnsupportedMediaType(CredGuardError):
    status = 415


def _owner(user: Principal, client_id: int | None) -> int:
    """The client whose outcomes these are: an analyst's own; staff must name one."""
    if user.role == Role.ANALYST:
        assert user.client_id is not None  # analysts always belong to a client
        return user.client_id
    if client_id is None:
        raise InvalidInput("staff name the client the outcomes belong to: add ?clientId=…")
    return client_id


ClientQuery = Annotated[
    int | None,
    Query(
        alias="clientId",
        ge=1,
        le=2_147_483_647,
        description="Staff only: the client the outcomes belong to (analysts: always their own).",
    ),
]


@router.post(
    "",
    response_model=OutcomesRead,
    response_model_by_alias=True,
    responses=responses(401, 404, 413, 415, 422),
    openapi_extra={"requestBody": _REQUEST_BODY},
)
async def upload_outcomes(
    request: Request,
    user: CurrentUser,
    engine: EngineDep,
    settings: SettingsDep,
    client_id: ClientQuery = None,
) -> OutcomesRead:
    """Send outcomes as JSON `{"outcomes": [...]}`, a CSV body, or a multipart `file`.

    All or nothing: one invalid row refuses the upload, listing every row's problem. At most
    100,000 outcomes (32 MB) per upload. Sending an outcome again updates it.
    """
    owner = _owner(user, client_id)
    body = await _read_limited(request)
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == "multipart/form-data":
        body = await _form_file(request, body)
        media_type = "text/csv"

    def record() -> service.RecordReport:
        raw = _parse(body, media_type)
        typed = rows.validate(raw, products=settings.products, today=utcnow().date())
        key = pseudonym_key(settings)
        with session_scope(engine) as session:
            if user.role != Role.ANALYST and accounts.get_client(session, owner) is None:
                raise NotFound(f"client {owner} does not exist")
            return service.record(session, owner, typed, key=key)

    report = await run_in_threadpool(record)
    return OutcomesRead(
        client_id=owner,
        received=report.received,
        stored=report.stored,
        updated=report.updated,
        linked=report.linked,
        unlinked=report.unlinked,
    )


async def _read_limited(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > rows.MAX_UPLOAD_BYTES:
        raise rows.too_large()
    body = bytearray()
    async for block in request.stream():
        body += block
        if len(body) > rows.MAX_UPLOAD_BYTES:
            raise rows.too_large()
    return bytes(body)


async def _form_file(request: Request, body: bytes) -> bytes:
    """The ``file`` field of a multipart form already read into ``body``."""

    async def once() -> AsyncGenerator[bytes, None]:
        yield body

    try:
        form = await MultiPartParser(
            request.headers, once(), max_files=1, max_fields=10, max_part_size=1024
        ).parse()
    except MultiPartException as exc:
        raise InvalidInput(f"the multipart form could not be read: {exc.message}") from None
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInput("the multipart form has no file field named 'file'")
        return await upload.read()
    finally:
        await form.close()


def _parse(body: bytes, media_type: str) -> pl.DataFrame:
    if media_type == "application/json" or media_type.endswith("+json"):
        try:
            parsed = OutcomesCreate.model_validate_json(body)
        except ValidationError as exc:
            raise RequestValidationError(
                exc.errors(include_url=False, include_input=False)
            ) from None
        return rows.from_records(
            [
                {
                    "cpf": item.cpf,
                    "produto": item.produto,
                    "inadimplente": item.default
                    if item.inadimplente is None
                    else item.inadimplente,
                    "dataReferencia": item.data_referencia,
                }
                for item in parsed.outcomes
            ]
        )
    if media_type in _CSV_TYPES:
        return rows.read_csv(body)
    raise UnsupportedMediaType(
        "send outcomes as JSON (application/json), as CSV (text/csv) or as a multipart form "
        "with a field named 'file'"
    )


@router.get(
    "/summary",
    response_model=list[ProductOutcomesRead],
    response_model_by_alias=True,
    responses=responses(401, 422),
)
def outcomes_summary(
    session: SessionDep, user: CurrentUser, client_id: ClientQuery = None
) -> list[ProductOutcomesRead]:
    """Outcomes per product: how many, the share linked to a score, the observed default rate.

    Analysts see their company's; staff see every client's together, or one with ``clientId``.
    """
    scope = user.client_id if user.role == Role.ANALYST else client_id
    return [
        ProductOutcomesRead(
            produto=item.produto,
            outcomes=item.outcomes,
            linked=item.linked,
            linked_share=item.linked_share,
            defaults=item.defaults,
            default_rate=item.default_rate,
        )
        for item in service.summary(session, client_id=scope)
    ]
