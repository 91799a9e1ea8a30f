"""A small in-process scheduler: named jobs run daily at a UTC time, or every so often, in a thread.

``credguard serve`` (the embedded default, with no systemd timers) starts one with its jobs
(drift daily; an e-mail sender can be added as a periodic job). The scheduler only decides
*when*: each job must be idempotent and safe to run in several processes at once (several
``serve`` processes each run a scheduler), taking its own lock and skipping work already done.

A daily job runs at its time of day; with ``catch_up`` it also runs as soon as the scheduler
starts when ``catch_up()`` says a run is missing and the day's time has passed (a server
started after the daily time). Started before it, the job waits for its time: a restart at
00:30 must not compute the day's run on half an hour of data. A
periodic job runs at start and then every ``every``. A failing job is logged and tried again at
its next time; it never stops the scheduler or the other jobs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta

import structlog

from credguard.db.base import utcnow

log = structlog.get_logger(__name__)

#: Longest sleep between two looks at the clock (a suspended machine, a clock change).
MAX_SLEEP_SECONDS = 60.0


@dataclass(frozen=True)
class Job:
    """A named job: daily ``at`` a UTC time of day, or ``every`` interval (one of the two)."""

    name: str
    run: Callable[[], object]
    at: time | None = None
    every: timedelta | None = None
    catch_up: Callable[[], bool] | None = None  #: daily: is a run missing now?

    def __post_init__(self) -> None:
        if (self.at is None) == (self.every is None):
            raise ValueError(f"job {self.name}: give either a daily time or an interval")
        if self.every is not None and self.every <= timedelta(0):
            raise ValueError(f"job {self.name}: the interval must be positive")

    def next_run(self, after: datetime) -> datetime:
        """When the job runs next after ``after`` (naive UTC)."""
        if self.every is not None:
            return after + self.every
        assert self.at is not None
        today = datetime.combine(after.date(), self.at)
        return today if today > after else today + timedelta(days=1)

    def first_run(self, now: datetime) -> datetime:
        """When the job first runs in a scheduler started at ``now``."""
        if self.every is not None:
            return now
        assert self.at is not None
        if self.catch_up is not None and now.time() >= self.at:
            try:
                if self.catch_up():
                    return now
            except Exception:  # cannot tell (database down?): run, the job checks again itself
                log.exception("scheduled job catch-up check failed", job=self.name)
                return now
        return self.next_run(now)


class Scheduler:
    """Runs ``jobs`` in one daemon thread until :meth:`stop`."""

    def __init__(
        self,
        jobs: list[Job],
        *,
        clock: Callable[[], datetime] = utcnow,
        name: str = "credguard-scheduler",
    ) -> None:
        names = [job.name for job in jobs]
        if len(set(names)) != len(names):
            raise ValueError(f"job names must be unique: {names}")
        self.jobs = list(jobs)
        self._clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the job running now (if any) finishes, waiting up to ``timeout`` s."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _loop(self) -> None:
        if not self.jobs:
            return
        due = {job.name: job.first_run(self._clock()) for job in self.jobs}
        log.info("scheduler started", jobs={name: when.isoformat() for name, when in due.items()})
        while not self._stop.is_set():
            job = min(self.jobs, key=lambda j: due[j.name])
            wait = (due[job.name] - self._clock()).total_seconds()
            if wait > 0:
                self._stop.wait(min(wait, MAX_SLEEP_SECONDS))
                continue
            self._run(job)
            due[job.name] = job.next_run(self._clock())

    def _run(self, job: Job) -> None:
        log.info("scheduled job started", job=job.name)
        try:
            job.run()
        except Exception:
            log.exception("scheduled job failed; it runs again at its next time", job=job.name)
        else:
            log.info("scheduled job done", job=job.name)
