"""The API over HTTP on SQLite and MariaDB: log in, upload, follow, download; errors and scope."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import polars as pl
import pytest
from sqlalchemy import Engine

from credguard.batches import processing
from credguard.config import Settings
from tests import factories
from tests.api.conftest import PASSWORD, People, wait_done


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
    job = wait_done(http, created.json()["id"], headers)
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
    wait_done(http, job_id, people.analyst.headers)

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
    wait_done(http, job_id, people.operator.headers)
    assert (
        http.post(
            f"/api/v1/batches/{job_id}/reprocess", headers=people.other_analyst.headers
        ).status_code
        == 403
    )
    again = http.post(f"/api/v1/batches/{job_id}/reprocess", headers=people.admin.headers)
    assert again.status_code == 202 and again.json()["status"] == "pending"


def _upload(
    http: httpx.Client, body: bytes, headers: dict[str, str], **params: object
) -> httpx.Response:
    return http.post(
        "/api/v1/batches",
        params=params,
        content=body,
        headers={**headers, "Content-Type": "text/csv"},
    )


def test_same_idempotency_key_and_file_return_the_original_job(
    quiet_http: httpx.Client, people: People, tmp_path: Path
) -> None:
    body = factories.write_file(factories.make_customers(30), tmp_path / "a.csv").read_bytes()
    other = factories.write_file(factories.make_customers(30, seed=2), tmp_path / "b.csv")
    keyed = {**people.analyst.headers, "Idempotency-Key": "upload-2024-01"}

    first = _upload(quiet_http, body, keyed)
    again = _upload(quiet_http, body, keyed)
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["id"] == first.json()["id"]
    assert _upload(quiet_http, body, people.analyst.headers).json()["id"] != first.json()["id"]

    different = _upload(quiet_http, other.read_bytes(), keyed)
    assert different.status_code == 409
    assert different.headers["content-type"] == "application/problem+json"

    # Keys belong to a client: another client's upload under the same key is its own job.
    elsewhere = _upload(
        quiet_http,
        body,
        {**people.operator.headers, "Idempotency-Key": "upload-2024-01"},
        clientId=people.other_client_id,
    )
    assert elsewhere.status_code == 202 and elsewhere.json()["id"] != first.json()["id"]
    too_long = _upload(quiet_http, body, {**people.analyst.headers, "Idempotency-Key": "k" * 129})
    assert too_long.status_code == 422


def test_concurrent_uploads_with_one_key_create_one_job(
    quiet_http: httpx.Client, people: People, tmp_path: Path
) -> None:
    body = factories.write_file(factories.make_customers(30), tmp_path / "a.csv").read_bytes()
    keyed = {**people.analyst.headers, "Idempotency-Key": "race"}
    start = threading.Barrier(4)

    def upload() -> httpx.Response:
        start.wait()
        return _upload(quiet_http, body, keyed)

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: upload(), range(4)))
    assert sorted(a.status_code for a in answers) == [200, 200, 200, 202]
    assert len({a.json()["id"] for a in answers}) == 1


def test_cancel_a_pending_job(
    quiet_http: httpx.Client,
    people: People,
    engine: Engine,
    settings: Settings,
    tmp_path: Path,
) -> None:
    body = factories.write_file(factories.make_customers(30), tmp_path / "a.csv").read_bytes()
    job_id = _upload(quiet_http, body, people.analyst.headers).json()["id"]

    stranger = quiet_http.post(
        f"/api/v1/batches/{job_id}/cancel", headers=people.other_analyst.headers
    )
    assert stranger.status_code == 404
    cancelled = quiet_http.post(f"/api/v1/batches/{job_id}/cancel", headers=people.analyst.headers)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert processing.claim(engine, settings, "late-worker", only=job_id) is None
    again = quiet_http.post(f"/api/v1/batches/{job_id}/cancel", headers=people.operator.headers)
    assert again.status_code == 409
    assert factories.stored_rows(engine, job_id).height == 0


def test_a_worker_stops_writing_once_its_job_is_cancelled(
    quiet_http: httpx.Client,
    people: People,
    engine: Engine,
    settings: Settings,
    tmp_path: Path,
) -> None:
    body = factories.write_file(factories.make_customers(3_500), tmp_path / "a.csv").read_bytes()
    job_id = _upload(quiet_http, body, people.analyst.headers).json()["id"]
    assert processing.claim(engine, settings, "w1", only=job_id) == job_id
    seen: list[int] = []

    def cancel_after_first_chunk(rows_done: int, _total: int | None) -> None:
        seen.append(rows_done)
        if len(seen) == 1:
            assert factories.stored_rows(engine, job_id).height == rows_done
            answer = quiet_http.post(
                f"/api/v1/batches/{job_id}/cancel", headers=people.admin.headers
            )
            assert answer.status_code == 200

    with pytest.raises(processing.LeaseLost):
        processing.process(engine, settings, job_id, "w1", on_progress=cancel_after_first_chunk)
    assert seen == [settings.chunk_size]
    job = factories.get_job(engine, job_id)
    assert job.status == "cancelled" and job.rows_processed == 0
    assert factories.stored_rows(engine, job_id).height == 0


def test_completed_jobs_cannot_be_cancelled(
    http: httpx.Client, people: People, tmp_path: Path
) -> None:
    body = factories.write_file(factories.make_customers(20), tmp_path / "a.csv").read_bytes()
    job_id = _upload(http, body, people.analyst.headers).json()["id"]
    wait_done(http, job_id, people.analyst.headers)
    answer = http.post(f"/api/v1/batches/{job_id}/cancel", headers=people.analyst.headers)
    assert answer.status_code == 409


def test_list_pages_with_offset_and_total_count(
    quiet_http: httpx.Client, people: People, tmp_path: Path
) -> None:
    body = factories.write_file(factories.make_customers(10), tmp_path / "a.csv").read_bytes()
    ids = [
        _upload(quiet_http, body, people.analyst.headers, fileName=f"f{i}.csv").json()["id"]
        for i in range(5)
    ]
    _upload(quiet_http, body, people.operator.headers, clientId=people.other_client_id)
    quiet_http.post(f"/api/v1/batches/{ids[0]}/cancel", headers=people.analyst.headers)

    def page(**params: object) -> tuple[list[int], int]:
        answer = quiet_http.get("/api/v1/batches", params=params, headers=people.analyst.headers)
        assert answer.status_code == 200, answer.text
        return [job["id"] for job in answer.json()], int(answer.headers["X-Total-Count"])

    newest_first = ids[::-1]
    assert page(limit=2) == (newest_first[:2], 5)
    assert page(limit=2, offset=2) == (newest_first[2:4], 5)
    assert page(limit=2, offset=4) == (newest_first[4:], 5)
    assert page(offset=10) == ([], 5)
    assert page(status="pending") == (newest_first[:4], 4)
    assert page(status="cancelled") == ([ids[0]], 1)
    staff = quiet_http.get("/api/v1/batches", headers=people.operator.headers)
    assert staff.headers["X-Total-Count"] == "6"
    bad = quiet_http.get("/api/v1/batches", params={"offset": -1}, headers=people.analyst.headers)
    assert bad.status_code == 422
