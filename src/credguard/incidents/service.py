"""Opening, listing, acknowledging and resolving incidents.

**Deduplication.** One unresolved incident per source × product × scope: the incident's
``openKey`` (unique) is set while it is not resolved. A report is one upsert on that key: it
opens the incident, or, when one is already open (or acknowledged), adds an occurrence, moves
``lastSeenAt`` and keeps the latest details. Two reporters at once, in two processes or on
MariaDB, meet on the unique key inside the database and produce one incident; the one whose
upsert inserted it (its occurrence count reads 1 under the row's lock) queues the notice, the
other does not. No savepoint is needed, so the caller's transaction is never cut short
(pysqlite's SAVEPOINT would commit it early). A resolved incident releases its key: the next
detection opens a new incident and mails again.

**Drift.** The drift run calls :func:`report_drift` for every product × client (or all clients)
result. Only "action" opens or touches an incident; any other status (stable, attention, too
small a sample) does nothing, not even close one: a person resolves an incident, after the
retraining of the runbook's section 5, because a day back under the threshold does not mean the
model was fixed.

**Severity** comes from ``CREDGUARD_INCIDENT_SEVERITIES`` (drift: P3, a degradation of model
performance in the runbook's section 6.1); the response time and escalation contact of that
severity are copied onto the incident when it opens (``CREDGUARD_RESPONSE_MINUTES_P*``,
``CREDGUARD_ESCALATION_P*``).

**Notices** (runbook 2.3, steps 2–3) are queued in the same transaction as the incident:
:mod:`credguard.incidents.notices` has their texts, :mod:`credguard.notify.outbox` sends them.
An incident across all clients mails operations and every client scored by the product's model
in the window (whatever the size of its own sample), once per incident × client
(``incident:<id>:client:<clientId>``), except a client with a drift incident of its own.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any, Literal, cast

from sqlalchemy import ColumnElement, Table, select
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.orm import Session

from credguard.accounts.tables import Client
from credguard.batches.tables import CustomerScore
from credguard.config import Settings, Severity
from credguard.db.base import utcnow
from credguard.drift.tables import ALL_CLIENTS, DriftResult, client_scope
from credguard.errors import Conflict, InvalidInput, NotFound
from credguard.incidents import notices
from credguard.incidents.tables import Incident, IncidentStatus
from credguard.notify import outbox

SOURCE_DRIFT = "drift"
#: The drift status that opens an incident.
ACTION = "action"
DEFAULT_SEVERITY: Severity = "P3"

#: ``active`` is open or acknowledged: every incident not yet resolved.
StatusFilter = Literal["open", "acknowledged", "resolved", "active"]

_TABLE = cast(Table, Incident.__table__)


class IncidentNotFound(NotFound):
    """No incident with that id (or none the asking client may see)."""


class IncidentResolved(Conflict):
    """The incident is already resolved."""


def open_key(source: str, product: str | None, scope: str) -> str:
    return f"{source}:{product or '-'}:{scope}"


def report_drift(
    session: Session,
    settings: Settings,
    *,
    product: str,
    client_id: int | None,
    status: str,
    summary: str,
    details: str | Mapping[str, Any] | None,
    detected_on: date,
) -> Incident | None:
    """Record a drift result: at "action", the product × scope's incident (opened or seen again).

    Any other status returns None and writes nothing. Flushes; the caller commits, and the
    client's notice is committed with the incident or not at all.
    """
    if str(status) != ACTION:
        return None
    text = details if isinstance(details, str) or details is None else _as_text(details)
    incident, opened = report(
        session,
        settings,
        source=SOURCE_DRIFT,
        product=product,
        client_id=client_id,
        title=summary,
        details=f"Detected on {detected_on.isoformat()}.\n{text or ''}".strip(),
    )
    if opened:
        _queue_drift_notice(session, settings, incident, detected_on)
    return incident


def report(
    session: Session,
    settings: Settings,
    *,
    source: str,
    product: str | None,
    client_id: int | None,
    title: str,
    details: str | None,
) -> tuple[Incident, bool]:
    """Open the incident of source × product × scope, or count one more occurrence of it.

    Returns the incident (locked until the caller's commit) and whether this call opened it.
    """
    now = utcnow()
    scope = client_scope(client_id)
    key = open_key(source, product, scope)
    severity = settings.incident_severities.get(source, DEFAULT_SEVERITY)
    values: dict[str, Any] = {
        "source": source,
        "produto": product,
        "clientId": client_id,
        "scope": scope,
        "severity": severity,
        "status": IncidentStatus.OPEN.value,
        "title": " ".join(title.split())[:200] or f"{source} {product or ''}".strip(),
        "details": details,
        "openKey": key,
        "occurrences": 1,
        "openedAt": now,
        "lastSeenAt": now,
        "responseDueAt": now + timedelta(minutes=settings.response_minutes(severity)),
        "escalation": settings.escalation(severity)[:200],
    }
    statement: Any
    if session.get_bind().dialect.name == "sqlite":
        statement = sqlite.insert(_TABLE).values(values)
        statement = statement.on_conflict_do_update(
            index_elements=["openKey"], set_=_seen_again(statement.excluded)
        )
    else:
        statement = mysql.insert(_TABLE).values(values)
        statement = statement.on_duplicate_key_update(_seen_again(statement.inserted))
    session.execute(statement)
    incident = session.execute(
        select(Incident)
        .where(Incident.open_key == key)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()
    return incident, incident.occurrences == 1


def _seen_again(new: Any) -> dict[str, ColumnElement[Any]]:
    # occurrences first: on MySQL each assignment sees the ones before it.
    return {
        "occurrences": _TABLE.c.occurrences + 1,
        "lastSeenAt": new["lastSeenAt"],
        "details": new["details"],
    }


def _queue_drift_notice(
    session: Session, settings: Settings, incident: Incident, detected_on: date
) -> None:
    """Queue the mail of a newly opened drift incident and note on it what was done."""
    if incident.client_id is None:
        notice = notices.operations_drift(incident, detected_on)
        _, operations = _queue(
            session,
            incident,
            recipient=settings.operations_email,
            notice=notice,
            key=f"incident:{incident.id}:operations",
            what="operations notice",
        )
        clients = _notify_clients_of_product(session, settings, incident, detected_on)
        incident.notification = f"{operations}; {clients}"[:300]
        return
    client = session.get(Client, incident.client_id)
    if client is None:  # the foreign key makes this unreachable; say so rather than crash
        incident.notification = "client not notified: the client does not exist"
        return
    if not client.contact_email:
        incident.notification = "client not notified: no contact e-mail on record"
        return
    notice = notices.client_drift(client, incident.produto or "", detected_on, settings)
    plan = "support plan" if client.support_plan else "no support plan: suggests contracting it"
    _, incident.notification = _queue(
        session,
        incident,
        recipient=client.contact_email,
        notice=notice,
        key=f"incident:{incident.id}:client-notice",
        what=f"client notice ({plan})",
        client_id=client.id,
    )


def _notify_clients_of_product(
    session: Session, settings: Settings, incident: Incident, detected_on: date
) -> str:
    """Queue a notice to every client scored by the drifted product's model in the window.

    A client's own window may be too small to judge (fewer than ``CREDGUARD_DRIFT_MIN_SAMPLE``
    rows), yet its scores come from the drifted model: runbook 2.3 steps 2–3 apply to it too.
    Skipped: a client with an unresolved drift incident of its own for the product (it was
    mailed, or is mailed by that incident), and one at "action" on the same day (its own
    incident, reported after this one in the same drift run, mails it).
    """
    product = incident.produto or ""
    start, end = _window(session, settings, product, detected_on)
    scored = session.scalars(
        select(CustomerScore.client_id)
        .where(
            CustomerScore.produto == product,
            CustomerScore.data_processamento >= start,
            CustomerScore.data_processamento < end,
            CustomerScore.motivo_exclusao.is_(None),
        )
        .distinct()
    )
    own_keys = {
        key
        for key in session.scalars(
            select(Incident.open_key).where(
                Incident.source == SOURCE_DRIFT,
                Incident.produto == product,
                Incident.client_id.is_not(None),
                Incident.open_key.is_not(None),
            )
        )
    }
    at_action = set(
        session.scalars(
            select(DriftResult.client_id).where(
                DriftResult.produto == product,
                DriftResult.dia == detected_on,
                DriftResult.status == ACTION,
                DriftResult.client_id.is_not(None),
            )
        )
    )
    queued = own = no_email = refused = 0
    for client_id in sorted(set(scored)):
        if client_id in at_action or open_key(SOURCE_DRIFT, product, client_scope(client_id)) in (
            own_keys
        ):
            own += 1
            continue
        client = session.get(Client, client_id)
        if client is None or not client.contact_email:
            no_email += 1
            continue
        was_queued, _ = _queue(
            session,
            incident,
            recipient=client.contact_email,
            notice=notices.client_drift(client, product, detected_on, settings),
            key=f"incident:{incident.id}:client:{client_id}",
            what="client notice",
            client_id=client_id,
        )
        queued += was_queued
        refused += not was_queued
    return (
        f"{queued} client notice(s) queued; skipped: {own} with an incident of their own, "
        f"{no_email} without a contact e-mail" + (f", {refused} not queued" if refused else "")
    )


def _window(
    session: Session, settings: Settings, product: str, day: date
) -> tuple[datetime, datetime]:
    """The drift window of ``product``'s all-clients result of ``day`` (or of the settings)."""
    stored = session.execute(
        select(DriftResult.window_start, DriftResult.window_end).where(
            DriftResult.produto == product,
            DriftResult.scope == ALL_CLIENTS,
            DriftResult.dia == day,
        )
    ).first()
    if stored is not None:
        return stored[0], stored[1]
    end = datetime.combine(day + timedelta(days=1), time.min)
    return end - timedelta(days=settings.drift_window_days), end


def _queue(
    session: Session,
    incident: Incident,
    *,
    recipient: str,
    notice: notices.Notice,
    key: str,
    what: str,
    client_id: int | None = None,
) -> tuple[bool, str]:
    """Queue ``notice`` to ``recipient``: whether a mail was queued now, and a note saying so."""
    if not recipient:
        return False, f"{what} not queued: no recipient configured"
    try:
        queued = outbox.enqueue(
            session,
            dedupe_key=key,
            recipient=recipient,
            subject=notice.subject,
            body=notice.body,
            client_id=client_id,
            incident_id=incident.id,
        )
    except InvalidInput as exc:
        return False, f"{what} not queued: {exc.message}"[:300]
    if not queued:
        return False, f"{what} already queued to {recipient}"[:300]
    return True, f"{what} queued to {recipient}"[:300]


def _as_text(details: Mapping[str, Any]) -> str:
    return json.dumps(details, indent=2, sort_keys=True, default=str, ensure_ascii=False)


def list_incidents(
    session: Session,
    *,
    status: StatusFilter | None = None,
    product: str | None = None,
    client_id: int | None = None,
    limit: int = 100,
) -> list[Incident]:
    """Incidents, newest first; ``client_id`` keeps only that client's (none across clients)."""
    query = select(Incident).order_by(Incident.id.desc()).limit(limit)
    if status == "active":
        query = query.where(Incident.status != IncidentStatus.RESOLVED)
    elif status is not None:
        query = query.where(Incident.status == status)
    if product is not None:
        query = query.where(Incident.produto == product.strip().upper())
    if client_id is not None:
        query = query.where(Incident.client_id == client_id)
    return list(session.scalars(query))


def get_or_raise(
    session: Session, incident_id: int, *, client_id: int | None = None, lock: bool = False
) -> Incident:
    """The incident; with ``client_id``, only if it is that client's (else not found, alike)."""
    query = select(Incident).where(Incident.id == incident_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    incident = session.execute(query).scalar_one_or_none()
    if incident is None or (client_id is not None and incident.client_id != client_id):
        raise IncidentNotFound(f"incident {incident_id} does not exist")
    return incident


def acknowledge(session: Session, incident_id: int, *, by: str) -> Incident:
    """Someone is on it; acknowledging again changes nothing (the first stays on record)."""
    incident = get_or_raise(session, incident_id, lock=True)
    if incident.status == IncidentStatus.RESOLVED:
        raise IncidentResolved(f"incident {incident_id} is already resolved")
    if incident.status == IncidentStatus.OPEN:
        incident.status = IncidentStatus.ACKNOWLEDGED
        incident.acknowledged_at = utcnow()
        incident.acknowledged_by = by[:254]
        session.flush()
    return incident


def resolve(session: Session, incident_id: int, *, by: str, resolution: str) -> Incident:
    """Close the incident with what was done; the next detection opens a new one."""
    text = " ".join(resolution.split())
    if len(text) < 3:
        raise InvalidInput("say what resolved the incident (at least 3 characters)")
    incident = get_or_raise(session, incident_id, lock=True)
    if incident.status == IncidentStatus.RESOLVED:
        raise IncidentResolved(f"incident {incident_id} is already resolved")
    now = utcnow()
    if incident.acknowledged_at is None:
        incident.acknowledged_at = now
        incident.acknowledged_by = by[:254]
    incident.status = IncidentStatus.RESOLVED
    incident.resolved_at = now
    incident.resolved_by = by[:254]
    incident.resolution = text[:500]
    incident.open_key = None
    session.flush()
    return incident


def overdue(incident: Incident, now: datetime | None = None) -> bool:
    """Still open (not acknowledged) past its response time."""
    return incident.status == IncidentStatus.OPEN and (now or utcnow()) > incident.response_due_at
