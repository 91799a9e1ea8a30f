"""``credguard serve --workers 2``: processes sharing one port, each scoring and storing."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import psutil
from sqlalchemy import Engine, func, select

from credguard.batches.tables import BatchJob, CustomerScore
from credguard.config import Settings
from credguard.customers.contract import REQUIRED_COLUMNS
from credguard.db.engine import session_scope
from tests import factories
from tests.api.conftest import People, _free_port


def test_two_processes_serve_one_port_and_every_request_is_stored_once(
    engine: Engine, settings: Settings, people: People
) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "CREDGUARD_DATA_DIR": str(settings.data_dir),
        "CREDGUARD_DATABASE_URL": settings.resolved_database_url,
        "CREDGUARD_PRODUCTS": ",".join(settings.products),
        "CREDGUARD_LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "credguard", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    customers = factories.make_customers(5, seed=3).select(REQUIRED_COLUMNS).to_dicts()
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            assert time.monotonic() < deadline, "credguard serve --workers 2 never got ready"
            time.sleep(0.2)
        assert len(psutil.Process(server.pid).children(recursive=True)) >= 2

        def score(index: int) -> httpx.Response:
            with httpx.Client(base_url=base, timeout=30) as client:
                return client.post(
                    "/api/v1/scores",
                    json={"customers": [customers[index % len(customers)]]},
                    headers=people.analyst.headers,
                )

        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(score, range(40)))

        def scored_requests() -> list[str]:
            text = httpx.get(f"{base}/metrics", timeout=10).text
            return [
                line
                for line in text.splitlines()
                if line.startswith("credguard_http_request_duration_seconds_count")
                and 'route="/api/v1/scores"' in line
            ]

        def counted(lines: list[str]) -> float:
            assert len(lines) == 1, lines
            return float(lines[0].rsplit(" ", 1)[1])

        # A request is counted just after its answer is sent: wait for the last one.
        deadline = time.monotonic() + 10
        while counted(scored_requests()) < 40 and time.monotonic() < deadline:
            time.sleep(0.05)
        # /metrics adds up both processes, whichever of them answers the scrape.
        for _ in range(4):
            assert counted(scored_requests()) == 40

        # One process dying takes the service down as a whole, for systemd to restart it.
        children = psutil.Process(server.pid).children()
        children[0].kill()
        assert server.wait(timeout=60) != 0
        psutil.wait_procs(children, timeout=30)
        assert not any(child.is_running() for child in children)
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=60)

    assert [a.status_code for a in answers] == [200] * 40
    job_ids = {a.json()["batchId"] for a in answers}
    assert len(job_ids) == 40
    with session_scope(engine) as session:
        rows = session.scalar(
            select(func.count())
            .select_from(CustomerScore)
            .where(CustomerScore.batch_job_id.in_(job_ids))
        )
        jobs = session.scalar(
            select(func.count()).select_from(BatchJob).where(BatchJob.id.in_(job_ids))
        )
    assert (rows, jobs) == (40, 40)
