"""HTTP for agent performance KPIs: ``GET /api/agents/performance`` (an agents URL, served here
because the figures read jobs; see the package docstring)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from propops.agents.schemas import AgentPerformance
from propops.auth.deps import require
from propops.auth.service import Principal
from propops.core.deps import DbSession
from propops.core.envelope import Envelope, ListEnvelope, error_responses, ok, ok_list
from propops.core.pagination import PageParams
from propops.core.params import UUID_EXAMPLE, UUID_PATTERN, DayQuery
from propops.kpis import service

router = APIRouter(tags=["agents"])
ListCaller = Annotated[Principal, require("api.agents.list.manage")]


@router.get(
    "/api/agents/performance",
    response_model=Envelope[AgentPerformance] | ListEnvelope[AgentPerformance],
    responses=error_responses(400, 401, 403, 404, 429),
    summary="Performance KPIs of one agent (agent_uuid) or of every agent the caller may see (paged)",
    description=(
        "Jobs belong to an agent by jobs.agent_id; the optional range applies to reported_at (whole UTC "
        "days, both ends inclusive). Cancelled jobs are excluded. completion_rate = completed / total × 100, "
        "recall_rate = recalls / total × 100 (1 decimal), open_jobs = total − completed, "
        "avg_completion_days over completed jobs (null when none). Only jobs in branches the caller may see "
        "are counted. Without agent_uuid: a list ordered by agent ID, with count and limit/offset paging."
    ),
)
async def agent_performance(
    principal: ListCaller,
    session: DbSession,
    page: PageParams,
    agent_uuid: Annotated[
        str | None,
        Query(pattern=f"^$|{UUID_PATTERN}", examples=[UUID_EXAMPLE], description="Empty or absent: all agents."),
    ] = None,
    date_from: DayQuery = None,
    date_to: DayQuery = None,
    include_inactive: Annotated[bool, Query(description="All agents: also list deactivated agents.")] = False,
) -> dict[str, Any]:
    period = service.date_range(date_from, date_to)
    if agent_uuid:  # an empty agent_uuid= means "all", as an empty filter does elsewhere
        return ok(await service.agent_performance(session, principal, agent_uuid, period))
    rows, count = await service.all_performance(session, principal, page, period, include_inactive=include_inactive)
    return ok_list(rows, count)
