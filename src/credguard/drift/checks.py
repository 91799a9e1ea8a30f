"""Drift's retraining triggers for ``credguard models due`` (runbook 2.3 step 4 → section 5).

A product is due when its latest drift day has a result at "action" for its current production
model: ``drift`` when the score PSI or a feature says so, ``performance`` when observed outcomes
do. Results of an earlier model do not count: a promotion answers them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from credguard.config import Settings
from credguard.drift.stats import Status
from credguard.drift.tables import DriftResult
from credguard.ml import registry, triggers


@triggers.register
def action_drift(session: Session, settings: Settings, now: datetime) -> list[triggers.Due]:
    """One item per product and kind (drift, performance), naming the scopes at action."""
    del now  # the latest stored day is what counts, whenever it was computed
    production = registry.production_models(session)
    if not production:
        return []
    last_day = (
        select(DriftResult.produto, func.max(DriftResult.dia).label("dia"))
        .group_by(DriftResult.produto)
        .subquery()
    )
    rows = session.scalars(
        select(DriftResult)
        .join(
            last_day,
            (last_day.c.produto == DriftResult.produto) & (last_day.c.dia == DriftResult.dia),
        )
        .where(DriftResult.status == Status.ACTION)
        .order_by(DriftResult.produto, DriftResult.scope)
    ).all()
    found: dict[tuple[str, str], list[str]] = {}
    for result in rows:
        model = production.get(result.produto)
        if model is None or result.model_id != model.id:
            continue
        who = "all clients" if result.client_id is None else f"client {result.client_id}"
        if Status.ACTION in (result.psi_status, result.feature_status):
            what = []
            if result.psi_status == Status.ACTION and result.psi is not None:
                what.append(f"PSI {result.psi:.2f}")
            flagged = (result.parts()["featureDrift"] or {}).get("flagged") or []
            if flagged:
                what.append("features " + ", ".join(flagged))
            found.setdefault((result.produto, "drift"), []).append(f"{who}: {'; '.join(what)}")
        if result.performance_status == Status.ACTION:
            found.setdefault((result.produto, "performance"), []).append(who)
    days = {result.produto: result.dia for result in rows}
    answer = []
    for (product, trigger), scopes in found.items():
        text = (
            f"drift at action on {days[product]}: {' | '.join(scopes)}"
            if trigger == "drift"
            else f"observed performance on {days[product]}: AUC or accuracy at the cut-off "
            f"more than {settings.drift_performance_drop:.0%} below the baseline, beyond noise "
            f"({', '.join(scopes)})"
        )
        answer.append(triggers.Due(product, trigger, text))
    return answer
