"""Organisations: one letting company each (multi-tenancy, reference §1.10).

Every user, branch, agent, contractor, property, job, certificate, email and audit row carries its
``organisation_id`` (``core.db.organisation_column``); rows below those (SLA rules, agent branch
links, job history, coverage cells, tokens) belong to their parent's organisation and are reached
only through it. The organisation of the caller is part of the ``Principal``, and every
caller-scoped statement in the ``repository`` modules compares against it.

The platform organisation (``is_platform``, the one the migration creates for existing data) runs
the deployment: only its staff administer organisations.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from propops.core.db import Base, TimestampMixin, UUIDMixin

DEFAULT_ORGANISATION_ID = 1  # migration 0012 moves single-company data here


class Organisation(UUIDMixin, TimestampMixin, Base):
    __tablename__ = "organisations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_platform: Mapped[bool] = mapped_column(Boolean, default=False)
    # Validated by ``organisations.settings.OrganisationSettings``; read through it, never raw.
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
