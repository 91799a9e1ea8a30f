"""The model card: one self-contained HTML page with a trained model's figures and charts.

Written beside the model and ``metrics.json`` by ``credguard models train``: what the model is
for, what it was trained on (rows, drops, label kind, reference date), its hold-out figures,
and three charts drawn as inline SVG (no script, no network, no plotting library): the ROC
curve, the KS curves (share of defaults and of good customers at or below each score) and the
calibration by band (predicted vs observed default rate).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

CARD_FILE = "model_card.html"
_W, _H, _PAD = 320, 240, 32


def _polyline(xs: Sequence[float], ys: Sequence[float], colour: str) -> str:
    points = " ".join(
        f"{_PAD + x * (_W - 2 * _PAD):.1f},{_H - _PAD - y * (_H - 2 * _PAD):.1f}"
        for x, y in zip(xs, ys, strict=True)
    )
    return f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>'


def _frame(title: str, body: str, x_label: str, y_label: str) -> str:
    return (
        f'<figure><svg viewBox="0 0 {_W} {_H}" width="{_W}" height="{_H}" role="img"'
        f' aria-label="{escape(title)}">'
        f'<rect x="{_PAD}" y="{_PAD}" width="{_W - 2 * _PAD}" height="{_H - 2 * _PAD}"'
        ' fill="none" stroke="#999"/>'
        f"{body}"
        f'<text x="{_W / 2}" y="{_H - 6}" text-anchor="middle" font-size="11">{x_label}</text>'
        f'<text x="10" y="{_H / 2}" font-size="11" transform="rotate(-90 10 {_H / 2})"'
        f' text-anchor="middle">{y_label}</text>'
        f"</svg><figcaption>{escape(title)}</figcaption></figure>"
    )


def roc_chart(curve: dict[str, list[float]]) -> str:
    diagonal = _polyline([0, 1], [0, 1], "#bbb")
    return _frame(
        "ROC curve (hold-out)",
        diagonal + _polyline(curve["fpr"], curve["tpr"], "#1f5fa8"),
        "share of good customers flagged",
        "share of defaults flagged",
    )


def ks_chart(curve: dict[str, list[float]]) -> str:
    scores = [s / 1000 for s in curve["score"]]
    return _frame(
        "KS curves: defaults (blue) and good customers (orange) at or below each score",
        _polyline(scores, curve["tpr"], "#1f5fa8") + _polyline(scores, curve["fpr"], "#d9822b"),
        "score",
        "cumulative share",
    )


def calibration_chart(bands: list[dict[str, Any]]) -> str:
    present = [b for b in bands if b["n"]]
    top = max([b["mean_predicted"] for b in present] + [b["observed"] for b in present] + [0.01])
    width = (_W - 2 * _PAD) / max(len(bands), 1)
    bars = []
    for index, band in enumerate(bands):
        x = _PAD + index * width
        for offset, key, colour in (
            (0.15, "mean_predicted", "#1f5fa8"),
            (0.5, "observed", "#d9822b"),
        ):
            value = band[key] or 0.0
            height = value / top * (_H - 2 * _PAD)
            bars.append(
                f'<rect x="{x + offset * width:.1f}" y="{_H - _PAD - height:.1f}"'
                f' width="{0.35 * width:.1f}" height="{height:.1f}" fill="{colour}"/>'
            )
        bars.append(
            f'<text x="{x + width / 2:.1f}" y="{_H - _PAD + 12}" text-anchor="middle"'
            f' font-size="11">{band["band"]}</text>'
        )
    return _frame(
        "Calibration by band: predicted (blue) and observed (orange) default rate",
        "".join(bars),
        "band",
        "default rate",
    )


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def describes(card: Path, model_sha256: str) -> bool:
    """Whether ``card`` was written for the model file whose SHA-256 is ``model_sha256``."""
    try:
        head = card.read_text(encoding="utf-8")[:2000]
    except (OSError, UnicodeDecodeError):
        return False
    return f'<meta name="credguard-model-sha256" content="{model_sha256}">' in head


def write_card(path: Path, metrics: dict[str, Any], *, model_sha256: str) -> Path:
    """Write the card of a model whose ``metrics.json`` content is ``metrics``; its path.

    The card names the model file it describes by checksum, so registration never files the
    card of another model that was trained into the same folder.
    """
    rows = [
        ("product", metrics["product"]),
        ("trained on", f"{metrics['n_train']:.0f} rows; held out {metrics['n_holdout']:.0f}"),
        (
            "rows read / dropped",
            f"{metrics['rows_read']} / {sum(metrics['rows_dropped'].values())}",
        ),
        ("labels", metrics["label"]),
        ("reference date", metrics["reference_date"]),
        ("AUC / Gini", f"{metrics['auc']:.4f} / {metrics['gini']:.4f}"),
        ("KS", f"{metrics['ks']:.4f}"),
        ("Brier", f"{metrics['brier']:.5f}"),
    ]
    table = "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>" for k, v in rows)
    bands = "".join(
        f"<tr><td>{b['band']}</td><td>{b['n']}</td><td>{_rate(b['mean_predicted'])}</td>"
        f"<td>{_rate(b['observed'])}</td></tr>"
        for b in metrics["calibration_by_band"]
    )
    warnings = "".join(f'<p class="warning">{escape(w)}</p>' for w in metrics["warnings"])
    html = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="credguard-model-sha256" content="{model_sha256}"><title>Model card: {escape(metrics["product"])}</title>
<style>body{{font-family:sans-serif;max-width:60rem;margin:2rem auto}}th{{text-align:left;
padding-right:1rem}}figure{{display:inline-block;margin:1rem}}.warning{{color:#a33}}</style>
</head><body>
<h1>Model card: {escape(metrics["product"])}</h1>
<p>Monotone additive LightGBM (one feature per tree), Platt-calibrated, trained by
<code>credguard models train</code> on {escape(metrics["input"])}.</p>
{warnings}
<table>{table}</table>
{roc_chart(metrics["roc_curve"])}{ks_chart(metrics["roc_curve"])}
{calibration_chart(metrics["calibration_by_band"])}
<h2>Calibration by band</h2>
<table><tr><th>band</th><th>customers</th><th>predicted</th><th>observed</th></tr>{bands}</table>
</body></html>
"""
    path.write_text(html, encoding="utf-8")
    return path
