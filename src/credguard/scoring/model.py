"""Prediction by table look-up: an additive model's margin and per-feature contributions.

Each feature's contribution is a step function of that feature alone (see ml/artifact.py), so a
row costs nine binary searches; no LightGBM call, no loop over rows.
"""

from __future__ import annotations

import numpy as np

from credguard.errors import ConfigurationError
from credguard.ml.artifact import ModelArtifact
from credguard.scoring.features import FEATURES


class ScoringModel:
    """A model artifact ready to score feature matrices of :data:`FEATURES`."""

    def __init__(self, artifact: ModelArtifact) -> None:
        if tuple(artifact.features) != FEATURES:
            raise ConfigurationError(
                f"model {artifact.name} v{artifact.version} uses features {artifact.features},"
                f" this CredGuard computes {FEATURES}"
            )
        self.artifact = artifact
        steps = [artifact.steps[name] for name in FEATURES]
        self._thresholds = [np.asarray(s.thresholds, dtype=np.float64) for s in steps]
        self._values = [np.asarray(s.values, dtype=np.float64) for s in steps]
        self._missing = np.array([s.missing for s in steps], dtype=np.float64)
        self.mean_contributions = np.array([s.mean for s in steps], dtype=np.float64)
        self.intercept = artifact.intercept
        self.calibration = artifact.calibration

    @property
    def name(self) -> str:
        return self.artifact.name

    @property
    def version(self) -> int:
        return self.artifact.version

    @property
    def product(self) -> str:
        return self.artifact.product

    def step_contributions(self, X: np.ndarray) -> np.ndarray:
        """(n, 9) uncentred step values; ``intercept + row sum`` is the raw margin."""
        X = _check(X)
        out = np.empty(X.shape, dtype=np.float64, order="F")
        for j in range(len(FEATURES)):  # nine columns, each fully vectorised
            column = X[:, j]
            out[:, j] = self._values[j][np.searchsorted(self._thresholds[j], column)]
            missing = np.isnan(column)
            if missing.any():
                out[missing, j] = self._missing[j]
        return out

    def margin(self, X: np.ndarray) -> np.ndarray:
        """Raw (uncalibrated) log-odds of default, as LightGBM's ``raw_score``."""
        return np.asarray(self.intercept + self.step_contributions(X).sum(axis=1), dtype=np.float64)

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """(n, 9) contributions centred on the training mean: positive raises risk."""
        return self.step_contributions(X) - self.mean_contributions

    def margin_and_contributions(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Raw margin and centred contributions from one look-up pass."""
        steps = self.step_contributions(X)
        margin = self.intercept + steps.sum(axis=1)
        steps -= self.mean_contributions
        return np.asarray(margin, dtype=np.float64), steps

    def calibrate(self, margin: np.ndarray) -> np.ndarray:
        """Calibrated probability of default of a raw margin (Platt scaling)."""
        a, b = self.calibration
        return np.asarray(1.0 / (1.0 + np.exp(-(a * margin + b))), dtype=np.float64)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Calibrated probability of default per row."""
        return self.calibrate(self.margin(X))


def _check(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != len(FEATURES):
        raise ValueError(f"expected a (rows, {len(FEATURES)}) matrix, got shape {X.shape}")
    return X
