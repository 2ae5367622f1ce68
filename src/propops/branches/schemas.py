"""Request and response models of the admin branch endpoints.

Integers in JSON bodies are strict (``"4"`` or ``4.5`` is a 400, not silently coerced): an SLA target
of "4.5 hours" should be refused, not truncated.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from propops.auth.schemas import WriteBody
from propops.core.params import StrictId, UuidStr

DbId = StrictId  # the one strict id type (propops.core.params)
"""A database id: whole, positive and within a 32-bit column, so no value can overflow a query."""


class SlaRuleIn(BaseModel):
    """One SLA rule: priority by id or name (aliases Urgent and Normal), optional job type by id or name."""

    model_config = ConfigDict(extra="ignore")
    priority: StrictInt | StrictStr | None = Field(default=None, examples=["Emergency"])
    priority_id: DbId | None = Field(default=None, examples=[1])
    job_type: StrictInt | StrictStr | None = Field(default=None, examples=["Gas Safety"])
    job_type_id: DbId | None = None
    target_hours: StrictInt = Field(description="Positive whole hours (1-8760).", examples=[4])


class _BranchFields(BaseModel):
    address_line1: StrictStr | None = Field(default=None, max_length=200)
    address_line2: StrictStr | None = Field(default=None, max_length=200)
    town: StrictStr | None = Field(default=None, max_length=100)
    postcode: StrictStr | None = Field(default=None, max_length=10, examples=["N1 9GU"])
    phone: StrictStr | None = Field(default=None, max_length=40)
    email: StrictStr | None = Field(default=None, max_length=254)


class BranchCreate(WriteBody, _BranchFields):
    action: Literal["create"] = "create"
    name: StrictStr = Field(max_length=120, examples=["London North"])
    code: StrictStr = Field(max_length=20, examples=["LDN-N"])
    sla_rules: list[SlaRuleIn] | None = Field(default=None, max_length=200)


class BranchUpdate(WriteBody, _BranchFields):
    """Only the fields sent change; ``sla_rules``, when sent, replaces the branch's whole rule set."""

    action: Literal["update"] = "update"
    id: DbId | None = Field(default=None, description="Branch id (or send branch_id / uuid).")
    branch_id: DbId | None = None
    uuid: UuidStr | None = None
    name: StrictStr | None = Field(default=None, max_length=120)
    code: StrictStr | None = Field(default=None, max_length=20)
    sla_rules: list[SlaRuleIn] | None = Field(default=None, max_length=200)


class BranchRef(WriteBody):
    """Names a branch by ``branch_id`` (the reference's likely name), ``id`` or ``uuid``."""

    branch_id: DbId | None = None
    id: DbId | None = None
    uuid: UuidStr | None = None


class SlaRuleRead(BaseModel):
    uuid: str
    priority_id: int
    priority_name: str
    job_type_id: int | None
    job_type_name: str | None
    target_hours: int


class BranchRead(BaseModel):
    id: int
    ID: int
    uuid: str
    name: str
    code: str
    address_line1: str | None
    address_line2: str | None
    town: str | None
    postcode: str | None
    phone: str | None
    email: str | None
    is_active: bool
    agent_count: int = Field(description="Active agents assigned to or sharing this branch.")
    open_jobs: int
    created_at: str | None
    updated_at: str | None
    sla_rules: list[SlaRuleRead]


class ImportRowError(BaseModel):
    row: int = Field(description="1-based line number in the file (the header is line 1).")
    field: str
    message: str


class ImportResult(BaseModel):
    imported: int
    skipped: int
    errors: list[ImportRowError]


class BranchStatus(BaseModel):
    id: int
    uuid: str
    is_active: bool
