"""``credguard incidents …``: list, show, acknowledge and resolve incidents."""

from __future__ import annotations

import getpass

import typer
from rich.markup import escape
from rich.table import Table

from credguard.cli import context
from credguard.db.base import utcnow
from credguard.db.engine import session_scope
from credguard.errors import InvalidInput
from credguard.incidents import service
from credguard.incidents.tables import Incident

app = typer.Typer(help="Incidents: list, show, ack, resolve.", no_args_is_help=True)

_STATUSES = ("open", "acknowledged", "resolved", "active")


def _who(by: str | None) -> str:
    return by or f"{getpass.getuser()} (cli)"


def _when(moment: object) -> str:
    return "-" if moment is None else f"{moment:%Y-%m-%d %H:%M}"


@app.command("list")
def list_command(
    status: str | None = typer.Option(
        None, "--status", help="open, acknowledged, resolved, or active (not resolved)."
    ),
    product: str | None = typer.Option(None, "--product", help="Only this product."),
    client: int | None = typer.Option(None, "--client", min=1, help="Only this client id."),
    limit: int = typer.Option(100, "--limit", min=1, max=10_000, help="At most this many."),
) -> None:
    """Incidents, newest first (times in UTC)."""
    if status is not None and status not in _STATUSES:
        raise InvalidInput(f"--status must be one of {', '.join(_STATUSES)}, not {status!r}")
    with session_scope(context.engine()) as session:
        incidents = service.list_incidents(
            session,
            status=status,  # type: ignore[arg-type]  # checked against _STATUSES above
            product=product,
            client_id=client,
            limit=limit,
        )
    now = utcnow()
    table = Table("id", "severity", "status", "product", "scope", "title", "seen", "opened",
                  "last seen", "respond by")  # fmt: skip
    for incident in incidents:
        due = _when(incident.response_due_at)
        if service.overdue(incident, now):
            due = f"[red]{due} overdue[/red]"
        table.add_row(
            str(incident.id),
            incident.severity,
            incident.status,
            incident.produto or "-",
            incident.scope,
            escape(incident.title),
            str(incident.occurrences),
            _when(incident.opened_at),
            _when(incident.last_seen_at),
            due,
        )
    context.console.print(table)


def _print(incident: Incident) -> None:
    rows = [
        ("incident", f"#{incident.id} ({incident.source})"),
        ("title", incident.title),
        ("status", incident.status),
        ("severity", incident.severity),
        ("product", incident.produto or "-"),
        ("scope", incident.scope),
        ("occurrences", str(incident.occurrences)),
        ("opened (UTC)", _when(incident.opened_at)),
        ("last seen (UTC)", _when(incident.last_seen_at)),
        ("respond by (UTC)", _when(incident.response_due_at)),
        ("escalation", incident.escalation),
        ("notification", incident.notification or "-"),
        ("acknowledged", f"{_when(incident.acknowledged_at)} by {incident.acknowledged_by or '-'}"),
        ("resolved", f"{_when(incident.resolved_at)} by {incident.resolved_by or '-'}"),
        ("resolution", incident.resolution or "-"),
    ]
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        context.console.print(f"{label:<{width}}  {escape(value)}", highlight=False)
    if incident.details:
        context.console.print("\n" + escape(incident.details), highlight=False)


@app.command("show")
def show_command(incident_id: int = typer.Argument(..., min=1, help="Incident id.")) -> None:
    """One incident in full."""
    with session_scope(context.engine()) as session:
        incident = service.get_or_raise(session, incident_id)
    _print(incident)


@app.command("ack")
def ack_command(
    incident_id: int = typer.Argument(..., min=1, help="Incident id."),
    by: str | None = typer.Option(None, "--by", help="Who is on it (default: your login)."),
) -> None:
    """Acknowledge an incident: someone is on it."""
    with session_scope(context.engine()) as session:
        incident = service.acknowledge(session, incident_id, by=_who(by))
    context.console.print(
        f"incident {incident.id} acknowledged by {escape(incident.acknowledged_by or '')}",
        highlight=False,
    )


@app.command("resolve")
def resolve_command(
    incident_id: int = typer.Argument(..., min=1, help="Incident id."),
    resolution: str = typer.Option(..., "--resolution", help="What was done, e.g. the promotion."),
    by: str | None = typer.Option(None, "--by", help="Who resolved it (default: your login)."),
) -> None:
    """Resolve an incident; a later detection opens a new one."""
    with session_scope(context.engine()) as session:
        incident = service.resolve(session, incident_id, by=_who(by), resolution=resolution)
    context.console.print(f"incident {incident.id} resolved", highlight=False)
