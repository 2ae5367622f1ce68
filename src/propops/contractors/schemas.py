"""Contractor request and response models."""

from __future__ import annotations

from pydantic import BaseModel


class TradeRead(BaseModel):
    trade_id: int
    name: str
