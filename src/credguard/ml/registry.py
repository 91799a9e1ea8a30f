"""Where models live and which one scores each product: the one small interface to load models.

For now artefacts are JSON files under the data directory, indexed by the ``models`` table, with
``production_models`` pointing at the model that scores each product. A later issue moves the
registry into MLflow behind these same functions.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from credguard.errors import ConfigurationError, NotFound
from credguard.ml.artifact import ModelArtifact
from credguard.ml.tables import ModelRecord, ProductionModel
from credguard.scoring.model import ScoringModel


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def card_path(model_path: Path) -> Path:
    """Where the registry keeps a registered model's card (``model_card.html``): beside its file."""
    return model_path.with_name(model_path.stem + ".card.html")


def next_version(session: Session, name: str) -> int:
    """The version number a new model called ``name`` gets."""
    latest = session.scalar(select(func.max(ModelRecord.version)).where(ModelRecord.name == name))
    return (latest or 0) + 1


def register(session: Session, artifact: ModelArtifact, models_dir: Path) -> ModelRecord:
    """Store ``artifact`` under ``models_dir`` and record it (not yet in production)."""
    models_dir.mkdir(parents=True, exist_ok=True)
    path = (models_dir / f"{artifact.name}-v{artifact.version}.json").resolve()
    artifact.save(path)
    record = ModelRecord(
        name=artifact.name,
        version=artifact.version,
        product=artifact.product,
        artifact_path=str(path),
        sha256=file_sha256(path),
        metrics=json.dumps(artifact.metrics),
    )
    session.add(record)
    session.flush()
    return record


def set_production(session: Session, product: str, record: ModelRecord) -> None:
    """Make ``record`` the model that scores ``product``."""
    current = session.get(ProductionModel, product)
    if current is None:
        session.add(ProductionModel(product=product, model_id=record.id))
    else:
        current.model_id = record.id
    session.flush()


@dataclass(frozen=True)
class ModelRef:
    """What scoring needs to know of a registered model."""

    id: int
    name: str
    version: int
    product: str
    artifact_path: str
    sha256: str


_MODEL_REF_COLUMNS = (
    ModelRecord.id,
    ModelRecord.name,
    ModelRecord.version,
    ModelRecord.product,
    ModelRecord.artifact_path,
    ModelRecord.sha256,
)
# Built once: every online request reads it, and building costs more than running it.
_PRODUCTION = select(ProductionModel.product, *_MODEL_REF_COLUMNS).join(
    ModelRecord, ModelRecord.id == ProductionModel.model_id
)


def production_models(session: Session) -> dict[str, ModelRef]:
    """Product → the model scoring it now."""
    return {
        product: ModelRef(model_id, name, version, model_product, path, sha256)
        for product, model_id, name, version, model_product, path, sha256 in session.execute(
            _PRODUCTION
        )
    }


def get_or_raise(session: Session, model_id: int) -> ModelRecord:
    record = session.get(ModelRecord, model_id)
    if record is None:
        raise NotFound(f"model {model_id} does not exist")
    return record


def load(record: ModelRecord | ModelRef) -> ScoringModel:
    """The scoring model of ``record``, checked against its recorded checksum (cached)."""
    return _load(record.artifact_path, record.sha256)


def load_fresh(record: ModelRecord | ModelRef) -> ScoringModel:
    """Like :func:`load`, reading the file again: is it there and intact now, for any process?"""
    return _load.__wrapped__(record.artifact_path, record.sha256)


@lru_cache(maxsize=32)
def _load(path: str, sha256: str) -> ScoringModel:
    file = Path(path)
    if not file.is_file():
        raise ConfigurationError(f"model file {path} is missing; re-run `credguard init`")
    if file_sha256(file) != sha256:
        raise ConfigurationError(f"model file {path} does not match its recorded checksum")
    return ScoringModel(ModelArtifact.load(file))
