"""Drift statistics on arrays: score PSI, feature drift, performance, statuses. No I/O.

**Bins.** Every quantity is compared on the bins frozen with the production model
(:class:`~credguard.ml.artifact.Distribution`): decile edges of the training population, the first
bin open to −∞ and the last to +∞, tied deciles merged; missing values (NaN) are a bin of their
own, used when either side has any.

**PSI and its smoothing.** With ``c_i`` the window's count in bin ``i`` (``n`` in all), ``P_i``
the reference share and ``N`` the reference sample (the model's ``n_train``), and ``k`` bins,
both sides get half a customer added to every bin::

    q_i = (c_i + ½) / (n + k/2)        p_i = (P_i·N + ½) / (N + k/2)
    PSI = Σ (q_i − p_i) · ln(q_i / p_i)

so an empty bin on either side gives a finite PSI (never inf or NaN), and both sides are
treated the same way (Jeffreys' add-½ prior on a multinomial). Shown shares are the raw ones.

**Is a PSI noise?** With no drift, PSI ≈ (1/n + 1/N) · χ²(k − 1) (the symmetric divergence is
twice the log-likelihood ratio of two samples from one population), so the value a PSI exceeds
by chance one time in twenty is ``critical = χ²₀.₉₅(k − 1) · (1/n + 1/N)``. It is shown beside
the runbook's 0.10 / 0.25, which decide the status: < 0.10 stable, 0.10–0.25 attention,
> 0.25 action. Below ``min_sample`` customers a window is ``insufficient_sample``, not an alarm.

**Feature drift, in percent** (the runbook never defines it): the total variation distance
between the reference and the window's bin shares, ×100 — the share of the window's customers
who would have to move to another bin for the window to look like the training population.
0 % is identical, 100 % disjoint. Above ``feature_threshold_pct`` (20 %) a feature is flagged,
and a flagged feature means action. Each feature's PSI is given too.

**Performance.** Judged on the runbook's *accuracy* at the band cut-off (customers in the
cut-off band or riskier are predicted to default; accuracy is the share predicted right) and on
AUC; Gini, KS, Brier and calibration by band are shown. Observed figures come from outcomes;
*estimated* ones from the model's calibrated probabilities, each customer counting as a default
with weight p and as a good customer with weight 1 − p (what outcomes drawn from those
probabilities would give on average; ``training._as_outcomes``). A relative drop from the
model's baseline above ``performance_drop`` (5 %) — the runbook's rule, on the point
estimate — that is also significantly above zero (the lower end of its one-sided 95 %
confidence interval > 0; Hanley–McNeil for AUC, binomial for accuracy, the window's and the
baseline hold-out's noise together) is action on observed outcomes; a drop above the threshold
that noise could explain is attention. (Requiring the interval's lower end itself above 5 %
would make the effective threshold 7–14 %, never the runbook's 5 %.) An estimate assumes the calibration still holds — what
drift may break — so it can raise attention, never action.

**Overall status**: the worst of the parts that could be judged (stable < attention < action);
``insufficient_sample`` when none could.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
from scipy.stats import chi2

from credguard.ml import training
from credguard.ml.artifact import Distribution, ModelArtifact
from credguard.scoring.features import FEATURES
from credguard.scoring.score import BANDS, band_indices, to_score

#: Runbook 2.3: PSI below this is stable; from it up to PSI_ACTION, attention.
PSI_ATTENTION = 0.10
#: Runbook 2.3: PSI above this needs action.
PSI_ACTION = 0.25
#: Confidence of the chi-square critical PSI and of the "beyond noise" test of performance drops.
CONFIDENCE = 0.95
_Z_ONE_SIDED = 1.6448536269514722  # standard normal quantile at CONFIDENCE
#: Performance figures whose relative drop decides the status (the others are shown).
JUDGED_METRICS = ("auc", "accuracyAtCutoff")
#: Highest 0–1000 score.
MAX_SCORE = 1000

PSI_DEFINITION = (
    "PSI = Σ (q−p)·ln(q/p) over the model's frozen bins, both sides smoothed by adding ½ "
    "customer to every bin (reference counts = share × training sample); < 0.10 stable, "
    "0.10–0.25 attention, > 0.25 action. psiCritical: the PSI that sampling noise alone "
    "exceeds 5 % of the time, χ²0.95(bins−1)·(1/n + 1/N)."
)
FEATURE_DEFINITION = (
    "Feature drift % = total variation distance between the reference and current bin shares "
    "× 100: the share of customers who would have to move bin for the window to look like "
    "the training population. Above the threshold the feature is flagged (action)."
)
PERFORMANCE_DEFINITION = (
    "Relative drop = (baseline − window) / baseline of AUC and of accuracy at the cut-off "
    "(customers in the cut-off band or riskier predicted to default). Above the threshold and "
    "significantly above 0 (the lower end of its one-sided 95 % confidence interval > 0): "
    "action on observed outcomes; above it but within noise, or on an estimate: attention. "
    "Estimates count each customer as a "
    "default with weight p and as a good customer with weight 1 − p."
)


class Status(StrEnum):
    """Verdict of a part or of a whole result."""

    STABLE = "stable"
    ATTENTION = "attention"
    ACTION = "action"
    INSUFFICIENT_SAMPLE = "insufficient_sample"


_SEVERITY = {Status.STABLE: 0, Status.ATTENTION: 1, Status.ACTION: 2}


def worst(statuses: Sequence[Status]) -> Status:
    """The most severe judged status; ``insufficient_sample`` only when nothing was judged."""
    judged = [s for s in statuses if s in _SEVERITY]
    return max(judged, key=_SEVERITY.__getitem__) if judged else Status.INSUFFICIENT_SAMPLE


def psi_status(psi: float) -> Status:
    """The runbook's verdict on a PSI (the sample size is checked by the caller)."""
    if psi > PSI_ACTION:
        return Status.ACTION
    if psi >= PSI_ATTENTION:
        return Status.ATTENTION
    return Status.STABLE


@dataclass(frozen=True)
class Thresholds:
    """What turns figures into statuses (from the settings; see the README)."""

    min_sample: int = 500
    feature_threshold_pct: float = 20.0
    performance_drop: float = 0.05
    cutoff_band: str = "D"
    cutoffs: tuple[int, int, int, int] = (950, 900, 850, 750)

    @property
    def cutoff_index(self) -> int:
        """Index (0 = A … 4 = E) of the first band predicted to default."""
        return BANDS.index(self.cutoff_band)


@dataclass(frozen=True)
class Reference:
    """What a window is compared with: the production model's frozen bins and its baseline."""

    score: Distribution
    features: Mapping[str, Distribution]
    n: int  #: training sample size behind the bins
    baseline: Mapping[str, Any]  #: the model's metrics (hold-out figures)
    n_assumed: bool = False  #: the model recorded no sample size; ``n`` is a stand-in

    @classmethod
    def of(cls, artifact: ModelArtifact, metrics: Mapping[str, Any] | None = None) -> Reference:
        """The reference of a model; ``metrics`` default to the artefact's own."""
        figures = dict(artifact.metrics if metrics is None else metrics)
        n_train = figures.get("n_train")
        return cls(
            score=artifact.score_reference,
            features=dict(artifact.feature_reference),
            n=int(n_train) if n_train else 0,
            baseline=figures,
            n_assumed=not n_train,
        )


# --- bins -----------------------------------------------------------------------------------


def bin_index(values: np.ndarray, distribution: Distribution) -> np.ndarray:
    """Bin of each value: 0 … len(edges) for present values, len(edges) + 1 for NaN."""
    values = np.asarray(values, dtype=np.float64)
    edges = np.asarray(distribution.edges, dtype=np.float64)
    index = np.searchsorted(edges, values, side="left").astype(np.int16)
    index[np.isnan(values)] = len(edges) + 1
    return index


def bin_counts(index: np.ndarray, distribution: Distribution) -> np.ndarray:
    """Customers per bin (the last one: missing values) of :func:`bin_index`'s output."""
    return np.bincount(index, minlength=len(distribution.edges) + 2).astype(np.int64)


def reference_shares(distribution: Distribution) -> np.ndarray:
    """Reference share of every bin over all values, the last one being the missing share."""
    present = np.asarray(distribution.proportions, dtype=np.float64) * (1.0 - distribution.missing)
    return np.append(present, distribution.missing)


@dataclass(frozen=True)
class Comparison:
    """A window's bins against the reference's: shares, PSI, its noise level, drift %."""

    edges: tuple[float, ...]
    reference: np.ndarray  #: raw shares per bin (missing last, when used)
    current: np.ndarray
    n: int
    n_reference: int
    psi: float | None  #: None for an empty window
    critical: float | None
    drift_pct: float | None
    with_missing: bool

    def to_json(self) -> dict[str, Any]:
        bins = len(self.edges) + 1
        return {
            "edges": list(self.edges),
            "referenceShares": _rounded(self.reference[:bins]),
            "currentShares": _rounded(self.current[:bins]),
            "missing": {
                "reference": _round(float(self.reference[bins])) if self.with_missing else 0.0,
                "current": _round(float(self.current[bins])) if self.with_missing else 0.0,
            },
            "n": self.n,
            "nReference": self.n_reference,
            "psi": _round(self.psi),
            "psiCritical": _round(self.critical),
            "withinNoise": None
            if self.psi is None or self.critical is None
            else self.psi <= self.critical,
        }


def compare(counts: np.ndarray, distribution: Distribution, n_reference: int) -> Comparison:
    """Compare a window's bin counts (:func:`bin_counts`) with the reference distribution.

    ``n_reference`` is the reference's sample size: its counts are share × ``n_reference``.
    """
    counts = np.asarray(counts, dtype=np.float64)
    reference = reference_shares(distribution)
    with_missing = bool(distribution.missing > 0.0 or counts[-1] > 0)
    if not with_missing:
        counts, reference = counts[:-1], reference[:-1]
    n = float(counts.sum())
    if n == 0:
        return Comparison(
            distribution.edges, reference, np.zeros_like(reference), 0, n_reference,
            None, None, None, with_missing,
        )  # fmt: skip
    current = counts / n
    psi, critical = smoothed_psi(counts, reference, n_reference)
    drift = 50.0 * float(np.abs(current - reference).sum())  # TVD × 100
    return Comparison(
        distribution.edges, reference, current, int(n), n_reference, psi, critical,
        drift, with_missing,
    )  # fmt: skip


def smoothed_psi(
    counts: np.ndarray, reference: np.ndarray, n_reference: int
) -> tuple[float, float]:
    """(PSI, 95 % critical PSI) of bin counts against reference shares, add-½ smoothed."""
    bins = len(counts)
    n = float(np.sum(counts))
    q = (np.asarray(counts, dtype=np.float64) + 0.5) / (n + 0.5 * bins)
    p = (np.asarray(reference, dtype=np.float64) * n_reference + 0.5) / (n_reference + 0.5 * bins)
    psi = float(np.sum((q - p) * np.log(q / p)))
    critical = psi_critical(bins, int(n), n_reference)
    return max(psi, 0.0), critical


def psi_critical(bins: int, n: int, n_reference: int) -> float:
    """PSI that noise alone exceeds with 5 % chance: χ²₀.₉₅(bins − 1) · (1/n + 1/N)."""
    if bins < 2 or n <= 0 or n_reference <= 0:
        return 0.0
    return float(chi2.ppf(CONFIDENCE, bins - 1) * (1.0 / n + 1.0 / n_reference))


# --- a window -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """A window's customers as bin indices, scores and probabilities, ready to be split by scope.

    ``score_bins``/``score``/``prob`` cover the rows scored by the reference's model
    (``scored``); ``feature_bins`` cover every row (features do not depend on the model).
    """

    feature_bins: np.ndarray  #: (rows, features) int16
    scored: np.ndarray  #: bool per row
    score_bins: np.ndarray  #: int16 per row (meaningful where ``scored``)
    score: np.ndarray  #: int64 0–1000 per row
    prob: np.ndarray  #: float64 per row

    @classmethod
    def of(
        cls,
        reference: Reference,
        X: np.ndarray,
        score: np.ndarray,
        prob: np.ndarray,
        scored: np.ndarray | None = None,
    ) -> Window:
        """Bin a feature matrix (:data:`FEATURES` columns) and the rows' scores."""
        X = np.asarray(X, dtype=np.float64)
        bins = np.empty(X.shape, dtype=np.int16)
        for j, name in enumerate(FEATURES):
            bins[:, j] = bin_index(X[:, j], reference.features[name])
        score = np.asarray(score)
        clean = np.nan_to_num(np.asarray(score, dtype=np.float64), nan=-1.0)
        return cls(
            feature_bins=bins,
            scored=np.ones(len(X), dtype=bool) if scored is None else np.asarray(scored, bool),
            score_bins=bin_index(clean, reference.score),
            score=np.clip(clean, 0, MAX_SCORE).astype(np.int64),
            prob=np.nan_to_num(np.asarray(prob, dtype=np.float64), nan=0.0),
        )

    def subset(self, rows: np.ndarray) -> Window:
        """The rows selected by an index or mask."""
        return Window(
            self.feature_bins[rows], self.scored[rows], self.score_bins[rows],
            self.score[rows], self.prob[rows],
        )  # fmt: skip

    def __len__(self) -> int:
        return len(self.scored)


@dataclass(frozen=True)
class Outcomes:
    """Observed outcomes (0/1) of scores of the reference's model, with their probabilities."""

    defaulted: np.ndarray
    prob: np.ndarray

    def subset(self, rows: np.ndarray) -> Outcomes:
        return Outcomes(self.defaulted[rows], self.prob[rows])

    def __len__(self) -> int:
        return len(self.defaulted)


@dataclass(frozen=True)
class Assessment:
    """One scope's drift: figures and statuses, and the JSON parts stored and served."""

    n: int  #: customers in the window (all rows, for features)
    n_scored: int  #: of which scored by the reference's model (score PSI, estimate)
    psi: float | None
    psi_critical: float | None
    psi_status: Status
    feature_status: Status
    performance_status: Status
    status: Status
    score_distribution: dict[str, Any] = field(repr=False)
    feature_drift: dict[str, Any] = field(repr=False)
    performance: dict[str, Any] = field(repr=False)


def assess(
    reference: Reference,
    thresholds: Thresholds,
    window: Window,
    outcomes: Outcomes | None = None,
) -> Assessment:
    """Score PSI, feature drift, performance and the overall status of one window."""
    n_reference = reference.n if not reference.n_assumed else max(int(window.scored.sum()), 1)
    scored = window.subset(window.scored) if not window.scored.all() else window
    score = compare(bin_counts(scored.score_bins, reference.score), reference.score, n_reference)
    enough = score.n >= thresholds.min_sample
    psi_verdict = (
        psi_status(score.psi) if enough and score.psi is not None else Status.INSUFFICIENT_SAMPLE
    )
    score_json = {
        **score.to_json(),
        "status": psi_verdict.value,
        "nReferenceAssumed": reference.n_assumed,
        "thresholds": {"attention": PSI_ATTENTION, "action": PSI_ACTION},
        "minSample": thresholds.min_sample,
        "definition": PSI_DEFINITION,
    }

    features, feature_verdict = _features(reference, thresholds, window)
    performance = _performance(reference, thresholds, scored, outcomes)
    performance_verdict = Status(performance["status"])
    return Assessment(
        n=len(window),
        n_scored=score.n,
        psi=score.psi,
        psi_critical=score.critical,
        psi_status=psi_verdict,
        feature_status=feature_verdict,
        performance_status=performance_verdict,
        status=worst([psi_verdict, feature_verdict, performance_verdict]),
        score_distribution=score_json,
        feature_drift=features,
        performance=performance,
    )


def _features(
    reference: Reference, thresholds: Thresholds, window: Window
) -> tuple[dict[str, Any], Status]:
    n = len(window)
    n_reference = reference.n if not reference.n_assumed else max(n, 1)
    enough = n >= thresholds.min_sample
    rows = []
    flagged = []
    for j, name in enumerate(FEATURES):
        distribution = reference.features[name]
        comparison = compare(
            bin_counts(window.feature_bins[:, j], distribution), distribution, n_reference
        )
        is_flagged = bool(
            enough
            and comparison.drift_pct is not None
            and comparison.drift_pct > thresholds.feature_threshold_pct
        )
        if is_flagged:
            flagged.append(name)
        rows.append(
            {"feature": name, "driftPct": _round(comparison.drift_pct), "flagged": is_flagged}
            | comparison.to_json()
        )
    status = (
        Status.INSUFFICIENT_SAMPLE if not enough else Status.ACTION if flagged else Status.STABLE
    )
    return {
        "status": status.value,
        "n": n,
        "thresholdPct": thresholds.feature_threshold_pct,
        "flagged": flagged,
        "maxDriftPct": max(
            (r["driftPct"] for r in rows if r["driftPct"] is not None), default=None
        ),
        "minSample": thresholds.min_sample,
        "definition": FEATURE_DEFINITION,
        "features": rows,
    }, status


# --- performance ----------------------------------------------------------------------------


def _performance(
    reference: Reference, thresholds: Thresholds, window: Window, outcomes: Outcomes | None
) -> dict[str, Any]:
    baseline = _baseline(reference.baseline, thresholds)
    estimated = _estimated(window, thresholds, baseline)
    observed = _observed(outcomes, thresholds, baseline)
    if observed is not None and observed["status"] != Status.INSUFFICIENT_SAMPLE:
        judged_on, status = "observed", observed["status"]
    elif estimated is not None and estimated["status"] != Status.INSUFFICIENT_SAMPLE:
        judged_on, status = "estimated", estimated["status"]
    else:
        judged_on, status = None, Status.INSUFFICIENT_SAMPLE.value
    return {
        "status": status,
        "judgedOn": judged_on,
        "threshold": thresholds.performance_drop,
        "judgedMetrics": list(JUDGED_METRICS),
        "cutoffBand": thresholds.cutoff_band,
        "minSample": thresholds.min_sample,
        "baseline": baseline,
        "estimated": estimated,
        "observed": observed,
        "definition": PERFORMANCE_DEFINITION,
    }


def _baseline(metrics: Mapping[str, Any], thresholds: Thresholds) -> dict[str, Any]:
    """The model's hold-out figures; accuracy at the cut-off from its calibration by band."""
    figures: dict[str, Any] = {
        key: as_float(metrics.get(name))
        for key, name in (("auc", "auc"), ("gini", "gini"), ("ks", "ks"), ("brier", "brier"))
    }
    figures["defaultRate"] = as_float(metrics.get("observed_default_rate"))
    figures["n"] = as_float(metrics.get("n_holdout"))
    accuracy = as_float(metrics.get("accuracy_at_cutoff"))
    source = "metrics" if accuracy is not None else None
    bands = metrics.get("calibration_by_band")
    if accuracy is None and isinstance(bands, list) and bands:
        accuracy = _accuracy_from_bands(bands, thresholds.cutoff_index)
        source = "calibration_by_band" if accuracy is not None else None
    figures["accuracyAtCutoff"] = accuracy
    figures["accuracySource"] = source
    figures["calibrationByBand"] = bands if isinstance(bands, list) else None
    return figures


def _accuracy_from_bands(bands: list[Any], cutoff: int) -> float | None:
    """Hold-out accuracy at the cut-off from per-band customers and observed default rates."""
    right = total = 0.0
    for row in bands:
        if not isinstance(row, Mapping) or row.get("band") not in BANDS:
            return None
        n, observed = as_float(row.get("n")), as_float(row.get("observed"))
        if not n:
            continue
        if observed is None:
            return None
        predicted_default = BANDS.index(str(row["band"])) >= cutoff
        right += n * (observed if predicted_default else 1.0 - observed)
        total += n
    return right / total if total else None


def _estimated(
    window: Window, thresholds: Thresholds, baseline: Mapping[str, Any]
) -> dict[str, Any] | None:
    """Expected figures if the model's probabilities are right (each row a weighted outcome)."""
    n = len(window)
    if n == 0:
        return None
    prob, score = window.prob, window.score
    # Rows of one 0–1000 score are tied in the ranking (their probabilities differ by < 0.001):
    # grouping them makes the expected ROC a 1,001-point computation instead of a 2n-row sort.
    count = np.bincount(score, minlength=MAX_SCORE + 1)
    present = count > 0
    group_prob = np.bincount(score, weights=prob, minlength=MAX_SCORE + 1)[present] / count[present]
    auc, ks = _weighted_roc(group_prob, group_prob, count[present])
    predicted_default = band_indices(score, thresholds.cutoffs) >= thresholds.cutoff_index
    expected_defaults = float(prob.sum())
    figures: dict[str, Any] = {
        "estimated": True,
        "n": n,
        "expectedDefaults": expected_defaults,
        "defaultRate": expected_defaults / n,
        "auc": auc,
        "gini": None if auc is None else 2.0 * auc - 1.0,
        "ks": ks,
        "brier": float(np.mean(prob * (1.0 - prob))),
        "accuracyAtCutoff": float(np.mean(np.where(predicted_default, prob, 1.0 - prob))),
        "calibrationByBand": _bands(training.calibration_by_band(prob, prob, thresholds.cutoffs)),
    }
    positives = expected_defaults
    return _judge(figures, baseline, thresholds, positives, n - positives, can_act=False)


def _observed(
    outcomes: Outcomes | None, thresholds: Thresholds, baseline: Mapping[str, Any]
) -> dict[str, Any] | None:
    if outcomes is None or len(outcomes) == 0:
        return None
    y = np.asarray(outcomes.defaulted, dtype=np.float64)
    prob = np.asarray(outcomes.prob, dtype=np.float64)
    n, defaults = len(y), float(y.sum())
    predicted_default = band_indices(to_score(prob), thresholds.cutoffs) >= thresholds.cutoff_index
    figures: dict[str, Any] = {
        "estimated": False,
        "n": n,
        "defaults": int(defaults),
        "defaultRate": defaults / n,
        "accuracyAtCutoff": float(np.mean(predicted_default == (y == 1.0))),
        "calibrationByBand": _bands(training.calibration_by_band(y, prob, thresholds.cutoffs)),
    }
    if 0 < defaults < n:
        metrics = training.evaluate(y, prob)
        figures.update(
            auc=metrics["auc"], gini=metrics["gini"], ks=metrics["ks"], brier=metrics["brier"]
        )
    else:  # one class only: no ranking to judge
        figures.update(auc=None, gini=None, ks=None, brier=float(np.mean((prob - y) ** 2)))
    return _judge(figures, baseline, thresholds, defaults, n - defaults, can_act=True)


def _judge(
    figures: dict[str, Any],
    baseline: Mapping[str, Any],
    thresholds: Thresholds,
    positives: float,
    negatives: float,
    *,
    can_act: bool,
) -> dict[str, Any]:
    """Relative changes against the baseline, how sure they are, and the verdict."""
    n = int(figures["n"])
    changes: dict[str, float | None] = {}
    for name in ("auc", "gini", "ks", "accuracyAtCutoff"):
        changes[name] = _relative_drop(baseline.get(name), figures.get(name))
    brier_base, brier_now = baseline.get("brier"), figures.get("brier")
    changes["brier"] = (
        None
        if brier_base in (None, 0) or brier_now is None
        else (brier_now - brier_base) / brier_base
    )
    # The lower end of the drop's one-sided 95 % interval, shown and used only to tell a real
    # drop from noise: the runbook's 5 % applies to the point estimate.
    sure = {
        "auc": _sure_drop(
            baseline.get("auc"),
            figures.get("auc"),
            _auc_se(baseline.get("auc"), *_classes(baseline)),
            _auc_se(figures.get("auc"), positives, negatives),
        ),
        "accuracyAtCutoff": _sure_drop(
            baseline.get("accuracyAtCutoff"),
            figures.get("accuracyAtCutoff"),
            _proportion_se(baseline.get("accuracyAtCutoff"), baseline.get("n")),
            _proportion_se(figures.get("accuracyAtCutoff"), n),
        ),
    }
    limit = thresholds.performance_drop
    over = [m for m in JUDGED_METRICS if (changes[m] or 0.0) > limit]
    significant = [m for m in over if (sure[m] or 0.0) > 0.0]
    if n < thresholds.min_sample or positives < 1 or negatives < 1:
        status = Status.INSUFFICIENT_SAMPLE
    elif all(changes[m] is None for m in JUDGED_METRICS):
        status = Status.INSUFFICIENT_SAMPLE  # no baseline to compare with
    elif significant:
        status = Status.ACTION if can_act else Status.ATTENTION
    elif over:
        status = Status.ATTENTION
    else:
        status = Status.STABLE
    rounded = {k: _round(v) if isinstance(v, float) else v for k, v in figures.items()}
    return {
        **rounded,
        "relativeDrop": {k: _round(v) for k, v in changes.items()},
        "relativeDropLowerBound": {k: _round(v) for k, v in sure.items()},
        "overThreshold": over,
        "status": status.value,
    }


def _relative_drop(baseline: Any, value: Any) -> float | None:
    if baseline is None or value is None or baseline <= 0:
        return None
    return float((baseline - value) / baseline)


def _sure_drop(baseline: Any, value: Any, se_baseline: float, se_value: float) -> float | None:
    """Relative drop at the lower end of its one-sided 95 % interval (baseline noise included)."""
    if baseline is None or value is None or baseline <= 0:
        return None
    spread = _Z_ONE_SIDED * math.hypot(se_baseline, se_value)
    return float((baseline - value - spread) / baseline)


def _classes(baseline: Mapping[str, Any]) -> tuple[float, float]:
    """Defaults and good customers behind the baseline (its hold-out); (0, 0) when unknown."""
    n, rate = baseline.get("n"), baseline.get("defaultRate")
    if not n or rate is None:
        return 0.0, 0.0
    return n * rate, n * (1.0 - rate)


def _auc_se(auc: float | None, positives: float, negatives: float) -> float:
    """Hanley & McNeil (1982) standard error of an AUC; 0 when the sample is unknown."""
    if auc is None or positives <= 0 or negatives <= 0:
        return 0.0
    q1 = auc / (2.0 - auc)
    q2 = 2.0 * auc * auc / (1.0 + auc)
    variance = (
        auc * (1.0 - auc)
        + (positives - 1.0) * (q1 - auc * auc)
        + (negatives - 1.0) * (q2 - auc * auc)
    ) / (positives * negatives)
    return math.sqrt(max(variance, 0.0))


def _proportion_se(share: float | None, n: float | None) -> float:
    if share is None or not n:
        return 0.0
    return math.sqrt(share * (1.0 - share) / n)


def _weighted_roc(
    prob: np.ndarray, label: np.ndarray, count: np.ndarray
) -> tuple[float | None, float | None]:
    """Expected AUC and KS of groups scored ``prob``: ``count`` rows, each a default w.p. ``label``."""
    from sklearn.metrics import roc_auc_score, roc_curve

    y, scores, weight = training._as_outcomes(label, prob)
    rows = np.tile(count, len(y) // len(count))  # each group's rows, on each of its outcomes
    weight = rows if weight is None else weight * rows
    positive, negative = float(weight[y == 1].sum()), float(weight[y == 0].sum())
    if positive <= 0 or negative <= 0:
        return None, None
    auc = float(roc_auc_score(y, scores, sample_weight=weight))
    fpr, tpr, _ = roc_curve(y, scores, sample_weight=weight)
    return auc, float(np.max(tpr - fpr))


def _bands(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "band": row["band"],
            "n": row["n"],
            "meanPredicted": _round(row["mean_predicted"]),
            "observed": _round(row["observed"]),
        }
        for row in rows
    ]


def as_float(value: Any) -> float | None:
    """A finite number from stored JSON as a float; None for anything else (bool, NaN, text)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _round(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(float(value), digits)


def _rounded(values: np.ndarray) -> list[float]:
    return [round(float(v), 6) for v in values]
