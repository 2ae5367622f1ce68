"""The job lifecycle over HTTP: every transition, legal and illegal, per role; history; emails."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from sqlalchemy import select

from propops.jobs.models import JobRecall
from propops.notifications.models import EmailOutbox
from tests.conftest import AuthedClient, assert_error
from tests.jobs.helpers import MANAGE, act, get_job, new_job


async def outbox_to(app: FastAPI, address: str) -> list[EmailOutbox]:
    async with app.state.ctx.db.sessionmaker() as session:
        rows = await session.execute(
            select(EmailOutbox).where(EmailOutbox.to_address == address).order_by(EmailOutbox.id)
        )
        return list(rows.scalars())


async def test_full_lifecycle_by_the_right_roles(
    app: FastAPI,
    admin: AuthedClient,
    agent: AuthedClient,
    plumber: dict[str, Any],
    plumber_client: AuthedClient,
    prop: dict[str, Any],
) -> None:
    job = await new_job(agent, prop)
    assert job["status_name"] == "New"
    assert job["job_ref"] == f"JOB-{job['ID']:06d}"
    assert job["agent_name"] == "Agent_001 Surname_001"
    assert job["allowed_actions"] == ["assign", "cancel", "recall"] or "assign" in job["allowed_actions"]
    u = job["uuid"]

    r = await act(agent, u, "assign", contractor_uuid=plumber["uuid"])
    assert r.status_code == 200, r.text
    assert r.json()["data"]["status_name"] == "Assigned"
    mails = await outbox_to(app, plumber["email"])
    assert len(mails) == 1
    assert job["job_ref"] in mails[0].subject

    r = await act(plumber_client, u, "accept")
    assert r.status_code == 200, r.text
    assert r.json()["data"]["accepted_at"] is not None
    assert_error(await act(plumber_client, u, "accept"), 409, "already accepted")
    r = await act(plumber_client, u, "start")
    assert r.json()["data"]["status_name"] == "In progress"
    r = await act(plumber_client, u, "complete")
    assert r.json()["data"]["status_name"] == "Complete"
    agent_mails = await outbox_to(app, "agent001@example.com")
    assert any("completed" in m.subject.lower() and job["job_ref"] in m.subject for m in agent_mails)

    body = assert_error(await act(agent, u, "recall"), 400, "reason")
    assert body["errors"][0]["field"] == "reason"
    r = await act(agent, u, "recall", reason="Still leaking")
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["status_name"] == "In progress"
    assert data["recall_count"] == 1
    assert data["completed_at"] is None
    agent_mails = await outbox_to(app, "agent001@example.com")
    assert any("recalled" in m.subject.lower() and job["job_ref"] in m.subject for m in agent_mails)
    async with app.state.ctx.db.sessionmaker() as session:
        recalls = (await session.execute(select(JobRecall).where(JobRecall.job_id == job["ID"]))).scalars().all()
    assert [x.reason for x in recalls] == ["Still leaking"]

    assert (await act(plumber_client, u, "complete")).status_code == 200
    r = await act(agent, u, "close")
    assert r.json()["data"]["status_name"] == "Closed"
    assert r.json()["data"]["closed_at"]
    r = await act(admin, u, "archive")
    assert r.json()["data"]["status_name"] == "Archived"
    assert r.json()["data"]["allowed_actions"] == ["delete"]

    r = await agent.get(MANAGE, params={"action": "list_commits", "uuid": u})
    events = [e["event"] for e in r.json()["data"]]
    assert events == ["created", "assigned", "accepted", "status", "status", "recalled", "status", "status", "status"]
    assert r.json()["count"] == len(events)
    recall = r.json()["data"][5]
    assert recall["before"]["status"] == "Complete"
    assert recall["after"]["status"] == "In progress"
    assert recall["reason"] == "Still leaking"
    assert recall["user_name"] == "Agent_001 Surname_001"


async def test_illegal_transitions_are_409_naming_the_allowed(
    agent: AuthedClient, admin: AuthedClient, prop: dict[str, Any]
) -> None:
    u = (await new_job(agent, prop))["uuid"]
    for action in ("close", "archive", "recall", "reopen"):
        body = assert_error(await act(agent, u, action, reason="x"), 409, "allowed now")
        assert "assign" in body["error"]
        assert "cancel" in body["error"]
    assert_error(await act(admin, u, "complete"), 409, "Cannot complete a job that is New")
    assert_error(await act(admin, u, "start"), 409)
    r = await act(agent, u, "cancel", reason="Tenant fixed it")
    assert r.json()["data"]["status_name"] == "Cancelled"
    assert_error(await act(agent, u, "cancel"), 409)
    assert_error(await act(agent, u, "update", job_title="x"), 409)
    r = await act(agent, u, "reopen")
    assert r.json()["data"]["status_name"] == "New"
    assert (await act(agent, u, "cancel")).status_code == 200
    r = await act(admin, u, "archive")
    assert r.json()["data"]["status_name"] == "Archived"
    for action in ("assign", "cancel", "reopen", "update", "close", "recall"):
        assert_error(await act(admin, u, action, reason="x", contractor_id=1), 409 if action != "assign" else 409)


async def test_role_rules(
    agent: AuthedClient,
    admin: AuthedClient,
    plumber: dict[str, Any],
    plumber_client: AuthedClient,
    contractor: AuthedClient,
    prop: dict[str, Any],
) -> None:
    u = (await new_job(admin, prop, contractor_uuid=plumber["uuid"]))["uuid"]
    # agents may not do the contractor's steps, nor delete
    assert_error(await act(agent, u, "accept"), 403, "assigned contractor")
    assert_error(await act(agent, u, "start"), 403)
    assert_error(await act(agent, u, "delete"), 403, "staff")
    # contractors may not do office steps
    for action in ("cancel", "update", "assign", "close", "delete", "recall"):
        assert_error(await act(plumber_client, u, action, reason="x"), 403)
    assert_error(await plumber_client.post(MANAGE, json={"action": "create", "job_title": "x"}), 403)
    # another contractor does not see it at all
    assert_error(await act(contractor, u, "accept"), 404, "Job not found")
    assert_error(await get_job(contractor, u), 404)
    # staff may act on the contractor's behalf
    r = await act(admin, u, "start")
    assert r.status_code == 200
    assert r.json()["data"]["accepted_at"]
    r = await act(plumber_client, u, "complete")
    assert r.status_code == 200
    # contractor sees its own job, without the client budget
    r = await get_job(plumber_client, u)
    assert r.status_code == 200
    assert r.json()["data"]["job_total_budget"] is None
    assert r.json()["data"]["allowed_actions"] == []
    r = await act(admin, u, "delete")
    assert r.status_code == 200
    assert_error(await get_job(admin, u), 404)


async def test_recall_to_assigned_needs_acceptance_again(
    agent: AuthedClient, plumber: dict[str, Any], plumber_client: AuthedClient, prop: dict[str, Any]
) -> None:
    u = (await new_job(agent, prop, contractor_uuid=plumber["uuid"]))["uuid"]
    for action in ("accept", "start", "complete"):
        assert (await act(plumber_client, u, action)).status_code == 200
    assert_error(await act(agent, u, "recall", reason="x", to_status_id=5), 400, "to_status_id")
    r = await act(agent, u, "recall", reason="Wrong part fitted", to_status_id=2)
    data = r.json()["data"]
    assert data["status_name"] == "Assigned"
    assert data["accepted_at"] is None
    assert data["recall_count"] == 1
    assert (await act(plumber_client, u, "accept")).status_code == 200
    for action in ("start", "complete"):
        assert (await act(plumber_client, u, action)).status_code == 200
    r = await act(agent, u, "recall", reason="Again")
    assert r.json()["data"]["recall_count"] == 2


async def test_concurrent_recalls_count_once(
    app: FastAPI, agent: AuthedClient, admin: AuthedClient, plumber: dict[str, Any], prop: dict[str, Any]
) -> None:
    import asyncio

    u = (await new_job(agent, prop, contractor_uuid=plumber["uuid"]))["uuid"]
    for action in ("start", "complete"):
        assert (await act(admin, u, action)).status_code == 200
    results = await asyncio.gather(
        *(act(who, u, "recall", reason=f"race {i}") for i, who in enumerate((agent, admin) * 2))
    )
    assert sorted(r.status_code for r in results) == [200, 409, 409, 409]
    data = (await get_job(agent, u)).json()["data"]
    async with app.state.ctx.db.sessionmaker() as session:
        recalls = (await session.execute(select(JobRecall).where(JobRecall.job_id == data["ID"]))).scalars().all()
    assert data["recall_count"] == len(recalls) == 1
