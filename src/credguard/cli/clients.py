"""``credguard clients …``: the client companies whose analysts use CredGuard."""

from __future__ import annotations

import typer
from rich.table import Table

from credguard.accounts import service as accounts
from credguard.cli import context
from credguard.db.engine import session_scope

app = typer.Typer(help="Client companies: create, list.", no_args_is_help=True)


@app.command("create")
def create_command(
    name: str = typer.Argument(..., metavar="NAME", help="The company's name."),
    email: str | None = typer.Option(None, "--email", help="Contact e-mail."),
    support_plan: bool = typer.Option(
        False,
        "--support-plan/--no-support-plan",
        help="Whether they have a support plan (plano de sustentação).",
    ),
) -> None:
    """Create a client company."""
    with session_scope(context.engine()) as session:
        client = accounts.create_client(
            session, name, contact_email=email, support_plan=support_plan
        )
        client_id, client_name = client.id, client.name
    plan = "with" if support_plan else "without"
    context.console.print(f"created client {client_name} (id {client_id}), {plan} support plan")


@app.command("list")
def list_command() -> None:
    """Every client company, with its support plan and number of users."""
    with session_scope(context.engine()) as session:
        clients = accounts.list_clients(session)
    table = Table("id", "name", "contact e-mail", "support plan", "users", "created (UTC)")
    for client, users in clients:
        table.add_row(
            str(client.id),
            client.name,
            client.contact_email or "-",
            "yes" if client.support_plan else "no",
            str(users),
            f"{client.created_at:%Y-%m-%d %H:%M}",
        )
    context.console.print(table)
