"""A promotion reaches a worker process that was already running, without a restart.

How fast (the issue's 5 s) is measured by ``bench/promotion_reach.py``, not timed here."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
from sqlalchemy import Engine

from credguard.batches.tables import BatchStatus
from credguard.config import Settings
from credguard.db.engine import session_scope
from credguard.ml import promotion
from tests import factories
from tests.conftest import database_url


def test_a_running_worker_scores_new_jobs_with_the_promoted_model(
    engine: Engine,
    settings: Settings,
    client_id: int,
    default_models: dict[str, Path],
    tmp_path: Path,
) -> None:
    env = {
        **os.environ,
        "CREDGUARD_DATABASE_URL": database_url(engine),
        "CREDGUARD_DATA_DIR": str(settings.data_dir),
        "CREDGUARD_PRODUCTS": ",".join(settings.products),
        "CREDGUARD_POLL_INTERVAL_SECONDS": "0.2",
    }
    running = subprocess.Popen(
        [sys.executable, "-m", "credguard", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    path = factories.write_file(
        factories.make_customers(300, seed=4, dirty_share=0.0).drop("motivo_esperado"),
        tmp_path / "c.csv",
    )
    try:
        before = _finished(engine, factories.submit(engine, settings, path, client_id))
        assert set(before["modelName"].drop_nulls()) == {
            "cartao_base", "emprestimo_base", "crediario_base"
        }  # fmt: skip
        with session_scope(engine) as session:
            promotion.register_file(
                session, default_models["CARTAO"], name="fa_12_v2", settings=settings,
                metrics_path=None,
            )  # fmt: skip
            promotion.promote(
                session, settings, product="CARTAO", model_name="fa_12_v2", reason="test",
                user_id=None, force=True,
            )  # fmt: skip
        after = _finished(engine, factories.submit(engine, settings, path, client_id))
        models = set(after.filter(after["produto"] == "CARTAO")["modelName"].drop_nulls())
        assert models == {"fa_12_v2"}
        assert running.poll() is None, "the same worker process did it"
    finally:
        running.terminate()
        running.wait(timeout=30)


def _finished(engine: Engine, job_id: int) -> pl.DataFrame:
    deadline = time.monotonic() + 60
    while factories.get_job(engine, job_id).status != BatchStatus.COMPLETED:
        assert time.monotonic() < deadline, "the worker did not finish the job"
        time.sleep(0.1)
    return factories.stored_rows(engine, job_id)
