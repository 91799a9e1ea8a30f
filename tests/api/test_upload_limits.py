"""Uploads are capped while they stream: 413, and nothing stored."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from credguard.config import Settings
from tests.api.conftest import People


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"upload_max_bytes": 64 * 1024})


def test_a_file_over_the_limit_is_refused_with_413(
    http: httpx.Client, people: People, settings: Settings
) -> None:
    headers = {**people.analyst.headers, "Content-Type": "text/csv"}
    response = http.post("/api/v1/batches", content=b"x" * (65 * 1024), headers=headers)
    assert response.status_code == 413 and "limit" in response.json()["detail"]

    def chunks() -> Iterator[bytes]:
        for _ in range(70):
            yield b"y" * 1024

    streamed = http.post("/api/v1/batches", content=chunks(), headers=headers)  # no Content-Length
    assert streamed.status_code == 413
    assert not list(settings.uploads_dir.glob("*")), "a refused upload left a file behind"
