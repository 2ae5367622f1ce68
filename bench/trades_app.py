"""The PropOps app plus one bench-only route: the raw-driver baseline.

The baseline does the same lookups as GET /api/contractors/trades (token by hash, then the trades)
straight on aiosqlite/asyncpg with no ORM, behind the same middleware, so the three figures differ
only in what the handler does.
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI, Request

from propops.auth.deps import public
from propops.core.security import token_hash
from propops.main import create_app

SQL_TOKEN = (
    "SELECT t.id, t.expires_at, t.revoked_at, u.account_status_id, u.role_id FROM api_tokens t "
    "JOIN users u ON u.id = t.user_id WHERE t.token_hash = {p}"
)
SQL_PERM = "SELECT 1 FROM role_permissions WHERE role_id = {p} AND permission_key = 'api.contractors.trades.manage'"
SQL_TRADES = "SELECT id, name FROM trades ORDER BY id"


def app() -> FastAPI:
    application = create_app()
    url = application.state.ctx.settings.database_url
    secret = application.state.ctx.settings.secret_key
    state: dict[str, Any] = {}

    async def raw_trades(request: Request) -> Any:
        raw = request.headers.get("authorization", "").removeprefix("Bearer ")
        h = token_hash(secret, raw)
        if url.startswith("sqlite"):
            import aiosqlite

            if "conn" not in state:
                state["conn"] = await aiosqlite.connect(url.split("///", 1)[1])
            conn = state["conn"]
            async with conn.execute(SQL_TOKEN.format(p="?"), (h,)) as cur:
                tok = await cur.fetchone()
            async with conn.execute(SQL_PERM.format(p="?"), (tok[4],)) as cur:
                await cur.fetchone()
            async with conn.execute(SQL_TRADES) as cur:
                rows = await cur.fetchall()
        else:
            import asyncpg

            if "pool" not in state:
                state["pool"] = await asyncpg.create_pool(url.replace("+asyncpg", ""), min_size=5, max_size=10)
            async with state["pool"].acquire() as conn:
                tok = await conn.fetchrow(SQL_TOKEN.format(p="$1"), h)
                await conn.fetchrow(SQL_PERM.format(p="$1"), tok[4])
                rows = await conn.fetch(SQL_TRADES)
        return {
            "success": True,
            "data": [{"trade_id": r[0], "name": r[1]} for r in rows],
            "message": "Operation completed successfully",
        }

    application.add_api_route("/bench/raw-trades", raw_trades, methods=["GET"], dependencies=[public()])
    _ = os.environ
    return application
