"""Engines and the unit of work.

SQLite (the embedded default) runs in WAL mode with a busy timeout so a worker and readers can
share the file; MariaDB/MySQL connections allow ``LOAD DATA LOCAL INFILE`` for bulk ingest.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import sqlite3
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from credguard.errors import Busy

SQLITE_BUSY_TIMEOUT_MS = 30_000

log = structlog.get_logger(__name__)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def sqlite_path(engine: Engine) -> Path:
    """The file behind a SQLite engine."""
    database = engine.url.database
    if not database or database == ":memory:":
        raise ValueError("CredGuard needs a file-backed SQLite database")
    return Path(database)


@lru_cache(maxsize=8)
def get_engine(url: str) -> Engine:
    """One engine per URL and process (engines own connection pools)."""
    return create(url)


def create(url: str) -> Engine:
    """A new engine for ``url`` with CredGuard's connection settings."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    connect_args: dict[str, Any] = {}
    if parsed.get_backend_name() == "mysql":
        connect_args = {
            "local_infile": True,
            "charset": "utf8mb4",
            "init_command": "SET time_zone = '+00:00'",
        }
    return create_engine(url, pool_pre_ping=True, pool_recycle=3600, connect_args=connect_args)


_factories: weakref.WeakKeyDictionary[Engine, sessionmaker[Session]] = weakref.WeakKeyDictionary()
_registry_lock = threading.Lock()


def new_session(engine: Engine) -> Session:
    """A session on ``engine`` (one factory per engine: building one per session costs ~0.3 ms)."""
    factory = _factories.get(engine)
    if factory is None:
        with _registry_lock:
            factory = _factories.setdefault(
                engine, sessionmaker(bind=engine, expire_on_commit=False)
            )
    return factory()


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    session = new_session(engine)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def write_lock(engine: Engine) -> Iterator[None]:
    """Wait for a turn to write to a SQLite database, shared by every process using it.

    SQLite lets one writer in at a time and makes the others retry after sleeping 1, 2, 5, 10 …
    ms, so two busy processes stall each other for tens of milliseconds. Waiting on a file lock
    instead wakes the next writer as soon as the turn is free. Take it before the transaction's
    first write and keep it until the commit; writing before it (while holding SQLite's lock)
    could deadlock with a process holding it. Other databases lock rows: no turn is taken.
    """
    if not is_sqlite(engine):
        yield
        return
    with _file_lock(f"{sqlite_path(engine)}.write-lock"):
        yield


@contextmanager
def _file_lock(path: str) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


@contextmanager
def named_lock(engine: Engine, name: str, *, timeout_seconds: int = 300) -> Iterator[None]:
    """One holder at a time of ``name`` among every process using this database (only it:
    another database on the same server has its own ``name``).

    It locks nothing in the database: it serialises a slow task (such as mirroring models to
    MLflow) without holding a transaction open. SQLite: a lock file beside the database;
    MariaDB/MySQL: ``GET_LOCK`` on a connection of its own; PostgreSQL: an advisory lock.
    """
    if is_sqlite(engine):
        with _file_lock(f"{sqlite_path(engine)}.{name}-lock"):
            yield
        return
    # The server's locks are server-wide: qualify the name with the database, so two
    # CredGuard databases on one server (staging and production, two test runs) never wait
    # for each other's locks.
    qualified = server_lock_name(engine.url.database or "", name)
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql("SELECT pg_advisory_lock(hashtext(%s))", (qualified,))
            release = ("SELECT pg_advisory_unlock(hashtext(%s))", (qualified,))
        else:
            got = connection.exec_driver_sql(
                "SELECT GET_LOCK(%s, %s)", (qualified, timeout_seconds)
            ).scalar()
            if got != 1:
                raise Busy(
                    f"another CredGuard process has been busy with {name!r} for"
                    f" {timeout_seconds} s; try again later"
                )
            release = ("SELECT RELEASE_LOCK(%s)", (qualified,))
        try:
            yield
        finally:
            connection.exec_driver_sql(*release)
            connection.rollback()


def server_lock_name(database: str, name: str) -> str:
    """``database/name``, or a digest of it beyond MySQL's 64 characters for a lock name."""
    qualified = f"{database}/{name}"
    if len(qualified) <= 64:
        return qualified
    return f"credguard/{hashlib.sha256(qualified.encode()).hexdigest()[:54]}"


class BackgroundCheckpointer:
    """Move SQLite's WAL checkpoints off the request path, into a thread of their own.

    By default the commit that grows the write-ahead log past 1,000 pages copies it back into
    the database and syncs it to disk, so one request in a few hundred pays milliseconds for
    all the others. A server instead turns that off on its connections and checkpoints every
    ``interval`` seconds here (PASSIVE: readers and writers are never blocked). Processes
    without one (the CLI, ``credguard worker``) keep SQLite's automatic checkpoints.
    """

    def __init__(self, engine: Engine, interval: float = 1.0) -> None:
        self.engine = engine
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="credguard-checkpoint", daemon=True)
        self._connection: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        event.listen(self.engine, "connect", _no_autocheckpoint)
        self.engine.dispose()  # pooled connections opened before the listener reconnect with it
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        event.remove(self.engine, "connect", _no_autocheckpoint)
        self.engine.dispose()  # later connections checkpoint by themselves again
        self._round()  # what the last requests wrote
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def checkpoint(self) -> None:
        """Copy the log into the database now (PASSIVE: as far as readers allow)."""
        with self._lock:  # one connection, used by one thread at a time
            if self._connection is None:
                self._connection = sqlite3.connect(
                    sqlite_path(self.engine), timeout=1, check_same_thread=False
                )
            self._connection.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def _round(self) -> None:
        try:
            self.checkpoint()
        except sqlite3.Error as exc:  # busy or briefly unavailable: the next round retries
            log.warning("WAL checkpoint failed", error=str(exc))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._round()


def _no_autocheckpoint(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()
