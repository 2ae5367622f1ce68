"""Certification tables.

Types are data (each lists the trades that require it). A certification row points at one stored
file by its generated name; replacing a certificate marks the old row superseded rather than
deleting it, so history survives. ``certification_reminders`` holds one row per (certification,
reminder step): its unique constraint is what makes reminder runs idempotent.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from propops.core.clock import utcnow
from propops.core.db import Base, TimestampMixin, UUIDMixin, organisation_column
from propops.lookups.models import Trade


class CertificationType(TimestampMixin, Base):
    __tablename__ = "certification_types"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    description: Mapped[str] = mapped_column(String(500), default="")
    issuing_body: Mapped[str | None] = mapped_column(String(120), nullable=True)
    # Other names clients send as ``cert_type`` (the reference's example is "Gas Safe Certificate").
    aliases: Mapped[list[Any]] = mapped_column(JSON, default=list)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)

    trades: Mapped[list[Trade]] = relationship(secondary="certification_type_trades", order_by="Trade.id", lazy="raise")


class CertificationTypeTrade(Base):
    """Trade ``trade_id`` requires a valid certificate of type ``certification_type_id``."""

    __tablename__ = "certification_type_trades"
    certification_type_id: Mapped[int] = mapped_column(
        ForeignKey("certification_types.id", ondelete="CASCADE"), primary_key=True
    )
    trade_id: Mapped[int] = mapped_column(ForeignKey("trades.id", ondelete="CASCADE"), primary_key=True, index=True)


class Certification(UUIDMixin, Base):
    __tablename__ = "certifications"
    __table_args__ = (
        Index(
            "ix_certifications_contractor_type_superseded", "contractor_id", "certification_type_id", "superseded_at"
        ),
        Index("ix_certifications_superseded_expires", "superseded_at", "expires_on"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = organisation_column()  # the contractor's
    contractor_id: Mapped[int] = mapped_column(ForeignKey("contractors.id", ondelete="CASCADE"))
    certification_type_id: Mapped[int] = mapped_column(ForeignKey("certification_types.id"), index=True)
    certificate_number: Mapped[str | None] = mapped_column(String(100), nullable=True)
    issued_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    expires_on: Mapped[date] = mapped_column(Date)
    file_name: Mapped[str] = mapped_column(String(80), unique=True)
    original_filename: Mapped[str] = mapped_column(String(255), default="")
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    superseded_at: Mapped[datetime | None] = mapped_column(nullable=True)
    superseded_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("certifications.id", ondelete="SET NULL"), nullable=True
    )
    # Denormalised from certification_reminders so a rerun skips sent steps without a join.
    last_reminder_step: Mapped[str | None] = mapped_column(String(20), nullable=True)


class CertificationReminder(Base):
    __tablename__ = "certification_reminders"
    __table_args__ = (UniqueConstraint("certification_id", "step"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    certification_id: Mapped[int] = mapped_column(ForeignKey("certifications.id", ondelete="CASCADE"))
    step: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
