"""Clients and users: create, look up, list, update, bootstrap; API tokens listed per user.

Every check a person can trip (short password, analyst without client, duplicate e-mail) raises a
:class:`~credguard.errors.CredGuardError` with a message that says what to do, so the CLI, the API
and the dashboard can show it as is. Functions flush; the caller's unit of work commits.
"""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from credguard.accounts.tables import ApiToken, Client, Role, User
from credguard.errors import Conflict, InvalidInput, NotFound

# OWASP's Argon2id floor: m = 19 MiB, t = 2, p = 1.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)

#: OWASP ASVS 2.1.1: at least 12 characters; no composition rules (they only make passwords worse).
MIN_PASSWORD_LENGTH = 12
#: Argon2 accepts any length; a ceiling keeps a pasted novel from costing a hash of it.
MAX_PASSWORD_LENGTH = 1024


class ClientNotFound(NotFound):
    """No client company of that name or id."""


class UserNotFound(NotFound):
    """No user with that e-mail."""


class ClientExists(Conflict):
    """A client company of that name already exists."""


class UserExists(Conflict):
    """A user with that e-mail already exists."""


class WeakPassword(InvalidInput):
    """A password shorter than :data:`MIN_PASSWORD_LENGTH`."""


class LastAdmin(Conflict):
    """The change would leave no active admin to manage the platform."""


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(password: str) -> None:
    """Refuse a password too short (or absurdly long) to be accepted."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(
            f"the password must be at least {MIN_PASSWORD_LENGTH} characters long "
            f"(got {len(password)}); a passphrase of a few words is easiest"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPassword(f"the password must be at most {MAX_PASSWORD_LENGTH} characters long")


def parse_role(value: str) -> Role:
    """The role called ``value`` (any case), or a clear error listing the roles."""
    try:
        return Role(value.strip().lower())
    except ValueError:
        roles = ", ".join(role.value for role in Role)
        raise InvalidInput(f"unknown role {value!r}; use one of {roles}") from None


def email_key(email: str) -> str:
    """How an e-mail is stored and looked up: trimmed, lower case (no validation)."""
    return email.strip().lower()


def normalise_email(email: str) -> str:
    """The e-mail as stored (trimmed, lower case), or an error if it cannot be an address."""
    email = email_key(email)
    local, _, domain = email.partition("@")
    if not local or "." not in domain or any(c.isspace() for c in email) or len(email) > 254:
        raise InvalidInput(f"{email!r} is not an e-mail address")
    return email


# --- clients -------------------------------------------------------------------------------------


def get_client(session: Session, client_id: int) -> Client | None:
    return session.get(Client, client_id)


def get_client_by_name(session: Session, name: str) -> Client | None:
    return session.scalar(select(Client).where(Client.name == name.strip()))


def get_client_or_raise(session: Session, name: str) -> Client:
    """The client company called ``name``; an error naming the command that lists them."""
    client = get_client_by_name(session, name)
    if client is None:
        raise ClientNotFound(
            f"client {name.strip()!r} does not exist; `credguard clients list` shows the clients"
        )
    return client


def list_clients(session: Session) -> list[tuple[Client, int]]:
    """Every client company by name, with how many users belong to it."""
    users = select(User.client_id, func.count().label("users")).group_by(User.client_id).subquery()
    rows = session.execute(
        select(Client, func.coalesce(users.c.users, 0))
        .outerjoin(users, users.c.client_id == Client.id)
        .order_by(Client.name)
    ).all()
    return [(client, int(count)) for client, count in rows]


def create_client(
    session: Session, name: str, *, contact_email: str | None = None, support_plan: bool = False
) -> Client:
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInput("a client name must have 1 to 200 characters")
    if get_client_by_name(session, name) is not None:
        raise ClientExists(f"client {name!r} already exists")
    client = Client(
        name=name,
        contact_email=normalise_email(contact_email) if contact_email else None,
        support_plan=support_plan,
    )
    session.add(client)
    session.flush()
    return client


def get_or_create_client(session: Session, name: str) -> Client:
    return get_client_by_name(session, name) or create_client(session, name)


# --- users ---------------------------------------------------------------------------------------


def get_user(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email_key(email)))


def get_user_or_raise(session: Session, email: str) -> User:
    user = get_user(session, email)
    if user is None:
        raise UserNotFound(
            f"user {email_key(email)} does not exist; `credguard users list` shows the users"
        )
    return user


def list_users(session: Session) -> list[tuple[User, str | None]]:
    """Every user by e-mail, with the name of their client (``None`` for staff)."""
    rows = session.execute(
        select(User, Client.name)
        .outerjoin(Client, Client.id == User.client_id)
        .order_by(User.email)
    ).all()
    return [(user, client_name) for user, client_name in rows]


def check_role_and_client(role: Role, client_id: int | None) -> None:
    """Analysts belong to exactly one client; admins and operators (staff) to none."""
    if role == Role.ANALYST and client_id is None:
        raise InvalidInput("an analyst belongs to a client company: give the client")
    if role != Role.ANALYST and client_id is not None:
        raise InvalidInput(
            f"{role.value}s are CredGuard staff and belong to no client: leave out the client"
        )


def create_user(
    session: Session,
    *,
    email: str,
    name: str,
    password: str,
    role: Role,
    client_id: int | None = None,
) -> User:
    check_role_and_client(role, client_id)
    email = normalise_email(email)
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInput("a user's name must have 1 to 200 characters")
    check_password(password)
    if get_user(session, email) is not None:
        raise UserExists(f"user {email} already exists")
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


def _other_active_admins(session: Session, user: User) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(User)
            .where(User.role == Role.ADMIN, User.is_active.is_(True), User.id != user.id)
        )
        or 0
    )


def update_user(
    session: Session,
    user: User,
    *,
    is_active: bool | None = None,
    role: Role | None = None,
    client: Client | None = None,
) -> User:
    """Enable or disable ``user``, or give them ``role`` (with ``client`` for an analyst).

    Takes effect on the user's next request: the API reads the user on every request.
    """
    if role is not None:
        check_role_and_client(role, client.id if client else None)
    elif client is not None:
        raise InvalidInput("a client is given together with the analyst role")
    stops_being_admin = user.role == Role.ADMIN and (
        is_active is False or (role is not None and role != Role.ADMIN)
    )
    if stops_being_admin and user.is_active and _other_active_admins(session, user) == 0:
        raise LastAdmin(f"{user.email} is the only active admin; make another user admin first")
    if is_active is not None:
        user.is_active = is_active
    if role is not None:
        user.role = role
        user.client_id = client.id if client else None
    session.flush()
    return user


def ensure_bootstrap_admin(session: Session, email: str) -> str | None:
    """Create the first admin if there is none; returns its one-time password, else None."""
    if session.scalar(select(User.id).where(User.role == Role.ADMIN).limit(1)) is not None:
        return None
    password = secrets.token_urlsafe(18)
    create_user(session, email=email, name="Administrator", password=password, role=Role.ADMIN)
    return password


# --- API tokens (created and checked in accounts.auth) -------------------------------------------


def list_tokens(session: Session, user: User) -> list[ApiToken]:
    """``user``'s API tokens, newest first, revoked ones included."""
    return list(
        session.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == user.id)
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        )
    )
