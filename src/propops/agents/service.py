"""Agent logic: the caller-scoped look-ups (an agent or a branch, or 404), the agent list, and
branch assignment and sharing. Profiles are ``agents.profiles``, the SLA view ``agents.sla``; the
visibility rule and the statements are ``agents.repository``. No HTTP here; never commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from propops.agents import repository
from propops.agents.models import Agent, AgentBranch
from propops.auth.models import STATUS_ACTIVE, User
from propops.auth.service import Principal
from propops.branches.models import Branch
from propops.branches.service import BRANCH_NOT_FOUND
from propops.core import audit
from propops.core.clock import iso
from propops.core.errors import Conflict, InvalidInput, NotFound
from propops.core.pagination import Page
from propops.core.validation import check_uuid, like_pattern

AGENT_NOT_FOUND = "Agent not found."
S = TypeVar("S", bound=Select)  # type: ignore[type-arg]


# --- caller-scoped look-ups -----------------------------------------------------------------------


async def ensure_branch_visible(session: AsyncSession, principal: Principal, branch_id: int) -> Branch:
    """The branch, or the same 404 whether it does not exist or the caller may not see it."""
    stmt = repository.readable_branches(principal).where(Branch.id == branch_id)
    branch = (await session.execute(stmt)).scalar_one_or_none()
    if branch is None:
        raise NotFound(BRANCH_NOT_FOUND)
    return branch


async def get_visible_agent(session: AsyncSession, principal: Principal, agent_uuid: str | None) -> Agent:
    if not agent_uuid:
        raise InvalidInput.field("agent_uuid", "is required")
    stmt = repository.readable_agents(principal).where(Agent.uuid == check_uuid(agent_uuid, "agent_uuid"))
    agent = (await session.execute(stmt)).scalar_one_or_none()
    if agent is None:
        raise NotFound(AGENT_NOT_FOUND)
    return agent


async def own_agent(session: AsyncSession, principal: Principal) -> Agent | None:
    return (await session.execute(repository.own_agent(principal))).scalar_one_or_none()


# --- list ---------------------------------------------------------------------------------------


def _primary_join(stmt: S) -> S:
    return stmt.outerjoin(AgentBranch, (AgentBranch.agent_id == Agent.id) & AgentBranch.is_primary.is_(True)).outerjoin(
        Branch, Branch.id == AgentBranch.branch_id
    )


async def list_agents(
    session: AsyncSession,
    principal: Principal,
    page: Page,
    *,
    search: str | None = None,
    branch_id: int | None = None,
    include_inactive: bool = False,
) -> tuple[list[dict[str, Any]], int]:
    """Active agents (all, with include_inactive) the caller may see, ordered by ID."""
    conditions: list[ColumnElement[bool]] = []
    if not include_inactive:
        conditions.append(User.account_status_id == STATUS_ACTIVE)
    if search and search.strip():
        pattern = like_pattern(search)
        full_name = func.lower(User.first_name + " " + User.last_name)
        conditions.append(
            or_(
                func.lower(User.first_name).like(pattern, escape="\\"),
                func.lower(User.last_name).like(pattern, escape="\\"),
                full_name.like(pattern, escape="\\"),
                func.lower(User.email).like(pattern, escape="\\"),
            )
        )
    if branch_id is not None:
        await ensure_branch_visible(session, principal, branch_id)
        member = aliased(AgentBranch)
        conditions.append(exists().where(member.agent_id == Agent.id, member.branch_id == branch_id))
    conditions.append(repository.agent_readable(principal))
    base = select(Agent.id).join(User, User.id == Agent.user_id).where(*conditions)
    count = (await session.execute(select(func.count()).select_from(base.subquery()))).scalar_one()
    stmt = _primary_join(
        select(
            Agent.id,
            Agent.uuid,
            User.first_name,
            User.last_name,
            User.email,
            Branch.id,
            Branch.name,
            User.account_status_id,
        ).join(User, User.id == Agent.user_id)
    )
    stmt = stmt.where(*conditions).order_by(Agent.id).limit(page.limit).offset(page.offset)
    rows = [
        {
            "ID": r[0],
            "uuid": r[1],
            "first_name": r[2],
            "last_name": r[3],
            "email": r[4],
            "branch_id": r[5],
            "branch_name": r[6],
            "is_active": r[7] == STATUS_ACTIVE,
        }
        for r in await session.execute(stmt)
    ]
    return rows, int(count)


# --- assignments --------------------------------------------------------------------------------


def _assignments_stmt(principal: Principal) -> Any:
    stmt = (
        select(
            Agent.id,
            Agent.uuid,
            User.first_name,
            User.last_name,
            Branch.id,
            Branch.uuid,
            Branch.name,
            Branch.code,
            Branch.is_active,
            AgentBranch.is_primary,
            AgentBranch.created_at,
        )
        .select_from(AgentBranch)
        .join(Agent, Agent.id == AgentBranch.agent_id)
        .join(User, User.id == Agent.user_id)
        .join(Branch, Branch.id == AgentBranch.branch_id)
    )
    stmt = stmt.where(Branch.organisation_id == principal.organisation_id)
    visible = repository.in_visible_branches(AgentBranch.branch_id, principal)
    return stmt if visible is None else stmt.where(visible)


def _assignment_row(r: Any) -> dict[str, Any]:
    return {
        "agent_ID": r[0],
        "agent_uuid": r[1],
        "agent_name": f"{r[2]} {r[3]}".strip(),
        "branch_id": r[4],
        "branch_uuid": r[5],
        "branch_name": r[6],
        "branch_code": r[7],
        "branch_is_active": bool(r[8]),
        "is_primary": bool(r[9]),
        "shared": not r[9],
        "assigned_at": iso(r[10]),
    }


async def list_assignments(
    session: AsyncSession,
    principal: Principal,
    page: Page,
    *,
    agent_uuid: str | None = None,
    branch_id: int | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """Branch assignments of one agent or of all, primary first, within the caller's visibility."""
    stmt = _assignments_stmt(principal)
    if agent_uuid is not None:
        agent = await get_visible_agent(session, principal, agent_uuid)
        stmt = stmt.where(AgentBranch.agent_id == agent.id)
    if branch_id is not None:
        await ensure_branch_visible(session, principal, branch_id)
        stmt = stmt.where(AgentBranch.branch_id == branch_id)
    count = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    stmt = stmt.order_by(Agent.id, AgentBranch.is_primary.desc(), Branch.name, Branch.id)
    rows = await session.execute(stmt.limit(page.limit).offset(page.offset))
    return [_assignment_row(r) for r in rows], int(count)


async def agent_assignments(session: AsyncSession, principal: Principal, agent: Agent) -> list[dict[str, Any]]:
    stmt = _assignments_stmt(principal).where(AgentBranch.agent_id == agent.id)
    rows = await session.execute(stmt.order_by(AgentBranch.is_primary.desc(), Branch.name, Branch.id))
    return [_assignment_row(r) for r in rows]


async def _sync_user_branch(session: AsyncSession, agent: Agent) -> None:
    """Mirror the primary branch onto ``users.branch_id`` (shown by /api/auth/me)."""
    primary = (
        await session.execute(
            select(AgentBranch.branch_id).where(AgentBranch.agent_id == agent.id, AgentBranch.is_primary.is_(True))
        )
    ).scalar_one_or_none()
    await session.execute(update(User).where(User.id == agent.user_id).values(branch_id=primary))


async def assign_branch(
    session: AsyncSession, agent: Agent, branch: Branch, *, make_primary: bool = False, actor_id: int | None
) -> bool:
    """Idempotent. The first branch an agent gets is its primary; ``make_primary`` moves the primary."""
    rows = {
        r.branch_id: r
        for r in (await session.execute(select(AgentBranch).where(AgentBranch.agent_id == agent.id))).scalars()
    }
    current = rows.get(branch.id)
    if current is None and not branch.is_active:
        raise Conflict("The branch is disabled; enable it before assigning agents to it.")
    if current is not None and (current.is_primary or not make_primary):
        return False
    primary = next((r for r in rows.values() if r.is_primary), None)
    becomes_primary = make_primary or primary is None
    if becomes_primary and primary is not None:
        primary.is_primary = False
        await session.flush()  # the partial unique index allows one primary at a time
    if current is not None:
        current.is_primary = True
    else:
        try:
            async with session.begin_nested():
                session.add(AgentBranch(agent_id=agent.id, branch_id=branch.id, is_primary=becomes_primary))
        except IntegrityError:
            return False  # a concurrent request assigned it first: same end state
    await session.flush()
    await _sync_user_branch(session, agent)
    await audit.record(
        session,
        organisation_id=agent.organisation_id,
        user_id=actor_id,
        action="assign_branch",
        entity="agent",
        entity_id=agent.id,
        after={"branch_id": branch.id, "is_primary": becomes_primary},
    )
    return True


async def unassign_branch(session: AsyncSession, agent: Agent, branch: Branch, *, actor_id: int | None) -> bool:
    """Idempotent. An agent keeps at least one branch; losing the primary promotes the oldest shared."""
    rows = list(
        (
            await session.execute(
                select(AgentBranch)
                .where(AgentBranch.agent_id == agent.id)
                .order_by(AgentBranch.created_at, AgentBranch.branch_id)
            )
        ).scalars()
    )
    current = next((r for r in rows if r.branch_id == branch.id), None)
    if current is None:
        return False
    if len(rows) == 1:
        raise Conflict("This is the agent's only branch; assign another branch before removing it.")
    was_primary = current.is_primary
    await session.delete(current)
    await session.flush()
    if was_primary:
        successor = next(r for r in rows if r is not current)
        successor.is_primary = True
        await session.flush()
    await _sync_user_branch(session, agent)
    await audit.record(
        session,
        organisation_id=agent.organisation_id,
        user_id=actor_id,
        action="unassign_branch",
        entity="agent",
        entity_id=agent.id,
        before={"branch_id": branch.id, "is_primary": was_primary},
    )
    return True


async def change_sharing(
    session: AsyncSession, principal: Principal, *, action: str, agent_uuid: str, branch_id: int, is_primary: bool
) -> dict[str, Any]:
    agent = await get_visible_agent(session, principal, agent_uuid)
    branch = await ensure_branch_visible(session, principal, branch_id)
    if action == "assign":
        changed = await assign_branch(session, agent, branch, make_primary=is_primary, actor_id=principal.user_id)
    else:
        if is_primary:
            raise InvalidInput.field("is_primary", "only applies to action=assign")
        changed = await unassign_branch(session, agent, branch, actor_id=principal.user_id)
    return {
        "agent_uuid": agent.uuid,
        "branch_id": branch.id,
        "action": "assign" if action == "assign" else "unassign",
        "changed": changed,
        "branches": await agent_assignments(session, principal, agent),
    }


# --- branch usage (counted for the branch admin view, through ``branches.usage``) ------------------


def _active_at(organisation_id: int, branch_ids: Sequence[int]) -> Select[int, int]:
    return (
        select(AgentBranch.branch_id, func.count())
        .join(Agent, Agent.id == AgentBranch.agent_id)
        .join(User, User.id == Agent.user_id)
        .where(
            Agent.organisation_id == organisation_id,
            AgentBranch.branch_id.in_(list(branch_ids)),
            User.account_status_id == STATUS_ACTIVE,
        )
        .group_by(AgentBranch.branch_id)
    )


async def active_agent_counts(session: AsyncSession, organisation_id: int, branch_ids: Sequence[int]) -> dict[int, int]:
    """Active agents assigned to or sharing each branch (missing ids: 0), one grouped query."""
    counts = dict.fromkeys(branch_ids, 0)
    if counts:
        for branch_id, count in await session.execute(_active_at(organisation_id, list(counts))):
            counts[int(branch_id)] = int(count)
    return counts


async def sole_branch_agent_counts(
    session: AsyncSession, organisation_id: int, branch_ids: Sequence[int]
) -> dict[int, int]:
    """Active agents for whom the branch is the only one they may operate on (missing ids: 0)."""
    counts = dict.fromkeys(branch_ids, 0)
    if counts:
        other = aliased(AgentBranch)
        alone = ~exists().where(and_(other.agent_id == AgentBranch.agent_id, other.branch_id != AgentBranch.branch_id))
        for branch_id, count in await session.execute(_active_at(organisation_id, list(counts)).where(alone)):
            counts[int(branch_id)] = int(count)
    return counts
