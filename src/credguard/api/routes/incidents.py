"""Incidents over HTTP: staff see and handle all; a client's analysts read their own.

An analyst sees only the incidents of their own company (an incident across all clients is not
theirs), without the names of the staff who handled it or the internal escalation contact;
another client's incident answers 404, exactly like one that does not exist.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import Field

from credguard.accounts.auth import Principal
from credguard.accounts.tables import Role
from credguard.api.deps import CurrentUser, SessionDep, StaffUser
from credguard.api.errors import responses
from credguard.api.schema import StrictCamel, utc
from credguard.incidents import service
from credguard.incidents.tables import Incident, IncidentStatus

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])

IncidentId = Annotated[int, Path(ge=1, le=2_147_483_647, description="Incident id.")]


class IncidentRead(StrictCamel):
    id: int
    source: str
    product: str | None
    client_id: int | None
    scope: str
    severity: str = Field(description="P1 (critical) … P4 (low), as in the runbook's 6.1.")
    status: IncidentStatus
    title: str
    details: str | None
    occurrences: int = Field(description="Detections while the incident was open.")
    opened_at: datetime
    last_seen_at: datetime
    response_due_at: datetime
    escalation: str | None = Field(description="Staff only: who the incident escalates to.")
    notification: str | None = Field(description="What became of telling the client.")
    acknowledged_at: datetime | None
    acknowledged_by: str | None = Field(description="Staff only.")
    resolved_at: datetime | None
    resolved_by: str | None = Field(description="Staff only.")
    resolution: str | None

    @classmethod
    def of(cls, incident: Incident, user: Principal) -> IncidentRead:
        staff = user.role != Role.ANALYST
        return cls(
            id=incident.id,
            source=incident.source,
            product=incident.produto,
            client_id=incident.client_id,
            scope=incident.scope,
            severity=incident.severity,
            status=IncidentStatus(incident.status),
            title=incident.title,
            details=incident.details,
            occurrences=incident.occurrences,
            opened_at=utc(incident.opened_at),
            last_seen_at=utc(incident.last_seen_at),
            response_due_at=utc(incident.response_due_at),
            escalation=incident.escalation if staff else None,
            notification=incident.notification,
            acknowledged_at=utc(incident.acknowledged_at) if incident.acknowledged_at else None,
            acknowledged_by=incident.acknowledged_by if staff else None,
            resolved_at=utc(incident.resolved_at) if incident.resolved_at else None,
            resolved_by=incident.resolved_by if staff else None,
            resolution=incident.resolution,
        )


class ResolveRequest(StrictCamel):
    resolution: str = Field(min_length=3, max_length=500, description="What was done.")


def _own_client(user: Principal) -> int | None:
    """The client whose incidents ``user`` may see; None for staff, who see all."""
    return user.client_id if user.role == Role.ANALYST else None


@router.get(
    "", response_model=list[IncidentRead], response_model_by_alias=True, responses=responses(401)
)
def list_incidents(
    session: SessionDep,
    user: CurrentUser,
    status: Annotated[
        service.StatusFilter | None,
        Query(description="open, acknowledged, resolved, or active (not resolved)."),
    ] = None,
    product: Annotated[str | None, Query(min_length=1, max_length=40)] = None,
    client_id: Annotated[
        int | None,
        Query(
            alias="clientId",
            ge=1,
            le=2_147_483_647,
            description="Staff: one client's incidents (analysts: always their own).",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[IncidentRead]:
    """Incidents, newest first."""
    own = _own_client(user)
    if own is not None:
        if client_id is not None and client_id != own:
            return []  # another client's: nothing to show, and nothing said about them
        client_id = own
    incidents = service.list_incidents(
        session, status=status, product=product, client_id=client_id, limit=limit
    )
    return [IncidentRead.of(incident, user) for incident in incidents]


@router.get(
    "/{incident_id}",
    response_model=IncidentRead,
    response_model_by_alias=True,
    responses=responses(401, 404, 422),
)
def get_incident(incident_id: IncidentId, session: SessionDep, user: CurrentUser) -> IncidentRead:
    """One incident."""
    incident = service.get_or_raise(session, incident_id, client_id=_own_client(user))
    return IncidentRead.of(incident, user)


@router.post(
    "/{incident_id}/ack",
    response_model=IncidentRead,
    response_model_by_alias=True,
    responses=responses(401, 403, 404, 409, 422),
)
def acknowledge(incident_id: IncidentId, session: SessionDep, user: StaffUser) -> IncidentRead:
    """Acknowledge an incident: someone is on it (again: no change). Staff only."""
    incident = service.acknowledge(session, incident_id, by=user.email)
    return IncidentRead.of(incident, user)


@router.post(
    "/{incident_id}/resolve",
    response_model=IncidentRead,
    response_model_by_alias=True,
    responses=responses(401, 403, 404, 409, 422),
)
def resolve(
    incident_id: IncidentId, body: ResolveRequest, session: SessionDep, user: StaffUser
) -> IncidentRead:
    """Resolve an incident, saying what was done; a later detection opens a new one. Staff only."""
    incident = service.resolve(session, incident_id, by=user.email, resolution=body.resolution)
    return IncidentRead.of(incident, user)
