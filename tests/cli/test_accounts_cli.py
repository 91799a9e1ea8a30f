"""``credguard users …`` and ``credguard clients …`` through the real entry point."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import Engine

from credguard.accounts import auth
from credguard.config import Settings
from credguard.db.engine import session_scope

PASSWORD = "correct horse battery staple"


def environment(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "CREDGUARD_DATA_DIR": str(settings.data_dir),
        "CREDGUARD_DATABASE_URL": settings.resolved_database_url,
        "COLUMNS": "200",
    }


def credguard(
    settings: Settings, *args: str, stdin: str = "", check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m credguard`` with ``stdin`` piped in (so never a terminal)."""
    result = subprocess.run(
        [sys.executable, "-m", "credguard", *args],
        env=environment(settings),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def refused(settings: Settings, *args: str, stdin: str = "") -> str:
    """The one-line error of a command that must fail."""
    result = credguard(settings, *args, stdin=stdin, check=False)
    assert result.returncode == 1, (args, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    return result.stderr


def create_user(settings: Settings, email: str, *args: str) -> str:
    return credguard(
        settings, "users", "create", email, "--password-stdin", *args, stdin=PASSWORD + "\n"
    ).stdout


def bearer_email(engine: Engine, settings: Settings, token: str) -> str:
    with session_scope(engine) as session:
        return auth.principal_for_bearer(session, token, settings).email


def test_clients_and_users_lifecycle(engine: Engine, settings: Settings) -> None:
    credguard(settings, "db", "upgrade")  # the data dir's secret key etc.; schema is current
    made = credguard(
        settings, "clients", "create", "Loja Norte", "--email", "ti@norte.test", "--support-plan"
    )
    assert "created client Loja Norte" in made.stdout and "with support plan" in made.stdout
    credguard(settings, "clients", "create", "Loja Sul")
    assert "already exists" in refused(settings, "clients", "create", "Loja Sul")
    clients = credguard(settings, "clients", "list").stdout
    norte = next(line for line in clients.splitlines() if "Loja Norte" in line)
    sul = next(line for line in clients.splitlines() if "Loja Sul" in line)
    assert "ti@norte.test" in norte and " yes " in norte and " no " in sul

    assert "created admin" in create_user(
        settings, "adm@credguard.test", "--name", "Adm", "--role", "admin"
    )
    create_user(settings, "op@credguard.test", "--name", "Op", "--role", "operator")
    out = create_user(
        settings, "ana@norte.test", "--name", "Ana", "--role", "analyst", "--client", "Loja Norte"
    )
    assert "created analyst ana@norte.test of client Loja Norte" in out
    duplicate = refused(
        settings,
        "users",
        "create",
        "ANA@norte.test",
        "--name",
        "Ana",
        "--role",
        "analyst",
        "--client",
        "Loja Norte",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert "user ana@norte.test already exists" in duplicate
    users = credguard(settings, "users", "list").stdout
    rows = {line.split()[3]: line for line in users.splitlines() if "@" in line}
    assert "admin" in rows["adm@credguard.test"] and "operator" in rows["op@credguard.test"]
    assert "analyst" in rows["ana@norte.test"] and "Loja Norte" in rows["ana@norte.test"]
    assert all("never" in row and " yes " in row for row in rows.values())

    issued = credguard(settings, "users", "token", "ana@norte.test", "--name", "erp")
    token = issued.stdout.strip()
    assert token.startswith(auth.API_TOKEN_PREFIX) and "\n" not in token
    assert "shown only once" in issued.stderr
    assert bearer_email(engine, settings, token) == "ana@norte.test"
    tokens = credguard(settings, "users", "tokens", "ana@norte.test").stdout
    assert "erp" in tokens and token[:10] in tokens and token not in tokens
    token_row = next(line for line in tokens.splitlines() if " erp " in line)
    assert "never" not in token_row  # last used: just now
    token_id = token_row.split()[1]

    assert "disabled" in credguard(settings, "users", "disable", "ana@norte.test").stdout
    with pytest.raises(auth.NotAuthenticated):
        bearer_email(engine, settings, token)
    assert " no " in next(
        line for line in credguard(settings, "users", "list").stdout.splitlines() if "ana@" in line
    )
    credguard(settings, "users", "enable", "ana@norte.test")
    assert bearer_email(engine, settings, token) == "ana@norte.test"

    assert "belong to no client" in refused(
        settings, "users", "set-role", "ana@norte.test", "operator", "--client", "Loja Norte"
    )
    credguard(settings, "users", "set-role", "ana@norte.test", "operator")
    assert (
        "is now analyst of client Loja Sul"
        in credguard(
            settings, "users", "set-role", "op@credguard.test", "analyst", "--client", "Loja Sul"
        ).stdout
    )

    assert "revoked API token" in credguard(settings, "users", "revoke-token", token_id).stdout
    with pytest.raises(auth.NotAuthenticated):
        bearer_email(engine, settings, token)


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_account_errors_are_one_line(engine: Engine, settings: Settings) -> None:
    credguard(settings, "clients", "create", "Loja Norte")
    create_user(settings, "adm@credguard.test", "--name", "Adm", "--role", "admin")
    create = ("users", "create", "new@credguard.test", "--name", "New")
    cases = [
        (
            (*create, "--role", "admin", "--password-stdin"),
            "too short\n",
            "at least 12 characters",
        ),
        ((*create, "--role", "admin", "--password-stdin"), "", "held no password"),
        ((*create, "--role", "admin"), "", "--password-stdin"),  # no terminal, no prompt
        ((*create, "--role", "analyst", "--password-stdin"), PASSWORD, "belongs to a client"),
        ((*create, "--role", "operator", "--client", "Loja Norte"), "", "belong to no client"),
        (
            (*create, "--role", "analyst", "--client", "Loja Nada"),
            "",
            "client 'Loja Nada' does not exist",
        ),
        ((*create, "--role", "boss"), "", "unknown role 'boss'"),
        (
            ("users", "create", "not-an-email", "--name", "N", "--role", "admin"),
            "",
            "not an e-mail",
        ),
        (
            ("users", "disable", "nobody@credguard.test"),
            "",
            "user nobody@credguard.test does not exist",
        ),
        (("users", "disable", "adm@credguard.test"), "", "only active admin"),
        (("users", "revoke-token", "999"), "", "API token 999 does not exist"),
        (("users", "token", "adm@credguard.test", "--name", " "), "", "token's name"),
    ]
    for args, stdin, message in cases:
        assert message in refused(settings, *args, stdin=stdin), args
    listed = credguard(settings, "users", "list").stdout
    assert "new@credguard.test" not in listed


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_password_is_asked_twice_on_a_terminal(engine: Engine, settings: Settings) -> None:
    """On a terminal the password is prompted for, hidden, and confirmed."""
    pid, terminal = pty.fork()
    if pid == 0:  # the child: its controlling terminal is the pseudo-terminal
        try:
            os.execve(
                sys.executable,
                [
                    sys.executable,
                    "-m",
                    "credguard",
                    "users",
                    "create",
                    "op@credguard.test",
                    "--name",
                    "Op",
                    "--role",
                    "operator",
                ],
                environment(settings),
            )
        finally:
            os._exit(127)  # only reached if exec failed: never run pytest twice
    seen = b""
    prompts = 0
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            if not select.select([terminal], [], [], 1)[0]:
                continue
            try:
                chunk = os.read(terminal, 1024)
            except OSError:  # the child has exited and closed the terminal
                break
            if not chunk:
                break
            seen += chunk
            # Click writes "Password:", then getpass turns echo off (flushing input) and writes
            # the final space: answer only after that space.
            if seen.endswith(b": "):
                prompts += 1
                os.write(terminal, PASSWORD.encode() + b"\n")
        else:
            os.kill(pid, signal.SIGKILL)
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(terminal)
    text = seen.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0, text
    assert prompts == 2 and "created operator op@credguard.test" in text
    assert PASSWORD not in text  # not echoed
    assert "op@credguard.test" in credguard(settings, "users", "list").stdout
