"""``agents.repository``: the branch-visibility rule and the statements built on it, run directly
(on whichever database the suite runs on): what staff, an agent with and without a shared branch,
and a contractor can and cannot see."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from propops.agents import repository
from propops.agents.models import Agent
from propops.branches.models import Branch
from propops.properties.models import Property
from tests.conftest import AuthedClient
from tests.scopes import World, build_world, ids_of


@pytest.fixture
async def world(app: FastAPI, admin: AuthedClient) -> World:
    return await build_world(app, admin)


# caller -> the world's branches it may see
BRANCHES = {"staff": {"A", "B", "C"}, "solo": {"A"}, "sharer": {"B", "C"}, "third": {"C"}, "contractor": set()}
# caller -> the world's agents it may see (itself, and whoever works at a branch it sees)
AGENTS = {
    "staff": {"solo", "sharer", "third"},
    "solo": {"solo"},
    "sharer": {"sharer", "third"},
    "third": {"sharer", "third"},
    "contractor": set(),
}


async def test_visible_branch_ids(app: FastAPI, world: World) -> None:
    assert repository.visible_branch_ids(world.callers["staff"]) is None  # every branch, no condition
    for name in ("solo", "sharer", "third"):
        stmt = repository.visible_branch_ids(world.callers[name])
        assert stmt is not None
        assert world.branch_names(await ids_of(app, stmt)) == BRANCHES[name], name
        assert len(await ids_of(app, stmt)) == len(BRANCHES[name])  # a new agent sees nothing else
    stmt = repository.visible_branch_ids(world.callers["contractor"])
    assert stmt is not None
    assert await ids_of(app, stmt) == set()


@pytest.mark.parametrize("caller", list(BRANCHES))
async def test_readable_branches(app: FastAPI, world: World, caller: str) -> None:
    seen = await ids_of(app, repository.readable_branches(world.callers[caller]))
    assert world.branch_names(seen) == BRANCHES[caller]
    if caller == "staff":  # every branch of the staff member's organisation, none of another's
        organisation = world.callers[caller].organisation_id
        async with app.state.ctx.db.sessionmaker() as session:
            mine = select(Branch.id).where(Branch.organisation_id == organisation)
            assert seen == set((await session.execute(mine)).scalars())
            others = select(Branch.id).where(Branch.organisation_id != organisation)
            assert not seen & set((await session.execute(others)).scalars())
    elif caller != "contractor":
        assert len(seen) == len(BRANCHES[caller])
    else:
        assert seen == set()


@pytest.mark.parametrize("caller", list(BRANCHES))
async def test_in_visible_branches_on_another_table(app: FastAPI, world: World, caller: str) -> None:
    """The condition form, on rows that belong to a branch (here properties)."""
    condition = repository.in_visible_branches(Property.branch_id, world.callers[caller])
    stmt = select(Property.id)
    if caller == "staff":
        assert condition is None
    else:
        assert condition is not None
        stmt = stmt.where(condition)
    assert world.property_branches(await ids_of(app, stmt)) == BRANCHES[caller]


@pytest.mark.parametrize("caller", list(AGENTS))
async def test_readable_agents(app: FastAPI, world: World, caller: str) -> None:
    seen = await ids_of(app, repository.readable_agents(world.callers[caller]))
    assert world.agent_names(seen) == AGENTS[caller]
    if caller == "contractor":
        assert seen == set()
    condition = repository.agent_readable(world.callers[caller])
    columns = select(Agent.id) if condition is None else select(Agent.id).where(condition)
    assert await ids_of(app, columns) == seen


async def test_own_agent_and_primary_branch(app: FastAPI, world: World) -> None:
    own = await ids_of(app, repository.own_agent(world.callers["sharer"]))
    assert own == {world.agents["sharer"]["ID"]}
    assert await ids_of(app, repository.own_primary_branch_id(world.callers["sharer"])) == {world.branches["B"]}
    for caller in ("staff", "contractor"):
        assert await ids_of(app, repository.own_agent(world.callers[caller])) == set()
        assert await ids_of(app, repository.own_primary_branch_id(world.callers[caller])) == set()


@pytest.mark.parametrize(
    ("caller", "agent", "branches"),
    [
        ("staff", "sharer", {"B", "C"}),
        ("sharer", "third", {"C"}),  # only the branches the caller sees
        ("third", "sharer", {"C"}),
        ("solo", "solo", {"A"}),
        ("solo", "sharer", None),  # hidden: no rows, a 404
        ("contractor", "solo", None),
    ],
)
async def test_sla_view_by_uuid(app: FastAPI, world: World, caller: str, agent: str, branches: set[str] | None) -> None:
    who = world.callers[caller]
    stmt = repository.SLA_VIEW[(repository.caller_kind(who), True)]
    rows = await app.state.ctx.executor.committed(
        stmt, caller_id=who.user_id, organisation_id=who.organisation_id, agent_uuid=world.agents[agent]["uuid"]
    )
    if branches is None:
        assert rows == []
        return
    assert {r[0] for r in rows} == {world.agents[agent]["uuid"]}
    assert world.branch_names({r[1] for r in rows}) == branches
    assert rows[0][3] is (agent != "sharer" or caller == "staff")  # the primary branch first, when visible


async def test_sla_view_of_oneself(app: FastAPI, world: World) -> None:
    who = world.callers["sharer"]
    rows = await app.state.ctx.executor.committed(
        repository.SLA_VIEW[("agent", False)], caller_id=who.user_id, organisation_id=who.organisation_id
    )
    assert world.branch_names({r[1] for r in rows}) == {"B", "C"}
    assert [r[3] for r in rows][:1] == [True]
