"""The in-process scheduler: when jobs run, and the daily drift computed once by several of them."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from credguard.config import Settings
from credguard.db.base import utcnow
from credguard.db.engine import session_scope
from credguard.drift import service
from credguard.drift.tables import DriftResult
from credguard.scheduler import Job, Scheduler
from tests.api.conftest import running_server
from tests.drift.conftest import scored_batch


def nothing() -> None:
    return None


def test_a_daily_job_runs_at_its_time_today_or_tomorrow() -> None:
    job = Job("daily", run=nothing, at=clock_time(9, 0))
    assert job.next_run(datetime(2026, 11, 27, 8, 59)) == datetime(2026, 11, 27, 9, 0)
    assert job.next_run(datetime(2026, 11, 27, 9, 0)) == datetime(2026, 11, 28, 9, 0)
    assert job.next_run(datetime(2026, 12, 31, 23, 0)) == datetime(2027, 1, 1, 9, 0)
    later = datetime(2026, 11, 27, 10, 0)
    assert job.first_run(later) == datetime(2026, 11, 28, 9, 0)
    missing = Job("daily", run=nothing, at=clock_time(9, 0), catch_up=lambda: True)
    assert missing.first_run(later) == later  # today's run is missing: now
    done = Job("daily", run=nothing, at=clock_time(9, 0), catch_up=lambda: False)
    assert done.first_run(later) == datetime(2026, 11, 28, 9, 0)

    def broken() -> bool:
        raise RuntimeError("database down")

    unsure = Job("daily", run=nothing, at=clock_time(9, 0), catch_up=broken)
    assert unsure.first_run(later) == later  # cannot tell: run, the job checks itself
    # Before today's time a missing run waits for it: a restart at 00:30 has 30 minutes of data.
    early = datetime(2026, 11, 27, 0, 30)
    assert missing.first_run(early) == datetime(2026, 11, 27, 9, 0)
    assert unsure.first_run(early) == datetime(2026, 11, 27, 9, 0)
    assert missing.first_run(datetime(2026, 11, 27, 9, 0)) == datetime(2026, 11, 27, 9, 0)


def test_jobs_need_a_time_or_an_interval_and_unique_names() -> None:
    with pytest.raises(ValueError, match="either"):
        Job("both", run=nothing, at=clock_time(1, 0), every=timedelta(seconds=1))
    with pytest.raises(ValueError, match="either"):
        Job("neither", run=nothing)
    with pytest.raises(ValueError, match="positive"):
        Job("never", run=nothing, every=timedelta(0))
    with pytest.raises(ValueError, match="unique"):
        Scheduler(
            [Job("a", run=nothing, every=timedelta(1)), Job("a", run=nothing, every=timedelta(1))]
        )


def test_periodic_jobs_run_and_a_failing_one_stops_nothing() -> None:
    ticks: list[float] = []
    failures = 0

    def fail() -> None:
        nonlocal failures
        failures += 1
        raise RuntimeError("boom")

    scheduler = Scheduler(
        [
            Job("tick", run=lambda: ticks.append(time.monotonic()), every=timedelta(seconds=0.05)),
            Job("fail", run=fail, every=timedelta(seconds=0.05)),
        ]
    )
    scheduler.start()
    deadline = time.monotonic() + 10
    while (len(ticks) < 5 or failures < 5) and time.monotonic() < deadline:
        time.sleep(0.02)
    scheduler.stop()
    assert len(ticks) >= 5 and failures >= 5
    assert not scheduler.running
    count = len(ticks)
    time.sleep(0.2)
    assert len(ticks) == count  # stopped means stopped


def test_a_daily_job_runs_when_its_clock_reaches_the_time() -> None:
    now = [datetime(2026, 11, 27, 8, 59, 59)]
    runs: list[datetime] = []
    looked = threading.Event()

    def clock() -> datetime:
        looked.set()
        return now[0]

    job = Job("daily", run=lambda: runs.append(now[0]), at=clock_time(9, 0))
    scheduler = Scheduler([job], clock=clock)
    scheduler.start()
    assert looked.wait(10)  # it has planned the run by its clock, at 08:59:59
    time.sleep(0.1)
    assert runs == []
    now[0] = datetime(2026, 11, 27, 9, 0, 1)  # it wakes at 09:00 by its clock, a second later
    deadline = time.monotonic() + 10
    while not runs and time.monotonic() < deadline:
        time.sleep(0.05)
    scheduler.stop()
    assert runs == [datetime(2026, 11, 27, 9, 0, 1)]


def test_two_schedulers_compute_the_days_drift_once(
    engine: Engine, settings: Settings, client_id: int, tmp_path: Path
) -> None:
    scored_batch(engine, settings, client_id, tmp_path, rows=600, seed=61)
    computed: list[object] = []
    lock = threading.Lock()

    # Both servers start before either has run: each finds today's run missing, then both run it.
    started = threading.Barrier(2, timeout=30)

    def counted(job: Job) -> Job:
        assert job.catch_up is not None
        missing = job.catch_up

        def catch_up() -> bool:
            answer = missing()
            started.wait()
            return answer

        def run() -> None:
            result = job.run()
            with lock:
                computed.append(result)

        return replace(job, run=run, catch_up=catch_up)

    # Today's time has passed whatever the hour the test runs at (the default 09:00 would make
    # it wait until then).
    at_midnight = settings.model_copy(update={"drift_run_at": "00:00"})
    # Two servers' schedulers (threads of one process here; processes share the same locks).
    schedulers = [
        Scheduler([counted(service.scheduled_job(engine, at_midnight))]) for _ in range(2)
    ]
    for scheduler in schedulers:
        scheduler.start()
    deadline = time.monotonic() + 60
    while len(computed) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    for scheduler in schedulers:
        scheduler.stop()
    assert len(computed) == 2
    assert sum(result is not None for result in computed) == 1  # the other found it done
    with session_scope(engine) as session:
        rows = session.scalar(select(func.count()).select_from(DriftResult))
        assert rows == 4  # CARTAO all + client, EMPRESTIMO all, CREDIARIO all
    assert not service.is_missing(engine, settings, utcnow().date())


def test_serve_runs_the_missing_drift_at_start_up(
    engine: Engine,
    settings: Settings,
    client_id: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scored_batch(engine, settings, client_id, tmp_path, rows=600, seed=62)
    assert service.is_missing(engine, settings, utcnow().date())
    # At 00:00 the day's time has always passed, whenever the test runs.
    settings = settings.model_copy(update={"drift_run_at": "00:00"})
    with running_server(settings.model_copy(update={"drift_schedule": True})):
        deadline = time.monotonic() + 60
        while service.is_missing(engine, settings, utcnow().date()):
            assert time.monotonic() < deadline, "the server's scheduler did not run drift"
            time.sleep(0.1)
    with session_scope(engine) as session:
        first = sorted(
            tuple(row) for row in session.execute(select(DriftResult.id, DriftResult.created_at))
        )
    assert len(first) == 4
    looked = threading.Event()

    def is_missing(*args: Any, **kwargs: Any) -> bool:
        answer = original(*args, **kwargs)
        looked.set()
        return answer

    original = service.is_missing
    monkeypatch.setattr(service, "is_missing", is_missing)
    with running_server(settings.model_copy(update={"drift_schedule": True})):
        # A restart finds today's run done and computes nothing (a run it started would be
        # finished when the server has stopped).
        assert looked.wait(30), "the restarted server's scheduler did not look"
    with session_scope(engine) as session:
        again = sorted(
            tuple(row) for row in session.execute(select(DriftResult.id, DriftResult.created_at))
        )
    assert again == first
