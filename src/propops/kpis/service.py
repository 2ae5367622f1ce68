"""Agent performance KPIs (``GET /api/agents/performance``), computed in SQL.

No HTTP here (the route is ``kpis.router``).

Definitions (DESIGN §5; the seed's 150 / 138 / 5 give 92.0 and 3.3):
- a job belongs to the agent in ``jobs.agent_id``; the date range applies to ``jobs.reported_at``
  (whole UTC days, both ends inclusive);
- cancelled jobs (status 7) are left out of every figure: a cancelled job was never work to do, so
  counting it would lower the completion rate for something the agent rightly stopped;
- ``total_jobs``: the agent's jobs that are not cancelled;
- ``completed_jobs``: those with ``completed_at`` set and status Complete, Closed or Archived;
- ``completion_rate`` = completed / total × 100 and ``recall_rate`` = recalls / total × 100,
  rounded half-up to 1 decimal (0.0 when there are no jobs);
- ``recall_count``: ``job_recalls`` rows of those jobs (every recall counts, so a job recalled
  twice counts twice; the recall's own date does not matter, the job's ``reported_at`` does);
- ``open_jobs`` = total − completed (New, Assigned, In progress, and recalled jobs back at work);
- ``avg_completion_days``: mean of ``completed_at − reported_at`` in days over completed jobs,
  1 decimal, null when there are none.
Only jobs in branches the caller may see are counted (staff: all), so an agent never learns about
work in a branch hidden from them.

SQL: per request, at most three statements — the visible agent (one agent) or the count of visible
agents (all), then ONE statement: the page of agents as a CTE, a grouped aggregate over their jobs
and a grouped count of their recalls, both restricted to the page's agent ids (index range scans on
``jobs(agent_id, …)``), left-joined to the agents. No job row reaches Python; only the integer
ratios are divided here, exactly (``Decimal``), so SQLite and PostgreSQL round identically.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from propops.agents.models import Agent
from propops.agents.repository import agent_readable, in_visible_branches
from propops.agents.service import get_visible_agent
from propops.auth.models import STATUS_ACTIVE, User
from propops.auth.service import Principal
from propops.core.errors import InvalidInput
from propops.core.pagination import Page
from propops.core.sqlfuncs import seconds_between
from propops.jobs.models import COMPLETED_STATUSES, STATUS_CANCELLED, Job, JobRecall

DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ONE_DECIMAL = Decimal("0.1")
SECONDS_PER_DAY = Decimal(86400)


# --- input --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DateRange:
    """Half-open UTC bounds on ``reported_at``: [start, end)."""

    start: datetime | None = None
    end: datetime | None = None


def parse_day(value: str | None, field: str) -> date | None:
    """YYYY-MM-DD, a real calendar day; anything else is a 400 naming the field."""
    if value is None or value.strip() == "":
        return None
    value = value.strip()
    if not DATE_RE.match(value):
        raise InvalidInput.field(field, "must be a date as YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput.field(field, "is not a valid calendar date") from None


def date_range(date_from: str | None, date_to: str | None) -> DateRange:
    """Both ends inclusive, as whole UTC days; date_from after date_to is a 400."""
    first, last = parse_day(date_from, "date_from"), parse_day(date_to, "date_to")
    if first is not None and last is not None and first > last:
        raise InvalidInput(
            "date_from must be on or before date_to",
            errors=[{"field": "date_from", "message": "must be on or before date_to"}],
        )
    start = datetime.combine(first, time.min, tzinfo=UTC) if first else None
    end = None
    if last is not None and last < date.max:
        end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=UTC)
    return DateRange(start, end)


# --- SQL ----------------------------------------------------------------------------------------


def _job_conditions(principal: Principal, period: DateRange) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = [Job.status_id != STATUS_CANCELLED]
    if period.start is not None:
        conds.append(Job.reported_at >= period.start)
    if period.end is not None:
        conds.append(Job.reported_at < period.end)
    visible = in_visible_branches(Job.branch_id, principal)
    if visible is not None:
        conds.append(visible)
    return conds


def kpi_statement(agent_ids: Select[Any], principal: Principal, period: DateRange) -> Select[Any]:
    """One statement: for each agent id selected by ``agent_ids`` (ordered by id), its name and the
    raw aggregates (total, completed, mean completion seconds, recalls)."""
    page = agent_ids.cte("kpi_agents")
    in_page = Job.agent_id.in_(select(page.c.id))
    conds = _job_conditions(principal, period)
    completed = and_(Job.completed_at.is_not(None), Job.status_id.in_(COMPLETED_STATUSES))
    jobs = (
        select(
            Job.agent_id.label("agent_id"),
            func.count(Job.id).label("total"),
            func.sum(case((completed, 1), else_=0)).label("completed"),
            func.avg(case((completed, seconds_between(Job.reported_at, Job.completed_at)))).label("avg_seconds"),
        )
        .where(in_page, *conds)
        .group_by(Job.agent_id)
        .subquery("kpi_jobs")
    )
    recalls = (
        select(Job.agent_id.label("agent_id"), func.count(JobRecall.id).label("recalls"))
        .select_from(JobRecall)
        .join(Job, Job.id == JobRecall.job_id)
        .where(in_page, *conds)
        .group_by(Job.agent_id)
        .subquery("kpi_recalls")
    )
    return (
        select(
            Agent.uuid,
            User.first_name,
            User.last_name,
            jobs.c.total,
            jobs.c.completed,
            jobs.c.avg_seconds,
            recalls.c.recalls,
        )
        .select_from(page)
        .join(Agent, Agent.id == page.c.id)
        .join(User, User.id == Agent.user_id)
        .outerjoin(jobs, jobs.c.agent_id == Agent.id)
        .outerjoin(recalls, recalls.c.agent_id == Agent.id)
        .order_by(Agent.id)
    )


# --- figures ------------------------------------------------------------------------------------


def percent(part: int, whole: int) -> float:
    """part / whole × 100, half-up to 1 decimal, from the integers (no float error); 0.0 for 0/0."""
    if whole <= 0:
        return 0.0
    return float((Decimal(part) * 100 / Decimal(whole)).quantize(ONE_DECIMAL, rounding=ROUND_HALF_UP))


def days(avg_seconds: Any) -> float | None:
    if avg_seconds is None:
        return None
    value = Decimal(str(avg_seconds)) / SECONDS_PER_DAY
    return float(value.quantize(ONE_DECIMAL, rounding=ROUND_HALF_UP))


def figures(row: Any) -> dict[str, Any]:
    total, completed, recalls = int(row.total or 0), int(row.completed or 0), int(row.recalls or 0)
    return {
        "agent_uuid": row.uuid,
        "agent_name": f"{row.first_name} {row.last_name}".strip(),
        "total_jobs": total,
        "completed_jobs": completed,
        "completion_rate": percent(completed, total),
        "avg_completion_days": days(row.avg_seconds),
        "recall_count": recalls,
        "recall_rate": percent(recalls, total),
        "open_jobs": total - completed,
    }


# --- entry points -------------------------------------------------------------------------------


async def agent_performance(
    session: AsyncSession, principal: Principal, agent_uuid: str, period: DateRange
) -> dict[str, Any]:
    """One agent's figures; 404 when the agent does not exist or the caller may not see it."""
    agent = await get_visible_agent(session, principal, agent_uuid)
    stmt = kpi_statement(select(Agent.id).where(Agent.id == agent.id), principal, period)
    return figures((await session.execute(stmt)).one())


async def all_performance(
    session: AsyncSession, principal: Principal, page: Page, period: DateRange, *, include_inactive: bool = False
) -> tuple[list[dict[str, Any]], int]:
    """Every agent the caller may see (active ones unless ``include_inactive``), by agent ID."""
    conds: list[ColumnElement[bool]] = []
    if not include_inactive:
        conds.append(User.account_status_id == STATUS_ACTIVE)
    visible = agent_readable(principal)
    if visible is not None:
        conds.append(visible)
    base = select(Agent.id).join(User, User.id == Agent.user_id).where(*conds)
    count = int((await session.execute(select(func.count()).select_from(base.subquery()))).scalar_one())
    if not count or page.offset >= count:
        return [], count
    ids = base.order_by(Agent.id).limit(page.limit).offset(page.offset)
    rows = await session.execute(kpi_statement(ids, principal, period))
    return [figures(r) for r in rows], count
