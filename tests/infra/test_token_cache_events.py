"""This process's own commits invalidate the token cache synchronously (``propops.infra.token_cache``
session events), on both databases: only when the outermost transaction commits."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
from fastapi import FastAPI
from sqlalchemy import select, update

from propops.auth.models import User
from propops.infra import token_cache


async def earlier_notices_arrived(app: FastAPI) -> None:
    """PostgreSQL: wait until the notices of earlier commits (an earlier test's, milliseconds late
    under load) have reached the shared app's listener, so they cannot land inside this test's
    before/after window. A listener gets notices in commit order: a marker sent now arrives last."""
    cache = app.state.ctx.token_cache
    listener = getattr(cache, "_conn", None)
    if listener is None:
        return  # SQLite, or no live listener: nothing can arrive
    marker, arrived = f"marker-{uuid.uuid4().hex}", asyncio.Event()

    def on_notice(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
        if payload == marker:
            arrived.set()

    await listener.add_listener(token_cache.CHANNEL, on_notice)
    sender = await asyncpg.connect(cache.dsn)
    try:
        await sender.execute("SELECT pg_notify($1, $2)", token_cache.CHANNEL, marker)
        await asyncio.wait_for(arrived.wait(), 10)
        await asyncio.sleep(0)  # the cache's own callback for the marker, scheduled beside ours
    finally:
        await sender.close()
        await listener.remove_listener(token_cache.CHANNEL, on_notice)


async def test_only_the_outermost_commit_of_an_auth_change_invalidates(app: FastAPI) -> None:
    await earlier_notices_arrived(app)
    async with app.state.ctx.db.sessionmaker() as session:
        before = token_cache.generation()
        async with session.begin():
            user = (await session.execute(select(User).where(User.email == "agent004@example.com"))).scalar_one()
            nested = await session.begin_nested()
            await session.execute(update(User).where(User.id == user.id).values(last_name=user.last_name))
            await nested.commit()  # RELEASE SAVEPOINT: the outer transaction could still roll back
            assert token_cache.generation() == before
        assert token_cache.generation() > before  # the real commit (on PostgreSQL its notice may add one)


async def test_a_commit_without_auth_changes_invalidates_nothing(app: FastAPI) -> None:
    await earlier_notices_arrived(app)
    async with app.state.ctx.db.sessionmaker() as session:
        before = token_cache.generation()
        async with session.begin():
            await session.execute(select(User.id).limit(1))
        assert token_cache.generation() == before


async def test_an_ordinary_unit_of_work_change_invalidates(app: FastAPI) -> None:
    await earlier_notices_arrived(app)
    async with app.state.ctx.db.sessionmaker() as session:
        before = token_cache.generation()
        async with session.begin():
            user = (await session.execute(select(User).where(User.email == "agent004@example.com"))).scalar_one()
            user.phone = "01234 567890"
        assert token_cache.generation() > before
