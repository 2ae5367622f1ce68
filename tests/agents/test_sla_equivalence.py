"""The agent SLA view's Core statements against the SQL text they replaced (kept here only, until
the old form is gone from the history's memory): the same rows for every kind of caller and every
agent of the demo data, on both databases."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from propops.agents.models import Agent
from propops.agents.repository import SLA_VIEW, caller_kind
from propops.agents.sla import agent_sla
from propops.auth.models import User
from propops.auth.service import Principal
from propops.core.errors import NotFound
from tests.oldsql import run_old_sql

_OLD_SLA_SQL = (
    "SELECT a.uuid, b.id, b.name, ab.is_primary, pr.name, jt.name, r.target_hours "
    "FROM agents a "
    "LEFT JOIN agent_branches ab ON ab.agent_id = a.id{assignments} "
    "LEFT JOIN branches b ON b.id = ab.branch_id "
    "LEFT JOIN sla_rules r ON r.branch_id = b.id "
    "LEFT JOIN priorities pr ON pr.id = r.priority_id "
    "LEFT JOIN job_types jt ON jt.id = r.job_type_id "
    "WHERE {agent} "
    "ORDER BY ab.is_primary DESC, b.name, b.id, pr.rank, (r.job_type_id IS NOT NULL), jt.name, r.id"
)
_OLD_VISIBLE = "SELECT vb.branch_id FROM agent_branches vb JOIN agents va ON va.id = vb.agent_id WHERE va.user_id = {v}"


def _old(principal: Principal, agent_uuid: str | None) -> tuple[str, list[Any]]:
    staff = principal.account_type_id == 1
    visible = _OLD_VISIBLE if principal.account_type_id == 2 else "SELECT CAST(NULL AS INTEGER) WHERE 1 = 0"
    assignments = "" if staff else f" AND ab.branch_id IN ({visible})"
    if agent_uuid is None:
        return _OLD_SLA_SQL.format(assignments=assignments, agent="a.user_id = {v}").replace("{v}", "{0}"), [
            principal.user_id
        ]
    if staff:
        return _OLD_SLA_SQL.format(assignments="", agent="a.uuid = {0}"), [agent_uuid]
    works_there = f"EXISTS (SELECT 1 FROM agent_branches m WHERE m.agent_id = a.id AND m.branch_id IN ({visible}))"
    agent = f"a.uuid = {{1}} AND (a.user_id = {{v}} OR {works_there})"
    sql = _OLD_SLA_SQL.format(assignments=assignments, agent=agent).replace("{v}", "{0}")
    return sql, [principal.user_id, agent_uuid]


async def _principal(app: FastAPI, email: str) -> Principal:
    async with app.state.ctx.db.sessionmaker() as session:
        u = (await session.execute(select(User).where(User.email == email))).scalar_one()
    return Principal(
        u.id, u.uuid, u.email, u.first_name, u.last_name, u.account_type_id, u.role_id, 0, "", frozenset(), 1, True
    )


async def _old_and_new(ctx: Any, principal: Any, agent_uuid: str | None) -> tuple[list[Any], list[Any]]:
    """The replaced SQL text's rows (booleans normalised) and the Core statement's, for one caller."""
    sql, params = _old(principal, agent_uuid)
    old = [
        (r[0], r[1], r[2], bool(r[3]) if r[3] is not None else None, *r[4:])
        for r in await run_old_sql(ctx, sql, params)
    ]
    stmt = SLA_VIEW[(caller_kind(principal), agent_uuid is not None)]
    values: dict[str, Any] = {"caller_id": principal.user_id, "organisation_id": principal.organisation_id}
    if agent_uuid is not None:
        values["agent_uuid"] = agent_uuid
    return old, await ctx.executor.committed(stmt, **values)


@pytest.mark.parametrize(
    "email", ["admin@example.com", "agent001@example.com", "agent002@example.com", "contractor001@example.com"]
)
async def test_same_rows_as_the_old_sql_for_every_agent(app: FastAPI, email: str) -> None:
    ctx = app.state.ctx
    principal = await _principal(app, email)
    async with ctx.db.sessionmaker() as session:
        ours = select(Agent.uuid).where(Agent.organisation_id == principal.organisation_id).order_by(Agent.id)
        uuids = list((await session.execute(ours)).scalars())
        theirs = select(Agent.uuid).where(Agent.organisation_id != principal.organisation_id)
        others = list((await session.execute(theirs)).scalars())
    assert others, "the demo's second organisation has an agent"
    for agent_uuid in others:  # the organisation rule, which the old text never had: no rows, a 404
        stmt = SLA_VIEW[(caller_kind(principal), True)]
        params = {"caller_id": principal.user_id, "organisation_id": principal.organisation_id}
        assert await ctx.executor.committed(stmt, **params, agent_uuid=agent_uuid) == []
        with pytest.raises(NotFound):
            await agent_sla(ctx.executor, principal, agent_uuid)
    compared = 0
    for agent_uuid in [None, *uuids]:
        if agent_uuid is None and principal.account_type_id != 2:
            continue
        old, new = await _old_and_new(ctx, principal, agent_uuid)
        assert new == old, agent_uuid
        compared += len(old)
        if not old and agent_uuid is not None:
            with pytest.raises(NotFound):
                await agent_sla(ctx.executor, principal, agent_uuid)
    if principal.account_type_id in (1, 2):
        assert compared > 0


async def test_same_rows_as_the_old_sql_on_generated_data(app: FastAPI, admin: Any) -> None:
    """Generated branches with random SLA rules (generic and per job type) and agents with random
    primary and shared branches; every caller of the world asks about every agent of it."""
    import random

    from tests.branches.util import new_agent, new_branch
    from tests.scopes import build_world

    rng = random.Random(1312)
    world = await build_world(app, admin)
    branch_ids = list(world.branches.values())
    for _ in range(3):
        branch_ids.append((await new_branch(admin))["ID"])
    for bid in branch_ids:
        rules, seen = [], set()
        for _ in range(rng.randint(0, 6)):
            key = (rng.choice(["Emergency", "High", "Medium", "Low"]), rng.choice([None, None, 1, 2, 3]))
            if key in seen:
                continue
            seen.add(key)
            rule: dict[str, Any] = {"priority": key[0], "target_hours": rng.randint(1, 400)}
            if key[1] is not None:
                rule["job_type_id"] = key[1]
            rules.append(rule)
        r = await admin.put("/api/admin/branches", json={"id": bid, "sla_rules": rules})
        assert r.status_code == 200, r.text
    uuids = [a["uuid"] for a in world.agents.values()]
    for _ in range(4):
        primary, *shared = rng.sample(branch_ids, rng.randint(1, 4))
        uuids.append((await new_agent(admin, primary, shared_branch_ids=shared))["uuid"])
    ctx = app.state.ctx
    compared = 0
    for principal in world.callers.values():
        for agent_uuid in [None, *uuids]:
            if agent_uuid is None and principal.account_type_id != 2:
                continue
            old, new = await _old_and_new(ctx, principal, agent_uuid)
            assert new == old, agent_uuid
            compared += len(old)
    assert compared > 20
