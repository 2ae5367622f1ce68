"""Authentication, sessions, CSRF and permissions over real HTTP through the ASGI app."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, select, update

from propops.auth.models import ApiToken, RolePermission, User
from propops.auth.service import bump_permissions_epoch
from propops.core.clock import utcnow
from tests.branches.util import new_agent
from tests.conftest import DEMO_PASSWORD, AuthedClient, assert_error, client_for, login_as, unique_ip
from tests.quality.authz import NARROW_PASSWORD, create_narrow_staff


async def _user(app: FastAPI, email: str) -> User:
    async with app.state.ctx.db.sessionmaker() as s:
        return (await s.execute(select(User).where(User.email == email))).scalar_one()


class TestLogin:
    async def test_login_returns_token_and_user(self, client: httpx.AsyncClient) -> None:
        r = await client.post("/api/auth/login", json={"email": "Admin@Example.com ", "password": DEMO_PASSWORD})
        assert r.status_code == 200
        body = r.json()
        assert body["success"] is True
        assert len(body["token"]) == 64
        assert int(body["token"], 16) >= 0
        assert body["token_type"] == "Bearer"
        assert body["expires_at"].endswith("Z")
        assert body["user"] == {"name": "Admin User", "email": "admin@example.com", "account_type": "Staff"}

    async def test_token_is_stored_only_as_hash(self, client: httpx.AsyncClient, app: FastAPI) -> None:
        r = await client.post("/api/auth/login", json={"email": "admin@example.com", "password": DEMO_PASSWORD})
        raw = r.json()["token"]
        async with app.state.ctx.db.sessionmaker() as s:
            hashes = set((await s.execute(select(ApiToken.token_hash))).scalars())
        assert raw not in hashes

    async def test_unknown_email_and_wrong_password_get_identical_reply(self, client: httpx.AsyncClient) -> None:
        a = await client.post("/api/auth/login", json={"email": "nobody-x1@example.com", "password": "whatever1"})
        b = await client.post("/api/auth/login", json={"email": "agent014@example.com", "password": "wrong-pass"})
        assert a.status_code == b.status_code == 401
        strip = lambda r: {k: v for k, v in r.json().items() if k != "request_id"}  # noqa: E731
        assert strip(a) == strip(b)

    @pytest.mark.parametrize(
        "payload",
        [
            {},
            {"email": "a@b.co"},
            {"password": "x"},
            {"email": 12, "password": []},
            "not-json",
            {"email": "", "password": ""},
        ],
    )
    async def test_bad_login_input_is_400(self, client: httpx.AsyncClient, payload: object) -> None:
        if isinstance(payload, str):
            r = await client.post("/api/auth/login", content=payload, headers={"content-type": "application/json"})
        else:
            r = await client.post("/api/auth/login", json=payload)
        body = assert_error(r, 400)
        assert body["errors"]

    async def test_disabled_account_cannot_log_in(self, app: FastAPI, admin: AuthedClient) -> None:
        victim = await new_agent(admin, 1)
        user = await _user(app, victim["email"])
        r = await admin.post("/api/users/users", json={"action": "toggle_status", "uuid": user.uuid})
        assert r.status_code == 200
        assert r.json()["data"]["is_active"] is False
        r = await admin.http.post("/api/auth/login", json={"email": victim["email"], "password": victim["password"]})
        assert_error(r, 401, "invalid email or password")


class TestLoginThrottling:
    """On the shared database: a new account and addresses no other test uses (failures are rows)."""

    async def test_five_failures_for_one_account_lock_it(self, app: FastAPI, admin: AuthedClient) -> None:
        victim, other = await new_agent(admin, 1), await new_agent(admin, 1)
        async with client_for(app, ip=unique_ip()) as c:
            for _ in range(5):
                r = await c.post("/api/auth/login", json={"email": victim["email"], "password": "bad-pass-1"})
                assert r.status_code == 401
            r = await c.post("/api/auth/login", json={"email": victim["email"], "password": victim["password"]})
            assert_error(r, 429)
            assert 1 <= int(r.headers["retry-after"]) <= 15 * 60
            # the same reply for an unknown account
            ghost = f"ghost-{uuid.uuid4().hex[:10]}@example.com"
            for _ in range(5):
                await c.post("/api/auth/login", json={"email": ghost, "password": "bad-pass-1"})
            r2 = await c.post("/api/auth/login", json={"email": ghost, "password": "bad-pass-1"})
            assert r2.status_code == 429
            assert r2.json()["error"] == r.json()["error"]
        # other accounts from another IP are unaffected
        async with client_for(app, ip=unique_ip()) as c2:
            r = await c2.post("/api/auth/login", json={"email": other["email"], "password": other["password"]})
            assert r.status_code == 200

    async def test_twenty_failures_from_one_ip_lock_the_ip(self, app: FastAPI) -> None:
        ip, tag = unique_ip(), uuid.uuid4().hex[:10]
        async with client_for(app, ip=ip) as c:
            for i in range(20):
                body = {"email": f"user{i}-{tag}@example.com", "password": "bad-pass-1"}
                r = await c.post("/api/auth/login", json=body)
                assert r.status_code == 401
            r = await c.post("/api/auth/login", json={"email": "admin@example.com", "password": DEMO_PASSWORD})
            assert_error(r, 429)
            assert "retry-after" in r.headers
        async with client_for(app, ip=unique_ip()) as other:
            r = await other.post("/api/auth/login", json={"email": "admin@example.com", "password": DEMO_PASSWORD})
            assert r.status_code == 200


class TestBearer:
    @pytest.mark.parametrize(
        "header",
        [None, "", "Bearer", "Bearer ", "Basic YWRtaW46eA==", "Token abc", "Bearer a b", "bearer" + " x" * 300],
    )
    async def test_missing_or_malformed_header_is_401(self, client: httpx.AsyncClient, header: str | None) -> None:
        headers = {} if header is None else {"Authorization": header}
        r = await client.get("/api/contractors/trades", headers=headers)
        assert_error(r, 401)
        assert r.headers["www-authenticate"] == "Bearer"

    async def test_unknown_token_is_401(self, client: httpx.AsyncClient) -> None:
        r = await client.get("/api/contractors/trades", headers={"Authorization": "Bearer " + "ab" * 32})
        assert_error(r, 401)

    async def test_expired_token_is_401(self, client: httpx.AsyncClient, app: FastAPI) -> None:
        s = await login_as(client, "finance@example.com")
        async with app.state.ctx.db.sessionmaker() as db, db.begin():
            from propops.core.security import token_hash

            h = token_hash(app.state.ctx.settings.secret_key, s.token)
            await db.execute(
                update(ApiToken).where(ApiToken.token_hash == h).values(expires_at=utcnow() - timedelta(seconds=1))
            )
        assert_error(await s.get("/api/contractors/trades"), 401, "expired")

    async def test_logout_revokes_only_that_session(self, client: httpx.AsyncClient) -> None:
        one = await login_as(client, "manager@example.com")
        two = await login_as(client, "manager@example.com")
        r = await one.post("/api/auth/logout", json={})
        assert r.status_code == 200
        assert_error(await one.get("/api/contractors/trades"), 401, "revoked")
        assert (await two.get("/api/contractors/trades")).status_code == 200

    async def test_disabling_an_account_revokes_its_sessions(self, app: FastAPI, admin: AuthedClient) -> None:
        a = await new_agent(admin, 1)
        victim = await login_as(admin.http, a["email"], a["password"])
        assert (await victim.get("/api/auth/me")).status_code == 200
        user = await _user(app, a["email"])
        body = {"action": "toggle_status", "uuid": user.uuid, "is_active": False}
        assert (await admin.post("/api/users/users", json=body)).status_code == 200
        assert_error(await victim.get("/api/auth/me"), 401)


class TestCsrf:
    async def _target(self, app: FastAPI) -> User:
        return await _user(app, "agent010@example.com")

    async def test_missing_csrf_is_403_and_changes_nothing(self, admin: AuthedClient, app: FastAPI) -> None:
        target = await self._target(app)
        r = await admin.post("/api/users/users", json={"action": "toggle_status", "uuid": target.uuid}, csrf=False)
        assert_error(r, 403, "csrf")
        assert (await self._target(app)).is_active

    async def test_wrong_csrf_is_403_and_changes_nothing(self, admin: AuthedClient, app: FastAPI) -> None:
        target = await self._target(app)
        r = await admin.post(
            "/api/users/users",
            json={"action": "toggle_status", "uuid": target.uuid, "csrf_token": "0" * 64},
            csrf=False,
        )
        assert_error(r, 403, "csrf")
        r = await admin.post(
            "/api/users/users",
            json={"action": "toggle_status", "uuid": target.uuid},
            headers={"X-CSRF-Token": "' OR 1=1 --"},
            csrf=False,
        )
        assert_error(r, 403, "csrf")
        assert (await self._target(app)).is_active

    async def test_another_sessions_csrf_is_403(self, client: httpx.AsyncClient, app: FastAPI) -> None:
        one = await login_as(client, "admin@example.com")
        two = await login_as(client, "admin@example.com")
        target = await self._target(app)
        r = await one.post(
            "/api/users/users",
            json={"action": "toggle_status", "uuid": target.uuid},
            headers={"X-CSRF-Token": two.csrf},
            csrf=False,
        )
        assert_error(r, 403, "csrf")
        assert (await self._target(app)).is_active

    async def test_logout_needs_csrf(self, client: httpx.AsyncClient) -> None:
        s = await login_as(client, "finance@example.com")
        assert_error(await s.post("/api/auth/logout", json={}, csrf=False), 403, "csrf")
        assert (await s.get("/api/auth/me")).status_code == 200

    async def test_csrf_accepted_in_json_body_and_form(self, client: httpx.AsyncClient) -> None:
        s = await login_as(client, "finance@example.com")
        r = await s.post("/api/auth/logout", json={"csrf_token": s.csrf}, csrf=False)
        assert r.status_code == 200
        s2 = await login_as(client, "finance@example.com")
        r = await s2.post("/api/auth/logout", data={"csrf_token": s2.csrf}, csrf=False)
        assert r.status_code == 200, r.text

    async def test_csrf_token_is_stable_within_a_session(self, admin: AuthedClient) -> None:
        r = await admin.get("/api/security/csrf-token")
        assert r.json() == {"success": True, "data": {"token": admin.csrf}, "message": "CSRF token issued"}


class TestPermissions:
    async def test_missing_permission_is_403_and_changes_nothing(self, agent: AuthedClient, app: FastAPI) -> None:
        target = await _user(app, "agent011@example.com")
        r = await agent.post("/api/users/users", json={"action": "toggle_status", "uuid": target.uuid})
        assert_error(r, 403, "You do not have permission to perform this action")
        assert (await _user(app, "agent011@example.com")).is_active

    async def test_own_permissions_listed(self, contractor: AuthedClient) -> None:
        r = await contractor.get("/api/users/permissions")
        assert r.status_code == 200
        data = r.json()["data"]
        assert data["role_name"] == "Contractor"
        assert "api.contractors.trades.manage" in data["permissions"]
        assert "api.users.users.manage" not in data["permissions"]
        assert data["permission_map"]["api.contractors.trades.manage"] is True

    async def test_revoking_a_role_permission_applies_on_the_next_request(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        email = await create_narrow_staff(app, "api.contractors.trades.manage")  # a role of its own
        s = await login_as(client, email, NARROW_PASSWORD)
        assert (await s.get("/api/contractors/trades")).status_code == 200
        role_id = (await _user(app, email)).role_id
        async with app.state.ctx.db.sessionmaker() as db, db.begin():
            await db.execute(
                delete(RolePermission).where(
                    RolePermission.role_id == role_id,
                    RolePermission.permission_key == "api.contractors.trades.manage",
                )
            )
            await bump_permissions_epoch(db)
        assert_error(await s.get("/api/contractors/trades"), 403)

    async def test_cannot_disable_an_equal_or_higher_account(self, client: httpx.AsyncClient, app: FastAPI) -> None:
        mgr = await login_as(client, "admin@example.com")
        me = await _user(app, "admin@example.com")
        assert_error(await mgr.post("/api/users/users", json={"action": "toggle_status", "uuid": me.uuid}), 403)


class TestMobileAuth:
    async def test_validate_token_opens_a_mobile_session(self, client: httpx.AsyncClient) -> None:
        s = await login_as(client, "contractor002@example.com")
        r = await client.post(
            "/api/security/mobile-auth",
            json={
                "action": "validate_token",
                "token": s.token,
                "platform": "ios",
                "device_type": "iPhone",
                "app_version": "2.1.0",
            },
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["user"]["email"] == "contractor002@example.com"
        assert body["user"]["account_type_name"] == "Contractor"
        mobile = AuthedClient(client, body["session_token"], body["csrf_token"], "contractor002@example.com")
        assert (await mobile.get("/api/contractors/trades")).status_code == 200
        r = await mobile.post("/api/security/mobile-auth", json={"action": "logout"}, csrf=False)
        assert_error(r, 403, "csrf")
        r = await mobile.post("/api/security/mobile-auth", json={"action": "logout"})
        assert r.status_code == 200
        assert_error(await mobile.get("/api/contractors/trades"), 401)
        assert (await s.get("/api/contractors/trades")).status_code == 200

    @pytest.mark.parametrize(
        ("payload", "status", "says"),
        [
            ({"action": "validate_token"}, 400, "token"),
            ({"action": "validate_token", "token": "f" * 64}, 401, "invalid or expired token"),  # well-formed
            ({"action": "explode", "token": "x"}, 400, "body"),
            ({"action": "validate_token", "token": "x", "platform": "windows"}, 400, "platform"),
            ({}, 400, "body"),
        ],
    )
    async def test_bad_mobile_auth_input(
        self, client: httpx.AsyncClient, payload: dict[str, str], status: int, says: str
    ) -> None:
        r = await client.post("/api/security/mobile-auth", json=payload)
        assert_error(r, status, says)


class TestMe:
    async def test_me_has_reference_user_object(self, agent: AuthedClient) -> None:
        r = await agent.get("/api/auth/me")
        data = r.json()["data"]
        for key in (
            "ID",
            "uuid",
            "first_name",
            "last_name",
            "email",
            "phone",
            "account_type_id",
            "account_type_name",
            "account_status_id",
            "account_status_name",
            "branch_id",
            "role_id",
            "created_at",
        ):
            assert key in data
        assert data["first_name"] == "Agent_001"
        assert data["account_type_id"] == 2
