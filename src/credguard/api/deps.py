"""Dependencies that read as words: ``SessionDep``, ``CurrentUser``, ``SettingsDep``.

FastAPI runs every plain ``def`` dependency in its threadpool, a thread hop of ~0.1–0.5 ms under
load, so only those that do blocking I/O are plain functions; the rest are ``async def``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated

import anyio
from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from credguard.accounts import auth
from credguard.accounts.auth import Principal
from credguard.accounts.tables import Role
from credguard.config import Settings
from credguard.db.engine import new_session
from credguard.errors import CredGuardError

_bearer = HTTPBearer(auto_error=False)


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


async def get_session(engine: Annotated[Engine, Depends(get_engine)]) -> AsyncIterator[Session]:
    """One unit of work per request: committed when the route returns, rolled back on error.

    The session opens on the event loop (it touches the database only when first used, in the
    threadpool with the code using it); commit and rollback go to the threadpool, and only when
    a transaction is open, so a route that committed itself costs no extra thread hop.
    """
    session = new_session(engine)
    try:
        yield session
        if session.in_transaction():
            await _off_loop(session.commit)
    except BaseException:
        if session.in_transaction():
            await _off_loop(session.rollback)
        raise
    finally:
        session.close()  # no I/O left: the connection went back to the pool at commit/rollback


async def _off_loop(work: Callable[[], object]) -> None:
    """Run blocking database work in the threadpool, to the end even if the request is cancelled."""
    with anyio.CancelScope(shield=True):
        await anyio.to_thread.run_sync(work)


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
# scope="function": commit before the response is sent, not after (FastAPI >= 0.118 default).
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def current_user(
    session: SessionDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None:
        raise auth.NotAuthenticated("missing, invalid or expired credentials")
    return auth.principal_for_bearer(session, credentials.credentials, settings)


CurrentUser = Annotated[Principal, Depends(current_user)]


async def bearer_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The bearer token sent, not yet checked (for routes that check it off the event loop)."""
    if credentials is None:
        raise auth.NotAuthenticated("missing, invalid or expired credentials")
    return credentials.credentials


BearerToken = Annotated[str, Depends(bearer_token)]


class Forbidden(CredGuardError):
    status = 403


async def staff_user(user: CurrentUser) -> Principal:
    """Operators and admins (CredGuard staff)."""
    if user.role not in (Role.ADMIN, Role.OPERATOR):
        raise Forbidden("this action is for CredGuard operators and admins")
    return user


StaffUser = Annotated[Principal, Depends(staff_user)]


async def admin_user(user: CurrentUser) -> Principal:
    """Admins only."""
    if user.role != Role.ADMIN:
        raise Forbidden("this action is for CredGuard admins")
    return user


AdminUser = Annotated[Principal, Depends(admin_user)]

#: A row id in a path: positive and within the database's INT range.
JobId = Annotated[int, Path(ge=1, le=2_147_483_647, description="Batch job id.")]
