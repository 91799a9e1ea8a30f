"""API rate limits: fixed one-minute windows counted per identity (a token, or an IP address).

A fixed window is O(1) per request: one dictionary update in memory, or one pipelined
``INCR``+``EXPIRE`` round trip in Redis, which several instances share. A client can at worst
send twice the limit across a window boundary, which is acceptable for abuse control.

If Redis is unreachable the limiter lets requests through and logs a warning once a window:
rate limiting protects the service, so it must never be the reason the service is down.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Protocol

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

log = structlog.get_logger(__name__)

WINDOW_SECONDS = 60


class RateLimiter(Protocol):
    async def hit(self, identity: str) -> int | None:
        """Count one request; None if allowed, else the seconds to wait (``Retry-After``)."""
        ...

    async def close(self) -> None: ...


def _retry_after(window: int, now: float, window_seconds: int) -> int:
    return max(1, math.ceil((window + 1) * window_seconds - now))


class MemoryRateLimiter:
    """Counters of one process, forgotten when the window rolls over."""

    def __init__(
        self,
        limit: int,
        *,
        window_seconds: int = WINDOW_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self._clock = clock
        self._window = -1
        self._counts: dict[str, int] = {}

    async def hit(self, identity: str) -> int | None:
        # No await inside: on the event loop this read-modify-write cannot interleave.
        now = self._clock()
        window = int(now // self.window_seconds)
        if window != self._window:
            self._window = window
            self._counts.clear()
        count = self._counts.get(identity, 0) + 1
        self._counts[identity] = count
        if count > self.limit:
            return _retry_after(window, now, self.window_seconds)
        return None

    async def close(self) -> None:
        self._counts.clear()


class RedisRateLimiter:
    """Counters shared by every instance using the same Redis and key prefix."""

    def __init__(
        self,
        client: Redis,
        limit: int,
        *,
        prefix: str,
        window_seconds: int = WINDOW_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.limit = limit
        self.prefix = prefix
        self.window_seconds = window_seconds
        self._clock = clock
        self._warned_window = -1

    async def hit(self, identity: str) -> int | None:
        now = self._clock()
        window = int(now // self.window_seconds)
        key = f"{self.prefix}ratelimit:{window}:{identity}"
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.incr(key)
            pipe.expire(key, self.window_seconds + 1)
            count, _ = await pipe.execute()
        except (RedisError, OSError) as exc:
            if window != self._warned_window:
                self._warned_window = window
                log.warning("rate limiting suspended: Redis unavailable", error=type(exc).__name__)
            return None
        if int(count) > self.limit:
            return _retry_after(window, now, self.window_seconds)
        return None

    async def close(self) -> None:
        await self.client.aclose()


def create(limit: int, redis_url: str, prefix: str) -> RateLimiter:
    """The limiter the settings ask for: Redis when a URL is given, else this process's memory."""
    if redis_url:
        client = Redis.from_url(redis_url, socket_timeout=0.5, socket_connect_timeout=0.5)
        return RedisRateLimiter(client, limit, prefix=prefix)
    return MemoryRateLimiter(limit)
