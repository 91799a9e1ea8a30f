"""The job worker: claims batch jobs and processes them, as a process or inside another one."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import uuid

import structlog
from sqlalchemy import Engine

from credguard.batches import processing
from credguard.config import Settings

log = structlog.get_logger(__name__)


def new_worker_id() -> str:
    """A name unique to this worker: host, pid and a random suffix."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def run_once(
    engine: Engine,
    settings: Settings,
    worker_id: str,
    on_progress: processing.ProgressCallback | None = None,
) -> int | None:
    """Claim and process one job; the job's id, or None when there was nothing to do."""
    job_id = processing.claim(engine, settings, worker_id)
    if job_id is None:
        return None
    with contextlib.suppress(processing.LeaseLost):  # the new owner finishes the job
        processing.process(engine, settings, job_id, worker_id, on_progress)
    return job_id


def run(
    engine: Engine,
    settings: Settings,
    *,
    stop: threading.Event | None = None,
    until_idle: bool = False,
    worker_id: str | None = None,
) -> None:
    """Process jobs until ``stop`` is set (or, with ``until_idle``, until none is left)."""
    stop = stop or threading.Event()
    worker_id = worker_id or new_worker_id()
    log.info("worker started", worker_id=worker_id)
    while not stop.is_set():
        try:
            job_id = run_once(engine, settings, worker_id)
        except Exception:
            log.exception("worker iteration failed; retrying", worker_id=worker_id)
            job_id = None
        if job_id is None:
            if until_idle:
                break
            stop.wait(settings.poll_interval_seconds)
    log.info("worker stopped", worker_id=worker_id)


def start_in_process(
    engine: Engine, settings: Settings
) -> tuple[threading.Thread, threading.Event]:
    """A worker thread inside the current process (``credguard serve``); set the event to stop it."""
    stop = threading.Event()
    thread = threading.Thread(
        target=run,
        args=(engine, settings),
        kwargs={"stop": stop},
        name="credguard-worker",
        daemon=True,
    )
    thread.start()
    return thread, stop
