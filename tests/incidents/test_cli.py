"""``credguard incidents …`` and ``credguard notifications …`` through the real entry point."""

from __future__ import annotations

import subprocess
import sys

from sqlalchemy import Engine, update

from credguard.config import Settings
from credguard.db.engine import session_scope
from credguard.notify.tables import MailStatus, OutboxMail
from tests.cli.test_accounts_cli import credguard, environment, refused
from tests.incidents.test_service import drift, mails, make_client
from tests.mailbox import free_port, smtp_server


def test_incidents_list_show_ack_resolve(engine: Engine, settings: Settings) -> None:
    client = make_client(engine, "Loja A", email="risco@lojaa.test", plan=True)
    incident = drift(engine, settings, client)
    drift(engine, settings, None, product="EMPRESTIMO")

    listed = credguard(settings, "incidents", "list").stdout
    assert "CARTAO" in listed and "EMPRESTIMO" in listed and f"client:{client}" in listed
    assert "P3" in listed and "open" in listed
    only = credguard(settings, "incidents", "list", "--product", "emprestimo").stdout
    assert "EMPRESTIMO" in only and "CARTAO" not in only
    assert "--status must be one of" in refused(settings, "incidents", "list", "--status", "x")

    shown = credguard(settings, "incidents", "show", str(incident)).stdout
    assert "Equipe de Dev" in shown and "client notice (support plan) queued" in shown
    assert '"psi": 0.31' in shown

    acked = credguard(settings, "incidents", "ack", str(incident), "--by", "ana@credguard.test")
    assert f"incident {incident} acknowledged by ana@credguard.test" in acked.stdout
    assert "say what resolved" in refused(
        settings, "incidents", "resolve", str(incident), "--resolution", ""
    )
    credguard(settings, "incidents", "resolve", str(incident), "--resolution", "v3 promoted")
    shown = credguard(settings, "incidents", "show", str(incident)).stdout
    assert "resolved" in shown and "v3 promoted" in shown
    assert "already resolved" in refused(
        settings, "incidents", "resolve", str(incident), "--resolution", "again"
    )
    active = credguard(settings, "incidents", "list", "--status", "active").stdout
    assert "CARTAO" not in active and "EMPRESTIMO" in active
    assert "does not exist" in refused(settings, "incidents", "show", "999999")


def send(settings: Settings, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``credguard notifications send`` with the SMTP settings in ``env``."""
    return subprocess.run(
        [sys.executable, "-m", "credguard", "notifications", "send"],
        env={**environment(settings), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_notifications_list_and_send(engine: Engine, settings: Settings) -> None:
    client = make_client(engine, "Loja A", email="risco@lojaa.test", plan=True)
    drift(engine, settings, client)
    listed = credguard(settings, "notifications", "list").stdout
    assert "risco@lojaa.test" in listed and "pending" in listed

    port = free_port()
    down = {"CREDGUARD_SMTP_HOST": "127.0.0.1", "CREDGUARD_SMTP_PORT": str(port),
            "CREDGUARD_SMTP_SECURITY": "none", "CREDGUARD_MAIL_RETRY_SECONDS": "0"}  # fmt: skip
    result = send(settings, down)
    assert result.returncode == 2 and "0 sent, 1 to retry later" in result.stdout
    assert "Connection" in result.stderr
    with smtp_server(port=port) as (_, inbox):
        sent = send(settings, down)
    assert sent.returncode == 0, sent.stderr
    assert "1 sent, 0 to retry later, 0 failed" in sent.stdout
    assert [item.rcpt_tos for item in inbox.received] == [["risco@lojaa.test"]]
    assert "sent" in credguard(settings, "notifications", "list", "--status", "sent").stdout
    (mail,) = mails(engine)
    assert "only a failed mail" in refused(settings, "notifications", "retry", str(mail.id))
    assert "not both" in refused(settings, "notifications", "retry")
    assert "not both" in refused(settings, "notifications", "retry", "1", "--all-failed")


def test_notifications_retry_all_failed(engine: Engine, settings: Settings) -> None:
    for name in ("A", "B"):
        drift(engine, settings, make_client(engine, f"Loja {name}", email=f"r@loja{name}.test"))
    with session_scope(engine) as session:
        session.execute(update(OutboxMail).values(status=MailStatus.FAILED, attempts=30))
    done = credguard(settings, "notifications", "retry", "--all-failed")
    assert "2 failed mail(s) queued again" in done.stdout
    assert [(m.status, m.attempts) for m in mails(engine)] == [(MailStatus.PENDING, 0)] * 2
