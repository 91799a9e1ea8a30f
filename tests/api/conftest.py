"""A real ``credguard`` API server on loopback (uvicorn in a thread), and users to call it as."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine

from credguard.accounts import auth
from credguard.accounts import service as accounts
from credguard.accounts.tables import Role
from credguard.api.app import create_app
from credguard.config import Settings
from credguard.db.engine import session_scope

PASSWORD = "correct horse battery staple"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_server(settings: Settings, *, worker: bool = True) -> Iterator[str]:
    """A uvicorn server on a free loopback port, in a thread; its base URL."""
    config = uvicorn.Config(
        create_app(settings, worker=worker),
        host="127.0.0.1",
        port=_free_port(),
        log_level="warning",
        server_header=False,
        proxy_headers=False,  # as `credguard serve` runs it
    )
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not instance.started:
        assert time.monotonic() < deadline, "the API server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{config.port}"
    finally:
        instance.should_exit = True
        thread.join(timeout=30)
        # A server still running would keep its worker polling the next test's database.
        assert not thread.is_alive(), "the API server did not stop within 30 s"


@pytest.fixture
def server(engine: Engine, settings: Settings, client_id: int) -> Iterator[str]:
    """Base URL of a running server with its in-process worker."""
    del client_id
    with running_server(settings) as url:
        yield url


def wait_done(
    http: httpx.Client, job_id: int, headers: dict[str, str], timeout: float = 60
) -> dict[str, object]:
    """Poll a job until it is completed or failed; its last state."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = http.get(f"/api/v1/batches/{job_id}", headers=headers).json()
        if job["status"] in ("completed", "failed"):
            return dict(job)
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s")


@dataclass
class Identity:
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class People:
    analyst: Identity  # of the test client ("Loja Teste")
    other_analyst: Identity  # of another client
    operator: Identity
    admin: Identity
    other_client_id: int


@pytest.fixture
def people(engine: Engine, settings: Settings, client_id: int) -> People:
    """One user per role, with access tokens issued the way login issues them."""
    with session_scope(engine) as session:
        other = accounts.create_client(session, "Outra Loja")
        made = {
            "analyst": accounts.create_user(
                session,
                email="ana@loja.test",
                name="Ana",
                password=PASSWORD,
                role=Role.ANALYST,
                client_id=client_id,
            ),
            "other_analyst": accounts.create_user(
                session,
                email="otto@outra.test",
                name="Otto",
                password=PASSWORD,
                role=Role.ANALYST,
                client_id=other.id,
            ),
            "operator": accounts.create_user(
                session, email="op@credguard.test", name="Op", password=PASSWORD, role=Role.OPERATOR
            ),
            "admin": accounts.create_user(
                session, email="adm@credguard.test", name="Adm", password=PASSWORD, role=Role.ADMIN
            ),
        }
        identities = {
            key: Identity(user.email, auth.issue_access_token(user, settings))
            for key, user in made.items()
        }
        return People(**identities, other_client_id=other.id)


@pytest.fixture
def http(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=30) as client:
        yield client


@pytest.fixture
def quiet_http(engine: Engine, settings: Settings, client_id: int) -> Iterator[httpx.Client]:
    """A server without its in-process worker: jobs stay where a test puts them."""
    del client_id
    with (
        running_server(settings, worker=False) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        yield client
