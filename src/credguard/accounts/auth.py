"""Who is asking: password checks, short-lived access tokens (JWT), long-lived API tokens.

Tokens only say *who*; what a user may do is read from the database on every request, so
disabling a user or changing a role takes effect on the next request, not at token expiry.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from credguard.accounts import service as accounts
from credguard.accounts.service import hash_password
from credguard.accounts.tables import ApiToken, User
from credguard.config import Settings
from credguard.db.base import utcnow
from credguard.errors import CredGuardError, InvalidInput, NotFound
from credguard.security import keys

JWT_ALGORITHM = "HS256"
API_TOKEN_PREFIX = "cg_"
LAST_USED_RESOLUTION = timedelta(minutes=1)
_verifier = PasswordHasher()
# Verified against when the account does not exist, so both failures cost the same time.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


class NotAuthenticated(CredGuardError):
    """Missing, invalid or expired credentials; the message never says which part was wrong."""

    status = 401


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _verifier.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def authenticate(session: Session, email: str, password: str) -> User:
    """The active user with these credentials; unknown user and wrong password look the same."""
    user = accounts.get_user(session, email)
    valid = verify_password(user.password_hash if user else _DUMMY_HASH, password)
    if user is None or not valid or not user.is_active:
        raise NotAuthenticated("invalid e-mail or password")
    user.last_login_at = utcnow()
    return user


def secret_key(settings: Settings) -> str:
    """The token-signing key: configured, or in development one kept (0600) in the data dir."""
    return keys.configured_or_kept(
        settings, settings.secret_key, variable="CREDGUARD_SECRET_KEY", file_name="secret.key"
    )


def issue_access_token(user: User, settings: Settings) -> str:
    now = utcnow()
    claims = {
        "sub": str(user.id),
        "iat": now,
        "exp": now + timedelta(minutes=settings.access_token_minutes),
        "typ": "access",
    }
    return jwt.encode(claims, secret_key(settings), algorithm=JWT_ALGORITHM)


def _user_id_from_access_token(token: str, settings: Settings) -> int | None:
    try:
        claims = jwt.decode(
            token,
            secret_key(settings),
            algorithms=[JWT_ALGORITHM],
            options={"require": ["exp", "iat", "sub"]},
        )
    except jwt.PyJWTError:
        return None
    subject = str(claims["sub"])
    if claims.get("typ") != "access" or not (subject.isascii() and subject.isdigit()):
        return None
    return int(subject)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_token(session: Session, user: User, name: str) -> tuple[str, ApiToken]:
    """A new API token for ``user``; the plain token is returned once and never stored."""
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInput("an API token's name must have 1 to 100 characters")
    if not user.is_active:
        raise InvalidInput(f"user {user.email} is disabled; enable them before issuing a token")
    plain = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = ApiToken(user_id=user.id, name=name, token_hash=_digest(plain), prefix=plain[:10])
    session.add(record)
    session.flush()
    return plain, record


class ApiTokenNotFound(NotFound):
    """No API token with that id."""


def revoke_api_token(session: Session, token_id: int) -> ApiToken:
    """Revoke an API token (again is harmless); refused from its next request on."""
    record = session.get(ApiToken, token_id)
    if record is None:
        raise ApiTokenNotFound(
            f"API token {token_id} does not exist; `credguard users tokens EMAIL` lists them"
        )
    record.revoked_at = record.revoked_at or utcnow()
    session.flush()
    return record


@dataclass(frozen=True)
class Principal:
    """Who a request acts as, read from the database for that request."""

    id: int
    email: str
    role: str
    client_id: int | None
    #: The API token used, and when it was last noted as used (None for access tokens).
    token_id: int | None = None
    token_last_used_at: datetime | None = None


_PRINCIPAL_COLUMNS = (User.id, User.email, User.role, User.client_id, User.is_active)
# Built once: building a statement costs more than running it on an indexed column.
_BY_API_TOKEN = (
    select(*_PRINCIPAL_COLUMNS, ApiToken.id.label("token_id"), ApiToken.last_used_at)
    .join(ApiToken, ApiToken.user_id == User.id)
    .where(ApiToken.token_hash == bindparam("digest"), ApiToken.revoked_at.is_(None))
)
_BY_USER_ID = select(*_PRINCIPAL_COLUMNS).where(User.id == bindparam("user_id"))


def principal_for_bearer(
    session: Session, token: str, settings: Settings, *, note_use: bool = True
) -> Principal:
    """The active user a bearer token (access or API token) stands for: one indexed query.

    An API token's use is noted at once unless ``note_use`` is False; the caller then calls
    :func:`note_token_use` itself, when it is ready to write.
    """
    row: Any = None  # a Row of _PRINCIPAL_COLUMNS (and the token's columns), or None
    token_id = last_used_at = None
    if token.startswith(API_TOKEN_PREFIX):
        row = session.execute(_BY_API_TOKEN, {"digest": _digest(token)}).one_or_none()
        if row is not None:
            token_id, last_used_at = row.token_id, row.last_used_at
    else:
        user_id = _user_id_from_access_token(token, settings)
        if user_id is not None:
            row = session.execute(_BY_USER_ID, {"user_id": user_id}).one_or_none()
    if row is None or not row.is_active:  # a refused request is no use of the token
        raise NotAuthenticated("missing, invalid or expired credentials")
    principal = Principal(row.id, row.email, row.role, row.client_id, token_id, last_used_at)
    if note_use:
        note_token_use(session, principal)
    return principal


def note_token_use(session: Session, principal: Principal) -> None:
    """Note the token's use, to the minute: a busy integration must not write on every request."""
    if principal.token_id is None:
        return
    now = utcnow()
    last = principal.token_last_used_at
    if last is None or now - last >= LAST_USED_RESOLUTION:
        session.execute(
            update(ApiToken).where(ApiToken.id == principal.token_id).values(last_used_at=now)
        )
