"""Score a chunk of valid customers: probability, 0–1000 score, band, reason codes, model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from credguard.scoring.features import FEATURES, build_features
from credguard.scoring.model import ScoringModel
from credguard.scoring.reasons import FEATURE_REASONS

BANDS: tuple[str, ...] = ("A", "B", "C", "D", "E")
REASON_COLUMNS: tuple[str, ...] = ("reasonCode1", "reasonCode2", "reasonCode3")
SCORE_COLUMNS: tuple[str, ...] = (
    "scoreProbInadimplencia",
    "score",
    "faixaScore",
    *REASON_COLUMNS,
    "modelName",
    "modelVersion",
)


def to_score(prob: np.ndarray) -> np.ndarray:
    """0–1000 score, higher is safer: ``round(1000 · (1 − p))`` (halves to even, as ``round``)."""
    return np.asarray(np.rint(1000.0 * (1.0 - np.clip(prob, 0.0, 1.0))), dtype=np.int64)


def band_indices(scores: np.ndarray, cutoffs: Sequence[int]) -> np.ndarray:
    """Band index 0 (A) … 4 (E): the number of cut-offs the score falls below."""
    cuts = np.asarray(cutoffs, dtype=np.int64)
    if cuts.shape != (4,) or np.any(np.diff(cuts) >= 0):
        raise ValueError(f"cut-offs must be 4 strictly decreasing scores, got {list(cutoffs)}")
    return np.asarray((scores[:, None] < cuts[None, :]).sum(axis=1), dtype=np.int64)


def top_reasons(contributions: np.ndarray, k: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the ``k`` largest contributions per row, and whether each one raised risk."""
    # Stable sort on the negated values: ties go to the earlier feature, deterministically.
    order = np.argsort(-contributions, axis=1, kind="stable")[:, :k]
    raised = np.take_along_axis(contributions, order, axis=1) > 0.0
    return order, raised


#: Reason code of each feature, then None: the index reasons that lowered risk point at.
REASON_CODES: tuple[str | None, ...] = (*(FEATURE_REASONS[name] for name in FEATURES), None)


@dataclass(frozen=True)
class Scored:
    """Scores of a feature matrix's rows, as arrays."""

    probability: np.ndarray
    score: np.ndarray
    band: np.ndarray  #: 0 (A) … 4 (E)
    reasons: np.ndarray  #: (rows, 3) indices into REASON_CODES


def score_matrix(X: np.ndarray, model: ScoringModel, cutoffs: tuple[int, int, int, int]) -> Scored:
    """Probability, 0–1000 score, band and top reasons of each row of a feature matrix."""
    margin, contributions = model.margin_and_contributions(X)
    prob = model.calibrate(margin)
    scores = to_score(prob)
    order, raised = top_reasons(contributions, len(REASON_COLUMNS))
    return Scored(
        probability=prob,
        score=scores,
        band=band_indices(scores, cutoffs),
        reasons=np.where(raised, order, len(FEATURES)),
    )


def score_chunk(
    df_valid: pl.DataFrame,
    model: ScoringModel,
    *,
    cutoffs: tuple[int, int, int, int],
    reference_date: date,
) -> pl.DataFrame:
    """Score columns aligned with ``df_valid``'s rows (see :data:`SCORE_COLUMNS`)."""
    scored = score_matrix(build_features(df_valid, reference_date), model, cutoffs)
    codes = pl.Series(REASON_CODES, dtype=pl.String)
    return pl.DataFrame(
        [
            pl.Series("scoreProbInadimplencia", scored.probability, dtype=pl.Float64),
            pl.Series("score", scored.score, dtype=pl.Int64),
            pl.Series("faixaScore", BANDS).gather(scored.band),
            *(codes.gather(scored.reasons[:, i]).alias(c) for i, c in enumerate(REASON_COLUMNS)),
        ]
    ).with_columns(
        pl.lit(model.name, dtype=pl.String).alias("modelName"),
        pl.lit(str(model.version), dtype=pl.String).alias("modelVersion"),
    )
