"""The dashboard's charts as inline SVG, drawn on the server (no script, no library, no fetch).

Like the model card's (:mod:`credguard.ml.card`): plain shapes with presentation attributes (no
``style`` attributes, which the pages' Content-Security-Policy forbids), every chart with a
``<title>`` and ``<desc>`` for screen readers, axis labels and a legend. Text is escaped here;
the result is :class:`markupsafe.Markup` for the templates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from html import escape
from itertools import pairwise

from markupsafe import Markup

from credguard.dashboard import fmt

GREEN, YELLOW, RED, GREY = "#1b7f3b", "#d9a400", "#c62828", "#6b7280"
REFERENCE, CURRENT = "#9fb3c8", "#e07b24"
INK, MUTED, GRID = "#1f2933", "#52606d", "#e4e7eb"
STATUS_COLOURS = {"stable": GREEN, "attention": YELLOW, "action": RED}
_FONT = 'font-family="system-ui,DejaVu Sans,Liberation Sans,Arial,sans-serif"'


def _svg(chart_id: str, width: int, height: int, title: str, desc: str, body: str) -> Markup:
    ident = escape(chart_id)
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}"'
        f' height="{height}" role="img" aria-labelledby="{ident}-t {ident}-d" {_FONT}>'
        f'<title id="{ident}-t">{escape(title)}</title><desc id="{ident}-d">{escape(desc)}</desc>'
        f"{body}</svg>"
    )


def _text(
    x: float,
    y: float,
    text: str,
    *,
    size: int = 11,
    anchor: str = "start",
    colour: str = MUTED,
    extra: str = "",
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}"'
        f' fill="{colour}"{extra}>{escape(text)}</text>'
    )


def _nice_top(value: float, floor: float) -> tuple[float, float]:
    """An axis top ≥ ``value`` (at least ``floor``) and a tick step giving 4–8 ticks."""
    top = max(value, floor)
    for step in (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0):
        if top / step <= 8:
            return math.ceil(top / step - 1e-9) * step, step
    return top, top / 5


# --- PSI over time ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TrendPoint:
    """One stored daily result of a product × scope."""

    day: date
    psi: float | None
    critical: float | None
    status: str  #: the score PSI's status


def psi_trend(
    chart_id: str,
    product: str,
    points: Sequence[TrendPoint],
    *,
    attention: float,
    action: float,
) -> Markup:
    """PSI per day with the runbook's lines (attention, action) and the noise level (χ² 95 %)."""
    width, height = 560, 300
    left, right, top, bottom = 54, 16, 40, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    present = [p for p in points if p.psi is not None]
    highest = max([p.psi or 0.0 for p in present] + [p.critical or 0.0 for p in present] + [0.0])
    y_top, step = _nice_top(highest * 1.1, action + 0.05)
    first = min((p.day for p in points), default=date.today())
    last = max((p.day for p in points), default=first)
    span = max((last - first).days, 1)

    def x(day: date) -> float:
        if first == last:
            return left + plot_w / 2
        return left + (day - first).days / span * plot_w

    def y(value: float) -> float:
        return top + plot_h - min(value, y_top) / y_top * plot_h

    parts = [
        # Zones behind everything: stable, attention, action.
        f'<rect x="{left}" y="{y(attention):.1f}" width="{plot_w}" height="{y(0) - y(attention):.1f}"'
        ' fill="#e8f5ec"/>',
        f'<rect x="{left}" y="{y(action):.1f}" width="{plot_w}"'
        f' height="{y(attention) - y(action):.1f}" fill="#fdf6d8"/>',
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{y(action) - top:.1f}" fill="#fbe9e7"/>',
    ]
    tick = 0.0
    while tick <= y_top + 1e-9:
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y(tick):.1f}" y2="{y(tick):.1f}"'
            f' stroke="{GRID}" stroke-width="1"/>'
        )
        parts.append(_text(left - 6, y(tick) + 4, fmt.number(tick, 2), anchor="end"))
        tick += step
    for value, colour, label in (
        (attention, YELLOW, f"{fmt.number(attention, 2)} atenção"),
        (action, RED, f"{fmt.number(action, 2)} ação necessária"),
    ):
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y(value):.1f}" y2="{y(value):.1f}"'
            f' stroke="{colour}" stroke-width="2" stroke-dasharray="7 4"/>'
        )
        parts.append(
            _text(left + 6, y(value) - 5, label, colour=colour, extra=' font-weight="600"')
        )
    criticals = [(x(p.day), y(p.critical)) for p in present if p.critical is not None]
    if len(criticals) > 1:
        parts.append(_polyline(criticals, GREY, width=1.5, dash="2 3"))
    elif criticals:
        cx, cy = criticals[0]
        parts.append(
            f'<line x1="{cx - 14:.1f}" x2="{cx + 14:.1f}" y1="{cy:.1f}" y2="{cy:.1f}"'
            f' stroke="{GREY}" stroke-width="1.5" stroke-dasharray="2 3"/>'
        )
    line = [(x(p.day), y(p.psi)) for p in present if p.psi is not None]
    if len(line) > 1:
        parts.append(_polyline(line, "#17324d", width=2))
    parts.append('<g class="points">')
    for day, psi, status in [(p.day, p.psi, p.status) for p in present if p.psi is not None]:
        marker = STATUS_COLOURS.get(status)
        fill, stroke = (marker, marker) if marker else ("#fff", GREY)
        parts.append(
            f'<circle cx="{x(day):.1f}" cy="{y(psi):.1f}" r="4" fill="{fill}"'
            f' stroke="{stroke}" stroke-width="1.5"><title>{escape(fmt.day(day))}: PSI'
            f" {escape(fmt.number(psi, 3))}</title></circle>"
        )
    parts.append("</g>")
    # x axis: up to six dates.
    days = sorted({p.day for p in points})
    shown = days if len(days) <= 6 else [days[round(i * (len(days) - 1) / 5)] for i in range(6)]
    for day in shown:
        parts.append(_text(x(day), top + plot_h + 16, fmt.short_day(day), anchor="middle"))
    parts.append(
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none"'
        f' stroke="#9aa5b1"/>'
    )
    parts.append(_text(left + plot_w / 2, height - 8, "Dia do resultado", anchor="middle"))
    parts.append(
        _text(
            14,
            top + plot_h / 2,
            "PSI do score",
            anchor="middle",
            extra=f' transform="rotate(-90 14 {top + plot_h / 2:.1f})"',
        )
    )
    parts.append(
        _legend(
            left,
            16,
            [
                ("line", "#17324d", "PSI do dia"),
                ("dots", GREY, "valor crítico χ² 95 % (ruído)"),
                ("hollow", GREY, "amostra insuficiente"),
            ],
        )
    )
    if not present:
        parts.append(
            _text(
                left + plot_w / 2, top + plot_h / 2, "sem PSI no período", anchor="middle", size=13
            )
        )
    latest = present[-1] if present else None
    desc = (
        f"{len(points)} resultado(s) diário(s) de {fmt.day(first)} a {fmt.day(last)}; "
        + (f"último PSI {fmt.number(latest.psi, 3)}. " if latest and latest.psi is not None else "")
        + f"Linhas em {fmt.number(attention, 2)} (atenção) e {fmt.number(action, 2)} (ação)."
    )
    return _svg(
        chart_id, width, height, f"PSI do score ao longo do tempo: {product}", desc, "".join(parts)
    )


def _polyline(
    points: Sequence[tuple[float, float]], colour: str, *, width: float, dash: str | None = None
) -> str:
    coords = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
    dashed = f' stroke-dasharray="{dash}"' if dash else ""
    return (
        f'<polyline fill="none" stroke="{colour}" stroke-width="{width}"{dashed}'
        f' points="{coords}"/>'
    )


def _legend(x: float, y: float, entries: Sequence[tuple[str, str, str]]) -> str:
    parts = []
    for kind, colour, label in entries:
        if kind == "line":
            parts.append(
                f'<line x1="{x}" x2="{x + 18}" y1="{y - 4}" y2="{y - 4}" stroke="{colour}"'
                ' stroke-width="2"/>'
            )
        elif kind == "dots":
            parts.append(
                f'<line x1="{x}" x2="{x + 18}" y1="{y - 4}" y2="{y - 4}" stroke="{colour}"'
                ' stroke-width="1.5" stroke-dasharray="2 3"/>'
            )
        elif kind == "hollow":
            parts.append(
                f'<circle cx="{x + 9}" cy="{y - 4}" r="4" fill="#fff" stroke="{colour}"'
                ' stroke-width="1.5"/>'
            )
        else:
            parts.append(f'<rect x="{x}" y="{y - 10}" width="14" height="10" fill="{colour}"/>')
        parts.append(_text(x + 22, y, label, colour=INK))
        x += 30 + 6.2 * len(label)
    return "".join(parts)


# --- score distribution -----------------------------------------------------------------------


def score_bins(
    chart_id: str,
    product: str,
    edges: Sequence[float],
    reference: Sequence[float],
    current: Sequence[float],
) -> Markup:
    """Share of customers per frozen score bin: the model's reference vs the window.

    ``reference``/``current`` hold one share per bin of ``edges`` (:func:`bin_labels`), and one
    more for customers without a score when there are any. Edges are marked on the axis.
    """
    labels = bin_labels(edges)
    if len(reference) > len(labels):
        labels.append("sem score")
    width, height = 560, 300
    left, right, top, bottom = 54, 12, 40, 58
    plot_w, plot_h = width - left - right, height - top - bottom
    highest = max(100.0 * max([*reference, *current, 0.0]) * 1.1, 10.0)
    step = 5.0 if highest <= 30 else 10.0
    y_top = math.ceil(highest / step) * step

    def y(value: float) -> float:
        return top + plot_h - min(100.0 * value, y_top) / y_top * plot_h

    parts = []
    tick = 0.0
    while tick <= y_top + 1e-9:
        level = top + plot_h - tick / y_top * plot_h
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{level:.1f}" y2="{level:.1f}"'
            f' stroke="{GRID}"/>'
        )
        parts.append(_text(left - 6, level + 4, f"{fmt.number(tick, 0)} %", anchor="end"))
        tick += step
    slot = plot_w / max(len(labels), 1)
    bars, ticks = [], []
    for index, label in enumerate(labels):
        x0 = left + index * slot
        for offset, values, colour, name in (
            (0.12, reference, REFERENCE, "Referência"),
            (0.5, current, CURRENT, "Atual"),
        ):
            value = values[index] if index < len(values) else 0.0
            bar_y = y(value)
            bars.append(
                f'<rect x="{x0 + offset * slot:.1f}" y="{bar_y:.1f}" width="{0.38 * slot:.1f}"'
                f' height="{top + plot_h - bar_y:.1f}" fill="{colour}"><title>'
                f"{escape(name)}, score {escape(label)}: {escape(fmt.share(value))}</title></rect>"
            )
        if index < len(edges):  # the edge between this bin and the next
            ticks.append(
                f'<line x1="{x0 + slot:.1f}" x2="{x0 + slot:.1f}" y1="{top + plot_h}"'
                f' y2="{top + plot_h + 4}" stroke="{MUTED}"/>'
            )
            ticks.append(
                _text(x0 + slot, top + plot_h + 15, _edge(edges[index]), anchor="middle", size=10)
            )
        elif label == "sem score":
            ticks.append(_text(x0 + slot / 2, top + plot_h + 15, label, anchor="middle", size=10))
    parts.append(f'<g class="bars">{"".join(bars)}</g>{"".join(ticks)}')
    parts.append(
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none"'
        ' stroke="#9aa5b1"/>'
    )
    parts.append(
        _text(
            left + plot_w / 2,
            height - 22,
            "Faixa de score (0–1000, faixas congeladas no treino)",
            anchor="middle",
        )
    )
    parts.append(
        _text(
            14,
            top + plot_h / 2,
            "% dos clientes",
            anchor="middle",
            extra=f' transform="rotate(-90 14 {top + plot_h / 2:.1f})"',
        )
    )
    parts.append(
        _legend(
            left,
            16,
            [
                ("box", REFERENCE, "Referência (treino do modelo)"),
                ("box", CURRENT, "Atual (janela)"),
            ],
        )
    )
    desc = "; ".join(
        f"{label}: referência {fmt.share(r)}, atual {fmt.share(c)}"
        for label, r, c in zip(labels, reference, current, strict=False)
    )
    return _svg(
        chart_id,
        width,
        height,
        f"Distribuição do score, referência x atual: {product}",
        desc,
        "".join(parts),
    )


def bin_labels(edges: Sequence[float]) -> list[str]:
    """Labels of the bins ``(-inf, e0], (e0, e1], …, (e_last, +inf)`` of 0–1000 scores."""
    if not edges:
        return ["todos"]
    values = [_edge(e) for e in edges]
    middle = [f"{a}–{b}" for a, b in pairwise(values)]
    return [f"≤ {values[0]}", *middle, f"> {values[-1]}"]


def _edge(value: float) -> str:
    return fmt.number(value, 0 if float(value).is_integer() else 1)


# --- feature drift bar ---------------------------------------------------------------------------


def drift_bar(pct: float | None, threshold: float, flagged: bool, label: str) -> Markup:
    """A small bar of a feature's drift % on a 0–60 % scale, the threshold marked."""
    width, height = 150, 16
    scale = max(60.0, threshold * 2.0)
    value = 0.0 if pct is None else min(pct, scale)
    colour = RED if flagged else GREEN if pct is not None else GREY
    mark = threshold / scale * width
    title = f"{label}: drift {fmt.percent(pct)} (limite {fmt.percent(threshold, 0)})"
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}"'
        f' height="{height}" role="img" aria-label="{escape(title)}">'
        f'<rect x="0" y="3" width="{width}" height="10" fill="{GRID}"/>'
        f'<rect x="0" y="3" width="{value / scale * width:.1f}" height="10" fill="{colour}"/>'
        f'<line x1="{mark:.1f}" x2="{mark:.1f}" y1="0" y2="{height}" stroke="{INK}"'
        ' stroke-width="1.5"/></svg>'
    )
