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


DbSession = Annotated[AsyncSession, Depends(get_db_session)]
Ctx = Annotated[AppContext, Depends(get_ctx)]
