"""``credguard serve``: the HTTP API, with a job worker in the same process by default."""

from __future__ import annotations

import os

import typer

from credguard import logs
from credguard.cli import context


def serve_command(
    host: str | None = typer.Option(None, help="Address to listen on (default CREDGUARD_HOST)."),
    port: int | None = typer.Option(None, help="Port (default CREDGUARD_PORT)."),
    worker: bool = typer.Option(True, "--worker/--no-worker", help="Run a job worker in-process."),
    workers: int | None = typer.Option(
        None, min=1, max=64, help="Server processes (default CREDGUARD_WORKERS)."
    ),
) -> None:
    """Serve the HTTP API (and process batch jobs unless --no-worker)."""
    import uvicorn

    from credguard.api.app import WORKER_ENV, create_app

    settings = context.settings()
    logs.configure(settings.log_level, log_dir=settings.resolved_log_dir)
    processes = workers or settings.workers
    # Checked here, once, so a bad schema or key stops the command before any process starts.
    app = create_app(settings, worker=worker)
    if processes > 1 and settings.rate_limit_per_minute and not settings.redis_url:
        context.err_console.print(
            f"warning: {processes} processes count rate limits separately (each allows"
            f" {settings.rate_limit_per_minute}/min); set CREDGUARD_REDIS_URL to share them"
        )
    os.environ[WORKER_ENV] = "1" if worker else "0"
    uvicorn.run(
        app if processes == 1 else "credguard.api.app:app_for_process",
        factory=processes > 1,
        workers=processes,
        host=host or settings.host,
        port=port or settings.port,
        server_header=False,
        # X-Forwarded-For is CredGuard's to judge (CREDGUARD_TRUSTED_PROXIES); uvicorn's own
        # rewriting would believe any loopback peer.
        proxy_headers=False,
        access_log=False,  # CredGuard writes its own access.log (combined format)
        log_level=settings.log_level.lower(),
    )


def register(root: typer.Typer) -> None:
    root.command("serve")(serve_command)
