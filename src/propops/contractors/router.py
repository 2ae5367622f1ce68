"""HTTP for contractors: trades (more arrive with the contractors issue)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from propops.auth.deps import require
from propops.contractors import service
from propops.contractors.schemas import TradeRead
from propops.core.deps import Ctx
from propops.core.envelope import Envelope, error_responses, ok

router = APIRouter(tags=["contractors"])


@router.get(
    "/api/contractors/trades",
    response_model=Envelope[list[TradeRead]],
    dependencies=[require("api.contractors.trades.manage")],
    responses=error_responses(401, 403, 429),
    summary="List trade categories",
)
async def trades(ctx: Ctx) -> dict[str, Any]:
    async with ctx.db.engine.connect() as conn:
        return ok(await service.list_trades(conn))
