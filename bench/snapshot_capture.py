"""Benchmark: capturing stored scores into the pseudonymised training store (score_snapshots).

    python bench/snapshot_capture.py                      # 1M rows, SQLite and MariaDB
    python bench/snapshot_capture.py --rows 200000 --engines sqlite

Fills ``customer_scores`` directly (no scoring: this measures the copy, not the batch path) with
``--rows`` rows in ``--jobs`` completed jobs, then times: the first capture of everything
(rows/s), a second capture with nothing new, as many rows again into the now full store (the
linking index's random pages cost more as it grows), one more job captured for one client (what
an outcomes upload does first), and the keyed hashing alone. MariaDB is the server at
CREDGUARD_BENCH_MARIADB_URL (default root@127.0.0.1:3306); the benchmark creates and drops the
database ``credguard_bench_snapshots``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
from _processes import database_url, drop_mariadb_database, recreate_mariadb_database
from sqlalchemy import Engine, func, insert, select

BENCH_DB = "credguard_bench_snapshots"
KEY = b"bench-pseudonym-key-of-32-bytes!"


def _engine(engine_name: str, folder: Path) -> Engine:
    from credguard.db import engine as db_engine
    from credguard.db import migrate

    if engine_name == "sqlite":
        url = f"sqlite:///{folder / 'credguard.db'}"
    else:
        recreate_mariadb_database(BENCH_DB)
        url = database_url(engine_name, folder, BENCH_DB)
    engine = db_engine.create(url)
    migrate.upgrade(engine)
    return engine


def fill(engine: Engine, client_id: int, rows: int, jobs: int, *, seed: int) -> None:
    """``rows`` stored scores in ``jobs`` completed jobs of ``client_id`` (bulk-inserted)."""
    from credguard.batches.tables import BatchJob, BatchStatus
    from credguard.db.bulk import FrameWriter

    rng = np.random.default_rng(seed)
    writer = FrameWriter(engine)
    now = datetime.now().replace(microsecond=0)
    per_job = rows // jobs
    for index in range(jobs):
        with engine.begin() as connection:
            inserted = connection.execute(
                insert(BatchJob).values(
                    client_id=client_id,
                    status=BatchStatus.COMPLETED,
                    file_name="bench.csv",
                    storage_path="",
                    file_sha256="",
                    file_size=0,
                    rows_total=per_job,
                    rows_processed=per_job,
                    reference_date=now.date(),
                    finished_at=now,
                    created_at=now,
                    updated_at=now,
                )
            ).inserted_primary_key
        assert inserted is not None
        job_id = int(inserted[0])
        n = per_job
        cpfs = pl.Series(rng.integers(10**9, 10**11 - 1, n)).cast(pl.String).str.zfill(11)
        frame = pl.DataFrame(
            {
                "batchJobId": [job_id] * n,
                "clientId": [client_id] * n,
                "rowNumber": np.arange(1, n + 1),
                "cpf": cpfs,
                "nome": ["Maria da Silva Santos"] * n,
                "produto": rng.choice(["CARTAO", "EMPRESTIMO", "CREDIARIO"], n),
                "data_primeira_compra": [date(2020, 1, 1)] * n,
                "data_ultima_compra": [date(2026, 1, 1)] * n,
                "total_compras": rng.integers(1, 100, n),
                "valor_total_compras": np.round(rng.random(n) * 10_000, 2),
                "total_pagamentos_em_dia": rng.integers(0, 100, n),
                "total_atrasos": rng.integers(0, 10, n),
                "maior_atraso": rng.integers(0, 90, n),
                "scoreProbInadimplencia": rng.random(n),
                "score": rng.integers(0, 1000, n),
                "faixaScore": ["C"] * n,
                "modelName": ["fa_12_v2"] * n,
                "modelVersion": ["3"] * n,
                "motivoExclusao": pl.Series([None] * n, dtype=pl.String),
                "dataProcessamento": [now + timedelta(seconds=index)] * n,
                "createdAt": [now] * n,
            }
        )
        writer.append(
            "customer_scores",
            frame,
            "UPDATE batch_jobs SET updatedAt = :now WHERE id = :id",
            {"now": datetime.now(), "id": job_id},
        )


def run(engine_name: str, rows: int, jobs: int) -> None:
    from credguard.accounts import service as accounts
    from credguard.db.engine import session_scope
    from credguard.outcomes import snapshots
    from credguard.outcomes.pseudonym import cpf_hashes
    from credguard.outcomes.tables import ScoreSnapshot

    with tempfile.TemporaryDirectory() as folder:
        engine = _engine(engine_name, Path(folder))
        try:
            with session_scope(engine) as session:
                client_id = accounts.create_client(session, "Bench").id
            started = time.perf_counter()
            fill(engine, client_id, rows, jobs, seed=1)
            print(f"{engine_name}: filled {rows:,} rows in {jobs} jobs in {_since(started)}")

            started = time.perf_counter()
            copied = snapshots.capture_with_key(engine, KEY)
            seconds = time.perf_counter() - started
            print(
                f"{engine_name}: first capture {copied:,} rows in {seconds:.1f} s "
                f"= {copied / seconds:,.0f} rows/s"
            )
            with engine.connect() as connection:
                stored = connection.execute(select(func.count()).select_from(ScoreSnapshot))
                assert stored.scalar() == rows, "every row is copied once"

            started = time.perf_counter()
            again = snapshots.capture_with_key(engine, KEY)
            print(f"{engine_name}: second capture, nothing new: {again} rows in {_since(started)}")

            fill(engine, client_id, rows, jobs, seed=4)
            started = time.perf_counter()
            more = snapshots.capture_with_key(engine, KEY)
            seconds = time.perf_counter() - started
            print(
                f"{engine_name}: {more:,} more rows into a store holding {rows:,} "
                f"in {seconds:.1f} s = {more / seconds:,.0f} rows/s"
            )

            fill(engine, client_id, 10_000, 1, seed=2)
            started = time.perf_counter()
            one = snapshots.capture_with_key(engine, KEY, client_id=client_id)
            print(
                f"{engine_name}: one new 10,000-row job, captured for its client "
                f"(as an outcomes upload does first): {one:,} rows in {_since(started)}"
            )
        finally:
            engine.dispose()
            if engine_name == "mariadb":
                drop_mariadb_database(BENCH_DB)

    sample = pl.Series(np.random.default_rng(3).integers(10**9, 10**11 - 1, rows)).cast(pl.String)
    started = time.perf_counter()
    cpf_hashes(sample.str.zfill(11), KEY)
    print(f"HMAC-SHA256 of {rows:,} CPFs alone: {_since(started)}")


def _since(started: float) -> str:
    return f"{time.perf_counter() - started:.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--jobs", type=int, default=20, help="completed jobs the rows are in")
    parser.add_argument("--engines", default="sqlite,mariadb")
    args = parser.parse_args()
    for engine_name in args.engines.split(","):
        run(engine_name.strip(), args.rows, args.jobs)


if __name__ == "__main__":
    main()
