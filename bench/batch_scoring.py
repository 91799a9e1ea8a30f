"""Benchmark: batch scoring end to end (parse → validate → score with reasons → store → export).

    python bench/batch_scoring.py                       # 1M rows, SQLite and MariaDB, naive side by side
    python bench/batch_scoring.py --rows 200000 --no-naive --engines sqlite
    python bench/batch_scoring.py --flat-memory 5000000 # also a 5M-row job, to compare peak memory

Each measured job runs in a child process of its own, so its peak memory (ru_maxrss) is its own;
models are trained beforehand by a separate ``init`` child. Printed per engine: stage seconds,
rows per second, peak memory, the latency of a 1,000-row batch on a warm worker, and the model's
per-row inference cost. The naive pipeline (bench/naive.py) runs on the same file in the same run.
MariaDB is the server at CREDGUARD_BENCH_MARIADB_URL (default root@127.0.0.1:3306); the benchmark
creates and drops the database ``credguard_bench``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from _processes import database_url, recreate_mariadb_database, run_child

BENCH_DB = "credguard_bench"


def _database_url(engine_name: str, data_dir: Path) -> str:
    return database_url(engine_name, data_dir, BENCH_DB)


def _reset_database(engine_name: str) -> None:
    if engine_name == "mariadb":
        recreate_mariadb_database(BENCH_DB)


def _child(args: list[str], env: dict[str, str]) -> dict[str, object]:
    return run_child(__file__, args, env)


def make_file(rows: int, folder: Path) -> Path:
    """The input file (cached): synthetic customers with 2 % dirty rows, client-style formats."""
    path = folder / f"customers-{rows}.csv"
    if not path.exists():
        from credguard.synth import generator

        frame = generator.generate(
            rows,
            seed=2025,
            products=["CARTAO", "EMPRESTIMO", "CREDIARIO"],
            reference_date=date.today(),
            dirty_share=0.02,
        )
        generator.write_csv(frame, path, delimiter=";")
    return path


def child_init() -> dict[str, object]:
    from credguard import bootstrap
    from credguard.config import get_settings
    from credguard.db.engine import get_engine

    settings = get_settings()
    started = time.perf_counter()
    bootstrap.initialise(get_engine(settings.resolved_database_url), settings)
    return {"init_seconds": time.perf_counter() - started}


def child_job(file: Path, small: Path | None) -> dict[str, object]:
    """Submit, process and export ``file`` in this process; timings and peak memory."""
    from credguard.accounts import service as accounts
    from credguard.batches import export, processing, service
    from credguard.config import get_settings
    from credguard.db.engine import get_engine, session_scope

    settings = get_settings()
    engine = get_engine(settings.resolved_database_url)
    with session_scope(engine) as session:
        client = accounts.get_client_by_name(session, settings.demo_client)
        assert client is not None
        client_id = client.id

    def run_job(path: Path, out: Path) -> tuple[dict[str, float], int, int]:
        timings = processing.StageTimings()
        with timings.stage("submit"), session_scope(engine) as session:
            job_id = service.submit(
                session, path, uploads_dir=settings.uploads_dir, client_id=client_id
            ).id
        assert processing.claim(engine, settings, "bench", only=job_id) == job_id
        status = processing.process(engine, settings, job_id, "bench", timings=timings)
        assert status == "completed", status
        with session_scope(engine) as session:
            job = service.get_or_raise(session, job_id)
        with timings.stage("export"):
            rows = export.export_results(engine, job, out, chunk_rows=settings.chunk_size)
        return timings.seconds, rows, job.rows_excluded

    result: dict[str, object] = {}
    if small is not None:
        run_job(small, file.parent / "warmup.csv")  # warm: models loaded, caches hot
        latencies = []
        for _ in range(5):
            started = time.perf_counter()
            run_job(small, file.parent / "small-out.csv")
            latencies.append(time.perf_counter() - started)
        result["small_batch_seconds"] = sorted(latencies)[len(latencies) // 2]
    started = time.perf_counter()
    stages, rows, excluded = run_job(file, file.parent / "out.csv")
    result.update(
        total_seconds=time.perf_counter() - started,
        stages=stages,
        rows=rows,
        excluded=excluded,
        peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    )
    return result


def child_inference(rows: int) -> dict[str, object]:
    """Per-row cost of the production model: table look-ups vs LightGBM's own predict."""
    import lightgbm as lgb
    import numpy as np

    from credguard.config import get_settings
    from credguard.db.engine import get_engine, session_scope
    from credguard.ml import registry
    from credguard.scoring.features import build_features
    from credguard.scoring.score import score_chunk
    from credguard.synth import generator

    settings = get_settings()
    with session_scope(get_engine(settings.resolved_database_url)) as session:
        model = registry.load(registry.production_models(session)["CARTAO"])
    frame = generator.normalise(
        generator.generate(
            rows, seed=3, products=["CARTAO"], reference_date=date.today(), dirty_share=0.0
        )
    )
    started = time.perf_counter()
    score_chunk(frame, model, cutoffs=settings.cutoffs_for("CARTAO"), reference_date=date.today())
    lookup = time.perf_counter() - started
    X = build_features(frame, date.today())
    margin = model.margin(X)
    booster = lgb.Booster(model_str=model.artifact.model_text)
    started = time.perf_counter()
    booster.predict(X, num_threads=2)
    native = time.perf_counter() - started
    started = time.perf_counter()
    booster.predict(X[: rows // 10], pred_contrib=True, num_threads=2)
    shap = (time.perf_counter() - started) * 10
    trees = booster.num_trees()
    return {
        "rows": rows,
        "trees": trees,
        "lookup_us_per_row": lookup / rows * 1e6,
        "lightgbm_predict_us_per_row": native / rows * 1e6,
        "treeshap_us_per_row": shap / rows * 1e6,
        "max_abs_margin_diff": float(
            np.max(np.abs(booster.predict(X[:20000], raw_score=True) - margin[:20000]))
        ),
    }


def child_naive(file: Path, engine_name: str, data_dir: Path) -> dict[str, object]:
    sys.path.insert(0, str(Path(__file__).parent))
    import naive
    from sqlalchemy import create_engine

    model = naive.train_reference_model(date.today())
    url = _database_url(engine_name, data_dir).replace("credguard.db", "naive.db")
    started = time.perf_counter()
    stages = naive.run(file, create_engine(url), data_dir / "naive-out.csv", model)
    return {
        "total_seconds": time.perf_counter() - started,
        "stages": stages,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--engines", default="sqlite,mariadb")
    parser.add_argument("--naive", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument(
        "--flat-memory", type=int, default=0, metavar="ROWS", help="also run a job this big"
    )
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "credguard-bench"
    )
    parser.add_argument(
        "--child", choices=["init", "job", "inference", "naive"], help=argparse.SUPPRESS
    )
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--small", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--engine-name", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        data_dir = Path(os.environ["CREDGUARD_DATA_DIR"])
        result = {
            "init": lambda: child_init(),
            "job": lambda: child_job(args.file, args.small),
            "inference": lambda: child_inference(1_000_000),
            "naive": lambda: child_naive(args.file, args.engine_name, data_dir),
        }[args.child]()
        print(json.dumps(result))
        return

    args.workdir.mkdir(parents=True, exist_ok=True)
    print(f"cores: {os.cpu_count()}  rows: {args.rows:,}  workdir: {args.workdir}")
    started = time.perf_counter()
    big = make_file(args.rows, args.workdir)
    small = make_file(1_000, args.workdir)
    print(
        f"input: {big} ({big.stat().st_size / 1e6:.0f} MB, generated/cached in {time.perf_counter() - started:.1f} s)"
    )

    for engine_name in args.engines.split(","):
        data_dir = args.workdir / engine_name
        if data_dir.exists():
            subprocess.run(["rm", "-rf", str(data_dir)], check=True)
        data_dir.mkdir(parents=True)
        _reset_database(engine_name)
        env = {
            "CREDGUARD_DATA_DIR": str(data_dir),
            "CREDGUARD_DATABASE_URL": _database_url(engine_name, data_dir),
        }
        _child(["--child", "init"], env)
        if engine_name == args.engines.split(",")[0]:
            inference = _child(["--child", "inference"], env)
            print(
                f"\nmodel: {inference['trees']} trees; per row: features + table look-up + reasons "
                f"{inference['lookup_us_per_row']:.2f} µs, LightGBM predict {inference['lightgbm_predict_us_per_row']:.2f} µs, "
                f"TreeSHAP {inference['treeshap_us_per_row']:.1f} µs; max |margin diff| {inference['max_abs_margin_diff']:.1e}"
            )
        result = _child(["--child", "job", "--file", str(big), "--small", str(small)], env)
        stages = result["stages"]
        assert isinstance(stages, dict)
        total = float(result["total_seconds"])  # type: ignore[arg-type]
        print(
            f"\n[{engine_name}] {result['rows']:,} rows ({result['excluded']:,} excluded) end to end in {total:.2f} s "
            f"= {int(result['rows']) / total:,.0f} rows/s; peak memory {float(result['peak_mb']):.0f} MB"
        )  # type: ignore[call-overload]
        print(
            "  stages: " + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in stages.items())
        )
        print(f"  1,000-row batch on a warm worker: {float(result['small_batch_seconds']):.3f} s")  # type: ignore[arg-type]
        if args.flat_memory:
            huge = make_file(args.flat_memory, args.workdir)
            flat = _child(["--child", "job", "--file", str(huge)], env)
            print(
                f"  {args.flat_memory:,} rows: {float(flat['total_seconds']):.1f} s, peak memory "  # type: ignore[arg-type]
                f"{float(flat['peak_mb']):.0f} MB (vs {float(result['peak_mb']):.0f} MB)"
            )  # type: ignore[arg-type]
        if args.naive:
            naive_result = _child(
                ["--child", "naive", "--file", str(big), "--engine-name", engine_name], env
            )
            naive_total = float(naive_result["total_seconds"])  # type: ignore[arg-type]
            naive_stages = naive_result["stages"]
            assert isinstance(naive_stages, dict)
            print(
                f"  naive pipeline: {naive_total:.1f} s, peak {float(naive_result['peak_mb']):.0f} MB "  # type: ignore[arg-type]
                f"({', '.join(f'{k} {v:.1f} s' for k, v in naive_stages.items())}) → CredGuard is {naive_total / total:.1f}× faster"
            )
        _reset_database(engine_name)


if __name__ == "__main__":
    main()
