"""``credguard security …``: the IP block list (answered 403 on every route)."""

from __future__ import annotations

import re
from datetime import timedelta

import typer
from rich.table import Table

from credguard.cli import context
from credguard.db.engine import session_scope
from credguard.errors import InvalidInput
from credguard.security import service as security

app = typer.Typer(help="Abuse controls: the IP block list.", no_args_is_help=True)

_DURATION = re.compile(r"(\d+)\s*([smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    """``90s``, ``30m``, ``24h``, ``7d`` as a timedelta."""
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None or int(match.group(1)) == 0:
        raise InvalidInput(f"{text!r} is not a duration like 30m, 24h or 7d")
    return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])


@app.command("block-ip")
def block_ip_command(
    network: str = typer.Argument(..., metavar="IP_OR_CIDR", help="Address or network to block."),
    reason: str | None = typer.Option(None, "--reason", help="Why (shown by list-blocks)."),
    expires: str | None = typer.Option(
        None, "--expires", help="Lift the block after this long (30m, 24h, 7d); default never."
    ),
) -> None:
    """Answer every request from an address or network with 403 (within a few seconds)."""
    expires_in = parse_duration(expires) if expires else None
    with session_scope(context.engine()) as session:
        record = security.block(session, network, reason=reason, expires_in=expires_in)
        blocked, until = record.network, record.expires_at
    when = f"until {until:%Y-%m-%d %H:%M} UTC" if until else "until unblocked"
    context.console.print(f"blocked {blocked} {when}", highlight=False)


@app.command("unblock-ip")
def unblock_ip_command(
    network: str = typer.Argument(..., metavar="IP_OR_CIDR", help="A blocked address or network."),
) -> None:
    """Lift a block."""
    with session_scope(context.engine()) as session:
        security.unblock(session, network)
    context.console.print(f"unblocked {network}", highlight=False)


@app.command("list-blocks")
def list_blocks_command() -> None:
    """The blocks in force."""
    with session_scope(context.engine()) as session:
        blocks = security.list_blocks(session)
        rows = [
            (
                block.network,
                block.reason or "-",
                f"{block.created_at:%Y-%m-%d %H:%M}",
                f"{block.expires_at:%Y-%m-%d %H:%M}" if block.expires_at else "never",
            )
            for block in blocks
        ]
    table = Table("network", "reason", "blocked (UTC)", "expires (UTC)")
    for row in rows:
        table.add_row(*row)
    context.console.print(table)
