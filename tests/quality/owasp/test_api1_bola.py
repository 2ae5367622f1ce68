"""OWASP API1:2023 Broken Object Level Authorization.

Attacks: another agent's and another contractor's identifiers (uuids and sequential IDs) on every
object endpoint, filters that name someone else's records, guessed certificate file names, and
hostile identifiers (SQL injection, path traversal, overlong, NUL). A record the caller may not
see must look exactly like a missing one (404, same sentence), and hostile ids are 400/404, never 500.
The full matrix of owner cases lives in ``tests/quality/test_authz_matrix.py``.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.branches.util import new_agent, new_branch
from tests.conftest import AuthedClient, assert_error, login_as
from tests.jobs.helpers import PASSWORD, new_contractor, new_job, new_property
from tests.quality.authz import Accounts
from tests.quality.owasp.conftest import HOSTILE, TRAVERSAL, session


@pytest.fixture(scope="module")
async def theirs(accounts: Accounts) -> dict[str, Any]:
    """Records of an agent of another branch and of another contractor."""
    admin = session(accounts, "admin")
    branch = await new_branch(admin)
    a = await new_agent(admin, branch["ID"])
    outsider = await login_as(accounts.http, a["email"], a["password"])
    prop = await new_property(outsider, branch_id=None)
    other = await new_contractor(admin)
    job = await new_job(outsider, prop, contractor_uuid=other["uuid"], override_reason="bola")
    other_client = await login_as(accounts.http, other["email"], PASSWORD)
    cert = (await other_client.get("/api/contractors/certifications", params={"action": "list"})).json()["data"][0]
    return {"branch": branch, "agent": a, "prop": prop, "job": job, "contractor": other, "cert": cert}


async def test_agent_cannot_reach_other_branch_records_by_uuid_or_id(
    accounts: Accounts, theirs: dict[str, Any]
) -> None:
    agent = session(accounts, "agent")
    job, prop = theirs["job"], theirs["prop"]
    missing = await agent.get("/api/jobs/manage", params={"action": "get", "uuid": str(uuid.uuid4())})
    r = await agent.get("/api/jobs/manage", params={"action": "get", "uuid": job["uuid"]})
    assert_error(r, 404)
    assert r.json()["error"] == missing.json()["error"]
    # sequential IDs in filters: the list stays empty rather than revealing the other branch
    for params in (
        {"action": "list", "address_id": prop["ID"]},
        {"action": "list", "branch_id": theirs["branch"]["ID"]},
        {"action": "list", "agent_uuid": job["agent_uuid"]},
        {"action": "list", "contractor_uuid": theirs["contractor"]["uuid"]},
        {"action": "list", "search": job["job_ref"]},
    ):
        r = await agent.get("/api/jobs/manage", params=params)
        assert r.status_code == 200, (params, r.text)
        assert r.json()["count"] == 0, params
        assert job["uuid"] not in r.text, params
    r = await agent.get("/api/properties/manage", params={"action": "list", "search": prop["address_line1"]})
    assert r.status_code == 200, r.text
    assert r.json()["count"] == 0
    assert prop["uuid"] not in r.text
    # nor can it raise a job on the other branch's address (by ID or uuid)
    for ref in ({"address_id": prop["ID"]}, {"address_uuid": prop["uuid"]}):
        r = await agent.post(
            "/api/jobs/manage", json={"action": "create", "job_title": "x", "priority_id": 3, "job_type_id": 4, **ref}
        )
        assert_error(r, 404)


async def test_contractor_cannot_reach_other_contractor_records(accounts: Accounts, theirs: dict[str, Any]) -> None:
    me = session(accounts, "contractor")
    job, cert = theirs["job"], theirs["cert"]
    for action in ("accept", "start", "complete"):
        assert_error(await me.post("/api/jobs/manage", json={"action": action, "uuid": job["uuid"]}), 404)
    r = await me.get("/api/jobs/manage", params={"action": "list", "contractor_uuid": theirs["contractor"]["uuid"]})
    assert r.status_code == 200, r.text
    assert r.json()["count"] == 0
    assert job["uuid"] not in r.text
    # guessed file names next to a real one: same sentence as a missing file
    real = cert["file"]
    missing = await me.get("/api/contractors/certification", params={"file": "cert_999999_1_1.pdf"})
    body = assert_error(await me.get("/api/contractors/certification", params={"file": real}), 404)
    assert body["error"] == missing.json()["error"]
    r = await me.post(
        "/api/contractors/certification",
        data={"action": "delete", "certification_id": str(cert["ID"])},
        files={"unused": ("x.txt", b"x")},
    )
    assert_error(r, 404)
    theirs_client_view = await session(accounts, "admin").get(
        "/api/contractors/certifications", params={"action": "list", "contractor_uuid": theirs["contractor"]["uuid"]}
    )
    assert theirs_client_view.status_code == 200
    assert cert["uuid"] in theirs_client_view.text


# Routes outside a role's permissions: the guard refuses before the identifier is looked at.
NOT_PERMITTED = {
    ("agent", "/api/contractors/certification"),
    ("contractor", "/api/agents/sla"),
    ("contractor", "/api/properties/manage"),
}


@pytest.mark.parametrize("role", ["admin", "agent", "contractor"])
async def test_hostile_identifiers_are_400(accounts: Accounts, role: str) -> None:
    """None of them is a well-formed identifier: 400 (403 where the role may not call the route at
    all), never a lookup, a 404 or a 500."""
    who: AuthedClient = session(accounts, role)
    for bad in HOSTILE:
        for path, params in (
            ("/api/jobs/manage", {"action": "get", "uuid": bad}),
            ("/api/jobs/case-notes", {"action": "list", "job_uuid": bad}),
            ("/api/agents/sla", {"agent_uuid": bad}),
            ("/api/properties/manage", {"action": "get", "uuid": bad}),
            ("/api/contractors/certification", {"file": bad}),
        ):
            r = await who.get(path, params=params)
            want = 403 if (role, path) in NOT_PERMITTED else 400
            assert r.status_code == want, (role, path, bad[:40], r.status_code, r.text[:200])
            assert r.json()["success"] is False


async def test_path_traversal_in_download_never_reads_the_disk(accounts: Accounts) -> None:
    admin = session(accounts, "admin")
    for bad in [*TRAVERSAL, "cert_1_1_1.pdf\x00.txt", "cert_1_1_1.PDF", "cert_1_1_1.pdf.exe", "CERT_1_1_1.pdf"]:
        r = await admin.get("/api/contractors/certification", params={"file": bad})
        assert_error(r, 400, "file")
        assert "root:" not in r.text
