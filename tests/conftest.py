"""Shared fixtures: a migrated database on SQLite *and* the real MariaDB, settings, models.

Every test that takes ``engine`` runs twice, once per engine. MariaDB gets one fresh database per
test run (built by the migrations) and is emptied after each test; SQLite gets a copy of a
migrated template per test. Batch processing commits through several connections, so tests
clean up by deleting rows rather than rolling back one transaction.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from credguard.config import Settings
from credguard.db import engine as db_engine
from credguard.db import migrate
from credguard.db.base import utcnow
from credguard.db.tables import Base
from credguard.ml.artifact import ModelArtifact

MARIADB_SERVER_URL = os.environ.get(
    "CREDGUARD_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306"
)
PRODUCTS = ["CARTAO", "EMPRESTIMO", "CREDIARIO"]
ENGINES = ["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "credguard.db"
    engine = db_engine.create(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def mariadb_url() -> Iterator[str]:
    name = f"credguard_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    server = create_engine(MARIADB_SERVER_URL)
    with server.begin() as connection:
        connection.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    url = make_url(MARIADB_SERVER_URL).set(database=name).render_as_string(hide_password=False)
    engine = db_engine.create(url)
    migrate.upgrade(engine)
    engine.dispose()
    yield url
    with server.begin() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
    server.dispose()


def _empty_tables(engine: Engine) -> None:
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        path = tmp_path / "credguard.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        created = db_engine.create(f"sqlite:///{path}")
        yield created
        created.dispose()
        return
    yield from mariadb_engine(request.getfixturevalue("mariadb_url"))


def mariadb_engine(url: str) -> Iterator[Engine]:
    """An engine on the run's MariaDB database, emptied before and after the test."""
    created = db_engine.create(url)
    _empty_tables(created)
    yield created
    _empty_tables(created)
    created.dispose()


def database_url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


@pytest.fixture
def settings(engine: Engine, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url(engine),
        products=PRODUCTS,
        chunk_size=1_000,
        lease_timeout_seconds=2.0,
        poll_interval_seconds=0.1,
        training_rows=4_000,
        mlflow_tracking_uri="off",  # tests/ml/test_mlflow_registry.py and the runbook test mirror
        drift_schedule=False,  # no background drift runs in servers; tests/drift turns it on
    )


@pytest.fixture(scope="session")
def default_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One small trained model per product, trained once per test run."""
    from credguard.ml import training

    folder = tmp_path_factory.mktemp("models")
    paths = {}
    artifacts = training.train_default_models(
        PRODUCTS, rows_per_product=6_000, seed=100, reference_date=utcnow().date(), threads=2
    )
    for product, artifact in zip(PRODUCTS, artifacts, strict=True):
        paths[product] = folder / f"{product}.json"
        artifact.save(paths[product])
    return paths


@pytest.fixture
def client_id(engine: Engine, settings: Settings, default_models: dict[str, Path]) -> int:
    """A ready platform: the default models in production and a client; the client's id."""
    from credguard.accounts import service as accounts
    from credguard.db.engine import session_scope
    from credguard.ml import registry

    with session_scope(engine) as session:
        for product, path in default_models.items():
            record = registry.register(session, ModelArtifact.load(path), settings.models_dir)
            registry.set_production(session, product, record)
        return accounts.create_client(session, "Loja Teste", support_plan=True).id


@pytest.fixture(scope="session")
def mlflow_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MLflow SQLite tracking store, migrated once (seconds) and copied by each test."""
    from credguard.ml import mlflow_registry

    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    client = mlflow_registry.client(mlflow_registry.Location(f"sqlite:///{path}", None))
    client.search_experiments()  # creates and migrates the store
    return path


def embedded_mlflow(settings: Settings, template: Path) -> Settings:
    """``settings`` with the embedded MLflow mirror, its store copied from ``template``."""
    store = settings.data_dir / "mlflow" / "mlflow.db"
    store.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, store)
    return settings.model_copy(update={"mlflow_tracking_uri": "embedded"})


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory, mlflow_template: Path) -> Iterator[str]:
    """A real ``mlflow server`` on loopback (SQLite store, served artifacts); its URL."""
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    folder = tmp_path_factory.mktemp("mlflow-server")
    shutil.copyfile(mlflow_template, folder / "mlflow.db")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1", "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
         "--artifacts-destination", str(folder / "artifacts")],
        env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"},
        stdout=subprocess.DEVNULL,
        stderr=(folder / "server.log").open("wb"),
    )  # fmt: skip
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                if answer.status == 200:
                    break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError((folder / "server.log").read_text()[-2000:])
        time.sleep(0.25)
    yield url
    process.terminate()
    process.wait(timeout=30)
