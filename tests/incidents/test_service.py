"""Incidents from drift: opened once per product × scope, seen again, acknowledged, resolved,
and the client's notice queued with them and delivered through a real SMTP server."""

from __future__ import annotations

import threading
from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import Engine, select

from credguard.accounts import service as accounts
from credguard.batches.tables import BatchJob, CustomerScore
from credguard.config import Settings
from credguard.db.engine import session_scope
from credguard.errors import InvalidInput
from credguard.incidents import service
from credguard.incidents.tables import Incident, IncidentStatus
from credguard.notify import outbox
from credguard.notify.tables import OutboxMail
from tests.mailbox import smtp_server

DAY = date(2026, 11, 27)


def make_client(engine: Engine, name: str, *, email: str | None = None, plan: bool = False) -> int:
    with session_scope(engine) as session:
        return accounts.create_client(session, name, contact_email=email, support_plan=plan).id


def drift(
    engine: Engine,
    settings: Settings,
    client_id: int | None,
    *,
    status: str = "action",
    product: str = "CARTAO",
    day: date = DAY,
) -> int | None:
    with session_scope(engine) as session:
        incident = service.report_drift(
            session,
            settings,
            product=product,
            client_id=client_id,
            status=status,
            summary=f"{product}: PSI 0.31 > 0.25 (action)",
            details={"psi": 0.31, "nCurrent": 5000},
            detected_on=day,
        )
        return None if incident is None else incident.id


def incidents(engine: Engine) -> list[Incident]:
    with session_scope(engine) as session:
        return list(session.scalars(select(Incident).order_by(Incident.id)))


def mails(engine: Engine) -> list[OutboxMail]:
    with session_scope(engine) as session:
        return list(session.scalars(select(OutboxMail).order_by(OutboxMail.id)))


def test_only_action_opens_an_incident(engine: Engine, settings: Settings) -> None:
    client = make_client(engine, "Loja A", email="risco@lojaa.test", plan=True)
    for status in ("stable", "attention", "insufficient_sample"):
        assert drift(engine, settings, client, status=status) is None
    assert incidents(engine) == [] and mails(engine) == []
    assert drift(engine, settings, client) is not None
    (incident,) = incidents(engine)
    assert incident.source == "drift" and incident.produto == "CARTAO"
    assert (incident.client_id, incident.scope) == (client, f"client:{client}")
    assert incident.status == IncidentStatus.OPEN and incident.occurrences == 1
    # Drift at "action" degrades model performance: P3, 4 hours, the dev team (runbook 6.1).
    assert incident.severity == "P3" and incident.escalation == "Equipe de Dev"
    assert incident.response_due_at - incident.opened_at == timedelta(hours=4)
    assert '"psi": 0.31' in (incident.details or "") and "2026-11-27" in (incident.details or "")
    # A later stable day neither touches nor closes it: a person resolves it.
    drift(engine, settings, client, status="stable")
    assert [i.occurrences for i in incidents(engine)] == [1]


def test_severity_response_time_and_escalation_come_from_settings(
    engine: Engine, settings: Settings
) -> None:
    client = make_client(engine, "Loja A", email="risco@lojaa.test")
    configured = settings.model_copy(
        update={"incident_severities": {"drift": "P2"}, "escalation_p2": "lead@credguard.test"}
    )
    drift(engine, configured, client)
    (incident,) = incidents(engine)
    assert (incident.severity, incident.escalation) == ("P2", "lead@credguard.test")
    assert incident.response_due_at - incident.opened_at == timedelta(hours=1)


def test_a_second_detection_counts_and_mails_nobody(engine: Engine, settings: Settings) -> None:
    client = make_client(engine, "Loja A", email="risco@lojaa.test", plan=True)
    first = drift(engine, settings, client)
    (before,) = incidents(engine)
    second = drift(engine, settings, client, day=DAY + timedelta(days=1))
    assert first == second
    (after,) = incidents(engine)
    assert after.occurrences == 2 and after.last_seen_at >= before.last_seen_at
    assert after.opened_at == before.opened_at
    assert "2026-11-28" in (after.details or "")  # the latest detection's
    assert len(mails(engine)) == 1
    # Another product, or another client, is another incident.
    drift(engine, settings, client, product="EMPRESTIMO")
    other = make_client(engine, "Loja B", email="b@lojab.test")
    drift(engine, settings, other)
    assert [(i.produto, i.scope) for i in incidents(engine)] == [
        ("CARTAO", f"client:{client}"),
        ("EMPRESTIMO", f"client:{client}"),
        ("CARTAO", f"client:{other}"),
    ]
    assert len(mails(engine)) == 3


def test_concurrent_reporters_open_one_incident_and_queue_one_mail(
    engine: Engine, settings: Settings
) -> None:
    client = make_client(engine, "Loja A", email="risco@lojaa.test", plan=True)
    reporters = 6
    start = threading.Barrier(reporters)
    errors: list[BaseException] = []

    def report() -> None:
        try:
            start.wait()
            drift(engine, settings, client)
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=report) for _ in range(reporters)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    (incident,) = incidents(engine)
    assert incident.occurrences == reporters
    (mail,) = mails(engine)
    assert mail.incident_id == incident.id


def test_ack_resolve_and_a_new_incident_after_resolution(
    engine: Engine, settings: Settings
) -> None:
    client = make_client(engine, "Loja A", email="risco@lojaa.test", plan=True)
    first = drift(engine, settings, client)
    assert first is not None
    with session_scope(engine) as session:
        acked = service.acknowledge(session, first, by="op@credguard.test")
        assert acked.status == IncidentStatus.ACKNOWLEDGED
    with session_scope(engine) as session:  # again: nothing changes
        again = service.acknowledge(session, first, by="someone-else@credguard.test")
        assert again.acknowledged_by == "op@credguard.test"
    assert drift(engine, settings, client) == first  # still the open one
    with session_scope(engine) as session, pytest.raises(InvalidInput):
        service.resolve(session, first, by="op@credguard.test", resolution=" ")
    with session_scope(engine) as session:
        done = service.resolve(
            session, first, by="op@credguard.test", resolution="fa_12_v3 promoted"
        )
        assert done.status == IncidentStatus.RESOLVED and done.open_key is None
    for action in (
        lambda s: service.resolve(s, first, by="x", resolution="again"),
        lambda s: service.acknowledge(s, first, by="x"),
    ):
        with session_scope(engine) as session, pytest.raises(service.IncidentResolved):
            action(session)
    second = drift(engine, settings, client)
    assert second is not None and second != first
    assert [(i.status, i.occurrences) for i in incidents(engine)] == [
        (IncidentStatus.RESOLVED, 2),
        (IncidentStatus.OPEN, 1),
    ]
    assert [m.incident_id for m in mails(engine)] == [first, second]  # the new one mails again
    with session_scope(engine) as session:
        active = service.list_incidents(session, status="active")
        assert [i.id for i in active] == [second]
        with pytest.raises(service.IncidentNotFound):
            service.get_or_raise(session, second, client_id=client + 1)


def test_a_client_without_contact_email_is_noted_not_mailed(
    engine: Engine, settings: Settings
) -> None:
    client = make_client(engine, "Loja Sem Email")
    drift(engine, settings, client)
    (incident,) = incidents(engine)
    assert incident.notification == "client not notified: no contact e-mail on record"
    assert mails(engine) == []


def test_all_clients_drift_tells_operations(engine: Engine, settings: Settings) -> None:
    configured = settings.model_copy(update={"operations_email": "ops@credguard.test"})
    drift(engine, configured, None)
    (incident,) = incidents(engine)
    assert incident.scope == "all" and incident.client_id is None
    (mail,) = mails(engine)
    assert mail.recipient == "ops@credguard.test" and mail.client_id is None
    assert f"incident #{incident.id}" in mail.subject and "PSI 0.31" in mail.body
    assert f"credguard incidents ack {incident.id}" in mail.body
    assert incident.notification == (
        "operations notice queued to ops@credguard.test; 0 client notice(s) queued; skipped: "
        "0 with an incident of their own, 0 without a contact e-mail"
    )


def test_the_incident_and_its_mail_commit_together(engine: Engine, settings: Settings) -> None:
    client = make_client(engine, "Loja A", email="risco@lojaa.test")
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        service.report_drift(
            session,
            settings,
            product="CARTAO",
            client_id=client,
            status="action",
            summary="PSI 0.4",
            details=None,
            detected_on=DAY,
        )
        raise RuntimeError("the drift run fails after reporting")
    assert incidents(engine) == [] and mails(engine) == []


def test_clients_receive_their_notice_in_portuguese_through_smtp(
    engine: Engine, settings: Settings
) -> None:
    planned = make_client(engine, "Loja Com Plano", email="risco@complano.test", plan=True)
    unplanned = make_client(engine, "Loja Sem Plano", email="risco@semplano.test")
    drift(engine, settings, planned)
    drift(engine, settings, unplanned, product="CREDIARIO")
    with smtp_server() as (port, inbox):
        configured = settings.model_copy(
            update={"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_security": "none"}
        )
        assert outbox.deliver_pending(engine, configured).sent == 2
        assert outbox.deliver_pending(engine, configured).sent == 0
    received = {item.rcpt_tos[0]: item for item in inbox.received}
    assert set(received) == {"risco@complano.test", "risco@semplano.test"}

    plan = received["risco@complano.test"]
    assert plan.message["Subject"] == (
        "CredGuard: mudança detectada no modelo de Cartão; nossa equipe já está atuando"
    )
    assert "Olá, equipe Loja Com Plano" in plan.body
    assert "Em 27/11/2026" in plan.body and "produto Cartão" in plan.body
    assert "O que isso significa" in plan.body and "O que acontece agora" in plan.body
    assert "plano de sustentação" in plan.body and "retreinar o modelo" in plan.body
    assert f"até {settings.support_retraining_days} dias úteis" in plan.body

    no_plan = received["risco@semplano.test"]
    assert "conheça o plano de sustentação" in str(no_plan.message["Subject"])
    assert "Crediário" in str(no_plan.message["Subject"])
    assert "ainda não tem o plano de sustentação" in no_plan.body
    assert "Para contratar o plano de sustentação" in no_plan.body
    assert "O que acontece agora" not in no_plan.body

    for item in (plan, no_plan):  # nothing internal, nobody else's data
        for internal in ("PSI", "0.31", "nCurrent", "incident", "client:", "Equipe de Dev"):
            assert internal not in item.body and internal not in str(item.message["Subject"])
    assert "Loja Sem Plano" not in plan.body and "Loja Com Plano" not in no_plan.body
    with session_scope(engine) as session:
        notes = [i.notification for i in session.scalars(select(Incident).order_by(Incident.id))]
    assert notes == [
        "client notice (support plan) queued to risco@complano.test",
        "client notice (no support plan: suggests contracting it) queued to risco@semplano.test",
    ]


def scored(engine: Engine, client_id: int, product: str, when: datetime, rows: int = 3) -> None:
    """``rows`` scored rows of ``product`` for the client, processed at ``when``."""
    with session_scope(engine) as session:
        job = BatchJob(
            client_id=client_id,
            file_name="c.csv",
            storage_path="/nowhere/c.csv",
            file_sha256="0" * 64,
            file_size=1,
        )
        session.add(job)
        session.flush()
        session.add_all(
            CustomerScore(
                batch_job_id=job.id,
                client_id=client_id,
                row_number=number,
                produto=product,
                score=500,
                data_processamento=when,
            )
            for number in range(1, rows + 1)
        )


def test_all_clients_drift_also_tells_every_client_scored_by_that_model(
    engine: Engine, settings: Settings
) -> None:
    configured = settings.model_copy(update={"operations_email": "ops@credguard.test"})
    in_window = datetime.combine(DAY, time(12))
    planned = make_client(engine, "Loja Com Plano", email="risco@complano.test", plan=True)
    unplanned = make_client(engine, "Loja Sem Plano", email="risco@semplano.test")
    own = make_client(engine, "Loja Com Incidente", email="risco@incidente.test")
    other_product = make_client(engine, "Loja Empréstimo", email="risco@emprestimo.test")
    long_ago = make_client(engine, "Loja Antiga", email="risco@antiga.test")
    silent = make_client(engine, "Loja Sem Email")
    for client in (planned, unplanned, own, silent):
        scored(engine, client, "CARTAO", in_window)  # 3 rows: far below the minimum sample
    scored(engine, other_product, "EMPRESTIMO", in_window)
    scored(engine, long_ago, "CARTAO", in_window - timedelta(days=configured.drift_window_days))
    drift(engine, configured, own)  # its own incident, its own mail already
    all_clients = drift(engine, configured, None)
    assert drift(engine, configured, None, day=DAY + timedelta(days=1)) == all_clients  # no more

    queued = [m for m in mails(engine) if m.incident_id == all_clients]
    assert {(m.recipient, m.client_id, m.dedupe_key) for m in queued} == {
        ("ops@credguard.test", None, f"incident:{all_clients}:operations"),
        ("risco@complano.test", planned, f"incident:{all_clients}:client:{planned}"),
        ("risco@semplano.test", unplanned, f"incident:{all_clients}:client:{unplanned}"),
    }
    assert [m.recipient for m in mails(engine)].count("risco@incidente.test") == 1
    (incident,) = [i for i in incidents(engine) if i.id == all_clients]
    assert incident.notification == (
        "operations notice queued to ops@credguard.test; 2 client notice(s) queued; skipped: "
        "1 with an incident of their own, 1 without a contact e-mail"
    )
    with smtp_server() as (port, inbox):
        delivery = configured.model_copy(
            update={"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_security": "none"}
        )
        assert outbox.deliver_pending(engine, delivery).sent == 4
    received = {item.rcpt_tos[0]: item for item in inbox.received}
    assert "nossa equipe já está atuando" in str(received["risco@complano.test"].message["Subject"])
    assert "conheça o plano" in str(received["risco@semplano.test"].message["Subject"])
    for address in ("risco@complano.test", "risco@semplano.test"):
        assert "PSI" not in received[address].body
    # Each client's mail names no other client.
    assert "Loja Sem" not in received["risco@complano.test"].body
    assert "Loja Com" not in received["risco@semplano.test"].body
