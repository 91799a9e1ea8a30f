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
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from playwright.sync_api import Browser
from sqlalchemy import Engine, select

from credguard.accounts import service as accounts
from credguard.accounts.tables import Client, Role
from credguard.config import Settings
from credguard.db.base import utcnow
from credguard.db.engine import session_scope
from credguard.incidents.tables import Incident
from credguard.synth import generator
from tests import factories
from tests.api.conftest import PASSWORD, running_server
from tests.cli.test_cli import credguard
from tests.dashboard.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.mailbox import smtp_server


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


def score(engine: Engine, settings: Settings, client: int, frame: pl.DataFrame, path: Path) -> None:
    written = factories.write_file(frame, path)
    factories.process(engine, settings, factories.submit(engine, settings, written, client))


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_a_shifted_batch_becomes_an_incident_a_mail_and_a_red_page(
    engine: Engine, settings: Settings, client_id: int, tmp_path: Path, chromium: Browser
) -> None:
    today = utcnow().date()
    with session_scope(engine) as session:
        shifted_client = session.get_one(Client, client_id)  # "Loja Teste", support plan
        shifted_client.contact_email = "risco@lojateste.test"
        usual = accounts.create_client(session, "Loja Estável", support_plan=False)
        usual.contact_email = "ti@lojaestavel.test"
        usual_id = usual.id
        accounts.create_user(
            session, email="op@credguard.test", name="Op", password=PASSWORD, role=Role.OPERATOR
        )
    shift = generator.Shift(relationship_factor=0.5)  # relationships half as long
    score(engine, settings, client_id, generator.generate(
        1_500, seed=51, products=["CARTAO"], reference_date=today, dirty_share=0, shift=shift
    ), tmp_path / "shifted.csv")  # fmt: skip
    score(engine, settings, usual_id, generator.generate(
        6_000, seed=52, products=["CARTAO"], reference_date=today, dirty_share=0
    ), tmp_path / "usual.csv")  # fmt: skip

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
        context = chromium.new_context(locale="pt-BR")
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
