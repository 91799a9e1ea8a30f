"""Dependencies that read as words: ``SessionDep``, ``CurrentUser``, ``SettingsDep``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from credguard.accounts import auth
from credguard.accounts.tables import Role, User
from credguard.config import Settings
from credguard.db.engine import session_scope
from credguard.errors import CredGuardError

_bearer = HTTPBearer(auto_error=False)


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def get_session(engine: Annotated[Engine, Depends(get_engine)]) -> Iterator[Session]:
    """One unit of work per request: committed when the route returns, rolled back on error."""
    with session_scope(engine) as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
# scope="function": commit before the response is sent, not after (FastAPI >= 0.118 default).
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def current_user(
    session: SessionDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    if credentials is None:
        raise auth.NotAuthenticated("missing, invalid or expired credentials")
    return auth.user_for_bearer(session, credentials.credentials, settings)


CurrentUser = Annotated[User, Depends(current_user)]


class Forbidden(CredGuardError):
    status = 403


def staff_user(user: CurrentUser) -> User:
    """Operators and admins (CredGuard staff)."""
    if user.role not in (Role.ADMIN, Role.OPERATOR):
        raise Forbidden("this action is for CredGuard operators and admins")
    return user


StaffUser = Annotated[User, Depends(staff_user)]

#: A row id in a path: positive and within the database's INT range.
JobId = Annotated[int, Path(ge=1, le=2_147_483_647, description="Batch job id.")]
