"""Models over HTTP: what scores each product, the candidates, promotion and rollback.

``POST /api/v1/models/promote`` is the runbook's section 5.2, step 4, as it calls it.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import Field
from sqlalchemy import Engine, select

from credguard.api.deps import AdminUser, EngineDep, SessionDep, SettingsDep, StaffUser
from credguard.api.errors import responses
from credguard.api.schema import StrictCamel, utc
from credguard.config import Settings
from credguard.ml import mlflow_registry, promotion
from credguard.ml.tables import ModelPromotion, ModelRecord, ProductionModel

router = APIRouter(prefix="/api/v1/models", tags=["models"])


class PromoteRequest(StrictCamel):
    model_name: str = Field(min_length=1, max_length=64)
    product: str = Field(min_length=1, max_length=40)
    reason: str = Field(min_length=3, max_length=500)
    version: int | None = Field(None, ge=1, le=2_147_483_647)
    force: bool = False


class RollbackRequest(StrictCamel):
    product: str = Field(min_length=1, max_length=40)
    reason: str = Field(min_length=3, max_length=500)


class ModelRead(StrictCamel):
    id: int
    name: str
    version: int
    product: str
    created_at: datetime
    metrics: dict[str, Any]

    @classmethod
    def of(cls, record: ModelRecord) -> ModelRead:
        metrics = json.loads(record.metrics or "{}")
        return cls(
            id=record.id,
            name=record.name,
            version=record.version,
            product=record.product,
            created_at=utc(record.created_at),
            metrics={k: v for k, v in metrics.items() if k != "reference"},
        )


class ChangeRead(StrictCamel):
    product: str
    action: str
    from_model: str | None
    to_model: str
    reason: str
    forced: bool
    promoted_by: int | None
    created_at: datetime
    gates: list[dict[str, Any]]
    mlflow: str | None = Field(
        None, description="How the MLflow mirror took the change (null: the mirror is off)."
    )


class ProductModels(StrictCamel):
    product: str
    production: ModelRead | None
    candidates: list[ModelRead]
    history: list[ChangeRead]


def _label(record: ModelRecord | None) -> str | None:
    return None if record is None else f"{record.name} v{record.version}"


def _change_read(session: SessionDep, row: ModelPromotion) -> ChangeRead:
    return ChangeRead(
        product=row.product,
        action=row.action,
        from_model=_label(session.get(ModelRecord, row.from_model_id))
        if row.from_model_id
        else None,
        to_model=_label(session.get(ModelRecord, row.to_model_id)) or "",
        reason=row.reason,
        forced=row.forced,
        promoted_by=row.promoted_by,
        created_at=utc(row.created_at),
        gates=json.loads(row.gates or "[]"),
    )


@router.get("", response_model=list[ProductModels], responses=responses(401, 403))
def list_models(session: SessionDep, settings: SettingsDep, user: StaffUser) -> list[ProductModels]:
    """Per product: the production model, the other registered models, the change history."""
    del user
    production = {row.product: row.model_id for row in session.scalars(select(ProductionModel))}
    records = session.scalars(select(ModelRecord).order_by(ModelRecord.id.desc())).all()
    answer = []
    for product in settings.products:
        current = production.get(product)
        mine = [r for r in records if r.product == product]
        answer.append(
            ProductModels(
                product=product,
                production=next((ModelRead.of(r) for r in mine if r.id == current), None),
                candidates=[ModelRead.of(r) for r in mine if r.id != current],
                history=[_change_read(session, row) for row in promotion.history(session, product)],
            )
        )
    return answer


@router.post("/promote", response_model=ChangeRead, responses=responses(401, 403, 404, 409, 422))
def promote(
    body: PromoteRequest,
    session: SessionDep,
    engine: EngineDep,
    settings: SettingsDep,
    user: AdminUser,
) -> ChangeRead:
    """Make a registered model score its product (quality gates unless forced; admins only)."""
    product = body.product.strip().upper()
    promotion.promote(
        session,
        settings,
        product=product,
        model_name=body.model_name.strip(),
        version=body.version,
        reason=body.reason,
        user_id=user.id,
        force=body.force,
    )
    return _committed(session, engine, settings, product)


@router.post("/rollback", response_model=ChangeRead, responses=responses(401, 403, 404, 409, 422))
def rollback(
    body: RollbackRequest,
    session: SessionDep,
    engine: EngineDep,
    settings: SettingsDep,
    user: AdminUser,
) -> ChangeRead:
    """Return a product to the model that scored it before the last change (admins only)."""
    product = body.product.strip().upper()
    promotion.rollback(session, product=product, reason=body.reason, user_id=user.id)
    return _committed(session, engine, settings, product)


def _committed(session: SessionDep, engine: Engine, settings: Settings, product: str) -> ChangeRead:
    """Commit the change, then mirror it in MLflow (which cannot undo it) and describe it."""
    change = _change_read(session, promotion.history(session, product)[0])
    session.commit()
    mirrored = mlflow_registry.sync_within(engine, settings, mlflow_registry.API_WAIT_SECONDS)
    return change.model_copy(update={"mlflow": mirrored})
