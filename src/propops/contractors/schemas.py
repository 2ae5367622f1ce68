"""Contractor request and response models."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from propops.auth.schemas import WriteBody
from propops.core.params import PostcodeStr, StrictId


class TradeRead(BaseModel):
    trade_id: int
    name: str


class ContractorRead(BaseModel):
    """The seed's list row; ``distance_km`` appears only when a postcode was given."""

    ID: int
    uuid: str
    first_name: str
    last_name: str
    email: str
    phone: str | None
    trades: list[str]
    is_active: bool
    distance_km: float | None = Field(default=None, description="Only when `postcode` is given.")


class CoverageBase(BaseModel):
    postcode: str | None
    latitude: float | None
    longitude: float | None


class CoverageRead(BaseModel):
    source: Literal["radius", "isochrone", "drawn"]
    parameters: dict[str, Any] = Field(
        description="radius: {radius_km}; isochrone: {travel_minutes, profile, provider}; drawn: {}"
    )
    base: CoverageBase
    geometry: dict[str, Any] = Field(description="GeoJSON Polygon or MultiPolygon, [longitude, latitude] order")
    bbox: list[float] = Field(description="[min_lon, min_lat, max_lon, max_lat]")
    estimated: bool = Field(description="True when no routing engine computed the area (offline estimate)")
    computed_at: str | None


class ContractorCoverageRead(ContractorRead):
    company_name: str | None
    coverage: CoverageRead | None


class ContractorDetail(ContractorRead):
    company_name: str | None
    trade_ids: list[int]
    user_uuid: str | None
    coverage: CoverageRead | None
    created_at: str | None
    updated_at: str | None


class CoverageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: Literal["radius", "isochrone", "drawn"]
    radius_km: float | None = Field(default=None, gt=0, le=200, description="source=radius (default 25)")
    travel_minutes: int | None = Field(default=None, ge=1, le=60, description="source=isochrone")
    profile: Literal["driving", "cycling", "walking"] | None = Field(default=None, description="default driving")
    geometry: dict[str, Any] | None = Field(default=None, description="source=drawn: GeoJSON Polygon/MultiPolygon")


class ContractorFields(WriteBody):
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    company_name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=40)
    base_postcode: PostcodeStr | None = None
    coverage: CoverageIn | None = None


class ContractorManageRequest(ContractorFields):
    action: Literal["create", "update", "deactivate", "activate"]
    uuid: str | None = Field(default=None, max_length=64, description="Required except for create")
    trade_ids: list[StrictId] | None = Field(default=None, max_length=20)
    create_login: bool = Field(default=False, description="create: also create a Contractor login")
    password: str | None = Field(default=None, max_length=256, description="create_login: initial password")


class ProfileUpdateRequest(ContractorFields):
    """Own profile: contact and coverage. Trades and status are office-managed (403 if sent)."""

    trade_ids: list[int] | None = Field(default=None, description="Not allowed (403)")
    is_active: bool | None = Field(default=None, description="Not allowed (403)")
