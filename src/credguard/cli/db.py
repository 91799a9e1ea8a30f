"""``credguard db``: schema migrations."""

from __future__ import annotations

import typer

from credguard.cli import context
from credguard.db import migrate

app = typer.Typer(help="Database schema.", no_args_is_help=True)


@app.command()
def upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Migrate the database schema (safe to run again)."""
    engine = context.engine(check_schema=False)
    migrate.upgrade(engine, revision)
    context.console.print(
        f"schema at revision {migrate.current_revision(engine)} ({engine.url.render_as_string()})"
    )


@app.command()
def current() -> None:
    """Show the schema revision of the database and the one this CredGuard needs."""
    engine = context.engine(check_schema=False)
    context.console.print(
        f"database: {migrate.current_revision(engine) or 'empty'}; required: {migrate.head_revision()}"
    )
