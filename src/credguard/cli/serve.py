"""``credguard serve``: the HTTP API, with a job worker in the same process by default."""

from __future__ import annotations

import typer

from credguard import logs
from credguard.cli import context


def serve_command(
    host: str | None = typer.Option(None, help="Address to listen on (default CREDGUARD_HOST)."),
    port: int | None = typer.Option(None, help="Port (default CREDGUARD_PORT)."),
    worker: bool = typer.Option(True, "--worker/--no-worker", help="Run a job worker in-process."),
) -> None:
    """Serve the HTTP API (and process batch jobs unless --no-worker)."""
    import uvicorn

    from credguard.api.app import create_app

    settings = context.settings()
    logs.configure(settings.log_level, log_dir=settings.resolved_log_dir)
    app = create_app(settings, worker=worker)
    uvicorn.run(
        app,
        host=host or settings.host,
        port=port or settings.port,
        server_header=False,
        access_log=False,  # CredGuard writes its own access.log (combined format)
        log_level=settings.log_level.lower(),
    )


def register(root: typer.Typer) -> None:
    root.command("serve")(serve_command)
