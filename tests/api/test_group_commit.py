"""Group commit: concurrent requests share a thread and a transaction, never each other's fate."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from credguard.accounts import service as accounts
from credguard.accounts.tables import Client
from credguard.api.group_commit import GroupCommit
from credguard.db.engine import session_scope
from credguard.errors import InvalidInput


class Recorder:
    """A handler that creates one client per item, refuses names starting with "bad"."""

    def __init__(self, *, first_group_waits: threading.Event | None = None) -> None:
        self.groups: list[list[str]] = []
        self.first_group_waits = first_group_waits
        self.waiting = threading.Event()  #: the first group is held

    def __call__(self, session: Session, names: Sequence[str]) -> list[int | BaseException]:
        if not self.groups and self.first_group_waits is not None:
            self.waiting.set()
            self.first_group_waits.wait(30)
        self.groups.append(list(names))
        outcomes: list[int | BaseException] = []
        for name in names:
            if name.startswith("bad"):
                outcomes.append(InvalidInput(f"{name} refused"))
            else:
                outcomes.append(accounts.create_client(session, name).id)
        if "crash" in names:
            raise RuntimeError("the database went away")
        return outcomes


def client_names(engine: Engine) -> set[str]:
    with session_scope(engine) as session:
        return set(session.scalars(select(Client.name)))


def test_concurrent_items_are_grouped_and_each_gets_its_own_outcome(engine: Engine) -> None:
    release = threading.Event()
    handler = Recorder(first_group_waits=release)
    committer: GroupCommit[str, int] = GroupCommit(engine, handler, name="test-group")
    names = ["first", *(f"loja {i}" for i in range(10)), "bad one", "bad two"]

    async def scenario() -> list[int | BaseException]:
        first = asyncio.create_task(committer.submit(names[0]))
        assert await asyncio.to_thread(handler.waiting.wait, 30)  # the thread holds "first"
        rest = [asyncio.create_task(committer.submit(name)) for name in names[1:]]
        await asyncio.sleep(0.05)
        release.set()
        return await asyncio.gather(first, *rest, return_exceptions=True)

    try:
        outcomes = asyncio.run(scenario())
    finally:
        committer.close()

    assert handler.groups[0] == ["first"]
    assert handler.groups[1] == names[1:], "everything queued meanwhile went as one group"
    ids = {name: outcome for name, outcome in zip(names, outcomes, strict=True)}
    assert [str(ids["bad one"]), str(ids["bad two"])] == ["bad one refused", "bad two refused"]
    with session_scope(engine) as session:
        stored = {c.name: c.id for c in session.scalars(select(Client))}
    assert {name: ids[name] for name in names if not name.startswith("bad")} == stored


def test_an_unforeseen_failure_fails_only_its_own_item(engine: Engine) -> None:
    release = threading.Event()
    handler = Recorder(first_group_waits=release)
    committer: GroupCommit[str, int] = GroupCommit(engine, handler, name="test-group")

    async def scenario() -> list[int | BaseException]:
        first = asyncio.create_task(committer.submit("first"))
        assert await asyncio.to_thread(handler.waiting.wait, 30)
        rest = [asyncio.create_task(committer.submit(name)) for name in ("a", "crash", "b")]
        await asyncio.sleep(0.05)
        release.set()
        return await asyncio.gather(first, *rest, return_exceptions=True)

    try:
        first, a, crash, b = asyncio.run(scenario())
        # The group ["a", "crash", "b"] failed and was rolled back, then ran item by item.
        assert handler.groups[1] == ["a", "crash", "b"]
        assert handler.groups[2:] == [["a"], ["crash"], ["b"]]
        assert isinstance(crash, RuntimeError)
        assert all(isinstance(outcome, int) for outcome in (first, a, b))
        # The thread survives.
        assert isinstance(asyncio.run(committer.submit("after")), int)
    finally:
        committer.close()
    assert client_names(engine) == {"first", "a", "b", "after"}


def test_close_finishes_what_was_queued(engine: Engine) -> None:
    handler = Recorder()
    committer: GroupCommit[str, int] = GroupCommit(engine, handler, name="test-group")

    async def scenario() -> int:
        return await committer.submit("queued")

    assert isinstance(asyncio.run(scenario()), int)
    committer.close()
    assert committer._thread is not None and not committer._thread.is_alive()
    assert client_names(engine) == {"queued"}
    with pytest.raises(RuntimeError, match="shut down"):
        asyncio.run(scenario())


@pytest.mark.parametrize("wrong_count", [0, 2])
def test_a_handler_answering_the_wrong_number_of_outcomes_fails_the_group(
    engine: Engine, wrong_count: int
) -> None:
    def miscounting(session: Session, names: Sequence[str]) -> list[int]:
        return [1] * wrong_count

    committer: GroupCommit[str, int] = GroupCommit(engine, miscounting, name="test-group")
    try:
        with pytest.raises(RuntimeError, match="outcomes for 1 items"):
            asyncio.run(committer.submit("x"))
    finally:
        committer.close()
