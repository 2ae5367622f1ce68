"""``Annotated`` aliases shared by every router."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from propops.core.context import AppContext, app_ctx, get_ctx


async def get_db_session(request: Request) -> AsyncIterator[AsyncSession]:
    async for session in app_ctx(request).db.session():
        yield session


# scope="function": the commit runs when the handler returns, BEFORE the response is sent. With
# FastAPI's default ("request") it ran after the body had gone out, so a commit that failed (the
# database restarting) had already been acknowledged with a 2xx: an acknowledged write was lost.
DbSession = Annotated[AsyncSession, Depends(get_db_session, scope="function")]
Ctx = Annotated[AppContext, Depends(get_ctx)]
