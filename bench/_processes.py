"""What the benches that measure in fresh processes share: where the database is, running a child."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

MARIADB_SERVER = os.environ.get(
    "CREDGUARD_BENCH_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306"
)


def database_url(engine_name: str, data_dir: Path, mariadb_database: str) -> str:
    """SQLite in ``data_dir``, or ``mariadb_database`` on the bench's MariaDB server."""
    if engine_name == "sqlite":
        return f"sqlite:///{data_dir / 'credguard.db'}"
    return f"{MARIADB_SERVER}/{mariadb_database}"


def run_child(script: str, args: list[str], env: dict[str, str]) -> dict[str, object]:
    """Run ``script ARGS`` in a fresh Python with ``env`` added; the JSON on its last line."""
    output = subprocess.run(
        [sys.executable, script, *args], env={**os.environ, **env}, capture_output=True, text=True
    )
    if output.returncode != 0:
        raise SystemExit(f"child {args} failed:\n{output.stderr[-4000:]}")
    result: dict[str, object] = json.loads(output.stdout.strip().splitlines()[-1])
    return result


def wait_ready(base: str, processes: list[subprocess.Popen[bytes]], timeout: float = 90) -> None:
    """Wait until ``base``/ready answers 200; stop if one of ``processes`` exits first."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{base}/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if any(process.poll() is not None for process in processes):
            raise SystemExit("a credguard process exited during start-up")
        if time.monotonic() > deadline:
            raise SystemExit("the server did not become ready")
        time.sleep(0.2)


def recreate_mariadb_database(name: str) -> None:
    """An empty database ``name`` (utf8mb4) on the bench's MariaDB server, dropping any old one."""
    _on_mariadb_server(
        f"DROP DATABASE IF EXISTS `{name}`", f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"
    )


def drop_mariadb_database(name: str) -> None:
    _on_mariadb_server(f"DROP DATABASE IF EXISTS `{name}`")


def _on_mariadb_server(*statements: str) -> None:
    from sqlalchemy import create_engine, text

    server = create_engine(MARIADB_SERVER)
    with server.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))
    server.dispose()
