"""The property table: an address jobs are raised against, in one branch."""

from __future__ import annotations

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from propops.core.db import Base, TimestampMixin, UUIDMixin, organisation_column


class Property(UUIDMixin, TimestampMixin, Base):
    """An address jobs are raised against; it exists independently of jobs (reference §3.1)."""

    __tablename__ = "properties"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = organisation_column()
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"), index=True)
    address_line1: Mapped[str] = mapped_column(String(200))
    address_line2: Mapped[str | None] = mapped_column(String(200), nullable=True)
    town: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # Normalised ("SW1A 1AA"), indexed for look-up by postcode.
    postcode: Mapped[str] = mapped_column(String(10), index=True)
    latitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    longitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    geo_precision: Mapped[str | None] = mapped_column(String(20), nullable=True)
    tenant_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    tenant_email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    tenant_phone: Mapped[str | None] = mapped_column(String(40), nullable=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
