"""Clients and users: create, look up, bootstrap."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session

from credguard.accounts.tables import Client, Role, User
from credguard.errors import Conflict, InvalidInput

# OWASP's Argon2id floor: m = 19 MiB, t = 2, p = 1.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def get_client_by_name(session: Session, name: str) -> Client | None:
    return session.scalar(select(Client).where(Client.name == name))


def create_client(
    session: Session, name: str, *, contact_email: str | None = None, support_plan: bool = False
) -> Client:
    if get_client_by_name(session, name) is not None:
        raise Conflict(f"client {name!r} already exists")
    client = Client(name=name, contact_email=contact_email, support_plan=support_plan)
    session.add(client)
    session.flush()
    return client


def get_or_create_client(session: Session, name: str) -> Client:
    return get_client_by_name(session, name) or create_client(session, name)


def create_user(
    session: Session,
    *,
    email: str,
    name: str,
    password: str,
    role: Role,
    client_id: int | None = None,
) -> User:
    if role == Role.ANALYST and client_id is None:
        raise InvalidInput("an analyst belongs to a client: give the client")
    if role != Role.ANALYST and client_id is not None:
        raise InvalidInput("admins and operators are CredGuard staff and belong to no client")
    email = email.strip().lower()
    if session.scalar(select(User).where(User.email == email)) is not None:
        raise Conflict(f"user {email} already exists")
    user = User(
        email=email,
        name=name,
        password_hash=hash_password(password),
        role=role,
        client_id=client_id,
        is_active=True,
    )
    session.add(user)
    session.flush()
    return user


def ensure_bootstrap_admin(session: Session, email: str) -> str | None:
    """Create the first admin if there is none; returns its one-time password, else None."""
    if session.scalar(select(User.id).where(User.role == Role.ADMIN).limit(1)) is not None:
        return None
    password = secrets.token_urlsafe(18)
    create_user(session, email=email, name="Administrator", password=password, role=Role.ADMIN)
    return password
