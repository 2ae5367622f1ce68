"""The email outbox table.

A row is written in the same transaction as the change that causes it, so an email exists exactly
when the change does. Delivery state lives on the row: ``queued`` (due at ``next_attempt_at``),
``sent`` or ``failed`` (parked after the maximum number of attempts, retried only by staff).
A worker claims a row by pushing ``next_attempt_at`` forward by a lease and stamping ``claimed_by``,
so a crashed worker's rows become due again when the lease runs out.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from propops.core.clock import utcnow
from propops.core.db import Base, organisation_column

STATUS_QUEUED, STATUS_SENT, STATUS_FAILED = "queued", "sent", "failed"
STATUSES = (STATUS_QUEUED, STATUS_SENT, STATUS_FAILED)


class EmailOutbox(Base):
    __tablename__ = "email_outbox"
    __table_args__ = (Index("ix_email_outbox_status_next_attempt_at", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = organisation_column()
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(255))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text, nullable=True)
    template: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(10), default=STATUS_QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(36), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Unique when set: a second enqueue with the same key is a no-op (idempotent notifications).
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(nullable=True)
