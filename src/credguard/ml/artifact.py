"""A trained model as one JSON document: what scoring, drift and the registry need, and no code.

Loading an artifact parses JSON only (never pickle), so a tampered file can at worst fail to load.
The LightGBM model text is kept for audit and re-checks; scoring never calls LightGBM, it looks
contributions up in the per-feature step functions tabulated at training time (the model is
additive: one feature per tree).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np

from credguard.errors import ConfigurationError

#: Version of the JSON layout; :meth:`ModelArtifact.load` refuses any other.
FORMAT_VERSION = 1


@dataclass(frozen=True)
class StepFunction:
    """One feature's margin contribution: ``values[searchsorted(thresholds, x, "left")]``.

    Bins are ``(-inf, t0], (t0, t1], …, (t_last, +inf)`` (LightGBM sends ``x <= threshold``
    left); ``missing`` is the contribution of NaN and ``mean`` the average contribution on the
    training population (the reference that reason codes compare against).
    """

    thresholds: tuple[float, ...]
    values: tuple[float, ...]
    missing: float
    mean: float


@dataclass(frozen=True)
class Distribution:
    """Reference bins of one quantity: decile edges and the share of non-missing values per bin.

    Bins are ``(-inf, e0], (e0, e1], …, (e_last, +inf)``; tied deciles are merged, so there may
    be fewer than ten bins and the shares need not be equal. ``missing`` is the share of NaN.
    """

    edges: tuple[float, ...]
    proportions: tuple[float, ...]
    missing: float

    @classmethod
    def of(cls, values: np.ndarray, bins: int = 10) -> Distribution:
        """Decile bins of ``values`` (NaN counted apart)."""
        values = np.asarray(values, dtype=np.float64)
        present = values[~np.isnan(values)]
        missing = 1.0 - len(present) / len(values) if len(values) else 0.0
        if len(present) == 0:
            return cls(edges=(), proportions=(1.0,), missing=missing)
        inner = np.quantile(present, np.arange(1, bins) / bins)
        edges = tuple(float(e) for e in np.unique(inner))
        return cls(edges=edges, proportions=tuple(cls._shares(edges, present)), missing=missing)

    def shares(self, values: np.ndarray) -> np.ndarray:
        """Share of the non-missing ``values`` in each of this distribution's bins."""
        values = np.asarray(values, dtype=np.float64)
        return self._shares(self.edges, values[~np.isnan(values)])

    @staticmethod
    def _shares(edges: Sequence[float], present: np.ndarray) -> np.ndarray:
        counts = np.bincount(
            np.searchsorted(np.asarray(edges, dtype=np.float64), present, side="left"),
            minlength=len(edges) + 1,
        )
        return np.asarray(counts / max(len(present), 1), dtype=np.float64)


@dataclass(frozen=True)
class ModelArtifact:
    """A trained, calibrated, tabulated model of one product."""

    name: str
    version: int
    product: str
    features: tuple[str, ...]
    created_at: datetime
    model_text: str  # booster.model_to_string(): audit trail, not used to score
    steps: dict[str, StepFunction]  # per feature, in `features` order
    intercept: float  # margin of the trees that split nothing
    calibration: tuple[float, float]  # Platt (a, b): p = sigmoid(a·margin + b)
    metrics: dict[str, Any]  # numbers, the label kind, calibration by band
    score_reference: Distribution  # 0–1000 score of the training population
    feature_reference: dict[str, Distribution]
    params: dict[str, Any] = field(default_factory=dict)  # LightGBM parameters (JSON values)
    reference_date: date | None = None  # date the training features were computed at
    format_version: int = FORMAT_VERSION

    @property
    def bias(self) -> float:
        """Expected margin on the training population (SHAP's expected value)."""
        return self.intercept + math.fsum(self.steps[f].mean for f in self.features)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dictionary of the artifact."""
        return {
            "format_version": self.format_version,
            "name": self.name,
            "version": self.version,
            "product": self.product,
            "features": list(self.features),
            "created_at": self.created_at.isoformat(),
            "reference_date": self.reference_date.isoformat() if self.reference_date else None,
            "model_text": self.model_text,
            "steps": {
                name: {
                    "thresholds": list(s.thresholds),
                    "values": list(s.values),
                    "missing": s.missing,
                    "mean": s.mean,
                }
                for name, s in self.steps.items()
            },
            "intercept": self.intercept,
            "calibration": {"a": self.calibration[0], "b": self.calibration[1]},
            "metrics": dict(self.metrics),
            "reference": {
                "score": _distribution_dict(self.score_reference),
                "features": {k: _distribution_dict(d) for k, d in self.feature_reference.items()},
            },
            "params": dict(self.params),
        }

    def to_json_bytes(self) -> bytes:
        """Canonical JSON (sorted keys, strict: no NaN or infinity) of the artifact."""
        text = json.dumps(self.to_dict(), sort_keys=True, allow_nan=False, ensure_ascii=False)
        return text.encode("utf-8")

    def sha256(self) -> str:
        """Hex SHA-256 of the canonical JSON, equal to the hash of the file :meth:`save` writes."""
        return hashlib.sha256(self.to_json_bytes()).hexdigest()

    def save(self, path: Path | str) -> None:
        """Write the artifact as JSON; atomic, so a reader never sees half a file."""
        target = Path(path)
        partial = target.with_name(target.name + ".partial")
        partial.write_bytes(self.to_json_bytes())
        os.replace(partial, target)

    @classmethod
    def load(cls, path: Path | str) -> ModelArtifact:
        """Read an artifact written by :meth:`save` (JSON only: loading runs no code)."""
        try:
            raw = json.loads(Path(path).read_bytes(), parse_constant=_reject_constant)
            return cls.from_dict(raw)
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigurationError(f"model file {path} is not a valid artifact: {exc}") from None

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ModelArtifact:
        """Artifact from :meth:`to_dict`'s dictionary, checked for shape and format version."""
        if raw.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"format_version {raw.get('format_version')!r} is not {FORMAT_VERSION}"
            )
        features = tuple(str(f) for f in raw["features"])
        steps = {name: _step(raw["steps"][name]) for name in features}
        reference = raw["reference"]
        reference_date = raw.get("reference_date")
        return cls(
            name=str(raw["name"]),
            version=int(raw["version"]),
            product=str(raw["product"]),
            features=features,
            created_at=datetime.fromisoformat(raw["created_at"]),
            model_text=str(raw["model_text"]),
            steps=steps,
            intercept=float(raw["intercept"]),
            calibration=(float(raw["calibration"]["a"]), float(raw["calibration"]["b"])),
            metrics={str(k): v for k, v in raw["metrics"].items()},
            score_reference=_distribution(reference["score"]),
            feature_reference={str(k): _distribution(v) for k, v in reference["features"].items()},
            params=dict(raw.get("params", {})),
            reference_date=date.fromisoformat(reference_date) if reference_date else None,
        )


def _reject_constant(name: str) -> float:
    raise ValueError(f"non-finite number {name} in model file")


def _floats(values: Sequence[Any]) -> tuple[float, ...]:
    return tuple(float(v) for v in values)


def _step(raw: Mapping[str, Any]) -> StepFunction:
    step = StepFunction(
        thresholds=_floats(raw["thresholds"]),
        values=_floats(raw["values"]),
        missing=float(raw["missing"]),
        mean=float(raw["mean"]),
    )
    if len(step.values) != len(step.thresholds) + 1:
        raise ValueError("a step function needs one value more than thresholds")
    if any(a >= b for a, b in zip(step.thresholds, step.thresholds[1:], strict=False)):
        raise ValueError("step thresholds must be strictly increasing")
    return step


def _distribution_dict(d: Distribution) -> dict[str, Any]:
    return {"edges": list(d.edges), "proportions": list(d.proportions), "missing": d.missing}


def _distribution(raw: Mapping[str, Any]) -> Distribution:
    d = Distribution(
        edges=_floats(raw["edges"]),
        proportions=_floats(raw["proportions"]),
        missing=float(raw["missing"]),
    )
    if len(d.proportions) != len(d.edges) + 1:
        raise ValueError("a distribution needs one proportion more than edges")
    return d
