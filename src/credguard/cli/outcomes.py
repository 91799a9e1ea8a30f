"""``credguard outcomes …``: import observed outcomes, summarise them, capture scores, purge.

Also the body of ``credguard models export-training-data`` (:func:`export_training_data`).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from credguard.accounts import service as accounts
from credguard.cli import context
from credguard.db.base import utcnow
from credguard.db.engine import session_scope
from credguard.errors import InvalidInput, NotFound

app = typer.Typer(
    help="Observed outcomes and the training store: import, summary, capture, purge.",
    no_args_is_help=True,
)

#: Default period of the training export, as the runbook's retraining export (6 months).
DEFAULT_EXPORT_MONTHS = 6


def _client_id(text: str) -> int:
    """A client named by id or by name."""
    with session_scope(context.engine()) as session:
        value = text.strip()
        client = (
            accounts.get_client(session, int(value))
            if value.isascii() and value.isdigit()
            else accounts.get_client_by_name(session, value)
        )
        if client is None:
            raise NotFound(f"client {value!r} does not exist; `credguard clients list` shows them")
        return client.id


@app.command("import")
def import_command(
    file: Path = typer.Argument(
        ...,
        help="CSV with cpf, produto, inadimplente (defaulted within the model's 12-month "
        "horizon after the decision) and dataReferencia (the date of the credit decision "
        "judged, not the date a default was observed).",
    ),
    client: str = typer.Option(..., "--client", help="Client id or name the outcomes belong to."),
) -> None:
    """Import a client's outcomes file: all rows or none; a resent outcome is updated.

    Each outcome is linked to the latest score of its customer and product on or before its
    dataReferencia, the date of the credit decision it judges.
    """
    from credguard.outcomes import rows, service
    from credguard.outcomes.pseudonym import pseudonym_key

    settings = context.settings()
    client_id = _client_id(client)
    try:
        raw = rows.read_csv(file.read_bytes(), max_rows=None)
        typed = rows.validate(raw, products=settings.products, today=utcnow().date())
    except rows.InvalidOutcomes as refused:
        if refused.errors:
            table = Table("row", "column", "problem")
            for problem in refused.errors:
                table.add_row(problem["row"], problem["field"], escape(problem["problem"]))
            context.err_console.print(table)
        raise
    key = pseudonym_key(settings)
    with (
        context.console.status(f"linking and storing {typed.height} outcomes"),
        session_scope(context.engine()) as session,
    ):
        report = service.record(session, client_id, typed, key=key)
    context.console.print(
        f"client {client_id}: {report.received} received, {report.stored} stored, "
        f"{report.updated} updated; {report.linked} linked to a score, "
        f"{report.unlinked} unlinked (no score of this client on or before their date)"
    )


@app.command("summary")
def summary_command(
    client: str | None = typer.Option(None, "--client", help="Client id or name (default: all)."),
) -> None:
    """Outcomes per product: how many, the share linked to a score, the default rate."""
    from credguard.outcomes import service

    client_id = _client_id(client) if client else None
    with session_scope(context.engine()) as session:
        items = service.summary(session, client_id=client_id)
    table = Table("product", "outcomes", "linked", "linked share", "defaults", "default rate")
    for item in items:
        table.add_row(
            item.produto,
            str(item.outcomes),
            str(item.linked),
            f"{item.linked_share:.1%}",
            str(item.defaults),
            f"{item.default_rate:.1%}",
        )
    context.console.print(table)


@app.command("capture")
def capture_command(
    client: str | None = typer.Option(None, "--client", help="Client id or name (default: all)."),
) -> None:
    """Copy scores of completed jobs to the training store (pseudonymised), before archival."""
    from credguard.outcomes import snapshots

    client_id = _client_id(client) if client else None
    with context.console.status("capturing scores of completed jobs"):
        copied = snapshots.capture(context.engine(), context.settings(), client_id=client_id)
    context.console.print(f"captured {copied} score row(s) into the training store")


@app.command("purge")
def purge_command(
    days: int | None = typer.Option(
        None,
        "--days",
        min=1,
        help="Keep this many days (default CREDGUARD_OUTCOME_RETENTION_DAYS).",
    ),
) -> None:
    """Delete outcomes and score snapshots older than the retention period."""
    from credguard.maintenance import purge_training_store

    retention = days or context.settings().outcome_retention_days
    purged = purge_training_store(context.engine(), retention_days=retention)
    context.console.print(
        f"deleted {purged.outcomes} outcome(s) with a dataReferencia more than {retention} days ago"
    )
    context.console.print(
        f"deleted {purged.snapshots} score snapshot(s) processed more than {retention} days ago"
    )


def export_training_data(
    *, product: str, output: Path, months: int | None, since: str | None
) -> None:
    """``credguard models export-training-data``: write the file and say what was left out."""
    from credguard.outcomes import export

    settings = context.settings()
    product = product.strip().upper()
    if product not in settings.products:
        raise InvalidInput(f"unknown product {product}; configured: {', '.join(settings.products)}")
    if months is not None and since is not None:
        raise InvalidInput("give --months or --since, not both")
    if since is not None:
        try:
            start = date.fromisoformat(since)
        except ValueError:
            raise InvalidInput(f"--since must be a date like 2026-05-31, not {since!r}") from None
    else:
        start = export.months_before(utcnow().date(), months or DEFAULT_EXPORT_MONTHS)
    report = export.export_training_data(
        context.engine(), product=product, since=start, output=output
    )
    context.console.print(
        f"{product}: wrote {report.rows} training rows to {output} "
        f"from {report.outcomes} outcomes dated {start.isoformat()} or later"
    )
    for reason, count in report.left_out.items():
        context.console.print(f"  left out: {count} {reason}")
    if report.rows == 0:
        context.err_console.print(
            "[yellow]warning:[/yellow] no training row: outcomes must be linked to scored rows"
        )
