"""Benchmark: model quality against known truth, and training time.

    python bench/model_quality.py [--rows 200000] [--time-rows 1000000]

For each product, synthetic customers whose true default probability the generator knows are
drawn; the model is trained as ``credguard models train`` trains it (monotone additive LightGBM,
25 % stratified hold-out, Platt calibration on out-of-fold margins of the other 75 %) and compared
on the same hold-out, which served nothing but these figures, with the oracle, which scores every
customer with the true probability:

- hold-out AUC against the oracle's (target: at least the oracle's − 0.01);
- Brier score against the oracle's (target: at most 1.02 × the oracle's);
- per band A–E, the observed default rate inside the 95 % binomial interval of the predicted one
  (the oracle takes the same test in the same bands, its prediction being the band's mean true
  probability: where both fall outside, the sample's outcomes, not the model, are off). Fifteen
  95 % tests fail at least once about half the time even for a perfect model, so the test is
  repeated on ``--draws`` samples of fresh customers and the misses counted for both.

Then one model is trained on ``--time-rows`` rows, and the training time printed (target ≤ 60 s
on 2 cores).
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from sklearn.metrics import brier_score_loss, roc_auc_score

from credguard.config import DEFAULT_CUTOFFS
from credguard.db.base import utcnow
from credguard.ml.training import split_holdout, train_model
from credguard.scoring.features import build_features
from credguard.scoring.model import ScoringModel
from credguard.scoring.score import BANDS, band_indices, to_score
from credguard.synth import generator

PRODUCTS = ("CARTAO", "EMPRESTIMO", "CREDIARIO")


def customers(rows: int, product: str, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    today = utcnow().date()
    frame = generator.normalise(
        generator.generate(rows, seed=seed, products=[product], reference_date=today, dirty_share=0)
    )
    return (
        build_features(frame, today),
        frame[generator.OUTCOME_COLUMN].to_numpy().astype(np.float64),
        frame[generator.PROB_COLUMN].to_numpy(),
    )


def band_check(y: np.ndarray, prob: np.ndarray, truth: np.ndarray) -> tuple[list[str], int, int]:
    """Per band: observed vs predicted default rate and whether it is in the 95 % interval.

    The oracle takes the same test in the same bands (its prediction: the band's mean true
    probability). Also returns how many bands each missed.
    """
    bands = band_indices(to_score(prob), DEFAULT_CUTOFFS)
    lines, missed, oracle_missed = [], 0, 0
    for index, band in enumerate(BANDS):
        mask = bands == index
        n = int(mask.sum())
        if n == 0:
            lines.append(f"    band {band}: no customers")
            continue
        observed = float(y[mask].mean())
        inside, predicted, half = _inside(observed, prob[mask])
        oracle_inside, true_rate, _ = _inside(observed, truth[mask])
        missed += not inside
        oracle_missed += not oracle_inside
        lines.append(
            f"    band {band}: {n:>7,} customers, predicted {predicted:.4f}, observed {observed:.4f}"
            f" (95 % interval ±{half:.4f}) {'ok' if inside else 'OUTSIDE'};"
            f" oracle {true_rate:.4f} {'ok' if oracle_inside else 'OUTSIDE'}"
        )
    return lines, missed, oracle_missed


def _inside(observed: float, prob: np.ndarray) -> tuple[bool, float, float]:
    # The observed rate of n customers with these probabilities: sd of a sum of Bernoullis.
    predicted = float(prob.mean())
    half = 1.96 * math.sqrt(float((prob * (1 - prob)).sum())) / len(prob)
    return abs(observed - predicted) <= half, predicted, half


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=200_000, help="customers per product")
    parser.add_argument("--time-rows", type=int, default=1_000_000, help="rows of the timed run")
    parser.add_argument(
        "--draws",
        type=int,
        default=5,
        help="samples the band test is repeated on (the hold-out, then fresh customers)",
    )
    args = parser.parse_args()
    for seed, product in enumerate(PRODUCTS, start=1):
        X, y, truth = customers(args.rows, product, seed)
        artifact = train_model(X, y, product=product, name="bench", version=1)
        _, holdout = split_holdout(y)  # the hold-out train_model used (same seed)
        assert len(holdout) == artifact.metrics["n_holdout"]
        prob = ScoringModel(artifact).predict_proba(X[holdout])
        y_h, truth_h = y[holdout], truth[holdout]
        auc, oracle_auc = roc_auc_score(y_h, prob), roc_auc_score(y_h, truth_h)
        brier, oracle_brier = brier_score_loss(y_h, prob), brier_score_loss(y_h, truth_h)
        print(
            f"{product}: {args.rows:,} customers, hold-out {len(holdout):,}, calibrated on"
            f" {artifact.metrics['n_calibration']:,.0f} (out of fold)\n"
            f"  AUC {auc:.4f} vs oracle {oracle_auc:.4f} (difference {auc - oracle_auc:+.4f};"
            f" target ≥ −0.01) {'ok' if auc >= oracle_auc - 0.01 else 'MISSED'}\n"
            f"  Brier {brier:.5f} vs oracle {oracle_brier:.5f} (ratio {brier / oracle_brier:.4f};"
            f" target ≤ 1.02) {'ok' if brier <= 1.02 * oracle_brier else 'MISSED'}"
        )
        lines, missed, oracle_missed = band_check(y_h, prob, truth_h)
        print("\n".join(lines))
        for extra in range(1, args.draws):
            # Fresh customers of the same product: how often does a band fall outside by chance?
            X2, y2, truth2 = customers(len(holdout), product, 1000 * seed + extra)
            _, m, o = band_check(y2, ScoringModel(artifact).predict_proba(X2), truth2)
            missed, oracle_missed = missed + m, oracle_missed + o
        if args.draws > 1:
            tests = args.draws * len(BANDS)
            print(
                f"  over {args.draws} samples of {len(holdout):,}: {missed} of {tests} band tests"
                f" outside the 95 % interval (oracle: {oracle_missed}; by chance alone ≈"
                f" {0.05 * tests:.1f})"
            )
    X, y, _ = customers(args.time_rows, "CARTAO", 99)
    started = time.perf_counter()
    train_model(X, y, product="CARTAO", name="bench", version=1)
    took = time.perf_counter() - started
    print(
        f"training on {args.time_rows:,} rows: {took:.1f} s (target ≤ 60 s)"
        f" {'ok' if took <= 60 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
