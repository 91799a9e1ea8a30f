"""The dashboard's session: a cookie holding the API's own signed access token.

Logging in at ``/dashboard/login`` issues exactly the token ``POST /api/v1/auth/login`` issues
(:func:`credguard.accounts.auth.issue_access_token`), kept in a cookie that scripts cannot read
(``HttpOnly``), that no other site's page sends (``SameSite=Strict``), that only dashboard paths
receive (``Path=/dashboard``), and that lives as long as the token (CREDGUARD_ACCESS_TOKEN_MINUTES).
It is ``Secure`` (HTTPS only) whenever CREDGUARD_ENVIRONMENT is ``production`` — nginx terminates
TLS there, so the application itself sees plain HTTP — and in development only when the
request came over HTTPS, so that ``credguard serve`` on http://127.0.0.1 works in a browser.

Every request re-reads the user (disabled users and role changes apply at once, as in the API).
Logging out deletes the cookie; like any access token, one copied out of the browser before
then stays valid until it expires — a short lifetime is the bound.
"""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request, Response
from fastapi.responses import RedirectResponse

from credguard.accounts import auth
from credguard.accounts.auth import Principal
from credguard.api.deps import SessionDep, SettingsDep
from credguard.config import Settings
from credguard.dashboard.pages import PREFIX, secure

COOKIE = "credguard_session"
HOME = f"{PREFIX}/drift-monitoring"
LOGIN = f"{PREFIX}/login"
_NOT_TARGETS = {LOGIN, f"{PREFIX}/logout"}
# A dashboard path and query: printable ASCII, no backslash, no scheme or host can hide in it.
_SAFE_TARGET = re.compile(r"^/dashboard(/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*)?(\?[ -~]*)?$")


def safe_next(target: str | None) -> str:
    """Where to go after login: a relative ``/dashboard`` path, else the drift page.

    Never another site (``//evil.test``, ``https://…``, ``/\\evil.test``) nor the login itself.
    """
    if not target or len(target) > 2000 or not _SAFE_TARGET.fullmatch(target):
        return HOME
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or "//" in parts.path or "\\" in target:
        return HOME
    if parts.path.rstrip("/") in _NOT_TARGETS:
        return HOME
    return target


def secure_cookie(request: Request, settings: Settings) -> bool:
    """Whether the cookie carries ``Secure``: always in production, else over HTTPS only."""
    return settings.environment == "production" or request.url.scheme == "https"


def start(response: Response, request: Request, settings: Settings, token: str) -> None:
    """Put the session cookie holding ``token`` on ``response``."""
    response.set_cookie(
        COOKIE,
        token,
        max_age=settings.access_token_minutes * 60,
        path=PREFIX,
        secure=secure_cookie(request, settings),
        httponly=True,
        samesite="strict",
    )


def end(response: Response, request: Request, settings: Settings) -> None:
    """Delete the session cookie."""
    response.delete_cookie(
        COOKIE,
        path=PREFIX,
        secure=secure_cookie(request, settings),
        httponly=True,
        samesite="strict",
    )


def session_user(request: Request, session: SessionDep, settings: SettingsDep) -> Principal | None:
    """The active user of the session cookie, or None (no cookie, expired, forged, disabled)."""
    token = request.cookies.get(COOKIE)
    # Only access tokens: an API token is for integrations, never a browser session.
    if not token or len(token) > 4096 or token.startswith(auth.API_TOKEN_PREFIX):
        return None
    try:
        return auth.principal_for_bearer(session, token, settings, note_use=False)
    except auth.NotAuthenticated:
        return None


SessionUser = Annotated[Principal | None, Depends(session_user)]


def to_login(request: Request) -> RedirectResponse:
    """303 to the login form, coming back here afterwards."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    target = safe_next(here)
    location = LOGIN if target == HOME else f"{LOGIN}?next={quote(target, safe='')}"
    response = RedirectResponse(location, status_code=303)
    secure(response)
    return response
