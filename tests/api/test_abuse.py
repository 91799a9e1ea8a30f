"""Abuse controls over HTTP: login throttling, rate limits (memory and Redis), the block list."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
import redis
from sqlalchemy import Engine

from credguard.config import Settings
from credguard.db.base import utcnow
from credguard.db.engine import session_scope
from credguard.security import service as security
from credguard.security.tables import LoginAttempt
from tests.api.conftest import PASSWORD, People

REDIS_URL = "redis://127.0.0.1:6379/0"
LOGIN = "/api/v1/auth/login"


@pytest.fixture
def overrides() -> dict[str, object]:
    return {}


@pytest.fixture
def settings(settings: Settings, overrides: dict[str, object]) -> Iterator[Settings]:
    """The shared settings, with small limits so a test reaches them quickly."""
    configured = settings.model_copy(
        update={"login_max_failures": 2, "rate_limit_per_minute": 0, **overrides}
    )
    yield configured
    if configured.redis_url:
        client = redis.Redis.from_url(configured.redis_url)
        keys = list(client.scan_iter(match=f"{configured.redis_key_prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()


def _login(http: httpx.Client, email: str, password: str) -> httpx.Response:
    return http.post(LOGIN, json={"email": email, "password": password})


def _fail_until_throttled(http: httpx.Client, email: str) -> list[httpx.Response]:
    answers = []
    for _ in range(6):
        answers.append(_login(http, email, "not the password at all"))
        if answers[-1].status_code == 429:
            return answers
    raise AssertionError(f"never throttled: {[a.status_code for a in answers]}")


def _pad_failures(engine: Engine, email: str, count: int) -> None:
    with session_scope(engine) as session:
        for _ in range(count):
            session.add(
                LoginAttempt(
                    email=email, client_ip="198.51.100.9", succeeded=False, created_at=utcnow()
                )
            )


def test_login_throttling_is_the_same_for_unknown_and_real_accounts(
    http: httpx.Client, people: People, engine: Engine
) -> None:
    known, unknown = people.analyst.email, "nobody@loja.test"
    sequences = {email: _fail_until_throttled(http, email) for email in (known, unknown)}
    for answers in sequences.values():
        assert [a.status_code for a in answers[:2]] == [401, 401]
        throttled = answers[-1]
        assert throttled.headers["content-type"] == "application/problem+json"
        assert 1 <= int(throttled.headers["retry-after"]) <= 2
    first_401 = {email: answers[0].json() for email, answers in sequences.items()}
    last_429 = {email: answers[-1].json() for email, answers in sequences.items()}
    assert first_401[known] == first_401[unknown]
    assert last_429[known] == last_429[unknown] and last_429[known]["status"] == 429

    # More failures meanwhile: the delay grows, and the right password does not get through.
    for email in (known, unknown):
        _pad_failures(engine, email, 5)
    refused = {email: _login(http, email, PASSWORD) for email in (known, unknown)}
    for answer in refused.values():
        assert answer.status_code == 429 and 16 < int(answer.headers["retry-after"]) <= 32
    assert refused[known].json() == refused[unknown].json()
    assert "WWW-Authenticate" not in refused[known].headers


def test_a_success_resets_the_throttle(http: httpx.Client, people: People) -> None:
    email = people.operator.email
    answers = _fail_until_throttled(http, email)
    time.sleep(int(answers[-1].headers["retry-after"]) + 0.2)
    assert _login(http, email, PASSWORD).status_code == 200
    assert _login(http, email, "wrong once more").status_code == 401  # one failure since success
    assert _login(http, email, PASSWORD).status_code == 200


def _rate_limit_cases() -> list[object]:
    redis_prefix = f"credguard-test-{uuid.uuid4().hex}:"
    return [
        pytest.param({"rate_limit_per_minute": 5}, id="memory"),
        pytest.param(
            {"rate_limit_per_minute": 5, "redis_url": REDIS_URL, "redis_key_prefix": redis_prefix},
            id="redis",
        ),
    ]


def _away_from_a_window_edge() -> None:
    """Start a burst at least 5 s before the one-minute window rolls over."""
    into_window = time.time() % 60
    if into_window > 55:
        time.sleep(60 - into_window + 0.1)


@pytest.mark.parametrize("overrides", _rate_limit_cases())
def test_rate_limit_per_token_and_per_ip(http: httpx.Client, people: People) -> None:
    _away_from_a_window_edge()
    answers = [http.get("/api/v1/batches", headers=people.analyst.headers) for _ in range(6)]
    assert [a.status_code for a in answers] == [200] * 5 + [429]
    assert 1 <= int(answers[-1].headers["retry-after"]) <= 60
    assert answers[-1].json()["status"] == 429
    # Another token, anonymous callers (counted by IP) and non-API routes are not affected.
    assert http.get("/api/v1/batches", headers=people.operator.headers).status_code == 200
    anonymous = [http.get("/api/v1/batches").status_code for _ in range(6)]
    assert anonymous == [401] * 5 + [429]
    assert all(http.get(path).status_code == 200 for path in ["/health", "/metrics"] * 4)


def _credguard(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CREDGUARD_DATA_DIR": str(settings.data_dir),
        "CREDGUARD_DATABASE_URL": settings.resolved_database_url,
        "COLUMNS": "200",
    }
    result = subprocess.run(
        [sys.executable, "-m", "credguard", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result


def _status_within(http: httpx.Client, status: int, seconds: float) -> float:
    """Seconds until ``/health`` answers ``status``; fails after ``seconds``."""
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < seconds:
        if http.get("/health").status_code == status:
            return elapsed
        time.sleep(0.05)
    raise AssertionError(f"/health did not answer {status} within {seconds} s")


@pytest.mark.parametrize("overrides", [{"ip_block_cache_seconds": 1.0}])
def test_block_ip_from_the_cli_answers_403_everywhere(
    http: httpx.Client, people: People, settings: Settings
) -> None:
    assert http.get("/health").status_code == 200
    _credguard(
        settings, "security", "block-ip", "127.0.0.0/8", "--reason", "test", "--expires", "1h"
    )
    assert _status_within(http, 403, 1.0 + 0.5) <= 1.5  # within the cache's lifetime
    for answer in [
        http.get("/health"),
        http.get("/api/v1/batches", headers=people.admin.headers),
        http.post(LOGIN, json={"email": people.admin.email, "password": PASSWORD}),
    ]:
        assert answer.status_code == 403
        assert answer.headers["content-type"] == "application/problem+json"
    listed = _credguard(settings, "security", "list-blocks")
    assert "127.0.0.0/8" in listed.stdout and "test" in listed.stdout
    _credguard(settings, "security", "unblock-ip", "127.0.0.0/8")
    _status_within(http, 200, 3.0)  # the 1 s cache expires by itself


@pytest.mark.parametrize("overrides", [{"ip_block_cache_seconds": 0.2}])
def test_forwarded_for_from_an_untrusted_peer_is_ignored(
    http: httpx.Client, engine: Engine
) -> None:
    with session_scope(engine) as session:
        security.block(session, "203.0.113.50", expires_in=timedelta(hours=1))
    time.sleep(0.3)
    # No proxy is configured: the loopback peer is the client, whatever the header says.
    assert http.get("/health", headers={"X-Forwarded-For": "203.0.113.50"}).status_code == 200


@pytest.mark.parametrize(
    "overrides", [{"trusted_proxies": ["127.0.0.1"], "ip_block_cache_seconds": 0.2}]
)
def test_forwarded_client_is_blocked_only_behind_a_trusted_proxy(
    http: httpx.Client, engine: Engine
) -> None:
    with session_scope(engine) as session:
        security.block(session, "203.0.113.50", expires_in=timedelta(hours=1))
    time.sleep(0.3)
    forged = {"X-Forwarded-For": "203.0.113.50, 198.51.100.1"}
    assert http.get("/health", headers=forged).status_code == 200
    assert http.get("/health", headers={"X-Forwarded-For": "203.0.113.50"}).status_code == 403
