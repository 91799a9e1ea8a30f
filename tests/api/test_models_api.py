"""Promotion and rollback over HTTP: permissions, quality gates, races, history, and use."""

from __future__ import annotations

import dataclasses
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import polars as pl
import pytest
from sqlalchemy import Engine

from credguard.config import Settings
from credguard.customers.contract import REQUIRED_COLUMNS
from credguard.db.base import utcnow
from credguard.db.engine import session_scope
from credguard.ml import mlflow_registry, promotion
from credguard.ml.artifact import ModelArtifact
from credguard.synth import generator
from tests import factories
from tests.api.conftest import People, running_server


@pytest.fixture(scope="module")
def candidate_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CARTAO model trained by `models train`, with metrics.json and its card beside it."""
    return factories.trained_candidate(tmp_path_factory.mktemp("candidate"), seed=12)


def register(engine: Engine, settings: Settings, path: Path, name: str, **metrics: float) -> None:
    """Register the candidate under ``name``, its hold-out figures replaced by ``metrics``."""
    artifact = ModelArtifact.load(path)
    variant = path.parent / name / path.name
    variant.parent.mkdir(exist_ok=True)
    dataclasses.replace(artifact, metrics={**artifact.metrics, **metrics}).save(variant)
    with session_scope(engine) as session:
        promotion.register_file(session, variant, name=name, settings=settings, metrics_path=None)


def promote(http: httpx.Client, headers: dict[str, str], **body: object) -> httpx.Response:
    return http.post("/api/v1/models/promote", json=body, headers=headers)


def test_only_admins_promote_and_every_change_is_kept(
    http: httpx.Client, people: People, engine: Engine, settings: Settings, candidate_file: Path
) -> None:
    register(engine, settings, candidate_file, "fa_12_v2", auc=0.99, ks=0.9)
    body = {"modelName": "fa_12_v2", "product": "CARTAO", "reason": "Drift detectado - PSI 0.28"}
    assert promote(http, {}, **body).status_code == 401
    for who in (people.analyst, people.operator):
        assert promote(http, who.headers, **body).status_code == 403
    assert promote(http, people.admin.headers, **{**body, "modelName": "nope"}).status_code == 404
    wrong = promote(http, people.admin.headers, **{**body, "product": "EMPRESTIMO"})
    assert wrong.status_code == 422 and "scores CARTAO" in wrong.json()["detail"]

    done = promote(http, people.admin.headers, **body)
    assert done.status_code == 200, done.text
    change = done.json()
    assert change["toModel"] == "fa_12_v2 v1" and change["fromModel"] == "cartao_base v1"
    assert change["reason"] == body["reason"] and change["forced"] is False
    again = promote(http, people.admin.headers, **body)
    assert again.status_code == 409

    # New online requests use it at once.
    customer = generator.generate(
        1, seed=5, products=["CARTAO"], reference_date=utcnow().date(), dirty_share=0.0
    ).select(REQUIRED_COLUMNS)
    scored = http.post(
        "/api/v1/scores", json={"customers": customer.to_dicts()}, headers=people.analyst.headers
    ).json()
    assert scored["results"][0]["modelName"] == "fa_12_v2"

    back = http.post(
        "/api/v1/models/rollback",
        json={"product": "CARTAO", "reason": "complaints from the client"},
        headers=people.admin.headers,
    )
    assert back.status_code == 200 and back.json()["toModel"] == "cartao_base v1"
    assert (
        http.post(
            "/api/v1/models/rollback",
            json={"product": "CARTAO", "reason": "twice"},
            headers=people.admin.headers,
        ).status_code
        == 409
    )
    listed = http.get("/api/v1/models", headers=people.operator.headers).json()
    cartao = next(p for p in listed if p["product"] == "CARTAO")
    assert cartao["production"]["name"] == "cartao_base"
    assert [c["action"] for c in cartao["history"]] == ["rollback", "promote"]
    assert http.get("/api/v1/models", headers=people.analyst.headers).status_code == 403


def test_a_worse_model_is_refused_unless_forced(
    http: httpx.Client, people: People, engine: Engine, settings: Settings, candidate_file: Path
) -> None:
    register(engine, settings, candidate_file, "worse", auc=0.55)
    body = {"modelName": "worse", "product": "CARTAO", "reason": "trying a weaker model"}
    refused = promote(http, people.admin.headers, **body)
    assert refused.status_code == 422
    assert "auc" in refused.json()["detail"] and "force" in refused.json()["detail"]
    forced = promote(http, people.admin.headers, **body, force=True)
    assert forced.status_code == 200 and forced.json()["forced"] is True
    failed_gate = [g for g in forced.json()["gates"] if not g["passed"]]
    assert failed_gate and failed_gate[0]["candidate"] == 0.55


def test_a_promotion_lands_when_mlflow_is_down_and_says_so(
    people: People,
    engine: Engine,
    settings: Settings,
    client_id: int,
    candidate_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An MLflow outage must not block a promotion (or an emergency rollback)."""
    del client_id
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        down = f"http://127.0.0.1:{probe.getsockname()[1]}"  # nothing listens once closed
    register(engine, settings, candidate_file, "fa_12_v2", auc=0.99, ks=0.9)
    served = settings.model_copy(update={"mlflow_tracking_uri": down})
    where = mlflow_registry.location(served)
    assert where is not None
    mlflow_registry.client(where)  # import MLflow now: its seconds are not the API's wait
    with (
        running_server(served, worker=False) as url,
        httpx.Client(base_url=url, timeout=60) as http,
    ):
        body = {"product": "CARTAO", "reason": "MLflow is down"}
        promoted = promote(http, people.admin.headers, modelName="fa_12_v2", **body)
        rolled_back = http.post("/api/v1/models/rollback", json=body, headers=people.admin.headers)
    for answer in (promoted, rolled_back):
        assert answer.status_code == 200, answer.text
        assert "not updated" in answer.json()["mlflow"]
        assert "credguard models sync-mlflow" in answer.json()["mlflow"]
    with session_scope(engine) as session:
        assert promotion.registry.production_models(session)["CARTAO"].name == "cartao_base"
        assert [c.action for c in promotion.history(session, "CARTAO")] == ["rollback", "promote"]


def test_concurrent_promotions_exactly_one_wins(
    engine: Engine,
    settings: Settings,
    client_id: int,
    candidate_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Promotions that all saw the same production model: one switches it, the others get 409."""
    del client_id  # the default models in production
    names = ("race_a", "race_b", "race_c", "race_d")
    for name in names:
        register(engine, settings, candidate_file, name, auc=0.99, ks=0.9)
    everyone_read = threading.Barrier(len(names), timeout=30)
    gates = promotion.quality_gates

    def gates_after_everyone_read(*args: object) -> list[dict[str, object]]:
        everyone_read.wait()  # each has read the production model; now all try to switch
        return gates(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(promotion, "quality_gates", gates_after_everyone_read)

    def attempt(name: str) -> str:
        try:
            with session_scope(engine) as session:
                promotion.promote(
                    session,
                    settings,
                    product="CARTAO",
                    model_name=name,
                    reason="race",
                    user_id=None,
                )
        except promotion.PromotionConflict:
            return "409"
        return name

    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        outcomes = list(pool.map(attempt, names))
    winners = [o for o in outcomes if o != "409"]
    assert len(winners) == 1, outcomes
    with session_scope(engine) as session:
        assert promotion.registry.production_models(session)["CARTAO"].name == winners[0]
        assert [c.action for c in promotion.history(session, "CARTAO")] == ["promote"]


@pytest.mark.mariadb
@pytest.mark.parametrize("engine", ["mariadb"], indirect=True)
def test_runbook_section_5_2_literally(
    people: People,
    engine: Engine,
    settings: Settings,
    client_id: int,
    tmp_path: Path,
    mlflow_server: str,
) -> None:
    """Export (mysql -e), train, register (system python3 scripts), promote (the curl body).

    MLflow is a real ``mlflow server`` on loopback, as in production.
    """
    from tests.db.test_runbook_sql import export_training_data, run_runbook_script

    path = factories.write_file(
        factories.make_customers(9_000, seed=31, dirty_share=0.0).drop("motivo_esperado"),
        tmp_path / "c.csv",
    )
    factories.process(engine, settings, factories.submit(engine, settings, path, client_id))
    export = export_training_data(engine, tmp_path / "training_data.csv")
    settings_env = {
        "CREDGUARD_DATA_DIR": str(settings.data_dir),
        "CREDGUARD_DATABASE_URL": settings.resolved_database_url,
        "CREDGUARD_PRODUCTS": ",".join(settings.products),
        "CREDGUARD_MLFLOW_TRACKING_URI": mlflow_server,
    }
    for script, *args in (
        ("train_model.py", "--input", str(export), "--output", str(tmp_path / "new_model.pkl"),
         "--product", "CARTAO"),
        ("register_model.py", "--model", str(tmp_path / "new_model.pkl"), "--name", "fa_12_v2",
         "--metrics", str(tmp_path / "metrics.json")),
    ):  # fmt: skip
        result = run_runbook_script(script, *args, settings=settings_env)
        assert result.returncode == 0, (script, result.stderr)
    assert f"MLflow ({mlflow_server}): registered" in " ".join(result.stdout.split())
    # "Validar no MLflow": the model is there, with its figures and card, not yet in production.
    where = mlflow_registry.location(
        settings.model_copy(update={"mlflow_tracking_uri": mlflow_server})
    )
    assert where is not None
    mlflow = mlflow_registry.client(where)
    version = mlflow.get_model_version("fa_12_v2", "1")
    assert version.tags["product"] == "CARTAO" and version.aliases == []
    run = mlflow.get_run(version.run_id)
    assert 0.5 < run.data.metrics["auc"] <= 1
    assert "model_card.html" in {item.path for item in mlflow.list_artifacts(version.run_id)}

    served = settings.model_copy(update={"mlflow_tracking_uri": mlflow_server})
    with (
        running_server(served, worker=False) as url,
        httpx.Client(base_url=url, timeout=60) as http,
    ):
        answer = promote(
            http,
            people.admin.headers,
            modelName="fa_12_v2",
            product="CARTAO",
            reason="Drift detectado - PSI 0.28",
        )
    assert answer.status_code == 200, answer.text
    skipped = [g for g in answer.json()["gates"] if "skipped" in g]
    assert skipped, "probability-trained vs outcome-trained figures are not compared"
    assert "alias production → fa_12_v2 version 1" in answer.json()["mlflow"]
    assert mlflow.get_model_version_by_alias("fa_12_v2", "production").version == "1"
    new_job = factories.process(
        engine, settings, factories.submit(engine, settings, path, client_id)
    )
    stored = factories.stored_rows(engine, new_job.id)  # a job started after the promotion
    cartao = stored.filter(pl.col("produto") == "CARTAO")
    assert cartao.height > 0 and set(cartao["modelName"].drop_nulls()) == {"fa_12_v2"}
