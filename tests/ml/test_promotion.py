"""Quality gates, registration checks and refusals that leave production untouched."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from credguard.config import Settings
from credguard.db.engine import session_scope
from credguard.errors import Conflict, InvalidInput
from credguard.ml import promotion, registry
from credguard.ml.artifact import ModelArtifact
from credguard.ml.card import CARD_FILE
from credguard.ml.tables import ModelRecord

SETTINGS = Settings(products=["CARTAO"], mlflow_tracking_uri="off")


def band(n: int, predicted: float, observed: float, name: str = "C") -> dict[str, Any]:
    return {"band": name, "n": n, "mean_predicted": predicted, "observed": observed}


def model(**figures: Any) -> ModelRecord:
    return ModelRecord(name="m", version=1, product="CARTAO", metrics=json.dumps(figures))


GOOD_BANDS = [band(5_000, 0.10, 0.10)]


def failed(gates: list[dict[str, Any]]) -> list[str]:
    return [gate["gate"].split()[0] for gate in gates if not gate["passed"]]


def test_a_better_model_passes_and_a_worse_one_fails_on_the_figure_it_lost() -> None:
    production = model(auc=0.78, ks=0.42, calibration_by_band=GOOD_BANDS)
    better = model(auc=0.785, ks=0.41, calibration_by_band=GOOD_BANDS)  # KS within 0.02
    worse = model(auc=0.76, ks=0.42, calibration_by_band=GOOD_BANDS)
    assert failed(promotion.quality_gates(better, production, SETTINGS)) == []
    assert failed(promotion.quality_gates(worse, production, SETTINGS)) == ["auc"]


def test_a_gate_that_cannot_be_checked_does_not_pass() -> None:
    production = model(ks=0.42, calibration_by_band=GOOD_BANDS)  # no AUC recorded
    candidate = model(auc=0.80, ks=0.42, calibration_by_band=[band(99, 0.1, 0.1)])
    gates = promotion.quality_gates(candidate, production, SETTINGS)
    assert failed(gates) == ["auc", "predicted"]
    unchecked = [g["unchecked"] for g in gates if "unchecked" in g]
    assert "production" in unchecked[0] and "100 customers" in unchecked[1]


def test_models_judged_on_different_labels_skip_auc_and_ks_but_not_calibration() -> None:
    production = model(auc=0.90, ks=0.60, calibration_by_band=GOOD_BANDS)
    candidate = model(
        label="probability", auc=0.70, ks=0.30, calibration_by_band=[band(5_000, 0.1, 0.3)]
    )
    gates = promotion.quality_gates(candidate, production, SETTINGS)
    assert any("skipped" in g for g in gates)
    assert failed(gates) == ["predicted"]


@pytest.mark.parametrize(
    ("customers", "gap", "passes"),
    [
        (100, 0.06, True),  # 100 customers at 30 %: ±0.09 is noise, 0.06 says nothing
        (100, 0.20, False),  # beyond noise and tolerance
        (100_000, 0.06, False),  # the same gap on a large band is real miscalibration
        (100_000, 0.04, True),  # within the tolerance (0.05)
    ],
)
def test_calibration_allows_for_the_sampling_noise_of_the_band(
    customers: int, gap: float, passes: bool
) -> None:
    candidate = model(calibration_by_band=[band(customers, 0.30, 0.30 + gap)])
    (gate,) = promotion.quality_gates(candidate, None, SETTINGS)
    assert gate["passed"] is passes


@pytest.fixture
def registered(engine: Engine, settings: Settings, client_id: int) -> Settings:
    del client_id  # the default models are in production
    return settings


def test_metrics_of_another_model_are_refused(
    engine: Engine, registered: Settings, default_models: dict[str, Path], tmp_path: Path
) -> None:
    artifact = ModelArtifact.load(default_models["CARTAO"])
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps({**artifact.metrics, "auc": 0.99, "input": "x.csv"}))
    with session_scope(engine) as session, pytest.raises(InvalidInput, match="another model"):
        promotion.register_file(
            session, default_models["CARTAO"], name="x", settings=registered, metrics_path=metrics
        )
    metrics.write_text(json.dumps({**artifact.metrics, "input": "x.csv"}))
    with session_scope(engine) as session:
        record = promotion.register_file(
            session, default_models["CARTAO"], name="x", settings=registered, metrics_path=metrics
        )
        assert json.loads(record.metrics or "")["input"] == "x.csv"


def test_one_name_belongs_to_one_product(
    engine: Engine, registered: Settings, default_models: dict[str, Path]
) -> None:
    with session_scope(engine) as session:
        promotion.register_file(
            session, default_models["CARTAO"], name="fa", settings=registered, metrics_path=None
        )
        with pytest.raises(InvalidInput, match="is a CARTAO model"):
            promotion.register_file(
                session,
                default_models["EMPRESTIMO"],
                name="fa",
                settings=registered,
                metrics_path=None,
            )


def test_a_model_whose_file_is_gone_is_never_put_in_production(
    engine: Engine, registered: Settings, default_models: dict[str, Path], tmp_path: Path
) -> None:
    artifact = ModelArtifact.load(default_models["CARTAO"])
    source = tmp_path / "m.json"
    dataclasses.replace(artifact, metrics={}).save(source)
    with session_scope(engine) as session:
        record = promotion.register_file(
            session, source, name="fa", settings=registered, metrics_path=None
        )
        Path(record.artifact_path).unlink()
    with session_scope(engine) as session, pytest.raises(Conflict) as refused:
        promotion.promote(session, registered, product="CARTAO", model_name="fa",
                          reason="test", user_id=None, force=True)  # fmt: skip
    assert "missing" in refused.value.message and str(tmp_path) not in refused.value.message
    with session_scope(engine) as session:
        assert registry.production_models(session)["CARTAO"].name != "fa"


def test_rollback_refuses_a_previous_model_whose_file_is_gone(
    engine: Engine, registered: Settings, default_models: dict[str, Path]
) -> None:
    with session_scope(engine) as session:
        before = registry.production_models(session)["CARTAO"]
        promotion.register_file(
            session, default_models["CARTAO"], name="fa", settings=registered, metrics_path=None
        )
        promotion.promote(session, registered, product="CARTAO", model_name="fa",
                          reason="test", user_id=None, force=True)  # fmt: skip
    registry.load(before)  # cached in this process: the check must still read the disk
    Path(before.artifact_path).unlink()
    with session_scope(engine) as session, pytest.raises(Conflict, match="missing"):
        promotion.rollback(session, product="CARTAO", reason="test", user_id=None)
    with session_scope(engine) as session:
        assert registry.production_models(session)["CARTAO"].name == "fa"
        assert [c.action for c in promotion.history(session, "CARTAO")] == ["promote"]


def test_only_the_card_of_the_registered_model_is_kept(
    engine: Engine, registered: Settings, default_models: dict[str, Path], tmp_path: Path
) -> None:
    model = tmp_path / "new_model.pkl"
    shutil.copyfile(default_models["CARTAO"], model)
    card = tmp_path / CARD_FILE

    def card_for(sha256: str) -> None:
        card.write_text(f'<html><head><meta name="credguard-model-sha256" content="{sha256}">')

    card_for("0" * 64)  # another model's, trained into the same folder
    with session_scope(engine) as session:
        other = promotion.register_file(
            session, model, name="fa", settings=registered, metrics_path=None
        )
        assert not registry.card_path(Path(other.artifact_path)).exists()
        card_for(registry.file_sha256(model))
        mine = promotion.register_file(
            session, model, name="fa", settings=registered, metrics_path=None
        )
        assert registry.card_path(Path(mine.artifact_path)).read_text() == card.read_text()
