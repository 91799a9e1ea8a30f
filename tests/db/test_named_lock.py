"""named_lock: one holder at a time per database, on SQLite files and on MariaDB's server locks."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from credguard.db import engine as db_engine
from credguard.db.engine import named_lock, server_lock_name
from credguard.errors import Busy
from tests.conftest import MARIADB_SERVER_URL, mariadb_engine


def held_elsewhere(engine: Engine, name: str) -> bool:
    """Whether another thread (its own connection) finds ``name`` taken: it gives up at once."""
    taken: list[bool] = []

    def attempt() -> None:
        try:
            with named_lock(engine, name, timeout_seconds=0):
                taken.append(False)
        except Busy as refused:
            assert refused.status == 503 and "try again later" in str(refused)
            taken.append(True)

    thread = threading.Thread(target=attempt)
    thread.start()
    thread.join(timeout=30)
    assert taken, "the attempt did not finish"
    return taken[0]


@pytest.fixture
def mariadb(mariadb_url: str) -> Iterator[Engine]:
    """The run's MariaDB database (server locks are what this module is about; SQLite's lock
    file beside the database is exercised by the scheduler and outcomes tests)."""
    yield from mariadb_engine(mariadb_url)


@pytest.mark.mariadb
def test_a_held_lock_is_taken_for_this_database(mariadb: Engine) -> None:
    with named_lock(mariadb, "drift-run"):
        assert held_elsewhere(mariadb, "drift-run")
        assert not held_elsewhere(mariadb, "another-task")
    assert not held_elsewhere(mariadb, "drift-run")


@pytest.fixture
def second_database() -> Iterator[Engine]:
    name = f"credguard_lock_{uuid.uuid4().hex[:8]}"
    server = create_engine(MARIADB_SERVER_URL)
    with server.begin() as connection:
        connection.execute(text(f"CREATE DATABASE `{name}`"))
    other = db_engine.create(make_url(MARIADB_SERVER_URL).set(database=name))
    try:
        yield other
    finally:
        other.dispose()
        with server.begin() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        server.dispose()


@pytest.mark.mariadb
def test_two_databases_on_one_server_never_share_a_lock(
    mariadb: Engine, second_database: Engine
) -> None:
    with named_lock(mariadb, "drift-run"):
        assert held_elsewhere(mariadb, "drift-run")
        assert not held_elsewhere(second_database, "drift-run")


def test_long_lock_names_fit_the_servers_limit() -> None:
    short = server_lock_name("credguard", "outcomes-12")
    assert short == "credguard/outcomes-12"
    long_database = "credguard_test_" + "x" * 60
    first = server_lock_name(long_database, "outcomes-12")
    assert len(first) <= 64
    assert first != server_lock_name(long_database, "outcomes-13")
    assert first == server_lock_name(long_database, "outcomes-12")
