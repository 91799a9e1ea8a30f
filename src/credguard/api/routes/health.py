"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from credguard.api.deps import EngineDep, SettingsDep
from credguard.api.errors import problem, responses
from credguard.db import migrate
from credguard.db.engine import session_scope
from credguard.errors import CredGuardError
from credguard.ml import registry

router = APIRouter(tags=["health"])


@router.get("/health", summary="The process is alive")
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/ready", summary="Database reachable, schema current, models loaded", responses=responses(503)
)
def ready(engine: EngineDep, settings: SettingsDep) -> JSONResponse:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        migrate.ensure_current(engine)
        with session_scope(engine) as session:
            production = registry.production_models(session)
            missing = [p for p in settings.products if p not in production]
            if missing:
                return problem(503, f"no production model for {', '.join(missing)}")
            for record in production.values():
                registry.load(record)
    except CredGuardError as exc:
        return problem(503, exc.message)
    except Exception as exc:  # the database is down: say so, without internals
        return problem(503, f"database unavailable ({type(exc).__name__})")
    return JSONResponse(
        {"status": "ready", "models": {p: f"{r.name} v{r.version}" for p, r in production.items()}}
    )
