"""Entry point of the ``credguard`` command: registers the nouns, renders errors as one line."""

from __future__ import annotations

import sys

import typer
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from credguard import logs
from credguard.cli import batches, db, setup
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
setup.register(app)
batches.register(app)


def run() -> None:
    """Run the CLI; a failure is one clear line on stderr and exit code 1, never a stack trace."""
    logs.configure("WARNING")  # commands talk through Rich; the worker raises the level
    try:
        app()
    except CredGuardError as exc:
        err_console.print(f"[red]error:[/red] {exc.message}", highlight=False)
        sys.exit(1)
    except OperationalError as exc:
        reason = str(exc.orig).splitlines()[0] if exc.orig else str(exc).splitlines()[0]
        err_console.print(f"[red]error:[/red] cannot use the database: {reason}", highlight=False)
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
        err_console.print(
            f"[red]error:[/red] {exc.strerror or exc}: {exc.filename or ''}", highlight=False
        )
        sys.exit(1)
