"""Certification request and response models."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from propops.auth.schemas import WriteBody
from propops.core.params import StrictId


class CertificationRead(BaseModel):
    ID: int
    uuid: str
    contractor_id: int
    contractor_uuid: str
    certification_type_id: int
    cert_type: str
    certificate_number: str | None
    issue_date: str | None
    expiry_date: str
    status: Literal["valid", "expiring", "expired"]
    days_to_expiry: int = Field(description="Negative when expired.")
    file: str = Field(description="Name to pass to GET /api/contractors/certification?file=")
    original_filename: str
    content_type: str
    size_bytes: int
    sha256: str
    is_current: bool = Field(description="False for a certificate replaced by a newer upload (history).")
    uploaded_at: str | None
    superseded_at: str | None


class CertificationDeleted(BaseModel):
    uuid: str
    file: str
    deleted: bool


class TradeRef(BaseModel):
    trade_id: int
    name: str


class CertificationTypeRead(BaseModel):
    ID: int
    code: str
    name: str
    description: str
    issuing_body: str | None
    aliases: list[str]
    is_active: bool
    required_for_trades: list[TradeRef]


class CertificationTypeWrite(WriteBody):
    action: Literal["create", "update", "delete"]
    id: StrictId | None = Field(default=None, description="Required for update and delete.")
    name: str | None = Field(default=None, max_length=120)
    code: str | None = Field(default=None, max_length=40, pattern=r"^[a-z0-9_]+$")
    description: str | None = Field(default=None, max_length=500)
    issuing_body: str | None = Field(default=None, max_length=120)
    aliases: list[str] | None = Field(default=None, max_length=20)
    trade_ids: list[StrictId] | None = Field(
        default=None, max_length=100, description="Trades that require this certification."
    )
    is_active: bool | None = None


class Requirement(BaseModel):
    certification_type_id: int
    cert_type: str
    met: bool
    status: Literal["valid", "expiring", "expired", "missing"]
    expiry_date: str | None
    days_to_expiry: int | None
    file: str | None


class TradeCompliance(BaseModel):
    trade_id: int
    name: str
    compliant: bool
    requirements: list[Requirement]


class ComplianceRead(BaseModel):
    contractor_id: int
    contractor_uuid: str
    compliant: bool
    trades: list[TradeCompliance]
    gaps: list[str] = Field(description="Certification types required by the contractor's trades and not met.")
