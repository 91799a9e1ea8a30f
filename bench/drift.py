"""Benchmark: a day's drift over a window of 1,000,000 stored scores, database read included.

    python bench/drift.py                          # 1M scores of CARTAO, 4 clients, SQLite
    python bench/drift.py --rows 200000 --engines sqlite,mariadb

Set-up (not timed): ``credguard init``'s default model for CARTAO, then ``--rows`` synthetic
customers (the project's generator) scored through the batch pipeline as ``--clients`` batch
jobs, one per client, so ``customer_scores`` holds them as production would. Timed, in a fresh
child process, ``--repeat`` times: ``drift.service.detect_drift`` for CARTAO — one query reading
the window, the nine features, the bins, the score PSI and every feature's drift and the
estimated performance for all clients and for each client, and storing the results. Printed:
the time per stage and the total (target ≤ 5 s on SQLite for 1M scores). MariaDB is the server
at CREDGUARD_BENCH_MARIADB_URL (default root@127.0.0.1:3306), database ``credguard_bench_drift``
(created and dropped).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

from _processes import database_url, drop_mariadb_database, recreate_mariadb_database, run_child

BENCH_DB = "credguard_bench_drift"
PRODUCT = "CARTAO"


def _database_url(engine_name: str, data_dir: Path) -> str:
    return database_url(engine_name, data_dir, BENCH_DB)


def _child(args: list[str], env: dict[str, str]) -> dict[str, object]:
    return run_child(__file__, args, env)


def child_setup(rows: int, clients: int, folder: Path) -> dict[str, object]:
    """Default model, clients, and ``rows`` scored customers in ``clients`` batch jobs."""
    from credguard import bootstrap
    from credguard.accounts import service as accounts
    from credguard.batches import processing, service
    from credguard.config import get_settings
    from credguard.db.engine import get_engine, session_scope
    from credguard.synth import generator

    settings = get_settings()
    engine = get_engine(settings.resolved_database_url)
    started = time.perf_counter()
    bootstrap.initialise(engine, settings)
    for index in range(clients):
        with session_scope(engine) as session:
            client_id = accounts.get_or_create_client(session, f"Bench client {index + 1}").id
        share = rows // clients + (1 if index < rows % clients else 0)
        path = folder / f"customers-{index}.csv"
        generator.write_csv(
            generator.generate(
                share,
                seed=100 + index,
                products=[PRODUCT],
                reference_date=date.today(),
                dirty_share=0.0,
            ),
            path,
        )
        with session_scope(engine) as session:
            job_id = service.submit(
                session, path, uploads_dir=settings.uploads_dir, client_id=client_id
            ).id
        assert processing.claim(engine, settings, "bench", only=job_id) == job_id
        assert processing.process(engine, settings, job_id, "bench") == "completed"
        path.unlink()
    return {"setup_seconds": time.perf_counter() - started}


def child_measure() -> dict[str, object]:
    """One timed drift run of the product, in this fresh process; its stages."""
    from credguard.config import get_settings
    from credguard.db.engine import get_engine
    from credguard.drift import service

    settings = get_settings()
    engine = get_engine(settings.resolved_database_url)
    started = time.perf_counter()
    report = service.detect_drift(engine, settings, products=[PRODUCT])
    total = time.perf_counter() - started
    (run,) = report.products
    return {
        "total_seconds": total,
        "rows": run.rows,
        "results": len(report.result_ids),
        "statuses": run.statuses,
        "stages": {**run.seconds, "store": report.store_seconds},
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--engines", default="sqlite")
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "credguard-bench-drift"
    )
    parser.add_argument("--child", choices=["setup", "measure"], help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        result = (
            child_setup(args.rows, args.clients, args.workdir)
            if args.child == "setup"
            else child_measure()
        )
        print(json.dumps(result))
        return

    print(f"cores: {os.cpu_count()}  scores: {args.rows:,} of {PRODUCT}  clients: {args.clients}")
    for engine_name in args.engines.split(","):
        data_dir = args.workdir / engine_name
        shutil.rmtree(data_dir, ignore_errors=True)
        data_dir.mkdir(parents=True)
        if engine_name == "mariadb":
            recreate_mariadb_database(BENCH_DB)
        env = {
            "CREDGUARD_DATA_DIR": str(data_dir),
            "CREDGUARD_DATABASE_URL": _database_url(engine_name, data_dir),
            "CREDGUARD_PRODUCTS": PRODUCT,
            "CREDGUARD_MLFLOW_TRACKING_URI": "off",
        }
        setup = _child(
            ["--child", "setup", "--rows", str(args.rows), "--clients", str(args.clients),
             "--workdir", str(data_dir)],
            env,
        )  # fmt: skip
        print(f"\n[{engine_name}] set-up (model, scoring {args.rows:,} customers): "
              f"{float(setup['setup_seconds']):.0f} s")  # type: ignore[arg-type]  # fmt: skip
        totals = []
        for attempt in range(args.repeat):
            result = _child(["--child", "measure"], env)
            total = float(result["total_seconds"])  # type: ignore[arg-type]
            totals.append(total)
            stages = result["stages"]
            assert isinstance(stages, dict)
            print(
                f"  run {attempt + 1}: {int(result['rows']):,} scores, {result['results']} results "  # type: ignore[call-overload]
                f"in {total:.2f} s ("
                + ", ".join(f"{k} {v:.2f} s" for k, v in stages.items())
                + f"); peak memory {float(result['peak_mb']):.0f} MB"  # type: ignore[arg-type]
            )
        print(
            f"  drift of {args.rows:,} scores, database read included: median "
            f"{statistics.median(totals):.2f} s, best {min(totals):.2f} s (target ≤ 5 s on SQLite)"
        )
        if engine_name == "mariadb":
            drop_mariadb_database(BENCH_DB)


if __name__ == "__main__":
    main()
