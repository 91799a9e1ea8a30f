"""``credguard models`` commands through the real entry point: the MLflow mirror, user text."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from credguard.config import Settings
from credguard.db.engine import session_scope
from credguard.ml import registry
from tests.cli.test_cli import credguard
from tests.conftest import embedded_mlflow


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_sync_mlflow_mirrors_the_registry_and_says_what_it_did(
    engine: Engine, settings: Settings, client_id: int, mlflow_template: Path
) -> None:
    del client_id  # three default models in production, not yet mirrored
    mirrored = embedded_mlflow(settings, mlflow_template)
    env = {"CREDGUARD_MLFLOW_TRACKING_URI": "embedded"}
    first = credguard(mirrored, "models", "sync-mlflow", env=env)
    said = " ".join(first.stdout.split())
    assert "registered cartao_base v1 as version 1" in said
    assert "alias production → cartao_base version 1" in said
    assert str(mirrored.data_dir / "mlflow" / "mlflow.db") in said
    assert "up to date" in credguard(mirrored, "models", "sync-mlflow", env=env).stdout
    with session_scope(engine) as session:
        assert {m.name for m in registry.production_models(session).values()} == {
            "cartao_base", "emprestimo_base", "crediario_base"
        }  # fmt: skip
    off = credguard(mirrored, "models", "sync-mlflow", check=False,
                    env={"CREDGUARD_MLFLOW_TRACKING_URI": "off"})  # fmt: skip
    assert off.returncode == 1 and "the MLflow mirror is off" in off.stderr


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_user_text_in_messages_is_printed_as_written_not_as_markup(
    engine: Engine, settings: Settings, client_id: int
) -> None:
    del engine, client_id
    result = credguard(settings, "models", "show", "[red]x[/red]", check=False)
    assert result.returncode == 1
    assert "no registered model [red]x[/red]" in result.stderr
