"""Agent logic: branch visibility, agent profiles, branch assignment and sharing, SLA views.

Branch visibility is defined once, in ``visible_branches_select``; every agent-facing query (these
endpoints now, jobs later) filters through it, either as a SQL subquery
(``restrict_to_visible_branches``) or as a set of ids (``visible_branch_ids``):
- staff: every branch (``None``);
- agent: the branches assigned to them (primary) or shared with them, active or not, so existing
  work stays visible after a branch is disabled;
- anyone else (contractors): no branch.
No HTTP here; never commits.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, exists, false, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from propops.agents.models import Agent, AgentBranch
from propops.auth.models import ACCOUNT_AGENT, ACCOUNT_STAFF, STATUS_ACTIVE, User
from propops.auth.service import Principal, create_user, set_user_active
from propops.branches import service as branches
from propops.branches.models import Branch
from propops.core import audit
from propops.core.clock import iso
from propops.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from propops.core.pagination import Page
from propops.core.validation import check_uuid, clean_email, clean_phone, clean_text, like_pattern

AGENT_NOT_FOUND = "Agent not found."
S = TypeVar("S", bound=Select)  # type: ignore[type-arg]


# --- visibility (the one place) ------------------------------------------------------------------


def visible_branches_select(principal: Principal) -> Select[int] | None:
    """SELECT of the branch ids the caller may see, or None for every branch (staff)."""
    if principal.account_type_id == ACCOUNT_STAFF:
        return None
    if principal.account_type_id == ACCOUNT_AGENT:
        # correlate(None): a self-contained subquery, never tied to the tables of the outer query
        return (
            select(AgentBranch.branch_id)
            .join(Agent, Agent.id == AgentBranch.agent_id)
            .where(Agent.user_id == principal.user_id)
            .correlate(None)
        )
    return select(Branch.id).where(false()).correlate(None)


def visible_branches_sql(principal: Principal, p: Callable[[Any], str]) -> str | None:
    """``visible_branches_select`` as SQL text for the plain-SQL reads (``p`` binds a value and
    returns its placeholder), or None for every branch (staff)."""
    if principal.account_type_id == ACCOUNT_STAFF:
        return None
    if principal.account_type_id == ACCOUNT_AGENT:
        return (
            "SELECT vb.branch_id FROM agent_branches vb JOIN agents va ON va.id = vb.agent_id "  # noqa: S608 - bound
            f"WHERE va.user_id = {p(principal.user_id)}"
        )
    return "SELECT CAST(NULL AS INTEGER) WHERE 1 = 0"


async def visible_branch_ids(session: AsyncSession, principal: Principal) -> set[int] | None:
    """The caller's visible branch ids (None = all). Read fresh on every call, so a sharing change
    applies to the very next request."""
    stmt = visible_branches_select(principal)
    if stmt is None:
        return None
    return set((await session.execute(stmt)).scalars())


def branch_visibility_condition(branch_column: Any, principal: Principal) -> ColumnElement[bool] | None:
    """``branch_column IN (visible branches)``, or None when the caller sees everything."""
    stmt = visible_branches_select(principal)
    return None if stmt is None else branch_column.in_(stmt)


def restrict_to_visible_branches(stmt: S, branch_column: Any, principal: Principal) -> S:
    """Apply visibility to a query whose rows belong to ``branch_column`` (one SQL statement)."""
    condition = branch_visibility_condition(branch_column, principal)
    return stmt if condition is None else stmt.where(condition)


async def ensure_branch_visible(session: AsyncSession, principal: Principal, branch_id: int) -> Branch:
    """The branch, or the same 404 whether it does not exist or the caller may not see it."""
    stmt = restrict_to_visible_branches(select(Branch).where(Branch.id == branch_id), Branch.id, principal)
    branch = (await session.execute(stmt)).scalar_one_or_none()
    if branch is None:
        raise NotFound(branches.BRANCH_NOT_FOUND)
    return branch


def agent_visibility_condition(principal: Principal) -> ColumnElement[bool] | None:
    """An agent is visible when it works at a branch the caller sees (and always to itself)."""
    visible = visible_branches_select(principal)
    if visible is None:
        return None
    member = aliased(AgentBranch)  # the outer query may already join AgentBranch (primary branch)
    works_there = exists().where(member.agent_id == Agent.id, member.branch_id.in_(visible))
    return or_(Agent.user_id == principal.user_id, works_there)


async def get_visible_agent(session: AsyncSession, principal: Principal, agent_uuid: str | None) -> Agent:
    if not agent_uuid:
        raise InvalidInput.field("agent_uuid", "is required")
    stmt = select(Agent).where(Agent.uuid == check_uuid(agent_uuid, "agent_uuid"))
    condition = agent_visibility_condition(principal)
    if condition is not None:
        stmt = stmt.where(condition)
    agent = (await session.execute(stmt)).scalar_one_or_none()
    if agent is None:
        raise NotFound(AGENT_NOT_FOUND)
    return agent


async def own_agent(session: AsyncSession, principal: Principal) -> Agent | None:
    return (await session.execute(select(Agent).where(Agent.user_id == principal.user_id))).scalar_one_or_none()


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
    visible = agent_visibility_condition(principal)
    if visible is not None:
        conditions.append(visible)
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
    return restrict_to_visible_branches(stmt, AgentBranch.branch_id, principal)


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


# --- SLA ----------------------------------------------------------------------------------------


def _rule_view(rule: dict[str, Any]) -> dict[str, Any]:
    view: dict[str, Any] = {"priority_name": rule["priority_name"], "target_hours": rule["target_hours"]}
    if rule["job_type_name"] is not None:
        view["job_type_name"] = rule["job_type_name"]
    return view


# The SLA view in one plain statement (agent, visible assignments, their rules): through the ORM it
# was three statements and ~5 ms of CPU per request, the costliest read of the load report's mix.
# Visibility is ``visible_branches_select`` and ``agent_visibility_condition`` written as SQL (the
# authorisation matrix and tests/agents cover every kind of caller); the order is
# ``agent_assignments``'s, then ``branches.rules_by_branch``'s.
_SLA_SQL = (
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


async def agent_sla(
    read_all: Callable[..., Awaitable[list[tuple[Any, ...]]]], principal: Principal, agent_uuid: str | None
) -> dict[str, Any]:
    """The seed's shape for the primary branch, plus ``branches`` with the rules of each branch the
    agent may operate on (limited to what the caller may see). An agent may omit agent_uuid. On the
    raw reader (committed data, no session)."""
    params: list[Any] = []

    def p(value: Any) -> str:
        params.append(value)
        return "{" + str(len(params) - 1) + "}"

    staff = principal.account_type_id == ACCOUNT_STAFF
    assignments = "" if staff else f" AND ab.branch_id IN ({visible_branches_sql(principal, p)})"
    if not agent_uuid and principal.account_type_id == ACCOUNT_AGENT:
        agent = f"a.user_id = {p(principal.user_id)}"
    elif not agent_uuid:
        raise InvalidInput.field("agent_uuid", "is required")
    else:
        agent = f"a.uuid = {p(check_uuid(agent_uuid, 'agent_uuid'))}"
        if not staff:
            agent += (
                f" AND (a.user_id = {p(principal.user_id)} OR EXISTS (SELECT 1 FROM agent_branches m "  # noqa: S608
                f"WHERE m.agent_id = a.id AND m.branch_id IN ({visible_branches_sql(principal, p)})))"
            )
    rows = await read_all(_SLA_SQL.format(assignments=assignments, agent=agent), *params)
    if not rows:
        raise NotFound(AGENT_NOT_FOUND)
    out_branches: list[dict[str, Any]] = []
    for _uuid, branch_id, branch_name, is_primary, priority_name, job_type_name, hours in rows:
        if branch_id is None:
            continue
        if not out_branches or out_branches[-1]["branch_id"] != branch_id:
            out_branches.append(
                {"branch_id": branch_id, "branch_name": branch_name, "is_primary": bool(is_primary), "sla_rules": []}
            )
        if priority_name is not None:
            out_branches[-1]["sla_rules"].append(
                _rule_view({"priority_name": priority_name, "job_type_name": job_type_name, "target_hours": hours})
            )
    primary = next((b for b in out_branches if b["is_primary"]), None)
    return {
        "agent_uuid": rows[0][0],
        "branch_name": primary["branch_name"] if primary else None,
        "sla_rules": primary["sla_rules"] if primary else [],
        "branches": out_branches,
    }


# --- profiles -----------------------------------------------------------------------------------


def _require_staff(principal: Principal) -> None:
    if principal.account_type_id != ACCOUNT_STAFF:
        raise Forbidden()


async def agent_detail(session: AsyncSession, principal: Principal, agent: Agent) -> dict[str, Any]:
    user = await session.get_one(User, agent.user_id)
    assignments = await agent_assignments(session, principal, agent)
    primary = next((a for a in assignments if a["is_primary"]), None)
    return {
        "ID": agent.id,
        "uuid": agent.uuid,
        "user_uuid": user.uuid,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "phone": user.phone,
        "company_name": agent.company_name,
        "branch_id": primary["branch_id"] if primary else None,
        "branch_name": primary["branch_name"] if primary else None,
        "is_active": user.account_status_id == STATUS_ACTIVE,
        "created_at": iso(agent.created_at),
        "branches": assignments,
    }


def _name(value: str | None, field: str) -> str:
    cleaned = clean_text(value, field, 100, required=True)
    assert cleaned is not None
    return cleaned


async def create_agent(session: AsyncSession, principal: Principal, body: Any) -> Agent:
    """The login (Agent account type and role) and the profile, with a primary branch, in one go."""
    _require_staff(principal)
    missing = [f for f in ("email", "password", "first_name", "last_name", "branch_id") if getattr(body, f) is None]
    if missing:
        raise InvalidInput(
            f"Invalid or missing required parameter: {', '.join(missing)}",
            errors=[{"field": f, "message": "is required for action=create"} for f in missing],
        )
    first, last = _name(body.first_name, "first_name"), _name(body.last_name, "last_name")
    phone = clean_phone(body.phone)
    company = clean_text(body.company_name, "company_name", 200)
    primary = await ensure_branch_visible(session, principal, body.branch_id)
    shared = [await ensure_branch_visible(session, principal, b) for b in dict.fromkeys(body.shared_branch_ids or [])]
    user = await create_user(
        session,
        email=clean_email(body.email, required=True) or "",
        password=body.password,
        account_type_id=ACCOUNT_AGENT,
        first_name=first,
        last_name=last,
        phone=phone,
        actor_id=principal.user_id,
    )
    agent = Agent(user_id=user.id, company_name=company)
    session.add(agent)
    await session.flush()
    await assign_branch(session, agent, primary, make_primary=True, actor_id=principal.user_id)
    for branch in shared:
        await assign_branch(session, agent, branch, actor_id=principal.user_id)
    await audit.record(
        session,
        user_id=principal.user_id,
        action="create",
        entity="agent",
        entity_id=agent.id,
        after={"uuid": agent.uuid},
    )
    return agent


async def update_agent(session: AsyncSession, principal: Principal, body: Any) -> Agent:
    """Only the fields sent change; ``branch_id`` makes that branch the primary one."""
    _require_staff(principal)
    agent = await get_visible_agent(session, principal, body.agent_uuid)
    user = await session.get_one(User, agent.user_id)
    sent = body.model_fields_set
    before = {"first_name": user.first_name, "last_name": user.last_name, "email": user.email, "phone": user.phone}
    if "first_name" in sent:
        user.first_name = _name(body.first_name, "first_name")
    if "last_name" in sent:
        user.last_name = _name(body.last_name, "last_name")
    if "phone" in sent:
        user.phone = clean_phone(body.phone)
    if "company_name" in sent:
        agent.company_name = clean_text(body.company_name, "company_name", 200)
    if "email" in sent:
        email = clean_email(body.email, required=True) or ""
        taken = (await session.execute(select(User.id).where(User.email == email, User.id != user.id))).first()
        if taken:
            raise Conflict(
                "An account with this email already exists.", errors=[{"field": "email", "message": "already in use"}]
            )
        user.email = email
    if "password" in sent and body.password is not None:
        raise InvalidInput.field("password", "cannot be changed here; use the password reset flow")
    if body.branch_id is not None:
        branch = await ensure_branch_visible(session, principal, body.branch_id)
        await assign_branch(session, agent, branch, make_primary=True, actor_id=principal.user_id)
    await session.flush()
    await audit.record(
        session,
        user_id=principal.user_id,
        action="update",
        entity="agent",
        entity_id=agent.id,
        before=before,
        after={"first_name": user.first_name, "last_name": user.last_name, "email": user.email, "phone": user.phone},
    )
    return agent


async def set_agent_active(session: AsyncSession, principal: Principal, agent_uuid: str | None, active: bool) -> Agent:
    """Deactivation disables the login and revokes its sessions; history and assignments stay."""
    _require_staff(principal)
    agent = await get_visible_agent(session, principal, agent_uuid)
    user = await session.get_one(User, agent.user_id)
    if user.is_active != active:
        await set_user_active(session, user, active, actor_id=principal.user_id)
    return agent
