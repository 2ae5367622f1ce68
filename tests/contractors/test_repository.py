"""``contractors.repository``: which contractor records a caller may act on, run directly."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import select

from propops.contractors.models import Contractor
from propops.contractors.repository import own_contractor, readable_contractor_ids, readable_contractors
from tests.conftest import AuthedClient, login_as
from tests.scopes import build_world, ids_of, principal


async def _contractor_id(app: FastAPI, email: str) -> int:
    async with app.state.ctx.db.sessionmaker() as session:
        return int((await session.execute(select(Contractor.id).where(Contractor.email == email))).scalar_one())


async def test_readable_contractors_per_caller(app: FastAPI, admin: AuthedClient) -> None:
    world = await build_world(app, admin)
    everyone = await ids_of(app, select(Contractor.id).where(Contractor.organisation_id == 1))
    another = await ids_of(app, select(Contractor.id).where(Contractor.organisation_id != 1))
    assert another  # the demo's second organisation has a contractor
    first = await _contractor_id(app, "contractor001@example.com")
    # staff: every contractor of their organisation, any status; none of another's
    assert await ids_of(app, readable_contractors(world.callers["staff"])) == everyone
    assert readable_contractor_ids(world.callers["staff"]) is None
    # a contractor: its own record only
    assert await ids_of(app, readable_contractors(world.callers["contractor"])) == {first}
    ids = readable_contractor_ids(world.callers["contractor"])
    assert ids is not None
    assert await ids_of(app, ids) == {first}
    # agents, with or without a shared branch: none
    for name in ("solo", "sharer"):
        assert await ids_of(app, readable_contractors(world.callers[name])) == set()
        ids = readable_contractor_ids(world.callers[name])
        assert ids is not None
        assert await ids_of(app, ids) == set()


async def test_own_contractor(app: FastAPI, admin: AuthedClient) -> None:
    second = await login_as(admin.http, "contractor002@example.com")
    assert await ids_of(app, own_contractor(await principal(app, second))) == {
        await _contractor_id(app, "contractor002@example.com")
    }
    assert await ids_of(app, own_contractor(await principal(app, admin))) == set()


async def test_manage_reads_go_through_the_rule(app: FastAPI, admin: AuthedClient) -> None:
    async with app.state.ctx.db.sessionmaker() as session:
        other = (await session.execute(select(Contractor.uuid).where(Contractor.email != "x").limit(1))).scalar_one()
    r = await admin.get("/api/contractors/manage", params={"action": "get", "uuid": other})
    assert r.status_code == 200
    assert r.json()["data"]["uuid"] == other
