"""When a product's model is due for retraining (runbook 5.1), listed by ``credguard models due``.

Built in: the production model is older than a quarter, or someone asked (a client's request,
recorded with ``credguard models request-retraining``; answered by the next promotion). Drift
(PSI above 0.25) and performance drops (above 5 %) come with drift monitoring, which adds its
checks with :func:`register`: each check reads the database and says which products are due
and why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from credguard.config import Settings
from credguard.db.base import utcnow
from credguard.errors import InvalidInput
from credguard.ml import registry
from credguard.ml.tables import ModelPromotion, ModelRecord, RetrainingRequest

MAX_MODEL_AGE = timedelta(days=91)  # a quarter


@dataclass(frozen=True)
class Due:
    product: str
    trigger: str  #: age | request | drift | performance
    detail: str


Check = Callable[[Session, Settings, datetime], list[Due]]
_CHECKS: list[Check] = []


def register(check: Check) -> Check:
    """Add a check (usable as a decorator); later issues add drift and performance."""
    _CHECKS.append(check)
    return check


def due(session: Session, settings: Settings, now: datetime | None = None) -> list[Due]:
    """Every reason any configured product is due for retraining now."""
    from credguard.drift import checks  # noqa: F401 - registers drift's checks (it imports us)

    now = now or utcnow()
    found = [item for check in _CHECKS for item in check(session, settings, now)]
    return [item for item in found if item.product in settings.products]


def request_retraining(
    session: Session, *, product: str, reason: str, requested_by: str
) -> RetrainingRequest:
    reason, requested_by = reason.strip(), requested_by.strip()
    if not 3 <= len(reason) <= 500 or not 1 <= len(requested_by) <= 200:
        raise InvalidInput("say who asks (1–200 characters) and why (3–500 characters)")
    record = RetrainingRequest(product=product, reason=reason, requested_by=requested_by)
    session.add(record)
    session.flush()
    return record


@register
def _old_models(session: Session, settings: Settings, now: datetime) -> list[Due]:
    answer = []
    for product, ref in registry.production_models(session).items():
        record = session.get(ModelRecord, ref.id)
        if record is not None and now - record.created_at > MAX_MODEL_AGE:
            answer.append(
                Due(product, "age", f"{ref.name} v{ref.version} was trained on "
                    f"{record.created_at:%Y-%m-%d}, more than a quarter ago")
            )  # fmt: skip
    return answer


@register
def _requests(session: Session, settings: Settings, now: datetime) -> list[Due]:
    answer = []
    for request in session.scalars(select(RetrainingRequest).order_by(RetrainingRequest.id)):
        promoted_since = session.scalar(
            select(ModelPromotion.id).where(
                ModelPromotion.product == request.product,
                ModelPromotion.action == "promote",
                ModelPromotion.created_at >= request.created_at,
            )
        )
        if promoted_since is None:
            answer.append(
                Due(request.product, "request", f"{request.requested_by} asked on "
                    f"{request.created_at:%Y-%m-%d}: {request.reason}")
            )  # fmt: skip
    return answer
