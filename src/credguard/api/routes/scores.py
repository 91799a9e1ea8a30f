"""Online scoring over HTTP: score one to a thousand customers in the request."""

from __future__ import annotations

from typing import Annotated

import polars as pl
from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from credguard.accounts.tables import Role
from credguard.api.deps import CurrentUser, SessionDep, SettingsDep
from credguard.api.errors import responses
from credguard.batches import online
from credguard.batches import service as batches
from credguard.errors import InvalidInput
from credguard.scoring.reasons import REASONS

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


class ScoreCreate(BaseModel):
    customers: list[Customer] = Field(min_length=1, max_length=online.MAX_CUSTOMERS)


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class CustomerScoreRead(_Camel):
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


class ScoresRead(_Camel):
    batch_id: int
    results: list[CustomerScoreRead]


def _results(rows: pl.DataFrame) -> list[CustomerScoreRead]:
    results = []
    for row in rows.iter_rows(named=True):
        codes = [row[f"reasonCode{i}"] for i in (1, 2, 3) if row[f"reasonCode{i}"] is not None]
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


@router.post(
    "",
    response_model=ScoresRead,
    response_model_by_alias=True,
    responses=responses(401, 404, 422),
)
def score_customers(
    body: ScoreCreate,
    session: SessionDep,
    settings: SettingsDep,
    user: CurrentUser,
    client_id: Annotated[
        int | None,
        Query(
            alias="clientId",
            ge=1,
            le=2_147_483_647,
            description="Staff only: the client the customers belong to.",
        ),
    ] = None,
) -> ScoresRead:
    """Score customers now, with the batch path's validation and models; stored as a batch."""
    owner = user.client_id if user.role == Role.ANALYST else client_id
    if owner is None:
        raise InvalidInput("staff scoring names the client: add ?clientId=…")
    if user.role != Role.ANALYST:
        batches.require_client(session, owner)
    scored = online.score(
        session,
        settings,
        [customer.model_dump() for customer in body.customers],
        client_id=owner,
        submitted_by=user.id,
    )
    # Committed before answering: SessionDep's own commit runs only after the response is sent.
    session.commit()
    return ScoresRead(batch_id=scored.job.id, results=_results(scored.rows))
