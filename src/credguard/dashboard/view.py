"""What the drift page shows, per product, built from stored drift results (no I/O here).

Words are the runbook's, in Portuguese: *Estável*, *Atenção*, *Ação necessária*, and
*Amostra insuficiente* for a window too small to judge (shown grey, never as an alarm). The
definitions written on the page are the drift backend's (:mod:`credguard.drift.stats`),
translated; thresholds come from each stored result, so the page shows what decided it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from markupsafe import Markup

from credguard.dashboard import charts, fmt
from credguard.drift.service import ResultView
from credguard.drift.stats import PSI_ACTION, PSI_ATTENTION, Thresholds, as_float

STATUS_WORDS = {
    "stable": "Estável",
    "attention": "Atenção",
    "action": "Ação necessária",
    "insufficient_sample": "Amostra insuficiente",
}
_SEVERITY = {"action": 0, "attention": 1, "stable": 2, "insufficient_sample": 3}

#: Model features (drift/stats.py's FEATURES) as a credit analyst would name them.
FEATURE_LABELS = {
    "relationship_days": "Tempo de relacionamento (dias)",
    "days_since_last_purchase": "Dias desde a última compra",
    "total_compras": "Total de compras",
    "valor_total_compras": "Valor total das compras (R$)",
    "ticket_medio": "Ticket médio (R$)",
    "total_pagamentos_em_dia": "Parcelas pagas em dia",
    "total_atrasos": "Parcelas pagas com atraso",
    "late_share": "Proporção de parcelas em atraso",
    "maior_atraso": "Maior atraso (dias)",
}

#: drift/stats.py's FEATURE_DEFINITION, in Portuguese.
FEATURE_DEFINITION = (
    "Drift de uma feature (%) = distância de variação total entre as proporções de clientes por "
    "faixa da feature na referência (a população de treino do modelo, em faixas congeladas no "
    "treino) e na janela atual, × 100: a parcela dos clientes que teria de mudar de faixa para a "
    "janela ficar igual à população de treino. 0 % é idêntica; 100 %, sem nenhuma sobreposição."
)
#: drift/stats.py's PSI_DEFINITION, in Portuguese.
PSI_DEFINITION = (
    "PSI = Σ (q − p)·ln(q/p) sobre as faixas de score congeladas no treino do modelo, com meio "
    "cliente somado a cada faixa dos dois lados (nenhum PSI infinito numa faixa vazia). "
    "Abaixo de 0,10: estável; de 0,10 a 0,25: atenção; acima de 0,25: ação necessária. "
    "O valor crítico χ² a 95 % é o PSI que o acaso de amostra sozinho supera 1 vez em 20 com "
    "esses tamanhos de amostra: abaixo dele, a diferença pode ser só ruído."
)
#: drift/stats.py's PERFORMANCE_DEFINITION, in Portuguese.
PERFORMANCE_DEFINITION = (
    "Queda relativa = (baseline − janela) / baseline, julgada na AUC e na acurácia no corte "
    "(clientes na faixa de corte ou mais arriscada contam como inadimplência prevista). Acima do "
    "limite e significativamente acima de zero (extremo inferior do intervalo de confiança "
    "unilateral de 95 % maior que 0), com resultados observados: ação necessária; acima do "
    "limite mas dentro do ruído, ou numa estimativa: atenção. A estimativa usa as probabilidades calibradas do modelo (cada cliente conta como "
    "inadimplente com peso p e como adimplente com peso 1 − p) e supõe que a calibração ainda "
    "vale — justamente o que o drift pode quebrar; por isso nunca pede ação sozinha."
)

_METRICS = (
    ("auc", "AUC", 3),
    ("gini", "Gini", 3),
    ("ks", "KS", 3),
    ("accuracyAtCutoff", "Acurácia no corte", 3),
    ("brier", "Brier (menor é melhor)", 4),
    ("defaultRate", "Taxa de inadimplência", None),
)


@dataclass(frozen=True)
class Status:
    """A status as shown: its code (the CSS class) and its word."""

    code: str
    word: str

    @classmethod
    def of(cls, code: str | None) -> Status:
        known = code if code in STATUS_WORDS else "insufficient_sample"
        return cls(known, STATUS_WORDS[known])


@dataclass(frozen=True)
class FeatureRow:
    name: str
    label: str
    pct: float | None
    drift: str
    psi: str
    flagged: bool
    bar: Markup


@dataclass(frozen=True)
class MetricRow:
    label: str
    baseline: str
    estimated: str
    observed: str
    change: str  #: the judged figure's relative change from the baseline
    judged: bool  #: one of the figures whose drop decides the status
    over: bool  #: its drop is above the threshold


@dataclass(frozen=True)
class Performance:
    status: Status
    judged_on: str | None  #: "observed", "estimated" or None
    is_estimate: bool
    has_observed: bool
    n_observed: str
    threshold: str
    cutoff_band: str
    rows: list[MetricRow]


@dataclass(frozen=True)
class Panel:
    """One product's drift for the chosen scope: latest result, history and definitions."""

    product: str
    anchor: str
    status: Status
    day: str
    window: str
    model: str
    n_current: str
    n_scored: str
    n_reference: str
    min_sample: str
    psi: str
    psi_status: Status
    noise: str
    feature_status: Status
    performance: Performance
    insufficient: bool
    trend: Markup
    bins: Markup
    features: list[FeatureRow]
    flagged: list[str]
    feature_threshold: str
    history_days: int


def _part(parts: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = parts.get(key)
    return value if isinstance(value, dict) else {}


def _metric(value: Any, digits: int | None) -> str:
    number = as_float(value)
    if number is None:
        return "–"
    return fmt.share(number, 1) if digits is None else fmt.number(number, digits)


def _change(baseline: Any, value: Any) -> float | None:
    base, now = as_float(baseline), as_float(value)
    if base is None or now is None or base == 0:
        return None
    return (now - base) / base


def performance(part: Mapping[str, Any]) -> Performance:
    """The performance block: baseline vs estimated (marked) and observed figures."""
    baseline = part.get("baseline") or {}
    estimated = part.get("estimated") or {}
    observed = part.get("observed") or {}
    judged_on = part.get("judgedOn")
    judged = observed if judged_on == "observed" else estimated
    over = set(judged.get("overThreshold") or [])
    judged_metrics = set(part.get("judgedMetrics") or [])
    rows = [
        MetricRow(
            label=label,
            baseline=_metric(baseline.get(key), digits),
            estimated=_metric(estimated.get(key), digits),
            observed=_metric(observed.get(key), digits),
            change=fmt.signed_share(_change(baseline.get(key), judged.get(key))),
            judged=key in judged_metrics,
            over=key in over,
        )
        for key, label, digits in _METRICS
    ]
    threshold = as_float(part.get("threshold"))
    return Performance(
        status=Status.of(part.get("status")),
        judged_on=judged_on if judged_on in ("observed", "estimated") else None,
        is_estimate=judged_on == "estimated",
        has_observed=bool(observed),
        n_observed=fmt.integer(as_float(observed.get("n"))),
        threshold=fmt.share(threshold, 0) if threshold is not None else "–",
        cutoff_band=str(part.get("cutoffBand") or "–"),
        rows=rows,
    )


def _features(part: Mapping[str, Any]) -> tuple[list[FeatureRow], float]:
    threshold = as_float(part.get("thresholdPct")) or Thresholds.feature_threshold_pct
    rows = []
    for item in part.get("features") or []:
        name = str(item.get("feature"))
        label = FEATURE_LABELS.get(name, name)
        pct = as_float(item.get("driftPct"))
        flagged = bool(item.get("flagged"))
        rows.append(
            FeatureRow(
                name=name,
                label=label,
                pct=pct,
                drift=fmt.percent(pct),
                psi=fmt.number(as_float(item.get("psi")), 3),
                flagged=flagged,
                bar=charts.drift_bar(pct, threshold, flagged, label),
            )
        )
    return rows, threshold


def _noise(psi: float | None, critical: float | None, n: int, n_reference: int) -> str:
    if critical is None:
        return "Sem valor crítico: não há clientes pontuados pelo modelo na janela."
    sentence = (
        f"PSI abaixo de {fmt.number(critical, 4)} pode ser ruído de amostra (valor crítico do χ² "
        f"a 95 % para {fmt.integer(n)} clientes na janela e {fmt.integer(n_reference)} na "
        "referência)."
    )
    if psi is None:
        return sentence
    if psi <= critical:
        return sentence + f" O PSI atual, {fmt.number(psi, 4)}, está dentro desse ruído."
    return sentence + (
        f" O PSI atual, {fmt.number(psi, 4)}, está acima dele: a diferença não é acaso; a "
        "gravidade é dada pelas linhas 0,10 e 0,25."
    )


def panel(latest: ResultView, history: Sequence[ResultView], model: str) -> Panel:
    """The panel of one product from its latest result and its daily history (any order)."""
    result = latest.result
    parts = result.parts()
    score = _part(parts, "scoreDistribution")
    features_part = _part(parts, "featureDrift")
    thresholds = score.get("thresholds") or {}
    attention = as_float(thresholds.get("attention")) or PSI_ATTENTION
    action = as_float(thresholds.get("action")) or PSI_ACTION
    n_scored = int(as_float(score.get("n")) or 0)
    points = [
        charts.TrendPoint(
            view.result.dia, view.result.psi, view.result.psi_critical, view.result.psi_status
        )
        for view in sorted(history, key=lambda view: view.result.dia)
    ]
    chart_id = f"psi-{result.produto}"
    edges = [float(e) for e in score.get("edges") or []]
    reference = [float(v) for v in score.get("referenceShares") or []]
    current = [float(v) for v in score.get("currentShares") or []]
    missing = score.get("missing") or {}
    if as_float(missing.get("reference")) or as_float(missing.get("current")):
        reference.append(as_float(missing.get("reference")) or 0.0)
        current.append(as_float(missing.get("current")) or 0.0)
    features, threshold = _features(features_part)
    flagged = [row.label for row in features if row.flagged]
    features.sort(key=lambda row: (not row.flagged, -(row.pct or 0.0)))
    min_sample = int(as_float(score.get("minSample")) or 0)
    last_day = result.window_end - timedelta(days=1)
    return Panel(
        product=result.produto,
        anchor=f"produto-{result.produto}",
        status=Status.of(result.status),
        day=fmt.day(result.dia),
        window=f"{fmt.day(result.window_start.date())} a {fmt.day(last_day.date())}",
        model=model,
        n_current=fmt.integer(result.n_current),
        n_scored=fmt.integer(n_scored),
        n_reference=fmt.integer(result.n_reference),
        min_sample=fmt.integer(min_sample),
        psi=fmt.number(result.psi, 3),
        psi_status=Status.of(result.psi_status),
        noise=_noise(result.psi, result.psi_critical, n_scored, result.n_reference),
        feature_status=Status.of(result.feature_status),
        performance=performance(_part(parts, "performance")),
        insufficient=result.status == "insufficient_sample",
        trend=charts.psi_trend(
            chart_id, result.produto, points, attention=attention, action=action
        ),
        bins=charts.score_bins(f"bins-{result.produto}", result.produto, edges, reference, current),
        features=features,
        flagged=flagged,
        feature_threshold=fmt.percent(threshold, 0),
        history_days=len(points),
    )


def by_severity(panels: list[Panel]) -> list[Panel]:
    """Action first, then attention, stable, insufficient sample; by product within each."""
    return sorted(panels, key=lambda p: (_SEVERITY.get(p.status.code, 9), p.product))
