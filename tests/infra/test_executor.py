"""The statement executor on the real database (SQLite and PostgreSQL): typed values both ways,
the transaction boundary between its two runners, the compile cache and its refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from sqlalchemy import bindparam, select, update

from propops.auth.models import User
from propops.core.db import UTCDateTime
from propops.core.sqlfuncs import utc_iso
from propops.infra.executor import Executor

users = User.__table__

BY_EMAIL = select(users.c.id, users.c.email, users.c.created_at, utc_iso(users.c.created_at)).where(
    users.c.email == bindparam("email")
)
ACTIVE_STAFF_OR_AGENTS = (
    select(users.c.id)
    .where(users.c.account_type_id.in_([1, 2]), users.c.created_at < bindparam("before", type_=UTCDateTime()))
    .order_by(users.c.id)
)
RENAME = update(users).where(users.c.email == bindparam("email")).values(last_name=bindparam("last"))


def _ex(app: FastAPI) -> Executor:
    ex: Executor = app.state.ctx.executor
    return ex


async def test_committed_read_returns_typed_values(app: FastAPI) -> None:
    row = await _ex(app).committed_one(BY_EMAIL, email="admin@example.com")
    assert row is not None
    uid, email, created, created_iso = row
    assert email == "admin@example.com"
    assert isinstance(uid, int)
    assert isinstance(created, datetime)
    assert created.tzinfo is not None
    assert created_iso == created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert await _ex(app).committed_one(BY_EMAIL, email="nobody@example.com") is None


async def test_hostile_values_are_bound_not_spliced(app: FastAPI) -> None:
    assert await _ex(app).committed(BY_EMAIL, email="' OR 1=1 --") == []


async def test_constant_in_list_and_typed_bind(app: FastAPI) -> None:
    later = datetime.now(UTC) + timedelta(days=1)
    ids = [r[0] for r in await _ex(app).committed(ACTIVE_STAFF_OR_AGENTS, before=later)]
    assert len(ids) >= 3 + 15  # demo staff and agents
    assert ids == sorted(ids)
    assert await _ex(app).committed(ACTIVE_STAFF_OR_AGENTS, before=datetime(2000, 1, 1, tzinfo=UTC)) == []


async def test_in_transaction_sees_its_own_writes_and_the_reader_does_not(app: FastAPI) -> None:
    ex = _ex(app)
    email = "agent009@example.com"
    async with app.state.ctx.db.sessionmaker() as session, session.begin():
        before = (await session.execute(select(User.last_name).where(User.email == email))).scalar_one()
        await ex.in_transaction(session, RENAME, email=email, last="Uncommitted")
        inside = await ex.in_transaction_one(session, select(users.c.last_name).where(users.c.email == email))
        assert inside == ("Uncommitted",)
        outside = await ex.committed_one(select(users.c.last_name).where(users.c.email == email))
        assert outside == (before,)
        await session.rollback()
    after = await ex.committed_one(select(users.c.last_name).where(users.c.email == email))
    assert after == (before,)


async def test_each_statement_compiles_once(app: FastAPI) -> None:
    ex = _ex(app)
    first = ex.compiled(BY_EMAIL)
    assert ex.compiled(BY_EMAIL) is first
    placeholder = "$1" if ex.pg else "?"
    assert placeholder in first.sql
    assert "admin@example.com" not in first.sql


async def test_missing_parameter_and_runtime_list_are_refused(app: FastAPI) -> None:
    ex = _ex(app)
    with pytest.raises(TypeError, match="email"):
        await ex.committed(BY_EMAIL)
    with pytest.raises(ValueError, match="runtime list"):
        ex.compiled(select(users.c.id).where(users.c.id.in_(bindparam("ids", expanding=True))))
