"""``credguard users …``: accounts, roles and API tokens.

A password never travels as a command-line argument (other users of the machine see ``ps`` and
the shell history keeps it): it is asked twice on a terminal, or read from standard input with
``--password-stdin`` in scripts.
"""

from __future__ import annotations

import sys
from datetime import datetime

import typer
from rich.table import Table

from credguard.accounts import auth
from credguard.accounts import service as accounts
from credguard.accounts.tables import User
from credguard.cli import context
from credguard.db.engine import session_scope
from credguard.errors import InvalidInput

app = typer.Typer(help="Users: create, list, disable, roles, API tokens.", no_args_is_help=True)

EmailArgument = typer.Argument(..., metavar="EMAIL", help="The user's e-mail (their login).")
RoleHelp = "admin or operator (CredGuard staff), analyst (of one client, needs --client)."


def _when(moment: datetime | None, *, never: str = "never") -> str:
    return f"{moment:%Y-%m-%d %H:%M}" if moment else never


def read_password(from_stdin: bool) -> str:
    """The new password: one line of standard input, or asked twice on the terminal."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise InvalidInput("--password-stdin: standard input held no password")
        return password
    if not sys.stdin.isatty():
        raise InvalidInput(
            "no terminal to ask for the password on; send it on standard input with "
            "--password-stdin (never as an argument)"
        )
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@app.command("create")
def create_command(
    email: str = EmailArgument,
    name: str = typer.Option(..., "--name", help="The person's name."),
    role: str = typer.Option(..., "--role", help=RoleHelp),
    client: str | None = typer.Option(None, "--client", help="Client company of an analyst."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from one line of standard input."
    ),
) -> None:
    """Create a user; the password is asked twice (or read with --password-stdin)."""
    engine = context.engine()
    chosen = accounts.parse_role(role)
    # Everything that can be refused is checked before the password is asked for.
    with session_scope(engine) as session:
        client_id = accounts.get_client_or_raise(session, client).id if client else None
        accounts.check_role_and_client(chosen, client_id)
        email = accounts.normalise_email(email)
        if accounts.get_user(session, email) is not None:
            raise accounts.UserExists(f"user {email} already exists")
    password = read_password(password_stdin)
    with session_scope(engine) as session:
        user = accounts.create_user(
            session, email=email, name=name, password=password, role=chosen, client_id=client_id
        )
        user_id = user.id
    of_client = f" of client {client.strip()}" if client else ""
    context.console.print(f"created {chosen.value} {email}{of_client} (user {user_id})")


@app.command("list")
def list_command() -> None:
    """Every user with role, client, whether active and last login (UTC)."""
    with session_scope(context.engine()) as session:
        users = accounts.list_users(session)
    table = Table("id", "email", "name", "role", "client", "active", "last login (UTC)")
    for user, client_name in users:
        table.add_row(
            str(user.id),
            user.email,
            user.name,
            user.role,
            client_name or "-",
            "yes" if user.is_active else "[red]no[/red]",
            _when(user.last_login_at),
        )
    context.console.print(table)


def _set_active(email: str, active: bool) -> User:
    with session_scope(context.engine()) as session:
        user = accounts.get_user_or_raise(session, email)
        return accounts.update_user(session, user, is_active=active)


@app.command("disable")
def disable_command(email: str = EmailArgument) -> None:
    """Disable a user: their logins and tokens are refused from the next request on."""
    user = _set_active(email, False)
    context.console.print(f"disabled {user.email}; their tokens are refused from now on")


@app.command("enable")
def enable_command(email: str = EmailArgument) -> None:
    """Enable a disabled user again (their unrevoked API tokens work again)."""
    user = _set_active(email, True)
    context.console.print(f"enabled {user.email}")


@app.command("set-role")
def set_role_command(
    email: str = EmailArgument,
    role: str = typer.Argument(..., metavar="ROLE", help=RoleHelp),
    client: str | None = typer.Option(None, "--client", help="Client company of an analyst."),
) -> None:
    """Change a user's role; it applies from their next request."""
    chosen = accounts.parse_role(role)
    with session_scope(context.engine()) as session:
        user = accounts.get_user_or_raise(session, email)
        company = accounts.get_client_or_raise(session, client) if client else None
        accounts.update_user(session, user, role=chosen, client=company)
    of_client = f" of client {company.name}" if company else ""
    context.console.print(f"{user.email} is now {chosen.value}{of_client}")


@app.command("token")
def token_command(
    email: str = EmailArgument,
    name: str = typer.Option(..., "--name", help="What the token is for, e.g. 'erp-integration'."),
) -> None:
    """Create an API token for a user and print it, once: only its hash is kept."""
    with session_scope(context.engine()) as session:
        user = accounts.get_user_or_raise(session, email)
        plain, record = auth.create_api_token(session, user, name)
        token_id, token_name = record.id, record.name
    context.err_console.print(
        f"[yellow]API token {token_id} ({token_name}) for {user.email}, shown only once: store it "
        f"now, it cannot be shown again.[/yellow] Revoke it with "
        f"`credguard users revoke-token {token_id}`.",
        highlight=False,
    )
    # Alone on standard output, so a script can capture it: TOKEN=$(credguard users token ...)
    context.console.print(plain, markup=False, highlight=False, soft_wrap=True)


@app.command("revoke-token")
def revoke_token_command(token_id: int = typer.Argument(..., metavar="ID")) -> None:
    """Revoke an API token; it is refused from its next request on."""
    with session_scope(context.engine()) as session:
        record = auth.revoke_api_token(session, token_id)
        name = record.name
    context.console.print(f"revoked API token {token_id} ({name})")


@app.command("tokens")
def tokens_command(email: str = EmailArgument) -> None:
    """A user's API tokens (never the tokens themselves: only their first characters)."""
    with session_scope(context.engine()) as session:
        user = accounts.get_user_or_raise(session, email)
        tokens = accounts.list_tokens(session, user)
    table = Table(
        "id",
        "name",
        "prefix",
        "created (UTC)",
        "last used (UTC)",
        "revoked (UTC)",
        title=f"API tokens of {user.email}",
    )
    for token in tokens:
        table.add_row(
            str(token.id),
            token.name,
            f"{token.prefix}…",
            _when(token.created_at),
            _when(token.last_used_at),
            _when(token.revoked_at, never="-"),
        )
    context.console.print(table)
