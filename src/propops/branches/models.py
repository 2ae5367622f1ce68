"""Branch and SLA-rule tables.

A branch is never erased (jobs and history point at it); it is disabled instead. SLA rules give a
target in whole hours per branch and priority, optionally narrowed to one job type; a job-type rule
overrides the branch's generic rule for that priority.
"""

from __future__ import annotations

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from propops.core.db import Base, TimestampMixin, UUIDMixin, organisation_column

MAX_TARGET_HOURS = 8760  # one year: anything longer is a typo, not a service level


class Branch(UUIDMixin, TimestampMixin, Base):
    __tablename__ = "branches"
    __table_args__ = (UniqueConstraint("organisation_id", "code"),)  # codes are per organisation
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = organisation_column()
    name: Mapped[str] = mapped_column(String(120), index=True)
    code: Mapped[str] = mapped_column(String(20))
    address_line1: Mapped[str | None] = mapped_column(String(200), nullable=True)
    address_line2: Mapped[str | None] = mapped_column(String(200), nullable=True)
    town: Mapped[str | None] = mapped_column(String(100), nullable=True)
    postcode: Mapped[str | None] = mapped_column(String(10), nullable=True)
    phone: Mapped[str | None] = mapped_column(String(40), nullable=True)
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, index=True)


class SlaRule(UUIDMixin, TimestampMixin, Base):
    __tablename__ = "sla_rules"
    __table_args__ = (
        # NULL job types are distinct in a plain unique constraint, so the generic rule (job_type_id
        # NULL) gets its own partial unique index on both SQLite and PostgreSQL.
        UniqueConstraint("branch_id", "priority_id", "job_type_id"),
        Index(
            "uq_sla_rules_generic",
            "branch_id",
            "priority_id",
            unique=True,
            sqlite_where=text("job_type_id IS NULL"),
            postgresql_where=text("job_type_id IS NULL"),
        ),
        CheckConstraint("target_hours > 0", name="target_hours_positive"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id", ondelete="CASCADE"), index=True)
    priority_id: Mapped[int] = mapped_column(ForeignKey("priorities.id"))
    job_type_id: Mapped[int | None] = mapped_column(ForeignKey("job_types.id"), nullable=True)
    target_hours: Mapped[int] = mapped_column(Integer)
