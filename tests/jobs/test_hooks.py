"""Hooks into other domains: branch open-job counts, the worker schedule, concurrent SLA scans."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from sqlalchemy import update

from propops.core.clock import utcnow
from propops.jobs.breaches import scan_sla_breaches
from propops.jobs.models import Job
from propops.worker import periodic_jobs
from tests.branches.util import new_branch
from tests.conftest import AuthedClient, assert_error
from tests.jobs.helpers import act, new_job, new_property


async def test_branch_open_job_counts(admin: AuthedClient, plumber: dict[str, Any]) -> None:
    branch = await new_branch(admin, sla_rules=[{"priority": "Medium", "target_hours": 8}])
    prop = await new_property(admin, branch_id=branch["ID"])
    jobs = [await new_job(admin, prop) for _ in range(3)]
    await act(admin, jobs[0]["uuid"], "cancel")
    await act(admin, jobs[1]["uuid"], "assign", contractor_uuid=plumber["uuid"])
    r = await admin.get("/api/admin/branches", params={"action": "get", "id": branch["ID"]})
    assert r.json()["data"]["open_jobs"] == 2
    assert_error(await admin.delete("/api/admin/branches", params={"id": branch["ID"]}), 409, "2 open job")


def test_worker_schedule_runs_the_sla_scan(app: FastAPI) -> None:
    names = [p.name for p in periodic_jobs(app.state.ctx.settings)]
    assert "sla" in names


async def test_concurrent_scans_notify_each_breach_once(app: FastAPI, admin: AuthedClient) -> None:
    branch = await new_branch(admin, sla_rules=[{"priority": "Medium", "target_hours": 2}])
    prop = await new_property(admin, branch_id=branch["ID"])
    ids = [(await new_job(admin, prop))["ID"] for _ in range(5)]
    async with app.state.ctx.db.sessionmaker() as session, session.begin():
        await session.execute(update(Job).where(Job.id.in_(ids)).values(sla_due_at=utcnow() - timedelta(minutes=1)))
    db = app.state.ctx.db
    reports = await asyncio.gather(*(scan_sla_breaches(db, batch=2) for _ in range(3)))
    assert sum(r.breached for r in reports) >= 5
    async with db.sessionmaker() as session:
        from sqlalchemy import func, select

        from propops.jobs.models import JobEvent

        events = (
            await session.execute(
                select(JobEvent.job_id, func.count())
                .where(JobEvent.job_id.in_(ids), JobEvent.event == "sla_breached")
                .group_by(JobEvent.job_id)
            )
        ).all()
    assert sorted(events) == [(i, 1) for i in sorted(ids)]
