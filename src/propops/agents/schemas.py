"""Request and response models of the agent endpoints (shapes as the seed documents them)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

from propops.auth.schemas import WriteBody
from propops.branches.schemas import DbId
from propops.core.params import UuidStr


class AgentListItem(BaseModel):
    """The seed's list row; ``branch_id``/``branch_name`` are the agent's primary branch."""

    ID: int
    uuid: str
    first_name: str
    last_name: str
    email: str
    branch_id: int | None
    branch_name: str | None
    is_active: bool


class Assignment(BaseModel):
    agent_ID: int
    agent_uuid: str
    agent_name: str
    branch_id: int
    branch_uuid: str
    branch_name: str
    branch_code: str
    branch_is_active: bool
    is_primary: bool
    shared: bool = Field(description="True for a shared (non-primary) branch.")
    assigned_at: str | None


class SharingRequest(WriteBody):
    """``assign`` adds a branch (idempotent); ``unassign`` (alias ``remove``) takes one away."""

    action: Literal["assign", "unassign", "remove"]
    agent_uuid: UuidStr
    branch_id: DbId = Field(examples=[2])
    is_primary: StrictBool | None = Field(
        default=None, description="assign only: make this the agent's primary branch (the old one becomes shared)."
    )


class SharingResult(BaseModel):
    agent_uuid: str
    branch_id: int
    action: str
    changed: bool = Field(description="False when the request repeated the current state.")
    branches: list[Assignment]


class SlaRuleView(BaseModel):
    """``job_type_name`` is present only on job-type specific rules, as in the seed."""

    priority_name: str
    target_hours: int
    job_type_name: str | None = None


class BranchSla(BaseModel):
    branch_id: int
    branch_name: str
    is_primary: bool
    sla_rules: list[SlaRuleView]


class AgentSla(BaseModel):
    agent_uuid: str
    branch_name: str | None
    sla_rules: list[SlaRuleView]
    branches: list[BranchSla]


class AgentDetail(BaseModel):
    ID: int
    uuid: str
    user_uuid: str
    first_name: str
    last_name: str
    email: str
    phone: str | None
    company_name: str | None
    branch_id: int | None
    branch_name: str | None
    is_active: bool
    created_at: str | None
    branches: list[Assignment]


class AgentManageRequest(WriteBody):
    """``create`` needs email, password, names and branch_id; the others need ``agent_uuid``."""

    model_config = ConfigDict(extra="ignore")
    action: Literal["create", "update", "deactivate", "activate"]
    agent_uuid: UuidStr | None = None
    email: StrictStr | None = Field(default=None, max_length=254)
    password: StrictStr | None = Field(default=None, max_length=256)
    first_name: StrictStr | None = Field(default=None, max_length=100)
    last_name: StrictStr | None = Field(default=None, max_length=100)
    phone: StrictStr | None = Field(default=None, max_length=40)
    company_name: StrictStr | None = Field(default=None, max_length=200)
    branch_id: DbId | None = Field(default=None, description="Primary branch.")
    shared_branch_ids: list[DbId] | None = Field(default=None, max_length=100)


class AgentPerformance(BaseModel):
    """The seed's KPI object (definitions in ``propops.agents.performance``)."""

    agent_uuid: str
    agent_name: str
    total_jobs: int = Field(description="The agent's jobs reported in the range, cancelled ones excluded.")
    completed_jobs: int = Field(description="Of those, completed (completed_at set; Complete, Closed or Archived).")
    completion_rate: float = Field(description="completed_jobs / total_jobs × 100, 1 decimal (0.0 without jobs).")
    avg_completion_days: float | None = Field(
        description="Mean days from reported_at to completed_at over completed jobs, 1 decimal; null when none."
    )
    recall_count: int = Field(description="Recalls (job_recalls rows) of those jobs.")
    recall_rate: float = Field(description="recall_count / total_jobs × 100, 1 decimal (0.0 without jobs).")
    open_jobs: int = Field(description="total_jobs − completed_jobs.")
