"""The ASGI middleware in front of every route: who is calling, may they, and what happened.

For each HTTP request, in order: the client address is worked out (``X-Forwarded-For`` only from
trusted proxies) and left on ``request.state.client_ip``; a blocked address is answered 403; an
``/api/v1`` request over its identity's rate limit is answered 429 with ``Retry-After``; then the
request runs, and its line goes to ``access.log`` and its latency to the metrics. Nothing here
reads the database on the request path: the block list is a cached copy, the counters live in
memory or Redis.
"""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import UTC, datetime
from typing import Annotated

import anyio
from fastapi import Depends, FastAPI, Request
from sqlalchemy import Engine
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from credguard import logs, metrics
from credguard.api.errors import problem
from credguard.config import Settings
from credguard.security import ratelimit
from credguard.security.network import Network, client_ip, parse_networks
from credguard.security.service import BlockList

RATE_LIMITED_PREFIX = "/api/v1/"


class AbuseControlMiddleware:
    """Client address, block list, rate limit, access log line and request metrics."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        proxies: tuple[Network, ...],
        blocks: BlockList,
        limiter: ratelimit.RateLimiter | None,
        access_log: logging.Logger,
    ) -> None:
        self.app = app
        self.proxies = proxies
        self.blocks = blocks
        self.limiter = limiter
        self.access_log = access_log
        self._refreshing = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, self._closing_on_shutdown(send))
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = Headers(scope=scope)
        peer = scope["client"][0] if scope.get("client") else None
        ip = client_ip(peer, headers.get("x-forwarded-for"), self.proxies)
        scope.setdefault("state", {})["client_ip"] = ip
        status = 500  # what the client gets if the app fails before answering
        sent = 0

        async def observed_send(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            refusal = await self._refusal(scope, headers, ip)
            if refusal is None:
                await self.app(scope, receive, observed_send)
            else:
                await refusal(scope, receive, observed_send)
        finally:
            route = getattr(scope.get("route"), "path", None) or metrics.UNMATCHED_ROUTE
            metrics.observe_request(scope["method"], route, status, time.perf_counter() - started)
            self.access_log.info(access_line(scope, headers, ip, status, sent))

    async def _refusal(self, scope: Scope, headers: Headers, ip: str) -> ASGIApp | None:
        if self.blocks.stale() and not self._refreshing:
            self._refreshing = True
            try:
                await anyio.to_thread.run_sync(self.blocks.refresh)
            finally:
                self._refreshing = False
        if self.blocks.is_blocked(ip):
            return problem(403, "requests from this address are blocked")
        if self.limiter is not None and scope["path"].startswith(RATE_LIMITED_PREFIX):
            retry_after = await self.limiter.hit(_identity(headers, ip))
            if retry_after is not None:
                return problem(
                    429,
                    "rate limit exceeded; slow down",
                    headers={"Retry-After": str(retry_after)},
                )
        return None

    def _closing_on_shutdown(self, send: Send) -> Send:
        async def closing_send(message: Message) -> None:
            if message["type"] == "lifespan.shutdown.complete" and self.limiter is not None:
                await self.limiter.close()
            await send(message)

        return closing_send


def _identity(headers: Headers, ip: str) -> str:
    """Whom a request counts against: its bearer token (hashed) if it has one, else its IP."""
    authorization = headers.get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return "token:" + hashlib.sha256(token.strip().encode()).hexdigest()[:32]
    return "ip:" + ip


def _quoted(text: str) -> str:
    """Safe inside a double-quoted access-log field: no quotes or control characters raw."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in escaped)


def access_line(scope: Scope, headers: Headers, ip: str, status: int, sent: int) -> str:
    """One request in Apache's combined format, CPF-like digit runs masked.

    ``%h - %u [%d/%b/%Y:%H:%M:%S %z] "%r" %s %b "%{Referer}i" "%{User-agent}i"``; the user is
    ``-`` (resolving it would cost a database read). Query strings are logged: nothing sensitive
    may travel in one (credentials go in headers, customer data in bodies, which are never logged).
    """
    raw_path = scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else scope["path"]
    query = scope.get("query_string", b"").decode("latin-1")
    target = f"{path}?{query}" if query else path
    request_line = f"{scope['method']} {target} HTTP/{scope.get('http_version', '1.1')}"
    when = datetime.now(UTC).strftime("%d/%b/%Y:%H:%M:%S %z")
    line = (
        f'{ip} - - [{when}] "{_quoted(request_line)}" {status} {sent or "-"} '
        f'"{_quoted(headers.get("referer", "-"))}" "{_quoted(headers.get("user-agent", "-"))}"'
    )
    return logs.mask_cpf(line)


async def client_ip_of(request: Request) -> str:
    """The calling client's address as the middleware worked it out."""
    address = getattr(request.state, "client_ip", None)
    if isinstance(address, str):
        return address
    return request.client.host if request.client else "unknown"


ClientIp = Annotated[str, Depends(client_ip_of)]


def install(app: FastAPI, settings: Settings, engine: Engine) -> None:
    """Put the middleware in front of ``app`` with the block list loaded once up front."""
    blocks = BlockList(engine, settings.ip_block_cache_seconds)
    blocks.refresh()
    limiter = None
    if settings.rate_limit_per_minute > 0:
        limiter = ratelimit.create(
            settings.rate_limit_per_minute, settings.redis_url, settings.redis_key_prefix
        )
    app.add_middleware(
        AbuseControlMiddleware,
        proxies=parse_networks(settings.trusted_proxies),
        blocks=blocks,
        limiter=limiter,
        access_log=logs.access_logger(settings.resolved_log_dir),
    )
