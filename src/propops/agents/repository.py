"""Agent statements: what a caller may see of branches and agents, and the agent SLA view.

Every statement here is limited to the caller's organisation first (``Branch.organisation_id``,
``Agent.organisation_id``): another company's branch or agent is a missing one. Within it, branch
visibility is one rule, written once here (``visible_branch_ids_for``):
- staff: every branch of their organisation (``None``: no further condition);
- agent: the branches assigned to them (primary) or shared with them, active or not, so existing
  work stays visible after a branch is disabled;
- anyone else (contractors): no branch.
Every caller-scoped read of branches, agents, properties and jobs derives from it. It lives here,
not in ``branches``, because ``agent_branches`` is what grants it and agents sit above branches
(tests/quality/test_layers.py). It is read fresh by every statement, so a sharing change applies
to the very next request.

Statements run by ``propops.infra.executor`` are built once per caller kind with the caller as a
bound parameter (``visible_branch_ids_for(kind, bindparam(...))``); the request-time forms take the
``Principal``.
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy import BindParameter, ColumnElement, Select, and_, bindparam, exists, false, or_, select
from sqlalchemy.orm import InstrumentedAttribute, aliased

from propops.agents.models import Agent, AgentBranch
from propops.auth.models import ACCOUNT_AGENT, ACCOUNT_STAFF
from propops.auth.service import Principal
from propops.branches.models import Branch, SlaRule
from propops.lookups.models import JobType, Priority

CallerKind = Literal["staff", "agent", "none"]
BranchColumn = ColumnElement[int] | InstrumentedAttribute[int]
CALLER_KINDS: tuple[CallerKind, ...] = ("staff", "agent", "none")


def caller_kind(principal: Principal) -> CallerKind:
    if principal.account_type_id == ACCOUNT_STAFF:
        return "staff"
    if principal.account_type_id == ACCOUNT_AGENT:
        return "agent"
    return "none"


# --- branches ------------------------------------------------------------------------------------


def visible_branch_ids_for(kind: CallerKind, user_id: int | BindParameter[int]) -> Select[int] | None:
    """SELECT of the branch ids a caller of ``kind`` (the user ``user_id``) may see; None = every
    branch. ``correlate(None)``: a self-contained subquery, never tied to the outer query's tables."""
    if kind == "staff":
        return None
    stmt = select(AgentBranch.branch_id).correlate(None)
    if kind == "agent":
        return stmt.join(Agent, Agent.id == AgentBranch.agent_id).where(Agent.user_id == user_id)
    return stmt.where(false())


def visible_branch_ids(principal: Principal) -> Select[int] | None:
    """SELECT of the branch ids the caller may see, or None for every branch (staff)."""
    return visible_branch_ids_for(caller_kind(principal), principal.user_id)


def in_visible_branches(branch_column: BranchColumn, principal: Principal) -> ColumnElement[bool] | None:
    """``branch_column IN (visible branches)``, or None when the caller sees every branch: the
    condition for rows that belong to a branch (properties, jobs)."""
    visible = visible_branch_ids(principal)
    return None if visible is None else branch_column.in_(visible)


def readable_branches(principal: Principal) -> Select[Branch]:
    """The branches the caller may see (active or not): every branch lookup of an agent-facing
    endpoint starts here, so a hidden branch is the same 404 as a missing one."""
    stmt = select(Branch).where(Branch.organisation_id == principal.organisation_id)
    condition = in_visible_branches(Branch.id, principal)
    return stmt if condition is None else stmt.where(condition)


# --- agents ---------------------------------------------------------------------------------------


def agent_readable_for(
    kind: CallerKind, user_id: int | BindParameter[int], organisation_id: int | BindParameter[int]
) -> ColumnElement[bool]:
    """An agent of the caller's organisation is visible to staff, to itself, and to agents who
    share a branch with it."""
    same_organisation = Agent.organisation_id == organisation_id
    visible = visible_branch_ids_for(kind, user_id)
    if visible is None:
        return same_organisation
    member = aliased(AgentBranch)  # the outer query may already join AgentBranch (primary branch)
    works_there = exists().where(member.agent_id == Agent.id, member.branch_id.in_(visible))
    return and_(same_organisation, or_(Agent.user_id == user_id, works_there))


def agent_readable(principal: Principal) -> ColumnElement[bool]:
    """The condition of ``readable_agents``, for queries that select agents' columns with joins."""
    return agent_readable_for(caller_kind(principal), principal.user_id, principal.organisation_id)


def readable_agents(principal: Principal) -> Select[Agent]:
    """The agents the caller may see (any status)."""
    return select(Agent).select_from(Agent).where(agent_readable(principal))


def own_agent(principal: Principal) -> Select[Agent]:
    """The caller's own agent profile (none unless the caller is an agent)."""
    return select(Agent).where(Agent.user_id == principal.user_id)


def own_primary_branch_id(principal: Principal) -> Select[int]:
    """The caller's primary branch id (none unless the caller is an agent with one)."""
    return (
        select(AgentBranch.branch_id)
        .join(Agent, Agent.id == AgentBranch.agent_id)
        .where(Agent.user_id == principal.user_id, AgentBranch.is_primary.is_(True))
    )


# --- the SLA view (a hot read: built once per shape, run by the executor) ------------------------------


def _sla_view(kind: CallerKind, by_uuid: bool) -> Select[str, int, str, bool, str, str, int]:
    """The agent, its assignments in branches the caller sees, and their SLA rules, in one statement:
    rows (agent uuid, branch id, branch name, is primary, priority, job type, target hours), ordered
    as ``agent_assignments`` orders branches and ``branches.rules.rules_by_branch`` orders rules.
    Parameters: ``caller_id``, ``organisation_id``, ``agent_uuid`` when ``by_uuid``."""
    caller = bindparam("caller_id", type_=Agent.user_id.type)
    organisation = bindparam("organisation_id", type_=Agent.organisation_id.type)
    visible = visible_branch_ids_for(kind, caller)
    assignment = AgentBranch.agent_id == Agent.id
    if visible is not None:
        assignment = assignment & AgentBranch.branch_id.in_(visible)
    if by_uuid:
        agent = Agent.uuid == bindparam("agent_uuid", type_=Agent.uuid.type)
        agent = agent & agent_readable_for(kind, caller, organisation)
    else:  # an agent asking about itself
        agent = (Agent.user_id == caller) & (Agent.organisation_id == organisation)
    return (
        select(
            Agent.uuid,
            Branch.id,
            Branch.name,
            AgentBranch.is_primary,
            Priority.name,
            JobType.name,
            SlaRule.target_hours,
        )
        .select_from(Agent)
        .outerjoin(AgentBranch, assignment)
        .outerjoin(Branch, Branch.id == AgentBranch.branch_id)
        .outerjoin(SlaRule, SlaRule.branch_id == Branch.id)
        .outerjoin(Priority, Priority.id == SlaRule.priority_id)
        .outerjoin(JobType, JobType.id == SlaRule.job_type_id)
        .where(agent)
        .order_by(
            AgentBranch.is_primary.desc(),
            Branch.name,
            Branch.id,
            Priority.rank,
            SlaRule.job_type_id.is_not(None),
            JobType.name,
            SlaRule.id,
        )
    )


# (caller kind, by agent uuid): only an agent may leave the uuid out (meaning itself)
SLA_VIEW: dict[tuple[CallerKind, bool], Select[str, int, str, bool, str, str, int]] = {
    shape: _sla_view(*shape) for shape in [(kind, True) for kind in CALLER_KINDS] + [("agent", False)]
}
