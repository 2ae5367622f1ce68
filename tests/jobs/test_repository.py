"""The repository's statements run directly on the database (SQLite and PostgreSQL): what staff, an
agent with a shared branch, an agent without one, a contractor and an account of another kind can
see and lock; that a lock holds a second writer back; and each write statement's effect."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import bindparam, select

from propops.auth.models import ACCOUNT_AGENT, ACCOUNT_CONTRACTOR, ACCOUNT_STAFF, User
from propops.auth.service import Principal
from propops.core.clock import utcnow
from propops.core.pagination import Page
from propops.infra.executor import Executor
from propops.jobs import assignment, lifecycle, notify, repository, sla
from propops.jobs.models import STATUS_ASSIGNED, JobEvent, JobRecall, JobRow
from propops.jobs.repository import JobFilters
from tests.branches.util import new_agent, new_branch
from tests.conftest import AuthedClient
from tests.jobs.helpers import new_contractor, new_job, new_property

_USER = select(User.id, User.account_type_id).where(User.email == bindparam("email"))


@dataclass
class World:
    """Two fresh branches, three jobs, and who should see which."""

    principals: dict[str, Principal]
    jobs: dict[str, dict[str, Any]]
    sees: dict[str, set[str]]
    branch_ids: tuple[int, int]
    contractor: dict[str, Any]


async def _principal(ex: Executor, email: str) -> Principal:
    row = await ex.committed_one(_USER, email=email)
    assert row is not None
    return Principal(int(row[0]), "", email, "", "", int(row[1]), 0, 0, "", frozenset(), 1, True)


@pytest.fixture
async def world(app: FastAPI, admin: AuthedClient) -> World:
    ex: Executor = app.state.ctx.executor
    b1 = await new_branch(admin, sla_rules=[{"priority": "Medium", "target_hours": 72}])
    b2 = await new_branch(admin, sla_rules=[{"priority": "Medium", "target_hours": 48}])
    shared = await new_agent(admin, b2["ID"])
    r = await admin.post(
        "/api/agents/sharing", json={"action": "assign", "agent_uuid": shared["uuid"], "branch_id": b1["ID"]}
    )
    assert r.status_code == 200, r.text
    plain = await new_agent(admin, b2["ID"])
    plumber = await new_contractor(admin)
    p1, p2 = await new_property(admin, branch_id=b1["ID"]), await new_property(admin, branch_id=b2["ID"])
    jobs = {
        "b1_assigned": await new_job(admin, p1, contractor_uuid=plumber["uuid"]),
        "b1_open": await new_job(admin, p1),
        "b2_open": await new_job(admin, p2),
    }
    principals = {
        "staff": await _principal(ex, "admin@example.com"),
        "agent_shared": await _principal(ex, shared["email"]),
        "agent_plain": await _principal(ex, plain["email"]),
        "contractor": await _principal(ex, plumber["email"]),
    }
    landlord = principals["staff"]
    principals["landlord"] = Principal(landlord.user_id, "", "", "", "", 3, 0, 0, "", frozenset(), 1, True)
    sees = {
        "staff": set(jobs),
        "agent_shared": set(jobs),
        "agent_plain": {"b2_open"},
        "contractor": {"b1_assigned"},
        "landlord": set(),
    }
    assert principals["agent_plain"].account_type_id == ACCOUNT_AGENT
    assert principals["contractor"].account_type_id == ACCOUNT_CONTRACTOR
    return World(principals, jobs, sees, (b1["ID"], b2["ID"]), plumber)


async def test_kind_and_readable_jobs_statement(world: World) -> None:
    staff, agent = world.principals["staff"], world.principals["agent_plain"]
    assert repository.kind(staff) == ACCOUNT_STAFF
    assert repository.kind(world.principals["landlord"]) == 0
    # one statement per account kind, whoever asks: what is built on it is built once
    assert repository.readable_jobs(agent) is repository.readable_jobs(world.principals["agent_shared"])
    assert repository.readable_jobs(agent) is not repository.readable_jobs(staff)


async def test_who_sees_and_locks_what(app: FastAPI, world: World) -> None:
    ex: Executor = app.state.ctx.executor
    for who, principal in world.principals.items():
        for name, job in world.jobs.items():
            visible = name in world.sees[who]
            # the get
            detail = await repository.job_detail(ex, principal, job["uuid"])
            assert (detail is not None) == visible, (who, name)
            # the lock, and the plain read of a write path, in a transaction
            async with app.state.ctx.db.sessionmaker() as session, session.begin():
                for lock in (False, True):
                    row = await repository.find_job(ex, session, principal, job["uuid"], lock=lock)
                    assert (row is not None) == visible, (who, name, lock)
                    if row is not None:
                        assert isinstance(row, JobRow)
                        assert row.id == job["ID"]
                        assert row.uuid == job["uuid"]
        # the list of the two fresh branches
        for branch in world.branch_ids:
            rows, count = await repository.list_jobs(
                ex, principal, Page(limit=50, offset=0), JobFilters(branch_id=branch)
            )
            expected = {
                job["ID"] for n, job in world.jobs.items() if n in world.sees[who] and job["branch_id"] == branch
            }
            assert {r["ID"] for r in rows} == expected, (who, branch)
            assert count == len(expected), (who, branch)


async def test_detail_fields_and_children(app: FastAPI, admin: AuthedClient, world: World) -> None:
    ex: Executor = app.state.ctx.executor
    parent = world.jobs["b1_assigned"]
    r = await admin.post(
        "/api/jobs/remedials", json={"action": "create", "parent_job_uuid": parent["uuid"], "reason": "Leak again"}
    )
    assert r.status_code == 200, r.text
    child_uuid = r.json()["data"]["remedial_job_uuid"]
    staff = await repository.job_detail(ex, world.principals["staff"], parent["uuid"])
    assert staff is not None
    assert [c["uuid"] for c in staff["remedial_jobs"]] == [child_uuid]
    assert staff["contractor_uuid"] == world.contractor["uuid"]
    assert staff["status_id"] == STATUS_ASSIGNED
    assert staff["reported_at"].endswith("Z")
    assert len(staff["reported_at"]) == 20
    assert staff["sla_status"] == "on_track"
    assert staff["sla_target_hours"] == 72
    # the contractor sees the parent but not the unassigned child, nor the client budget
    mine = await repository.job_detail(ex, world.principals["contractor"], parent["uuid"])
    assert mine is not None
    assert mine["remedial_jobs"] == []
    assert mine["job_total_budget"] is None
    assert mine["allowed_actions"] == ["accept", "start"]


async def test_a_lock_holds_a_second_writer_back(app: FastAPI, world: World) -> None:
    ex: Executor = app.state.ctx.executor
    staff = world.principals["staff"]
    job_uuid = world.jobs["b2_open"]["uuid"]
    db = app.state.ctx.db
    first_locked, second_done = asyncio.Event(), asyncio.Event()
    seen_by_second: list[int] = []

    async def first() -> None:
        async with db.sessionmaker() as session, session.begin():
            job = await repository.find_job(ex, session, staff, job_uuid, lock=True)
            assert job is not None
            first_locked.set()
            await asyncio.sleep(0.5)
            assert not second_done.is_set()  # still waiting for this transaction
            await repository.save(ex, session, job._replace(recall_count=job.recall_count + 7), utcnow())

    async def second() -> None:
        await first_locked.wait()
        async with db.sessionmaker() as session, session.begin():
            job = await repository.find_job(ex, session, staff, job_uuid, lock=True)
            assert job is not None
            seen_by_second.append(job.recall_count)
        second_done.set()

    before = await repository.job_detail(ex, staff, job_uuid)
    assert before is not None
    await asyncio.gather(first(), second())
    assert seen_by_second == [before["recall_count"] + 7]  # read after the first committed


async def test_save_record_and_recall_statements(app: FastAPI, world: World) -> None:
    ex: Executor = app.state.ctx.executor
    staff = world.principals["staff"]
    job_uuid = world.jobs["b1_open"]["uuid"]
    now = utcnow()
    async with app.state.ctx.db.sessionmaker() as session, session.begin():
        job = await repository.find_job(ex, session, staff, job_uuid, lock=True)
        assert job is not None
        change = lifecycle.transition(job, "cancel", now)
        await repository.save(ex, session, change.job, now)
        await repository.record(ex, session, job.id, staff.user_id, "status", change.before, change.after, "x", now)
        await repository.record(ex, session, job.id, None, "note", None, None)
        await repository.record_recall(ex, session, job.id, "checked", staff.user_id, now)
        again = await repository.find_job(ex, session, staff, job_uuid, lock=False)
        assert again is not None
        assert again.status_id == change.job.status_id
        assert again.updated_at == now
        events = (
            await session.execute(select(JobEvent).where(JobEvent.job_id == job.id).order_by(JobEvent.id))
        ).scalars()
        last_two = list(events)[-2:]
        assert last_two[0].after == {"status_id": 7, "status": "Cancelled"}
        assert last_two[0].reason == "x"
        assert last_two[1].before is None
        assert last_two[1].after is None
        assert last_two[1].user_id is None
        recalls = (await session.execute(select(JobRecall.reason).where(JobRecall.job_id == job.id))).scalars()
        assert list(recalls) == ["checked"]
        await session.rollback()


async def test_create_context_and_insert(app: FastAPI, world: World, admin: AuthedClient) -> None:
    ex: Executor = app.state.ctx.executor
    b1, b2 = world.branch_ids
    prop = await new_property(admin, branch_id=b1)
    async with app.state.ctx.db.sessionmaker() as session, session.begin():
        for who, visible in (("staff", True), ("agent_shared", True), ("agent_plain", False), ("landlord", False)):
            ctx = await repository.new_job_context(
                ex, session, world.principals[who], property_id=prop["ID"], property_uuid=None,
                priority_id=3, job_type_id=4, own_agent=who.startswith("agent"),
            )  # fmt: skip
            assert (ctx is not None) == visible, who
        ctx = await repository.new_job_context(
            ex, session, world.principals["agent_shared"], property_id=None, property_uuid=prop["uuid"],
            priority_id=3, job_type_id=None, own_agent=True,
        )  # fmt: skip
        assert ctx is not None
        assert ctx.branch_id == b1
        assert ctx.sla_target_hours == 72
        assert ctx.own_agent_id is not None
        none = await repository.new_job_context(
            ex, session, world.principals["staff"], property_id=prop["ID"], property_uuid=None,
            priority_id=4, job_type_id=None, own_agent=False,
        )  # fmt: skip
        assert none is not None
        assert none.sla_target_hours is None
        assert none.own_agent_id is None
        target = await ex.in_transaction_one(session, sla.TARGET, branch_id=b2, priority_id=3, job_type_id=None)
        assert target == (48,)
        job = await repository.find_job(
            ex, session, world.principals["staff"], world.jobs["b1_open"]["uuid"], lock=False
        )
        assert job is not None
        values = {k: v for k, v in job._asdict().items() if k not in ("id", "job_ref", "sla_breach_notified_at")}
        values["uuid"] = "11111111-2222-4333-8444-555555555555"
        inserted = await repository.insert_job(ex, session, values)
        assert inserted.job_ref == f"JOB-{inserted.id:06d}"
        assert inserted.id > job.id
        again = await repository.find_job(ex, session, world.principals["staff"], values["uuid"], lock=False)
        assert again == inserted
        await session.rollback()


async def test_contacts_and_assignment_statements(app: FastAPI, world: World) -> None:
    ex: Executor = app.state.ctx.executor
    staff = world.principals["staff"]
    async with app.state.ctx.db.sessionmaker() as session:
        job = await repository.find_job(ex, session, staff, world.jobs["b1_assigned"]["uuid"], lock=False)
        assert job is not None
        email, first = await notify.contractor_contact(ex, session, job.contractor_id)
        assert email == world.contractor["email"]
        assert first == world.contractor["first_name"]
        assert await notify.agent_contact(ex, session, job._replace(agent_id=None)) == (
            None,
            None,
        )  # branch has no email
        ref = await assignment.contractor_ref(
            ex, session, job.organisation_id, job.contractor_id, world.contractor["uuid"]
        )
        assert ref is not None
        assert ref.id == job.contractor_id
        assert (
            await assignment.contractor_ref(
                ex, session, job.organisation_id, job.contractor_id + 10**6, world.contractor["uuid"]
            )
            is None
        )
        prop = await assignment.place(ex, session, job.property_id)
        assert prop.postcode == "LS1 4AP"
        assert prop.latitude is not None
        # one contractor through the built-once statements, and the suggestion candidates: the same verdict
        one = await assignment.evaluate(ex, session, job, prop, job.contractor_id)
        every = await assignment.evaluate(ex, session, job, prop, None)
        assert job.contractor_id is not None
        assert one[job.contractor_id].reasons == [] == every[job.contractor_id].reasons
        expired = await assignment.evaluate(
            ex, session, job, prop, job.contractor_id, utcnow().date() + timedelta(days=400)
        )
        assert expired[job.contractor_id].reasons[0].startswith("missing or expired certificates")
