"""Schemathesis over the whole OpenAPI schema, with real credentials: no 5xx, nothing undocumented.

Runs against the live server on SQLite and MariaDB, as an admin (who may call every route).
"""

from __future__ import annotations

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import Case, checks

from tests.api.conftest import People

EXAMPLES = 25
#: What the issue asks: no 5xx, no status or content type the schema does not document, bodies
#: that match it. (The positive/negative data heuristics are left out: whether ``clientId`` is
#: needed depends on who calls, which a schema cannot say.)
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


def test_api_conforms_to_its_schema(server: str, people: People) -> None:
    # Driven by hand rather than through schemathesis' pytest plugin, which does not support
    # pytest 9 yet; each operation gets its own Hypothesis run.
    schema = schemathesis.openapi.from_url(f"{server}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def call(case: Case) -> None:
            case.call_and_validate(base_url=server, headers=people.admin.headers, checks=CHECKS)

        call()


def test_the_schema_documents_errors_as_problem_details(http: httpx.Client) -> None:
    document = http.get("/openapi.json").json()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if path.startswith("/api/v1/") and path != "/api/v1/auth/login":
                assert "401" in operation["responses"], (
                    f"{method.upper()} {path} does not document 401"
                )
