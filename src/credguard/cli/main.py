"""Entry point of the ``credguard`` command: registers the nouns, renders errors as one line."""

from __future__ import annotations

import os
import sys
from typing import NoReturn

import typer
from rich.markup import escape
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from credguard import logs
from credguard.cli import batches, clients, db, models, outcomes, security, serve, setup, users
from credguard.cli import drift as drift_cli
from credguard.cli import incidents as incidents_cli
from credguard.cli import notifications as notifications_cli
from credguard.cli.context import err_console
from credguard.errors import CredGuardError

app = typer.Typer(
    help="CredGuard: credit-risk scoring of customer batches.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(db.app, name="db")
app.add_typer(batches.app, name="batches")
app.add_typer(security.app, name="security")
app.add_typer(users.app, name="users")
app.add_typer(clients.app, name="clients")
app.add_typer(models.app, name="models")
app.add_typer(outcomes.app, name="outcomes")
app.add_typer(drift_cli.app, name="drift")
app.add_typer(incidents_cli.app, name="incidents")
app.add_typer(notifications_cli.app, name="notifications")
setup.register(app)
batches.register(app)
serve.register(app)


def run() -> None:
    """Run the CLI; a failure is one clear line on stderr and exit code 1, never a stack trace."""
    logs.configure("WARNING", tracebacks=False)  # commands talk through Rich; services reconfigure
    try:
        app()
    except CredGuardError as exc:
        err_console.print(f"[red]error:[/red] {escape(exc.message)}", highlight=False)
        sys.exit(1)
    except OperationalError as exc:
        reason = str(exc.orig).splitlines()[0] if exc.orig else str(exc).splitlines()[0]
        err_console.print(
            f"[red]error:[/red] cannot use the database: {escape(reason)}", highlight=False
        )
        sys.exit(1)
    except SQLAlchemyError as exc:
        err_console.print(
            f"[red]error:[/red] database error: {type(exc).__name__}", highlight=False
        )
        sys.exit(1)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
    except OSError as exc:
        if exc.strerror is None:
            raise_unexpected(exc)
        err_console.print(
            f"[red]error:[/red] {exc.strerror}: {escape(str(exc.filename or ''))}", highlight=False
        )
        sys.exit(1)
    except Exception as exc:
        raise_unexpected(exc)


def raise_unexpected(exc: Exception) -> NoReturn:
    """A failure nobody foresaw: one line for the user, the traceback only when asked for."""
    if os.environ.get("CREDGUARD_LOG_LEVEL", "").upper() == "DEBUG":
        raise exc
    first_line = str(exc).splitlines()[0] if str(exc) else ""
    err_console.print(
        f"[red]error:[/red] unexpected {type(exc).__name__}: {escape(first_line)} "
        "(run again with CREDGUARD_LOG_LEVEL=DEBUG for the details)",
        highlight=False,
    )
    sys.exit(1)
