"""``visible_branch_ids`` / ``restrict_to_visible_branches``: the one definition of branch visibility."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import select

from propops.agents.service import restrict_to_visible_branches, visible_branch_ids
from propops.auth.service import authenticate_token
from propops.branches.models import Branch
from tests.conftest import AuthedClient


class TestVisibleBranchIds:
    async def test_staff_agent_contractor(
        self, app: FastAPI, admin: AuthedClient, agent: AuthedClient, contractor: AuthedClient
    ) -> None:
        ctx = app.state.ctx
        async with ctx.db.sessionmaker() as session:
            staff = await authenticate_token(ctx, admin.token)
            assert await visible_branch_ids(session, staff) is None
            agent007 = await authenticate_token(ctx, (await _login(agent, "agent007@example.com")).token)
            assert await visible_branch_ids(session, agent007) == {1, 2, 3}
            who = await authenticate_token(ctx, contractor.token)
            assert await visible_branch_ids(session, who) == set()
            stmt = select(Branch.id).order_by(Branch.id)
            assert list((await session.execute(restrict_to_visible_branches(stmt, Branch.id, who))).scalars()) == []
            ids = (await session.execute(restrict_to_visible_branches(stmt, Branch.id, agent007))).scalars()
            assert list(ids) == [1, 2, 3]
            assert (
                len(list((await session.execute(restrict_to_visible_branches(stmt, Branch.id, staff))).scalars())) >= 5
            )


async def _login(client: AuthedClient, email: str) -> AuthedClient:
    from tests.conftest import login_as

    return await login_as(client.http, email)
