"""The dashboard over plain HTTP: headers, redirects, sessions, escaping, who sees what.

Most tests read the module's drift site (SQLite); those about logins and the empty page run on
both engines against a fresh server.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from datetime import timedelta

import httpx
import jwt
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, func, select

from credguard.accounts import auth
from credguard.accounts import service as accounts
from credguard.accounts.tables import Role, User
from credguard.config import Settings
from credguard.dashboard import pages, sessions
from credguard.db.base import utcnow
from credguard.db.engine import session_scope
from credguard.security.tables import LoginAttempt, LoginOutcome
from tests.api.conftest import PASSWORD, People, running_server
from tests.dashboard.conftest import OTHER_CLIENT, Site

HOME = "/dashboard/drift-monitoring"
LOGIN = "/dashboard/login"


@pytest.fixture
def web(site: Site) -> Iterator[httpx.Client]:
    """A plain HTTP client of the drift site that follows no redirect and keeps no cookie."""
    with httpx.Client(base_url=site.url, timeout=30) as client:
        yield client


def token(site: Site, key: str) -> str:
    """A fresh access token of the site's user ``key``, as the login issues it."""
    with session_scope(site.engine) as session:
        user = accounts.get_user_or_raise(session, site.emails[key])
        return auth.issue_access_token(user, site.settings)


def cookie(value: str) -> dict[str, str]:
    return {"Cookie": f"{sessions.COOKIE}={value}"}


def page(web: httpx.Client, site: Site, key: str, path: str = HOME) -> httpx.Response:
    return web.get(path, headers=cookie(token(site, key)))


# --- headers and markup -----------------------------------------------------------------------


def test_every_page_carries_the_security_headers(web: httpx.Client, site: Site) -> None:
    answers = {
        "login form": web.get(LOGIN),
        "drift page": page(web, site, "operator"),
        "redirect to login": web.get(HOME),
        "wrong password": web.post(LOGIN, data={"email": "x@y.test", "password": "nope"}),
        "unknown page": web.get("/dashboard/nothing-here"),
        "another client": page(web, site, "analyst", f"{HOME}?client={site.other_client_id}"),
    }
    statuses = {name: answer.status_code for name, answer in answers.items()}
    assert statuses == {
        "login form": 200,
        "drift page": 200,
        "redirect to login": 303,
        "wrong password": 401,
        "unknown page": 404,
        "another client": 404,
    }
    for name, answer in answers.items():
        headers = answer.headers
        assert headers["content-security-policy"] == pages.CONTENT_SECURITY_POLICY, name
        assert headers["x-frame-options"] == "DENY", name
        assert headers["cache-control"] == "no-store", name
        assert headers["x-content-type-options"] == "nosniff", name
    policy = pages.CONTENT_SECURITY_POLICY
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe" not in policy and "script-src" not in policy  # no script at all


def test_pages_have_no_script_and_their_stylesheet_matches_its_hash(
    web: httpx.Client, site: Site
) -> None:
    for answer in (web.get(LOGIN), page(web, site, "admin"), web.get("/dashboard/nope")):
        assert answer.headers["content-type"].startswith("text/html")
        html = answer.text
        assert "<script" not in html.lower()
        assert not re.search(r"\son\w+=", html)  # no inline event handlers
        assert " style=" not in html  # the policy allows no style attribute
        styles = re.findall(r"<style>(.*?)</style>", html, flags=re.S)
        assert len(styles) == 1
        digest = base64.b64encode(hashlib.sha256(styles[0].encode()).digest()).decode()
        assert f"'sha256-{digest}'" in answer.headers["content-security-policy"]
        # Nothing to fetch anywhere: the only URL is the SVG namespace (never fetched).
        urls = set(re.findall(r"https?://[^\s\"'<>]+", html))
        assert urls <= {"http://www.w3.org/2000/svg"}


def test_client_names_are_escaped(web: httpx.Client, site: Site) -> None:
    html = page(web, site, "operator", f"{HOME}?client={site.other_client_id}").text
    assert OTHER_CLIENT not in html
    assert "Outra &lt;Loja&gt; &amp; &#34;Cia&#34; &#39;Ltda&#39;" in html
    assert "<Loja>" not in html


def test_numbers_and_dates_are_brazilian(web: httpx.Client, site: Site) -> None:
    html = page(web, site, "operator").text
    assert f"Resultado de <strong>{site.today:%d/%m/%Y}</strong>" in html
    assert re.search(r"PSI 0,\d{3}", html)
    assert re.search(r"\d+,\d\u00a0%", html)  # feature drift in percent, decimal comma
    assert re.search(r"Clientes na janela <strong>\d{1,3}\.\d{3}</strong>", html)
    assert "Ação necessária" in html and "Estável" in html and "Amostra insuficiente" in html


# --- errors in HTML, the API's untouched ------------------------------------------------------


def test_dashboard_errors_are_html_pages_and_the_api_keeps_problem_details(
    web: httpx.Client, site: Site
) -> None:
    session = cookie(token(site, "operator"))
    cases = {
        "/dashboard/nothing-here": (404, "Página não encontrada"),
        f"{HOME}?period=7": (422, "Parâmetros inválidos"),
        f"{HOME}?period=-1": (422, "Parâmetros inválidos"),
        f"{HOME}?period=٣": (422, "Parâmetros inválidos"),  # an Arabic-Indic 3
        f"{HOME}?period=%2030": (422, "Parâmetros inválidos"),
        f"{HOME}?period=12345": (422, "Parâmetros inválidos"),
        f"{HOME}?product=SEGURO": (422, "Parâmetros inválidos"),
        f"{HOME}?client=999999": (404, "Página não encontrada"),
        f"{HOME}?client=abc": (404, "Página não encontrada"),
    }
    for path, (status, title) in cases.items():
        answer = web.get(path, headers=session)
        assert answer.status_code == status, path
        assert answer.headers["content-type"].startswith("text/html"), path
        assert f"<h1>{title}</h1>" in answer.text, path
    wrong_method = web.put(LOGIN)
    assert wrong_method.status_code == 405
    assert wrong_method.headers["content-type"].startswith("text/html")
    too_long = web.post(LOGIN, data={"email": "x" * 300, "password": "p"})
    assert too_long.status_code == 422 and "x" * 300 not in too_long.text  # nothing echoed
    api = web.get("/api/v1/no-such-thing")
    assert api.status_code == 404
    assert api.headers["content-type"] == "application/problem+json"


# --- redirects and the next parameter ---------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (None, HOME),
        ("", HOME),
        (HOME, HOME),
        (f"{HOME}?product=CARTAO&period=30", f"{HOME}?product=CARTAO&period=30"),
        ("/dashboard", "/dashboard"),
        ("//evil.test/dashboard", HOME),
        ("https://evil.test/dashboard/x", HOME),
        ("/dashboard//evil.test", HOME),
        ("/\\evil.test", HOME),
        ("/dashboard/\\evil.test", HOME),
        ("/api/v1/batches", HOME),
        ("/dashboardx", HOME),
        ("/dashboard/login", HOME),
        ("/dashboard/logout", HOME),
        ("javascript:alert(1)", HOME),
        ("/dashboard/\u202eevil", HOME),
        ("/dashboard/\r\nSet-Cookie:x=1", HOME),
    ],
)
def test_next_is_only_ever_a_dashboard_path(target: str | None, expected: str) -> None:
    assert sessions.safe_next(target) == expected


def test_without_a_session_pages_redirect_to_login_with_next(web: httpx.Client) -> None:
    answer = web.get(f"{HOME}?product=CARTAO")
    assert answer.status_code == 303
    assert (
        answer.headers["location"]
        == f"{LOGIN}?next=%2Fdashboard%2Fdrift-monitoring%3Fproduct%3DCARTAO"
    )
    assert web.get(HOME).headers["location"] == LOGIN
    root = web.get("/dashboard")
    assert (root.status_code, root.headers["location"]) == (303, HOME)


def test_login_sets_the_api_token_in_a_strict_cookie_and_goes_to_next(
    web: httpx.Client, site: Site
) -> None:
    answer = web.post(
        LOGIN,
        data={"email": site.emails["analyst"], "password": PASSWORD, "next": f"{HOME}?period=30"},
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == f"{HOME}?period=30"
    set_cookie = answer.headers["set-cookie"]
    attributes = {part.strip().split("=")[0].lower() for part in set_cookie.split(";")[1:]}
    assert {"httponly", "max-age", "path", "samesite"} <= attributes
    assert "secure" not in attributes  # development on plain http
    assert "Path=/dashboard" in set_cookie and "SameSite=strict" in set_cookie
    assert f"Max-Age={site.settings.access_token_minutes * 60}" in set_cookie
    value = answer.cookies[sessions.COOKIE]
    # The API's own access token: the API accepts it as a bearer token.
    api = web.get("/api/v1/batches", headers={"Authorization": f"Bearer {value}"})
    assert api.status_code == 200
    # Logged in already: the form sends them on; an open redirect is still refused.
    again = web.get(LOGIN, params={"next": "//evil.test"}, headers=cookie(value))
    assert (again.status_code, again.headers["location"]) == (303, HOME)
    elsewhere = web.post(
        LOGIN,
        data={"email": site.emails["analyst"], "password": PASSWORD, "next": "//evil.test"},
    )
    assert elsewhere.headers["location"] == HOME


def test_logout_deletes_the_cookie(web: httpx.Client, site: Site) -> None:
    answer = web.post("/dashboard/logout", headers=cookie(token(site, "operator")))
    assert (answer.status_code, answer.headers["location"]) == (303, LOGIN)
    set_cookie = answer.headers["set-cookie"]
    assert set_cookie.startswith(f'{sessions.COOKIE}=""') or set_cookie.startswith(
        f"{sessions.COOKIE}=;"
    )
    assert "Max-Age=0" in set_cookie and "Path=/dashboard" in set_cookie


def test_forms_posted_from_another_site_are_refused(web: httpx.Client, site: Site) -> None:
    form = {"email": site.emails["operator"], "password": PASSWORD}
    for headers in (
        {"Origin": "http://evil.test"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ):
        assert web.post(LOGIN, data=form, headers=headers).status_code == 403, headers
        assert web.post("/dashboard/logout", headers=headers).status_code == 403, headers
    same = {"Origin": site.url, "Sec-Fetch-Site": "same-origin"}
    assert web.post(LOGIN, data=form, headers=same).status_code == 303


# --- sessions that are not ------------------------------------------------------------------


def test_invalid_sessions_go_to_login(web: httpx.Client, site: Site) -> None:
    with session_scope(site.engine) as session:
        operator = accounts.get_user_or_raise(session, site.emails["operator"])
        api_token, _ = auth.create_api_token(session, operator, "integration")
        now = utcnow()
        claims = {"sub": str(operator.id), "iat": now, "typ": "access"}
        key = auth.secret_key(site.settings)
        forged = {
            "wrong key": jwt.encode({**claims, "exp": now + timedelta(minutes=5)}, "k" * 48),
            "expired": jwt.encode(
                {**claims, "iat": now - timedelta(hours=2), "exp": now - timedelta(hours=1)}, key
            ),
            "no expiry": jwt.encode(claims, key),
            "an API token": api_token,
            "garbage": "not.a.token",
            "empty": "",
        }
        disabled = accounts.create_user(
            session,
            email="gone@credguard.test",
            name="Gone",
            password=PASSWORD,
            role=Role.OPERATOR,
        )
        forged["a disabled user's"] = auth.issue_access_token(disabled, site.settings)
        disabled.is_active = False
    for name, value in forged.items():
        answer = web.get(HOME, headers=cookie(value))
        assert (answer.status_code, answer.headers.get("location")) == (303, LOGIN), name


# --- who sees what ---------------------------------------------------------------------------


def _products(html: str) -> list[str]:
    return re.findall(r'<section class="product [a-z_]+" id="produto-(\w+)"', html)


def test_staff_see_all_clients_and_each_one(web: httpx.Client, site: Site) -> None:
    for key in ("operator", "admin"):
        overview = page(web, site, key).text
        assert _products(overview) == ["EMPRESTIMO", "CARTAO", "CREDIARIO"]
        assert "todos os clientes (agregado)" in overview
        assert 'name="client"' in overview
        other = page(web, site, key, f"{HOME}?client={site.other_client_id}").text
        assert _products(other) == ["CREDIARIO"]
        own = page(web, site, key, f"{HOME}?client={site.client_id}").text
        assert _products(own) == ["EMPRESTIMO", "CARTAO"]


def test_analysts_see_only_their_own_client(web: httpx.Client, site: Site) -> None:
    mine = page(web, site, "analyst")
    assert mine.status_code == 200
    assert _products(mine.text) == ["EMPRESTIMO", "CARTAO"]
    assert 'name="client"' not in mine.text and "agregado" not in mine.text
    assert "Outra &lt;Loja&gt;" not in mine.text
    assert page(web, site, "analyst", f"{HOME}?client={site.client_id}").status_code == 200
    for forged in (str(site.other_client_id), "all", "0", "-1", "1e3", "999999", " "):
        answer = page(web, site, "analyst", f"{HOME}?client={forged}")
        if forged == " ":  # blank is "my own", like no filter at all
            assert answer.status_code == 200
            continue
        assert answer.status_code == 404, forged
        assert "Outra &lt;Loja&gt;" not in answer.text and "CREDIARIO</h2>" not in answer.text
    theirs = page(web, site, "other_analyst")
    assert _products(theirs.text) == ["CREDIARIO"]
    assert page(web, site, "other_analyst", f"{HOME}?client={site.client_id}").status_code == 404


# --- on both engines: the empty page, logins recorded and throttled ---------------------------


def test_before_any_drift_run_the_page_says_how_to_run_it(
    http: httpx.Client, people: People
) -> None:
    staff = http.get(HOME, headers=cookie(people.operator.token))
    assert staff.status_code == 200
    assert "Ainda não há resultado de drift" in staff.text
    assert "credguard drift run" in staff.text
    analyst = http.get(HOME, headers=cookie(people.analyst.token))
    assert "Ainda não há resultado de drift para Loja Teste" in analyst.text
    assert "credguard drift run" not in analyst.text


def test_dashboard_logins_are_recorded_and_throttled_like_the_api(
    http: httpx.Client, people: People, engine: Engine, settings: Settings
) -> None:
    email = people.operator.email
    for _ in range(settings.login_max_failures):
        wrong = http.post(LOGIN, data={"email": email, "password": "wrong password"})
        assert wrong.status_code == 401
        assert "E-mail ou senha inválidos." in wrong.text
    throttled = http.post(LOGIN, data={"email": email, "password": PASSWORD})
    assert throttled.status_code == 429
    assert int(throttled.headers["retry-after"]) >= 1
    assert "Muitas tentativas sem sucesso" in throttled.text
    # The API's login sees the same throttle: one service, one count.
    assert (
        http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD}).status_code
        == 429
    )
    with session_scope(engine) as session:
        outcomes = dict(
            session.execute(
                select(LoginAttempt.outcome, func.count())
                .where(LoginAttempt.email == email)
                .group_by(LoginAttempt.outcome)
            ).all()
        )
        assert outcomes == {
            LoginOutcome.FAILED: settings.login_max_failures,
            LoginOutcome.THROTTLED: 2,
        }
    ok = http.post(LOGIN, data={"email": people.analyst.email, "password": PASSWORD})
    assert ok.status_code == 303
    with session_scope(engine) as session:
        user = session.scalars(select(User).where(User.email == people.analyst.email)).one()
        assert user.last_login_at is not None
        assert (
            session.scalar(
                select(func.count()).where(
                    LoginAttempt.email == people.analyst.email,
                    LoginAttempt.outcome == LoginOutcome.SUCCEEDED,
                )
            )
            == 1
        )


def test_the_cookie_is_secure_in_production(
    engine: Engine, settings: Settings, client_id: int
) -> None:
    del client_id
    production = settings.model_copy(
        update={
            "environment": "production",
            "secret_key": SecretStr("s" * 48),
            "pseudonym_key": SecretStr("p" * 48),
        }
    )
    with session_scope(engine) as session:
        accounts.create_user(
            session, email="op@credguard.test", name="Op", password=PASSWORD, role=Role.OPERATOR
        )
    with running_server(production, worker=False) as url, httpx.Client(base_url=url) as client:
        answer = client.post(LOGIN, data={"email": "op@credguard.test", "password": PASSWORD})
    assert answer.status_code == 303
    assert "secure" in answer.headers["set-cookie"].lower().split("; ")
