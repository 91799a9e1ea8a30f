"""Outcomes over HTTP: JSON, CSV and multipart uploads, row errors, tenants, the summary."""

from __future__ import annotations

from pathlib import Path

import httpx
from sqlalchemy import Engine, func, select

from credguard.db.engine import session_scope
from credguard.outcomes.tables import ObservedOutcome
from tests import factories
from tests.api.conftest import People, wait_done
from tests.factories import today_utc


def scored_cpfs(
    http: httpx.Client, headers: dict[str, str], tmp_path: Path, rows: int = 20
) -> list[str]:
    """Upload and score a CARTAO file as ``headers``' client; its customers' CPFs (normalised)."""
    customers = factories.make_customers(rows, seed=3, products=["CARTAO"])
    body = factories.write_file(customers, tmp_path / "c.csv").read_bytes()
    job = http.post(
        "/api/v1/batches", content=body, headers={**headers, "Content-Type": "text/csv"}
    )
    assert wait_done(http, job.json()["id"], headers)["status"] == "completed"
    return customers["cpf"].str.replace_all(r"[^0-9]", "").str.zfill(11).to_list()


def stored_count(engine: Engine) -> int:
    with session_scope(engine) as session:
        return int(session.scalar(select(func.count()).select_from(ObservedOutcome)) or 0)


def test_json_then_csv_then_multipart_uploads_store_link_and_update(
    http: httpx.Client, people: People, engine: Engine, client_id: int, tmp_path: Path
) -> None:
    cpfs = scored_cpfs(http, people.analyst.headers, tmp_path)
    outcomes = [
        {
            "cpf": cpf,
            "produto": "CARTAO",
            "inadimplente": i % 2 == 0,
            "dataReferencia": today_utc().isoformat(),
        }
        for i, cpf in enumerate(cpfs[:10])
    ]
    outcomes.append(
        {
            "cpf": cpfs[10],
            "produto": "Empréstimo",
            "default": 1,
            "dataReferencia": today_utc().isoformat(),
        }
    )
    answer = http.post(
        "/api/v1/outcomes", json={"outcomes": outcomes}, headers=people.analyst.headers
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "clientId": client_id,
        "received": 11,
        "stored": 11,
        "updated": 0,
        "linked": 10,
        "unlinked": 1,  # no EMPRESTIMO score for that customer
    }

    brazilian = today_utc().strftime("%d/%m/%Y")
    csv = "cpf;produto;default;dataReferencia\r\n" + "".join(
        f"{cpf[:3]}.{cpf[3:6]}.{cpf[6:9]}-{cpf[9:]};Cartão;{'não' if i % 2 else 'SIM'};{brazilian}\r\n"
        for i, cpf in enumerate(cpfs[:12])
    )
    answer = http.post(
        "/api/v1/outcomes",
        content=csv.encode("latin-1"),
        headers={**people.analyst.headers, "Content-Type": "text/csv"},
    )
    assert answer.status_code == 200, answer.text
    assert (answer.json()["stored"], answer.json()["updated"], answer.json()["linked"]) == (
        2,
        10,
        12,
    )

    form = f"cpf,produto,inadimplente,dataReferencia\n{cpfs[12]},CARTAO,true,{today_utc()}\n"
    answer = http.post(
        "/api/v1/outcomes",
        files={"file": ("outcomes.csv", form.encode(), "text/csv")},
        headers=people.analyst.headers,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["stored"] == 1
    assert stored_count(engine) == 14
    with session_scope(engine) as session:
        flags = session.scalars(
            select(ObservedOutcome.inadimplente).order_by(ObservedOutcome.id)
        ).all()
    assert list(flags[:10]) == [i % 2 == 0 for i in range(10)]  # the CSV said the same


def test_a_bad_row_refuses_the_whole_upload_naming_each_problem(
    http: httpx.Client, people: People, engine: Engine, client_id: int
) -> None:
    del client_id
    good = factories.make_customers(2, seed=4)["cpf"].to_list()
    csv = (
        "cpf,produto,inadimplente,dataReferencia\n"
        f"{good[0]},CARTAO,1,{today_utc()}\n"
        f"12345678900,CARTAO,1,{today_utc()}\n"
        f"{good[1]},SEGURO,talvez,31/02/2026\n"
        f"{good[0]},cartao,0,{today_utc()}\n"
    )
    answer = http.post(
        "/api/v1/outcomes",
        content=csv,
        headers={**people.analyst.headers, "Content-Type": "text/csv"},
    )
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert "3 of 4 outcome(s) are not valid, so none was stored" in problem["detail"]
    assert [(e["row"], e["field"]) for e in problem["errors"]] == [
        ("2", "cpf"),
        ("3", "produto"),
        ("3", "inadimplente"),
        ("3", "dataReferencia"),
        ("4", "row"),
    ]
    assert "'talvez' is not yes or no" in problem["errors"][2]["problem"]
    assert "as row 1" in problem["errors"][4]["problem"]
    assert "12345678900" not in answer.text  # CPFs are never echoed
    assert stored_count(engine) == 0

    missing = http.post(
        "/api/v1/outcomes",
        content="cpf,produto\n1,2\n",
        headers={**people.analyst.headers, "Content-Type": "text/csv"},
    )
    assert missing.status_code == 422
    assert "lacks the column(s) inadimplente, dataReferencia" in missing.json()["detail"]
    # Only characters Python counts as blank lines (bytes.strip() keeps them): not a 500.
    blank = http.post(
        "/api/v1/outcomes",
        content=b"\x1e\n",
        headers={**people.analyst.headers, "Content-Type": "text/csv"},
    )
    assert blank.status_code == 422 and blank.json()["detail"] == "the file is empty"
    masked = "529.982.247-25"
    swapped = http.post(
        "/api/v1/outcomes",
        content=f"cpf,produto,inadimplente,dataReferencia\nCARTAO,{masked},1,{today_utc()}\n",
        headers={**people.analyst.headers, "Content-Type": "text/csv"},
    )
    assert swapped.status_code == 422
    assert [e["field"] for e in swapped.json()["errors"]] == ["cpf", "produto"]
    assert masked not in swapped.text and "52998224725" not in swapped.text
    assert "'***' is not a product" in swapped.text
    wrong_json = http.post(
        "/api/v1/outcomes",
        json={"outcomes": [{"cpf": good[0], "nome": "Ana"}]},
        headers=people.analyst.headers,
    )
    assert (
        wrong_json.status_code == 422
        and wrong_json.json()["errors"][0]["field"] == "outcomes.0.nome"
    )
    other_type = http.post(
        "/api/v1/outcomes",
        content=b"<xml/>",
        headers={**people.analyst.headers, "Content-Type": "application/xml"},
    )
    assert other_type.status_code == 415
    too_large = http.post(
        "/api/v1/outcomes",
        content=b"x" * (32 * 1024 * 1024 + 1),
        headers={**people.analyst.headers, "Content-Type": "text/csv"},
    )
    assert too_large.status_code == 413
    # A count over the limit in a body under 32 MB: 422, as the README says.
    too_many_rows = http.post(
        "/api/v1/outcomes",
        content=b"cpf,produto,inadimplente,dataReferencia\n" + b"1,2,3,4\n" * 100_001,
        headers={**people.analyst.headers, "Content-Type": "text/csv"},
    )
    assert too_many_rows.status_code == 422
    assert "holds 100,001 outcomes; send at most 100,000" in too_many_rows.json()["detail"]
    too_many_items = http.post(
        "/api/v1/outcomes",
        json={"outcomes": [{}] * 100_001},
        headers=people.analyst.headers,
    )
    assert too_many_items.status_code == 422
    assert too_many_items.json()["errors"][0]["field"] == "outcomes"
    assert stored_count(engine) == 0


def test_staff_name_the_client_and_clients_stay_apart(
    http: httpx.Client, people: People, engine: Engine, client_id: int, tmp_path: Path
) -> None:
    cpfs = scored_cpfs(http, people.analyst.headers, tmp_path)
    body = {
        "outcomes": [
            {
                "cpf": cpf,
                "produto": "CARTAO",
                "inadimplente": True,
                "dataReferencia": today_utc().isoformat(),
            }
            for cpf in cpfs[:5]
        ]
    }
    unnamed = http.post("/api/v1/outcomes", json=body, headers=people.operator.headers)
    assert unnamed.status_code == 422 and "clientId" in unnamed.json()["detail"]
    unknown = http.post(
        "/api/v1/outcomes", json=body, params={"clientId": 999_999}, headers=people.operator.headers
    )
    assert unknown.status_code == 404

    # Another client's analyst sends the same CPFs, naming our client: it is theirs, unlinked.
    theirs = http.post(
        "/api/v1/outcomes",
        json=body,
        params={"clientId": client_id},
        headers=people.other_analyst.headers,
    )
    assert theirs.status_code == 200
    assert theirs.json()["clientId"] == people.other_client_id
    assert (theirs.json()["linked"], theirs.json()["unlinked"]) == (0, 5)

    ours = http.post(
        "/api/v1/outcomes", json=body, params={"clientId": client_id}, headers=people.admin.headers
    )
    assert ours.status_code == 200 and ours.json()["linked"] == 5 and ours.json()["stored"] == 5

    own = http.get("/api/v1/outcomes/summary", headers=people.analyst.headers).json()
    assert own == [
        {
            "produto": "CARTAO",
            "outcomes": 5,
            "linked": 5,
            "linkedShare": 1.0,
            "defaults": 5,
            "defaultRate": 1.0,
        }
    ]
    other = http.get("/api/v1/outcomes/summary", headers=people.other_analyst.headers).json()
    assert [(item["outcomes"], item["linked"]) for item in other] == [(5, 0)]
    everyone = http.get("/api/v1/outcomes/summary", headers=people.operator.headers).json()
    assert [(item["outcomes"], item["linked"]) for item in everyone] == [(10, 5)]
    filtered = http.get(
        "/api/v1/outcomes/summary", params={"clientId": client_id}, headers=people.operator.headers
    ).json()
    assert [(item["outcomes"], item["linked"]) for item in filtered] == [(5, 5)]
    assert stored_count(engine) == 10
