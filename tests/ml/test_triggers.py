"""`credguard models due`: age, requests answered by a promotion, and the hook drift will use."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from credguard.config import Settings
from credguard.db.base import utcnow
from credguard.db.engine import session_scope
from credguard.errors import InvalidInput
from credguard.ml import promotion, registry, triggers
from credguard.ml.tables import ModelRecord
from tests.cli.test_cli import credguard


def due(engine: Engine, settings: Settings, now: datetime | None = None) -> set[tuple[str, str]]:
    with session_scope(engine) as session:
        return {(d.product, d.trigger) for d in triggers.due(session, settings, now)}


def test_fresh_models_are_not_due_and_old_ones_are(
    engine: Engine, settings: Settings, client_id: int
) -> None:
    del client_id  # default models in production
    assert due(engine, settings) == set()
    assert due(engine, settings, utcnow() + timedelta(days=92)) == {
        (product, "age") for product in settings.products
    }
    with session_scope(engine) as session:
        cartao = registry.production_models(session)["CARTAO"]
        session.execute(
            update(ModelRecord)
            .where(ModelRecord.id == cartao.id)
            .values(created_at=utcnow() - timedelta(days=100))
        )
    assert due(engine, settings) == {("CARTAO", "age")}


def test_a_request_is_due_until_the_next_promotion(
    engine: Engine, settings: Settings, client_id: int, default_models: dict[str, Path]
) -> None:
    del client_id
    with session_scope(engine) as session:
        triggers.request_retraining(
            session, product="EMPRESTIMO", reason="defaults rising", requested_by="Loja Teste"
        )
        with pytest.raises(InvalidInput):
            triggers.request_retraining(session, product="CARTAO", reason="", requested_by="x")
    assert due(engine, settings) == {("EMPRESTIMO", "request")}
    with session_scope(engine) as session:
        promotion.register_file(
            session,
            default_models["EMPRESTIMO"],
            name="emp_v2",
            settings=settings,
            metrics_path=None,
        )
        promotion.promote(
            session, settings, product="EMPRESTIMO", model_name="emp_v2", reason="asked",
            user_id=None, force=True,
        )  # fmt: skip
    assert due(engine, settings) == set()


def test_checks_can_be_added(engine: Engine, settings: Settings, client_id: int) -> None:
    del client_id

    def drift(session: Session, settings: Settings, now: datetime) -> list[triggers.Due]:
        return [triggers.Due("CREDIARIO", "drift", "PSI 0.31 over the last 30 days")]

    triggers.register(drift)
    try:
        assert due(engine, settings) == {("CREDIARIO", "drift")}
    finally:
        triggers._CHECKS.remove(drift)


def test_the_commands(engine: Engine, settings: Settings, client_id: int) -> None:
    del client_id
    assert "no product is due" in credguard(settings, "models", "due").stdout
    credguard(
        settings, "models", "request-retraining", "--product", "cartao", "--reason", "PSI 0.28",
        "--by", "Loja Teste",
    )  # fmt: skip
    listed = credguard(settings, "models", "due").stdout
    assert "CARTAO" in listed and "Loja Teste" in listed and "PSI 0.28" in listed
    shown = credguard(settings, "models", "show", "cartao_base").stdout
    assert "cartao_base v1" in shown and "in production" in shown and "auc" in shown
    missing = credguard(settings, "models", "show", "nope", check=False)
    assert missing.returncode == 1 and "no registered model nope" in missing.stderr
