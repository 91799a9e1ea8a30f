"""The background jobs ``credguard serve`` runs besides drift: sending mail, keeping the store.

- ``mail``: every minute, the e-mail outbox is delivered (only when an SMTP server is
  configured; without one, mails wait in the outbox).
- ``training-store``: daily at 03:00 UTC, scores of completed jobs are captured into the
  pseudonymised training store (long before the runbook's 90-day archival can delete them), and
  outcomes and snapshots older than ``CREDGUARD_OUTCOME_RETENTION_DAYS`` are deleted.

Both are idempotent and safe in several processes at once (each takes its own locks), as the
scheduler requires. ``credguard outcomes capture|purge`` and ``notifications send`` do the same
by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time, timedelta

from sqlalchemy import Engine

from credguard.config import Settings
from credguard.db.engine import session_scope, write_lock
from credguard.scheduler import Job

TRAINING_STORE_AT = time(3, 0)


@dataclass(frozen=True)
class Purged:
    outcomes: int
    snapshots: int


def purge_training_store(engine: Engine, *, retention_days: int) -> Purged:
    """Delete outcomes and score snapshots older than ``retention_days``."""
    from credguard.outcomes import service, snapshots

    with write_lock(engine), session_scope(engine) as session:
        outcomes = service.purge(session, retention_days=retention_days)
    return Purged(outcomes, snapshots.purge(engine, retention_days=retention_days))


def keep_training_store(engine: Engine, settings: Settings) -> Purged:
    """Capture new scores into the training store, then apply its retention."""
    from credguard.outcomes import snapshots

    snapshots.capture(engine, settings)
    return purge_training_store(engine, retention_days=settings.outcome_retention_days)


def jobs(engine: Engine, settings: Settings) -> list[Job]:
    """The jobs of this module for a server's scheduler."""
    from credguard.notify import outbox

    found = [
        Job(
            "training-store",
            run=lambda: keep_training_store(engine, settings),
            at=TRAINING_STORE_AT,
        )
    ]
    if settings.smtp_host:
        found.append(
            Job(
                "mail",
                run=lambda: outbox.deliver_pending(engine, settings),
                every=timedelta(minutes=1),
            )
        )
    return found
