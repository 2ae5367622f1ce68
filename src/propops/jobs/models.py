"""Job lookups (statuses, priorities, job types), seeded by the foundation migration."""

from __future__ import annotations

from sqlalchemy import Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from propops.core.db import Base


class JobStatus(Base):
    __tablename__ = "job_statuses"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    is_open: Mapped[bool] = mapped_column(Boolean, default=True)


class Priority(Base):
    __tablename__ = "priorities"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    rank: Mapped[int] = mapped_column(Integer)


class JobType(Base):
    __tablename__ = "job_types"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
