"""The MLflow mirror of CredGuard's model registry. The only module that imports MLflow.

CredGuard's database is the registry of record: which models exist, which one scores each
product, and who changed that, when and why (MLflow keeps no history of alias moves). MLflow
holds a mirror for the people and tools that read MLflow:

- one registered model per CredGuard model name, one model version per CredGuard version, tagged
  with the product and CredGuard's model id and checksum;
- behind each version, a run with the LightGBM parameters, the hold-out figures as metrics, and
  as artifacts the model file (``model/``), ``metrics.json``, ``reference.json`` (the score and
  feature bins drift monitoring compares against) and the model card when there is one;
- the alias ``production`` on the version that scores its product now (aliases, not the stages
  MLflow deprecated in 2.9). A registered model belongs to one product, so one alias suffices:
  ``models:/fa_12_v2@production``.

Mirroring is a reconciliation (:func:`sync`): register what MLflow lacks, then move the aliases
to match CredGuard. It is idempotent, one process at a time (:func:`named_lock`), and runs after
every registration, promotion and rollback, and on ``credguard models sync-mlflow``. An MLflow
outage therefore never blocks a promotion or an emergency rollback: the change lands, the answer
says the mirror lags, and the next sync catches up. The API waits at most
:data:`API_WAIT_SECONDS` for it; a slower MLflow is brought up to date in the background. A version already created for a CredGuard
model (found by its tags) is reused, so a sync interrupted half-way does not register it twice.

Where: ``CREDGUARD_MLFLOW_TRACKING_URI``. ``embedded`` (the default) is a SQLite store and an
artifact folder under ``data_dir/mlflow``, so nothing else needs to run; a URL (``http://…``)
is a tracking server, which stores the artifacts itself; ``off`` mirrors nothing.

MLflow's telemetry is switched off (``MLFLOW_DISABLE_TELEMETRY``) before it is imported, unless
the operator set that variable: with the embedded store nothing leaves the machine. Importing
MLflow takes seconds, so only the commands that mirror import this module's client.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import structlog
from sqlalchemy import Engine, select

from credguard.config import Settings
from credguard.db.engine import named_lock, session_scope
from credguard.ml.artifact import ModelArtifact
from credguard.ml.registry import card_path
from credguard.ml.tables import ModelRecord, ProductionModel

if TYPE_CHECKING:
    from mlflow import MlflowClient

log = structlog.get_logger(__name__)

PRODUCTION_ALIAS = "production"
EXPERIMENT = "credguard-models"
MODEL_ID_TAG = "credguard.model_id"
SHA256_TAG = "credguard.sha256"
PRODUCT_TAG = "product"
_LOCK = "credguard-mlflow-sync"
_HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "20",
}


@dataclass(frozen=True)
class Location:
    """Where the mirror lives."""

    tracking_uri: str
    artifact_location: str | None  # None: the tracking server decides

    @property
    def embedded(self) -> bool:
        return self.tracking_uri.startswith("sqlite:")


def location(settings: Settings) -> Location | None:
    """The configured mirror, or None when it is ``off``."""
    value = settings.mlflow_tracking_uri.strip()
    if value.lower() == "off":
        return None
    if value.lower() in ("", "embedded"):
        folder = (settings.data_dir / "mlflow").resolve()
        return Location(f"sqlite:///{folder / 'mlflow.db'}", (folder / "artifacts").as_uri())
    return Location(value, None)


@dataclass
class SyncReport:
    """What a :func:`sync` did, in words for the person who asked."""

    tracking_uri: str
    registered: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def summary(self) -> str:
        if self.error is not None:
            return (
                f"MLflow ({self.tracking_uri}) not updated: {self.error}. CredGuard's own registry"
                " is up to date; run `credguard models sync-mlflow` once MLflow is reachable"
            )
        done = self.registered + self.aliases
        return f"MLflow ({self.tracking_uri}): " + ("; ".join(done) if done else "up to date")


def client(where: Location) -> MlflowClient:
    """An MLflow client of ``where``, telemetry off (imports MLflow: seconds, the first time)."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    # A tracking server that is down must not hold a promotion for minutes (MLflow's defaults:
    # 7 retries with growing back-off and a 120 s timeout per request).
    for variable, value in _HTTP_DEFAULTS.items():
        os.environ.setdefault(variable, value)
    import logging

    from mlflow import MlflowClient

    logging.getLogger("mlflow").setLevel(logging.WARNING)  # its store's migrations chatter
    if where.embedded:
        Path(where.tracking_uri.removeprefix("sqlite:///")).parent.mkdir(
            parents=True, exist_ok=True
        )
    return MlflowClient(tracking_uri=where.tracking_uri, registry_uri=where.tracking_uri)


def sync(engine: Engine, settings: Settings) -> SyncReport | None:
    """Make MLflow mirror CredGuard's registry; None when the mirror is off. Never raises.

    A model that cannot be mirrored (its file gone, MLflow refusing it) is reported and the
    others still are; the aliases are aligned whatever happened to the registrations.
    """
    where = location(settings)
    if where is None:
        return None
    report = SyncReport(redacted(where.tracking_uri))
    problems: list[str] = []
    try:
        with named_lock(engine, _LOCK):
            mlflow = client(where)
            experiment_id = _experiment(mlflow, where)
            with session_scope(engine) as session:
                pending = list(
                    session.scalars(
                        select(ModelRecord.id)
                        .where(ModelRecord.mlflow_version.is_(None))
                        .order_by(ModelRecord.id)
                    )
                )
            for model_id in pending:
                try:
                    report.registered.append(_mirror(engine, mlflow, experiment_id, model_id))
                except Exception as exc:  # this model lags; the others and the aliases go on
                    log.warning("mlflow mirror of a model failed", model_id=model_id, exc_info=True)
                    problems.append(f"model id {model_id}: {_describe(exc)}")
            report.aliases.extend(_align_aliases(engine, mlflow))
    except Exception as exc:  # MLflow or the network failed: the mirror lags, no more
        log.warning("mlflow mirror failed", tracking_uri=report.tracking_uri, exc_info=True)
        problems.append(_describe(exc))
    if problems:
        report.error = "; ".join(problems)
    return report


#: How long an API promotion waits for the mirror before answering that it goes on behind.
API_WAIT_SECONDS = 10.0
_background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="credguard-mlflow")
#: The latest sync submitted per (database, tracking URI), and the lock guarding the choice.
_queued: dict[tuple[str, str], Future[SyncReport | None]] = {}
_queued_lock = threading.Lock()


def sync_within(engine: Engine, settings: Settings, seconds: float) -> str | None:
    """Sync in this process's mirror thread; its summary, or that it goes on in the background.

    A promotion is committed before this runs: MLflow being slow or down must not keep its
    answer waiting (a proxy would time out and the admin retry a change that had landed).
    Syncs queue one behind the other, so each change is mirrored once MLflow answers; changes
    made while a sync waits its turn share it (during an outage, N promotions queue one sync,
    not N that each wait out the timeouts).
    """
    where = location(settings)
    if where is None:
        return None
    with _queued_lock:
        # A sync still waiting its turn reads the database when it starts, after this change:
        # it mirrors this change too. Queue another only behind one that already started.
        key = (str(engine.url), where.tracking_uri)
        future = _queued.get(key)
        if future is None or future.running() or future.done():
            future = _queued[key] = _background.submit(sync, engine, settings)
    try:
        report = future.result(timeout=seconds)
    except FuturesTimeout:
        return (
            f"MLflow did not answer within {seconds:g} s; the mirror is being updated in the"
            " background (`credguard models sync-mlflow` shows where it stands)"
        )
    return None if report is None else report.summary()


def redacted(uri: str) -> str:
    """``uri`` without a password (tracking URIs may carry one), for logs and answers."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _experiment(mlflow: MlflowClient, where: Location) -> str:
    found = mlflow.get_experiment_by_name(EXPERIMENT)
    if found is not None:
        return str(found.experiment_id)
    return str(mlflow.create_experiment(EXPERIMENT, artifact_location=where.artifact_location))


def _mirror(engine: Engine, mlflow: MlflowClient, experiment_id: str, model_id: int) -> str:
    """Register one CredGuard model in MLflow; what was done."""
    with session_scope(engine) as session:
        record = session.get(ModelRecord, model_id)
        assert record is not None
        name, version, product = record.name, record.version, record.product
        path, sha256, run_id = Path(record.artifact_path), record.sha256, record.mlflow_run_id
        metrics = json.loads(record.metrics or "{}")
    artifact = ModelArtifact.load(path)
    tags = {PRODUCT_TAG: product, MODEL_ID_TAG: str(model_id), SHA256_TAG: sha256}
    existing = _version_of(mlflow, name, tags)  # made by a sync interrupted after it
    if existing is None and not _finished(mlflow, run_id):
        # No run yet, or one a failed sync left half-logged: log a complete one. A version
        # is only ever created on a finished run, so it never points at missing artifacts.
        if run_id is not None:
            mlflow.set_terminated(run_id, status="FAILED")
        run_id = mlflow.create_run(
            experiment_id, run_name=f"{name} v{version}", tags=tags
        ).info.run_id
        with session_scope(engine) as session:
            session.get_one(ModelRecord, model_id).mlflow_run_id = run_id
        _log_run(mlflow, run_id, artifact, path, metrics)
    if existing is None:
        if not mlflow.search_registered_models(f"name = '{name}'"):
            mlflow.create_registered_model(
                name, tags={PRODUCT_TAG: product}, description=f"CredGuard model for {product}"
            )
        assert run_id is not None
        source = f"{mlflow.get_run(run_id).info.artifact_uri}/model"
        existing = int(
            mlflow.create_model_version(
                name,
                source=source,
                run_id=run_id,
                tags=tags,
                description=f"CredGuard {name} v{version} (model id {model_id})",
            ).version
        )
    with session_scope(engine) as session:
        session.get_one(ModelRecord, model_id).mlflow_version = existing
    return f"registered {name} v{version} as version {existing}"


def _finished(mlflow: MlflowClient, run_id: str | None) -> bool:
    return run_id is not None and mlflow.get_run(run_id).info.status == "FINISHED"


def _version_of(mlflow: MlflowClient, name: str, tags: Mapping[str, str]) -> int | None:
    found = mlflow.search_model_versions(
        f"name = '{name}' and tags.`{MODEL_ID_TAG}` = '{tags[MODEL_ID_TAG]}'"
    )
    for candidate in found:
        if candidate.tags.get(SHA256_TAG) == tags[SHA256_TAG]:
            return int(candidate.version)
    return None


def _log_run(
    mlflow: MlflowClient,
    run_id: str,
    artifact: ModelArtifact,
    path: Path,
    metrics: Mapping[str, Any],
) -> None:
    from mlflow.entities import Metric, Param

    now = int(time.time() * 1000)
    figures = [
        Metric(key, float(value), now, 0)
        for key, value in metrics.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    ]
    params = [Param(key, str(value)) for key, value in sorted(artifact.params.items())]
    params += [
        Param("features", ",".join(artifact.features)),
        Param("reference_date", str(artifact.reference_date)),
        Param("label", str(metrics.get("label", "outcome"))),
    ]
    mlflow.log_batch(run_id, metrics=figures, params=params)
    with tempfile.TemporaryDirectory(prefix="credguard-mlflow-") as folder:
        staging = Path(folder)
        (staging / "model").mkdir()
        shutil.copyfile(path, staging / "model" / path.name)
        (staging / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
        reference = artifact.to_dict()["reference"]
        (staging / "reference.json").write_text(json.dumps(reference, indent=2), encoding="utf-8")
        card = card_path(path)
        if card.is_file():
            shutil.copyfile(card, staging / "model_card.html")
        mlflow.log_artifacts(run_id, str(staging))
    mlflow.set_terminated(run_id)


def _align_aliases(engine: Engine, mlflow: MlflowClient) -> list[str]:
    """Put ``production`` on each product's production version, and nowhere else."""
    with session_scope(engine) as session:
        production = {
            name: version
            for name, version in session.execute(
                select(ModelRecord.name, ModelRecord.mlflow_version).join(
                    ProductionModel, ProductionModel.model_id == ModelRecord.id
                )
            )
        }
        names = set(
            session.scalars(select(ModelRecord.name).where(ModelRecord.mlflow_version.is_not(None)))
        )
    done = []
    for name in sorted(names):
        aliases = mlflow.get_registered_model(name).aliases
        current = aliases.get(PRODUCTION_ALIAS)
        current = None if current is None else int(current)
        wanted = production.get(name)
        if name in production and wanted is None:
            continue  # its production version is not mirrored yet: leave the alias alone
        if wanted is not None and current != wanted:
            mlflow.set_registered_model_alias(name, PRODUCTION_ALIAS, str(wanted))
            done.append(f"alias {PRODUCTION_ALIAS} → {name} version {wanted}")
        elif wanted is None and current is not None:
            mlflow.delete_registered_model_alias(name, PRODUCTION_ALIAS)
            done.append(f"alias {PRODUCTION_ALIAS} removed from {name}")
    return done
