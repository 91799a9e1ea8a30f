"""GET /api/v1/drift and /drift/latest over HTTP: filters, camelCase JSON, who sees what."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import Engine

from credguard.config import Settings
from credguard.drift import service
from tests.api.conftest import People
from tests.drift.conftest import SHORT_RELATIONSHIPS, scored_batch
from tests.factories import today_utc


def test_history_latest_filters_and_isolation(
    quiet_http: httpx.Client,
    people: People,
    engine: Engine,
    settings: Settings,
    client_id: int,
    tmp_path: Path,
) -> None:
    scored_batch(engine, settings, client_id, tmp_path, rows=600, seed=71)
    scored_batch(
        engine, settings, people.other_client_id, tmp_path, rows=900, seed=72,
        shift=SHORT_RELATIONSHIPS,
    )  # fmt: skip
    yesterday = today_utc() - timedelta(days=1)
    service.detect_drift(engine, settings, day=yesterday)
    service.detect_drift(engine, settings)
    staff, owner, other = (
        people.operator.headers,
        people.analyst.headers,
        people.other_analyst.headers,
    )

    everything = quiet_http.get("/api/v1/drift", headers=staff)
    assert everything.status_code == 200
    rows = everything.json()
    # Yesterday: the three products' all-clients results (the batches are today's); today: also
    # each client's CARTAO result.
    assert len(rows) == 3 + 5
    assert [row["dia"] for row in rows] == sorted((row["dia"] for row in rows), reverse=True)
    first = next(row for row in rows if row["scope"] == f"client:{people.other_client_id}")
    assert first["status"] == "action" and first["statuses"]["features"] == "action"
    assert first["clientId"] == people.other_client_id and first["clientName"] == "Outra Loja"
    assert first["windowEnd"].endswith("Z") and first["nReference"] == 4_500
    assert first["scoreDistribution"]["psiCritical"] > 0
    assert "relationship_days" in first["featureDrift"]["flagged"]
    assert first["performance"]["estimated"]["estimated"] is True

    def get(path: str, headers: dict[str, str], **params: object) -> httpx.Response:
        return quiet_http.get(path, headers=headers, params=params)

    only = get("/api/v1/drift", staff, product="cartao", **{"from": today_utc().isoformat()}).json()
    assert {(row["produto"], row["dia"]) for row in only} == {("CARTAO", today_utc().isoformat())}
    assert len(only) == 3
    assert len(get("/api/v1/drift", staff, scope="all").json()) == 6
    assert len(get("/api/v1/drift", staff, to=yesterday.isoformat()).json()) == 3
    assert get("/api/v1/drift", staff, clientId=client_id).json()[0]["clientId"] == client_id
    assert get("/api/v1/drift", staff, **{"from": "2026-02-30"}).status_code == 422
    backwards = {"from": today_utc().isoformat(), "to": yesterday.isoformat()}
    assert get("/api/v1/drift", staff, **backwards).status_code == 422
    assert get("/api/v1/drift", staff, scope="everyone").status_code == 422
    latest = get("/api/v1/drift/latest", staff).json()
    assert len(latest) == 5 and {row["dia"] for row in latest} == {today_utc().isoformat()}
    assert [row["scope"] for row in get("/api/v1/drift/latest", staff, scope="all").json()] == [
        "all"
    ] * 3

    # An analyst sees their own company's results only: never all clients, never another's.
    mine = get("/api/v1/drift", owner).json()
    assert [row["scope"] for row in mine] == [f"client:{client_id}"]
    assert get("/api/v1/drift", owner, clientId=client_id).json() == mine
    assert get("/api/v1/drift/latest", owner).json() == mine
    theirs = get("/api/v1/drift", other).json()
    assert [row["clientId"] for row in theirs] == [people.other_client_id]
    for path in ("/api/v1/drift", "/api/v1/drift/latest"):
        for params in ({"clientId": client_id}, {"scope": "all"}, {"scope": f"client:{client_id}"}):
            refused = get(path, other, **params)
            assert refused.status_code == 404, (path, params)
            assert refused.json() == get(path, other, clientId=2_000_000).json()
    assert get("/api/v1/drift", {}).status_code == 401
