"""``credguard batches …``, ``credguard worker`` and the one-shot ``credguard score``."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table
from sqlalchemy import Engine, func, select

from credguard.accounts import service as accounts
from credguard.batches import export, processing, service, worker
from credguard.batches.tables import BatchJob, BatchStatus, CustomerScore
from credguard.cli import context
from credguard.config import Settings
from credguard.db.engine import session_scope
from credguard.errors import InvalidInput, NotFound

app = typer.Typer(help="Batch jobs: submit, follow, reprocess, export.", no_args_is_help=True)

ClientOption = typer.Option(
    None, "--client", help="Client company name (default: the demo client)."
)


def _client_id(engine: Engine, settings: Settings, name: str | None) -> int:
    with session_scope(engine) as session:
        client = accounts.get_client_by_name(session, name or settings.demo_client)
        if client is None:
            raise NotFound(
                f"client {name or settings.demo_client!r} does not exist; run `credguard init`"
            )
        return client.id


def submit_file(
    engine: Engine,
    settings: Settings,
    file: Path,
    client: str | None,
    *,
    claimed_by: str | None = None,
) -> int:
    """Store ``file`` as a new job (pending, or already claimed by ``claimed_by``); its id."""
    client_id = _client_id(engine, settings, client)
    with session_scope(engine) as session:
        job = service.submit(
            session,
            file,
            uploads_dir=settings.uploads_dir,
            client_id=client_id,
            claimed_by=claimed_by,
        )
        return job.id


def score_here(engine: Engine, settings: Settings, file: Path, client: str | None) -> BatchJob:
    """Submit ``file`` claimed by this process and process it here, with a progress bar.

    Claimed at creation, so a worker running elsewhere cannot take it in between.
    """
    worker_id = worker.new_worker_id()
    job_id = submit_file(engine, settings, file, client, claimed_by=worker_id)
    with context.row_progress(f"scoring job {job_id}") as progress:
        task = progress.task_ids[0]

        def update(done: int, estimated: int | None) -> None:
            progress.update(task, completed=done, total=max(done, estimated or 0))

        processing.process(engine, settings, job_id, worker_id, on_progress=update)
        with session_scope(engine) as session:
            job = service.get_or_raise(session, job_id)
            progress.update(task, completed=job.rows_total or 0, total=job.rows_total or 0)
    return job


def print_job(engine: Engine, job: BatchJob) -> None:
    """A job's state, counts, and its exclusions and bands."""
    table = Table(show_header=False, box=None)
    table.add_row("job", str(job.id))
    table.add_row("file", job.file_name)
    table.add_row("status", job.status)
    table.add_row("progress", f"{job.progress:.0%}")
    table.add_row(
        "rows",
        f"{job.rows_total or job.rows_processed} ({job.rows_scored} scored, {job.rows_excluded} excluded)",
    )
    table.add_row("created", f"{job.created_at:%Y-%m-%d %H:%M:%S} UTC")
    if job.started_at and job.finished_at:
        table.add_row("took", f"{(job.finished_at - job.started_at).total_seconds():.2f} s")
    if job.models:
        pinned = json.loads(job.models)
        table.add_row(
            "models", ", ".join(f"{p}: {m['name']} v{m['version']}" for p, m in pinned.items())
        )
    if job.error:
        table.add_row("error", f"[red]{job.error}[/red]")
    context.console.print(table)
    if job.status != BatchStatus.COMPLETED:
        return
    with session_scope(engine) as session:
        counts = session.execute(
            select(CustomerScore.faixa_score, CustomerScore.motivo_exclusao, func.count())
            .where(CustomerScore.batch_job_id == job.id)
            .group_by(CustomerScore.faixa_score, CustomerScore.motivo_exclusao)
            .order_by(CustomerScore.faixa_score, CustomerScore.motivo_exclusao)
        ).all()
    summary = Table("band / exclusion", "rows")
    for band, reason, count in counts:
        summary.add_row(band or reason or "?", str(count))
    context.console.print(summary)


@app.command("submit")
def submit_command(
    file: Path = typer.Argument(..., help="CSV file of customers."),
    client: str | None = ClientOption,
) -> None:
    """Queue a CSV file for scoring; a worker picks it up."""
    engine, settings = context.engine(), context.settings()
    job_id = submit_file(engine, settings, file, client)
    context.console.print(
        f"submitted job {job_id} ({file.name}); follow it with `credguard batches show {job_id}`"
    )


@app.command("list")
def list_command(
    status: str | None = typer.Option(None, help="pending, processing, completed or failed."),
    limit: int = typer.Option(20, min=1, max=1000),
) -> None:
    """Most recent batch jobs."""
    if status is not None and status not in {s.value for s in BatchStatus}:
        raise InvalidInput(
            f"unknown status {status!r}; use one of {', '.join(s.value for s in BatchStatus)}"
        )
    with session_scope(context.engine()) as session:
        jobs = service.list_jobs(session, status=status, limit=limit)
    table = Table("id", "file", "status", "progress", "rows", "scored", "excluded", "created (UTC)")
    for job in jobs:
        table.add_row(
            str(job.id),
            job.file_name,
            job.status,
            f"{job.progress:.0%}",
            str(job.rows_total or ""),
            str(job.rows_scored),
            str(job.rows_excluded),
            f"{job.created_at:%Y-%m-%d %H:%M:%S}",
        )
    context.console.print(table)


@app.command("show")
def show_command(job_id: int = typer.Argument(..., metavar="ID")) -> None:
    """One job's status, counts and error."""
    engine = context.engine()
    with session_scope(engine) as session:
        job = service.get_or_raise(session, job_id)
    print_job(engine, job)


@app.command("reprocess")
def reprocess_command(
    job_id: int = typer.Argument(..., metavar="ID"),
    force: bool = typer.Option(False, "--force", help="Even if a worker seems to hold it."),
) -> None:
    """Re-run a failed or stuck job from scratch (its stored rows are replaced)."""
    settings = context.settings()
    with session_scope(context.engine()) as session:
        service.reprocess(
            session, job_id, lease_timeout_seconds=settings.lease_timeout_seconds, force=force
        )
    context.console.print(f"job {job_id} is pending again; a worker will process it")


@app.command("export")
def export_command(
    job_id: int = typer.Argument(..., metavar="ID"),
    output: Path = typer.Option(..., "-o", "--output", help="CSV file to write."),
) -> None:
    """Write a completed job's results as CSV, in input row order."""
    engine, settings = context.engine(), context.settings()
    with session_scope(engine) as session:
        job = service.get_or_raise(session, job_id)
    rows = export.export_results(engine, job, output, chunk_rows=settings.chunk_size)
    context.console.print(f"wrote {rows} rows to {output}")


def worker_command(
    until_idle: bool = typer.Option(False, "--until-idle", help="Stop when no job is waiting."),
) -> None:
    """Process batch jobs as they arrive (run several for more throughput)."""
    from credguard import logs

    settings = context.settings()
    logs.configure(settings.log_level, log_dir=settings.resolved_log_dir)
    worker.run(context.engine(), settings, until_idle=until_idle)


def score_command(
    file: Path = typer.Argument(..., help="CSV file of customers."),
    output: Path = typer.Option(..., "-o", "--output", help="CSV file of results."),
    client: str | None = ClientOption,
) -> None:
    """Score a file in one go: submit, process here, export."""
    engine, settings = context.engine(), context.settings()
    job = score_here(engine, settings, file, client)
    print_job(engine, job)
    if job.status == BatchStatus.COMPLETED:
        rows = export.export_results(engine, job, output, chunk_rows=settings.chunk_size)
        context.console.print(f"wrote {rows} rows to {output}")
    else:
        raise InvalidInput(f"batch job {job.id} failed: {job.error}")


def register(root: typer.Typer) -> None:
    root.command("worker")(worker_command)
    root.command("score")(score_command)
