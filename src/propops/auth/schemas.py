"""Request and response models of the auth endpoints."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from propops.core.params import UuidStr


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    email: str = Field(min_length=3, max_length=254, examples=["admin@example.com"])
    password: str = Field(min_length=1, max_length=256)


class UserRead(BaseModel):
    ID: int
    uuid: str
    first_name: str
    last_name: str
    email: str
    phone: str | None
    account_type_id: int
    account_type_name: str
    account_status_id: int
    account_status_name: str
    branch_id: int | None
    role_id: int
    role_name: str
    created_at: str | None


class LoginUser(BaseModel):
    name: str
    email: str
    account_type: str


class LoginData(BaseModel):
    token: str
    token_type: str = "Bearer"  # noqa: S105 - the scheme name, not a secret
    expires_at: str
    user: LoginUser


class LoginResponse(BaseModel):
    success: bool = True
    token: str
    token_type: str = "Bearer"  # noqa: S105 - the scheme name, not a secret
    expires_at: str
    user: LoginUser
    usage: str
    data: LoginData
    message: str


class MobileValidateRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    action: Literal["validate_token"]
    token: str = Field(min_length=1, max_length=512)
    platform: Literal["ios", "android"] | None = None
    device_type: str | None = Field(default=None, max_length=80)
    app_version: str | None = Field(default=None, max_length=40)


class MobileLogoutRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    action: Literal["logout"]
    csrf_token: str | None = Field(default=None, max_length=256)


# One body, two shapes: the schema itself says that validate_token needs a token.
MobileAuthRequest = Annotated[MobileValidateRequest | MobileLogoutRequest, Field(discriminator="action")]


class MobileAuthResponse(BaseModel):
    success: bool = True
    message: str
    session_token: str | None = None
    csrf_token: str | None = None
    expires_at: str | None = None
    user: UserRead | None = None


class CsrfData(BaseModel):
    token: str


class PermissionsData(BaseModel):
    user_uuid: str
    account_type_id: int
    role_id: int
    role_name: str
    permissions: list[str]
    permission_map: dict[str, bool]


class WriteBody(BaseModel):
    """Base of every JSON write body: the CSRF field is documented and accepted everywhere."""

    model_config = ConfigDict(extra="ignore")
    csrf_token: str | None = Field(default=None, max_length=256, description="CSRF token (or X-CSRF-Token).")


class LogoutRequest(WriteBody):
    pass


class UsersPostRequest(WriteBody):
    action: Literal["toggle_status"]
    uuid: UuidStr
    is_active: bool | None = None


class UsersPostData(BaseModel):
    uuid: str
    is_active: bool
