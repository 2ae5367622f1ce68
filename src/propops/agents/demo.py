"""Demo agent profiles for agent001..agent015@example.com: Agent IDs 10-24, fixed uuids.

Agent_001 is the seed's example (ID 10, uuid 880e8400-e29b-41d4-a716-446655440001, primary branch
Branch_001). Branch_001 is the head office every agent shares, so the seed's
``/api/agents/list?action=list&branch_id=1`` example returns all 15; a few agents share one more
branch besides.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from propops.agents.models import Agent, AgentBranch
from propops.auth.models import User
from propops.core.db import resync_id_sequence

if TYPE_CHECKING:
    from propops.demo import DemoContext

N_AGENTS = 15
FIRST_AGENT_ID = 10
HEAD_OFFICE = 1
EXTRA_SHARING = {2: [2], 3: [3], 7: [3], 12: [5]}  # agent number -> further shared branch ids


def agent_uuid(n: int) -> str:
    return f"880e8400-e29b-41d4-a716-4466554400{n:02d}"


def primary_branch(n: int) -> int:
    """Agents 1-5 at Branch_001, 6-8 at 002, 9-11 at 003, 12-13 at 004, 14-15 at 005."""
    if n <= 5:
        return 1
    if n <= 8:
        return 2
    if n <= 11:
        return 3
    return 4 if n <= 13 else 5


async def seed(session: AsyncSession, demo: DemoContext) -> None:
    for n in range(1, N_AGENTS + 1):
        user = demo.user(f"agent{n:03d}@example.com")
        agent = Agent(
            id=FIRST_AGENT_ID + n - 1, organisation_id=user.organisation_id, uuid=agent_uuid(n), user_id=user.id
        )
        session.add(agent)
    await session.flush()
    for n in range(1, N_AGENTS + 1):
        agent_id = FIRST_AGENT_ID + n - 1
        primary = primary_branch(n)
        shared = ([HEAD_OFFICE] if primary != HEAD_OFFICE else []) + EXTRA_SHARING.get(n, [])
        session.add(AgentBranch(agent_id=agent_id, branch_id=primary, is_primary=True))
        for branch_id in dict.fromkeys(b for b in shared if b != primary):
            session.add(AgentBranch(agent_id=agent_id, branch_id=branch_id, is_primary=False))
        await session.execute(
            update(User).where(User.id == demo.user(f"agent{n:03d}@example.com").id).values(branch_id=primary)
        )
    await session.flush()
    await resync_id_sequence(session, Agent.__table__)
