"""``credguard models …``: train models on exported data (more of the lifecycle comes later)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer
from rich.table import Table

from credguard.cli import context
from credguard.errors import InvalidInput

app = typer.Typer(help="Models: train.", no_args_is_help=True)


def _reference_date(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"--reference-date must be a date like 2026-11-27, not {text!r}"
        ) from None


@app.command("train")
def train_command(
    input_path: Path = typer.Option(
        ..., "--input", help="CSV, or the tab-separated file `mysql -e` writes (runbook 5.2)."
    ),
    output: Path = typer.Option(
        ..., "--output", help="Model file to write; metrics.json is written beside it."
    ),
    product: str = typer.Option(..., "--product", help="Product the model scores, e.g. CARTAO."),
    label: str = typer.Option(
        "label", "--label", help="Column with 0/1 defaults or default probabilities."
    ),
    reference_date: str | None = typer.Option(
        None,
        "--reference-date",
        help="Date the data describes (default: its latest data_ultima_compra).",
    ),
) -> None:
    """Train a product's model on a training file (LightGBM, monotone, calibrated)."""
    from credguard.ml import training  # LightGBM: only for this command

    settings = context.settings()
    product = product.strip().upper()
    if product not in settings.products:
        raise InvalidInput(f"unknown product {product}; configured: {', '.join(settings.products)}")
    with context.console.status(f"training the {product} model"):
        _, metrics = training.train_file(
            input_path,
            output,
            product=product,
            label=label,
            reference_date=_reference_date(reference_date),
            cutoffs=settings.cutoffs_for(product),
            threads=settings.worker_threads,
        )
    for warning in metrics["warnings"]:
        context.err_console.print(f"[yellow]warning:[/yellow] {warning}")
    dropped = ", ".join(f"{why} {n}" for why, n in metrics["rows_dropped"].items()) or "none"
    context.console.print(
        f"{product}: {metrics['rows_read']} rows read, dropped: {dropped}; "
        f"trained on {metrics['n_train']:.0f}, held out {metrics['n_holdout']:.0f} "
        f"(reference date {metrics['reference_date']}, {metrics['training_seconds']:.1f} s)"
    )
    table = Table("hold-out", "AUC", "Gini", "KS", "Brier")
    table.add_row(
        metrics["label"],
        f"{metrics['auc']:.3f}",
        f"{metrics['gini']:.3f}",
        f"{metrics['ks']:.3f}",
        f"{metrics['brier']:.4f}",
    )
    context.console.print(table)
    bands = Table("band", "customers", "mean predicted", "observed")
    for row in metrics["calibration_by_band"]:
        bands.add_row(
            row["band"],
            str(row["n"]),
            "-" if row["mean_predicted"] is None else f"{row['mean_predicted']:.3f}",
            "-" if row["observed"] is None else f"{row['observed']:.3f}",
        )
    context.console.print(bands)
    context.console.print(f"model: {output}\nmetrics: {output.parent / training.METRICS_FILE}")
