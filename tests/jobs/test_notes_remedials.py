"""Case notes (list/create, private notes, emails through the outbox) and remedial links."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from sqlalchemy import select

from propops.notifications.models import EmailOutbox
from tests.conftest import AuthedClient, assert_error
from tests.jobs.helpers import MANAGE, NOTES, REMEDIALS, act, job_count, new_job


async def test_case_notes_list_create_and_privacy(
    app: FastAPI,
    agent: AuthedClient,
    plumber: dict[str, Any],
    plumber_client: AuthedClient,
    contractor: AuthedClient,
    prop: dict[str, Any],
) -> None:
    job = await new_job(agent, prop, contractor_uuid=plumber["uuid"])
    u = job["uuid"]
    r = await agent.post(NOTES, json={"job_uuid": u, "note_text": "Keys with neighbour", "send_email": True})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["emails_queued"] == 1  # to the contractor; the author is not mailed
    r = await agent.post(
        NOTES, json={"job_uuid": u, "note_text": "Landlord slow to pay", "is_private": True, "send_email": True}
    )
    assert r.json()["data"]["emails_queued"] == 0  # private: agent is the author, contractor excluded
    r = await plumber_client.post(NOTES, json={"job_uuid": u, "note": "Parts ordered", "send_email": True})
    assert r.status_code == 200
    assert r.json()["data"]["emails_queued"] == 1
    assert_error(await plumber_client.post(NOTES, json={"job_uuid": u, "note_text": "x", "is_private": True}), 403)
    assert_error(await agent.post(NOTES, json={"job_uuid": u, "note_text": "   "}), 400, "note_text")
    assert_error(await contractor.post(NOTES, json={"job_uuid": u, "note_text": "hi"}), 404)
    assert_error(await agent.post(NOTES, json={"job_uuid": u, "note_text": "x"}, csrf=False), 403)

    r = await agent.get(NOTES, params={"action": "list", "job_uuid": u})
    assert r.json()["count"] == 3
    first = r.json()["data"][0]
    assert first["note_text"] == "Keys with neighbour"
    assert first["created_by_name"] == "Agent_001 Surname_001"
    assert first["send_email"] is True
    assert first["attachments_count"] == 0
    assert first["job_uuid"] == u
    r = await plumber_client.get(NOTES, params={"action": "list", "job_uuid": u})
    assert [n["note_text"] for n in r.json()["data"]] == ["Keys with neighbour", "Parts ordered"]
    assert_error(await contractor.get(NOTES, params={"action": "list", "job_uuid": u}), 404)
    assert_error(await agent.get(NOTES, params={"action": "list"}), 400, "job_uuid")
    assert_error(await agent.get(NOTES, params={"job_uuid": u}), 400, "action")
    async with app.state.ctx.db.sessionmaker() as session:
        subjects = (
            (
                await session.execute(
                    select(EmailOutbox.to_address).where(
                        EmailOutbox.subject.startswith(f"Case note on {job['job_ref']}:")
                    )
                )
            )
            .scalars()
            .all()
        )
    assert sorted(subjects) == sorted([plumber["email"], "agent001@example.com"])


async def test_remedial_link_create_and_delete(app: FastAPI, agent: AuthedClient, prop: dict[str, Any]) -> None:
    parent = await new_job(agent, prop)
    follow = await new_job(agent, prop)
    body = {"action": "create", "parent_job_uuid": parent["uuid"], "remedial_job_uuid": follow["uuid"]}
    assert_error(await agent.post(REMEDIALS, json=body), 400, "reason")
    r = await agent.post(REMEDIALS, json={**body, "reason": "Leak identified during initial repair."})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["created"] is False
    assert r.json()["data"]["remedial_job_ref"] == follow["job_ref"]
    assert_error(await agent.post(REMEDIALS, json={**body, "reason": "again"}), 409, "already")
    # a cycle is refused
    cyc = {"action": "create", "parent_job_uuid": follow["uuid"], "remedial_job_uuid": parent["uuid"], "reason": "x"}
    assert_error(await agent.post(REMEDIALS, json=cyc), 409, "cycle")
    self_link = {**body, "remedial_job_uuid": parent["uuid"], "reason": "x"}
    assert_error(await agent.post(REMEDIALS, json=self_link), 400, "own remedial")
    r = await agent.get(MANAGE, params={"action": "get", "uuid": parent["uuid"]})
    assert r.json()["data"]["remedial_jobs"] == [{"uuid": follow["uuid"], "job_ref": follow["job_ref"]}]
    r = await agent.get(MANAGE, params={"action": "get", "uuid": follow["uuid"]})
    assert r.json()["data"]["parent_job_uuid"] == parent["uuid"]
    # a new remedial job raised from the parent
    before = await job_count(app)
    r = await agent.post(
        REMEDIALS, json={"action": "create", "parent_job_uuid": parent["uuid"], "reason": "Damp patch"}
    )
    assert r.status_code == 200
    assert r.json()["data"]["created"] is True
    assert await job_count(app) == before + 1
    new_uuid = r.json()["data"]["remedial_job_uuid"]
    r = await agent.get(MANAGE, params={"action": "get", "uuid": new_uuid})
    data = r.json()["data"]
    assert data["job_title"] == f"Remedial: {parent['job_title']}"
    assert data["parent_job_uuid"] == parent["uuid"]
    assert data["job_description"] == "Damp patch"
    assert data["address_id"] == prop["ID"]
    # unlink
    r = await agent.post(
        REMEDIALS, json={"action": "delete", "parent_job_uuid": parent["uuid"], "remedial_job_uuid": follow["uuid"]}
    )
    assert r.status_code == 200
    assert_error(
        await agent.post(
            REMEDIALS, json={"action": "delete", "parent_job_uuid": parent["uuid"], "remedial_job_uuid": follow["uuid"]}
        ),
        409,
    )
    r = await agent.get(MANAGE, params={"action": "list_commits", "uuid": follow["uuid"]})
    assert [e["event"] for e in r.json()["data"]][-2:] == ["remedial", "remedial"]


async def test_remedials_permissions(
    contractor: AuthedClient, plumber_client: AuthedClient, agent: AuthedClient, prop: dict[str, Any]
) -> None:
    parent = await new_job(agent, prop)
    body = {"action": "create", "parent_job_uuid": parent["uuid"], "reason": "x"}
    assert_error(await plumber_client.post(REMEDIALS, json=body), 403)
    assert_error(await agent.post(REMEDIALS, json=body, csrf=False), 403)
    assert_error(
        await agent.post(REMEDIALS, json={**body, "parent_job_uuid": "00000000-0000-0000-0000-000000000000"}), 404
    )


async def test_delete_removes_everything_attached(
    app: FastAPI, admin: AuthedClient, agent: AuthedClient, prop: dict[str, Any]
) -> None:
    parent = await new_job(agent, prop)
    child = await new_job(agent, prop)
    await agent.post(NOTES, json={"job_uuid": parent["uuid"], "note_text": "note"})
    await agent.post(
        REMEDIALS,
        json={"action": "create", "parent_job_uuid": parent["uuid"], "remedial_job_uuid": child["uuid"], "reason": "r"},
    )
    r = await act(admin, parent["uuid"], "delete")
    assert r.status_code == 200
    assert r.json()["data"]["job_ref"] == parent["job_ref"]
    assert_error(await agent.get(NOTES, params={"action": "list", "job_uuid": parent["uuid"]}), 404)
    r = await agent.get(MANAGE, params={"action": "get", "uuid": child["uuid"]})
    assert r.json()["data"]["parent_job_uuid"] is None
