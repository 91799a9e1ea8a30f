"""Incidents over HTTP: staff handle them; each client reads only its own."""

from __future__ import annotations

import httpx
from sqlalchemy import Engine

from credguard.config import Settings
from tests.api.conftest import People
from tests.incidents.test_service import drift


def test_clients_read_only_their_own_incidents_and_staff_handle_them(
    http: httpx.Client, people: People, engine: Engine, settings: Settings, client_id: int
) -> None:
    own = drift(engine, settings, client_id)
    theirs = drift(engine, settings, people.other_client_id, product="EMPRESTIMO")
    everyone = drift(engine, settings, None, product="CREDIARIO")

    def ids(identity_headers: dict[str, str], **params: object) -> list[int]:
        answer = http.get("/api/v1/incidents", headers=identity_headers, params=params)
        assert answer.status_code == 200, answer.text
        return [item["id"] for item in answer.json()]

    analyst, other, operator = (
        people.analyst.headers,
        people.other_analyst.headers,
        people.operator.headers,
    )
    assert ids(analyst) == [own]
    assert ids(analyst, clientId=people.other_client_id) == []  # never another client's
    assert ids(other) == [theirs]
    assert ids(operator) == [everyone, theirs, own]
    assert ids(operator, clientId=client_id) == [own]
    assert ids(operator, product="CREDIARIO") == [everyone]
    assert ids(operator, status="acknowledged") == []
    bad = http.get("/api/v1/incidents", headers=operator, params={"status": "closed"})
    assert bad.status_code == 422

    mine = http.get(f"/api/v1/incidents/{own}", headers=analyst).json()
    assert mine["clientId"] == client_id and mine["severity"] == "P3"
    assert mine["status"] == "open" and mine["occurrences"] == 1
    assert mine["escalation"] is None  # internal contacts are for staff
    assert mine["openedAt"].endswith("Z") or mine["openedAt"].endswith("+00:00")
    for hidden in (theirs, everyone, 999_999):
        assert http.get(f"/api/v1/incidents/{hidden}", headers=analyst).status_code == 404
    assert http.get(f"/api/v1/incidents/{everyone}", headers=operator).status_code == 200

    assert http.post(f"/api/v1/incidents/{own}/ack", headers=analyst).status_code == 403
    acked = http.post(f"/api/v1/incidents/{own}/ack", headers=operator)
    assert acked.status_code == 200
    assert acked.json()["status"] == "acknowledged"
    assert acked.json()["acknowledgedBy"] == people.operator.email
    seen_by_client = http.get(f"/api/v1/incidents/{own}", headers=analyst).json()
    assert seen_by_client["status"] == "acknowledged" and seen_by_client["acknowledgedBy"] is None

    resolve = f"/api/v1/incidents/{own}/resolve"
    assert http.post(resolve, headers=operator).status_code == 422  # what was done?
    done = http.post(resolve, headers=operator, json={"resolution": "fa_12_v3 promoted"})
    assert done.status_code == 200 and done.json()["status"] == "resolved"
    again = http.post(resolve, headers=people.admin.headers, json={"resolution": "again"})
    assert again.status_code == 409 and "already resolved" in again.json()["detail"]
    assert http.post(f"/api/v1/incidents/{own}/ack", headers=operator).status_code == 409

    reopened = drift(engine, settings, client_id)
    assert reopened not in (own, None)
    assert ids(analyst, status="active") == [reopened]
    assert ids(analyst) == [reopened, own]
