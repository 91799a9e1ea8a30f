"""Background WAL checkpoints: a server's commits never pay for SQLite's checkpoint.

A checkpoint copies pages from the write-ahead log into the database file, so the database
file's size says whether one ran.
"""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import Engine, text

from credguard.db.engine import BackgroundCheckpointer, create

WRITTEN = 30 * 200_000  # 30 commits of 200 kB: far past the 1,000 pages (4 MB) auto-checkpoint


def fill(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (x BLOB)"))
    for _ in range(30):
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO t VALUES (randomblob(200000))"))


def autocheckpoint(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one())


def test_commits_leave_checkpoints_to_the_thread(tmp_path: Path) -> None:
    database = tmp_path / "wal.db"
    engine = create(f"sqlite:///{database}")
    checkpointer = BackgroundCheckpointer(engine, interval=3600)  # explicit rounds only
    checkpointer.start()
    try:
        assert autocheckpoint(engine) == 0
        fill(engine)
        assert database.stat().st_size < 1_000_000, "no commit checkpointed by itself"
        checkpointer.checkpoint()
        assert database.stat().st_size > WRITTEN
    finally:
        checkpointer.stop()
    # Without the thread (the CLI, `credguard worker`), SQLite checkpoints by itself again.
    assert autocheckpoint(engine) == 1000
    engine.dispose()


def test_without_the_thread_commits_checkpoint_by_themselves(tmp_path: Path) -> None:
    database = tmp_path / "wal.db"
    engine = create(f"sqlite:///{database}")
    fill(engine)
    assert database.stat().st_size > 1_000_000  # what the first test shows does not happen
    engine.dispose()


def test_the_thread_checkpoints_by_itself(tmp_path: Path) -> None:
    database = tmp_path / "wal.db"
    engine = create(f"sqlite:///{database}")
    checkpointer = BackgroundCheckpointer(engine, interval=0.05)
    checkpointer.start()
    try:
        fill(engine)
        deadline = time.monotonic() + 10
        while database.stat().st_size < WRITTEN:
            assert time.monotonic() < deadline, "the thread never checkpointed"
            time.sleep(0.05)
    finally:
        checkpointer.stop()
    engine.dispose()
