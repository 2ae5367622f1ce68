"""``properties.repository``: a property is visible exactly when its branch is, run directly."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from propops.properties.models import Property
from propops.properties.repository import readable_properties, readable_properties_with_branch
from tests.conftest import AuthedClient
from tests.scopes import World, build_world, ids_of

SEES = {"staff": {"A", "B", "C"}, "solo": {"A"}, "sharer": {"B", "C"}, "third": {"C"}, "contractor": set()}


@pytest.fixture
async def world(app: FastAPI, admin: AuthedClient) -> World:
    return await build_world(app, admin)


@pytest.mark.parametrize("caller", list(SEES))
async def test_readable_properties(app: FastAPI, world: World, caller: str) -> None:
    who = world.callers[caller]
    seen = await ids_of(app, readable_properties(who))
    assert world.property_branches(seen) == SEES[caller]
    if caller == "staff":  # every property of the organisation, none of another's
        assert seen == await ids_of(app, select(Property.id).where(Property.organisation_id == who.organisation_id))
        assert not seen & await ids_of(app, select(Property.id).where(Property.organisation_id != who.organisation_id))
    elif caller == "contractor":
        assert seen == set()
    else:
        assert len(seen) == len(SEES[caller])  # nothing beyond the world's branches
    async with app.state.ctx.db.sessionmaker() as session:
        rows = (await session.execute(readable_properties_with_branch(who))).all()
    assert {p.id for p, _ in rows} == seen
    names = {p.branch_id: name for p, name in rows}
    assert all(isinstance(n, str) and n.startswith("Test ") for b, n in names.items() if b in world.branches.values())


async def test_a_hidden_property_is_a_404_through_the_api(app: FastAPI, admin: AuthedClient, world: World) -> None:
    from tests.conftest import login_as

    solo = await login_as(admin.http, world.agents["solo"]["email"], world.agents["solo"]["password"])
    async with app.state.ctx.db.sessionmaker() as session:
        hidden = (await session.execute(select(Property.uuid).where(Property.id == world.properties["B"]))).scalar_one()
        mine = (await session.execute(select(Property.uuid).where(Property.id == world.properties["A"]))).scalar_one()
    r = await solo.get("/api/properties/manage", params={"action": "get", "uuid": hidden})
    assert r.status_code == 404
    assert r.json()["error"] == "Property not found."
    r = await solo.get("/api/properties/manage", params={"action": "get", "uuid": mine})
    assert r.status_code == 200
    assert r.json()["data"]["ID"] == world.properties["A"]
