"""``credguard init``, ``credguard synth`` and ``credguard demo``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from credguard.batches import export
from credguard.batches.tables import BatchStatus
from credguard.cli import context
from credguard.cli.batches import print_job, score_here
from credguard.db.base import utcnow
from credguard.errors import InvalidInput
from credguard.synth import generator

if TYPE_CHECKING:
    from credguard.bootstrap import InitReport


def init_command() -> None:
    """Migrate the database, create the admin and demo client, train missing default models."""
    _print_init(_initialise())


def _initialise() -> InitReport:
    # Imported here: training brings LightGBM and scikit-learn (~1.5 s), which no other command
    # needs at start-up.
    from credguard import bootstrap

    engine, settings = context.engine(check_schema=False), context.settings()
    with context.console.status("initialising") as status:
        return bootstrap.initialise(engine, settings, on_step=lambda step: status.update(step))


def _print_init(report: InitReport) -> None:
    if report.admin_password:
        context.console.print(
            f"admin user [bold]{report.admin_email}[/bold] created; its password, shown only once: "
            f"[bold]{report.admin_password}[/bold]"
        )
    if report.trained:
        table = Table("product", "AUC", "KS", "Brier", title="default models trained")
        for product, metrics in report.trained.items():
            table.add_row(
                product, *(f"{metrics.get(k, float('nan')):.3f}" for k in ("auc", "ks", "brier"))
            )
        context.console.print(table)
    context.console.print("CredGuard is initialised")


def synth_command(
    rows: int = typer.Option(10_000, "--rows", min=1, help="Number of customers."),
    seed: int = typer.Option(1, "--seed", help="Random seed (same seed, same file)."),
    output: Path = typer.Option(..., "-o", "--output", help="CSV file to write."),
    dirty_share: float = typer.Option(
        0.02, "--dirty-share", min=0.0, max=1.0, help="Share of rows with a defect."
    ),
    delimiter: str = typer.Option(",", "--delimiter", help="',' or ';'."),
    late_payments: float = typer.Option(
        1.0, "--late-payments", min=0.0, help="Shift: late installments ×F (1.3: 30 % more)."
    ),
    relationships: float = typer.Option(
        1.0, "--relationships", min=0.01, help="Shift: relationship length ×F (0.5: half)."
    ),
    ticket: float = typer.Option(1.0, "--ticket", min=0.01, help="Shift: purchase value ×F."),
) -> None:
    """Write synthetic customers with their true default probability and realised outcome.

    The shift options move the population away from the one the default models learnt (for
    drift monitoring: relationships half as long reach "action").
    """
    if delimiter not in {",", ";"}:
        raise InvalidInput("the delimiter must be ',' or ';'")
    settings = context.settings()
    frame = generator.generate(
        rows,
        seed=seed,
        products=settings.products,
        reference_date=utcnow().date(),
        dirty_share=dirty_share,
        shift=generator.Shift(
            late_payments_factor=late_payments,
            relationship_factor=relationships,
            ticket_factor=ticket,
        ),
    )
    generator.write_csv(frame, output, delimiter=delimiter)
    context.console.print(f"wrote {rows} synthetic customers to {output}")


def demo_command(
    rows: int = typer.Option(10_000, "--rows", min=1, help="Customers in the demo file."),
) -> None:
    """Initialise if needed, generate a demo file, score it as a batch job, export the results."""
    _print_init(_initialise())
    engine, settings = context.engine(check_schema=False), context.settings()
    demo_file = settings.data_dir / "demo" / "clientes-demo.csv"
    frame = generator.generate(
        rows, seed=7, products=settings.products, reference_date=utcnow().date(), dirty_share=0.03
    )
    generator.write_csv(frame, demo_file, delimiter=";")
    context.console.print(f"demo file with {rows} customers: {demo_file}")
    job = score_here(engine, settings, demo_file, None)
    print_job(engine, job)
    if job.status != BatchStatus.COMPLETED:
        raise InvalidInput(f"the demo batch failed: {job.error}")
    results = settings.results_dir / f"job-{job.id}.csv"
    export.export_results(engine, job, results, chunk_rows=settings.chunk_size)
    context.console.print(f"results: [bold]{results.resolve()}[/bold]")


def register(root: typer.Typer) -> None:
    root.command("init")(init_command)
    root.command("synth")(synth_command)
    root.command("demo")(demo_command)
