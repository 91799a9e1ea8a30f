"""Login records and throttling, and the IP block list, on SQLite and MariaDB."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from credguard.accounts import auth
from credguard.accounts import service as accounts
from credguard.accounts.tables import Role
from credguard.config import Settings
from credguard.db.base import utcnow
from credguard.db.engine import session_scope
from credguard.errors import InvalidInput, NotFound
from credguard.security import service as security
from credguard.security.tables import IpBlock, LoginAttempt, LoginOutcome

EMAIL = "ana@loja.test"


@pytest.fixture
def throttled(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"login_max_failures": 3, "login_window_minutes": 15, "login_max_delay_seconds": 900}
    )


def _now() -> datetime:
    return utcnow().replace(microsecond=0)  # whole seconds: the delays below come out exact


def _attempts(engine: Engine, *outcomes: tuple[datetime, bool], email: str = EMAIL) -> None:
    with session_scope(engine) as session:
        for when, succeeded in outcomes:
            session.add(
                LoginAttempt(
                    email=email,
                    client_ip="198.51.100.9",
                    succeeded=succeeded,
                    outcome=LoginOutcome.SUCCEEDED if succeeded else LoginOutcome.FAILED,
                    created_at=when,
                )
            )


def _retry(engine: Engine, settings: Settings, now: datetime, email: str = EMAIL) -> int | None:
    with session_scope(engine) as session:
        return security.login_retry_after(session, email, settings, now=now)


def test_delay_starts_after_the_threshold_and_doubles(engine: Engine, throttled: Settings) -> None:
    start = _now() - timedelta(minutes=5)
    _attempts(engine, (start, False), (start + timedelta(seconds=1), False))
    assert _retry(engine, throttled, start + timedelta(seconds=1)) is None  # 2 < 3 failures

    delays = []
    for n in range(3, 8):  # failures 3..7, each one second after the previous wait ended
        last = start + timedelta(seconds=10 * n)
        _attempts(engine, (last, False))
        delays.append(_retry(engine, throttled, last))
        assert _retry(engine, throttled, last + timedelta(seconds=2 ** (n - 3))) is None
    assert delays == [1, 2, 4, 8, 16]
    # The e-mail is matched as login normalises it.
    assert _retry(engine, throttled, start + timedelta(seconds=70), email=" ANA@Loja.test ") == 16


def test_delay_is_capped_and_never_permanent(engine: Engine, throttled: Settings) -> None:
    now = _now()
    _attempts(engine, *[(now - timedelta(seconds=60 - i), False) for i in range(20)])
    last = now - timedelta(seconds=41)
    assert _retry(engine, throttled, last) == 900
    assert _retry(engine, throttled, last + timedelta(seconds=900)) is None


def test_success_resets_and_old_failures_expire(engine: Engine, throttled: Settings) -> None:
    now = _now()
    _attempts(engine, *[(now - timedelta(seconds=30 - i), False) for i in range(4)])
    assert _retry(engine, throttled, now - timedelta(seconds=27)) == 2
    _attempts(engine, (now - timedelta(seconds=20), True))
    assert _retry(engine, throttled, now - timedelta(seconds=20)) is None
    _attempts(engine, *[(now - timedelta(seconds=10 - i), False) for i in range(2)])
    assert _retry(engine, throttled, now - timedelta(seconds=9)) is None  # 2 since the success

    old = _now() - timedelta(minutes=16)
    _attempts(engine, *[(old + timedelta(seconds=i), False) for i in range(6)], email="b@x.test")
    assert _retry(engine, throttled, _now(), email="b@x.test") is None  # outside the window


def test_authenticate_records_every_attempt(
    engine: Engine, throttled: Settings, client_id: int
) -> None:
    with session_scope(engine) as session:
        accounts.create_user(
            session,
            email=EMAIL,
            name="Ana",
            password="s3cret-passphrase",
            role=Role.ANALYST,
            client_id=client_id,
        )
    for email, password in [(EMAIL, "wrong"), ("nobody@loja.test", "wrong")]:
        with pytest.raises(auth.NotAuthenticated), session_scope(engine) as session:
            security.authenticate(
                session, engine, email, password, client_ip="198.51.100.9", settings=throttled
            )
    with session_scope(engine) as session:
        user = security.authenticate(
            session,
            engine,
            EMAIL.upper(),
            "s3cret-passphrase",
            client_ip="2001:db8::1",
            settings=throttled,
        )
        assert user.email == EMAIL
    with session_scope(engine) as session:
        rows = session.execute(
            select(
                LoginAttempt.email,
                LoginAttempt.client_ip,
                LoginAttempt.succeeded,
                LoginAttempt.outcome,
            ).order_by(LoginAttempt.id)
        ).all()
    assert [tuple(row) for row in rows] == [
        (EMAIL, "198.51.100.9", False, "failed"),
        ("nobody@loja.test", "198.51.100.9", False, "failed"),
        (EMAIL, "2001:db8::1", True, "succeeded"),
    ]


def test_attempt_times_keep_microseconds_so_the_wait_is_never_cut_short(
    engine: Engine, throttled: Settings
) -> None:
    """A failure late in its second still means a full 1 s wait (MariaDB: DATETIME(6))."""
    second = _now() - timedelta(minutes=1)
    last = second + timedelta(microseconds=990_000)
    _attempts(engine, (second, False), (second, False), (last, False))  # 3 failures: 1 s
    with session_scope(engine) as session:
        stored = session.scalar(
            select(LoginAttempt.created_at).order_by(LoginAttempt.id.desc()).limit(1)
        )
    assert stored == last  # truncated to the second, the wait below would already be over
    assert _retry(engine, throttled, last + timedelta(milliseconds=20)) == 1
    assert _retry(engine, throttled, last + timedelta(milliseconds=999)) == 1
    assert _retry(engine, throttled, last + timedelta(seconds=1)) is None


def test_throttled_attempts_are_recorded_and_never_lengthen_the_wait(
    engine: Engine, throttled: Settings
) -> None:
    now = _now()
    _attempts(engine, *[(now, False)] * 6)  # 6 failures: an 8 s wait
    waits = []
    for _ in range(4):
        with pytest.raises(security.LoginThrottled) as refused, session_scope(engine) as session:
            security.authenticate(
                session, engine, EMAIL, "anything", client_ip="203.0.113.7", settings=throttled
            )
        waits.append(refused.value.retry_after)
    assert all(0 < wait <= 8 for wait in waits) and waits == sorted(waits, reverse=True)
    with session_scope(engine) as session:
        recorded = session.execute(
            select(LoginAttempt.client_ip, LoginAttempt.outcome).where(
                LoginAttempt.outcome == LoginOutcome.THROTTLED
            )
        ).all()
    assert [tuple(row) for row in recorded] == [("203.0.113.7", "throttled")] * 4


def test_throttled_login_is_refused_before_the_password_is_checked(
    engine: Engine, throttled: Settings
) -> None:
    now = utcnow()
    _attempts(engine, *[(now, False)] * 3, email="ghost@loja.test")
    with pytest.raises(security.LoginThrottled) as refused, session_scope(engine) as session:
        security.authenticate(
            session, engine, "ghost@loja.test", "x", client_ip="1.2.3.4", settings=throttled
        )
    assert refused.value.status == 429 and refused.value.retry_after == 1
    with session_scope(engine) as session:  # recorded as throttled, not as a failure
        outcomes = session.scalars(select(LoginAttempt.outcome).order_by(LoginAttempt.id)).all()
    assert outcomes == ["failed"] * 3 + ["throttled"]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_block_list_cache_and_matching(engine: Engine) -> None:
    clock = Clock()
    blocks = security.BlockList(engine, ttl=5, clock=clock)
    blocks.refresh()
    assert not blocks.is_blocked("203.0.113.7")

    with session_scope(engine) as session:
        security.block(session, "203.0.113.7/32", reason="scanner")
        security.block(session, "198.51.100.0/24", expires_in=timedelta(hours=1))
        security.block(session, "2001:db8::/32")
        security.block(session, "192.0.2.1", expires_in=timedelta(seconds=-1))  # already over
    assert not blocks.is_blocked("203.0.113.7")  # the cached copy is still the old one
    clock.now = 4.9
    assert not blocks.stale()
    clock.now = 5.0
    assert blocks.stale()
    blocks.refresh()
    assert blocks.is_blocked("203.0.113.7")
    assert blocks.is_blocked("::ffff:203.0.113.7")
    assert blocks.is_blocked("198.51.100.200")
    assert blocks.is_blocked("2001:db8::42")
    assert not blocks.is_blocked("192.0.2.1")
    assert not blocks.is_blocked("198.51.101.1")
    assert not blocks.is_blocked("not-an-address")

    with session_scope(engine) as session:
        assert [b.network for b in security.list_blocks(session)] == [
            "203.0.113.7",
            "198.51.100.0/24",
            "2001:db8::/32",
        ]
        security.block(session, "203.0.113.7", reason="again")  # replaces, does not duplicate
        assert session.scalar(select(IpBlock.reason).where(IpBlock.network == "203.0.113.7")) == (
            "again"
        )
        security.unblock(session, "203.0.113.7")
        with pytest.raises(NotFound):
            security.unblock(session, "203.0.113.7")
        with pytest.raises(InvalidInput):
            security.block(session, "300.1.1.1")
