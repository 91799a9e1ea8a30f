"""Group commit: one thread runs the database work of concurrent requests in groups.

A plain ``def`` route costs a thread hop per request and, under load, every busy thread fights
for the GIL and for SQLite's single write lock; a burst of small transactions then stalls on
SQLite's back-off sleeps. Here the event loop queues each request's item and awaits its
future, while one thread takes everything queued so far, hands the group to ``handler`` with
one session (one transaction, one commit) and settles each future with that item's outcome.
Under no load a group is one item and nothing waits; under load groups grow by themselves,
and the per-request cost of the commit and the hop shrinks with them.

``handler`` returns one outcome per item, in order: a result, or the exception that item
alone raised (a 401 for one request must not fail its neighbours). It may commit, as its very
last step: an exception escaping ``handler`` rolls the group back, and its items are run again
one by one, so an unforeseen failure of one request still fails only that request; whatever
follows a commit must not be able to fail. Anything left uncommitted is committed here.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import structlog
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from credguard.db.engine import session_scope

log = structlog.get_logger(__name__)

Item = TypeVar("Item")
Result = TypeVar("Result")

Handler = Callable[[Session, Sequence[Item]], Sequence[Result | BaseException]]
_Queued = tuple[Item, asyncio.AbstractEventLoop, "asyncio.Future[Result]"]


class GroupCommit(Generic[Item, Result]):
    """Run items through ``handler`` on one thread, in groups of at most ``max_group``."""

    def __init__(
        self, engine: Engine, handler: Handler[Item, Result], *, max_group: int = 64, name: str
    ) -> None:
        self.engine = engine
        self.handler = handler
        self.max_group = max_group
        self.name = name
        self._queue: queue.SimpleQueue[_Queued[Item, Result] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._closed = False

    async def submit(self, item: Item) -> Result:
        """The item's outcome: its result, or the exception raised for it."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        self._ensure_running()
        self._queue.put((item, loop, future))
        return await future

    def close(self, timeout: float = 30) -> None:
        """Finish what is queued, then stop the thread; later submissions are refused."""
        with self._start_lock:
            self._closed = True
            thread = self._thread
        if thread is not None and thread.is_alive():
            self._queue.put(None)
            thread.join(timeout)

    def _ensure_running(self) -> None:
        thread = self._thread
        if thread is not None and thread.is_alive():
            return
        with self._start_lock:
            if self._closed:
                raise RuntimeError(f"{self.name} is shut down")
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group = [first]
            stop = False
            while len(group) < self.max_group:
                try:
                    queued = self._queue.get_nowait()
                except queue.Empty:
                    break
                if queued is None:
                    stop = True
                    break
                group.append(queued)
            self._run_group(group)
            if stop:
                return

    def _run_group(self, group: list[_Queued[Item, Result]]) -> None:
        """Settle every future of ``group``, whatever happens."""
        outcomes: Sequence[Result | BaseException] = []
        try:
            together = self._outcomes([item for item, _, _ in group])
            if not isinstance(together, _GroupFailed):
                outcomes = together
            elif len(group) == 1:
                outcomes = [together.error]
            else:
                # Nothing was committed: each item again, alone, so that one bad item fails
                # only its own request.
                outcomes = [self._alone(item) for item, _, _ in group]
        except BaseException as exc:  # never leave a request waiting for ever
            outcomes = [RuntimeError(f"{self.name} failed: {exc!r}") for _ in group]
            raise
        finally:
            for (_, loop, future), outcome in zip(group, outcomes, strict=False):
                with contextlib.suppress(RuntimeError):  # that request's event loop is gone
                    loop.call_soon_threadsafe(_settle, future, outcome)

    def _alone(self, item: Item) -> Result | BaseException:
        outcomes = self._outcomes([item])
        return outcomes.error if isinstance(outcomes, _GroupFailed) else outcomes[0]

    def _outcomes(self, items: list[Item]) -> Sequence[Result | BaseException] | _GroupFailed:
        try:
            with session_scope(self.engine) as session:
                outcomes = self.handler(session, items)
                if len(outcomes) != len(items):  # checked before the commit
                    raise RuntimeError(
                        f"{self.name}: {len(outcomes)} outcomes for {len(items)} items"
                    )
            return outcomes
        except Exception as exc:  # rolled back: nothing of this group was stored
            log.exception("group failed", group=self.name, size=len(items))
            return _GroupFailed(exc)


@dataclass(frozen=True)
class _GroupFailed:
    error: Exception


def _settle(future: asyncio.Future[Result], outcome: Result | BaseException) -> None:
    if future.cancelled():  # the client went away; the work is done and stays done
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
