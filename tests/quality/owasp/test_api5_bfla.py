"""OWASP API5:2023 Broken Function Level Authorization.

Attacks: agents, contractors, a Branch Manager, Finance and a staff user with one unrelated key
calling administrative functions with well-formed bodies (disable accounts, create branches,
retry emails, edit certification types, create agents and contractors, toggle SysOps); method
override headers; path variants (case, trailing slash, doubled slashes, encoded characters).
The full route × account-type matrix is ``tests/quality/test_authz_matrix.py``.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.branches.util import unique_code
from tests.conftest import AuthedClient, assert_error, login_as
from tests.quality.authz import Accounts
from tests.quality.owasp.conftest import session


def admin_calls(target_uuid: str) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        ("POST", "/api/users/users", {"json": {"action": "toggle_status", "uuid": target_uuid, "is_active": False}}),
        ("POST", "/api/admin/branches", {"json": {"name": f"Evil {unique_code()}", "code": unique_code()}}),
        ("POST", "/api/admin/disable-branch", {"json": {"branch_id": 1}}),
        ("DELETE", "/api/admin/branches", {"params": {"id": 1}}),
        ("POST", "/api/notifications/outbox", {"json": {"id": 1}}),
        (
            "POST",
            "/api/contractors/certification-types",
            {"json": {"action": "create", "name": f"Evil {unique_code()}"}},
        ),
        (
            "POST",
            "/api/agents/manage",
            {
                "json": {
                    "action": "create",
                    "email": f"{unique_code()}@example.com",
                    "password": "evil-pass-123",
                    "first_name": "E",
                    "last_name": "V",
                    "branch_id": 1,
                }
            },
        ),
        ("POST", "/api/contractors/manage", {"json": {"action": "create", "first_name": "E", "last_name": "V"}}),
        ("POST", "/api/agents/sharing", {"json": {"action": "assign", "agent_uuid": target_uuid, "branch_id": 1}}),
    ]


@pytest.mark.parametrize("role", ["narrow", "agent", "contractor"])
async def test_low_privilege_roles_cannot_call_admin_functions(accounts: Accounts, role: str) -> None:
    admin_uuid = (await session(accounts, "admin").get("/api/auth/me")).json()["data"]["uuid"]
    who = session(accounts, role)
    for method, path, kw in admin_calls(admin_uuid):
        r = await who.request(method, path, **kw)
        assert_error(r, 403)
    # SysOps is still active and branch 1 still enabled
    r = await session(accounts, "admin").get("/api/admin/branches", params={"action": "get", "id": 1})
    assert r.json()["data"]["is_active"] is True


@pytest.mark.parametrize("email", ["manager@example.com", "finance@example.com"])
async def test_staff_without_the_key_cannot_administer_users(accounts: Accounts, email: str) -> None:
    s: AuthedClient = await login_as(accounts.http, email)
    admin_uuid = (await session(accounts, "admin").get("/api/auth/me")).json()["data"]["uuid"]
    r = await s.post("/api/users/users", json={"action": "toggle_status", "uuid": admin_uuid, "is_active": False})
    assert_error(r, 403)
    assert_error(await s.post("/api/notifications/outbox", json={"id": 1}), 403)


async def test_admin_cannot_disable_itself_or_a_peer_level(accounts: Accounts) -> None:
    admin = session(accounts, "admin")
    me = (await admin.get("/api/auth/me")).json()["data"]
    r = await admin.post("/api/users/users", json={"action": "toggle_status", "uuid": me["uuid"], "is_active": False})
    assert_error(r, 403)


async def test_method_override_headers_are_ignored(accounts: Accounts) -> None:
    agent = session(accounts, "agent")
    for header in ("X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"):
        r = await agent.get("/api/admin/branches", params={"id": 1}, headers={header: "DELETE"})
        assert_error(r, 403)
        r = await agent.post("/api/agents/list", headers={header: "GET"}, json={})
        assert_error(r, 405)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/API/admin/branches", 404),  # paths are case-sensitive: no route
        ("/api/admin/branches/", 307),  # redirected to the route, which refuses (below)
        ("//api/admin/branches", 404),
        ("/api/admin/%62ranches", 403),  # decoded to the route itself: its guard refuses
        ("/api/admin/branches;x", 404),
        ("/api/admin/./branches", 403),  # the client removes the dot segment
        ("/api/admin/branches%00", 404),
    ],
)
async def test_path_variants_do_not_bypass_the_guard(accounts: Accounts, path: str, status: int) -> None:
    agent = session(accounts, "agent")
    r = await agent.get(path, params={"action": "list"})
    assert r.status_code == status, (path, r.status_code, r.text)
    if status == 307:
        assert r.headers["location"] == "http://testserver/api/admin/branches?action=list"
        assert_error(await agent.get(r.headers["location"]), 403)
    else:
        assert_error(r, status)
