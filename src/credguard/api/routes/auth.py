"""Log in: e-mail and password for a short-lived bearer token."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from credguard.accounts import auth
from credguard.api.deps import SessionDep, SettingsDep
from credguard.api.errors import responses

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
    "/login", response_model=TokenRead, response_model_by_alias=True, responses=responses(401, 422)
)
def login(body: LoginRequest, session: SessionDep, settings: SettingsDep) -> TokenRead:
    """Exchange e-mail and password for a bearer token (``Authorization: Bearer …``)."""
    user = auth.authenticate(session, body.email, body.password)
    return TokenRead(
        access_token=auth.issue_access_token(user, settings),
        expires_in=settings.access_token_minutes * 60,
    )
