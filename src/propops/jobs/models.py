"""Jobs and their history, recalls and case notes (the status, priority and job-type lookups they
point at are ``propops.lookups.models``).

Other domains read these tables (agent KPIs, branch open-job counts), so the column names are a
contract: a job is *completed* when ``completed_at`` is set and its status is Complete, Closed or
Archived; a *recall* is a ``job_recalls`` row and ``jobs.recall_count`` mirrors their number.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from propops.core.clock import utcnow
from propops.core.db import Base, TimestampMixin, UUIDMixin, organisation_column

# Status ids (rows of ``job_statuses``, seeded by the foundation migration); the lifecycle uses these.
STATUS_NEW, STATUS_ASSIGNED, STATUS_IN_PROGRESS, STATUS_COMPLETE = 1, 2, 3, 4
STATUS_CLOSED, STATUS_ARCHIVED, STATUS_CANCELLED = 5, 6, 7
OPEN_STATUSES = (STATUS_NEW, STATUS_ASSIGNED, STATUS_IN_PROGRESS)
COMPLETED_STATUSES = (STATUS_COMPLETE, STATUS_CLOSED, STATUS_ARCHIVED)


class Job(UUIDMixin, TimestampMixin, Base):
    """A maintenance job. ``branch_id`` is copied from the property so branch filters need no join."""

    __tablename__ = "jobs"
    __table_args__ = (
        # Organisation first (migration 0012): every caller-scoped read compares it, and with it
        # leading, a branch's list and count stay index-only (the count read the heap for the
        # organisation otherwise: database time per branch list 4.3 -> 15.3 ms in the load report).
        Index("ix_jobs_organisation_id_branch_id_id", "organisation_id", "branch_id", "id"),
        # A staff list of its organisation's jobs, newest first, and its count (migration 0012).
        Index("ix_jobs_organisation_id_id", "organisation_id", "id"),
        Index("ix_jobs_contractor_id_id", "contractor_id", "id"),
        Index("ix_jobs_agent_id_status_id", "agent_id", "status_id"),
        Index("ix_jobs_status_id_sla_due_at", "status_id", "sla_due_at"),
        Index("ix_jobs_agent_id_reported_at", "agent_id", "reported_at"),
        # Covering index for agent KPIs (migration 0006): index-only scans over one agent's jobs.
        Index("ix_jobs_agent_kpi", "agent_id", "reported_at", "status_id", "completed_at", "branch_id", "id"),
        # Covering index for the SLA verdict per branch (migration 0008): sla_status counts.
        Index(
            "ix_jobs_organisation_branch_sla",
            "organisation_id",
            "branch_id",
            "status_id",
            "sla_due_at",
            "completed_at",
            "sla_target_hours",
        ),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = organisation_column(index=False)  # copied from the property
    job_ref: Mapped[str] = mapped_column(String(20), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    property_id: Mapped[int] = mapped_column(ForeignKey("properties.id"), index=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"), nullable=True)
    trade_id: Mapped[int] = mapped_column(ForeignKey("trades.id"))
    job_type_id: Mapped[int | None] = mapped_column(ForeignKey("job_types.id"), nullable=True)
    priority_id: Mapped[int] = mapped_column(ForeignKey("priorities.id"))
    status_id: Mapped[int] = mapped_column(ForeignKey("job_statuses.id"), default=STATUS_NEW)
    contractor_id: Mapped[int | None] = mapped_column(ForeignKey("contractors.id"), nullable=True)
    contractor_budget: Mapped[Decimal | None] = mapped_column(Numeric(12, 2), nullable=True)
    client_budget: Mapped[Decimal | None] = mapped_column(Numeric(12, 2), nullable=True)
    reported_at: Mapped[datetime] = mapped_column(default=utcnow)
    assigned_at: Mapped[datetime | None] = mapped_column(nullable=True)
    accepted_at: Mapped[datetime | None] = mapped_column(nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    sla_target_hours: Mapped[int | None] = mapped_column(Integer, nullable=True)
    sla_due_at: Mapped[datetime | None] = mapped_column(nullable=True)
    sla_breach_notified_at: Mapped[datetime | None] = mapped_column(nullable=True)
    recall_count: Mapped[int] = mapped_column(Integer, default=0)
    parent_job_id: Mapped[int | None] = mapped_column(
        ForeignKey("jobs.id", ondelete="SET NULL"), nullable=True, index=True
    )
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)


class JobRow(NamedTuple):
    """A job as the service handles it: every column of ``jobs``, typed, read by one Core statement
    (``repository``) and changed with ``_replace``. The one job shape outside the table itself; the
    check below fails at import when a column is added to ``Job`` and not here."""

    id: int
    organisation_id: int
    job_ref: str
    title: str
    description: str
    property_id: int
    branch_id: int
    agent_id: int | None
    trade_id: int
    job_type_id: int | None
    priority_id: int
    status_id: int
    contractor_id: int | None
    contractor_budget: Decimal | None
    client_budget: Decimal | None
    reported_at: datetime
    assigned_at: datetime | None
    accepted_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    closed_at: datetime | None
    sla_target_hours: int | None
    sla_due_at: datetime | None
    sla_breach_notified_at: datetime | None
    recall_count: int
    parent_job_id: int | None
    created_by_user_id: int | None
    uuid: str
    created_at: datetime
    updated_at: datetime


if set(JobRow._fields) != set(Job.__table__.columns.keys()):  # pragma: no cover - a schema change
    raise RuntimeError(f"JobRow and the jobs table differ: {set(JobRow._fields) ^ set(Job.__table__.columns.keys())}")


class JobEvent(Base):
    """One history entry ("commit"): who did what to a job, with the fields before and after."""

    __tablename__ = "job_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    event: Mapped[str] = mapped_column(String(30))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    reason: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class JobRecall(Base):
    """One recall of a completed job; the KPI "recall" is a row here (``jobs.recall_count`` mirrors it)."""

    __tablename__ = "job_recalls"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(1000))
    recalled_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class JobCaseNote(UUIDMixin, Base):
    """A note on a job's timeline; ``send_email`` notes are mailed through the outbox."""

    __tablename__ = "job_case_notes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    note: Mapped[str] = mapped_column(Text)
    is_private: Mapped[bool] = mapped_column(Boolean, default=False)
    send_email: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
