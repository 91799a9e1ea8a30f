"""Drift results over HTTP: staff see every product × scope; a client's analysts their own.

An analyst sees only the results of their own company (``client:<id>``), never the one across
all clients nor another client's; naming another client (or the all-clients scope) answers 404,
exactly like a client with no results would for staff. See drift/stats.py (and the README) for
what each figure means; the JSON parts carry their own definitions and thresholds.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import Field

from credguard.accounts.auth import Principal
from credguard.accounts.tables import Role
from credguard.api.deps import CurrentUser, SessionDep
from credguard.api.errors import responses
from credguard.api.schema import Camel, utc
from credguard.drift import service
from credguard.drift.tables import client_scope
from credguard.errors import InvalidInput, NotFound

router = APIRouter(prefix="/api/v1/drift", tags=["drift"])


class DriftStatuses(Camel):
    """The verdict of each part: stable, attention, action or insufficient_sample."""

    score: str
    features: str
    performance: str


class DriftResultRead(Camel):
    """One product × scope × day; the three parts are self-describing JSON objects."""

    id: int
    produto: str
    scope: str = Field(description="`all` (every client) or `client:<id>`.")
    client_id: int | None
    client_name: str | None
    dia: date = Field(description="Day computed; the window ends with it (windowEnd exclusive).")
    window_start: datetime
    window_end: datetime
    model_id: int | None
    n_current: int = Field(description="Customers scored in the window.")
    n_reference: int = Field(description="Training sample behind the reference bins.")
    psi: float | None
    psi_critical: float | None = Field(
        description="PSI that sampling noise alone exceeds 5 % of the time at these sizes."
    )
    status: str = Field(description="Worst of the parts judged: stable, attention or action.")
    statuses: DriftStatuses
    score_distribution: dict[str, Any] | None = Field(
        description="Bins (edges), reference and current shares, PSI, critical value, status."
    )
    feature_drift: dict[str, Any] | None = Field(
        description="Per feature: drift % (total variation distance), PSI, bins; flagged list."
    )
    performance: dict[str, Any] | None = Field(
        description="Baseline, estimated (`estimated: true`) and observed figures, relative drops."
    )
    created_at: datetime

    @classmethod
    def of(cls, view: service.ResultView) -> DriftResultRead:
        r, parts = view.result, view.result.parts()
        return cls(
            id=r.id,
            produto=r.produto,
            scope=r.scope,
            client_id=r.client_id,
            client_name=view.client_name,
            dia=r.dia,
            window_start=utc(r.window_start),
            window_end=utc(r.window_end),
            model_id=r.model_id,
            n_current=r.n_current,
            n_reference=r.n_reference,
            psi=r.psi,
            psi_critical=r.psi_critical,
            status=r.status,
            statuses=DriftStatuses(
                score=r.psi_status, features=r.feature_status, performance=r.performance_status
            ),
            score_distribution=parts["scoreDistribution"],
            feature_drift=parts["featureDrift"],
            performance=parts["performance"],
            created_at=utc(r.created_at),
        )


ProductQuery = Annotated[
    str | None,
    Query(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_]+$", description="e.g. CARTAO."),
]
ClientQuery = Annotated[
    int | None,
    Query(
        alias="clientId",
        ge=1,
        le=2_147_483_647,
        description="That client's results (analysts: only their own).",
    ),
]
ScopeQuery = Annotated[
    str | None,
    Query(
        max_length=32,
        pattern=r"^(all|client:[0-9]{1,10})$",
        description="`all` or `client:<id>` (staff; analysts only their own).",
    ),
]


def _visible(
    user: Principal, client_id: int | None, scope: str | None
) -> tuple[int | None, str | None]:
    """(client, scope) filters ``user`` may ask for; another client's answers 404."""
    if user.role != Role.ANALYST:
        return client_id, scope
    own = user.client_id
    if (client_id is not None and client_id != own) or (
        scope is not None and scope != client_scope(own)
    ):
        raise NotFound("no drift results for that client")
    return own, client_scope(own)


@router.get(
    "",
    response_model=list[DriftResultRead],
    response_model_by_alias=True,
    responses=responses(401, 404, 422),
)
def list_drift(
    session: SessionDep,
    user: CurrentUser,
    product: ProductQuery = None,
    client_id: ClientQuery = None,
    scope: ScopeQuery = None,
    since: Annotated[
        date | None, Query(alias="from", description="First day (YYYY-MM-DD), inclusive.")
    ] = None,
    until: Annotated[
        date | None, Query(alias="to", description="Last day (YYYY-MM-DD), inclusive.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> list[DriftResultRead]:
    """Drift history, newest day first: per product × scope × day, filtered."""
    if since is not None and until is not None and since > until:
        raise InvalidInput("`from` must not be after `to`")
    client_id, scope = _visible(user, client_id, scope)
    views = service.list_results(
        session,
        product=product.upper() if product else None,
        client_id=client_id,
        scope=scope,
        since=since,
        until=until,
        limit=limit,
    )
    return [DriftResultRead.of(view) for view in views]


@router.get(
    "/latest",
    response_model=list[DriftResultRead],
    response_model_by_alias=True,
    responses=responses(401, 404, 422),
)
def latest_drift(
    session: SessionDep,
    user: CurrentUser,
    product: ProductQuery = None,
    client_id: ClientQuery = None,
    scope: ScopeQuery = None,
) -> list[DriftResultRead]:
    """The latest result of each product × scope (staff: `scope=all` for the overview)."""
    client_id, scope = _visible(user, client_id, scope)
    views = service.latest(
        session, product=product.upper() if product else None, client_id=client_id, scope=scope
    )
    return [DriftResultRead.of(view) for view in views]
