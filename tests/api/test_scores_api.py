"""Online scoring over HTTP: the batch path's validation, codes and models, stored as a batch."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import polars as pl
from sqlalchemy import Engine

from credguard.customers.contract import REQUIRED_COLUMNS
from credguard.scoring.reasons import REASONS
from tests import factories
from tests.api.conftest import People, wait_done

COMPARED = [
    "rowNumber",
    "cpf",
    "motivoExclusao",
    "score",
    "faixaScore",
    "reasonCode1",
    "reasonCode2",
    "reasonCode3",
    "modelName",
    "modelVersion",
]


def _customers(rows: int, *, seed: int = 5, dirty_share: float = 0.0) -> pl.DataFrame:
    return factories.make_customers(rows, seed=seed, dirty_share=dirty_share).select(
        REQUIRED_COLUMNS
    )


def test_online_scores_match_the_batch_path_for_the_same_customers(
    http: httpx.Client, people: People, engine: Engine, tmp_path: Path
) -> None:
    customers = _customers(150, dirty_share=0.3)
    body = factories.write_file(customers, tmp_path / "c.csv").read_bytes()
    created = http.post(
        "/api/v1/batches",
        content=body,
        headers={**people.analyst.headers, "Content-Type": "text/csv"},
    )
    wait_done(http, created.json()["id"], people.analyst.headers)

    response = http.post(
        "/api/v1/scores",
        json={"customers": customers.to_dicts()},
        headers=people.analyst.headers,
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    online_rows = factories.stored_rows(engine, answer["batchId"])
    batch_rows = factories.stored_rows(engine, created.json()["id"])
    assert online_rows.select(COMPARED).equals(batch_rows.select(COMPARED))
    assert online_rows["motivoExclusao"].drop_nulls().n_unique() >= 3  # invalid rows exercised

    results = answer["results"]
    assert [r["rowNumber"] for r in results] == list(range(1, 151))
    assert [r["motivoExclusao"] for r in results] == batch_rows["motivoExclusao"].to_list()
    assert [r["score"] for r in results] == batch_rows["score"].to_list()
    assert [r["cpf"] for r in results] == batch_rows["cpf"].to_list()
    scored = next(r for r in results if r["score"] is not None)
    assert scored["modelName"] and scored["modelVersion"] and scored["faixaScore"] in "ABCDE"
    assert scored["reasons"] == [REASONS[code] for code in scored["reasonCodes"]]
    excluded = next(r for r in results if r["motivoExclusao"] is not None)
    assert excluded["score"] is None and excluded["reasonCodes"] == []

    job = http.get(f"/api/v1/batches/{answer['batchId']}", headers=people.analyst.headers).json()
    assert job["status"] == "completed" and job["fileName"] == "online"
    assert job["rowsTotal"] == 150
    assert job["rowsScored"] + job["rowsExcluded"] == 150
    assert job["rowsExcluded"] == batch_rows["motivoExclusao"].drop_nulls().len()
    assert job["models"] and job["startedAt"] and job["finishedAt"]


def test_numbers_are_accepted_as_numbers(http: httpx.Client, people: People) -> None:
    customer = _customers(1, seed=11).to_dicts()[0]
    as_numbers = {
        **customer,
        "total_compras": int(customer["total_compras"]),
        "valor_total_compras": float(customer["valor_total_compras"]),
        "maior_atraso": float(customer["maior_atraso"]),  # 12.0 reads as 12
    }
    texts = http.post(
        "/api/v1/scores", json={"customers": [customer]}, headers=people.analyst.headers
    )
    numbers = http.post(
        "/api/v1/scores", json={"customers": [as_numbers]}, headers=people.analyst.headers
    )
    assert texts.status_code == numbers.status_code == 200, numbers.text
    first, second = texts.json()["results"][0], numbers.json()["results"][0]
    assert first["motivoExclusao"] is None and first["score"] == second["score"]
    assert first["scoreProbInadimplencia"] == second["scoreProbInadimplencia"]


def test_request_size_and_shape_are_validated(http: httpx.Client, people: People) -> None:
    one = _customers(1).to_dicts()
    for customers in ([], one * 1_001):
        response = http.post(
            "/api/v1/scores", json={"customers": customers}, headers=people.analyst.headers
        )
        assert response.status_code == 422, len(customers)
        assert response.headers["content-type"] == "application/problem+json"
    typo = http.post(
        "/api/v1/scores",
        json={"customers": [{**one[0], "cpff": "1"}]},
        headers=people.analyst.headers,
    )
    assert typo.status_code == 422
    # A lone surrogate is valid JSON but no database can store it: refused, never a 500.
    surrogate = http.post(
        "/api/v1/scores",
        content=b'{"customers": [{"cpf": "52998224725", "nome": "Ana \\ud800"}]}',
        headers={**people.analyst.headers, "Content-Type": "application/json"},
    )
    assert surrogate.status_code == 422, surrogate.text
    assert surrogate.json()["errors"][0]["field"] == "customers.0.nome"
    assert http.post("/api/v1/scores", json={"customers": one}).status_code == 401


def test_online_batches_are_isolated_and_staff_name_the_client(
    http: httpx.Client, people: People
) -> None:
    body = {"customers": _customers(2).to_dicts()}
    assert (
        http.post("/api/v1/scores", json=body, headers=people.operator.headers).status_code == 422
    )
    missing = http.post(
        "/api/v1/scores", params={"clientId": 999_999}, json=body, headers=people.operator.headers
    )
    assert missing.status_code == 404

    staff = http.post(
        "/api/v1/scores",
        params={"clientId": people.other_client_id},
        json=body,
        headers=people.admin.headers,
    )
    assert staff.status_code == 200
    staff_job = http.get(
        f"/api/v1/batches/{staff.json()['batchId']}", headers=people.other_analyst.headers
    )
    assert staff_job.status_code == 200 and staff_job.json()["clientId"] == people.other_client_id

    own = http.post("/api/v1/scores", json=body, headers=people.analyst.headers)
    job_id = own.json()["batchId"]
    for suffix in ("", "/results"):
        stranger = http.get(
            f"/api/v1/batches/{job_id}{suffix}", headers=people.other_analyst.headers
        )
        assert stranger.status_code == 404
    assert job_id not in [
        j["id"] for j in http.get("/api/v1/batches", headers=people.other_analyst.headers).json()
    ]
    # No file behind an online job: nothing to download or reprocess, and it cannot be cancelled.
    assert (
        http.get(f"/api/v1/batches/{job_id}/results", headers=people.analyst.headers).status_code
        == 409
    )
    assert (
        http.post(f"/api/v1/batches/{job_id}/reprocess", headers=people.admin.headers).status_code
        == 409
    )
    assert (
        http.post(f"/api/v1/batches/{job_id}/cancel", headers=people.analyst.headers).status_code
        == 409
    )


def test_concurrent_requests_each_get_their_own_job_or_refusal(
    server: str, engine: Engine, people: People
) -> None:
    """Requests that share a group commit keep their own answers, jobs and rows."""
    customers = _customers(24, seed=11).to_dicts()
    senders = [
        (people.analyst.headers, {}, 200),
        (people.other_analyst.headers, {}, 200),
        (people.admin.headers, {"clientId": people.other_client_id}, 200),
        ({"Authorization": "Bearer cg_not-a-token"}, {}, 401),
        (people.operator.headers, {}, 422),  # staff must name the client
        (people.operator.headers, {"clientId": 999_999}, 404),
    ]

    def mine(index: int) -> list[dict[str, object]]:
        start = index % 20
        return customers[start : start + 1 + index % 3]

    def send(index: int) -> tuple[int, httpx.Response]:
        headers, params, _ = senders[index % len(senders)]
        with httpx.Client(base_url=server, timeout=30) as client:
            return index, client.post(
                "/api/v1/scores", json={"customers": mine(index)}, headers=headers, params=params
            )

    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(send, range(36)))

    job_ids = set()
    for index, response in answers:
        expected = senders[index % len(senders)][2]
        assert response.status_code == expected, (index, response.text)
        if expected != 200:
            continue
        body = response.json()
        assert [r["rowNumber"] for r in body["results"]] == list(range(1, len(mine(index)) + 1))
        stored = factories.stored_rows(engine, body["batchId"])
        for column in ("cpf", "score", "motivoExclusao"):
            assert stored[column].to_list() == [r[column] for r in body["results"]], column
        job_ids.add(body["batchId"])
    assert len(job_ids) == sum(1 for i, _ in answers if senders[i % len(senders)][2] == 200)
