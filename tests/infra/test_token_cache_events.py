"""This process's own commits invalidate the token cache synchronously (``propops.infra.token_cache``
session events), on both databases: only when the outermost transaction commits."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import select, update

from propops.auth.models import User
from propops.infra import token_cache


async def test_only_the_outermost_commit_of_an_auth_change_invalidates(app: FastAPI) -> None:
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
    async with app.state.ctx.db.sessionmaker() as session:
        before = token_cache.generation()
        async with session.begin():
            await session.execute(select(User.id).limit(1))
        assert token_cache.generation() == before


async def test_an_ordinary_unit_of_work_change_invalidates(app: FastAPI) -> None:
    async with app.state.ctx.db.sessionmaker() as session:
        before = token_cache.generation()
        async with session.begin():
            user = (await session.execute(select(User).where(User.email == "agent004@example.com"))).scalar_one()
            user.phone = "01234 567890"
        assert token_cache.generation() > before
