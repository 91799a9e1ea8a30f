"""The server's background jobs besides drift: the mail sender and the training store's upkeep."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, func, select, update

from credguard import maintenance
from credguard.config import Settings
from credguard.db.base import utcnow
from credguard.db.engine import session_scope
from credguard.outcomes import service as outcome_service
from credguard.outcomes.tables import ObservedOutcome, ScoreSnapshot
from tests import factories
from tests.api.conftest import running_server
from tests.mailbox import smtp_server
from tests.notify.test_outbox import mail_settings, queue
from tests.outcomes.test_service import KEY, outcomes_of


def test_without_an_smtp_server_no_mail_job_runs(settings: Settings, engine: Engine) -> None:
    assert [job.name for job in maintenance.jobs(engine, settings)] == ["training-store"]
    with_smtp = settings.model_copy(update={"smtp_host": "127.0.0.1"})
    (mail,) = [job for job in maintenance.jobs(engine, with_smtp) if job.name == "mail"]
    assert mail.every == timedelta(minutes=1)


def test_a_running_server_sends_queued_mail_by_itself(
    engine: Engine, settings: Settings, client_id: int
) -> None:
    del client_id
    queue(engine, "incident:7:client-notice")
    with smtp_server() as (port, inbox), running_server(mail_settings(settings, port)):
        deadline = time.monotonic() + 20
        while not inbox.received and time.monotonic() < deadline:
            time.sleep(0.1)
    (received,) = inbox.received
    assert received.rcpt_tos == ["cliente@loja.test"]


def test_the_training_store_upkeep_captures_scores_and_applies_retention(
    engine: Engine, settings: Settings, client_id: int, tmp_path: Path
) -> None:
    customers = factories.make_customers(300, seed=3, dirty_share=0.0).drop("motivo_esperado")
    factories.scored_job(engine, settings, client_id, customers, tmp_path / "c.csv")

    def snapshots() -> int:
        with session_scope(engine) as session:
            return session.scalar(select(func.count()).select_from(ScoreSnapshot)) or 0

    maintenance.keep_training_store(engine, settings)
    captured = snapshots()
    assert captured == 300
    maintenance.keep_training_store(engine, settings)  # nothing twice
    assert snapshots() == captured
    first = customers.head(5)
    observed = outcomes_of(
        first["cpf"].to_list(),
        produto=first["produto"][0],
        day=factories.today_utc(),
        defaulted=[True, False, False, True, False],
    )
    with session_scope(engine) as session:
        outcome_service.record(session, client_id, observed, key=KEY)

    def outcomes() -> int:
        with session_scope(engine) as session:
            return session.scalar(select(func.count()).select_from(ObservedOutcome)) or 0

    recorded = outcomes()
    assert recorded == 5
    long_ago = utcnow() - timedelta(days=settings.outcome_retention_days + 2)
    with session_scope(engine) as session:  # as if scored and observed long ago
        session.execute(update(ScoreSnapshot).values(data_processamento=long_ago))
        session.execute(update(ObservedOutcome).values(data_referencia=long_ago.date()))
    purged = maintenance.keep_training_store(engine, settings)
    assert purged.snapshots == captured and snapshots() == 0
    assert purged.outcomes == recorded and outcomes() == 0
