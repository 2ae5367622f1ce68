"""Request and response models of organisation administration (``/api/admin/organisations``) and
an organisation's own settings (``/api/organisation/settings``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

from propops.auth.schemas import WriteBody
from propops.core.params import StrictId, UuidStr
from propops.organisations.settings import OrganisationSettings

SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$"


class FirstAdmin(BaseModel):
    """The organisation's first SysOps account, created with it (so the company can onboard itself)."""

    model_config = ConfigDict(extra="forbid")
    email: StrictStr = Field(max_length=254, examples=["admin@riverside.example.com"])
    password: StrictStr = Field(min_length=8, max_length=256)
    first_name: StrictStr = Field(default="", max_length=100)
    last_name: StrictStr = Field(default="", max_length=100)


class OrganisationWrite(WriteBody):
    """``create`` needs ``name`` and ``slug``; ``update``, ``enable`` and ``disable`` name the
    organisation by ``id`` or ``uuid``. ``settings`` replaces the keys it sends."""

    action: Literal["create", "update", "enable", "disable"] = Field(examples=["create"])
    id: StrictId | None = None
    uuid: UuidStr | None = None
    name: StrictStr | None = Field(default=None, max_length=120, examples=["Riverside Homes"])
    slug: StrictStr | None = Field(default=None, pattern=SLUG_PATTERN, max_length=40, examples=["riverside"])
    settings: OrganisationSettings | None = None
    admin: FirstAdmin | None = None


class SettingsWrite(WriteBody):
    """The caller's organisation's settings: only the keys sent change."""

    model_config = ConfigDict(extra="forbid")
    branding_name: StrictStr | None = Field(default=None, max_length=120)
    sla_rules: dict[int, int] | None = None
    job_type_ids: list[int] | None = None
    notifications: dict[str, StrictBool] | None = None
    compliance_email: StrictStr | None = Field(default=None, max_length=254)


class OrganisationRead(BaseModel):
    ID: int
    id: int
    uuid: str
    name: str
    slug: str
    is_active: bool
    is_platform: bool
    settings: dict[str, Any]
    user_count: int | None = None
    created_at: str | None
    updated_at: str | None
