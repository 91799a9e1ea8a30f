"""``credguard models …``: train, register, list, promote and roll back models."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from credguard.cli import context
from credguard.config import Settings
from credguard.db.engine import session_scope
from credguard.errors import ConfigurationError, InvalidInput

app = typer.Typer(help="Models: train, register, list, promote, rollback.", no_args_is_help=True)


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
    from credguard.ml import card, training  # LightGBM: only for this command

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
    context.console.print(
        f"model: {output}\nmetrics: {output.parent / training.METRICS_FILE}\n"
        f"model card: {output.parent / card.CARD_FILE}"
    )


@app.command("register")
def register_command(
    model: Path = typer.Option(..., "--model", help="A model file `models train` wrote."),
    name: str = typer.Option(..., "--name", help="Name to register it under, e.g. fa_12_v2."),
    metrics: Path | None = typer.Option(
        None, "--metrics", help="Its metrics.json (default: the one beside the model)."
    ),
) -> None:
    """Register a trained model (a new version of NAME); it scores nothing until promoted."""
    from credguard.ml import promotion, registry, training

    settings = context.settings()
    if metrics is None and (model.parent / training.METRICS_FILE).is_file():
        metrics = model.parent / training.METRICS_FILE
    with session_scope(context.engine()) as session:
        record = promotion.register_file(
            session, model, name=name, settings=settings, metrics_path=metrics
        )
        label = f"{record.name} v{record.version} ({record.product}, id {record.id})"
        kept = registry.card_path(Path(record.artifact_path)).is_file()
    context.console.print(f"registered {label}; promote it with `credguard models promote`")
    if not kept:
        context.err_console.print(
            "[yellow]warning:[/yellow] no model card of this model beside it; none was kept"
        )
    _mirror(settings)


def _mirror(settings: Settings, *, asked: bool = False) -> None:
    """Bring the MLflow mirror up to date and say how it went.

    After a change, a lagging mirror is a warning (the change landed); when the mirror is what
    was ``asked`` for, it is an error.
    """
    from credguard.ml import mlflow_registry

    if mlflow_registry.location(settings) is None:
        if asked:
            raise InvalidInput("the MLflow mirror is off (CREDGUARD_MLFLOW_TRACKING_URI=off)")
        return
    with context.console.status("updating MLflow"):
        report = mlflow_registry.sync(context.engine(), settings)
    assert report is not None
    if report.ok:
        context.console.print(escape(report.summary()))
    elif asked:
        raise ConfigurationError(report.summary())
    else:
        context.err_console.print(f"[yellow]warning:[/yellow] {escape(report.summary())}")


@app.command("list")
def list_command() -> None:
    """Registered models, which one scores each product, and the latest changes."""
    from sqlalchemy import select

    from credguard.ml import promotion
    from credguard.ml.tables import ModelRecord, ProductionModel

    with session_scope(context.engine()) as session:
        production = {row.model_id for row in session.scalars(select(ProductionModel))}
        records = session.scalars(select(ModelRecord).order_by(ModelRecord.id)).all()
        table = Table("id", "name", "version", "product", "AUC", "KS", "in production")
        for record in records:
            figures = json.loads(record.metrics or "{}")
            table.add_row(
                str(record.id),
                record.name,
                str(record.version),
                record.product,
                f"{figures['auc']:.3f}" if "auc" in figures else "-",
                f"{figures['ks']:.3f}" if "ks" in figures else "-",
                "yes" if record.id in production else "",
            )
        changes = Table("when (UTC)", "product", "action", "to model id", "by", "reason")
        for change in promotion.history(session)[:10]:
            changes.add_row(
                f"{change.created_at:%Y-%m-%d %H:%M}",
                change.product,
                change.action + (" (forced)" if change.forced else ""),
                str(change.to_model_id),
                str(change.promoted_by or "-"),
                escape(change.reason),
            )
    context.console.print(table)
    context.console.print(changes)


@app.command("promote")
def promote_command(
    name: str = typer.Argument(..., metavar="NAME", help="Registered model name."),
    product: str = typer.Option(..., "--product"),
    reason: str = typer.Option(..., "--reason", help="Why (kept in the history)."),
    version: int | None = typer.Option(None, "--version", help="Default: the latest."),
    force: bool = typer.Option(False, "--force", help="Promote despite failed quality gates."),
) -> None:
    """Make a registered model score its product (the API's POST /api/v1/models/promote)."""
    from credguard.ml import promotion

    settings = context.settings()
    with session_scope(context.engine()) as session:
        change = promotion.promote(
            session,
            settings,
            product=product.strip().upper(),
            model_name=name,
            version=version,
            reason=reason,
            user_id=None,
            force=force,
        )
        message = f"{change.product}: now {change.to_model.name} v{change.to_model.version}"
    context.console.print(message)
    _mirror(settings)


@app.command("rollback")
def rollback_command(
    product: str = typer.Option(..., "--product"),
    reason: str = typer.Option(..., "--reason", help="Why (kept in the history)."),
) -> None:
    """Return a product to the model that scored it before the last change."""
    from credguard.ml import promotion

    with session_scope(context.engine()) as session:
        change = promotion.rollback(
            session, product=product.strip().upper(), reason=reason, user_id=None
        )
        message = f"{change.product}: back to {change.to_model.name} v{change.to_model.version}"
    context.console.print(message)
    _mirror(context.settings())


@app.command("sync-mlflow")
def sync_command() -> None:
    """Bring the MLflow registry mirror up to date (models, the `production` aliases)."""
    _mirror(context.settings(), asked=True)


@app.command("show")
def show_command(
    name: str = typer.Argument(..., metavar="NAME"),
    version: int | None = typer.Option(None, "--version", help="Default: the latest."),
) -> None:
    """One registered model: its figures, calibration by band, and whether it is in production."""
    from credguard.ml import promotion, registry

    with session_scope(context.engine()) as session:
        record = promotion.find_model(session, name, version)
        in_production = registry.production_models(session).get(record.product)
        figures = json.loads(record.metrics or "{}")
        header = (
            f"{record.name} v{record.version} (id {record.id}) for {record.product}, registered"
            f" {record.created_at:%Y-%m-%d %H:%M} UTC;"
            f" {'in production' if in_production and in_production.id == record.id else 'not in production'}"
        )
    context.console.print(header)
    table = Table("figure", "value")
    for key in ("label", "auc", "gini", "ks", "brier", "n_train", "n_holdout", "reference_date"):
        if key in figures:
            value = figures[key]
            table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    context.console.print(table)
    bands = figures.get("calibration_by_band", [])
    if bands:
        by_band = Table("band", "customers", "predicted", "observed")
        for row in bands:
            by_band.add_row(
                row["band"],
                str(row["n"]),
                "-" if row["mean_predicted"] is None else f"{row['mean_predicted']:.4f}",
                "-" if row["observed"] is None else f"{row['observed']:.4f}",
            )
        context.console.print(by_band)


@app.command("request-retraining")
def request_command(
    product: str = typer.Option(..., "--product"),
    reason: str = typer.Option(..., "--reason"),
    by: str = typer.Option(..., "--by", help="Who asks (a client, a person)."),
) -> None:
    """Record a request to retrain a product's model (listed by `models due` until a promotion)."""
    from credguard.ml import triggers

    settings = context.settings()
    product = product.strip().upper()
    if product not in settings.products:
        raise InvalidInput(f"unknown product {product}; configured: {', '.join(settings.products)}")
    with session_scope(context.engine()) as session:
        triggers.request_retraining(session, product=product, reason=reason, requested_by=by)
    context.console.print(f"recorded: {product} retraining requested by {escape(by.strip())}")


@app.command("due")
def due_command() -> None:
    """Products whose model is due for retraining, and why (runbook 5.1)."""
    from credguard.ml import triggers

    settings = context.settings()
    with session_scope(context.engine()) as session:
        items = triggers.due(session, settings)
    if not items:
        context.console.print("no product is due for retraining")
        return
    table = Table("product", "trigger", "why")
    for item in items:
        table.add_row(item.product, item.trigger, escape(item.detail))
    context.console.print(table)


@app.command("export-training-data")
def export_training_data_command(
    product: str = typer.Option(..., "--product", help="Product, e.g. CARTAO."),
    output: Path = typer.Option(..., "--output", help="CSV file to write."),
    months: int | None = typer.Option(
        None, "--months", min=1, max=600, help="Outcomes of the last N months (default 6)."
    ),
    since: str | None = typer.Option(
        None, "--since", help="Outcomes dated on or after this day (YYYY-MM-DD)."
    ),
) -> None:
    """Training file from observed outcomes (no CPF, no name), for `models train`."""
    from credguard.cli import outcomes

    outcomes.export_training_data(product=product, output=output, months=months, since=since)
