"""Request and response models of the jobs endpoints (field names as the public reference §2.1)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field, StrictInt, StrictStr

from propops.auth.schemas import WriteBody
from propops.core.params import StrictId

JobAction = Literal[
    "create",
    "update",
    "delete",
    "assign",
    "accept",
    "start",
    "complete",
    "close",
    "archive",
    "cancel",
    "recall",
    "reopen",
]
Money = Field(default=None, ge=0, le=Decimal("9999999999.99"), max_digits=12, decimal_places=2)


class JobRead(BaseModel):
    ID: int
    uuid: str
    job_ref: str
    job_title: str
    job_description: str
    status_id: int
    status_name: str
    priority_id: int
    priority_name: str
    job_type_id: int | None
    job_type_name: str | None
    trade_id: int
    trade_name: str
    branch_id: int
    branch_name: str
    agent_id: int | None
    agent_uuid: str | None
    agent_name: str | None
    contractor_id: int | None
    contractor_uuid: str | None
    contractor_name: str | None
    address_id: int
    address_uuid: str
    full_address: str
    postcode: str
    job_total_budget: float | None = Field(description="Client budget; not shown to contractors")
    contractor_budget: float | None
    reported_at: str | None
    assigned_at: str | None
    accepted_at: str | None
    started_at: str | None
    completed_at: str | None
    closed_at: str | None
    sla_target_hours: int | None
    sla_due_at: str | None
    sla_status: Literal["on_track", "at_risk", "breached"] | None
    recall_count: int
    parent_job_uuid: str | None
    created_at: str | None
    updated_at: str | None


class JobDetail(JobRead):
    remedial_jobs: list[dict[str, Any]] = Field(
        default_factory=list, description="Linked remedial jobs: [{uuid, job_ref}]"
    )
    allowed_actions: list[str] = Field(default_factory=list, description="What the caller may do next")


class JobCommit(BaseModel):
    ID: int
    event: str
    user_id: int | None
    user_name: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str | None
    created_at: str | None


class Suggestion(BaseModel):
    contractor_id: int
    contractor_uuid: str
    contractor_name: str
    distance_km: float | None
    open_jobs: int
    completed_jobs: int
    sla_met_rate: float | None
    recall_rate: float | None
    score: float


class Exclusion(BaseModel):
    contractor_id: int
    contractor_uuid: str
    contractor_name: str
    distance_km: float | None
    reasons: list[str]


class Suggestions(BaseModel):
    job_uuid: str
    eligible: list[Suggestion]
    eligible_count: int
    excluded: list[Exclusion]
    excluded_count: int


class JobManageRequest(WriteBody):
    action: JobAction = Field(description="What to do; all but create need uuid")
    uuid: str | None = Field(default=None, max_length=64)
    job_title: str | None = Field(default=None, max_length=200)
    job_description: str | None = Field(default=None, max_length=20000)
    priority_id: StrictId | StrictStr | None = Field(default=None, description="Id or name (Emergency, High, ...)")
    status_id: StrictInt | None = Field(default=None, ge=1, le=100, description="create: 1 (New) or omitted")
    job_type_id: StrictId | StrictStr | None = Field(default=None, description="Id or name; may override the SLA")
    trade_id: StrictId | None = None
    address_id: StrictId | None = None
    address_uuid: str | None = Field(default=None, max_length=64)
    agent_id: StrictId | None = None
    agent_uuid: str | None = Field(default=None, max_length=64)
    contractor_id: StrictId | None = None
    contractor_uuid: str | None = Field(default=None, max_length=64)
    job_total_budget: Decimal | None = Money
    contractor_budget: Decimal | None = Money
    override_reason: str | None = Field(default=None, max_length=1000, description="assign: staff override")
    reason: str | None = Field(default=None, max_length=1000, description="recall (required), cancel, reopen")
    to_status_id: StrictInt | None = Field(default=None, description="recall: 3 In progress (default) or 2 Assigned")


class JobRef(BaseModel):
    ID: int
    uuid: str
    job_ref: str


class CaseNoteRead(BaseModel):
    ID: int
    uuid: str
    job_id: int
    job_uuid: str
    note_text: str
    created_by_name: str | None
    is_private: bool
    send_email: bool
    attachments_count: int
    created_at: str | None


class CaseNoteRequest(WriteBody):
    job_uuid: str | None = Field(default=None, max_length=64)
    note_text: str | None = Field(default=None, max_length=20000)
    note: str | None = Field(default=None, max_length=20000, description="Alias of note_text")
    send_email: bool = False
    is_private: bool = Field(default=False, description="Hidden from the contractor (staff and agents only)")


class CaseNoteCreated(BaseModel):
    note_id: int
    uuid: str
    emails_queued: int


class RemedialRequest(WriteBody):
    action: Literal["create", "delete"]
    parent_job_uuid: str | None = Field(default=None, max_length=64)
    remedial_job_uuid: str | None = Field(default=None, max_length=64, description="Omit on create: a new job")
    reason: str | None = Field(default=None, max_length=1000)


class RemedialLink(BaseModel):
    parent_job_uuid: str
    parent_job_ref: str
    remedial_job_uuid: str
    remedial_job_ref: str
    reason: str | None
    created: bool = Field(description="True when the remedial job was created by this call")
