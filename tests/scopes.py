"""A small world of branches, agents and properties made through the API, for the tests of the
caller-scoped statements (``tests/*/test_repository.py``).

Branches A, B and C are new; ``solo`` is an agent at A only (no shared branch); ``sharer`` has B as
primary and C shared; ``third`` works at C only. Each has a property. The callers are real
principals, resolved from real tokens: staff (``admin``), the three agents and a contractor
(``contractor001``). Everything is uniquely named, so the session-wide database can hold it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Select

from propops.auth.service import Principal, authenticate_token
from tests.branches.util import new_agent, new_branch
from tests.conftest import AuthedClient, login_as
from tests.jobs.helpers import new_property


@dataclass
class World:
    branches: dict[str, int]  # "A", "B", "C" -> branch id
    agents: dict[str, dict[str, Any]]  # "solo", "sharer", "third" -> the agent as the API returned it
    properties: dict[str, int]  # branch name -> property id
    callers: dict[str, Principal]  # "staff", "solo", "sharer", "third", "contractor"

    def branch_names(self, ids: set[int]) -> set[str]:
        return {name for name, bid in self.branches.items() if bid in ids}

    def agent_names(self, ids: set[int]) -> set[str]:
        return {name for name, a in self.agents.items() if a["ID"] in ids}

    def property_branches(self, ids: set[int]) -> set[str]:
        return {name for name, pid in self.properties.items() if pid in ids}


async def principal(app: FastAPI, who: AuthedClient) -> Principal:
    return await authenticate_token(app.state.ctx, who.token)


async def build_world(app: FastAPI, admin: AuthedClient) -> World:
    branches = {name: (await new_branch(admin))["ID"] for name in "ABC"}
    solo = await new_agent(admin, branches["A"])
    sharer = await new_agent(admin, branches["B"], shared_branch_ids=[branches["C"]])
    third = await new_agent(admin, branches["C"])
    agents = {"solo": solo, "sharer": sharer, "third": third}
    properties = {name: (await new_property(admin, branch_id=bid))["ID"] for name, bid in branches.items()}
    callers = {"staff": await principal(app, admin)}
    for name, agent in agents.items():
        callers[name] = await principal(app, await login_as(admin.http, agent["email"], agent["password"]))
    callers["contractor"] = await principal(app, await login_as(admin.http, "contractor001@example.com"))
    return World(branches, agents, properties, callers)


async def ids_of(app: FastAPI, stmt: Select[Any]) -> set[int]:
    """The first column of every row of ``stmt`` (ids), through a session."""
    async with app.state.ctx.db.sessionmaker() as session:
        return {int(r[0]) if not hasattr(r[0], "id") else int(r[0].id) for r in await session.execute(stmt)}
