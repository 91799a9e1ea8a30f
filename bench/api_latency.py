"""Benchmark: the API under load, from a load generator in its own process, over loopback.

    python bench/api_latency.py [--duration 10] [--upload-mb 100] [--workers 2] [--repeat 3]

Starts ``credguard serve`` (``--workers`` processes, each with its job worker) on a fresh
embedded installation (SQLite), creates an analyst and an API token, then measures with ``wrk`` (Debian package
``wrk``; installed here with apt-get if missing):

- online scoring of one customer (``POST /api/v1/scores``: validated, scored, stored) at
  concurrency 1 and 16: requests/s, p50 and p99 latency, errors;
- a streamed CSV upload of ``--upload-mb`` MB: time, and how much the server's memory grew;
- Argon2id password verification (OWASP parameters): p50 and p95.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

import httpx
import psutil
from _processes import wait_ready

CUSTOMER = {
    "cpf": "529.982.247-25",
    "nome": "Maria da Silva",
    "produto": "CARTAO",
    "data_primeira_compra": "2019-03-01",
    "data_ultima_compra": "15/10/2025",
    "total_compras": "42",
    "valor_total_compras": "12.345,67",
    "total_pagamentos_em_dia": "120",
    "total_atrasos": "6",
    "maior_atraso": "12",
}

WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = [[%s]]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %s"
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _credguard(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "credguard", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise SystemExit(f"credguard {' '.join(args)} failed: {result.stderr}")
    return result.stdout


def analyst_token(env: dict[str, str], email: str, password: str) -> str:
    """Create an analyst of the demo client and an API token of theirs; the token."""
    _credguard(
        env,
        "users",
        "create",
        email,
        "--name",
        "Bench",
        "--role",
        "analyst",
        "--client",
        "Loja Demo",
        "--password-stdin",
        stdin=password + "\n",
    )
    token_output = _credguard(env, "users", "token", email, "--name", "bench")
    return re.search(r"(cg_[A-Za-z0-9_\-]+)", token_output).group(1)  # type: ignore[union-attr]


def _ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False, capture_output=True)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("this benchmark needs wrk (apt-get install wrk)")
    return found


def _wrk(
    wrk: str, url: str, token: str, connections: int, seconds: int, folder: Path
) -> dict[str, float]:
    script = folder / "score.lua"
    script.write_text(WRK_SCRIPT % (json.dumps({"customers": [CUSTOMER]}), token))
    output = subprocess.run(
        [
            wrk,
            "-t",
            "1",
            "-c",
            str(connections),
            "-d",
            f"{seconds}s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    def latency(label: str) -> float:
        match = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", output)
        assert match, output
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    requests = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)", output)
    return {
        "rps": requests,
        "p50_ms": latency("50"),
        "p99_ms": latency("99"),
        "non_2xx": float(errors.group(1)) if errors else 0.0,
        "socket_errors": 1.0 if socket_errors else 0.0,
    }


def machine_speed() -> float:
    """Seconds for 10 million pure-Python additions: this machine's speed at the moment.

    Shared machines vary (seen here: 0.6 s to 1.6 s within an hour); every figure below scales
    with it, so it is printed next to them.
    """
    started = time.perf_counter()
    total = 0
    for i in range(10_000_000):
        total += i
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--upload-mb", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2, help="credguard serve processes")
    parser.add_argument("--repeat", type=int, default=3, help="wrk runs per concurrency")
    args = parser.parse_args()
    wrk = _ensure_wrk()
    folder = Path(tempfile.mkdtemp(prefix="credguard-api-bench-"))
    port = _free_port()
    env = {
        **os.environ,
        "CREDGUARD_DATA_DIR": str(folder / "data"),
        "CREDGUARD_LOG_LEVEL": "WARNING",
        "CREDGUARD_RATE_LIMIT_PER_MINUTE": "100000000",
        "CREDGUARD_UPLOAD_MAX_BYTES": str((args.upload_mb + 50) * 1024 * 1024),
    }
    _credguard(env, "init")
    token = analyst_token(env, "bench@loja.test", "bench-password-123")

    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "credguard",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, [server])
        check = httpx.post(
            f"{base}/api/v1/scores",
            json={"customers": [CUSTOMER]},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert check.status_code == 200, check.text
        _wrk(wrk, f"{base}/api/v1/scores", token, 4, 2, folder)  # warm-up
        print(
            f"cores: {os.cpu_count()}; server: credguard serve --workers {args.workers}, SQLite;"
            f" load: wrk, 1 thread; machine speed: 10M Python additions in {machine_speed():.2f} s"
        )
        for connections in (1, 16):
            runs = []
            for run in range(1, args.repeat + 1):
                result = _wrk(
                    wrk, f"{base}/api/v1/scores", token, connections, args.duration, folder
                )
                runs.append(result)
                print(
                    f"online scoring, 1 customer, concurrency {connections:>2}, run {run}: "
                    f"{result['rps']:,.0f} req/s, p50 {result['p50_ms']:.2f} ms, "
                    f"p99 {result['p99_ms']:.2f} ms, non-2xx {result['non_2xx']:.0f}, "
                    f"socket errors {'yes' if result['socket_errors'] else 'none'}"
                )
            middle = sorted(runs, key=lambda r: r["p99_ms"])[len(runs) // 2]
            print(
                f"  median run of {len(runs)} (by p99): {middle['rps']:,.0f} req/s, "
                f"p99 {middle['p99_ms']:.2f} ms"
            )

        big = folder / "upload.csv"
        from credguard.synth import generator

        rows = args.upload_mb * 1024 * 1024 // 104
        generator.write_csv(
            generator.generate(
                rows,
                seed=1,
                products=["CARTAO", "EMPRESTIMO", "CREDIARIO"],
                reference_date=date.today(),
                dirty_share=0.02,
            ),
            big,
            delimiter=";",
        )
        server_processes = [psutil.Process(server.pid)]
        server_processes += server_processes[0].children(recursive=True)

        def resident() -> int:
            """Memory of the whole server: every process, whichever receives the upload."""
            return sum(process.memory_info().rss for process in server_processes)

        before = resident()
        peak = before
        sampling = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not sampling.is_set():
                peak = max(peak, resident())
                time.sleep(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.perf_counter()
        with big.open("rb") as handle, httpx.Client(timeout=300) as client:
            response = client.post(
                f"{base}/api/v1/batches",
                params={"fileName": "upload.csv"},
                content=iter(lambda: handle.read(1 << 20), b""),
                headers={"Authorization": f"Bearer {token}", "Content-Type": "text/csv"},
            )
        took = time.perf_counter() - started
        sampling.set()
        sampler.join()
        assert response.status_code == 202, response.text
        print(
            f"upload of {big.stat().st_size / 1e6:.0f} MB: {took:.2f} s "
            f"({big.stat().st_size / 1e6 / took:.0f} MB/s); server memory {before / 1e6:.0f} MB, "
            f"peak during the upload {peak / 1e6:.0f} MB (+{(peak - before) / 1e6:.0f} MB)"
        )
    finally:
        server.terminate()
        server.wait(timeout=30)

    from argon2 import PasswordHasher

    from credguard.accounts.service import hash_password

    hashed = hash_password("correct horse battery staple")
    verifier = PasswordHasher()
    timings = []
    for _ in range(40):
        started = time.perf_counter()
        verifier.verify(hashed, "correct horse battery staple")
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    print(
        f"Argon2id verify (m=19 MiB, t=2, p=1): p50 {timings[19]:.0f} ms, p95 {timings[37]:.0f} ms"
    )
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
