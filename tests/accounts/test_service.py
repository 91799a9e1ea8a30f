"""Accounts: clients, users, roles and API tokens, on SQLite and MariaDB.

What a user may do is read from the database on every request: these tests check that through
``auth.principal_for_bearer``, the function every API request goes through.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, update

from credguard.accounts import auth
from credguard.accounts import service as accounts
from credguard.accounts.tables import ApiToken, Role
from credguard.config import Settings
from credguard.db.engine import session_scope
from credguard.errors import InvalidInput

PASSWORD = "correct horse battery staple"


def make_user(
    engine: Engine, email: str, role: Role = Role.OPERATOR, client_id: int | None = None
) -> int:
    with session_scope(engine) as session:
        return accounts.create_user(
            session, email=email, name="Someone", password=PASSWORD, role=role, client_id=client_id
        ).id


def make_client(engine: Engine, name: str = "Loja Norte") -> int:
    with session_scope(engine) as session:
        return accounts.create_client(session, name, support_plan=True).id


def bearer(engine: Engine, settings: Settings, token: str) -> auth.Principal:
    with session_scope(engine) as session:
        return auth.principal_for_bearer(session, token, settings)


def api_token(engine: Engine, email: str, name: str = "erp") -> tuple[str, int]:
    with session_scope(engine) as session:
        plain, record = auth.create_api_token(
            session, accounts.get_user_or_raise(session, email), name
        )
        return plain, record.id


def test_roles_and_clients(engine: Engine) -> None:
    client_id = make_client(engine)
    make_user(engine, "adm@credguard.test", Role.ADMIN)
    make_user(engine, "op@credguard.test", Role.OPERATOR)
    make_user(engine, "Ana@Loja.Test ", Role.ANALYST, client_id)
    with session_scope(engine) as session:
        listed = {user.email: (user.role, name) for user, name in accounts.list_users(session)}
        ((client, users),) = accounts.list_clients(session)
    assert listed == {
        "adm@credguard.test": ("admin", None),
        "ana@loja.test": ("analyst", "Loja Norte"),
        "op@credguard.test": ("operator", None),
    }
    assert client.support_plan and users == 1

    with pytest.raises(InvalidInput, match="an analyst belongs to a client"):
        make_user(engine, "x@loja.test", Role.ANALYST)
    with pytest.raises(InvalidInput, match="operators are CredGuard staff"):
        make_user(engine, "y@credguard.test", Role.OPERATOR, client_id)
    with pytest.raises(accounts.UserExists, match=r"user ana@loja\.test already exists"):
        make_user(engine, "ANA@loja.test", Role.ANALYST, client_id)
    with pytest.raises(accounts.ClientExists):
        make_client(engine, " Loja Norte ")
    with (
        session_scope(engine) as session,
        pytest.raises(accounts.WeakPassword, match="at least 12"),
    ):
        accounts.create_user(
            session, email="z@credguard.test", name="Z", password="eleven char", role=Role.ADMIN
        )
    with pytest.raises(InvalidInput, match="unknown role 'boss'"):
        accounts.parse_role("boss")
    assert accounts.parse_role(" Analyst") is Role.ANALYST


def test_a_disabled_user_is_refused_on_the_next_request(engine: Engine, settings: Settings) -> None:
    make_user(engine, "op@credguard.test")
    plain, _ = api_token(engine, "op@credguard.test")
    with session_scope(engine) as session:
        access = auth.issue_access_token(
            accounts.get_user_or_raise(session, "op@credguard.test"), settings
        )
    assert bearer(engine, settings, plain).email == "op@credguard.test"
    assert bearer(engine, settings, access).email == "op@credguard.test"

    with session_scope(engine) as session:
        accounts.update_user(
            session, accounts.get_user_or_raise(session, "op@credguard.test"), is_active=False
        )
    for token in (plain, access):
        with pytest.raises(auth.NotAuthenticated):
            bearer(engine, settings, token)
    with session_scope(engine) as session, pytest.raises(InvalidInput, match="is disabled"):
        auth.create_api_token(
            session, accounts.get_user_or_raise(session, "op@credguard.test"), "x"
        )

    with session_scope(engine) as session:
        accounts.update_user(
            session, accounts.get_user_or_raise(session, "op@credguard.test"), is_active=True
        )
    assert bearer(engine, settings, plain).email == "op@credguard.test"


def test_a_role_change_applies_to_existing_tokens(engine: Engine, settings: Settings) -> None:
    client_id = make_client(engine)
    make_user(engine, "ana@loja.test", Role.ANALYST, client_id)
    plain, _ = api_token(engine, "ana@loja.test")
    with session_scope(engine) as session:
        user = accounts.get_user_or_raise(session, "ana@loja.test")
        with pytest.raises(InvalidInput, match="belong to no client"):
            accounts.update_user(
                session, user, role=Role.OPERATOR, client=accounts.get_client(session, client_id)
            )
        accounts.update_user(session, user, role=Role.OPERATOR)
    seen = bearer(engine, settings, plain)
    assert (seen.role, seen.client_id) == (Role.OPERATOR, None)


def test_the_last_active_admin_stays(engine: Engine) -> None:
    make_user(engine, "adm@credguard.test", Role.ADMIN)
    with session_scope(engine) as session:
        admin = accounts.get_user_or_raise(session, "adm@credguard.test")
        with pytest.raises(accounts.LastAdmin):
            accounts.update_user(session, admin, is_active=False)
        with pytest.raises(accounts.LastAdmin):
            accounts.update_user(session, admin, role=Role.OPERATOR)
    make_user(engine, "adm2@credguard.test", Role.ADMIN)
    with session_scope(engine) as session:
        accounts.update_user(
            session, accounts.get_user_or_raise(session, "adm@credguard.test"), is_active=False
        )


def test_api_tokens_revoked_and_last_used(engine: Engine, settings: Settings) -> None:
    make_user(engine, "op@credguard.test")
    plain, token_id = api_token(engine, "op@credguard.test", " erp ")
    kept, _ = api_token(engine, "op@credguard.test", "bi")
    assert plain.startswith(auth.API_TOKEN_PREFIX) and plain != kept
    with session_scope(engine) as session:
        record = session.get(ApiToken, token_id)
        assert record is not None and record.last_used_at is None and record.name == "erp"
        assert record.token_hash != plain and plain not in record.token_hash

    def last_used() -> datetime | None:
        with session_scope(engine) as session:
            record = session.get(ApiToken, token_id)
            assert record is not None
            return record.last_used_at

    bearer(engine, settings, plain)
    first_use = last_used()
    assert first_use is not None
    bearer(engine, settings, plain)
    assert last_used() == first_use  # kept to the minute: no write on every request
    with session_scope(engine) as session:
        session.execute(
            update(ApiToken)
            .where(ApiToken.id == token_id)
            .values(last_used_at=first_use - timedelta(minutes=5))
        )
    bearer(engine, settings, plain)
    latest = last_used()
    assert latest is not None and latest >= first_use - timedelta(seconds=1)

    with session_scope(engine) as session:
        assert auth.revoke_api_token(session, token_id).revoked_at is not None
    with pytest.raises(auth.NotAuthenticated):
        bearer(engine, settings, plain)
    assert bearer(engine, settings, kept).email == "op@credguard.test"  # the other one still works
    with pytest.raises(auth.NotAuthenticated):
        bearer(engine, settings, plain[:-1] + ("A" if plain[-1] != "A" else "B"))
    with session_scope(engine) as session:
        with pytest.raises(auth.ApiTokenNotFound):
            auth.revoke_api_token(session, 99_999)
        tokens = accounts.list_tokens(
            session, accounts.get_user_or_raise(session, "op@credguard.test")
        )
    assert {t.name: t.revoked_at is not None for t in tokens} == {"erp": True, "bi": False}


def test_a_refused_token_is_not_marked_used(engine: Engine, settings: Settings) -> None:
    """Even when the refusal is caught and the transaction commits (as online scoring does)."""
    make_user(engine, "op@credguard.test")
    plain, token_id = api_token(engine, "op@credguard.test")
    with session_scope(engine) as session:
        accounts.update_user(
            session, accounts.get_user_or_raise(session, "op@credguard.test"), is_active=False
        )
    with session_scope(engine) as session, pytest.raises(auth.NotAuthenticated):
        auth.principal_for_bearer(session, plain, settings)
    with session_scope(engine) as session:
        record = session.get(ApiToken, token_id)
        assert record is not None and record.last_used_at is None
