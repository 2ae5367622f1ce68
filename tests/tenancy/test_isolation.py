"""Organisations are isolated: the demo's second organisation (Riverside Homes) and the first (the
seed's data) see nothing of each other, and another organisation's record answers exactly like a
missing one (404, same body), for staff, agents and contractors, on every list and get.
"""

from __future__ import annotations

import uuid as uuid_mod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from propops.demo import SECOND_ADMIN, SECOND_AGENT, SECOND_CONTRACTOR
from propops.jobs.models import Job
from tests.conftest import AuthedClient, assert_error, client_for, login_as
from tests.jobs.helpers import new_job, new_property

AGENT_001 = "880e8400-e29b-41d4-a716-446655440001"
MISSING = str(uuid_mod.uuid4())


@dataclass
class Orgs:
    http: httpx.AsyncClient
    admin: AuthedClient  # first organisation (platform) SysOps
    agent: AuthedClient  # agent001, first organisation
    contractor: AuthedClient  # contractor001, first organisation
    r_admin: AuthedClient  # Riverside Homes SysOps
    r_agent: AuthedClient
    r_contractor: AuthedClient
    first_job: dict[str, Any]  # first organisation, agent001's branch, assigned to contractor001
    first_property: dict[str, Any]
    first_contractor_uuid: str
    first_cert: dict[str, Any]
    r_job: dict[str, Any]  # a Riverside job assigned to the Riverside contractor
    r_open_job: dict[str, Any]  # a Riverside job still New
    r_contractor_uuid: str
    r_agent_uuid: str
    first_user_uuid: str  # agent001's account


@pytest.fixture(scope="module")
async def orgs(app: FastAPI) -> Any:
    async with client_for(app) as http:
        admin = await login_as(http, "admin@example.com")
        agent = await login_as(http, "agent001@example.com")
        contractor = await login_as(http, "contractor001@example.com")
        r_admin = await login_as(http, SECOND_ADMIN)
        r_agent = await login_as(http, SECOND_AGENT)
        r_contractor = await login_as(http, SECOND_CONTRACTOR)
        profile = (await contractor.get("/api/contractors/profile")).json()["data"]
        prop = await new_property(admin, branch_id=1)
        job = await new_job(admin, prop, contractor_uuid=profile["uuid"], override_reason="isolation fixture")
        certs = (await contractor.get("/api/contractors/certifications", params={"action": "list", "limit": 1})).json()
        r_jobs = (await r_contractor.get("/api/jobs/manage", params={"action": "list"})).json()
        assert r_jobs["count"] >= 1, r_jobs
        r_profile = (await r_contractor.get("/api/contractors/profile")).json()["data"]
        r_all = (await r_admin.get("/api/jobs/manage", params={"action": "list", "status_id": 1})).json()["data"]
        r_agents = (await r_admin.get("/api/agents/list", params={"action": "list"})).json()
        yield Orgs(
            http=http,
            admin=admin,
            agent=agent,
            contractor=contractor,
            r_admin=r_admin,
            r_agent=r_agent,
            r_contractor=r_contractor,
            first_job=job,
            first_property=prop,
            first_contractor_uuid=profile["uuid"],
            first_cert=certs["data"][0],
            r_job=r_jobs["data"][0],
            r_open_job=r_all[0],
            r_contractor_uuid=r_profile["uuid"],
            r_agent_uuid=r_agents["data"][0]["uuid"],
            first_user_uuid=(await agent.get("/api/auth/me")).json()["data"]["uuid"],
        )


def same_as_missing(theirs: httpx.Response, missing: httpx.Response) -> None:
    body = assert_error(theirs, 404)
    assert missing.status_code == 404, missing.text
    assert body["error"] == missing.json()["error"]
    assert body.get("errors") == missing.json().get("errors")


# (who in Riverside, method, path, request(orgs, target)), the target being the first organisation's
# record, then a missing one of the same shape: every cell must answer alike, with 404.
Case = tuple[str, str, str, Callable[[Orgs, str], dict[str, Any]], Callable[[Orgs], tuple[str, str]]]


def job(o: Orgs) -> tuple[str, str]:
    return o.first_job["uuid"], MISSING


def prop(o: Orgs) -> tuple[str, str]:
    return o.first_property["uuid"], MISSING


def contractor(o: Orgs) -> tuple[str, str]:
    return o.first_contractor_uuid, MISSING


def agent001(o: Orgs) -> tuple[str, str]:
    return AGENT_001, MISSING


def cert_file(o: Orgs) -> tuple[str, str]:
    name: str = o.first_cert["file"]
    return name, f"cert_999999_999999_999999.{name.rpartition('.')[2]}"


def cert_uuid(o: Orgs) -> tuple[str, str]:
    return o.first_cert["uuid"], MISSING


CASES: list[Case] = []
for who in ("r_admin", "r_agent", "r_contractor"):
    CASES += [
        (who, "GET", "/api/jobs/manage", lambda o, t: {"params": {"action": "get", "uuid": t}}, job),
        (who, "GET", "/api/jobs/manage", lambda o, t: {"params": {"action": "list_commits", "uuid": t}}, job),
        (who, "GET", "/api/jobs/case-notes", lambda o, t: {"params": {"action": "list", "job_uuid": t}}, job),
        (who, "POST", "/api/jobs/case-notes", lambda o, t: {"json": {"job_uuid": t, "note_text": "hi"}}, job),
    ]
for who in ("r_admin", "r_agent"):
    CASES += [
        (who, "POST", "/api/jobs/manage", lambda o, t: {"json": {"action": "cancel", "uuid": t, "reason": "x"}}, job),
        (
            who,
            "POST",
            "/api/jobs/manage",
            lambda o, t: {"json": {"action": "update", "uuid": t, "job_title": "x"}},
            job,
        ),
        (who, "GET", "/api/properties/manage", lambda o, t: {"params": {"action": "get", "uuid": t}}, prop),
        (
            who,
            "POST",
            "/api/properties/manage",
            lambda o, t: {"json": {"action": "update", "uuid": t, "town": "Elsewhere"}},
            prop,
        ),
        (who, "GET", "/api/agents/sla", lambda o, t: {"params": {"agent_uuid": t}}, agent001),
        (who, "GET", "/api/agents/performance", lambda o, t: {"params": {"agent_uuid": t}}, agent001),
    ]
CASES += [
    (
        "r_admin",
        "GET",
        "/api/users/users",
        lambda o, t: {"params": {"action": "get_user", "uuid": t}},
        lambda o: (o.first_user_uuid, MISSING),
    ),
    (
        "r_admin",
        "POST",
        "/api/users/users",
        lambda o, t: {"json": {"action": "toggle_status", "uuid": t}},
        lambda o: (o.first_user_uuid, MISSING),
    ),
    ("r_admin", "GET", "/api/agents/manage", lambda o, t: {"params": {"action": "get", "agent_uuid": t}}, agent001),
    ("r_admin", "GET", "/api/contractors/manage", lambda o, t: {"params": {"action": "get", "uuid": t}}, contractor),
    (
        "r_admin",
        "POST",
        "/api/contractors/manage",
        lambda o, t: {"json": {"action": "deactivate", "uuid": t}},
        contractor,
    ),
    (
        "r_admin",
        "GET",
        "/api/contractors/certifications",
        lambda o, t: {"params": {"action": "list", "contractor_uuid": t}},
        contractor,
    ),
    (
        "r_admin",
        "GET",
        "/api/contractors/certifications/compliance",
        lambda o, t: {"params": {"contractor_uuid": t}},
        contractor,
    ),
    ("r_admin", "GET", "/api/contractors/certification", lambda o, t: {"params": {"file": t}}, cert_file),
    ("r_contractor", "GET", "/api/contractors/certification", lambda o, t: {"params": {"file": t}}, cert_file),
    (
        "r_admin",
        "POST",
        "/api/contractors/certification",
        lambda o, t: {
            "data": {"action": "delete", "certification_uuid": t, "contractor_uuid": o.first_contractor_uuid},
            "files": {"unused": ("x.txt", b"x")},
        },
        cert_uuid,
    ),
    ("r_contractor", "POST", "/api/jobs/manage", lambda o, t: {"json": {"action": "accept", "uuid": t}}, job),
    (
        "r_admin",
        "GET",
        "/api/admin/branches",
        lambda o, t: {"params": {"action": "get", "id": t}},
        lambda o: ("1", "999999"),
    ),
    (
        "r_admin",
        "POST",
        "/api/admin/disable-branch",
        lambda o, t: {"json": {"branch_id": int(t)}},
        lambda o: ("1", "999999"),
    ),
    (
        "r_admin",
        "PUT",
        "/api/admin/branches",
        lambda o, t: {"json": {"id": int(t), "name": "Taken over"}},
        lambda o: ("1", "999999"),
    ),
]


async def test_another_organisations_records_are_missing(orgs: Orgs) -> None:
    failures = []
    for who, method, path, spec, targets in CASES:
        theirs_id, missing_id = targets(orgs)
        client: AuthedClient = getattr(orgs, who)
        theirs = await client.request(method, path, **spec(orgs, theirs_id))
        missing = await client.request(method, path, **spec(orgs, missing_id))
        try:
            same_as_missing(theirs, missing)
        except AssertionError as exc:
            failures.append(f"{who} {method} {path}: {exc}")
    print(f"other-organisation cells: {len(CASES)} (each against a missing id too)")
    assert not failures, "\n".join(failures)
    # nothing changed on the first organisation's side
    r = await orgs.admin.get("/api/jobs/manage", params={"action": "get", "uuid": orgs.first_job["uuid"]})
    assert r.status_code == 200
    assert r.json()["data"]["job_title"] != "x"


LISTS = [
    ("/api/jobs/manage", {"action": "list", "limit": 200}),
    ("/api/properties/manage", {"action": "list", "limit": 200}),
    ("/api/agents/list", {"action": "list", "limit": 200}),
    ("/api/agents/performance", {}),
    ("/api/agents/branches", {"limit": 200}),
    ("/api/contractors/list", {"action": "list", "limit": 200}),
    ("/api/contractors/list", {"action": "list", "limit": 200, "postcode": "LS1 4AP"}),
    ("/api/contractors/list-with-coverage", {"limit": 200}),
    ("/api/contractors/certifications", {"action": "list", "limit": 200}),
    ("/api/admin/branches", {"action": "list", "limit": 200}),
    ("/api/notifications/outbox", {"action": "list", "limit": 200, "status": "queued"}),
]


async def test_lists_show_only_the_callers_organisation(orgs: Orgs) -> None:
    """Riverside's staff lists hold none of the first organisation's records, and the other way
    round; counts are Riverside's own (a handful), not the seed's hundreds."""
    first_markers = [orgs.first_job["uuid"], orgs.first_property["uuid"], orgs.first_contractor_uuid, AGENT_001]
    second_markers = [orgs.r_job["uuid"], orgs.r_contractor_uuid, orgs.r_agent_uuid]
    for path, params in LISTS:
        theirs = await orgs.r_admin.get(path, params=params)
        assert theirs.status_code in (200, 403), (path, theirs.text)
        if theirs.status_code == 200:
            for marker in first_markers:
                assert marker not in theirs.text, (path, marker)
            count = theirs.json().get("count")
            assert count is None or count < 10, (path, count)
        mine = await orgs.admin.get(path, params=params)
        assert mine.status_code == 200, (path, mine.text)
        for marker in second_markers:
            assert marker not in mine.text, (path, marker)


async def test_agent_and_contractor_see_only_their_organisation(orgs: Orgs) -> None:
    r = await orgs.r_agent.get("/api/jobs/manage", params={"action": "list", "limit": 200})
    assert r.status_code == 200
    assert r.json()["count"] >= 1
    assert orgs.first_job["uuid"] not in r.text
    r = await orgs.r_contractor.get("/api/jobs/manage", params={"action": "list", "limit": 200})
    assert {j["uuid"] for j in r.json()["data"]} >= {orgs.r_job["uuid"]}
    assert orgs.first_job["uuid"] not in r.text
    r = await orgs.agent.get("/api/contractors/list", params={"action": "list", "limit": 200})
    assert orgs.r_contractor_uuid not in r.text
    r = await orgs.contractor.get("/api/jobs/manage", params={"action": "list", "limit": 200})
    assert orgs.r_job["uuid"] not in r.text


async def test_writes_cannot_reach_into_another_organisation(orgs: Orgs) -> None:
    """Riverside's admin names the first organisation's branch, contractor or agent in its own
    writes: each is refused as unknown (400/404), and nothing is created."""
    r_prop = (await orgs.r_admin.get("/api/properties/manage", params={"action": "list"})).json()["data"][0]
    r = await orgs.r_admin.post(
        "/api/properties/manage",
        json={"action": "create", "address_line1": "1 Stolen Row", "postcode": "LS1 4AP", "branch_id": 1},
    )
    assert_error(r, 404)
    r = await orgs.r_admin.post(
        "/api/jobs/manage",
        json={
            "action": "create",
            "job_title": "Borrowed contractor",
            "priority_id": 3,
            "job_type_id": 4,
            "address_id": orgs.first_property["ID"],
        },
    )
    assert r.status_code in (400, 404), r.text
    r = await orgs.r_admin.post(
        "/api/jobs/manage",
        json={
            "action": "assign",
            "uuid": orgs.r_open_job["uuid"],
            "contractor_uuid": orgs.first_contractor_uuid,
            "override_reason": "cross-organisation",
        },
    )
    assert r.status_code in (400, 409), r.text
    assert "contractor" in r.text.lower()
    r = await orgs.r_admin.post(
        "/api/agents/sharing",
        json={"action": "assign", "agent_uuid": orgs.r_agent_uuid, "branch_id": 1},
    )
    assert_error(r, 404)
    assert r_prop["uuid"]


async def test_branch_codes_are_per_organisation(orgs: Orgs) -> None:
    """The first organisation's code B001 is free in Riverside; codes stay unique within one."""
    code = f"B{uuid_mod.uuid4().hex[:6].upper()}"
    first = await orgs.admin.post("/api/admin/branches", json={"action": "create", "name": "Shared code", "code": code})
    assert first.status_code == 200, first.text
    second = await orgs.r_admin.post(
        "/api/admin/branches", json={"action": "create", "name": "Shared code", "code": code}
    )
    assert second.status_code == 200, second.text
    again = await orgs.r_admin.post("/api/admin/branches", json={"action": "create", "name": "Again", "code": code})
    assert_error(again, 409)


async def test_new_rows_belong_to_the_creators_organisation(app: FastAPI, orgs: Orgs) -> None:
    """A job raised by Riverside's agent carries Riverside's organisation in the database."""
    r_prop = (await orgs.r_agent.get("/api/properties/manage", params={"action": "list"})).json()["data"][0]
    created = await new_job(orgs.r_agent, r_prop)
    async with app.state.ctx.db.sessionmaker() as s:
        org = (await s.execute(select(Job.organisation_id).where(Job.uuid == created["uuid"]))).scalar_one()
        first = (await s.execute(select(func.min(Job.organisation_id)))).scalar_one()
    assert org != first
    assert org == (await orgs.r_admin.get("/api/organisation/settings")).json()["data"]["organisation_id"]
