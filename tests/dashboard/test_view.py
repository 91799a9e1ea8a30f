"""What the drift page shows, from drift results the real statistics computed (no server).

The browser tests cover the estimated performance; observed outcomes are here: the drift
backend's own ``assess`` with outcomes drawn by the generator, rendered into a panel.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from credguard.dashboard import charts, fmt, view
from credguard.db.base import utcnow
from credguard.drift import service, stats
from credguard.drift.service import ResultView
from credguard.ml.artifact import ModelArtifact
from credguard.scoring.features import FEATURES, build_features
from credguard.scoring.model import ScoringModel
from credguard.scoring.score import to_score
from credguard.synth import generator

DAY = date(2026, 11, 27)


@pytest.fixture(scope="module")
def cartao(default_models: dict[str, Path]) -> ModelArtifact:
    return ModelArtifact.load(default_models["CARTAO"])


def stored(artifact: ModelArtifact, rows: int, *, outcomes: bool, seed: int = 11) -> ResultView:
    """A result as the drift run stores it, for ``rows`` fresh customers (outcomes or not)."""
    today = utcnow().date()
    frame = generator.normalise(
        generator.generate(
            rows, seed=seed, products=["CARTAO"], reference_date=today, dirty_share=0.0
        )
    )
    X = build_features(frame, today)
    prob = ScoringModel(artifact).predict_proba(X)
    y = frame[generator.OUTCOME_COLUMN].to_numpy().astype(float)
    reference = stats.Reference.of(artifact)
    window = stats.Window.of(reference, X, to_score(prob), prob)
    found = stats.assess(
        reference, stats.Thresholds(), window, stats.Outcomes(y, prob) if outcomes else None
    )
    result = service.result_row(
        "CARTAO", 7, DAY, (datetime(2026, 10, 29), datetime(2026, 11, 28)), 1, reference, found,
        created_at=datetime(2026, 11, 27, 9),
    )  # fmt: skip
    result.id = 1
    return ResultView(result, "Loja <Teste>")


def test_observed_performance_is_shown_beside_the_estimate(cartao: ModelArtifact) -> None:
    result = stored(cartao, 3_000, outcomes=True)
    panel = view.panel(result, [result], "cartao_base v1")
    performance = panel.performance
    assert performance.judged_on == "observed"
    assert not performance.is_estimate and performance.has_observed
    assert performance.n_observed == "3.000"
    rows = {row.label: row for row in performance.rows}
    auc = rows["AUC"]
    assert auc.judged and re.fullmatch(r"0,\d{3}", auc.observed)
    assert re.fullmatch(r"0,\d{3}", auc.estimated) and re.fullmatch(r"0,\d{3}", auc.baseline)
    assert re.fullmatch(r"[+−]?\d+,\d\u00a0%", auc.change)
    assert rows["Acurácia no corte"].judged and not rows["Gini"].judged
    assert performance.threshold == "5\u00a0%" and performance.cutoff_band == "D"


def test_until_outcomes_arrive_performance_is_an_estimate(cartao: ModelArtifact) -> None:
    result = stored(cartao, 3_000, outcomes=False)
    panel = view.panel(result, [result], "cartao_base v1")
    assert panel.status.word == "Estável"
    assert panel.performance.judged_on == "estimated" and panel.performance.is_estimate
    assert not panel.performance.has_observed
    assert {row.observed for row in panel.performance.rows} == {"–"}
    assert panel.day == "27/11/2026" and panel.window == "29/10/2026 a 27/11/2026"
    assert panel.model == "cartao_base v1" and panel.n_current == "3.000"
    assert "pode ser ruído de amostra" in panel.noise
    assert [row.name for row in panel.features if not row.flagged] and not panel.flagged
    assert {row.name for row in panel.features} == set(FEATURES)


def test_a_small_window_is_insufficient_sample_in_grey_never_an_alarm(
    cartao: ModelArtifact,
) -> None:
    result = stored(cartao, 120, outcomes=True)
    panel = view.panel(result, [result], "cartao_base v1")
    assert panel.insufficient
    assert (panel.status.code, panel.status.word) == ("insufficient_sample", "Amostra insuficiente")
    assert panel.performance.status.word == "Amostra insuficiente"
    assert not panel.flagged and panel.min_sample == "500"


def test_unknown_statuses_are_never_shown_as_alarms() -> None:
    assert view.Status.of("something new").code == "insufficient_sample"
    assert view.Status.of(None).word == "Amostra insuficiente"
    assert [view.Status.of(code).word for code in ("stable", "attention", "action")] == [
        "Estável",
        "Atenção",
        "Ação necessária",
    ]


def test_brazilian_formats() -> None:
    assert fmt.number(1234567.891) == "1.234.567,89"
    assert fmt.number(0.1, 2) == "0,10"
    assert fmt.integer(11250) == "11.250"
    assert fmt.percent(23.456) == "23,5\u00a0%"
    assert fmt.share(0.05, 0) == "5\u00a0%"
    assert fmt.signed_share(-0.0314) == "−3,1\u00a0%"
    assert fmt.signed_share(0.0) == "0,0\u00a0%"
    assert fmt.number(None) == fmt.percent(None) == "–"
    assert fmt.day(date(2026, 3, 1)) == "01/03/2026"


def test_charts_draw_any_history_and_escape_their_text() -> None:
    start = date(2026, 11, 1)
    empty = charts.psi_trend("psi-X", "X", [], attention=0.1, action=0.25)
    assert "sem PSI no período" in empty and "<title" in empty
    huge = charts.psi_trend(
        "psi-X",
        "<X>",
        [
            charts.TrendPoint(start + timedelta(days=i), psi, 0.01, status)
            for i, (psi, status) in enumerate([(0.02, "stable"), (2.4, "action"), (None, "x")])
        ],
        attention=0.1,
        action=0.25,
    )
    assert "&lt;X&gt;" in huge and "<X>" not in huge
    assert huge.count('stroke-dasharray="7 4"') == 2  # both lines, however high the PSI
    assert "2,50" in huge  # the axis grew to hold 2.4
    assert charts.bin_labels([500.0, 812.5, 900.0]) == ["≤ 500", "500–812,5", "812,5–900", "> 900"]
    bars = charts.score_bins("b", "P", [500.0], [0.4, 0.5, 0.1], [0.2, 0.7, 0.1])
    assert "sem score" in bars
    assert "style=" not in empty + huge + bars


def test_a_figure_that_is_not_a_finite_number_shows_as_a_dash() -> None:
    """One reading of stored JSON numbers (drift.stats.as_float) for the statistics and the view."""
    for value in (float("nan"), float("inf"), True, "0.8", None):
        assert view._metric(value, 3) == "–", value
    assert view._metric(0.81234, 3) == fmt.number(0.81234, 3)
