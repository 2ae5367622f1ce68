"""Request and response models of /api/properties/manage."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from propops.auth.schemas import WriteBody
from propops.core.params import StrictId, UuidStr


class PropertyRead(BaseModel):
    ID: int
    uuid: str
    branch_id: int
    branch_name: str
    address_line1: str
    address_line2: str | None
    town: str | None
    postcode: str
    full_address: str
    latitude: float | None
    longitude: float | None
    geo_precision: str | None
    tenant_name: str | None
    tenant_email: str | None
    tenant_phone: str | None
    is_active: bool
    created_at: str | None
    updated_at: str | None


class PropertyManageRequest(WriteBody):
    action: Literal["create", "update"]
    uuid: UuidStr | None = Field(default=None, description="update: the property")
    branch_id: StrictId | None = Field(
        default=None, description="create: required for staff; agents default to their primary"
    )
    address_line1: str | None = Field(default=None, max_length=200)
    address_line2: str | None = Field(default=None, max_length=200)
    town: str | None = Field(default=None, max_length=100)
    postcode: str | None = Field(default=None, max_length=32, examples=["LS1 4AP"])
    tenant_name: str | None = Field(default=None, max_length=200)
    tenant_email: str | None = Field(default=None, max_length=254)
    tenant_phone: str | None = Field(default=None, max_length=40)
    is_active: bool | None = None
