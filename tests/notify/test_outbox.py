"""The e-mail outbox against a real SMTP server on loopback, on SQLite and MariaDB."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError

from credguard.config import Settings, get_settings
from credguard.db.base import utcnow
from credguard.db.engine import session_scope
from credguard.errors import ConfigurationError, Conflict
from credguard.notify import outbox
from credguard.notify.tables import MailStatus, OutboxMail
from tests.mailbox import PASSWORD, USERNAME, free_port, self_signed, smtp_server

BODY = "Olá! O modelo de crédito do produto Cartão mudou: ação necessária.\nAtenciosamente."


def mail_settings(settings: Settings, port: int, **changes: object) -> Settings:
    return settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_security": "none",
            "smtp_timeout_seconds": 5.0,
            "smtp_from": "CredGuard <noreply@credguard.test>",
            "operations_email": "ops@credguard.test",
            "mail_retry_seconds": 0.0,
            **changes,
        }
    )


def queue(engine: Engine, key: str, recipient: str = "cliente@loja.test") -> bool:
    with session_scope(engine) as session:
        return outbox.enqueue(
            session,
            dedupe_key=key,
            recipient=recipient,
            subject=f"Mudança detectada no modelo de Cartão ({key})",
            body=BODY,
        )


def rows(engine: Engine) -> list[OutboxMail]:
    with session_scope(engine) as session:
        return list(session.scalars(select(OutboxMail).order_by(OutboxMail.id)))


def test_a_dedupe_key_is_queued_once(engine: Engine) -> None:
    assert queue(engine, "incident:1:client-notice") is True
    assert queue(engine, "incident:1:client-notice") is False
    with session_scope(engine) as session:  # twice in one transaction too
        for _ in range(2):
            outbox.enqueue(
                session, dedupe_key="incident:2:x", recipient="a@b.test", subject="s", body="b"
            )
    assert [mail.dedupe_key for mail in rows(engine)] == [
        "incident:1:client-notice",
        "incident:2:x",
    ]


def test_a_mail_arrives_once_with_the_message_id_of_its_row(
    engine: Engine, settings: Settings
) -> None:
    queue(engine, "k1")
    with smtp_server() as (port, inbox):
        configured = mail_settings(settings, port)
        report = outbox.deliver_pending(engine, configured)
        assert (report.sent, report.retrying, report.failed, report.problem) == (1, 0, 0, None)
        again = outbox.deliver_pending(engine, configured)
        assert again.sent == 0
    (mail,) = rows(engine)
    assert mail.status == MailStatus.SENT and mail.sent_at is not None and mail.attempts == 1
    (received,) = inbox.received
    assert received.rcpt_tos == ["cliente@loja.test"]
    assert received.mail_from == "noreply@credguard.test"
    message = received.message
    assert message["Subject"] == "Mudança detectada no modelo de Cartão (k1)"
    assert message["Reply-To"] == "ops@credguard.test"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"] == outbox.message_id(
        mail.id, "k1", mail.created_at, configured.smtp_from
    )
    assert message["Message-ID"].endswith("@credguard.test>")
    assert received.body.strip() == BODY


def test_smtp_down_keeps_the_mail_and_a_later_call_sends_each_once(
    engine: Engine, settings: Settings
) -> None:
    queue(engine, "first")
    queue(engine, "second")
    port = free_port()  # nobody listens yet
    configured = mail_settings(settings, port)
    report = outbox.deliver_pending(engine, configured)
    assert report.sent == 0 and report.retrying == 1 and report.problem
    first, second = rows(engine)
    assert first.status == MailStatus.PENDING and first.attempts == 0  # not the mail's fault
    assert first.last_error and "Connection" in first.last_error
    assert second.attempts == 0 and second.last_error is None  # not tried: the server was down
    with smtp_server(port=port) as (_, inbox):
        assert outbox.deliver_pending(engine, configured).sent == 2
        assert outbox.deliver_pending(engine, configured).sent == 0
    assert sorted(m["Subject"] for m in (r.message for r in inbox.received)) == [
        "Mudança detectada no modelo de Cartão (first)",
        "Mudança detectada no modelo de Cartão (second)",
    ]
    assert all(mail.status == MailStatus.SENT for mail in rows(engine))


def test_an_outage_uses_up_no_mail_s_attempts(engine: Engine, settings: Settings) -> None:
    for key in ("a", "b", "c"):
        queue(engine, key)
    configured = mail_settings(settings, free_port(), mail_max_attempts=2)  # nobody listens
    for _ in range(6):  # six scheduler passes during the outage
        assert outbox.deliver_pending(engine, configured).problem
    assert [(m.status, m.attempts) for m in rows(engine)] == [(MailStatus.PENDING, 0)] * 3
    with session_scope(engine) as session:
        assert outbox.retry_all_failed(session) == 0


def test_no_smtp_server_configured_sends_nothing_and_touches_nothing(
    engine: Engine, settings: Settings
) -> None:
    queue(engine, "k")
    report = outbox.deliver_pending(engine, settings)  # CREDGUARD_SMTP_HOST empty
    assert report.problem and "CREDGUARD_SMTP_HOST" in report.problem
    (mail,) = rows(engine)
    assert mail.status == MailStatus.PENDING and mail.attempts == 0


def test_retry_waits_with_back_off_then_fails_and_can_be_queued_again(
    engine: Engine, settings: Settings
) -> None:
    queue(engine, "busy", recipient="busy@loja.test")
    queue(engine, "gone", recipient="gone@loja.test")
    queue(engine, "fine", recipient="fine@loja.test")
    with smtp_server() as (port, inbox):
        inbox.refuse = {
            "busy@loja.test": "450 4.2.1 mailbox busy, try later",
            "gone@loja.test": "550 5.1.1 no such user",
        }
        configured = mail_settings(settings, port, mail_retry_seconds=600.0, mail_max_attempts=2)
        report = outbox.deliver_pending(engine, configured)
        assert (report.sent, report.retrying, report.failed) == (1, 1, 1)
        busy, gone, fine = rows(engine)
        assert busy.status == MailStatus.PENDING and busy.last_error and "450" in busy.last_error
        assert busy.next_attempt_at > utcnow() + timedelta(seconds=500)  # the back-off
        assert gone.status == MailStatus.FAILED and gone.last_error and "550" in gone.last_error
        assert fine.status == MailStatus.SENT
        assert outbox.deliver_pending(engine, configured).retrying == 0  # not due yet
        with session_scope(engine) as session:
            session.execute(update(OutboxMail).values(next_attempt_at=utcnow()))
        report = outbox.deliver_pending(engine, configured)
        assert (report.sent, report.retrying, report.failed) == (0, 0, 1)  # 2nd attempt: last
        with session_scope(engine) as session:
            with pytest.raises(Conflict):
                outbox.retry(session, fine.id)
            outbox.retry(session, busy.id)
        inbox.refuse.clear()
        assert outbox.deliver_pending(engine, configured).sent_ids == [busy.id]
    assert [r.rcpt_tos for r in inbox.received] == [["fine@loja.test"], ["busy@loja.test"]]


def test_a_mail_the_server_cannot_take_fails_alone(engine: Engine, settings: Settings) -> None:
    queue(engine, "accented", recipient="joão@loja.test")  # needs SMTPUTF8, not offered
    queue(engine, "plain")
    with smtp_server(smtputf8=False) as (port, inbox):
        report = outbox.deliver_pending(engine, mail_settings(settings, port))
    assert (report.sent, report.failed, report.problem) == (1, 1, None)
    accented, plain = rows(engine)
    assert accented.status == MailStatus.FAILED and "SMTPUTF8" in (accented.last_error or "")
    assert plain.status == MailStatus.SENT and len(inbox.received) == 1


def test_starttls_and_login_with_a_verified_certificate(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    certificate = self_signed(tmp_path)
    queue(engine, "tls")
    with smtp_server(security="starttls", certificate=certificate, login=True) as (port, inbox):
        wrong = mail_settings(
            settings,
            port,
            smtp_security="starttls",
            smtp_ca_file=certificate[0],
            smtp_username=USERNAME,
            smtp_password=SecretStr("not-the-password"),
        )
        report = outbox.deliver_pending(engine, wrong)
        assert report.sent == 0 and report.problem and "535" in report.problem
        (mail,) = rows(engine)
        assert mail.status == MailStatus.PENDING and mail.last_error and "535" in mail.last_error
        untrusted = wrong.model_copy(
            update={"smtp_ca_file": None, "smtp_password": SecretStr(PASSWORD)}
        )
        report = outbox.deliver_pending(engine, untrusted)
        assert report.sent == 0 and report.problem and "CERTIFICATE_VERIFY_FAILED" in report.problem
        right = untrusted.model_copy(update={"smtp_ca_file": certificate[0]})
        assert outbox.deliver_pending(engine, right).sent == 1
    (received,) = inbox.received
    assert received.login == USERNAME


# aiosmtpd cannot tell that implicit TLS encrypts the session, so it warns about AUTH without TLS.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_implicit_tls(engine: Engine, settings: Settings, tmp_path: Path) -> None:
    certificate = self_signed(tmp_path)
    queue(engine, "implicit")
    with smtp_server(security="tls", certificate=certificate, login=True) as (port, inbox):
        configured = mail_settings(
            settings,
            port,
            smtp_security="tls",
            smtp_ca_file=certificate[0],
            smtp_username=USERNAME,
            smtp_password=SecretStr(PASSWORD),
        )
        assert outbox.deliver_pending(engine, configured).sent == 1
    assert [r.login for r in inbox.received] == [USERNAME]


def test_two_senders_at_once_never_send_one_mail_twice(engine: Engine, settings: Settings) -> None:
    for number in range(24):
        queue(engine, f"mail-{number}")
    with smtp_server() as (port, inbox):
        configured = mail_settings(settings, port)
        reports: list[outbox.DeliveryReport] = []
        start = threading.Barrier(3)

        def sender() -> None:
            start.wait()
            reports.append(outbox.deliver_pending(engine, configured))

        threads = [threading.Thread(target=sender) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    ids = inbox.message_ids()
    assert len(ids) == 24 and len(set(ids)) == 24
    assert sum(report.sent for report in reports) == 24
    assert sorted(i for report in reports for i in report.sent_ids) == [m.id for m in rows(engine)]
    assert all(mail.status == MailStatus.SENT and mail.attempts == 1 for mail in rows(engine))


def test_a_claim_older_than_the_lease_is_taken_over_and_resent_as_the_same_message(
    engine: Engine, settings: Settings
) -> None:
    queue(engine, "crashed")  # a sender died after claiming it (maybe after sending it)
    queue(engine, "in-flight")  # another sender is sending it right now
    long_ago = utcnow().replace(microsecond=0) - timedelta(seconds=600)
    with session_scope(engine) as session:
        for key, claimed in (("crashed", long_ago), ("in-flight", utcnow().replace(microsecond=0))):
            session.execute(
                update(OutboxMail)
                .where(OutboxMail.dedupe_key == key)
                .values(status=MailStatus.SENDING, claimed_at=claimed, attempts=1)
            )
    with smtp_server() as (port, inbox):
        configured = mail_settings(settings, port, mail_lease_seconds=300.0)
        report = outbox.deliver_pending(engine, configured)
    crashed, in_flight = rows(engine)
    assert report.sent_ids == [crashed.id]
    assert crashed.status == MailStatus.SENT and crashed.attempts == 2
    assert in_flight.status == MailStatus.SENDING  # still its sender's
    (received,) = inbox.received
    assert received.message["Message-ID"] == outbox.message_id(
        crashed.id, "crashed", crashed.created_at, configured.smtp_from
    )


def test_a_mail_the_database_rejects_raises_instead_of_vanishing(engine: Engine) -> None:
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        outbox.enqueue(
            session,
            dedupe_key="incident:9:client:999999",
            recipient="a@b.test",
            subject="s",
            body="b",
            client_id=999_999,  # no such client
        )
    assert rows(engine) == []


def test_a_mail_lease_shorter_than_ten_smtp_timeouts_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CREDGUARD_SMTP_TIMEOUT_SECONDS", "60")
    monkeypatch.setenv("CREDGUARD_MAIL_LEASE_SECONDS", "300")
    get_settings.cache_clear()
    try:
        with pytest.raises(ConfigurationError, match="at least 10 times"):
            get_settings()
        monkeypatch.setenv("CREDGUARD_MAIL_LEASE_SECONDS", "600")
        get_settings.cache_clear()
        assert get_settings().mail_lease_seconds == 600
    finally:
        get_settings.cache_clear()
