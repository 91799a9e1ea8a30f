"""The FastAPI application: settings and engine on ``app.state``, errors as problem details.

``create_app`` checks before serving that the schema is current and a signing key exists, and
refuses to start otherwise, saying what to run or set (the same for the pseudonym key of the
outcomes training store). With ``worker=True`` (the embedded default) a job worker runs in a
thread of the same process, and a scheduler runs the daily drift (CREDGUARD_DRIFT_SCHEDULE),
the e-mail sender and the training store's upkeep (:mod:`credguard.maintenance`).
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from credguard import __version__, logs, maintenance
from credguard.accounts import auth
from credguard.api import errors, middleware, observability
from credguard.api.routes import auth as auth_routes
from credguard.api.routes import batches, health
from credguard.api.routes import drift as drift_routes
from credguard.api.routes import incidents as incident_routes
from credguard.api.routes import models as model_routes
from credguard.api.routes import outcomes as outcome_routes
from credguard.api.routes import scores as score_routes
from credguard.batches import worker as batch_worker
from credguard.config import Settings
from credguard.dashboard import install as install_dashboard
from credguard.db import migrate
from credguard.db.engine import BackgroundCheckpointer, get_engine, is_sqlite
from credguard.drift import service as drift
from credguard.outcomes.pseudonym import pseudonym_key
from credguard.scheduler import Scheduler


def create_app(settings: Settings, *, worker: bool = True) -> FastAPI:
    engine = get_engine(settings.resolved_database_url)
    migrate.ensure_current(engine)
    auth.secret_key(settings)
    pseudonym_key(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        scorer = score_routes.install(app, engine, settings)
        checkpointer = BackgroundCheckpointer(engine) if is_sqlite(engine) else None
        if checkpointer is not None:
            checkpointer.start()
        thread, stop = batch_worker.start_in_process(engine, settings) if worker else (None, None)
        jobs = maintenance.jobs(engine, settings) if worker else []
        if worker and settings.drift_schedule:
            jobs.append(drift.scheduled_job(engine, settings))
        scheduler = Scheduler(jobs)
        scheduler.start()
        # What start-up loaded (libraries, models, the app) lives as long as the process: kept
        # out of the cyclic collector's sweeps, whose full passes otherwise pause requests.
        gc.freeze()
        try:
            yield
        finally:
            scorer.close()
            scheduler.stop()
            if thread is not None and stop is not None:
                stop.set()
                thread.join(timeout=30)
            if checkpointer is not None:
                checkpointer.stop()

    app = FastAPI(
        title="CredGuard",
        version=__version__,
        description="Credit-risk scoring of customer batches.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    logs.write_backend_log(settings.resolved_log_dir)
    errors.install(app)
    middleware.install(app, settings, engine)
    observability.install(app, engine)
    # Any route may meet the middleware: a blocked address (403) or a rate limit (429).
    everywhere = errors.responses(403, 429)
    for router in (
        health.router,
        auth_routes.router,
        batches.router,
        score_routes.router,
        model_routes.router,
        outcome_routes.router,
        incident_routes.router,
        drift_routes.router,
    ):
        app.include_router(router, responses=everywhere)
    install_dashboard(app)  # /dashboard: HTML pages, and HTML error pages under it
    return app
