"""Contractor logic. No HTTP here."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from propops.contractors.models import Trade

_TRADES = select(Trade.id, Trade.name).order_by(Trade.id)


async def list_trades(conn: AsyncConnection) -> list[dict[str, Any]]:
    """Read on a bare pooled connection: a lookup needs no ORM session or unit of work."""
    return [{"trade_id": r[0], "name": r[1]} for r in await conn.execute(_TRADES)]
