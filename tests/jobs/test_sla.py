"""SLA deadlines (per priority, job-type override, recomputation), SLA status, the breach scan,
and the emails of a whole job observed on a real SMTP server."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from propops.core.clock import utcnow
from propops.jobs.breaches import scan_sla_breaches
from propops.jobs.models import Job
from propops.notifications.delivery import deliver_due
from propops.notifications.models import EmailOutbox
from tests.branches.util import new_branch
from tests.conftest import AuthedClient, client_for, login_as
from tests.jobs.helpers import MANAGE, PASSWORD, act, new_contractor, new_job, new_property
from tests.notifications.smtp_sink import SmtpSink, free_port


def parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


@pytest.mark.parametrize(("priority", "hours"), [(1, 4), (2, 24), (3, 72), (4, 168), ("Urgent", 4), ("Low", 168)])
async def test_due_time_per_priority(agent: AuthedClient, prop: dict[str, Any], priority: Any, hours: int) -> None:
    job = await new_job(agent, prop, priority_id=priority)
    assert job["sla_target_hours"] == hours
    assert parse(job["sla_due_at"]) - parse(job["reported_at"]) == timedelta(hours=hours)
    assert job["sla_status"] == "on_track"


async def test_job_type_override_and_recompute_only_on_priority_or_type(admin: AuthedClient) -> None:
    branch = await new_branch(
        admin,
        sla_rules=[
            {"priority": "Medium", "target_hours": 72},
            {"priority": "High", "target_hours": 24},
            {"priority": "Medium", "job_type": "Gas Safety", "target_hours": 12},
        ],
    )
    prop = await new_property(admin, branch_id=branch["ID"])
    gas = await new_job(admin, prop, priority_id=3, job_type_id=2)
    assert gas["sla_target_hours"] == 12
    assert gas["trade_id"] == 1
    plain = await new_job(admin, prop, priority_id=3, job_type_id=4)
    assert plain["sla_target_hours"] == 72
    # a title change keeps the deadline
    r = await act(admin, plain["uuid"], "update", job_title="Renamed")
    assert r.json()["data"]["sla_due_at"] == plain["sla_due_at"]
    # a type change to the overridden one recomputes from the report time, with a history entry
    r = await act(admin, plain["uuid"], "update", job_type_id=2, trade_id=1)
    data = r.json()["data"]
    assert data["sla_target_hours"] == 12
    assert parse(data["sla_due_at"]) - parse(data["reported_at"]) == timedelta(hours=12)
    r = await act(admin, plain["uuid"], "update", priority_id="High")
    assert r.json()["data"]["sla_target_hours"] == 24
    r = await admin.get(MANAGE, params={"action": "list_commits", "uuid": plain["uuid"]})
    events = [(e["event"], e["after"]) for e in r.json()["data"]]
    recomputed = [a for e, a in events if e == "sla_recomputed"]
    assert [a["sla_target_hours"] for a in recomputed] == [12, 24]
    # no rule for the priority: no SLA
    low = await new_job(admin, prop, priority_id=4)
    assert low["sla_target_hours"] is None
    assert low["sla_due_at"] is None
    assert low["sla_status"] is None


async def _shift(app: FastAPI, job_id: int, *, due_in: timedelta, target_hours: int = 4) -> None:
    """Move a job's clock: reported ``target`` hours before its due time, due ``due_in`` from now."""
    due = utcnow() + due_in
    async with app.state.ctx.db.sessionmaker() as session, session.begin():
        await session.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(
                sla_due_at=due,
                sla_target_hours=target_hours,
                reported_at=due - timedelta(hours=target_hours),
                sla_breach_notified_at=None,
            )
        )


async def test_sla_status_and_filter(app: FastAPI, admin: AuthedClient) -> None:
    branch = await new_branch(admin, sla_rules=[{"priority": "Medium", "target_hours": 4}])
    prop = await new_property(admin, branch_id=branch["ID"])
    track, risk, late = [await new_job(admin, prop) for _ in range(3)]
    await _shift(app, risk["ID"], due_in=timedelta(minutes=30))  # 30 min of 4 h left: under 25 %
    await _shift(app, late["ID"], due_in=timedelta(minutes=-5))
    statuses = {}
    for j in (track, risk, late):
        r = await admin.get(MANAGE, params={"action": "get", "uuid": j["uuid"]})
        statuses[j["ID"]] = r.json()["data"]["sla_status"]
    assert statuses == {track["ID"]: "on_track", risk["ID"]: "at_risk", late["ID"]: "breached"}
    for status, expected in (("on_track", track), ("at_risk", risk), ("breached", late)):
        r = await admin.get(MANAGE, params={"action": "list", "branch_id": branch["ID"], "sla_status": status})
        assert [row["ID"] for row in r.json()["data"]] == [expected["ID"]], status
        assert r.json()["count"] == 1
    r = await admin.get(MANAGE, params={"action": "list", "branch_id": branch["ID"], "sla_status": "late"})
    assert r.status_code == 400


async def test_breach_scan_notifies_once(app: FastAPI, admin: AuthedClient, agent: AuthedClient) -> None:
    prop = await new_property(agent)
    job = await new_job(agent, prop)
    await _shift(app, job["ID"], due_in=timedelta(minutes=-1))
    db = app.state.ctx.db
    first = await scan_sla_breaches(db)
    assert first.breached >= 1
    second = await scan_sla_breaches(db)
    assert second.breached == 0
    assert second.emails == 0
    async with db.sessionmaker() as session:
        mails = (
            (await session.execute(select(EmailOutbox).where(EmailOutbox.subject.contains(job["job_ref"] + " "))))
            .scalars()
            .all()
        )
    breach = [m for m in mails if m.subject.startswith("SLA breached")]
    assert len(breach) == 1
    assert breach[0].to_address == "agent001@example.com"
    r = await agent.get(MANAGE, params={"action": "list_commits", "uuid": job["uuid"]})
    assert [e["event"] for e in r.json()["data"]].count("sla_breached") == 1


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink(port=free_port(8500, 8599))
    sink.start()
    yield sink
    sink.stop()


async def test_emails_of_a_job_arrive_over_smtp(make_app: Callable[..., Awaitable[FastAPI]], smtp: SmtpSink) -> None:
    app = await make_app(smtp_port=smtp.port)
    ctx = app.state.ctx
    async with client_for(app) as http:
        admin = await login_as(http, "admin@example.com")
        agent = await login_as(http, "agent001@example.com")
        plumber = await new_contractor(admin)
        pc = await login_as(http, plumber["email"], PASSWORD)
        prop = await new_property(agent)
        job = await new_job(agent, prop, contractor_uuid=plumber["uuid"])
        for action in ("accept", "start", "complete"):
            assert (await act(pc, job["uuid"], action)).status_code == 200
        assert (await act(agent, job["uuid"], "recall", reason="Dripping again")).status_code == 200
        await _shift(app, job["ID"], due_in=timedelta(minutes=-1))
        await scan_sla_breaches(ctx.db)
        r = await agent.post(
            "/api/jobs/case-notes",
            json={"job_uuid": job["uuid"], "note_text": "Tenant home after 5pm", "send_email": True},
        )
        assert r.status_code == 200
        assert r.json()["data"]["emails_queued"] == 1
    await deliver_due(ctx.db, ctx.settings)
    got = [(m.to[0], m.message["Subject"]) for m in smtp.received]
    ref = job["job_ref"]
    assert (plumber["email"], f"New job assigned: {ref} {job['job_title']}") in got
    to_agent = [s for to, s in got if to == "agent001@example.com"]
    assert any(s.startswith(f"Job completed: {ref}") for s in to_agent)
    assert any(s.startswith(f"Job recalled: {ref}") for s in to_agent)
    assert any(s.startswith(f"SLA breached: {ref}") for s in to_agent)
    assert any(to == plumber["email"] and s.startswith(f"Case note on {ref}") for to, s in got)
    assert any(to == plumber["email"] and s.startswith(f"Job recalled: {ref}") for to, s in got)
