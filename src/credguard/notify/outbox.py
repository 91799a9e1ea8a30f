"""The e-mail outbox: queue a mail in the caller's transaction, deliver it later through SMTP.

Guarantees, and their limits:

- **Nothing lost.** :func:`enqueue` only adds a row to the caller's unit of work: the mail exists
  exactly when what it is about (an incident) was committed. An SMTP outage leaves it ``pending``
  with ``lastError``; a later :func:`deliver_pending` sends it.
- **Never queued twice.** ``dedupeKey`` is unique: queueing the same key again does nothing.
- **Never sent by two senders at once.** A sender claims one mail at a time by a conditional
  UPDATE (``pending`` and due → ``sending`` at ``claimedAt``); only one claim can match. A claim
  older than ``CREDGUARD_MAIL_LEASE_SECONDS`` belongs to a sender that died and is taken over.
- **At most one resend, recognisable.** A sender that dies after the SMTP server accepted a mail
  but before it marked it ``sent`` leaves it ``sending``; after the lease it is sent again. SMTP
  offers no way to make that atomic, so every mail carries a Message-ID fixed by its outbox row
  (:func:`message_id`): the resend is the same message, which mail systems and readers can
  recognise as a duplicate.
- **Retries, then failed.** A temporary refusal (4xx) or a lost connection is retried after
  ``CREDGUARD_MAIL_RETRY_SECONDS``, doubling each attempt up to an hour; after
  ``CREDGUARD_MAIL_MAX_ATTEMPTS`` attempts, or at once for a permanent refusal (5xx to the
  recipient or the message), the mail is ``failed`` with its ``lastError`` and waits for a person
  (``credguard notifications retry ID`` or ``--all-failed``).

A run stops at the first connection problem. When no session can be opened at all (the server is
down, refuses the connection, TLS or our login), that is the server's fault, not the mail's: the
mail that found it records the error but gets its attempt back and keeps its place, and the
others are not tried. So an outage of any length uses up no mail's attempts; they resume when the
server is back. A connection lost while one mail is being sent counts as that mail's attempt (the
mail may be the cause).
"""

from __future__ import annotations

import hashlib
import smtplib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, parseaddr
from typing import Any, cast

import structlog
from sqlalchemy import CursorResult, Engine, Table, and_, or_, select, update
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.orm import Session

from credguard.config import Settings
from credguard.db.base import utcnow
from credguard.db.bulk import rowcount
from credguard.db.engine import session_scope, write_lock
from credguard.errors import Conflict, InvalidInput, NotFound
from credguard.notify.smtp import (
    ConnectionProblem,
    Mailer,
    PermanentRefusal,
    ServerUnreachable,
    describe,
)
from credguard.notify.tables import MailStatus, OutboxMail

log = structlog.get_logger(__name__)

#: Longest wait between two attempts of one mail.
MAX_RETRY_DELAY_SECONDS = 3600.0
#: Mails one :func:`deliver_pending` call tries at most (the next call goes on).
DEFAULT_LIMIT = 100
_SUBJECT_MAX = 300
_ERROR_MAX = 500


class MailNotFound(NotFound):
    """No outbox mail with that id."""


def enqueue(
    session: Session,
    *,
    dedupe_key: str,
    recipient: str,
    subject: str,
    body: str,
    client_id: int | None = None,
    incident_id: int | None = None,
) -> bool:
    """Queue a mail in the caller's transaction; False if ``dedupe_key`` was already queued."""
    if not 0 < len(dedupe_key) <= 190:
        raise InvalidInput("a mail's dedupe key must be 1 to 190 characters")
    if "@" not in recipient or len(recipient) > 254 or any(c in recipient for c in "\r\n,;"):
        raise InvalidInput(f"not one e-mail address: {recipient!r}")
    now = _seconds(utcnow())  # due at once, whether the database rounds or truncates
    values: dict[str, Any] = {
        "dedupeKey": dedupe_key,
        "recipient": recipient.strip(),
        "subject": " ".join(subject.split())[:_SUBJECT_MAX],
        "body": body,
        "status": MailStatus.PENDING.value,
        "attempts": 0,
        "nextAttemptAt": now,
        "clientId": client_id,
        "incidentId": incident_id,
        "createdAt": now,
    }
    table = cast(Table, OutboxMail.__table__)
    statement: Any
    if session.get_bind().dialect.name == "sqlite":
        statement = (
            sqlite.insert(table).values(values).on_conflict_do_nothing(index_elements=["dedupeKey"])
        )
    else:
        # Not INSERT IGNORE: it would also turn a foreign-key or data error into a skipped row,
        # reported as "already queued". The no-op update touches only a duplicate key; as the
        # driver counts matched rows (FOUND_ROWS), a new row is told by its new id instead.
        mysql_insert = mysql.insert(table).values(values)
        statement = mysql_insert.on_duplicate_key_update(id=table.c.id)
        result = session.execute(statement)
        return bool(cast(CursorResult[Any], result).lastrowid)
    return rowcount(session.execute(statement)) == 1


def list_mails(
    session: Session, *, status: MailStatus | None = None, limit: int = 50
) -> list[OutboxMail]:
    """The latest mails, newest first, optionally of one status."""
    query = select(OutboxMail).order_by(OutboxMail.id.desc()).limit(limit)
    if status is not None:
        query = query.where(OutboxMail.status == status)
    return list(session.scalars(query))


def retry(session: Session, mail_id: int) -> OutboxMail:
    """Queue a failed mail again, with a fresh count of attempts."""
    mail = session.get(OutboxMail, mail_id)
    if mail is None:
        raise MailNotFound(f"mail {mail_id} does not exist")
    if mail.status != MailStatus.FAILED:
        raise Conflict(f"mail {mail_id} is {mail.status}; only a failed mail is queued again")
    mail.status = MailStatus.PENDING
    mail.attempts = 0
    mail.next_attempt_at = utcnow()
    session.flush()
    return mail


def retry_all_failed(session: Session) -> int:
    """Queue every failed mail again, with a fresh count of attempts; how many."""
    return rowcount(
        session.execute(
            update(OutboxMail)
            .where(OutboxMail.status == MailStatus.FAILED)
            .values(status=MailStatus.PENDING, attempts=0, next_attempt_at=_seconds(utcnow()))
            .execution_options(synchronize_session=False)
        )
    )


@dataclass
class DeliveryReport:
    """What one :func:`deliver_pending` call did."""

    sent: int = 0
    retrying: int = 0  # failed this time, tried again later
    failed: int = 0  # given up: refused for good, or out of attempts
    #: Why the run stopped early (no SMTP server configured, the server unreachable…).
    problem: str | None = None
    sent_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class _Claim:
    id: int
    dedupe_key: str
    recipient: str
    subject: str
    body: str
    attempts: int
    created_at: datetime
    claimed_at: datetime


def deliver_pending(
    engine: Engine, settings: Settings, *, limit: int = DEFAULT_LIMIT
) -> DeliveryReport:
    """Send the mails that are due, one claim at a time; safe to run in several processes.

    Re-running is safe: a mail is claimed before it is sent and marked after, so a sent mail is
    never claimed again and a half-finished run's mail waits out its lease (see the module).
    """
    report = DeliveryReport()
    if not settings.smtp_host:
        report.problem = "no SMTP server configured (CREDGUARD_SMTP_HOST): mails stay queued"
        return report
    tried: set[int] = set()
    with Mailer(settings) as mailer:
        while len(tried) < limit:
            claim = _claim_next(engine, settings, exclude=tried)
            if claim is None:
                break
            tried.add(claim.id)
            try:
                mailer.send(build_message(claim, settings))
            except ServerUnreachable as exc:  # not this mail's attempt: it keeps its place
                report.problem = str(exc)
                _give_back(engine, settings, claim, str(exc), counted=False)
                report.retrying += 1
                break
            except ConnectionProblem as exc:
                report.problem = str(exc)
                _count(report, _give_back(engine, settings, claim, str(exc)))
                break
            except PermanentRefusal as exc:
                _count(report, _give_back(engine, settings, claim, str(exc), permanent=True))
            except smtplib.SMTPException as exc:  # a temporary refusal of this mail
                _count(report, _give_back(engine, settings, claim, describe(exc)))
            except Exception as exc:  # this mail cannot be built or sent: keep it, go on
                log.exception("mail could not be sent", mail_id=claim.id)
                _count(report, _give_back(engine, settings, claim, describe(exc)))
            else:
                _mark_sent(engine, claim)
                report.sent += 1
                report.sent_ids.append(claim.id)
    return report


def message_id(mail_id: int, dedupe_key: str, created_at: datetime, sender: str) -> str:
    """The Message-ID of an outbox mail: the same every time that mail is sent."""
    digest = hashlib.sha256(f"{dedupe_key}|{created_at.isoformat()}".encode()).hexdigest()[:16]
    domain = parseaddr(sender)[1].rpartition("@")[2] or "credguard.invalid"
    return f"<outbox-{mail_id}-{digest}@{domain}>"


def build_message(mail: _Claim | OutboxMail, settings: Settings) -> EmailMessage:
    """The mail as sent: plain UTF-8 text, marked as automatic (RFC 3834), replies to operations."""
    message = EmailMessage(policy=SMTP_POLICY)
    message["From"] = settings.smtp_from
    message["To"] = mail.recipient
    if settings.operations_email:
        message["Reply-To"] = settings.operations_email
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = message_id(
        mail.id, mail.dedupe_key, mail.created_at, settings.smtp_from
    )
    message["Auto-Submitted"] = "auto-generated"
    # quoted-printable: 7-bit safe through any relay, still readable in the raw message.
    message.set_content(mail.body, subtype="plain", charset="utf-8", cte="quoted-printable")
    return message


def _seconds(moment: datetime) -> datetime:
    """To the second: MariaDB's DATETIME keeps no fraction (and MySQL rounds one)."""
    return moment.replace(microsecond=0)


def _due(now: datetime, settings: Settings) -> Any:
    stale = now - timedelta(seconds=settings.mail_lease_seconds)
    return or_(
        and_(OutboxMail.status == MailStatus.PENDING, OutboxMail.next_attempt_at <= now),
        and_(OutboxMail.status == MailStatus.SENDING, OutboxMail.claimed_at < stale),
    )


def _claim_next(engine: Engine, settings: Settings, *, exclude: set[int]) -> _Claim | None:
    """Claim the next due mail (or one whose claim has expired): mine alone until marked."""
    for _ in range(20):  # another sender may take each candidate first
        now = utcnow()
        with write_lock(engine), session_scope(engine) as session:
            candidate = session.scalar(
                select(OutboxMail.id)
                .where(_due(now, settings), OutboxMail.id.not_in(exclude))
                .order_by(OutboxMail.next_attempt_at, OutboxMail.id)
                .limit(1)
            )
            if candidate is None:
                return None
            claimed = rowcount(
                session.execute(
                    update(OutboxMail)
                    .where(OutboxMail.id == candidate, _due(now, settings))
                    .values(
                        status=MailStatus.SENDING,
                        claimed_at=_seconds(now),
                        attempts=OutboxMail.attempts + 1,
                    )
                    .execution_options(synchronize_session=False)
                )
            )
            if claimed != 1:
                continue
            mail = session.execute(
                select(OutboxMail).where(OutboxMail.id == candidate)
            ).scalar_one()
            return _Claim(
                id=mail.id,
                dedupe_key=mail.dedupe_key,
                recipient=mail.recipient,
                subject=mail.subject,
                body=mail.body,
                attempts=mail.attempts,
                created_at=mail.created_at,
                claimed_at=_seconds(now),
            )
    return None


def _mine(claim: _Claim) -> Any:
    return and_(
        OutboxMail.id == claim.id,
        OutboxMail.status == MailStatus.SENDING,
        OutboxMail.claimed_at == claim.claimed_at,
    )


def _mark_sent(engine: Engine, claim: _Claim) -> None:
    with write_lock(engine), session_scope(engine) as session:
        marked = rowcount(
            session.execute(
                update(OutboxMail)
                .where(_mine(claim))
                .values(status=MailStatus.SENT, sent_at=utcnow(), claimed_at=None, last_error=None)
                .execution_options(synchronize_session=False)
            )
        )
    if marked != 1:  # our lease ran out while the server took the mail: another sender too
        log.warning("mail sent after its claim expired; it may arrive twice", mail_id=claim.id)
    else:
        log.info("mail sent", mail_id=claim.id, attempts=claim.attempts)


def _give_back(
    engine: Engine,
    settings: Settings,
    claim: _Claim,
    error: str,
    *,
    permanent: bool = False,
    counted: bool = True,
) -> MailStatus:
    """Record a failed attempt: retried later, or failed for good; the status it got.

    ``counted=False`` (the server could not be reached): the claim's attempt is given back and
    the mail stays due, first in line for the next run.
    """
    values: dict[str, Any] = {"claimed_at": None, "last_error": error[:_ERROR_MAX]}
    if counted:
        final = permanent or claim.attempts >= settings.mail_max_attempts
        status = MailStatus.FAILED if final else MailStatus.PENDING
        delay = min(
            settings.mail_retry_seconds * 2 ** (claim.attempts - 1),
            max(MAX_RETRY_DELAY_SECONDS, settings.mail_retry_seconds),
        )
        values.update(status=status, next_attempt_at=utcnow() + timedelta(seconds=delay))
    else:
        status = MailStatus.PENDING
        values.update(status=status, attempts=claim.attempts - 1)
    with write_lock(engine), session_scope(engine) as session:
        session.execute(
            update(OutboxMail)
            .where(_mine(claim))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    log.warning("mail not sent", mail_id=claim.id, status=str(status), error=error[:200])
    return status


def _count(report: DeliveryReport, status: MailStatus) -> None:
    if status == MailStatus.FAILED:
        report.failed += 1
    else:
        report.retrying += 1
