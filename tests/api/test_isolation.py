"""Who may call what: a matrix generated from the app's own route table.

Every route must be classified in ``ROUTES``; a new endpoint fails this test until it is. Each
route is called as anonymous, as another client's analyst, as the owner's analyst, as operator
and as admin, against a job that belongs to the owner's client. Another client's data is a 404
exactly like data that does not exist; staff-only actions are a 403 for analysts whatever the
job (that says nothing about the job).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
import jwt
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import Engine, select, update
from starlette.routing import Route

from credguard.accounts import auth
from credguard.accounts.tables import User
from credguard.api.app import create_app
from credguard.batches.tables import BatchJob
from credguard.config import Settings
from credguard.dashboard import sessions as dashboard_sessions
from credguard.db.base import utcnow
from credguard.db.engine import session_scope
from credguard.incidents import service as incidents
from credguard.outcomes.tables import ObservedOutcome
from tests import factories
from tests.api.conftest import People, wait_done

ANON, OTHER, OWNER, OPERATOR, ADMIN = (
    "anonymous",
    "other analyst",
    "owner analyst",
    "operator",
    "admin",
)
IDENTITIES = (ANON, OTHER, OWNER, OPERATOR, ADMIN)
PUBLIC = {key: {200} for key in IDENTITIES}
READ_JOB = {ANON: {401}, OTHER: {404}, OWNER: {200}, OPERATOR: {200}, ADMIN: {200}}
STAFF_ON_JOB = {ANON: {401}, OTHER: {403}, OWNER: {403}, OPERATOR: {202}, ADMIN: {202}}

#: (method, path) → expected statuses per identity.
ROUTES: dict[tuple[str, str], dict[str, set[int]]] = {
    ("GET", "/health"): PUBLIC,
    ("GET", "/ready"): PUBLIC,
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/docs/oauth2-redirect"): PUBLIC,
    ("GET", "/redoc"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,  # nginx lets only the monitoring network reach it
    ("POST", "/api/v1/scores"): {
        ANON: {401},
        OTHER: {200},
        OWNER: {200},
        OPERATOR: {200},
        ADMIN: {200},
    },
    ("POST", "/api/v1/batches/{job_id}/cancel"): {
        ANON: {401},
        OTHER: {404},
        OWNER: {409},  # completed: nothing to cancel
        OPERATOR: {409},
        ADMIN: {409},
    },
    ("POST", "/api/v1/auth/login"): {key: {401} for key in IDENTITIES},  # wrong password for all
    ("GET", "/api/v1/batches"): {
        ANON: {401},
        OTHER: {200},
        OWNER: {200},
        OPERATOR: {200},
        ADMIN: {200},
    },
    ("POST", "/api/v1/batches"): {
        ANON: {401},
        OTHER: {202},
        OWNER: {202},
        OPERATOR: {202},
        ADMIN: {202},
    },
    ("GET", "/api/v1/batches/{job_id}"): READ_JOB,
    ("GET", "/api/v1/batches/{job_id}/results"): READ_JOB,
    ("POST", "/api/v1/batches/{job_id}/reprocess"): STAFF_ON_JOB,
    ("GET", "/api/v1/models"): {
        ANON: {401},
        OTHER: {403},
        OWNER: {403},
        OPERATOR: {200},
        ADMIN: {200},
    },
    # No body: 422 for the admin, who may; the others are refused before the body is read.
    ("POST", "/api/v1/models/promote"): {
        ANON: {401},
        OTHER: {403},
        OWNER: {403},
        OPERATOR: {403},
        ADMIN: {422},
    },
    ("POST", "/api/v1/models/rollback"): {
        ANON: {401},
        OTHER: {403},
        OWNER: {403},
        OPERATOR: {403},
        ADMIN: {422},
    },
    # An analyst's outcomes are always their own client's (clientId is ignored): the other
    # client's analyst stores them for their client, unlinked to the owner's scores.
    ("POST", "/api/v1/outcomes"): {
        ANON: {401},
        OTHER: {200},
        OWNER: {200},
        OPERATOR: {200},
        ADMIN: {200},
    },
    # Drift results: each analyst gets their own client's (an empty list is still a 200).
    ("GET", "/api/v1/drift"): {
        ANON: {401},
        OTHER: {200},
        OWNER: {200},
        OPERATOR: {200},
        ADMIN: {200},
    },
    ("GET", "/api/v1/drift/latest"): {
        ANON: {401},
        OTHER: {200},
        OWNER: {200},
        OPERATOR: {200},
        ADMIN: {200},
    },
    ("GET", "/api/v1/outcomes/summary"): {
        ANON: {401},
        OTHER: {200},
        OWNER: {200},
        OPERATOR: {200},
        ADMIN: {200},
    },
    # An incident of the owner's client (a drift at "action"); lists are filtered per client.
    ("GET", "/api/v1/incidents"): {
        ANON: {401},
        OTHER: {200},
        OWNER: {200},
        OPERATOR: {200},
        ADMIN: {200},
    },
    ("GET", "/api/v1/incidents/{incident_id}"): READ_JOB,
    ("POST", "/api/v1/incidents/{incident_id}/ack"): {
        ANON: {401},
        OTHER: {403},
        OWNER: {403},
        OPERATOR: {200},
        ADMIN: {200},  # acknowledging again changes nothing
    },
    ("POST", "/api/v1/incidents/{incident_id}/resolve"): {
        ANON: {401},
        OTHER: {403},
        OWNER: {403},
        OPERATOR: {200},
        ADMIN: {409},  # the operator resolved it just before
    },
    # The dashboard (HTML): the session is a cookie, not a header (see _request); without one a
    # page redirects to the login (303), never 401. The drift page is asked for the owner's
    # client: another client's analyst gets the 404 page.
    ("GET", "/dashboard"): {key: {303} for key in IDENTITIES},
    ("GET", "/dashboard/login"): {
        ANON: {200},
        OTHER: {303},  # already logged in: sent on to the drift page
        OWNER: {303},
        OPERATOR: {303},
        ADMIN: {303},
    },
    ("POST", "/dashboard/login"): {key: {401} for key in IDENTITIES},  # wrong password for all
    ("POST", "/dashboard/logout"): {key: {303} for key in IDENTITIES},
    ("GET", "/dashboard/drift-monitoring"): {
        ANON: {303},
        OTHER: {404},
        OWNER: {200},
        OPERATOR: {200},
        ADMIN: {200},
    },
}


def app_routes(settings: Settings) -> set[tuple[str, str]]:
    app = create_app(settings, worker=False)
    found = set()
    for route in app.routes:
        if isinstance(route, APIRoute | Route):
            for method in route.methods or ():
                if method != "HEAD":
                    found.add((method, route.path))
    return found


def test_every_route_is_classified(settings: Settings, client_id: int) -> None:
    del client_id
    unclassified = app_routes(settings) - set(ROUTES)
    assert not unclassified, f"classify these routes in ROUTES: {sorted(unclassified)}"


def _request(
    http: httpx.Client, method: str, path: str, headers: dict[str, str], body: bytes, client_id: int
) -> httpx.Response:
    if path.startswith("/dashboard"):
        return _dashboard_request(http, method, path, headers, client_id)
    if path == "/api/v1/auth/login":
        return http.post(path, json={"email": "nobody@x.test", "password": "wrong-password"})
    if (method, path) == ("POST", "/api/v1/scores"):
        customer = factories.make_customers(1).drop(
            "motivo_esperado", "prob_inadimplencia_real", "inadimplente"
        )
        return http.post(
            path,
            json={"customers": customer.to_dicts()},
            params={"clientId": client_id},
            headers=headers,
        )
    if (method, path) == ("POST", "/api/v1/outcomes"):
        customer = factories.make_customers(30)  # the job's customers (same seed)
        outcome = {
            "cpf": customer["cpf"][0],
            "produto": customer["produto"][0],
            "inadimplente": True,
            "dataReferencia": utcnow().date().isoformat(),
        }
        return http.post(
            path, json={"outcomes": [outcome]}, params={"clientId": client_id}, headers=headers
        )
    if method == "POST" and path.endswith("/resolve"):
        return http.post(path, json={"resolution": "model retrained"}, headers=headers)
    if (method, path) == ("POST", "/api/v1/batches"):
        return http.post(
            path,
            content=body,
            params={"clientId": client_id},
            headers={**headers, "Content-Type": "text/csv"},
        )
    return http.request(method, path, headers=headers)


def _dashboard_request(
    http: httpx.Client, method: str, path: str, headers: dict[str, str], client_id: int
) -> httpx.Response:
    """A dashboard route as a browser calls it: the identity's access token in the cookie."""
    token = headers.get("Authorization", "").removeprefix("Bearer ")
    cookies = {"Cookie": f"{dashboard_sessions.COOKIE}={token}"} if token else {}
    if (method, path) == ("POST", "/dashboard/login"):
        # Not the API login's address: five more failures on one account would be throttled.
        form = {"email": "nobody-dashboard@x.test", "password": "wrong-password"}
        return http.post(path, data=form, headers=cookies)
    if path == "/dashboard/drift-monitoring":
        return http.get(path, params={"client": client_id}, headers=cookies)
    return http.request(method, path, headers=cookies)


def test_route_matrix(
    http: httpx.Client,
    people: People,
    settings: Settings,
    engine: Engine,
    client_id: int,
    tmp_path: Path,
) -> None:
    body = factories.write_file(factories.make_customers(30), tmp_path / "c.csv").read_bytes()
    created = http.post(
        "/api/v1/batches",
        content=body,
        headers={**people.analyst.headers, "Content-Type": "text/csv"},
    )
    job_id = created.json()["id"]
    wait_done(http, job_id, people.analyst.headers)
    headers = {
        ANON: {},
        OTHER: people.other_analyst.headers,
        OWNER: people.analyst.headers,
        OPERATOR: people.operator.headers,
        ADMIN: people.admin.headers,
    }
    with session_scope(engine) as session:
        incident = incidents.report_drift(
            session,
            settings,
            product="CARTAO",
            client_id=client_id,
            status="action",
            summary="CARTAO: PSI 0.31 (action)",
            details=None,
            detected_on=utcnow().date(),
        )
        assert incident is not None
        incident_id = incident.id
    failures = []
    for (method, template), expected in sorted(ROUTES.items()):
        path = template.replace("{job_id}", str(job_id)).replace("{incident_id}", str(incident_id))
        for identity in IDENTITIES:
            response = _request(http, method, path, headers[identity], body, client_id)
            if response.status_code not in expected[identity]:
                failures.append(f"{method} {template} as {identity}: {response.status_code}")
            if identity == OTHER and response.status_code == 200 and "_id}" in template:
                failures.append(f"{method} {template} leaked another client's data")
            if template.endswith("/reprocess") and response.status_code == 202:
                wait_done(http, job_id, people.admin.headers)
    assert not failures, "\n".join(failures)
    listed = http.get("/api/v1/batches", headers=people.other_analyst.headers).json()
    assert job_id not in [job["id"] for job in listed]
    listed = http.get("/api/v1/incidents", headers=people.other_analyst.headers).json()
    assert listed == []
    # Each client sees only its own outcome in its summary; staff see all four (owner's client
    # for the owner, the operator and the admin; the other client's for its analyst).
    summary = http.get("/api/v1/outcomes/summary", headers=people.other_analyst.headers).json()
    assert [item["outcomes"] for item in summary] == [1]
    summary = http.get("/api/v1/outcomes/summary", headers=people.operator.headers).json()
    assert [item["outcomes"] for item in summary] == [2]  # a resend updates: 1 per client
    # An outcome is linked only to a score of its own client's jobs.
    with session_scope(engine) as session:
        links = session.execute(
            select(ObservedOutcome.client_id, BatchJob.client_id).join(
                BatchJob, BatchJob.id == ObservedOutcome.batch_job_id
            )
        ).all()
    assert links and all(outcome == job for outcome, job in links)


Forge = Callable[[User, Settings], str]


def _claims(user: User, **changes: object) -> dict[str, object]:
    now = utcnow()
    claims: dict[str, object] = {
        "sub": str(user.id),
        "iat": now,
        "exp": now + timedelta(minutes=5),
        "typ": "access",
    }
    claims.update(changes)
    return claims


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, default=str).encode()).rstrip(b"=").decode()


FORGERIES: dict[str, Forge] = {
    "alg none": lambda user, _: (
        _b64({"alg": "none", "typ": "JWT"})
        + "."
        + _b64({"sub": str(user.id), "exp": 9999999999, "iat": 1, "typ": "access"})
        + "."
    ),
    "wrong key": lambda user, _: jwt.encode(
        _claims(user), "not-the-server-key-" * 3, algorithm="HS256"
    ),
    "expired": lambda user, settings: jwt.encode(
        _claims(user, iat=utcnow() - timedelta(hours=2), exp=utcnow() - timedelta(hours=1)),
        auth.secret_key(settings),
        algorithm="HS256",
    ),
    "tampered subject": lambda user, settings: _tamper(auth.issue_access_token(user, settings)),
    "no expiry": lambda user, settings: jwt.encode(
        {"sub": str(user.id), "iat": utcnow(), "typ": "access"},
        auth.secret_key(settings),
        algorithm="HS256",
    ),
    "HS512 with the right key": lambda user, settings: jwt.encode(
        _claims(user), auth.secret_key(settings), algorithm="HS512"
    ),
    "garbage": lambda *_: "not.a.token",
    "unknown API token": lambda *_: auth.API_TOKEN_PREFIX + "x" * 43,
}


def _tamper(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = str(int(claims["sub"]) + 1)
    return f"{header}.{_b64(claims)}.{signature}"


@pytest.mark.parametrize("name", list(FORGERIES))
def test_forged_tokens_are_refused_alike(
    http: httpx.Client, people: People, engine: Engine, settings: Settings, name: str
) -> None:
    with session_scope(engine) as session:
        user = session.query(User).filter(User.email == people.admin.email).one()
    forged = FORGERIES[name](user, settings)
    response = http.get("/api/v1/batches", headers={"Authorization": f"Bearer {forged}"})
    anonymous = http.get("/api/v1/batches")
    assert response.status_code == anonymous.status_code == 401
    assert response.json() == anonymous.json()


def test_disabling_a_user_takes_effect_on_the_next_request(
    http: httpx.Client, people: People, engine: Engine
) -> None:
    assert http.get("/api/v1/batches", headers=people.operator.headers).status_code == 200
    with session_scope(engine) as session:
        session.execute(
            update(User).where(User.email == people.operator.email).values(is_active=False)
        )
    assert http.get("/api/v1/batches", headers=people.operator.headers).status_code == 401


def test_a_role_change_takes_effect_on_the_next_request(
    http: httpx.Client, people: People, engine: Engine
) -> None:
    with session_scope(engine) as session:
        session.execute(
            update(User)
            .where(User.email == people.admin.email)
            .values(role="analyst", client_id=people.other_client_id)
        )
    assert http.post("/api/v1/batches/1/reprocess", headers=people.admin.headers).status_code == 403
