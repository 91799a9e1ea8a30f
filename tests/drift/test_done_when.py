"""Issue 5's "done when", in one chain of real parts.

A client's batch whose population is shifted on purpose (by the synthetic generator) and
another client's batch drawn like the training data are scored; ``credguard drift run`` (the
real entry point) marks the first "action" and the second "stable", opens one incident, and
queues one mail, which ``credguard notifications send`` delivers through a real SMTP server
(aiosmtpd on loopback); a second run opens nothing new and mails nobody again; and the page
``/dashboard/drift-monitoring`` shows both in a real headless Chromium.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser
from sqlalchemy import Engine, select

from credguard.accounts import service as accounts
from credguard.accounts.tables import Client, Role
from credguard.config import Settings
from credguard.db.engine import session_scope
from credguard.incidents.tables import Incident
from tests.api.conftest import PASSWORD, running_server
from tests.cli.test_cli import credguard
from tests.drift.conftest import SHORT_RELATIONSHIPS, scored_batch
from tests.mailbox import smtp_server


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_a_shifted_batch_becomes_an_incident_a_mail_and_a_red_page(
    engine: Engine, settings: Settings, client_id: int, tmp_path: Path, browser: Browser
) -> None:
    with session_scope(engine) as session:
        shifted_client = session.get_one(Client, client_id)  # "Loja Teste", support plan
        shifted_client.contact_email = "risco@lojateste.test"
        usual = accounts.create_client(session, "Loja Estável", support_plan=False)
        usual.contact_email = "ti@lojaestavel.test"
        usual_id = usual.id
        accounts.create_user(
            session, email="op@credguard.test", name="Op", password=PASSWORD, role=Role.OPERATOR
        )
    # Relationships half as long for one client; the other like the training data.
    scored_batch(
        engine, settings, client_id, tmp_path, rows=1_500, seed=51, shift=SHORT_RELATIONSHIPS
    )
    scored_batch(engine, settings, usual_id, tmp_path, rows=6_000, seed=52)

    ran = credguard(settings, "drift", "run", "--product", "CARTAO", check=False)
    assert ran.returncode == 0, ran.stderr
    with session_scope(engine) as session:
        (incident,) = session.scalars(select(Incident)).all()
        assert (incident.client_id, incident.produto, incident.severity) == (
            client_id,
            "CARTAO",
            "P3",
        )
        assert incident.status == "open"

    smtp = {"CREDGUARD_SMTP_HOST": "127.0.0.1", "CREDGUARD_SMTP_SECURITY": "none"}
    with smtp_server() as (port, inbox):
        sent = credguard(settings, "notifications", "send", check=False,
                         env={**smtp, "CREDGUARD_SMTP_PORT": str(port)})  # fmt: skip
        assert sent.returncode == 0, sent.stderr
        again = credguard(settings, "drift", "run", "--product", "CARTAO", check=False)
        assert again.returncode == 0, again.stderr
        credguard(settings, "notifications", "send", env={**smtp, "CREDGUARD_SMTP_PORT": str(port)})
    (mail,) = inbox.received  # one mail, to the drifted client only, and not twice
    assert mail.rcpt_tos == ["risco@lojateste.test"]
    assert "plano de sustentação" in mail.body.lower()
    with session_scope(engine) as session:
        (incident,) = session.scalars(select(Incident)).all()
        assert incident.occurrences == 2

    with running_server(settings, worker=False) as url:
        context = browser.new_context(locale="pt-BR")
        page = context.new_page()
        page.goto(f"{url}/dashboard/drift-monitoring")
        page.fill("#email", "op@credguard.test")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r".*/dashboard/drift-monitoring.*"))
        for client, word in ((client_id, "Ação necessária"), (usual_id, "Estável")):
            page.goto(f"{url}/dashboard/drift-monitoring?client={client}&product=CARTAO")
            badge = page.locator("section.product[data-product=CARTAO] h2 .badge")
            assert badge.inner_text() == word
        context.close()
