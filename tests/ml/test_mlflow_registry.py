"""The MLflow mirror: models, runs, artifacts and the ``production`` alias follow CredGuard.

The embedded store is a real MLflow SQLite store (migrated once, copied per test); servers that
refuse or never answer are real sockets. A real ``mlflow server`` on loopback is exercised by the
runbook's section 5.2 test (tests/api/test_models_api.py). Nothing is mocked.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, update

from credguard.config import Settings
from credguard.db.engine import session_scope
from credguard.ml import mlflow_registry, promotion, registry
from credguard.ml.artifact import ModelArtifact
from credguard.ml.tables import ModelRecord
from tests import factories
from tests.conftest import embedded_mlflow


@pytest.fixture(scope="module")
def candidate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CARTAO model trained by `models train`, with metrics.json and its card beside it."""
    return factories.trained_candidate(tmp_path_factory.mktemp("candidate"), seed=5)


@pytest.fixture
def mirrored(settings: Settings, mlflow_template: Path) -> Settings:
    return embedded_mlflow(settings, mlflow_template)


LOCAL_HOSTS = ("127.0.0.1", "::1", "localhost", None)


@pytest.fixture
def outside_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Every name lookup or connection this process attempts beyond loopback (refused)."""
    attempts: list[Any] = []
    connect, lookup = socket.socket.connect, socket.getaddrinfo

    def guarded_connect(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in LOCAL_HOSTS:
            attempts.append(address)
            raise OSError("test: no network beyond loopback")
        return connect(self, address)

    def guarded_lookup(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in LOCAL_HOSTS:
            attempts.append(host)
            raise socket.gaierror("test: no network beyond loopback")
        return lookup(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_lookup)
    yield attempts


#: Run in a fresh interpreter where MLflow was never imported and the operator set nothing:
#: with MLFLOW_DISABLE_TELEMETRY unset, MLflow looks up config.mlflow-telemetry.io on import.
NO_TELEMETRY_SCRIPT = """
import socket, sys, time
seen = []
lookup = socket.getaddrinfo
def guarded(host, *args, **kwargs):
    if host not in ("127.0.0.1", "::1", "localhost", None):
        seen.append(host)
        raise socket.gaierror("blocked")
    return lookup(host, *args, **kwargs)
socket.getaddrinfo = guarded
from credguard.ml import mlflow_registry
where = mlflow_registry.Location("sqlite:///" + sys.argv[1], None)
mlflow_registry.client(where).create_registered_model("probe")
time.sleep(2)  # telemetry runs in a background thread
print(seen)
"""


def test_mlflow_telemetry_is_off_unless_the_operator_turns_it_on(
    tmp_path: Path, mlflow_template: Path
) -> None:
    # MLflow also stays quiet when it sees a test or CI run (PYTEST_CURRENT_TEST, CI …):
    # without those, this is a person's shell on a deployed machine.
    quiet_markers = ("PYTEST_", "CI", "GITHUB_", "GITLAB_", "JENKINS_", "BUILDKITE", "TF_BUILD")
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", *quiet_markers))
    }
    shutil.copyfile(mlflow_template, tmp_path / "probe.db")
    result = subprocess.run(
        [sys.executable, "-c", NO_TELEMETRY_SCRIPT, str(tmp_path / "probe.db")],
        env=environment, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"


def register(engine: Engine, settings: Settings, path: Path, name: str) -> ModelRecord:
    with session_scope(engine) as session:
        record = promotion.register_file(
            session, path, name=name, settings=settings, metrics_path=path.parent / "metrics.json"
        )
        session.expunge(record)
        return record


def records(engine: Engine) -> dict[str, ModelRecord]:
    with session_scope(engine) as session:
        found = {r.name: r for r in session.query(ModelRecord)}
        session.expunge_all()
        return found


def production_alias(settings: Settings, name: str) -> int | None:
    where = mlflow_registry.location(settings)
    assert where is not None
    aliases = mlflow_registry.client(where).get_registered_model(name).aliases
    version = aliases.get(mlflow_registry.PRODUCTION_ALIAS)
    return None if version is None else int(version)


def test_sync_mirrors_models_runs_artifacts_and_the_production_alias(
    engine: Engine,
    mirrored: Settings,
    client_id: int,
    candidate: Path,
    tmp_path: Path,
    outside_calls: list[Any],
) -> None:
    del client_id  # the default models are in production, not yet in MLflow
    first = mlflow_registry.sync(engine, mirrored)
    assert first is not None and first.ok, first
    defaults = records(engine)
    assert len(first.registered) == 3 and len(first.aliases) == 3
    for record in defaults.values():
        assert record.mlflow_version == 1 and record.mlflow_run_id
        assert production_alias(mirrored, record.name) == 1

    fa = register(engine, mirrored, candidate, "fa_12_v2")
    second = mlflow_registry.sync(engine, mirrored)
    assert second is not None and second.registered == ["registered fa_12_v2 v1 as version 1"]
    fa = records(engine)["fa_12_v2"]
    where = mlflow_registry.location(mirrored)
    assert where is not None and where.tracking_uri.endswith("/data/mlflow/mlflow.db")
    mlflow = mlflow_registry.client(where)
    version = mlflow.get_model_version("fa_12_v2", "1")
    assert version.tags[mlflow_registry.PRODUCT_TAG] == "CARTAO"
    assert version.tags[mlflow_registry.MODEL_ID_TAG] == str(fa.id)
    assert version.tags[mlflow_registry.SHA256_TAG] == fa.sha256
    run = mlflow.get_run(version.run_id)
    figures = ModelArtifact.load(fa.artifact_path).metrics
    assert run.data.metrics["auc"] == pytest.approx(figures["auc"])
    assert run.data.params["learning_rate"] == "0.08"
    assert run.data.tags[mlflow_registry.PRODUCT_TAG] == "CARTAO"
    listed = {item.path for item in mlflow.list_artifacts(version.run_id)}
    assert {"model", "metrics.json", "reference.json", "model_card.html"} <= listed
    # What MLflow serves back is the registered model, byte for byte.
    downloaded = Path(mlflow.download_artifacts(version.run_id, "model", str(tmp_path)))
    (copy,) = downloaded.iterdir()
    assert registry.file_sha256(copy) == fa.sha256
    assert "Model card" in (Path(mlflow.download_artifacts(version.run_id, "model_card.html",
                                                           str(tmp_path)))).read_text()  # fmt: skip

    # Promotion moves the alias to the new model and off the old one; rollback moves it back.
    old_name = next(r.name for r in defaults.values() if r.product == "CARTAO")
    with session_scope(engine) as session:
        promotion.promote(session, mirrored, product="CARTAO", model_name="fa_12_v2",
                          reason="test", user_id=None, force=True)  # fmt: skip
    moved = mlflow_registry.sync(engine, mirrored)
    assert moved is not None and moved.registered == [] and len(moved.aliases) == 2
    assert production_alias(mirrored, "fa_12_v2") == 1
    assert production_alias(mirrored, old_name) is None
    with session_scope(engine) as session:
        promotion.rollback(session, product="CARTAO", reason="test", user_id=None)
    assert mlflow_registry.sync(engine, mirrored) is not None
    assert production_alias(mirrored, "fa_12_v2") is None
    assert production_alias(mirrored, old_name) == 1

    again = mlflow_registry.sync(engine, mirrored)
    assert again is not None and again.summary().endswith("up to date")
    assert len(mlflow.search_model_versions("name = 'fa_12_v2'")) == 1
    assert outside_calls == [], "the embedded mirror must not reach the network"


def test_an_interrupted_sync_resumes_without_registering_twice(
    engine: Engine, mirrored: Settings, client_id: int
) -> None:
    del client_id
    assert (report := mlflow_registry.sync(engine, mirrored)) is not None and report.ok
    # As if the process died after MLflow created the version but before CredGuard noted it.
    with session_scope(engine) as session:
        session.execute(update(ModelRecord).values(mlflow_version=None))
    resumed = mlflow_registry.sync(engine, mirrored)
    assert resumed is not None and resumed.ok
    where = mlflow_registry.location(mirrored)
    assert where is not None
    mlflow = mlflow_registry.client(where)
    for record in records(engine).values():
        assert record.mlflow_version == 1
        assert len(mlflow.search_model_versions(f"name = '{record.name}'")) == 1


def test_an_unreachable_tracking_server_is_reported_not_raised(
    engine: Engine, settings: Settings, client_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    del client_id
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens there once the probe is closed
    down = settings.model_copy(update={"mlflow_tracking_uri": f"http://127.0.0.1:{port}"})
    report = mlflow_registry.sync(engine, down)
    assert report is not None and not report.ok
    assert "credguard models sync-mlflow" in report.summary()
    assert all(r.mlflow_version is None for r in records(engine).values())


def test_off_mirrors_nothing(engine: Engine, settings: Settings, client_id: int) -> None:
    del client_id
    assert settings.mlflow_tracking_uri == "off"
    assert mlflow_registry.sync(engine, settings) is None
    assert not (settings.data_dir / "mlflow").exists()


def test_a_run_left_half_logged_is_replaced_by_a_complete_one(
    engine: Engine, mirrored: Settings, client_id: int
) -> None:
    del client_id
    where = mlflow_registry.location(mirrored)
    assert where is not None
    mlflow = mlflow_registry.client(where)
    experiment = mlflow.create_experiment(
        "credguard-models", artifact_location=where.artifact_location
    )
    # As if a sync died while uploading: a run noted in CredGuard, nothing logged, still running.
    broken = mlflow.create_run(experiment).info.run_id
    with session_scope(engine) as session:
        session.execute(update(ModelRecord).values(mlflow_run_id=broken))
    report = mlflow_registry.sync(engine, mirrored)
    assert report is not None and report.ok, report
    assert mlflow.get_run(broken).info.status == "FAILED"
    for record in records(engine).values():
        assert record.mlflow_run_id != broken
        version = mlflow.get_model_version(record.name, str(record.mlflow_version))
        assert mlflow.get_run(version.run_id).info.status == "FINISHED"
        assert "model" in {item.path for item in mlflow.list_artifacts(version.run_id)}


def test_a_model_that_cannot_be_mirrored_does_not_hold_back_the_others(
    engine: Engine, mirrored: Settings, client_id: int
) -> None:
    del client_id
    cartao = next(r for r in records(engine).values() if r.product == "CARTAO")
    Path(cartao.artifact_path).unlink()
    report = mlflow_registry.sync(engine, mirrored)
    assert report is not None and not report.ok
    assert report.error is not None and f"model id {cartao.id}" in report.error
    assert len(report.registered) == 2 and len(report.aliases) == 2
    mirrored_now = records(engine)
    assert mirrored_now[cartao.name].mlflow_version is None
    assert all(r.mlflow_version == 1 for r in mirrored_now.values() if r.id != cartao.id)


def test_a_hung_tracking_server_does_not_hold_the_answer(
    engine: Engine, settings: Settings, client_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that takes the connection and never answers: the answer comes on time."""
    del client_id
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "3")
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        hung = settings.model_copy(
            update={"mlflow_tracking_uri": f"http://127.0.0.1:{silent.getsockname()[1]}"}
        )
        started = time.monotonic()
        said = mlflow_registry.sync_within(engine, hung, 0.5)
        assert time.monotonic() - started < 2.5
        assert said is not None and "in the background" in said
        # The background attempt ends (it times out) while the socket still exists.
        mlflow_registry._background.submit(lambda: None).result(timeout=60)


def test_tracking_uris_are_shown_without_their_password() -> None:
    assert (
        mlflow_registry.redacted("https://ops:s3cret@mlflow.example.com:8443/x")
        == "https://ops:***@mlflow.example.com:8443/x"
    )
    assert mlflow_registry.redacted("http://127.0.0.1:5000") == "http://127.0.0.1:5000"


def test_changes_made_while_a_sync_waits_its_turn_share_it(
    engine: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An outage: N promotions queue one sync behind the one running, not N."""
    calls: list[str] = []
    monkeypatch.setattr(mlflow_registry, "sync", lambda *_: calls.append("sync"))
    busy = threading.Event()
    release = threading.Event()

    def running_sync() -> None:  # the sync MLflow keeps waiting
        busy.set()
        release.wait(30)

    mirrored = settings.model_copy(update={"mlflow_tracking_uri": "http://127.0.0.1:9"})
    first = mlflow_registry._background.submit(running_sync)
    assert busy.wait(30)
    try:
        for _ in range(3):
            said = mlflow_registry.sync_within(engine, mirrored, 0.05)
            assert said is not None and "in the background" in said
    finally:
        release.set()
    first.result(timeout=30)
    mlflow_registry._background.submit(lambda: None).result(timeout=30)  # the queue drained
    assert calls == ["sync"]
    # Once that one has run, a new change queues a new sync.
    assert mlflow_registry.sync_within(engine, mirrored, 30) is None
    assert calls == ["sync", "sync"]
