"""Training: exact tabulation, monotonicity, discrimination, calibration, artifact round trip."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from credguard.errors import ConfigurationError
from credguard.ml.artifact import FORMAT_VERSION, Distribution, ModelArtifact
from credguard.ml.training import (
    CALIBRATION_FOLDS,
    default_model_name,
    platt,
    split_holdout,
    split_rows,
    tabulate,
    train_default_models,
    train_model,
)
from credguard.scoring.features import FEATURES, MONOTONE, build_features
from credguard.scoring.model import ScoringModel
from credguard.synth import generator

REF = date(2025, 6, 30)


@dataclass
class Trained:
    artifact: ModelArtifact
    model: ScoringModel
    booster: lgb.Booster
    X: np.ndarray
    y: np.ndarray
    prob: np.ndarray


def customers(
    rows: int, seed: int, product: str = "CARTAO"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    frame = generator.normalise(
        generator.generate(rows, seed=seed, products=[product], reference_date=REF, dirty_share=0)
    )
    return (
        build_features(frame, REF),
        frame[generator.OUTCOME_COLUMN].to_numpy(),
        frame[generator.PROB_COLUMN].to_numpy(),
    )


def trained(X: np.ndarray, y: np.ndarray, prob: np.ndarray) -> Trained:
    artifact = train_model(
        X, y, product="CARTAO", name="cartao_test", version=1, reference_date=REF
    )
    return Trained(
        artifact, ScoringModel(artifact), lgb.Booster(model_str=artifact.model_text), X, y, prob
    )


@pytest.fixture(scope="module")
def cartao() -> Trained:
    return trained(*customers(40_000, seed=101))


@pytest.fixture(scope="module")
def with_missing() -> Trained:
    """A model whose training data has NaN, so its splits carry missing_type NaN."""
    X, y, prob = customers(20_000, seed=202, product="CREDIARIO")
    X = X.copy()
    X[np.random.default_rng(0).random(X.shape) < 0.05] = np.nan
    return trained(X, y, prob)


def probe_rows(model: Trained, rows: int = 50_000) -> np.ndarray:
    """Rows mixing real values, every threshold exactly, its neighbours, NaN and infinities."""
    rng = np.random.default_rng(7)
    X = model.X[rng.integers(0, len(model.X), rows)].copy()
    for j, name in enumerate(FEATURES):
        thresholds = np.asarray(model.artifact.steps[name].thresholds)
        special = np.concatenate(
            [
                thresholds,
                np.nextafter(thresholds, np.inf),
                np.nextafter(thresholds, -np.inf),
                [np.nan, np.inf, -np.inf, 0.0, -1.0],
            ]
        )
        replace = rng.random(rows) < 0.4
        X[replace, j] = rng.choice(special, replace.sum())
    return X


@pytest.mark.parametrize("fixture", ["cartao", "with_missing"])
def test_tabulated_margin_equals_lightgbm(fixture: str, request: pytest.FixtureRequest) -> None:
    model: Trained = request.getfixturevalue(fixture)
    X = probe_rows(model)
    expected = model.booster.predict(X, raw_score=True, num_threads=2)
    np.testing.assert_allclose(model.model.margin(X), expected, rtol=0, atol=1e-9)
    assert (
        np.isnan(X).any() and np.isin(X[:, 7], model.artifact.steps["late_share"].thresholds).any()
    )
    dumped = json.dumps(model.booster.dump_model())
    missing_types = set(re.findall(r'"missing_type": "(\w+)"', dumped))
    assert ("NaN" in missing_types) == (fixture == "with_missing"), missing_types


def test_contributions_equal_lightgbm_shap(cartao: Trained) -> None:
    X = probe_rows(cartao, rows=2_000)
    shap = np.asarray(cartao.booster.predict(X, pred_contrib=True))
    np.testing.assert_allclose(cartao.model.contributions(X), shap[:, :-1], rtol=0, atol=1e-9)
    np.testing.assert_allclose(cartao.artifact.bias, shap[0, -1], rtol=0, atol=1e-9)


def test_a_tree_on_two_features_is_refused() -> None:
    split: dict[str, Any] = {
        "split_feature": 0, "threshold": 1.0, "decision_type": "<=", "default_left": True,
        "missing_type": "None",
        "left_child": {"leaf_value": 0.1},
        "right_child": {
            "split_feature": 1, "threshold": 2.0, "decision_type": "<=", "default_left": True,
            "missing_type": "None", "left_child": {"leaf_value": 0.2},
            "right_child": {"leaf_value": 0.3},
        },
    }  # fmt: skip
    with pytest.raises(ValueError, match="splits on features"):
        tabulate({"tree_info": [{"tree_index": 0, "tree_structure": split}]}, 2)


MONOTONE_FEATURES = [name for name, sign in MONOTONE.items() if sign != 0]
FEATURE_RANGES = {
    "relationship_days": (0.0, 11_000.0),
    "days_since_last_purchase": (0.0, 3_000.0),
    "total_compras": (1.0, 400.0),
    "valor_total_compras": (0.01, 200_000.0),
    "ticket_medio": (0.01, 20_000.0),
    "total_pagamentos_em_dia": (0.0, 400.0),
    "total_atrasos": (0.0, 200.0),
    "late_share": (0.0, 1.0),
    "maior_atraso": (0.0, 720.0),
}
rows_strategy = st.tuples(
    *(st.floats(low, high, allow_nan=False) for low, high in FEATURE_RANGES.values())
)


@settings(max_examples=300, deadline=None)
@given(row=rows_strategy, feature=st.sampled_from(MONOTONE_FEATURES), step=st.floats(0, 500))
def test_more_late_payments_never_lower_risk(
    cartao: Trained, row: tuple[float, ...], feature: str, step: float
) -> None:
    j = FEATURES.index(feature)
    before = np.array([row])
    after = before.copy()
    after[0, j] = before[0, j] + step
    if feature == "late_share":
        after[0, j] = min(after[0, j], 1.0)
    both = np.vstack([before, after])
    for margin in (cartao.model.margin(both), cartao.booster.predict(both, raw_score=True)):
        assert MONOTONE[feature] * (margin[1] - margin[0]) >= 0


def test_holdout_auc_is_close_to_the_true_probability_auc(cartao: Trained) -> None:
    _, holdout = split_holdout(cartao.y)
    true_auc = roc_auc_score(cartao.y[holdout], cartao.prob[holdout])
    model_auc = cartao.artifact.metrics["auc"]
    assert model_auc == pytest.approx(
        roc_auc_score(cartao.y[holdout], cartao.model.predict_proba(cartao.X[holdout]))
    )
    assert true_auc - 0.03 < model_auc <= true_auc + 0.01


def test_calibrated_on_customers_it_never_saw(cartao: Trained) -> None:
    X, y, _ = customers(40_000, seed=303)
    assert abs(cartao.model.predict_proba(X).mean() - y.mean()) < 0.015


def test_metrics_and_references(cartao: Trained) -> None:
    metrics = cartao.artifact.metrics
    assert metrics["gini"] == pytest.approx(2 * metrics["auc"] - 1)
    assert 0 < metrics["ks"] < 1 and 0 < metrics["brier"] < 0.25
    assert metrics["n_train"] == 30_000 and metrics["n_holdout"] == 10_000
    # Calibrated out of fold on the training rows: none of the hold-out's 10,000.
    assert metrics["n_calibration"] == metrics["n_train"]
    assert metrics["calibration_folds"] == CALIBRATION_FOLDS
    assert metrics["default_rate"] == pytest.approx(cartao.y.mean())
    for distribution in [
        cartao.artifact.score_reference,
        *cartao.artifact.feature_reference.values(),
    ]:
        assert sum(distribution.proportions) == pytest.approx(1.0)
        assert len(distribution.proportions) == len(distribution.edges) + 1
    assert set(cartao.artifact.feature_reference) == set(FEATURES)
    assert 5 <= len(cartao.artifact.score_reference.edges) <= 9


@pytest.mark.parametrize("labels", ["outcome", "probability"])
def test_split_rows_keeps_the_holdout_apart(labels: str) -> None:
    rng = np.random.default_rng(5)
    y = (rng.random(10_001) < 0.1).astype(float) if labels == "outcome" else rng.random(10_001)
    split = split_rows(y, seed=4, stratify=labels == "outcome")
    assert len(np.intersect1d(split.train, split.holdout)) == 0
    assert np.array_equal(np.union1d(split.train, split.holdout), np.arange(len(y)))
    folds = np.concatenate(split.folds)
    assert len(split.folds) == CALIBRATION_FOLDS and len(folds) == len(np.unique(folds))
    assert np.array_equal(np.sort(folds), split.train)  # calibrated on training rows only
    assert len(split.holdout) == pytest.approx(0.25 * len(y), abs=1)
    if labels == "outcome":
        for part in (split.holdout, *split.folds):
            assert y[part].mean() == pytest.approx(y.mean(), abs=0.002)
    again, other = (split_rows(y, seed=s, stratify=labels == "outcome") for s in (4, 5))
    assert all(np.array_equal(a, b) for a, b in zip(split.folds, again.folds, strict=True))
    assert not np.array_equal(other.holdout, split.holdout)


@pytest.mark.parametrize("labels", ["outcome", "probability"])
def test_the_holdout_serves_only_the_metrics(labels: str) -> None:
    """Scrambling the hold-out's rows changes the reported figures and nothing else."""
    X, outcome, prob = customers(12_000, seed=404)
    y = outcome if labels == "outcome" else prob
    holdout = split_rows(y, stratify=labels == "outcome").holdout
    scrambled = X.copy()
    scrambled[holdout] = X[np.random.default_rng(0).permutation(holdout)]
    kept, changed = (
        train_model(rows, y, product="CARTAO", name="t", version=1, reference_date=REF)
        for rows in (X, scrambled)
    )
    assert kept.calibration == changed.calibration and kept.model_text == changed.model_text
    assert kept.metrics["n_train"] + kept.metrics["n_holdout"] == len(y)
    assert kept.metrics["auc"] > 0.7 and changed.metrics["auc"] < 0.6


def test_distribution_bins_are_right_closed() -> None:
    d = Distribution.of(np.array([1.0, 2.0, 2.0, 3.0, np.nan]), bins=2)
    assert d.edges == (2.0,)
    assert d.proportions == (0.75, 0.25)
    assert d.missing == pytest.approx(0.2)
    np.testing.assert_allclose(d.shares(np.array([2.0, 2.5])), [0.5, 0.5])


def test_artifact_round_trips_exactly(cartao: Trained, tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    cartao.artifact.save(path)
    loaded = ModelArtifact.load(path)
    assert loaded == cartao.artifact
    assert loaded.sha256() == cartao.artifact.sha256()
    import hashlib

    assert hashlib.sha256(path.read_bytes()).hexdigest() == cartao.artifact.sha256()
    X = probe_rows(cartao, rows=5_000)
    assert np.array_equal(ScoringModel(loaded).predict_proba(X), cartao.model.predict_proba(X))
    assert json.loads(path.read_text())["format_version"] == FORMAT_VERSION


def test_a_bad_file_is_refused(cartao: Trained, tmp_path: Path) -> None:
    pickled = tmp_path / "model.pkl"
    pickled.write_bytes(b"\x80\x04\x95")
    with pytest.raises(ConfigurationError):
        ModelArtifact.load(pickled)
    future = tmp_path / "future.json"
    document = cartao.artifact.to_dict() | {"format_version": FORMAT_VERSION + 1}
    future.write_text(json.dumps(document))
    with pytest.raises(ConfigurationError, match="format_version"):
        ModelArtifact.load(future)


def test_platt_recovers_known_parameters() -> None:
    rng = np.random.default_rng(1)
    margin = rng.normal(0, 2, 200_000)
    y = (rng.random(len(margin)) < 1 / (1 + np.exp(-(0.7 * margin - 1.2)))).astype(float)
    a, b = platt(margin, y)
    assert a == pytest.approx(0.7, abs=0.02) and b == pytest.approx(-1.2, abs=0.03)


def test_default_models_one_per_product() -> None:
    artifacts = train_default_models(
        ["CARTAO", "LOJA"], rows_per_product=6_000, seed=3, reference_date=REF, threads=1, version=2
    )
    assert [(a.name, a.product, a.version) for a in artifacts] == [
        ("cartao_base", "CARTAO", 2),
        ("loja_base", "LOJA", 2),
    ]
    assert all(a.metrics["auc"] > 0.65 for a in artifacts)
    assert default_model_name("Crediario") == "crediario_base"
