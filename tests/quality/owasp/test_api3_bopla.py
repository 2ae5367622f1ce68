"""OWASP API3:2023 Broken Object Property Level Authorization (mass assignment, data exposure).

Attacks: extra properties that would raise privileges or move ownership (``role_id``,
``account_type_id``, ``is_active``, ``contractor_id``, ``branch_id``, ``ID``, ``uuid``,
``password_hash``, ``permissions``) sent to every self-service and create endpoint; HTML/script
payloads stored verbatim and returned as JSON only; responses scanned for secrets (password
hashes, token hashes, CSRF of others) and for fields a role must not see (client budget).
"""

from __future__ import annotations

import re
import uuid

from fastapi import FastAPI
from sqlalchemy import select

from propops.auth.models import User
from tests.conftest import assert_error, login_as
from tests.jobs.helpers import new_job, new_property
from tests.quality.authz import Accounts
from tests.quality.owasp.conftest import HTML, session

PRIVILEGED = {
    "role_id": 1,
    "role": "SysOps",
    "account_type_id": 1,
    "account_status_id": 1,
    "permissions": ["api.users.users.manage"],
    "permission_map": {"api.users.users.manage": True},
    "password_hash": "$argon2id$v=19$m=65536,t=3,p=4$forged",
    "ID": 1,
    "id": 1,
    "user_id": 1,
    "is_admin": True,
}
SECRET_PATTERNS = [re.compile(p, re.I) for p in (r"password_hash", r"\$argon2", r"token_hash", r"secret_key")]


def assert_no_secrets(text: str) -> None:
    for pattern in SECRET_PATTERNS:
        assert not pattern.search(text), pattern.pattern


async def test_agent_created_with_privileged_fields_is_still_an_agent(app: FastAPI, accounts: Accounts) -> None:
    admin = session(accounts, "admin")
    email = f"mass-{uuid.uuid4().hex[:10]}@example.com"
    body = {
        "action": "create",
        "email": email,
        "password": "agent-pass-123",
        "first_name": "Mass",
        "last_name": "Assign",
        "branch_id": 1,
        **PRIVILEGED,
    }
    r = await admin.post("/api/agents/manage", json=body)
    assert r.status_code == 200, r.text  # unknown properties are ignored (WriteBody: extra="ignore")
    assert_no_secrets(r.text)
    s = await login_as(accounts.http, email, "agent-pass-123")
    perms = (await s.get("/api/users/permissions")).json()["data"]
    assert perms["role_name"] == "Agent"
    assert perms["account_type_id"] == 2
    assert "api.users.users.manage" not in perms["permissions"]
    async with app.state.ctx.db.sessionmaker() as db:
        user = (await db.execute(select(User).where(User.email == email))).scalar_one()
        assert user.password_hash.startswith("$argon2")
        assert "forged" not in user.password_hash


async def test_contractor_profile_ignores_or_refuses_privileged_fields(accounts: Accounts) -> None:
    me = session(accounts, "contractor")
    before = (await me.get("/api/contractors/profile")).json()["data"]
    perms_before = (await me.get("/api/users/permissions")).json()["data"]
    r = await me.post("/api/contractors/profile", json={"phone": "0113 496 0000", **PRIVILEGED, "uuid": "x"})
    assert r.status_code == 200, r.text
    after = r.json()["data"]
    assert after["uuid"] == before["uuid"]
    assert after["ID"] == before["ID"]
    perms_after = (await me.get("/api/users/permissions")).json()["data"]
    assert perms_after["role_id"] == perms_before["role_id"]
    assert perms_after["permissions"] == perms_before["permissions"]
    # trades and status are office-managed: refused, not ignored
    for extra in ({"trade_ids": [1, 2, 3]}, {"is_active": True}, {"is_active": False}):
        assert_error(await me.post("/api/contractors/profile", json=extra), 403)


async def test_agent_property_cannot_be_moved_to_another_branch(accounts: Accounts) -> None:
    from tests.branches.util import new_branch

    admin, agent = session(accounts, "admin"), session(accounts, "agent")
    foreign = await new_branch(admin)
    prop = await new_property(agent, branch_id=1)
    # a branch the agent does not work in is answered like one that does not exist
    for branch_id in (foreign["ID"], 999_999_999):
        r = await agent.post(
            "/api/properties/manage", json={"action": "update", "uuid": prop["uuid"], "branch_id": branch_id}
        )
        assert_error(r, 404, "Branch not found")
        body = {"action": "create", "address_line1": "1 A St", "town": "Leeds", "postcode": "LS1 4AP"}
        r = await agent.post("/api/properties/manage", json={**body, "branch_id": branch_id})
        assert_error(r, 404, "Branch not found")
    r = await agent.get("/api/properties/manage", params={"action": "get", "uuid": prop["uuid"]})
    assert r.status_code == 200
    assert r.json()["data"]["branch_id"] == 1


async def test_contractor_cannot_set_budgets_or_reassign(accounts: Accounts) -> None:
    admin, me = session(accounts, "admin"), session(accounts, "contractor")
    mine = (await me.get("/api/contractors/profile")).json()["data"]
    prop = await new_property(admin)
    job = await new_job(admin, prop, contractor_uuid=mine["uuid"], override_reason="bopla", job_total_budget="900")
    r = await me.post(
        "/api/jobs/manage",
        json={"action": "update", "uuid": job["uuid"], "job_total_budget": "1", "contractor_budget": "99999"},
    )
    assert_error(r, 403, "may not update jobs")
    r = await me.get("/api/jobs/manage", params={"action": "get", "uuid": job["uuid"]})
    assert r.status_code == 200, r.text
    view = r.json()["data"]
    assert view.get("job_total_budget") is None  # the client budget is not shown to contractors
    assert "900" not in str(view.get("job_total_budget"))


async def test_responses_never_leak_secrets(accounts: Accounts) -> None:
    admin = session(accounts, "admin")
    agent_me = (await session(accounts, "agent").get("/api/auth/me")).json()["data"]
    contractor_me = (await session(accounts, "contractor").get("/api/contractors/profile")).json()["data"]
    reads = [
        ("/api/auth/me", {}),
        ("/api/users/permissions", {}),
        ("/api/users/users", {"action": "get_user", "uuid": agent_me["uuid"]}),
        ("/api/agents/list", {"action": "list", "limit": 200}),
        ("/api/agents/manage", {"action": "get", "agent_uuid": "880e8400-e29b-41d4-a716-446655440001"}),
        ("/api/contractors/manage", {"action": "get", "uuid": contractor_me["uuid"]}),
        ("/api/contractors/list", {"action": "list", "limit": 200}),
        ("/api/notifications/outbox", {"action": "list", "limit": 200, "status": "sent"}),
        ("/api/jobs/manage", {"action": "list", "limit": 200}),
    ]
    # the reads each role may make (a refusal would make the scan below vacuous)
    staff_only = {"/api/users/users", "/api/agents/manage", "/api/contractors/manage", "/api/notifications/outbox"}
    not_contractor = {"/api/agents/list", "/api/contractors/list"}
    statuses: dict[tuple[str, str], int] = {}
    expected: dict[tuple[str, str], int] = {}
    for role in ("admin", "agent", "contractor"):
        s = session(accounts, role)
        for path, params in reads:
            r = await s.get(path, params=params)
            statuses[(role, path)] = r.status_code
            refused = role != "admin" and (path in staff_only or (role == "contractor" and path in not_contractor))
            expected[(role, path)] = 403 if refused else 200
            assert_no_secrets(r.text)
            for other in ("admin", "agent", "contractor"):
                if other != role:
                    assert session(accounts, other).token not in r.text
                    assert session(accounts, other).csrf not in r.text
    assert statuses == expected
    r = await accounts.http.post("/api/auth/login", json={"email": "agent003@example.com", "password": "demo-pass-123"})
    assert r.status_code == 200, r.text
    assert_no_secrets(r.text)
    assert admin.token not in r.text


async def test_script_payloads_are_data_not_markup(accounts: Accounts) -> None:
    agent = session(accounts, "agent")
    for payload in HTML:
        prop = await new_property(agent, address_line2=payload, tenant_name=payload)
        r = await agent.get("/api/properties/manage", params={"action": "get", "uuid": prop["uuid"]})
        assert r.headers["content-type"].startswith("application/json")
        assert r.json()["data"]["tenant_name"] == payload  # stored verbatim, served as JSON only
