"""The SLA target (``jobs.sla.TARGET``, read by job create and update) and ``open_job_counts``: a
job-type rule overrides the generic rule."""

from __future__ import annotations

from fastapi import FastAPI

from propops.jobs import sla
from propops.jobs.usage import open_job_counts


class TestSlaTargetHours:
    async def test_generic_override_and_missing(self, app: FastAPI) -> None:
        async def sla_target_hours(branch_id: int, priority_id: int, job_type_id: int | None) -> int | None:
            row = await app.state.ctx.executor.committed_one(
                sla.TARGET, branch_id=branch_id, priority_id=priority_id, job_type_id=job_type_id
            )
            return None if row is None else int(row[0])

        assert await sla_target_hours(1, 1, None) == 4
        assert await sla_target_hours(1, 4, 2) == 168  # no job-type rule: generic
        assert await sla_target_hours(2, 1, 2) == 2  # Gas Safety overrides 4
        assert await sla_target_hours(2, 1, None) == 4
        assert await sla_target_hours(2, 3, 2) == 72
        assert await sla_target_hours(5, 1, None) is None  # Branch_005 has no SLA
        assert await sla_target_hours(999999, 1, 1) is None

    async def test_open_job_counts_covers_every_branch_asked(self, app: FastAPI) -> None:
        async with app.state.ctx.db.sessionmaker() as session:
            counts = await open_job_counts(session, 1, [1, 2, 999999])
            assert set(counts) == {1, 2, 999999}
            assert counts[999999] == 0
            assert all(isinstance(v, int) and v >= 0 for v in counts.values())
