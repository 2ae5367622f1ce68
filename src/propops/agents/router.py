"""HTTP for agents: list, branch assignments and sharing, SLA view, and staff agent management.

Performance KPIs (``/api/agents/performance``) are served by ``propops.kpis``: they read jobs.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from propops.agents import profiles, service, sla
from propops.agents.schemas import (
    AgentDetail,
    AgentListItem,
    AgentManageRequest,
    AgentSla,
    Assignment,
    SharingRequest,
    SharingResult,
)
from propops.auth.deps import require
from propops.auth.service import Principal
from propops.core.deps import Ctx, DbSession
from propops.core.envelope import Envelope, ListEnvelope, RawJSONResponse, error_responses, ok, ok_list
from propops.core.pagination import PageParams
from propops.core.params import UUID_EXAMPLE, UUID_PATTERN, SearchQuery, UuidQuery
from propops.core.validation import clean_search

router = APIRouter(tags=["agents"])

ListCaller = Annotated[Principal, require("api.agents.list.manage")]
BranchesCaller = Annotated[Principal, require("api.agents.branches.manage")]
ManageCaller = Annotated[Principal, require("api.agents.manage.manage")]
BranchIdQuery = Annotated[int | None, Query(ge=1, le=2_147_483_647)]
AgentUuidQuery = UuidQuery


@router.get(
    "/api/agents/list",
    response_model=ListEnvelope[AgentListItem],
    responses=error_responses(400, 401, 403, 404, 429),
    summary="List active agents (agents see those at their own branches)",
)
async def list_agents(
    principal: ListCaller,
    session: DbSession,
    page: PageParams,
    action: Annotated[Literal["list"], Query(description="Must be list.")],
    search: SearchQuery = None,
    branch_id: Annotated[
        int | None, Query(ge=1, le=2_147_483_647, description="Agents assigned to or sharing this branch.")
    ] = None,
    include_inactive: Annotated[bool, Query(description="Also list deactivated agents.")] = False,
) -> dict[str, Any]:
    rows, count = await service.list_agents(
        session,
        principal,
        page,
        search=clean_search(search),
        branch_id=branch_id,
        include_inactive=include_inactive,
    )
    return ok_list(rows, count)


@router.get(
    "/api/agents/branches",
    response_model=ListEnvelope[Assignment],
    responses=error_responses(400, 401, 403, 404, 429),
    summary="Branch assignments of one agent (agent_uuid) or of all agents",
)
async def list_assignments(
    principal: BranchesCaller,
    session: DbSession,
    page: PageParams,
    agent_uuid: AgentUuidQuery = None,
    branch_id: BranchIdQuery = None,
) -> dict[str, Any]:
    rows, count = await service.list_assignments(session, principal, page, agent_uuid=agent_uuid, branch_id=branch_id)
    return ok_list(rows, count)


async def _sharing(principal: Principal, session: DbSession, body: SharingRequest) -> dict[str, Any]:
    result = await service.change_sharing(
        session,
        principal,
        action=body.action,
        agent_uuid=body.agent_uuid,
        branch_id=body.branch_id,
        is_primary=bool(body.is_primary),
    )
    return ok(result, "Branch assignment updated")


SHARING_ERRORS = error_responses(400, 401, 403, 404, 409, 429)


@router.post(
    "/api/agents/sharing",
    response_model=Envelope[SharingResult],
    responses=SHARING_ERRORS,
    summary="Assign or unassign (remove) a branch for an agent",
)
async def sharing(principal: BranchesCaller, session: DbSession, body: SharingRequest) -> dict[str, Any]:
    return await _sharing(principal, session, body)


@router.post(
    "/api/agents/branches",
    response_model=Envelope[SharingResult],
    responses=SHARING_ERRORS,
    summary="Assign or unassign (remove) a branch for an agent (same as /api/agents/sharing)",
)
async def branches_post(principal: BranchesCaller, session: DbSession, body: SharingRequest) -> dict[str, Any]:
    return await _sharing(principal, session, body)


@router.get(
    "/api/agents/sla",
    response_model=Envelope[AgentSla],
    response_model_exclude_unset=True,
    responses=error_responses(400, 401, 403, 404, 429),
    summary="SLA targets of an agent's primary branch, and of every branch it operates on",
)
async def agent_sla(principal: ListCaller, ctx: Ctx, agent_uuid: AgentUuidQuery = None) -> RawJSONResponse:
    """Plain values in the documented shape (only the keys the reply has), sent without re-validation."""
    return RawJSONResponse(ok(await sla.agent_sla(ctx.executor, principal, agent_uuid)))


@router.get(
    "/api/agents/manage",
    response_model=Envelope[AgentDetail],
    responses=error_responses(400, 401, 403, 404, 429),
    summary="One agent's profile and branches (action=get)",
)
async def get_agent(
    principal: ManageCaller,
    session: DbSession,
    action: Annotated[Literal["get"], Query(description="Must be get.")],
    agent_uuid: Annotated[str, Query(pattern=UUID_PATTERN, examples=[UUID_EXAMPLE])],
) -> dict[str, Any]:
    agent = await service.get_visible_agent(session, principal, agent_uuid)
    return ok(await profiles.agent_detail(session, principal, agent))


@router.post(
    "/api/agents/manage",
    response_model=Envelope[AgentDetail],
    responses=error_responses(400, 401, 403, 404, 409, 429),
    summary="Create, update, deactivate or activate an agent and its login",
)
async def manage_agent(principal: ManageCaller, session: DbSession, body: AgentManageRequest) -> dict[str, Any]:
    if body.action == "create":
        agent = await profiles.create_agent(session, principal, body)
        message = "Agent created"
    elif body.action == "update":
        agent = await profiles.update_agent(session, principal, body)
        message = "Agent updated"
    else:
        active = body.action == "activate"
        agent = await profiles.set_agent_active(session, principal, body.agent_uuid, active)
        message = "Agent activated" if active else "Agent deactivated"
    return ok(await profiles.agent_detail(session, principal, agent), message)
