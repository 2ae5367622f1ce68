"""Agent profiles and their branch assignments.

An agent's names, email and active flag live on its login (``users``), so there is one source of
truth; the profile adds what only agents have. ``agent_branches`` holds every branch an agent may
operate on: exactly one row per agent is the primary branch, the others are shared branches.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from propops.core.clock import utcnow
from propops.core.db import Base, TimestampMixin, UUIDMixin, organisation_column


class Agent(UUIDMixin, TimestampMixin, Base):
    __tablename__ = "agents"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = organisation_column()
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    company_name: Mapped[str | None] = mapped_column(String(200), nullable=True)


class AgentBranch(Base):
    __tablename__ = "agent_branches"
    __table_args__ = (
        # At most one primary branch per agent, enforced by the database.
        Index(
            "uq_agent_branches_primary",
            "agent_id",
            unique=True,
            sqlite_where=text("is_primary"),
            postgresql_where=text("is_primary"),
        ),
    )
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"), primary_key=True, index=True)
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
