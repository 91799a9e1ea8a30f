"""Online scoring over HTTP: score one to a thousand customers in the request.

The route is ``async``: it checks the body, then queues the request on the group-commit thread
(:mod:`api.group_commit`), which authenticates, scores and stores concurrent requests together
in one transaction. The bearer token is checked there with the same code as every other route.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Annotated

from fastapi import APIRouter, FastAPI, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from credguard.accounts import auth
from credguard.accounts.tables import Role
from credguard.api.deps import BearerToken
from credguard.api.errors import responses
from credguard.api.group_commit import GroupCommit
from credguard.api.schema import Camel
from credguard.batches import online
from credguard.batches import service as batches
from credguard.config import Settings
from credguard.db.engine import write_lock
from credguard.errors import CredGuardError, InvalidInput
from credguard.scoring.reasons import REASONS
from credguard.scoring.score import REASON_COLUMNS

router = APIRouter(prefix="/api/v1/scores", tags=["scores"])

Value = str | int | float | None


class Customer(BaseModel):
    """One customer, with the batch CSV's columns; numbers may be sent as numbers or text."""

    model_config = ConfigDict(extra="forbid")

    cpf: Value = None
    nome: Value = None
    produto: Value = None
    data_primeira_compra: Value = None
    data_ultima_compra: Value = None
    total_compras: Value = None
    valor_total_compras: Value = None
    total_pagamentos_em_dia: Value = None
    total_atrasos: Value = None
    maior_atraso: Value = None

    @field_validator("*")
    @classmethod
    def _storable_text(cls, value: Value) -> Value:
        # JSON may carry lone surrogates ("\ud800"), which no database column can store.
        if isinstance(value, str) and not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("text must be valid Unicode") from None
        return value


class ScoreCreate(BaseModel):
    customers: list[Customer] = Field(min_length=1, max_length=online.MAX_CUSTOMERS)


class CustomerScoreRead(Camel):
    row_number: int
    cpf: str | None
    score_prob_inadimplencia: float | None
    score: int | None
    faixa_score: str | None
    reason_codes: list[str]
    reasons: list[str]
    motivo_exclusao: str | None
    model_name: str | None
    model_version: str | None


_RESULTS = TypeAdapter(list[CustomerScoreRead])


class ScoresRead(Camel):
    batch_id: int
    results: list[CustomerScoreRead]


def _results(rows: list[online.Row]) -> list[CustomerScoreRead]:
    results = []
    for row in rows:
        codes = [row[column] for column in REASON_COLUMNS if row[column] is not None]
        results.append(
            CustomerScoreRead(
                row_number=row["rowNumber"],
                cpf=row["cpf"],
                score_prob_inadimplencia=row["scoreProbInadimplencia"],
                score=row["score"],
                faixa_score=row["faixaScore"],
                reason_codes=codes,
                reasons=[REASONS[code] for code in codes],
                motivo_exclusao=row["motivoExclusao"],
                model_name=row["modelName"],
                model_version=row["modelVersion"],
            )
        )
    return results


@dataclass(frozen=True)
class _Scoring:
    """One request's work for the group-commit thread."""

    token: str
    client_id: int | None
    customers: list[dict[str, Value]]


def score_group(
    session: Session, items: Sequence[_Scoring], *, settings: Settings
) -> list[bytes | CredGuardError]:
    """Authenticate each request, find its client, then score and store all that passed.

    Everything that can fail happens before the first write: reads, validation, scoring and the
    answers' JSON. The writes then take the database's write turn only for as long as the
    inserts and the commit last, and nothing can fail after the commit.
    """
    outcomes: list[bytes | CredGuardError | None] = [None] * len(items)
    accepted: list[tuple[int, online.OnlineRequest]] = []
    # An integration sends its requests with one token: read who it is once per group.
    principals: dict[str, auth.Principal] = {}
    for position, item in enumerate(items):
        try:
            user = principals.get(item.token) or auth.principal_for_bearer(
                session, item.token, settings, note_use=False
            )
            principals[item.token] = user
            owner = user.client_id if user.role == Role.ANALYST else item.client_id
            if owner is None:
                raise InvalidInput("staff scoring names the client: add ?clientId=…")
            if user.role != Role.ANALYST:
                batches.require_client(session, owner)
            accepted.append((position, online.OnlineRequest(item.customers, owner, user.id)))
        except CredGuardError as refused:
            outcomes[position] = refused
    prepared = online.prepare(session, settings, [request for _, request in accepted])
    # Serialised here, once: returned as a model, FastAPI would dump, re-validate and
    # serialise it again on the event loop.
    results = [_RESULTS.dump_json(_results(rows), by_alias=True) for rows in prepared.rows]
    with write_lock(session.get_bind().engine):
        for principal in principals.values():
            auth.note_token_use(session, principal)
        job_ids = online.store(session, prepared)
        session.commit()
    for (position, _), job_id, body in zip(accepted, job_ids, results, strict=True):
        outcomes[position] = b'{"batchId":%d,"results":%s}' % (job_id, body)
    done = [outcome for outcome in outcomes if outcome is not None]
    assert len(done) == len(items), "every request is answered or refused"
    return done


def install(app: FastAPI, engine: Engine, settings: Settings) -> GroupCommit[_Scoring, bytes]:
    """The group-commit thread online scoring runs on (stopped by ``close()`` at shutdown)."""
    scorer: GroupCommit[_Scoring, bytes] = GroupCommit(
        engine, partial(score_group, settings=settings), name="credguard-online-scoring"
    )
    app.state.online_scoring = scorer
    return scorer


@router.post(
    "",
    response_model=ScoresRead,
    response_model_by_alias=True,
    responses=responses(401, 404, 422),
)
async def score_customers(
    body: ScoreCreate,
    request: Request,
    token: BearerToken,
    client_id: Annotated[
        int | None,
        Query(
            alias="clientId",
            ge=1,
            le=2_147_483_647,
            description="Staff only: the client the customers belong to.",
        ),
    ] = None,
) -> Response:
    """Score customers now, with the batch path's validation and models; stored as a batch."""
    scorer: GroupCommit[_Scoring, bytes] = request.app.state.online_scoring
    body_json = await scorer.submit(
        _Scoring(token, client_id, [customer.model_dump() for customer in body.customers])
    )
    return Response(body_json, media_type="application/json")
