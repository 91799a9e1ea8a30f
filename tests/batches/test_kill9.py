"""A worker killed with SIGKILL mid-job: another takes over; no row is lost or duplicated."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from credguard.batches import worker
from credguard.batches.tables import BatchJob, BatchStatus, CustomerScore
from credguard.config import Settings
from credguard.db.engine import session_scope
from tests import factories
from tests.conftest import database_url

ROWS = 120_000


@pytest.mark.slow
def test_job_survives_its_worker_being_killed(
    engine: Engine, settings: Settings, client_id: int, tmp_path: Path
) -> None:
    path = factories.write_file(
        factories.make_customers(ROWS, seed=3, dirty_share=0.02), tmp_path / "big.csv"
    )
    job_id = factories.submit(engine, settings, path, client_id)
    env = {
        **os.environ,
        "CREDGUARD_DATABASE_URL": database_url(engine),
        "CREDGUARD_DATA_DIR": str(settings.data_dir),
        "CREDGUARD_PRODUCTS": ",".join(settings.products),
        "CREDGUARD_CHUNK_SIZE": "500",
        "CREDGUARD_LEASE_TIMEOUT_SECONDS": "2",
    }
    victim = subprocess.Popen(
        [sys.executable, "-m", "credguard", "worker", "--until-idle"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        done = _wait_for_progress(engine, job_id, at_least=2_000, timeout=120)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
    finally:
        if victim.poll() is None:
            victim.kill()
    assert done < ROWS, "the worker finished before it could be killed; make the job bigger"

    with session_scope(engine) as session:
        job = session.get(BatchJob, job_id)
        assert job is not None and job.status == BatchStatus.PROCESSING
        killed_at = job.rows_processed
    assert killed_at >= done

    worker.run(engine, settings, until_idle=True)  # claims nothing until the 2 s lease expires
    deadline = time.monotonic() + 60
    while (
        factories.get_job(engine, job_id).status == BatchStatus.PROCESSING
        and time.monotonic() < deadline
    ):
        time.sleep(0.5)
        worker.run(engine, settings, until_idle=True)

    job = factories.get_job(engine, job_id)
    assert job.status == BatchStatus.COMPLETED, job.error
    assert job.attempts == 2
    with session_scope(engine) as session:
        count, distinct, low, high = session.execute(
            select(
                func.count(),
                func.count(func.distinct(CustomerScore.row_number)),
                func.min(CustomerScore.row_number),
                func.max(CustomerScore.row_number),
            ).where(CustomerScore.batch_job_id == job_id)
        ).one()
    assert (count, distinct, low, high) == (ROWS, ROWS, 1, ROWS)
    assert job.rows_scored + job.rows_excluded == ROWS


def _wait_for_progress(engine: Engine, job_id: int, *, at_least: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with session_scope(engine) as session:
            done = session.scalar(select(BatchJob.rows_processed).where(BatchJob.id == job_id)) or 0
        if done >= at_least:
            return done
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} made no progress in {timeout} s")
