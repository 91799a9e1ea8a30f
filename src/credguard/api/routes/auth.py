"""Log in: e-mail and password for a short-lived bearer token, behind the account's throttle."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from credguard.accounts import auth
from credguard.api.deps import EngineDep, SessionDep, SettingsDep
from credguard.api.errors import responses
from credguard.api.middleware import ClientIp
from credguard.security import service as security

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class LoginRequest(BaseModel):
    email: str = Field(max_length=254)
    password: str = Field(max_length=1024)


class TokenRead(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    access_token: str
    token_type: str = "bearer"
    expires_in: int


@router.post(
    "/login",
    response_model=TokenRead,
    response_model_by_alias=True,
    responses=responses(401, 422, 429),
)
def login(
    body: LoginRequest,
    session: SessionDep,
    engine: EngineDep,
    settings: SettingsDep,
    client_ip: ClientIp,
) -> TokenRead:
    """Exchange e-mail and password for a bearer token (``Authorization: Bearer …``).

    After repeated failures on one account the answer is 429 with ``Retry-After`` until the
    (growing, bounded) delay has passed; unknown and real accounts are throttled alike.
    """
    try:
        user = security.authenticate(
            session, engine, body.email, body.password, client_ip=client_ip, settings=settings
        )
    except security.LoginThrottled as exc:
        raise HTTPException(
            429, exc.message, headers={"Retry-After": str(exc.retry_after)}
        ) from None
    return TokenRead(
        access_token=auth.issue_access_token(user, settings),
        expires_in=settings.access_token_minutes * 60,
    )
