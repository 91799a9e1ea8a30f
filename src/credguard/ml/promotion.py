"""Registering trained models, and promoting or rolling back a product's production model.

Every change is a row of ``model_promotions`` (who, when, why, from which model to which, the
quality gates' figures), which MLflow does not keep. A promotion must pass quality gates
against the model in production — hold-out AUC and KS not worse beyond the configured
tolerances, predicted default rates within tolerance of the observed ones, plus the 95 %
sampling noise of the band's size, in every band of 100+ customers — unless forced, with a reason. A gate that cannot be checked (a figure is
missing, no band has 100 customers) does not pass. Hold-out figures of models evaluated on
different labels (observed outcomes vs the probabilities the runbook's export holds) do not
compare: those two gates are recorded as skipped, and the calibration gate still applies.
Concurrent changes of one product cannot both
win: the switch is a compare-and-set on the production row, the loser gets 409.

New jobs and online requests read the production model when they start, so a change applies
to them at once, in every process; a running job keeps the models pinned at its start.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from credguard.config import Settings
from credguard.db.base import utcnow
from credguard.db.bulk import rowcount
from credguard.errors import ConfigurationError, Conflict, InvalidInput, NotFound
from credguard.ml import registry
from credguard.ml.artifact import ModelArtifact
from credguard.ml.card import CARD_FILE, describes
from credguard.ml.registry import card_path
from credguard.ml.tables import ModelPromotion, ModelRecord, ProductionModel

MIN_BAND_CUSTOMERS = 100

log = structlog.get_logger(__name__)


class ModelNotFound(NotFound):
    """No registered model with that name (and version)."""


class GateFailed(InvalidInput):
    """The candidate is worse than production beyond the tolerances."""


class PromotionConflict(Conflict):
    """Another change of the product's production model won."""


@dataclass(frozen=True)
class Change:
    product: str
    action: str
    from_model: ModelRecord | None
    to_model: ModelRecord
    gates: list[dict[str, Any]]


def register_file(
    session: Session, model_path: Path, *, name: str, settings: Settings, metrics_path: Path | None
) -> ModelRecord:
    """Register a trained model file under ``name`` (next version), with its metrics and card.

    The figures are the model's own, written into it at training; ``metrics.json`` adds where
    they came from (input file, rows read and dropped, warnings) and must describe this model:
    one whose figures differ belongs to another training run and is refused. The model card
    beside the file, if any, is kept with the registered copy.
    """
    name = name.strip()
    if not name or len(name) > 64 or not name.replace("_", "").replace("-", "").isalnum():
        raise InvalidInput("a model name has 1 to 64 letters, digits, '_' or '-'")
    if not name.isascii():
        raise InvalidInput("a model name has only ASCII letters, digits, '_' or '-'")
    try:
        artifact = ModelArtifact.load(model_path)
    except FileNotFoundError:
        raise InvalidInput(f"{model_path} does not exist") from None
    except (ValueError, KeyError, TypeError, ConfigurationError) as exc:
        raise InvalidInput(f"{model_path} is not a CredGuard model file ({exc})") from None
    if artifact.product not in settings.products:
        raise InvalidInput(f"the model is for {artifact.product}, which is not configured")
    taken = session.scalars(
        select(ModelRecord.product).where(ModelRecord.name == name).limit(1)
    ).first()
    if taken is not None and taken != artifact.product:
        raise InvalidInput(
            f"{name} is a {taken} model; a model for {artifact.product} needs another name"
        )
    metrics = dict(artifact.metrics)
    if metrics_path is not None:
        metrics = {**_provenance(metrics_path, artifact), **metrics}
    version = registry.next_version(session, name)
    named = dataclasses.replace(artifact, name=name, version=version, metrics=metrics)
    record = registry.register(session, named, settings.models_dir)
    card = model_path.parent / CARD_FILE
    if describes(card, registry.file_sha256(model_path)):  # not another model's card
        shutil.copyfile(card, card_path(Path(record.artifact_path)))
    return record


def _provenance(metrics_path: Path, artifact: ModelArtifact) -> dict[str, Any]:
    """What ``metrics.json`` adds to the model's own figures; refused if it is another model's."""
    try:
        extra = json.loads(metrics_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"cannot read the metrics file {metrics_path}: {exc}") from None
    if not isinstance(extra, dict):
        raise InvalidInput(f"{metrics_path} is not a metrics file (no JSON object)")
    own = artifact.metrics
    differing = sorted(
        key
        for key, value in extra.items()
        if key in own and key != "training_seconds" and value != own[key]
    )
    reference = extra.get("reference")
    if reference is not None and reference != artifact.to_dict()["reference"]:
        differing.append("reference")
    if differing:
        raise InvalidInput(
            f"{metrics_path} describes another model ({', '.join(differing[:5])} differ from the"
            f" figures inside {artifact.product}'s model file): give the metrics.json written"
            " with this model"
        )
    return {k: v for k, v in extra.items() if k != "reference"}


def find_model(session: Session, name: str, version: int | None = None) -> ModelRecord:
    query = select(ModelRecord).where(ModelRecord.name == name)
    if version is not None:
        query = query.where(ModelRecord.version == version)
    record = session.scalars(query.order_by(ModelRecord.version.desc()).limit(1)).first()
    if record is None:
        which = f"{name} v{version}" if version is not None else name
        raise ModelNotFound(f"no registered model {which}; `credguard models list` shows them")
    return record


def quality_gates(
    candidate: ModelRecord, current: ModelRecord | None, settings: Settings
) -> list[dict[str, Any]]:
    """Each gate: what was compared, the figures, whether it passed."""
    new = json.loads(candidate.metrics or "{}")
    gates: list[dict[str, Any]] = []
    old = json.loads(current.metrics or "{}") if current is not None else {}
    # Figures measured against different labels (observed outcomes vs the probabilities the
    # runbook's export holds) do not compare: those gates are recorded as skipped.
    comparable = new.get("label", "outcome") == old.get("label", "outcome")
    if current is not None and not comparable:
        gates.append(
            {
                "gate": "auc and ks against production",
                "skipped": f"candidate evaluated on {new.get('label')} labels, production on"
                f" {old.get('label', 'outcome')} labels",
                "passed": True,
            }
        )
    if current is not None and comparable:
        for metric, tolerance in (
            ("auc", settings.promotion_auc_tolerance),
            ("ks", settings.promotion_ks_tolerance),
        ):
            gate = f"{metric} not worse than production by more than {tolerance}"
            lacking = [who for who, figures in (("candidate", new), ("production", old))
                       if not isinstance(figures.get(metric), int | float)]  # fmt: skip
            if lacking:  # a gate that cannot be checked does not pass
                gates.append({"gate": gate, "unchecked": f"no hold-out {metric} for the "
                              + " and the ".join(lacking), "passed": False})  # fmt: skip
                continue
            gates.append(
                {
                    "gate": gate,
                    "candidate": new[metric],
                    "production": old[metric],
                    "passed": new[metric] >= old[metric] - tolerance,
                }
            )
    tolerance = settings.promotion_calibration_tolerance
    gate = (
        f"predicted default rate within {tolerance} of the observed one in every band,"
        " beyond sampling noise"
    )
    bands = [b for b in new.get("calibration_by_band", []) if b["n"] >= MIN_BAND_CUSTOMERS]
    if not bands:
        gates.append(
            {
                "gate": gate,
                "unchecked": f"no band of the candidate's hold-out has {MIN_BAND_CUSTOMERS}"
                " customers or more",
                "passed": False,
            }
        )
    else:
        worst = max(bands, key=lambda band: _calibration_excess(band, tolerance))
        gates.append(
            {
                "gate": gate,
                "candidate": abs(worst["mean_predicted"] - worst["observed"]),
                "band": worst["band"],
                "allowed": tolerance + _noise(worst),
                "passed": _calibration_excess(worst, tolerance) <= 0,
            }
        )
    return gates


def promote(
    session: Session,
    settings: Settings,
    *,
    product: str,
    model_name: str,
    reason: str,
    user_id: int | None,
    version: int | None = None,
    force: bool = False,
) -> Change:
    """Make ``model_name`` (latest version unless given) score ``product``, gates permitting."""
    reason = _reason(reason)
    candidate = find_model(session, model_name, version)
    if candidate.product != product:
        raise InvalidInput(
            f"model {candidate.name} v{candidate.version} scores {candidate.product}, not {product}"
        )
    _check_file(candidate)
    current_row = session.get(ProductionModel, product)
    current = session.get(ModelRecord, current_row.model_id) if current_row else None
    if current is not None and current.id == candidate.id:
        raise PromotionConflict(f"{candidate.name} v{candidate.version} already scores {product}")
    gates = quality_gates(candidate, current, settings)
    failed = [gate for gate in gates if not gate["passed"]]
    if failed and not force:
        raise GateFailed(
            "the candidate fails the quality gates: "
            + "; ".join(_describe(gate) for gate in failed)
            + '. Send "force": true with the reason to promote it anyway'
        )
    return _switch(session, product, "promote", current, candidate, reason, user_id, force, gates)


def rollback(session: Session, *, product: str, reason: str, user_id: int | None) -> Change:
    """Return ``product`` to the model that scored it before its latest promotion."""
    reason = _reason(reason)
    current_row = session.get(ProductionModel, product)
    if current_row is None:
        raise NotFound(f"no model scores {product}")
    # The latest promotion not already undone: each rollback undoes one, newest first, so
    # rolling back twice walks two promotions back rather than undoing the rollback.
    last: ModelPromotion | None = None
    undone = 0
    for change in history(session, product):
        if change.action == "rollback":
            undone += 1
        elif undone:
            undone -= 1
        else:
            last = change
            break
    if last is None or last.from_model_id is None or last.to_model_id != current_row.model_id:
        raise PromotionConflict(f"{product} has no earlier model to roll back to")
    current = session.get(ModelRecord, current_row.model_id)
    previous = session.get(ModelRecord, last.from_model_id)
    assert current is not None and previous is not None
    _check_file(previous)
    return _switch(session, product, "rollback", current, previous, reason, user_id, False, [])


def history(session: Session, product: str | None = None) -> list[ModelPromotion]:
    query = select(ModelPromotion).order_by(ModelPromotion.id.desc())
    if product is not None:
        query = query.where(ModelPromotion.product == product)
    return list(session.scalars(query))


def _switch(
    session: Session,
    product: str,
    action: str,
    current: ModelRecord | None,
    target: ModelRecord,
    reason: str,
    user_id: int | None,
    forced: bool,
    gates: list[dict[str, Any]],
) -> Change:
    now = utcnow()
    if current is None:
        session.add(ProductionModel(product=product, model_id=target.id, promoted_at=now))
        try:
            session.flush()  # a concurrent first promotion fails here on the primary key
        except IntegrityError:
            raise PromotionConflict(
                f"the production model of {product} changed meanwhile; look again and retry"
            ) from None
    else:
        switched = rowcount(
            session.execute(
                update(ProductionModel)
                .where(ProductionModel.product == product, ProductionModel.model_id == current.id)
                .values(model_id=target.id, promoted_at=now)
            )
        )
        if switched != 1:
            raise PromotionConflict(
                f"the production model of {product} changed meanwhile; look again and retry"
            )
    session.add(
        ModelPromotion(
            product=product,
            action=action,
            from_model_id=current.id if current else None,
            to_model_id=target.id,
            reason=reason,
            forced=forced,
            promoted_by=user_id,
            gates=json.dumps(gates),
            created_at=now,
        )
    )
    session.flush()
    return Change(product, action, current, target, gates)


def _reason(reason: str) -> str:
    reason = reason.strip()
    if len(reason) < 3 or len(reason) > 500:
        raise InvalidInput("say why, in 3 to 500 characters (the reason is kept in the history)")
    return reason


def _noise(band: dict[str, Any]) -> float:
    """Half-width of the 95 % interval of a band's observed rate if the predicted one is true."""
    p = min(max(float(band["mean_predicted"]), 0.0), 1.0)
    return 1.96 * math.sqrt(p * (1 - p) / band["n"])


def _calibration_excess(band: dict[str, Any], tolerance: float) -> float:
    """How far a band's gap goes past the tolerance plus sampling noise (≤ 0: within)."""
    return float(abs(band["mean_predicted"] - band["observed"])) - tolerance - _noise(band)


def _check_file(record: ModelRecord) -> None:
    """Refuse to put a model in production whose file is missing or altered."""
    try:
        registry.load_fresh(record)  # not the cache: the file must be there for every process
    except ConfigurationError as exc:
        log.error("model file unusable", model_id=record.id, detail=str(exc))
        raise Conflict(
            f"the file of {record.name} v{record.version} is missing or no longer matches its"
            " checksum, so it cannot score; nothing was changed (the server log has the path)"
        ) from None


def _describe(gate: dict[str, Any]) -> str:
    if "unchecked" in gate:
        return f"{gate['gate']}: cannot be checked ({gate['unchecked']})"
    if "band" in gate:
        return (
            f"{gate['gate']}: band {gate['band']} is off by {gate['candidate']:.4f},"
            f" more than the {gate['allowed']:.4f} allowed"
        )
    production = f" vs production {gate['production']:.4f}" if "production" in gate else ""
    return f"{gate['gate']}: candidate {gate['candidate']:.4f}{production}"
