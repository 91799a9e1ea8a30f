"""The dashboard's routes: log in and out, and the drift page of runbook 2.3.

Who sees what: operators and admins see the drift of every client together (the default) or of
the client they choose; a client's analyst sees only their own client's drift, and naming any
other client (``?client=``) answers the same 404 page as a client that does not exist.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from credguard.accounts import auth
from credguard.accounts import service as accounts
from credguard.accounts.auth import Principal
from credguard.accounts.tables import Client, Role
from credguard.api.deps import EngineDep, SessionDep, SettingsDep
from credguard.api.middleware import ClientIp
from credguard.dashboard import fmt, sessions, view
from credguard.dashboard.pages import PREFIX, render, secure
from credguard.dashboard.sessions import SessionUser
from credguard.db.base import utcnow
from credguard.drift import service as drift
from credguard.drift.tables import ALL_CLIENTS, client_scope
from credguard.errors import CredGuardError, InvalidInput, NotFound
from credguard.ml.tables import ModelRecord
from credguard.security import service as security

router = APIRouter(prefix=PREFIX, include_in_schema=False)

#: Days of history the period filter offers; the first is the default.
PERIODS = (90, 30, 180, 365)
ROLE_WORDS = {Role.ADMIN: "administrador", Role.OPERATOR: "operador", Role.ANALYST: "analista"}
STAFF = (Role.ADMIN, Role.OPERATOR)


class CrossSite(CredGuardError):
    """A form posted from another site's page (login CSRF)."""

    status = 403


def _same_origin(request: Request) -> None:
    """Refuse a form posted from another origin (the browser says so in its headers)."""
    site = request.headers.get("sec-fetch-site")
    origin = request.headers.get("origin")
    if site is not None and site not in ("same-origin", "none"):
        raise CrossSite("form posted from another site")
    if origin is not None and (
        origin == "null" or urlsplit(origin).netloc != request.headers.get("host")
    ):
        raise CrossSite("form posted from another origin")


def _redirect(location: str) -> RedirectResponse:
    response = RedirectResponse(location, status_code=303)
    secure(response)
    return response


@router.get("")
def dashboard_home() -> Response:
    """The dashboard's front page is the drift page."""
    return _redirect(sessions.HOME)


# --- login and logout ---------------------------------------------------------------------


def _login_page(
    next_target: str, *, email: str = "", error: str | None = None, status: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:  # fmt: skip
    return render(
        "login.html",
        {"next": next_target, "email": email, "error": error},
        status=status,
        headers=headers,
    )


@router.get("/login")
def login_form(
    user: SessionUser,
    next_target: Annotated[str | None, Query(alias="next", max_length=2000)] = None,
) -> Response:
    """The login form (a logged-in user goes straight on)."""
    target = sessions.safe_next(next_target)
    if user is not None:
        return _redirect(target)
    return _login_page(target)


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    engine: EngineDep,
    settings: SettingsDep,
    client_ip: ClientIp,
    email: Annotated[str, Form(max_length=254)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next_target: Annotated[str, Form(alias="next", max_length=2000)] = "",
) -> Response:
    """Check e-mail and password as the API's login does (throttle, records), start a session.

    A refusal is 401 (429 when throttled) with the form again, so the runbook's access-log
    check counts failed dashboard logins like failed API logins.
    """
    _same_origin(request)
    target = sessions.safe_next(next_target)
    email = email.strip()
    if not email or not password:
        return _login_page(target, email=email, error="Informe o e-mail e a senha.", status=401)
    try:
        user = security.authenticate(
            session, engine, email, password, client_ip=client_ip, settings=settings
        )
    except security.LoginThrottled as exc:
        minutes = max(1, -(-exc.retry_after // 60))
        return _login_page(
            target,
            email=email,
            error="Muitas tentativas sem sucesso para esta conta. "
            f"Tente de novo em {minutes} minuto(s).",
            status=429,
            headers={"Retry-After": str(exc.retry_after)},
        )
    except auth.NotAuthenticated:
        return _login_page(target, email=email, error="E-mail ou senha inválidos.", status=401)
    response = _redirect(target)
    sessions.start(response, request, settings, auth.issue_access_token(user, settings))
    return response


@router.post("/logout")
def logout(request: Request, settings: SettingsDep) -> Response:
    """End the browser's session (delete its cookie) and show the login form."""
    _same_origin(request)
    response = _redirect(sessions.LOGIN)
    sessions.end(response, request, settings)
    return response


# --- the drift page ---------------------------------------------------------------------------


def _client_filter(session: Session, user: Principal, value: str | None) -> tuple[int, str] | None:
    """(id, name) of the client whose drift is shown; None for all clients (staff only)."""
    text = (value or "").strip()
    if user.role in STAFF:
        if not text:
            return None
        client = (
            accounts.get_client(session, int(text))
            if text.isascii() and text.isdigit() and len(text) < 10
            else None
        )
        if client is None:
            raise NotFound("no such client")
        return client.id, client.name
    own = user.client_id
    if own is None or (text and text != str(own)):
        raise NotFound("no such client")  # another client's drift looks like no client at all
    client = accounts.get_client(session, own)
    if client is None:
        raise NotFound("no such client")
    return client.id, client.name


def _period(period: str | None) -> int:
    """Days of history asked for: one of PERIODS, the first when not given; else a 422."""
    if not period:
        return PERIODS[0]
    # ASCII digits only: int() would also take "٣", "-1" or " 30 ".
    if period.isascii() and period.isdigit() and int(period) in PERIODS:
        return int(period)
    raise InvalidInput("unknown period")


def _model_names(session: Session, results: list[drift.ResultView]) -> dict[int, str]:
    """ "name vN" of the models the results judged, in one query (a missing one is left out)."""
    ids = {item.result.model_id for item in results if item.result.model_id is not None}
    found = session.execute(
        select(ModelRecord.id, ModelRecord.name, ModelRecord.version).where(ModelRecord.id.in_(ids))
    )
    return {model_id: f"{name} v{version}" for model_id, name, version in found}


@router.get("/drift-monitoring")
def drift_monitoring(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: SessionUser,
    product: Annotated[str | None, Query(max_length=40)] = None,
    client: Annotated[str | None, Query(max_length=20)] = None,
    period: Annotated[str | None, Query(max_length=4)] = None,
) -> Response:
    """Per product: status, PSI over time, score bins, feature drift, performance."""
    if user is None:
        return sessions.to_login(request)
    chosen_product = (product or "").strip().upper() or None
    if chosen_product is not None and chosen_product not in settings.products:
        raise InvalidInput("unknown product")
    days = _period(period)
    chosen_client = _client_filter(session, user, client)
    scope = ALL_CLIENTS if chosen_client is None else client_scope(chosen_client[0])

    latest = drift.latest(session, product=chosen_product, scope=scope)
    today = utcnow().date()
    history = drift.list_results(
        session,
        product=chosen_product,
        scope=scope,
        since=today - timedelta(days=days - 1),
        limit=len(settings.products) * (days + 1),
    )
    models = _model_names(session, latest)
    panels = view.by_severity(
        [
            view.panel(
                item,
                [h for h in history if h.result.produto == item.result.produto],
                models.get(item.result.model_id or 0, "modelo desconhecido"),
            )
            for item in latest
        ]
    )
    shown = {p.product for p in panels}
    newest = max((item.result.dia for item in latest), default=None)
    clients = (
        [
            (row.id, row.name)
            for row in session.execute(select(Client.id, Client.name).order_by(Client.name))
        ]
        if user.role in STAFF
        else []
    )
    return render(
        "drift.html",
        {
            "user": user,
            "role": ROLE_WORDS.get(Role(user.role), user.role),
            "is_staff": user.role in STAFF,
            "clients": clients,
            "client": chosen_client,
            "products": settings.products,
            "product": chosen_product,
            "periods": sorted(PERIODS),
            "period": days,
            "panels": panels,
            "without_results": [
                p for p in settings.products if p not in shown and chosen_product in (None, p)
            ],
            "stale": newest is not None and newest < today - timedelta(days=1),
            "newest": fmt.day(newest) if newest else None,
            "window_days": settings.drift_window_days,
            "run_at": settings.drift_run_at,
            "definitions": {
                "psi": view.PSI_DEFINITION,
                "features": view.FEATURE_DEFINITION,
                "performance": view.PERFORMANCE_DEFINITION,
            },
        },
    )
