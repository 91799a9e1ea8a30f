"""``credguard notifications …``: the e-mail outbox: list, send what is due, retry a failure."""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.table import Table

from credguard.cli import context
from credguard.db.engine import session_scope
from credguard.errors import InvalidInput
from credguard.notify import outbox
from credguard.notify.tables import MailStatus

app = typer.Typer(help="E-mail notifications: list, send, retry.", no_args_is_help=True)


@app.command("list")
def list_command(
    status: str | None = typer.Option(
        None, "--status", help="pending, sending, sent or failed (default: all)."
    ),
    limit: int = typer.Option(50, "--limit", min=1, max=10_000, help="At most this many."),
) -> None:
    """Queued mails, newest first (times in UTC)."""
    try:
        wanted = MailStatus(status) if status else None
    except ValueError:
        choices = ", ".join(s.value for s in MailStatus)
        raise InvalidInput(f"--status must be one of {choices}, not {status!r}") from None
    with session_scope(context.engine()) as session:
        mails = outbox.list_mails(session, status=wanted, limit=limit)
    table = Table("id", "status", "to", "subject", "attempts", "queued", "next / sent",
                  "last error")  # fmt: skip
    for mail in mails:
        when = mail.sent_at if mail.status == MailStatus.SENT else mail.next_attempt_at
        table.add_row(
            str(mail.id),
            mail.status,
            escape(mail.recipient),
            escape(mail.subject),
            str(mail.attempts),
            f"{mail.created_at:%Y-%m-%d %H:%M}",
            "-" if when is None or mail.status == MailStatus.FAILED else f"{when:%Y-%m-%d %H:%M}",
            escape(mail.last_error or "-"),
        )
    context.console.print(table)


@app.command("send")
def send_command(
    limit: int = typer.Option(
        outbox.DEFAULT_LIMIT, "--limit", min=1, max=10_000, help="Try at most this many mails."
    ),
) -> None:
    """Send the mails that are due now, once (the server's scheduler does this by itself)."""
    report = outbox.deliver_pending(context.engine(), context.settings(), limit=limit)
    context.console.print(
        f"{report.sent} sent, {report.retrying} to retry later, {report.failed} failed",
        highlight=False,
    )
    if report.problem:
        context.err_console.print(
            f"[yellow]warning:[/yellow] {escape(report.problem)}", highlight=False
        )
        raise typer.Exit(2)


@app.command("retry")
def retry_command(
    mail_id: int | None = typer.Argument(None, min=1, help="Id of a failed mail."),
    all_failed: bool = typer.Option(False, "--all-failed", help="Every failed mail."),
) -> None:
    """Queue a failed mail again, or every one (once its cause, e.g. the SMTP settings, is fixed).

    A mail is sent as it was queued: a recipient refused for good (an address that no longer
    exists) is refused again; fix the client's contact e-mail for the next notices instead.
    """
    if (mail_id is None) == (not all_failed):
        raise InvalidInput("give the id of a failed mail or --all-failed (not both)")
    with session_scope(context.engine()) as session:
        if all_failed:
            count = outbox.retry_all_failed(session)
            context.console.print(f"{count} failed mail(s) queued again", highlight=False)
            return
        assert mail_id is not None
        mail = outbox.retry(session, mail_id)
        context.console.print(f"mail {mail.id} queued again", highlight=False)
