"""Fixed-window rate limits, in memory and in the real Redis on 127.0.0.1:6379."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
import redis
from redis.asyncio import Redis

from credguard.security.ratelimit import MemoryRateLimiter, RedisRateLimiter

REDIS_URL = "redis://127.0.0.1:6379/0"


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def prefix() -> Iterator[str]:
    """A key prefix of this test's own, its keys deleted afterwards."""
    value = f"credguard-test-{uuid.uuid4().hex}:"
    yield value
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{value}*"))
    if keys:
        client.delete(*keys)
    client.close()


def test_memory_limit_and_retry_after() -> None:
    clock = Clock(1_000_020.0)
    window_end = (clock.now // 60 + 1) * 60
    limiter = MemoryRateLimiter(3, clock=clock)

    async def run() -> None:
        assert [await limiter.hit("token:a") for _ in range(3)] == [None, None, None]
        assert await limiter.hit("token:a") == int(window_end - clock.now)
        assert await limiter.hit("token:b") is None  # another identity has its own count
        clock.now = window_end  # the next window starts afresh
        assert await limiter.hit("token:a") is None

    asyncio.run(run())


def test_redis_limit_is_shared_between_instances(prefix: str) -> None:
    clock = Clock(2_000_010.0)

    async def run() -> None:
        first = RedisRateLimiter(Redis.from_url(REDIS_URL), 4, prefix=prefix, clock=clock)
        second = RedisRateLimiter(Redis.from_url(REDIS_URL), 4, prefix=prefix, clock=clock)
        try:
            assert [await first.hit("ip:1.2.3.4") for _ in range(2)] == [None, None]
            assert [await second.hit("ip:1.2.3.4") for _ in range(2)] == [None, None]
            retry = await first.hit("ip:1.2.3.4")
            assert retry is not None and 1 <= retry <= 60
            assert await second.hit("ip:5.6.7.8") is None
            ttl = await first.client.ttl(f"{prefix}ratelimit:{int(clock.now // 60)}:ip:1.2.3.4")
            assert 0 < ttl <= 61  # counters expire with their window
        finally:
            await first.close()
            await second.close()

    asyncio.run(run())


def test_redis_down_lets_requests_through(prefix: str) -> None:
    async def run() -> None:
        client = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
        limiter = RedisRateLimiter(client, 1, prefix=prefix)
        try:
            assert [await limiter.hit("ip:1.2.3.4") for _ in range(3)] == [None, None, None]
        finally:
            await limiter.close()

    asyncio.run(run())
