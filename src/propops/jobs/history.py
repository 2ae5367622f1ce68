"""A job's history ("commits"): the ``job_events`` rows every change writes (``repository.record``),
listed oldest first for whoever may see the job."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from propops.auth.models import User
from propops.auth.service import Principal
from propops.core.clock import iso
from propops.core.pagination import Page
from propops.infra.executor import Executor
from propops.jobs.models import JobEvent
from propops.jobs.service import find_job


async def list_commits(
    executor: Executor, session: AsyncSession, principal: Principal, job_uuid: str | None, page: Page
) -> tuple[list[dict[str, Any]], int]:
    """The job's history, oldest first."""
    job = await find_job(executor, session, principal, job_uuid, lock=False)
    count = (await session.execute(select(func.count(JobEvent.id)).where(JobEvent.job_id == job.id))).scalar_one()
    rows = (
        await session.execute(
            select(JobEvent, User.first_name, User.last_name)
            .outerjoin(User, User.id == JobEvent.user_id)
            .where(JobEvent.job_id == job.id)
            .order_by(JobEvent.id)
            .limit(page.limit)
            .offset(page.offset)
        )
    ).all()
    return [
        {
            "ID": e.id,
            "event": e.event,
            "user_id": e.user_id,
            "user_name": None if first is None else f"{first} {last}".strip(),
            "before": e.before,
            "after": e.after,
            "reason": e.reason,
            "created_at": iso(e.created_at),
        }
        for e, first, last in rows
    ], int(count)
