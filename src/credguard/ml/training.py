"""Training a product's model: additive monotone LightGBM, Platt calibration, metrics, references.

Rows are split once: a stratified hold-out (25 %) that the reported metrics are computed on and
that is used for nothing else, and the training part. The model is fitted on the whole training
part; its Platt scaling on out-of-fold margins of that same part (see :func:`split_rows`).

The model is additive on purpose: ``interaction_constraints`` of one feature per tree make each
feature's contribution a step function of that feature alone, tabulated here once so that
scoring needs nine binary searches per row (0.5 µs) instead of LightGBM's TreeSHAP (13 µs/row
here, bench/batch_scoring.py), and reason codes are exact.
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
from sklearn.metrics import brier_score_loss, roc_auc_score, roc_curve
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

from credguard.config import DEFAULT_CUTOFFS
from credguard.errors import InvalidInput
from credguard.ml import card
from credguard.ml.artifact import Distribution, ModelArtifact, StepFunction
from credguard.scoring.features import FEATURES, MONOTONE, build_features
from credguard.scoring.model import ScoringModel
from credguard.scoring.score import BANDS, band_indices, to_score

#: LightGBM parameters of the default models (num_threads and seed are added per call).
#: 150 trees × 7 leaves at 0.08: each tree is a ≤7-step function of one feature. Measured on
#: 60k synthetic customers: 300 trees, or 15 leaves, gained nothing on the hold-out (−0.000 to
#: −0.004 AUC, slightly worse Brier) and lengthened the tables; 60 trees lost up to 0.003 AUC.
DEFAULT_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.08,
    "num_leaves": 7,
    "min_data_in_leaf": 100,
    "lambda_l2": 1.0,
    "max_bin": 255,
    "monotone_constraints_method": "basic",
    "deterministic": True,
    "force_row_wise": True,
    "verbosity": -1,
}
DEFAULT_ROUNDS = 150
HOLDOUT_SHARE = 0.25
#: Folds of the training part whose out-of-fold margins fit the Platt scaling. Measured against
#: the generator's true probabilities (3 products × 200k customers, 400k fresh ones to judge):
#: out-of-fold margins came closest to the truth (mean squared error to the true probability
#: 1.15 / 1.96 / 1.58 ×1e-4) — 5 folds gave the same — while a calibration part split off the
#: training part (10, 15 or 20 % of it) fitted the trees on fewer rows and (a, b) on fewer
#: still: 1.34–1.43 / 1.97–2.28 / 1.70–1.85 ×1e-4, and up to 0.0002 less AUC. Cost: three more
#: fits on two thirds of the training part each.
CALIBRATION_FOLDS = 3


def split_holdout(
    y: np.ndarray, *, holdout_share: float = HOLDOUT_SHARE, seed: int = 0, stratify: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """(train, hold-out) row indices, stratified by outcome, deterministic for a seed."""
    rows = np.arange(len(y))
    train, holdout = train_test_split(
        rows,
        test_size=holdout_share,
        stratify=y if stratify else None,
        random_state=seed,
        shuffle=True,
    )
    return np.sort(train), np.sort(holdout)


@dataclass(frozen=True)
class Split:
    """Row indices: what the model is fitted on, what it is calibrated on, what it is judged on."""

    train: np.ndarray  # the trees are fitted on all of these
    holdout: np.ndarray  # the reported metrics, and nothing else
    folds: tuple[np.ndarray, ...]  # a partition of ``train``; Platt sees each fold's margins
    # from trees fitted on the other folds, so (a, b) is fitted on rows the trees never saw


def split_rows(
    y: np.ndarray, *, seed: int = 0, stratify: bool = True, folds: int = CALIBRATION_FOLDS
) -> Split:
    """Hold-out, training part and the training part's calibration folds, deterministic for a seed.

    Stratified by outcome when ``stratify`` (0/1 labels); probability labels are split at random.
    """
    train, holdout = split_holdout(y, seed=seed, stratify=stratify)
    splitter = (
        StratifiedKFold(folds, shuffle=True, random_state=seed)
        if stratify
        else KFold(folds, shuffle=True, random_state=seed)
    )
    parts = tuple(np.sort(train[out]) for _, out in splitter.split(train, y[train]))
    return Split(train=train, holdout=holdout, folds=parts)


def train_model(
    X: np.ndarray,
    y: np.ndarray,
    *,
    product: str,
    name: str,
    version: int,
    reference_date: date | None = None,
    num_threads: int = 2,
    seed: int = 0,
    num_boost_round: int = DEFAULT_ROUNDS,
    params: Mapping[str, Any] | None = None,
    created_at: datetime | None = None,
    cutoffs: tuple[int, int, int, int] = DEFAULT_CUTOFFS,
) -> ModelArtifact:
    """Train, calibrate, evaluate and tabulate the model of one product.

    ``y`` holds observed 0/1 outcomes, or probabilities in [0, 1] (trained with LightGBM's
    cross-entropy objective, evaluated as expectations: see :func:`evaluate`).
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != len(FEATURES) or len(y) != len(X):
        raise ValueError(f"expected X (rows, {len(FEATURES)}) and y (rows,), got {X.shape}")
    if not ((y >= 0.0) & (y <= 1.0)).all() or y.min() == y.max():
        raise ValueError("y must hold outcomes (0/1) or probabilities in [0, 1], not all equal")
    binary = bool(np.isin(y, (0.0, 1.0)).all())
    split = split_rows(y, seed=seed, stratify=binary)
    train, holdout = split.train, split.holdout
    full_params = {
        **DEFAULT_PARAMS,
        "objective": "binary" if binary else "cross_entropy",
        **(params or {}),
        "monotone_constraints": [MONOTONE[f] for f in FEATURES],
        "interaction_constraints": [[i] for i in range(len(FEATURES))],
        "num_threads": num_threads,
        "seed": seed,
    }
    dataset = lgb.Dataset(X[train], label=y[train], feature_name=list(FEATURES))
    booster = lgb.train(full_params, dataset, num_boost_round=num_boost_round)
    calibration = platt(
        _out_of_fold_margins(X, y, split, full_params, num_boost_round), y[split.train]
    )

    intercept, tables = tabulate(booster.dump_model(), len(FEATURES))
    steps = {
        name_: _with_mean(thresholds, values, missing, X[train, j])
        for j, (name_, (thresholds, values, missing)) in enumerate(
            zip(FEATURES, tables, strict=True)
        )
    }
    artifact = ModelArtifact(
        name=name,
        version=version,
        product=product,
        features=FEATURES,
        created_at=created_at or datetime.now(UTC),
        model_text=booster.model_to_string(),
        steps=steps,
        intercept=intercept,
        calibration=calibration,
        metrics={},
        score_reference=Distribution(edges=(), proportions=(1.0,), missing=0.0),
        feature_reference={},
        params={k: v for k, v in full_params.items() if k != "num_threads"},
        reference_date=reference_date,
    )
    scorer = ScoringModel(artifact)
    holdout_prob = scorer.predict_proba(X[holdout])
    metrics: dict[str, Any] = evaluate(y[holdout], holdout_prob)
    metrics.update(
        n_train=float(len(train)),
        n_calibration=float(sum(len(fold) for fold in split.folds)),
        calibration_folds=len(split.folds),
        n_holdout=float(len(holdout)),
        default_rate=float(y.mean()),
        label="outcome" if binary else "probability",
        calibration_by_band=calibration_by_band(y[holdout], holdout_prob, cutoffs),
        roc_curve=roc_points(y[holdout], holdout_prob),
    )
    return ModelArtifact(
        **{
            **artifact.__dict__,
            "metrics": metrics,
            "score_reference": Distribution.of(
                to_score(scorer.predict_proba(X[train])).astype(np.float64)
            ),
            "feature_reference": {f: Distribution.of(X[train, j]) for j, f in enumerate(FEATURES)},
        }
    )


def _out_of_fold_margins(
    X: np.ndarray,
    y: np.ndarray,
    split: Split,
    params: Mapping[str, Any],
    num_boost_round: int,
) -> np.ndarray:
    """Margins of the training rows, in ``split.train``'s order, each from trees not fitted on it."""
    margins = np.empty(len(X))
    for fold in split.folds:
        rest = np.setdiff1d(split.train, fold, assume_unique=True)
        dataset = lgb.Dataset(X[rest], label=y[rest], feature_name=list(FEATURES))
        booster = lgb.train(dict(params), dataset, num_boost_round=num_boost_round)
        margins[fold] = booster.predict(
            X[fold], raw_score=True, num_threads=int(params["num_threads"])
        )
    return np.asarray(margins[split.train], dtype=np.float64)


def tabulate(
    dump: Mapping[str, Any], n_features: int
) -> tuple[float, list[tuple[tuple[float, ...], tuple[float, ...], float]]]:
    """Intercept and, per feature, (thresholds, values, NaN value) of an additive booster's dump.

    Every tree must split on one feature only. For each feature, its trees' split thresholds
    t0 < t1 < … cut the line into bins (-inf, t0], (t0, t1], …, (t_last, +inf) on which all its
    trees are constant; each bin is evaluated at its right end (t_i itself, or +inf), where
    every split decides as it does for the whole bin.
    """
    intercept = 0.0
    trees_of: list[list[Mapping[str, Any]]] = [[] for _ in range(n_features)]
    for tree in dump["tree_info"]:
        root = tree["tree_structure"]
        if "leaf_value" in root:
            intercept += float(root["leaf_value"])
            continue
        splits = list(_splits(root))
        used = {int(node["split_feature"]) for node in splits}
        if len(used) != 1:
            raise ValueError(f"tree {tree['tree_index']} splits on features {sorted(used)}")
        trees_of[used.pop()].append(root)

    tables = []
    for trees in trees_of:
        thresholds = np.unique(
            np.array([float(n["threshold"]) for t in trees for n in _splits(t)], dtype=np.float64)
        )
        points = np.append(thresholds, [np.inf, np.nan])
        total = np.zeros(len(points))
        for root in trees:
            total += _evaluate(root, points)
        tables.append(
            (
                tuple(float(t) for t in thresholds),
                tuple(float(v) for v in total[:-1]),
                float(total[-1]),
            )
        )
    return intercept, tables


def _splits(node: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    if "leaf_value" in node:
        return []
    return [node, *_splits(node["left_child"]), *_splits(node["right_child"])]


def _evaluate(node: Mapping[str, Any], x: np.ndarray) -> np.ndarray:
    """LightGBM's numerical decision (tree.h, NumericalDecision) on an array of values."""
    if "leaf_value" in node:
        return np.full(len(x), float(node["leaf_value"]))
    if node["decision_type"] != "<=":
        raise ValueError(f"unsupported decision type {node['decision_type']!r}")
    missing_type = node["missing_type"]
    threshold = float(node["threshold"])
    nan = np.isnan(x)
    if missing_type == "NaN":
        left = np.where(nan, bool(node["default_left"]), x <= threshold)
    elif missing_type == "None":
        left = np.where(nan, 0.0, x) <= threshold  # LightGBM reads NaN as 0 here
    else:  # "Zero" (zero_as_missing) would need extra breakpoints around 0; never configured
        raise ValueError(f"unsupported missing type {missing_type!r}")
    return np.where(left, _evaluate(node["left_child"], x), _evaluate(node["right_child"], x))


def _with_mean(
    thresholds: tuple[float, ...], values: tuple[float, ...], missing: float, column: np.ndarray
) -> StepFunction:
    looked_up = np.asarray(values)[np.searchsorted(np.asarray(thresholds), column)]
    looked_up = np.where(np.isnan(column), missing, looked_up)
    return StepFunction(thresholds, values, missing, float(looked_up.mean()))


def platt(margin: np.ndarray, y: np.ndarray, *, iterations: int = 50) -> tuple[float, float]:
    """Platt scaling (a, b) by Newton's method: p = sigmoid(a·margin + b), maximum likelihood."""
    a, b = 1.0, 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(a * margin + b)))
        w = p * (1.0 - p)
        gradient = np.array([np.dot(p - y, margin), np.sum(p - y)])
        hessian = np.array(
            [[np.dot(w, margin * margin), np.dot(w, margin)], [np.dot(w, margin), np.sum(w)]]
        )
        step = np.linalg.solve(hessian + 1e-12 * np.eye(2), gradient)
        a, b = a - float(step[0]), b - float(step[1])
        if np.abs(step).max() < 1e-12:
            break
    return a, b


def _as_outcomes(
    y: np.ndarray, prob: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Probability labels as weighted outcomes: each row a default with weight y, else 1 - y."""
    if np.isin(y, (0.0, 1.0)).all():
        return y, prob, None
    rows = len(y)
    return (
        np.concatenate([np.ones(rows), np.zeros(rows)]),
        np.concatenate([prob, prob]),
        np.concatenate([y, 1.0 - y]),
    )


def roc_points(y: np.ndarray, prob: np.ndarray, points: int = 60) -> dict[str, list[float]]:
    """The ROC curve at about ``points`` thresholds, with each threshold as a score."""
    y, prob, weight = _as_outcomes(y, prob)
    fpr, tpr, thresholds = roc_curve(y, prob, sample_weight=weight)
    keep = np.unique(np.linspace(0, len(fpr) - 1, points).round().astype(int))
    return {
        "fpr": [float(v) for v in fpr[keep]],
        "tpr": [float(v) for v in tpr[keep]],
        "score": [float(v) for v in to_score(np.clip(thresholds[keep], 0.0, 1.0))],
    }


def evaluate(y: np.ndarray, prob: np.ndarray) -> dict[str, float]:
    """AUC, Gini, KS, Brier score, mean predicted and observed default rate.

    With probability labels each row counts as a default with weight ``y`` and as a good
    customer with weight ``1 - y``: the figures are what outcomes drawn from those
    probabilities would give on average.
    """
    y, prob, weight = _as_outcomes(y, prob)
    auc = float(roc_auc_score(y, prob, sample_weight=weight))
    fpr, tpr, _ = roc_curve(y, prob, sample_weight=weight)
    return {
        "auc": auc,
        "gini": 2.0 * auc - 1.0,
        "ks": float(np.max(tpr - fpr)),
        "brier": float(brier_score_loss(y, prob, sample_weight=weight)),
        "mean_predicted": float(np.average(prob, weights=weight)),
        "observed_default_rate": float(np.average(y, weights=weight)),
    }


def calibration_by_band(
    y: np.ndarray, prob: np.ndarray, cutoffs: tuple[int, int, int, int]
) -> list[dict[str, Any]]:
    """Per band A–E: customers, mean predicted and observed default rate (mean label)."""
    bands = band_indices(to_score(prob), cutoffs)
    rows = []
    for index, band in enumerate(BANDS):
        mask = bands == index
        count = int(mask.sum())
        rows.append(
            {
                "band": band,
                "n": count,
                "mean_predicted": float(prob[mask].mean()) if count else None,
                "observed": float(y[mask].mean()) if count else None,
            }
        )
    return rows


def default_model_name(product: str) -> str:
    """Name of a product's default model, e.g. ``cartao_base``."""
    return f"{product.lower()}_base"


def train_default_models(
    products: Sequence[str],
    *,
    rows_per_product: int,
    seed: int,
    reference_date: date,
    threads: int = 2,
    version: int = 1,
) -> list[ModelArtifact]:
    """One model per product, trained on synthetic customers, named ``<product>_base``."""
    from credguard.synth import generator  # synthetic data only for these default models

    artifacts = []
    for product in products:
        # Per-product seed: adding or reordering products leaves the others' models unchanged.
        product_seed = seed ^ zlib.crc32(product.encode())
        raw = generator.generate(
            rows_per_product,
            seed=product_seed,
            products=[product],
            reference_date=reference_date,
            dirty_share=0.0,
        )
        frame = generator.normalise(raw)
        X = build_features(frame, reference_date)
        y = frame[generator.OUTCOME_COLUMN].to_numpy()
        started = time.perf_counter()
        artifact = train_model(
            X, y, product=product, name=default_model_name(product), version=version,
            reference_date=reference_date, num_threads=threads, seed=seed,
        )  # fmt: skip
        artifact.metrics["training_seconds"] = time.perf_counter() - started
        artifacts.append(artifact)
    return artifacts


PROBABILITY_LABEL_WARNING = (
    "the labels are probabilities, not observed defaults: the model learns the previous "
    "model's opinion (the runbook exports scoreProbInadimplencia); train on observed outcomes "
    "to learn from what happened"
)


def train_file(
    path: Path,
    output: Path,
    *,
    product: str,
    label: str = "label",
    reference_date: date | None = None,
    cutoffs: tuple[int, int, int, int] = DEFAULT_CUTOFFS,
    threads: int = 2,
    seed: int = 0,
) -> tuple[ModelArtifact, dict[str, Any]]:
    """Train ``product``'s model on a training file; write it and ``metrics.json`` beside it.

    The model file is CredGuard's JSON artefact whatever ``output``'s extension (the runbook
    names it ``new_model.pkl``): no pickle is ever written or read. The model card
    (``model_card.html``) goes beside them. Returns the artefact and what ``metrics.json`` holds.
    """
    from credguard.ml import dataset  # Polars and the CSV contract: not needed to score

    started = time.perf_counter()
    data = dataset.load_training_data(
        path, product=product, label=label, reference_date=reference_date
    )
    if len(data.y) < 200:
        raise InvalidInput(
            f"only {len(data.y)} usable rows of {product}: too few to train and hold some out"
        )
    artifact = train_model(
        data.X, data.y, product=product, name=f"{product.lower()}_candidate", version=0,
        reference_date=data.reference_date, num_threads=threads, seed=seed, cutoffs=cutoffs,
    )  # fmt: skip
    artifact.metrics["training_seconds"] = time.perf_counter() - started
    warnings = [PROBABILITY_LABEL_WARNING] if data.probability_labels else []
    metrics = {
        "product": product,
        "input": str(path),
        "reference_date": data.reference_date.isoformat(),
        "rows_read": data.rows_read,
        "rows_dropped": data.rows_dropped,
        **artifact.metrics,
        "reference": artifact.to_dict()["reference"],
        "warnings": warnings,
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    artifact.save(output)
    (output.parent / METRICS_FILE).write_text(
        json.dumps(metrics, indent=2, ensure_ascii=False, allow_nan=False) + "\n", "utf-8"
    )
    card.write_card(output.parent / card.CARD_FILE, metrics, model_sha256=artifact.sha256())
    return artifact, metrics


#: Written beside every trained model; the runbook's register step reads it.
METRICS_FILE = "metrics.json"
