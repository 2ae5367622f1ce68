"""The authorisation matrix: every route (method × path) × every account type, against a table.

Account types (see ``tests/quality/authz.py``): ``admin`` (admin@example.com, SysOps), ``narrow``
(a Staff user created here whose role holds only ``api.contractors.trades.manage``), ``agent``
(agent001), ``contractor`` (contractor001) and ``anon`` (no token).

Each request carries the bearer token and a valid CSRF token and minimal valid parameters, so a cell
tests authorisation and nothing else. Reads use parameters that succeed (200). Writes that would
change shared data send a body that passes the guard and fails validation: the guard runs before
the body is validated, so 400 means "allowed" and 403/401 means "refused".

A new route without a row in ``EXPECTED`` fails ``test_table_covers_every_route``.
"""

from __future__ import annotations

import uuid as uuid_mod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from propops.main import iter_api_routes
from tests.branches.util import new_agent, new_branch
from tests.conftest import AuthedClient, assert_error, client_for, login_as
from tests.jobs.helpers import new_job, new_property
from tests.quality.authz import AGENT_001, ROLES, Accounts, sign_in_all


def cells(admin: int, narrow: int, agent: int, contractor: int, anon: int) -> dict[str, int]:
    return dict(zip(ROLES, (admin, narrow, agent, contractor, anon), strict=True))


ALL_OK = cells(200, 200, 200, 200, 200)
SIGNED_IN = cells(200, 200, 200, 200, 401)
ADMIN_ONLY = cells(200, 403, 403, 403, 401)
ADMIN_ONLY_WRITE = cells(400, 403, 403, 403, 401)

EXPECTED: dict[tuple[str, str], dict[str, int]] = {
    # auth and system
    ("POST", "/api/auth/login"): cells(400, 400, 400, 400, 400),  # public; empty body
    ("POST", "/api/auth/logout"): SIGNED_IN,  # on a second session of the same account
    ("GET", "/api/auth/me"): SIGNED_IN,
    ("GET", "/api/security/csrf-token"): SIGNED_IN,
    ("POST", "/api/security/mobile-auth"): cells(400, 400, 400, 400, 400),  # public; empty body
    ("GET", "/api/users/permissions"): SIGNED_IN,
    ("GET", "/api/users/users"): ADMIN_ONLY,
    ("POST", "/api/users/users"): ADMIN_ONLY_WRITE,
    ("GET", "/api/health"): ALL_OK,
    ("GET", "/api/ping"): ALL_OK,
    # contractors
    ("GET", "/api/contractors/trades"): SIGNED_IN,  # the narrow role's only key
    ("GET", "/api/contractors/list"): cells(200, 403, 200, 403, 401),
    ("GET", "/api/contractors/list-with-coverage"): cells(200, 403, 200, 403, 401),
    ("GET", "/api/contractors/manage"): ADMIN_ONLY,
    ("POST", "/api/contractors/manage"): ADMIN_ONLY_WRITE,
    # SysOps holds the profile key but has no contractor record: its own profile is a 404
    ("GET", "/api/contractors/profile"): cells(404, 403, 403, 200, 401),
    ("POST", "/api/contractors/profile"): cells(400, 403, 403, 400, 401),
    # certifications
    ("GET", "/api/contractors/certification"): cells(200, 403, 403, 200, 401),
    ("POST", "/api/contractors/certification"): cells(400, 403, 403, 400, 401),
    ("GET", "/api/contractors/certifications"): cells(200, 403, 403, 200, 401),
    ("GET", "/api/contractors/certifications/compliance"): cells(200, 403, 403, 200, 401),
    ("GET", "/api/contractors/certification-types"): cells(200, 403, 403, 200, 401),
    ("POST", "/api/contractors/certification-types"): ADMIN_ONLY_WRITE,
    # notifications
    ("GET", "/api/notifications/outbox"): ADMIN_ONLY,
    ("POST", "/api/notifications/outbox"): ADMIN_ONLY_WRITE,
    # branch administration
    ("GET", "/api/admin/branches"): ADMIN_ONLY,
    ("POST", "/api/admin/branches"): ADMIN_ONLY_WRITE,
    ("PUT", "/api/admin/branches"): ADMIN_ONLY_WRITE,
    ("DELETE", "/api/admin/branches"): ADMIN_ONLY_WRITE,
    ("POST", "/api/admin/enable-branch"): ADMIN_ONLY_WRITE,
    ("POST", "/api/admin/disable-branch"): ADMIN_ONLY_WRITE,
    # agents
    ("GET", "/api/agents/list"): cells(200, 403, 200, 403, 401),
    ("GET", "/api/agents/branches"): ADMIN_ONLY,
    ("POST", "/api/agents/sharing"): ADMIN_ONLY_WRITE,
    ("POST", "/api/agents/branches"): ADMIN_ONLY_WRITE,
    ("GET", "/api/agents/sla"): cells(200, 403, 200, 403, 401),
    ("GET", "/api/agents/performance"): cells(200, 403, 200, 403, 401),
    ("GET", "/api/agents/manage"): ADMIN_ONLY,
    ("POST", "/api/agents/manage"): ADMIN_ONLY_WRITE,
    # properties
    ("GET", "/api/properties/manage"): cells(200, 403, 200, 403, 401),
    ("POST", "/api/properties/manage"): cells(400, 403, 400, 403, 401),
    # jobs
    ("GET", "/api/jobs/manage"): cells(200, 403, 200, 200, 401),
    ("POST", "/api/jobs/manage"): cells(400, 403, 400, 400, 401),
    ("GET", "/api/jobs/case-notes"): cells(200, 403, 200, 200, 401),
    ("POST", "/api/jobs/case-notes"): cells(400, 403, 400, 400, 401),
    ("POST", "/api/jobs/remedials"): cells(400, 403, 400, 403, 401),
    # organisations (the platform's staff) and an organisation's own settings
    ("GET", "/api/admin/organisations"): ADMIN_ONLY,
    ("POST", "/api/admin/organisations"): ADMIN_ONLY_WRITE,
    ("GET", "/api/organisation/settings"): ADMIN_ONLY,
    ("POST", "/api/organisation/settings"): ADMIN_ONLY_WRITE,
}


@dataclass
class Refs:
    """Identifiers of real records the reads name, so that an allowed read answers 200."""

    contractor_uuid: str  # contractor001
    cert_file: str  # one of contractor001's certificate files
    agent_user_uuid: str  # agent001's user account
    job_uuid: str  # a job in agent001's branches assigned to contractor001


Spec = Callable[[Refs], dict[str, Any]]
PAGE = {"limit": 1}


def form(**fields: str) -> dict[str, Any]:
    """A multipart body (a real file part forces multipart encoding)."""
    return {"data": fields, "files": {"unused": ("x.txt", b"x")}}


# How each cell is requested. Writes carry bodies that fail validation after the guard.
REQUESTS: dict[tuple[str, str], Spec] = {
    ("POST", "/api/auth/login"): lambda r: {"json": {}},
    ("POST", "/api/auth/logout"): lambda r: {},
    ("GET", "/api/auth/me"): lambda r: {},
    ("GET", "/api/security/csrf-token"): lambda r: {},
    ("POST", "/api/security/mobile-auth"): lambda r: {"json": {}},
    ("GET", "/api/users/permissions"): lambda r: {},
    ("GET", "/api/users/users"): lambda r: {"params": {"action": "get_user", "uuid": r.agent_user_uuid}},
    ("POST", "/api/users/users"): lambda r: {"json": {"action": "toggle_status"}},
    ("GET", "/api/health"): lambda r: {},
    ("GET", "/api/ping"): lambda r: {},
    ("GET", "/api/contractors/trades"): lambda r: {},
    ("GET", "/api/contractors/list"): lambda r: {"params": {"action": "list", **PAGE}},
    ("GET", "/api/contractors/list-with-coverage"): lambda r: {"params": PAGE},
    ("GET", "/api/contractors/manage"): lambda r: {"params": {"action": "get", "uuid": r.contractor_uuid}},
    ("POST", "/api/contractors/manage"): lambda r: {"json": {"action": "explode"}},
    ("GET", "/api/contractors/profile"): lambda r: {},
    ("POST", "/api/contractors/profile"): lambda r: {"json": {"coverage": {"source": "teleport"}}},
    ("GET", "/api/contractors/certification"): lambda r: {"params": {"file": r.cert_file}},
    ("POST", "/api/contractors/certification"): lambda r: form(action="explode"),
    ("GET", "/api/contractors/certifications"): lambda r: {"params": {"action": "list", **PAGE}},
    ("GET", "/api/contractors/certifications/compliance"): lambda r: {"params": {"contractor_uuid": r.contractor_uuid}},
    ("GET", "/api/contractors/certification-types"): lambda r: {},
    ("POST", "/api/contractors/certification-types"): lambda r: {"json": {"action": "explode"}},
    ("GET", "/api/notifications/outbox"): lambda r: {"params": {"action": "list", **PAGE}},
    ("POST", "/api/notifications/outbox"): lambda r: {"json": {}},
    ("GET", "/api/admin/branches"): lambda r: {"params": {"action": "list", **PAGE}},
    ("POST", "/api/admin/branches"): lambda r: {"json": {}},
    ("PUT", "/api/admin/branches"): lambda r: {"json": {"name": ["not", "a", "name"]}},
    ("DELETE", "/api/admin/branches"): lambda r: {"params": {"id": "zero"}},
    ("POST", "/api/admin/enable-branch"): lambda r: {"json": {"branch_id": "zero"}},
    ("POST", "/api/admin/disable-branch"): lambda r: {"json": {"branch_id": "zero"}},
    ("GET", "/api/agents/list"): lambda r: {"params": {"action": "list", **PAGE}},
    ("GET", "/api/agents/branches"): lambda r: {"params": PAGE},
    ("POST", "/api/agents/sharing"): lambda r: {"json": {"action": "explode"}},
    ("POST", "/api/agents/branches"): lambda r: {"json": {"action": "explode"}},
    ("GET", "/api/agents/sla"): lambda r: {"params": {"agent_uuid": AGENT_001}},
    ("GET", "/api/agents/performance"): lambda r: {"params": {"agent_uuid": AGENT_001}},
    ("GET", "/api/agents/manage"): lambda r: {"params": {"action": "get", "agent_uuid": AGENT_001}},
    ("POST", "/api/agents/manage"): lambda r: {"json": {"action": "explode"}},
    ("GET", "/api/properties/manage"): lambda r: {"params": {"action": "list", **PAGE}},
    ("POST", "/api/properties/manage"): lambda r: {"json": {"action": "explode"}},
    ("GET", "/api/jobs/manage"): lambda r: {"params": {"action": "get", "uuid": r.job_uuid}},
    ("POST", "/api/jobs/manage"): lambda r: {"json": {"action": "explode"}},
    ("GET", "/api/jobs/case-notes"): lambda r: {"params": {"action": "list", "job_uuid": r.job_uuid, **PAGE}},
    ("POST", "/api/jobs/case-notes"): lambda r: {"json": {"job_uuid": r.job_uuid, "send_email": "maybe"}},
    ("POST", "/api/jobs/remedials"): lambda r: {"json": {"action": "explode"}},
    ("GET", "/api/admin/organisations"): lambda r: {"params": {"action": "list", **PAGE}},
    ("POST", "/api/admin/organisations"): lambda r: {"json": {"action": "explode"}},
    ("GET", "/api/organisation/settings"): lambda r: {},
    ("POST", "/api/organisation/settings"): lambda r: {"json": {"branding_name": ["not", "a", "name"]}},
}


def route_cells(app: FastAPI) -> set[tuple[str, str]]:
    return {(m, route.path) for route in iter_api_routes(app.routes) for m in route.methods}


def test_table_covers_every_route(app: FastAPI) -> None:
    """A route added without a row (or a row left for a removed route) fails here."""
    routes = route_cells(app)
    assert routes - set(EXPECTED) == set(), "routes without a row in EXPECTED"
    assert set(EXPECTED) - routes == set(), "rows in EXPECTED for routes that do not exist"
    assert set(REQUESTS) == set(EXPECTED)
    assert all(set(row) == set(ROLES) for row in EXPECTED.values())


@pytest.fixture(scope="module")
async def accounts(app: FastAPI) -> Any:
    async with client_for(app) as http:
        yield await sign_in_all(app, http)


@pytest.fixture(scope="module")
async def refs(app: FastAPI, accounts: Accounts) -> Refs:
    contractor, agent = accounts.sessions["contractor"], accounts.sessions["agent"]
    admin = accounts.sessions["admin"]
    assert contractor is not None
    assert agent is not None
    assert admin is not None
    certs = (await contractor.get("/api/contractors/certifications", params={"action": "list", "limit": 1})).json()
    me = (await agent.get("/api/auth/me")).json()["data"]
    profile = (await contractor.get("/api/contractors/profile")).json()["data"]
    prop = await new_property(admin, branch_id=1)
    job = await new_job(admin, prop, contractor_uuid=profile["uuid"], override_reason="authz matrix fixture")
    return Refs(
        contractor_uuid=profile["uuid"],
        cert_file=certs["data"][0]["file"],
        agent_user_uuid=me["uuid"],
        job_uuid=job["uuid"],
    )


async def test_matrix(app: FastAPI, accounts: Accounts, refs: Refs) -> None:
    mismatches: list[str] = []
    checked = 0
    for route in iter_api_routes(app.routes):
        for method in sorted(route.methods):
            key = (method, route.path)
            for role in ROLES:
                kw = REQUESTS[key](refs)
                if key == ("POST", "/api/auth/logout"):
                    session = await accounts.fresh(role)
                    r = await (session.request(method, route.path) if session else accounts.http.post(route.path))
                else:
                    r = await accounts.request(role, method, route.path, **kw)
                checked += 1
                want = EXPECTED[key][role]
                if r.status_code != want:
                    mismatches.append(f"{method} {route.path} as {role}: {r.status_code} != {want} {r.text[:160]}")
                elif r.status_code >= 400:
                    assert r.json()["success"] is False
    print(f"authorisation matrix: {len(EXPECTED)} routes x {len(ROLES)} account types = {checked} cells checked")
    assert checked == len(EXPECTED) * len(ROLES)
    assert not mismatches, "\n".join(mismatches)


# The seeded staff roles (migration 0010), (finance, manager): Finance reads money (jobs with their
# budgets and history, agents' SLA) and acts on nothing; Branch Manager runs jobs, properties and
# agents' branch assignments but creates no logins (no agent or contractor administration).
SEEDED: dict[tuple[str, str], tuple[int, int]] = {
    ("GET", "/api/jobs/manage"): (200, 200),
    ("POST", "/api/jobs/manage"): (403, 400),
    ("GET", "/api/jobs/case-notes"): (403, 200),
    ("POST", "/api/jobs/case-notes"): (403, 400),
    ("POST", "/api/jobs/remedials"): (403, 400),
    ("GET", "/api/properties/manage"): (403, 200),
    ("GET", "/api/agents/list"): (200, 200),
    ("GET", "/api/agents/sla"): (200, 200),
    ("POST", "/api/agents/branches"): (403, 400),
    ("GET", "/api/agents/manage"): (403, 403),
    ("POST", "/api/agents/manage"): (403, 403),
    ("GET", "/api/contractors/manage"): (403, 403),
    ("POST", "/api/contractors/manage"): (403, 403),
    ("POST", "/api/admin/branches"): (403, 403),
    ("POST", "/api/users/users"): (403, 403),
}


async def test_seeded_staff_roles(accounts: Accounts, refs: Refs) -> None:
    finance = await login_as(accounts.http, "finance@example.com")
    manager = await login_as(accounts.http, "manager@example.com")
    mismatches: list[str] = []
    for (method, path), wants in SEEDED.items():
        for who, session, want in (("finance", finance, wants[0]), ("manager", manager, wants[1])):
            r = await session.request(method, path, **REQUESTS[(method, path)](refs))
            if r.status_code != want:
                mismatches.append(f"{method} {path} as {who}: {r.status_code} != {want} {r.text[:160]}")
    assert not mismatches, "\n".join(mismatches)
    # suggest_contractors is part of assigning: reading jobs is not enough
    r = await finance.get("/api/jobs/manage", params={"action": "suggest_contractors", "uuid": refs.job_uuid})
    assert_error(r, 403)


async def test_refusals_happen_before_validation(accounts: Accounts) -> None:
    """A forbidden caller learns nothing about the body: the same 403 for a valid and an invalid body."""
    agent = accounts.sessions["agent"]
    assert agent is not None
    for body in ({}, {"name": "x" * 10_000, "code": "'; DROP TABLE branches; --"}):
        assert_error(await agent.post("/api/admin/branches", json=body), 403)
    r = await accounts.http.post("/api/admin/branches", json={"name": ["garbage"]})
    assert_error(r, 401)


# --------------------------------------------------------------------------- object level

MISSING = str(uuid_mod.uuid4())


@dataclass
class World:
    """Records owned by someone else than the signed-in agent/contractor of each test."""

    outsider_agent: AuthedClient  # an agent of a new branch only
    outsider_branch: dict[str, Any]
    outsider_property: dict[str, Any]
    outsider_job: dict[str, Any]  # in the outsider's branch, assigned to another contractor
    other_contractor: dict[str, Any]  # a contractor with a login and a certificate
    other_contractor_client: AuthedClient
    other_cert: dict[str, Any]


@pytest.fixture(scope="module")
async def world(app: FastAPI, accounts: Accounts) -> World:
    from tests.jobs.helpers import PASSWORD, new_contractor

    admin = accounts.sessions["admin"]
    assert admin is not None
    branch = await new_branch(admin)
    a = await new_agent(admin, branch["ID"])
    outsider = await login_as(accounts.http, a["email"], a["password"])
    prop = await new_property(outsider, branch_id=None)
    other = await new_contractor(admin)
    other_client = await login_as(accounts.http, other["email"], PASSWORD)
    job = await new_job(outsider, prop)
    r = await admin.post(
        "/api/jobs/manage",
        json={"action": "assign", "uuid": job["uuid"], "contractor_uuid": other["uuid"], "override_reason": "test"},
    )
    assert r.status_code == 200, r.text
    certs = await other_client.get("/api/contractors/certifications", params={"action": "list"})
    return World(
        outsider_agent=outsider,
        outsider_branch=branch,
        outsider_property=prop,
        outsider_job=r.json()["data"],
        other_contractor=other,
        other_contractor_client=other_client,
        other_cert=certs.json()["data"][0],
    )


def same_as_missing(theirs: httpx.Response, missing: httpx.Response) -> None:
    """Another owner's record is answered exactly like a record that does not exist."""
    body = assert_error(theirs, 404)
    assert missing.status_code == 404, missing.text
    assert body["error"] == missing.json()["error"]
    assert body.get("errors") == missing.json().get("errors")


OBJECT_CASES: list[tuple[str, str, str, Callable[[World, str], dict[str, Any]]]] = [
    # (who, method, path, request(world, target)); target is the other owner's id, then a missing one
    ("agent", "GET", "/api/jobs/manage", lambda w, t: {"params": {"action": "get", "uuid": t}}),
    ("agent", "GET", "/api/jobs/manage", lambda w, t: {"params": {"action": "list_commits", "uuid": t}}),
    ("agent", "POST", "/api/jobs/manage", lambda w, t: {"json": {"action": "cancel", "uuid": t, "reason": "x"}}),
    ("agent", "POST", "/api/jobs/manage", lambda w, t: {"json": {"action": "update", "uuid": t, "job_title": "x"}}),
    ("agent", "GET", "/api/jobs/case-notes", lambda w, t: {"params": {"action": "list", "job_uuid": t}}),
    ("agent", "POST", "/api/jobs/case-notes", lambda w, t: {"json": {"job_uuid": t, "note_text": "hi"}}),
    (
        "agent",
        "POST",
        "/api/jobs/remedials",
        lambda w, t: {"json": {"action": "create", "parent_job_uuid": t, "reason": "x"}},
    ),
    ("agent", "GET", "/api/properties/manage", lambda w, t: {"params": {"action": "get", "uuid": t}}),
    (
        "agent",
        "POST",
        "/api/properties/manage",
        lambda w, t: {"json": {"action": "update", "uuid": t, "town": "Elsewhere"}},
    ),
    ("agent", "GET", "/api/agents/sla", lambda w, t: {"params": {"agent_uuid": t}}),
    ("agent", "GET", "/api/agents/performance", lambda w, t: {"params": {"agent_uuid": t}}),
    ("contractor", "GET", "/api/jobs/manage", lambda w, t: {"params": {"action": "get", "uuid": t}}),
    ("contractor", "POST", "/api/jobs/manage", lambda w, t: {"json": {"action": "accept", "uuid": t}}),
    ("contractor", "GET", "/api/jobs/case-notes", lambda w, t: {"params": {"action": "list", "job_uuid": t}}),
    ("contractor", "POST", "/api/jobs/case-notes", lambda w, t: {"json": {"job_uuid": t, "note_text": "hi"}}),
    ("contractor", "GET", "/api/contractors/certification", lambda w, t: {"params": {"file": t}}),
    (
        "contractor",
        "POST",
        "/api/contractors/certification",
        lambda w, t: form(action="delete", certification_uuid=t),
    ),
    (
        "contractor",
        "GET",
        "/api/contractors/certifications",
        lambda w, t: {"params": {"action": "list", "contractor_uuid": t}},
    ),
    (
        "contractor",
        "GET",
        "/api/contractors/certifications/compliance",
        lambda w, t: {"params": {"contractor_uuid": t}},
    ),
]


def _targets(w: World, who: str, path: str, spec_index: int) -> tuple[str, str]:
    """(another owner's identifier, a missing identifier of the same shape)."""
    if path == "/api/contractors/certification" and OBJECT_CASES[spec_index][1] == "GET":
        name: str = w.other_cert["file"]
        stem, _, ext = name.rpartition(".")
        return name, f"cert_999999_999999_999999.{ext}"
    if path == "/api/contractors/certification":
        return w.other_cert["uuid"], MISSING
    if path.startswith("/api/contractors/certifications"):
        return w.other_contractor["uuid"], MISSING
    if path == "/api/properties/manage":
        return w.outsider_property["uuid"], MISSING
    if path.startswith("/api/agents"):
        # the outsider agent's profile uuid: read it through the admin-visible job record
        return w.outsider_job["agent_uuid"], MISSING
    return w.outsider_job["uuid"], MISSING


async def test_object_level_other_owner_is_404_like_missing(accounts: Accounts, world: World) -> None:
    for i, (who, method, path, spec) in enumerate(OBJECT_CASES):
        theirs_id, missing_id = _targets(world, who, path, i)
        theirs = await accounts.request(who, method, path, **spec(world, theirs_id))
        missing = await accounts.request(who, method, path, **spec(world, missing_id))
        try:
            same_as_missing(theirs, missing)
        except AssertionError as exc:
            raise AssertionError(f"{who} {method} {path}: {exc}") from None
    print(f"object-level cases: {len(OBJECT_CASES)} (each against a missing id too)")


async def test_other_branch_is_invisible_to_agent(accounts: Accounts, world: World) -> None:
    """Another agent's branch, named as a filter, is answered exactly like a branch that does not
    exist: an empty list for jobs and properties, the agents list's "Branch not found." 404; the
    performance list never shows the other branch's agent."""
    agent = accounts.sessions["agent"]
    assert agent is not None
    missing_branch = 999_999_999
    for path, status in (("/api/jobs/manage", 200), ("/api/properties/manage", 200), ("/api/agents/list", 404)):
        theirs = await agent.get(path, params={"action": "list", "branch_id": world.outsider_branch["ID"]})
        missing = await agent.get(path, params={"action": "list", "branch_id": missing_branch})
        assert theirs.status_code == missing.status_code == status, (path, theirs.text, missing.text)
        if status == 200:
            assert theirs.json() == missing.json() == {**missing.json(), "data": [], "count": 0}, path
        else:
            same_as_missing(theirs, missing)
    r = await agent.get("/api/agents/performance")
    assert r.status_code == 200, r.text
    assert r.json()["count"] > 0  # the agent's own rows are there
    assert world.outsider_job["uuid"] not in r.text
    assert world.outsider_property["uuid"] not in r.text
    assert world.outsider_job["agent_uuid"] not in r.text


async def test_other_contractor_is_invisible(accounts: Accounts, world: World) -> None:
    """Another contractor's jobs, files and profile: never in the contractor's lists; the profile
    endpoint only ever answers about the caller, whatever uuid is sent."""
    me = accounts.sessions["contractor"]
    assert me is not None
    r = await me.get("/api/jobs/manage", params={"action": "list", "limit": 200})
    assert r.status_code == 200, r.text
    assert world.outsider_job["uuid"] not in r.text
    r = await me.get("/api/contractors/certifications", params={"action": "list", "limit": 200})
    assert r.status_code == 200, r.text
    assert r.json()["count"] > 0, r.text  # its own certificates only
    assert world.other_cert["uuid"] not in r.text
    r = await me.get("/api/contractors/profile", params={"uuid": world.other_contractor["uuid"]})
    assert r.status_code == 200, r.text
    mine = r.json()
    assert mine["data"]["uuid"] != world.other_contractor["uuid"]
    r = await me.post("/api/contractors/profile", json={"uuid": world.other_contractor["uuid"], "phone": "0113 000"})
    assert r.status_code == 200
    assert r.json()["data"]["uuid"] == mine["data"]["uuid"]
    theirs = await world.other_contractor_client.get("/api/contractors/profile")
    assert theirs.status_code == 200
    assert theirs.json()["data"].get("phone") != "0113 000"
    # nor may it read another contractor through the staff endpoint
    assert_error(await me.get("/api/contractors/manage", params={"action": "get", "uuid": mine["data"]["uuid"]}), 403)
