"""Lookup tables: small, seeded by the foundation migration, read by several domains.

Priorities and job types key the SLA rules (branches) and jobs; job statuses drive the job
lifecycle (their ids are stable: ``propops.jobs.models`` names them); trades classify contractors,
certification requirements and jobs (the seed's five, ids 1-5).
"""

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


class Trade(Base):
    __tablename__ = "trades"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
