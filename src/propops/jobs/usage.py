"""Job counts shown by other domains: open jobs per branch, for the branch admin view (through
``branches.usage``, installed by ``propops.main``)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from propops.jobs.models import Job
from propops.lookups.models import JobStatus


async def open_job_counts(session: AsyncSession, organisation_id: int, branch_ids: Sequence[int]) -> dict[int, int]:
    """Open jobs per branch id of the organisation (missing ids mean 0): one grouped query over
    jobs whose status is open (``job_statuses.is_open``), served by the (organisation_id,
    branch_id, id) index."""
    counts = dict.fromkeys(branch_ids, 0)
    if not counts:
        return counts
    rows = await session.execute(
        select(Job.branch_id, func.count(Job.id))
        .join(JobStatus, JobStatus.id == Job.status_id)
        .where(Job.organisation_id == organisation_id, Job.branch_id.in_(list(counts)), JobStatus.is_open.is_(True))
        .group_by(Job.branch_id)
    )
    for branch_id, count in rows:
        counts[int(branch_id)] = int(count)
    return counts
