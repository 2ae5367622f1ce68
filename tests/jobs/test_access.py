"""Visibility (agents: their branches; contractors: their jobs; 404 otherwise), permissions, CSRF,
hostile input, list filters, paging and update rules."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.branches.util import new_agent, new_branch
from tests.conftest import AuthedClient, assert_error, login_as
from tests.jobs.helpers import MANAGE, PASSWORD, act, create_job, get_job, job_count, new_job, new_property


@pytest.fixture
async def other_branch(admin: AuthedClient) -> dict[str, Any]:
    return await new_branch(admin, sla_rules=[{"priority": "Medium", "target_hours": 48}])


@pytest.fixture
async def outsider(client: httpx.AsyncClient, admin: AuthedClient, other_branch: dict[str, Any]) -> AuthedClient:
    """An agent of another branch only."""
    a = await new_agent(admin, other_branch["ID"])
    return await login_as(client, a["email"], a["password"])


async def test_agent_of_another_branch_gets_404(
    agent: AuthedClient, outsider: AuthedClient, plumber: dict[str, Any], prop: dict[str, Any]
) -> None:
    job = await new_job(agent, prop)
    assert_error(await get_job(outsider, job["uuid"]), 404, "Job not found")
    for action in ("update", "cancel", "assign", "recall"):
        assert_error(await act(outsider, job["uuid"], action, job_title="x", contractor_uuid=plumber["uuid"]), 404)
    assert_error(await outsider.get(MANAGE, params={"action": "list_commits", "uuid": job["uuid"]}), 404)
    r = await outsider.get(MANAGE, params={"action": "list", "search": job["job_ref"]})
    assert r.json()["count"] == 0
    # nor can they raise a job on an address they cannot see
    assert_error(await create_job(outsider, prop), 404, "Property not found")
    # nor name as responsible an agent they cannot see
    own = await new_property(outsider, branch_id=None)
    body = assert_error(await create_job(outsider, own, agent_uuid="880e8400-e29b-41d4-a716-446655440001"), 400)
    assert body["errors"] == [{"field": "agent_uuid", "message": "unknown agent"}]


async def test_outsider_sees_own_branch(
    outsider: AuthedClient, other_branch: dict[str, Any], admin: AuthedClient
) -> None:
    prop = await new_property(outsider, branch_id=None)
    assert prop["branch_id"] == other_branch["ID"]
    job = await new_job(outsider, prop)
    assert job["sla_target_hours"] == 48
    assert job["agent_name"] == "Test Agent"
    r = await outsider.get(MANAGE, params={"action": "list"})
    assert [row["ID"] for row in r.json()["data"]] == [job["ID"]]
    assert r.json()["count"] == 1
    r = await admin.get(MANAGE, params={"action": "list", "branch_id": other_branch["ID"]})
    assert r.json()["count"] == 1


async def test_contractor_sees_only_own_jobs(
    admin: AuthedClient,
    plumber: dict[str, Any],
    plumber_client: AuthedClient,
    contractor: AuthedClient,
    prop: dict[str, Any],
) -> None:
    mine = await new_job(admin, prop, contractor_uuid=plumber["uuid"])
    await new_job(admin, prop)
    r = await plumber_client.get(MANAGE, params={"action": "list"})
    assert [row["ID"] for row in r.json()["data"]] == [mine["ID"]]
    assert r.json()["count"] == 1
    r = await contractor.get(MANAGE, params={"action": "list", "search": mine["job_ref"]})
    assert r.json()["count"] == 0
    # after reassignment the first contractor loses sight of it
    from tests.jobs.helpers import new_contractor

    other = await new_contractor(admin)
    assert (await act(admin, mine["uuid"], "assign", contractor_uuid=other["uuid"])).status_code == 200
    assert_error(await get_job(plumber_client, mine["uuid"]), 404)


async def test_permissions_and_auth(client: httpx.AsyncClient, login: Any, prop: dict[str, Any]) -> None:
    assert_error(await client.get(MANAGE, params={"action": "list"}), 401)
    finance = await login("finance@example.com")
    r = await finance.get(MANAGE, params={"action": "list"})
    assert r.status_code == 200
    # properties: contractors have no key
    c = await login("contractor001@example.com")
    assert_error(await c.get("/api/properties/manage", params={"action": "list"}), 403)


async def test_csrf_missing_is_403_and_nothing_changes(app: FastAPI, agent: AuthedClient, prop: dict[str, Any]) -> None:
    before = await job_count(app)
    body = {"action": "create", "job_title": "No CSRF", "priority_id": 3, "job_type_id": 4, "address_id": prop["ID"]}
    assert_error(await agent.post(MANAGE, json=body, csrf=False), 403, "CSRF")
    assert_error(await agent.post(MANAGE, json=body, csrf=False, headers={"X-CSRF-Token": "forged"}), 403, "CSRF")
    assert await job_count(app) == before
    job = await new_job(agent, prop)
    assert_error(await agent.post(MANAGE, json={"action": "cancel", "uuid": job["uuid"]}, csrf=False), 403)
    assert (await get_job(agent, job["uuid"])).json()["data"]["status_name"] == "New"


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"priority_id": [1]}, "priority_id"),
        ({"priority_id": "Whenever"}, "priority_id"),
        ({"address_id": "1; DROP TABLE jobs"}, "address_id"),
        ({"address_id": -1}, "address_id"),
        ({"job_title": ""}, "job_title"),
        ({"job_title": "x" * 201}, "job_title"),
        ({"job_title": "bad\x07bell"}, "job_title"),
        ({"job_total_budget": -5}, "job_total_budget"),
        ({"job_total_budget": "1.234"}, "job_total_budget"),
        ({"contractor_budget": "lots"}, "contractor_budget"),
        ({"status_id": 4}, "status_id"),
        ({"trade_id": 99}, "trade_id"),
        ({"job_type_id": 999}, "job_type_id"),
        ({"agent_uuid": "' OR 1=1 --"}, "agent_uuid"),
        ({"address_uuid": "../../etc/passwd", "address_id": None}, "address_uuid"),
    ],
)
async def test_hostile_create_input_is_400_and_writes_nothing(
    app: FastAPI, agent: AuthedClient, prop: dict[str, Any], patch: dict[str, Any], field: str
) -> None:
    before = await job_count(app)
    body = assert_error(await create_job(agent, prop, **patch), 400)
    assert field in body["error"], body
    assert await job_count(app) == before


async def test_injection_strings_are_stored_verbatim(agent: AuthedClient, prop: dict[str, Any]) -> None:
    title = "Robert'); DROP TABLE jobs;-- <script>alert(1)</script>"
    job = await new_job(agent, prop, job_title=title, job_description="%_\\ literal")
    assert job["job_title"] == title
    assert job["job_description"] == "%_\\ literal"
    r = await agent.get(MANAGE, params={"action": "list", "search": "%_\\"})
    assert [row["ID"] for row in r.json()["data"]] == [job["ID"]]
    for bad in ({"action": "get", "uuid": "not-a-uuid"}, {"action": "nope"}, {}, {"action": "list", "limit": 0}):
        assert_error(await agent.get(MANAGE, params=bad), 400)
    assert_error(await agent.get(MANAGE, params={"action": "get", "uuid": "00000000-0000-0000-0000-000000000000"}), 404)
    assert_error(await agent.post(MANAGE, content=b"{not json", headers={"Content-Type": "application/json"}), 400)
    assert_error(await agent.post(MANAGE, json={"action": "explode", "uuid": job["uuid"]}), 400)


async def test_update_rules(
    admin: AuthedClient, agent: AuthedClient, plumber: dict[str, Any], prop: dict[str, Any]
) -> None:
    job = await new_job(agent, prop, job_total_budget=250.5, contractor_budget="200.00")
    assert job["job_total_budget"] == 250.5
    assert job["contractor_budget"] == 200.0
    r = await act(agent, job["uuid"], "update", job_description="Now also the bathroom", job_total_budget=None)
    assert r.json()["data"]["job_description"] == "Now also the bathroom"
    assert r.json()["data"]["job_total_budget"] is None
    commits = (await agent.get(MANAGE, params={"action": "list_commits", "uuid": job["uuid"]})).json()["data"]
    assert commits[-1]["event"] == "updated"
    assert commits[-1]["before"] == {"description": "Kitchen tap drips", "client_budget": "250.50"}
    assert_error(await act(agent, job["uuid"], "update", status_id=3), 409, "lifecycle")
    assert_error(await act(agent, job["uuid"], "update", contractor_uuid=plumber["uuid"]), 400, "assign")
    other = await new_property(agent)
    assert_error(await act(agent, job["uuid"], "update", address_id=other["ID"]), 400, "cannot be changed")
    assert (await act(agent, job["uuid"], "assign", contractor_uuid=plumber["uuid"])).status_code == 200
    assert_error(await act(agent, job["uuid"], "update", trade_id=3), 409, "trade")
    r = await act(admin, job["uuid"], "update", agent_uuid="880e8400-e29b-41d4-a716-446655440002")
    assert r.status_code == 200
    assert r.json()["data"]["agent_name"] == "Agent_002 Surname_002"


async def test_list_filters_paging_and_order(admin: AuthedClient, agent: AuthedClient, plumber: dict[str, Any]) -> None:
    branch = await new_branch(admin, sla_rules=[{"priority": "High", "target_hours": 24}])
    prop = await new_property(admin, branch_id=branch["ID"])
    a = await new_job(admin, prop, priority_id=2, job_type_id=4, job_title="Boiler service alpha")
    b = await new_job(admin, prop, priority_id=3, job_type_id=3)
    c = await new_job(admin, prop, priority_id=2, job_type_id=4, contractor_uuid=plumber["uuid"])
    base = {"action": "list", "branch_id": branch["ID"]}

    async def ids(**params: Any) -> tuple[list[int], int]:
        r = await admin.get(MANAGE, params={**base, **params})
        assert r.status_code == 200, r.text
        return [row["ID"] for row in r.json()["data"]], r.json()["count"]

    assert await ids() == ([c["ID"], b["ID"], a["ID"]], 3)
    assert await ids(limit=2) == ([c["ID"], b["ID"]], 3)
    assert await ids(limit=2, offset=2) == ([a["ID"]], 3)
    assert await ids(offset=10) == ([], 3)
    assert await ids(priority_id=2) == ([c["ID"], a["ID"]], 2)
    assert await ids(trade_id=3) == ([b["ID"]], 1)
    assert await ids(job_type_id=3) == ([b["ID"]], 1)
    assert await ids(status_id=2) == ([c["ID"]], 1)
    assert await ids(contractor_uuid=plumber["uuid"]) == ([c["ID"]], 1)
    assert await ids(contractor_id=plumber["ID"]) == ([c["ID"]], 1)
    assert await ids(search="boiler SERVICE") == ([a["ID"]], 1)
    assert await ids(search=a["job_ref"]) == ([a["ID"]], 1)
    assert await ids(address_id=prop["ID"]) == ([c["ID"], b["ID"], a["ID"]], 3)
    today = a["reported_at"][:10]
    assert (await ids(date_from=today, date_to=today))[1] == 3
    assert (await ids(date_from="2000-01-01", date_to="2000-01-02"))[1] == 0
    assert_error(await admin.get(MANAGE, params={**base, "date_from": "yesterday"}), 400, "date_from")
    assert_error(await admin.get(MANAGE, params={**base, "agent_uuid": "x"}), 400, "agent_uuid")
    r = await admin.get(MANAGE, params={**base, "agent_uuid": "880e8400-e29b-41d4-a716-446655440001"})
    assert r.json()["count"] == 0


async def test_case_notes_and_contractor_login(client: httpx.AsyncClient, plumber: dict[str, Any]) -> None:
    pc = await login_as(client, plumber["email"], PASSWORD)
    r = await pc.get(MANAGE, params={"action": "list"})
    assert r.status_code == 200
    assert r.json()["count"] == 0
