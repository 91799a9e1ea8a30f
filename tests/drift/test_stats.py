"""Drift statistics on arrays: PSI and its smoothing, noise level, feature drift, performance.

The figures the issue asks for are here too: 200 windows of 5,000 customers drawn from the
training distribution raise at most 5 % "attention" or "action"; a population with much
shorter relationships, made by the generator, reaches "action" in a window of 5,000.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import chi2

from credguard.db.base import utcnow
from credguard.drift import stats
from credguard.drift.stats import Status
from credguard.ml import training
from credguard.ml.artifact import Distribution, ModelArtifact
from credguard.scoring.features import FEATURES, build_features
from credguard.scoring.model import ScoringModel
from credguard.scoring.score import to_score
from credguard.synth import generator

UNIFORM = Distribution(edges=(1.0, 2.0, 3.0), proportions=(0.25, 0.25, 0.25, 0.25), missing=0.0)


def counts_of(values: list[float], distribution: Distribution = UNIFORM) -> np.ndarray:
    index = stats.bin_index(np.array(values, dtype=np.float64), distribution)
    return stats.bin_counts(index, distribution)


def test_bins_are_open_ended_and_missing_values_have_their_own() -> None:
    index = stats.bin_index(np.array([-1e9, 1.0, 1.5, 3.0, 3.01, 1e9, np.nan]), UNIFORM)
    assert index.tolist() == [0, 0, 1, 2, 3, 3, 4]


def test_the_same_shares_give_a_psi_of_about_zero_and_a_noise_level_from_chi_square() -> None:
    comparison = stats.compare(counts_of([0.5, 1.5, 2.5, 3.5] * 250), UNIFORM, n_reference=1000)
    assert comparison.psi == pytest.approx(0.0, abs=1e-12)
    assert comparison.drift_pct == pytest.approx(0.0)
    # 4 bins (no missing values on either side): 3 degrees of freedom.
    assert comparison.critical == pytest.approx(chi2.ppf(0.95, 3) * (1 / 1000 + 1 / 1000))
    assert not comparison.with_missing


def test_empty_bins_on_either_side_give_finite_figures() -> None:
    # Every current customer in one bin; and a reference with an empty bin.
    lopsided = stats.compare(counts_of([0.0] * 800), UNIFORM, n_reference=10_000)
    hollow = Distribution(edges=(1.0, 2.0), proportions=(0.5, 0.0, 0.5), missing=0.0)
    into_the_hole = stats.compare(counts_of([1.5] * 800, hollow), hollow, n_reference=10_000)
    nothing = stats.compare(counts_of([]), UNIFORM, n_reference=10_000)
    for comparison in (lopsided, into_the_hole):
        assert comparison.psi is not None and math.isfinite(comparison.psi)
        assert comparison.psi > stats.PSI_ACTION
        json.dumps(comparison.to_json(), allow_nan=False)  # strict JSON: no inf, no NaN
    assert lopsided.drift_pct == pytest.approx(75.0)  # 3 customers in 4 must move bin
    assert into_the_hole.drift_pct == pytest.approx(100.0)
    assert nothing.psi is None and nothing.n == 0
    json.dumps(nothing.to_json(), allow_nan=False)


def test_smoothing_adds_half_a_customer_to_every_bin_on_both_sides() -> None:
    counts = np.array([10, 0, 30, 60])
    reference = np.array([0.2, 0.3, 0.3, 0.2])
    psi, _ = stats.smoothed_psi(counts, reference, n_reference=50)
    q = (counts + 0.5) / (100 + 2)
    p = (reference * 50 + 0.5) / (50 + 2)
    assert psi == pytest.approx(float(np.sum((q - p) * np.log(q / p))))


def test_missing_values_count_as_a_bin_when_either_side_has_them() -> None:
    with_missing = Distribution(edges=(1.0,), proportions=(0.5, 0.5), missing=0.2)
    comparison = stats.compare(counts_of([0.5, 1.5, 0.5, 1.5], with_missing), with_missing, 100)
    assert comparison.with_missing
    assert comparison.reference.tolist() == pytest.approx([0.4, 0.4, 0.2])
    assert comparison.current.tolist() == pytest.approx([0.5, 0.5, 0.0])
    assert comparison.drift_pct == pytest.approx(20.0)
    assert comparison.to_json()["missing"] == {"reference": 0.2, "current": 0.0}
    new_missing = stats.compare(counts_of([0.5, np.nan]), UNIFORM, 100)
    assert new_missing.with_missing and new_missing.current[-1] == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("psi", "status"),
    [
        (0.0, "stable"),
        (0.0999, "stable"),
        (0.10, "attention"),
        (0.25, "attention"),
        (0.2501, "action"),
    ],
)
def test_psi_statuses_are_the_runbooks(psi: float, status: str) -> None:
    assert stats.psi_status(psi) == status


def test_worst_status_ignores_parts_too_small_to_judge() -> None:
    assert stats.worst([Status.STABLE, Status.INSUFFICIENT_SAMPLE]) == Status.STABLE
    assert stats.worst([Status.ATTENTION, Status.ACTION, Status.STABLE]) == Status.ACTION
    assert stats.worst([Status.INSUFFICIENT_SAMPLE] * 3) == Status.INSUFFICIENT_SAMPLE


# --- with a trained model ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def cartao(default_models: dict[str, Path]) -> ModelArtifact:
    return ModelArtifact.load(default_models["CARTAO"])


def customers(
    artifact: ModelArtifact, rows: int, *, seed: int, shift: generator.Shift | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Features, scores, probabilities and outcomes of fresh synthetic customers."""
    today = utcnow().date()
    frame = generator.normalise(
        generator.generate(
            rows, seed=seed, products=[artifact.product], reference_date=today,
            dirty_share=0.0, shift=shift,
        )
    )  # fmt: skip
    X = build_features(frame, today)
    prob = ScoringModel(artifact).predict_proba(X)
    return X, to_score(prob), prob, frame[generator.OUTCOME_COLUMN].to_numpy().astype(float)


def assess(
    artifact: ModelArtifact,
    X: np.ndarray,
    score: np.ndarray,
    prob: np.ndarray,
    y: np.ndarray | None,
) -> stats.Assessment:
    reference = stats.Reference.of(artifact)
    window = stats.Window.of(reference, X, score, prob)
    outcomes = None if y is None else stats.Outcomes(y, prob)
    return stats.assess(reference, stats.Thresholds(), window, outcomes)


def test_a_window_too_small_is_insufficient_not_an_alarm(cartao: ModelArtifact) -> None:
    X, score, prob, y = customers(
        cartao, 499, seed=5, shift=generator.Shift(relationship_factor=0.3)
    )
    result = assess(cartao, X, score, prob, y)
    assert result.status == Status.INSUFFICIENT_SAMPLE
    assert (
        result.psi_status
        == result.feature_status
        == result.performance_status
        == "insufficient_sample"
    )
    assert result.psi is not None and result.feature_drift["flagged"] == []
    json.dumps(result.score_distribution, allow_nan=False)


def test_the_expected_performance_equals_the_row_by_row_one(cartao: ModelArtifact) -> None:
    X, score, prob, _ = customers(cartao, 20_000, seed=6)
    estimated = assess(cartao, X, score, prob, None).performance["estimated"]
    exact = training.evaluate(prob, prob)  # each row a default with weight p: 2n rows, sorted
    assert estimated["estimated"] is True
    assert estimated["auc"] == pytest.approx(exact["auc"], abs=2e-4)
    assert estimated["ks"] == pytest.approx(exact["ks"], abs=2e-3)
    assert estimated["brier"] == pytest.approx(exact["brier"], abs=1e-6)
    assert estimated["defaultRate"] == pytest.approx(float(prob.mean()), abs=1e-6)


def test_observed_outcomes_sit_beside_the_estimate_and_decide(cartao: ModelArtifact) -> None:
    X, score, prob, y = customers(cartao, 5_000, seed=7)
    good = assess(cartao, X, score, prob, y)
    performance = good.performance
    assert performance["judgedOn"] == "observed" and performance["status"] == "stable"
    assert performance["estimated"]["estimated"] is True
    assert performance["observed"]["estimated"] is False
    assert performance["observed"]["n"] == 5_000
    assert performance["baseline"]["accuracySource"] == "calibration_by_band"
    # A model gone blind: the outcomes no longer follow its scores.
    shuffled = np.random.default_rng(0).permutation(y)
    blind = assess(cartao, X, score, prob, shuffled)
    assert blind.performance_status == Status.ACTION and blind.status == Status.ACTION
    assert "auc" in blind.performance["observed"]["overThreshold"]
    assert blind.performance["observed"]["relativeDropLowerBound"]["auc"] > 0
    # Without outcomes the same blind spot cannot be seen, and an estimate never acts.
    assert assess(cartao, X, score, prob, None).performance["judgedOn"] == "estimated"


def judge_accuracy(
    now: float, n: int, *, holdout: int = 2_000, can_act: bool = True
) -> dict[str, object]:
    """Verdict on a window's accuracy against a baseline of 0.80 on a hold-out of ``holdout``."""
    baseline = {"accuracyAtCutoff": 0.80, "n": holdout, "defaultRate": 0.2}
    figures = {"n": n, "accuracyAtCutoff": now, "auc": None, "brier": None}
    return stats._judge(figures, baseline, stats.Thresholds(), n * 0.2, n * 0.8, can_act=can_act)


def test_a_significant_drop_above_5_percent_is_action() -> None:
    """The runbook's 5 % applies to the drop itself, not to its interval's lower end."""
    judged = judge_accuracy(0.755, 5_000)  # 5.6 % drop, lower end ≈ 3.4 %: real but not > 5 %
    assert judged["relativeDrop"]["accuracyAtCutoff"] == pytest.approx(0.05625)  # type: ignore[index]
    lower = judged["relativeDropLowerBound"]["accuracyAtCutoff"]  # type: ignore[index]
    assert 0.0 < lower < 0.05
    assert judged["status"] == "action"
    # An estimate never acts; a drop of 4 % is within the rule.
    assert judge_accuracy(0.755, 5_000, can_act=False)["status"] == "attention"
    assert judge_accuracy(0.768, 5_000)["status"] == "stable"


def test_a_drop_above_5_percent_that_noise_explains_is_attention() -> None:
    # 5.6 % drop on 500 outcomes against a hold-out of 300: the interval reaches below 0.
    judged = judge_accuracy(0.755, 500, holdout=300)
    assert judged["relativeDropLowerBound"]["accuracyAtCutoff"] < 0  # type: ignore[index]
    assert judged["overThreshold"] == ["accuracyAtCutoff"]
    assert judged["status"] == "attention"


def test_the_baseline_accuracy_comes_from_the_models_bands() -> None:
    bands = [
        {"band": "A", "n": 60, "observed": 0.05},
        {"band": "B", "n": 20, "observed": 0.10},
        {"band": "C", "n": 0, "observed": None},
        {"band": "D", "n": 10, "observed": 0.30},
        {"band": "E", "n": 10, "observed": 0.60},
    ]
    baseline = stats._baseline({"calibration_by_band": bands}, stats.Thresholds(cutoff_band="D"))
    right = 60 * 0.95 + 20 * 0.90 + 10 * 0.30 + 10 * 0.60
    assert baseline["accuracyAtCutoff"] == pytest.approx(right / 100)
    assert stats._baseline({}, stats.Thresholds())["accuracyAtCutoff"] is None


def false_alarms_and_detection(artifact: ModelArtifact, windows: int, seed: int) -> Counter[str]:
    """Statuses of ``windows`` windows of 5,000 from the training population, with outcomes."""
    X, score, prob, y = customers(artifact, windows * 5_000, seed=seed)
    reference = stats.Reference.of(artifact)
    window = stats.Window.of(reference, X, score, prob)
    counts: Counter[str] = Counter()
    for i in range(windows):
        rows = slice(i * 5_000, (i + 1) * 5_000)
        result = stats.assess(
            reference, stats.Thresholds(), window.subset(rows), stats.Outcomes(y[rows], prob[rows])
        )
        counts[result.status] += 1
        assert result.psi is not None and result.psi < stats.PSI_ATTENTION
    return counts


def test_200_windows_like_the_training_data_raise_at_most_5_percent_alarms(
    cartao: ModelArtifact,
) -> None:
    counts = false_alarms_and_detection(cartao, 200, seed=2024)
    # The one-sided 95 % test of "drop > 0" bounds false alarms of any kind at 5 %; they are
    # correlated through the one hold-out every window is compared with (here 1,500 rows).
    assert counts["action"] + counts["attention"] <= 10  # 5 % of 200


def test_much_shorter_relationships_reach_action_in_5000_customers(cartao: ModelArtifact) -> None:
    X, score, prob, _ = customers(
        cartao, 5_000, seed=8, shift=generator.Shift(relationship_factor=0.5)
    )
    result = assess(cartao, X, score, prob, None)
    assert result.status == Status.ACTION and result.feature_status == Status.ACTION
    assert "relationship_days" in result.feature_drift["flagged"]
    features = {row["feature"]: row for row in result.feature_drift["features"]}
    assert features["relationship_days"]["driftPct"] > 20.0
    assert set(features) == set(FEATURES)


@pytest.mark.slow
@pytest.mark.parametrize("product", ["CARTAO", "EMPRESTIMO", "CREDIARIO"])
def test_false_alarms_and_detection_with_production_sized_models(product: str) -> None:
    """The same figures for each product's model trained as `credguard init` trains it."""
    (artifact,) = training.train_default_models(
        [product], rows_per_product=60_000, seed=20_251_101, reference_date=date.today()
    )
    counts = false_alarms_and_detection(artifact, 200, seed=77)
    # The figure: no action, at most 5 % attention (measured: 200 of 200 stable).
    assert counts["action"] == 0 and counts["attention"] <= 10
    for shift in (
        generator.Shift(relationship_factor=0.5),
        generator.Shift(late_payments_factor=3.0),
    ):
        X, score, prob, _ = customers(artifact, 5_000, seed=9, shift=shift)
        assert assess(artifact, X, score, prob, None).status == Status.ACTION, shift
