"""Outbox request and response models."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from propops.auth.schemas import WriteBody


class OutboxRead(BaseModel):
    ID: int
    to: str
    subject: str
    template: str
    status: Literal["queued", "sent", "failed"]
    attempts: int
    next_attempt_at: str | None = Field(description="When the next delivery attempt is due (queued only).")
    last_error: str | None
    dedupe_key: str | None
    created_at: str | None
    sent_at: str | None


class OutboxAction(WriteBody):
    action: Literal["retry"] = Field(description="`retry` puts a failed email back in the queue.")
    id: int = Field(
        ge=1, le=2_147_483_647, description="Outbox email ID (a 32-bit column: larger is a 400, not a 500)."
    )
