"""The API over HTTP on SQLite and MariaDB: log in, upload, follow, download; errors and scope."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import polars as pl

from tests import factories
from tests.api.conftest import PASSWORD, People


def _wait_done(
    http: httpx.Client, job_id: int, headers: dict[str, str], timeout: float = 60
) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = http.get(f"/api/v1/batches/{job_id}", headers=headers).json()
        if job["status"] in ("completed", "failed"):
            return dict(job)
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s")


def test_health_and_ready(http: httpx.Client) -> None:
    assert http.get("/health").json() == {"status": "ok"}
    ready = http.get("/ready")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    assert "server" not in ready.headers


def test_login_upload_follow_download(http: httpx.Client, people: People, tmp_path: Path) -> None:
    login = http.post(
        "/api/v1/auth/login", json={"email": people.analyst.email, "password": PASSWORD}
    )
    assert login.status_code == 200
    headers = {"Authorization": f"Bearer {login.json()['accessToken']}"}
    customers = factories.make_customers(1_200, seed=9, dirty_share=0.05).drop("motivo_esperado")
    body = factories.write_file(customers, tmp_path / "c.csv", delimiter=";").read_bytes()

    created = http.post(
        "/api/v1/batches",
        params={"fileName": "clientes.csv"},
        content=body,
        headers={**headers, "Content-Type": "text/csv"},
    )
    assert created.status_code == 202, created.text
    job = _wait_done(http, created.json()["id"], headers)
    assert job["status"] == "completed" and job["rowsTotal"] == 1_200
    assert job["rowsScored"] + job["rowsExcluded"] == 1_200

    results = http.get(f"/api/v1/batches/{job['id']}/results", headers=headers)
    assert (
        results.status_code == 200
        and "clientes-resultados.csv" in results.headers["content-disposition"]
    )
    out = tmp_path / "out.csv"
    out.write_bytes(results.content)
    table = pl.read_csv(out, separator=";", infer_schema=False)
    assert table["cpf"].to_list() == customers["cpf"].to_list()
    assert [job["id"]] == [j["id"] for j in http.get("/api/v1/batches", headers=headers).json()]


def test_unknown_user_and_wrong_password_answer_the_same(
    http: httpx.Client, people: People
) -> None:
    wrong = http.post(
        "/api/v1/auth/login", json={"email": people.analyst.email, "password": "nope"}
    )
    unknown = http.post("/api/v1/auth/login", json={"email": "ghost@x.test", "password": "nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.headers["content-type"] == "application/problem+json"


def test_validation_errors_do_not_echo_what_was_sent(http: httpx.Client) -> None:
    response = http.post(
        "/api/v1/auth/login", json={"email": "a@b.c", "password": {"secret": "s3cr3t-Value"}}
    )
    assert response.status_code == 422
    assert (
        "s3cr3t-Value" not in response.text and response.json()["errors"][0]["field"] == "password"
    )


def test_another_clients_job_does_not_exist_for_an_analyst(
    http: httpx.Client, people: People, tmp_path: Path
) -> None:
    body = factories.write_file(factories.make_customers(50), tmp_path / "c.csv").read_bytes()
    created = http.post(
        "/api/v1/batches",
        content=body,
        headers={**people.analyst.headers, "Content-Type": "text/csv"},
    )
    job_id = created.json()["id"]
    _wait_done(http, job_id, people.analyst.headers)

    for suffix in ("", "/results"):
        stranger = http.get(
            f"/api/v1/batches/{job_id}{suffix}", headers=people.other_analyst.headers
        )
        missing = http.get(f"/api/v1/batches/999999{suffix}", headers=people.other_analyst.headers)
        assert stranger.status_code == missing.status_code == 404
        assert stranger.json()["detail"] == missing.json()["detail"].replace("999999", str(job_id))
        own = http.get(f"/api/v1/batches/{job_id}{suffix}", headers=people.operator.headers)
        assert own.status_code == 200
    assert http.get("/api/v1/batches", headers=people.other_analyst.headers).json() == []
    assert http.get(f"/api/v1/batches/{job_id}").status_code == 401


def test_staff_uploads_name_the_client_and_analysts_cannot_reprocess(
    http: httpx.Client, people: People, tmp_path: Path
) -> None:
    body = factories.write_file(factories.make_customers(20), tmp_path / "c.csv").read_bytes()
    headers = {**people.operator.headers, "Content-Type": "text/csv"}
    assert http.post("/api/v1/batches", content=body, headers=headers).status_code == 422
    created = http.post(
        "/api/v1/batches",
        params={"clientId": people.other_client_id},
        content=body,
        headers=headers,
    )
    assert created.status_code == 202 and created.json()["clientId"] == people.other_client_id
    job_id = created.json()["id"]
    _wait_done(http, job_id, people.operator.headers)
    assert (
        http.post(
            f"/api/v1/batches/{job_id}/reprocess", headers=people.other_analyst.headers
        ).status_code
        == 403
    )
    again = http.post(f"/api/v1/batches/{job_id}/reprocess", headers=people.admin.headers)
    assert again.status_code == 202 and again.json()["status"] == "pending"
