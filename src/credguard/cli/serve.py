"""``credguard serve``: the HTTP API, with a job worker in the same process by default.

With ``--workers N`` the command supervises N copies of itself, each listening on the same
port through its own ``SO_REUSEPORT`` socket, so the kernel spreads connections across them.
(uvicorn's own multi-process mode shares one socket, and the first process to wake accepts a
whole burst of connections: a benchmark at 16 connections then ran on one core of two.) If
one process dies the others are stopped and the command fails, for systemd to restart it.
``/metrics`` adds up the processes' request and batch metrics (see :mod:`api.observability`).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from types import FrameType

import typer

from credguard import logs
from credguard.cli import context
from credguard.metrics import MULTIPROCESS_ENV


def serve_command(
    host: str | None = typer.Option(None, help="Address to listen on (default CREDGUARD_HOST)."),
    port: int | None = typer.Option(None, help="Port (default CREDGUARD_PORT)."),
    worker: bool = typer.Option(True, "--worker/--no-worker", help="Run a job worker in-process."),
    workers: int | None = typer.Option(
        None, min=1, max=64, help="Server processes (default CREDGUARD_WORKERS)."
    ),
    reuse_port: bool = typer.Option(
        False, "--reuse-port", hidden=True, help="Share the port with sibling processes."
    ),
) -> None:
    """Serve the HTTP API (and process batch jobs unless --no-worker)."""
    settings = context.settings()
    logs.configure(settings.log_level, log_dir=settings.resolved_log_dir)
    host, port = host or settings.host, port or settings.port
    processes = workers or settings.workers
    if processes > 1:
        from credguard.accounts import auth
        from credguard.outcomes.pseudonym import pseudonym_key

        # What create_app checks, checked once here: a bad schema or keys stop the command
        # before any process starts (the supervisor itself stays small: it serves nothing).
        context.engine()
        auth.secret_key(settings)
        pseudonym_key(settings)
        if settings.rate_limit_per_minute and not settings.redis_url:
            context.err_console.print(
                f"warning: {processes} processes count rate limits separately (each allows"
                f" {settings.rate_limit_per_minute}/min); set CREDGUARD_REDIS_URL to share them"
            )
        args = ["--host", host, "--port", str(port), "--workers", "1", "--reuse-port"]
        raise typer.Exit(_supervise(processes, [*args, "--worker" if worker else "--no-worker"]))

    import uvicorn

    from credguard.api.app import create_app

    config = uvicorn.Config(
        create_app(settings, worker=worker),
        host=host,
        port=port,
        server_header=False,
        # X-Forwarded-For is CredGuard's to judge (CREDGUARD_TRUSTED_PROXIES); uvicorn's own
        # rewriting would believe any loopback peer.
        proxy_headers=False,
        access_log=False,  # CredGuard writes its own access.log (combined format)
        log_level=settings.log_level.lower(),
    )
    server = uvicorn.Server(config)
    server.run(sockets=[_shared_socket(host, port)] if reuse_port else None)


def _shared_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


def _supervise(processes: int, args: list[str]) -> int:
    """Run ``processes`` servers until a signal stops them or one of them dies."""
    with tempfile.TemporaryDirectory(prefix="credguard-metrics-") as metrics_dir:
        env = {**os.environ, MULTIPROCESS_ENV: metrics_dir}
        return _run_children(processes, [sys.executable, "-m", "credguard", "serve", *args], env)


def _run_children(processes: int, command: list[str], env: dict[str, str]) -> int:
    stopping = False

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    # Before any child exists: a signal during start-up must still stop every child.
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    children: list[subprocess.Popen[bytes]] = []
    failed = 0
    try:
        for _ in range(processes):
            children.append(subprocess.Popen(command, env=env))
        while not stopping and not failed:
            for child in children:
                code = child.poll()
                if code is not None:
                    context.err_console.print(
                        f"a server process exited ({code}); stopping the others"
                    )
                    failed = code or 1
            time.sleep(0.2)
    finally:
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=60)
            except subprocess.TimeoutExpired:
                child.kill()
    return failed


def register(root: typer.Typer) -> None:
    root.command("serve")(serve_command)
