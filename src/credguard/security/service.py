"""Abuse controls as domain functions: login records and throttling, the IP block list.

Login throttling is per account (the submitted e-mail, whether or not it exists, so a throttled
unknown address and a throttled real one answer alike). After ``login_max_failures`` failures
within ``login_window_minutes`` with no success since, each attempt must wait
``2 ** (failures - max_failures)`` seconds after the last failure, capped at
``login_max_delay_seconds``: the delay grows while the guessing goes on, and it always ends, so
an attacker can slow an account down but never lock its owner out for good. A success resets it.

Attempts refused by the throttle check no password and are not recorded as attempts (they would
stretch the delay of the real owner); they show in the access log as 429s.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from ipaddress import ip_network

import structlog
from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from credguard.accounts import auth
from credguard.accounts import service as accounts
from credguard.accounts.tables import User
from credguard.config import Settings
from credguard.db.base import utcnow
from credguard.db.engine import session_scope
from credguard.errors import CredGuardError, InvalidInput, NotFound
from credguard.security.network import Address, Network, parse_address
from credguard.security.tables import IpBlock, LoginAttempt, LoginOutcome

log = structlog.get_logger(__name__)

#: More failures than this past the threshold already mean the maximum delay (2**16 s > 15 min).
_RECENT_ATTEMPTS = 32


class LoginThrottled(CredGuardError):
    """Too many failed logins on this account recently; ``retry_after`` seconds to wait."""

    status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__("too many failed logins for this account; try again later")
        self.retry_after = retry_after


class IpBlockNotFound(NotFound):
    """No block for that address or network."""


def login_retry_after(
    session: Session, email: str, settings: Settings, *, now: datetime | None = None
) -> int | None:
    """Seconds this account must still wait before its next login attempt, or None."""
    now = now or utcnow()
    since = now - timedelta(minutes=settings.login_window_minutes)
    # Throttled attempts never reached a password check: they neither count nor reset, so
    # knocking while throttled does not lengthen the wait (never a permanent lock).
    recent = session.execute(
        select(LoginAttempt.succeeded, LoginAttempt.created_at)
        .where(
            LoginAttempt.email == accounts.email_key(email),
            LoginAttempt.created_at >= since,
            LoginAttempt.outcome != LoginOutcome.THROTTLED,
        )
        .order_by(LoginAttempt.created_at.desc(), LoginAttempt.id.desc())
        .limit(_RECENT_ATTEMPTS)
    ).all()
    failures = 0
    for succeeded, _ in recent:
        if succeeded:
            break
        failures += 1
    if failures < settings.login_max_failures:
        return None
    delay = min(2 ** (failures - settings.login_max_failures), settings.login_max_delay_seconds)
    wait = (recent[0].created_at + timedelta(seconds=delay) - now).total_seconds()
    return math.ceil(wait) if wait > 0 else None


def record_login(session: Session, email: str, client_ip: str, outcome: LoginOutcome) -> None:
    session.add(
        LoginAttempt(
            email=accounts.email_key(email)[:254],
            client_ip=client_ip[:45],
            succeeded=outcome == LoginOutcome.SUCCEEDED,
            outcome=outcome,
        )
    )
    session.flush()


def authenticate(
    session: Session,
    engine: Engine,
    email: str,
    password: str,
    *,
    client_ip: str,
    settings: Settings,
) -> User:
    """:func:`auth.authenticate` behind the account's throttle, every attempt recorded.

    A refusal is recorded in a transaction of its own: the request's is rolled back with the
    401 or 429 it answers, and the record must outlive it.
    """
    retry_after = login_retry_after(session, email, settings)
    if retry_after is not None:
        with session_scope(engine) as audit:
            record_login(audit, email, client_ip, LoginOutcome.THROTTLED)
        raise LoginThrottled(retry_after)
    try:
        user = auth.authenticate(session, email, password)
    except auth.NotAuthenticated:
        with session_scope(engine) as audit:
            record_login(audit, email, client_ip, LoginOutcome.FAILED)
        raise
    record_login(session, email, client_ip, LoginOutcome.SUCCEEDED)
    return user


# --- IP block list ---------------------------------------------------------------------------


def _network_text(ip_or_cidr: str) -> str:
    """Canonical text of an address or network; a single address is stored without ``/32``."""
    try:
        network = ip_network(ip_or_cidr.strip(), strict=False)
    except ValueError:
        raise InvalidInput(f"{ip_or_cidr!r} is not an IP address or CIDR network") from None
    if network.num_addresses == 1:
        return str(network.network_address)
    return str(network)


def block(
    session: Session,
    ip_or_cidr: str,
    *,
    reason: str | None = None,
    expires_in: timedelta | None = None,
) -> IpBlock:
    """Block an address or network (again: replaces reason and expiry)."""
    network = _network_text(ip_or_cidr)
    expires_at = utcnow() + expires_in if expires_in is not None else None
    record = session.scalar(select(IpBlock).where(IpBlock.network == network))
    if record is None:
        record = IpBlock(network=network)
        session.add(record)
    record.reason = reason[:255] if reason else None
    record.expires_at = expires_at
    session.flush()
    return record


def unblock(session: Session, ip_or_cidr: str) -> None:
    network = _network_text(ip_or_cidr)
    record = session.scalar(select(IpBlock).where(IpBlock.network == network))
    if record is None:
        raise IpBlockNotFound(f"{network} is not blocked; `credguard security list-blocks`")
    session.delete(record)
    session.flush()


def list_blocks(session: Session, *, now: datetime | None = None) -> Sequence[IpBlock]:
    """Blocks in force (not yet expired), oldest first."""
    now = now or utcnow()
    return session.scalars(
        select(IpBlock)
        .where((IpBlock.expires_at.is_(None)) | (IpBlock.expires_at > now))
        .order_by(IpBlock.created_at, IpBlock.id)
    ).all()


@dataclass(frozen=True)
class _Block:
    network: Network
    expires_at: datetime | None


class BlockList:
    """The block list as one process sees it: re-read at most every ``ttl`` seconds.

    Checking an address costs a set lookup plus a scan of the (few) multi-address networks;
    the database is read only by :meth:`refresh`, which the caller runs off the event loop.
    """

    def __init__(
        self, engine: Engine, ttl: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.engine = engine
        self.ttl = ttl
        self._clock = clock
        self._loaded_at: float | None = None
        self._hosts: dict[Address, datetime | None] = {}
        self._networks: tuple[_Block, ...] = ()

    def stale(self) -> bool:
        return self._loaded_at is None or self._clock() - self._loaded_at >= self.ttl

    def refresh(self) -> None:
        """Re-read the blocks in force from the database."""
        try:
            with session_scope(self.engine) as session:
                rows = [(row.network, row.expires_at) for row in list_blocks(session)]
        except SQLAlchemyError as exc:  # keep the last list rather than fail every request
            log.error("cannot re-read the IP block list", error=type(exc).__name__)
            self._loaded_at = self._clock()
            return
        hosts: dict[Address, datetime | None] = {}
        networks: list[_Block] = []
        for text, expires_at in rows:
            network = ip_network(text, strict=False)
            if network.num_addresses == 1:
                hosts[network.network_address] = expires_at
            else:
                networks.append(_Block(network, expires_at))
        self._hosts, self._networks = hosts, tuple(networks)
        self._loaded_at = self._clock()

    def is_blocked(self, ip: str) -> bool:
        """Whether ``ip`` falls in a block in force (as of the last refresh)."""
        address = parse_address(ip)
        if address is None:
            return False
        now: datetime | None = None
        if address in self._hosts:
            expires_at = self._hosts[address]
            now = utcnow()
            if expires_at is None or expires_at > now:
                return True
        for entry in self._networks:
            if entry.network.version == address.version and address in entry.network:
                if entry.expires_at is None:
                    return True
                now = now or utcnow()
                if entry.expires_at > now:
                    return True
        return False
