"""Sessions minted from sessions (``POST /api/security/mobile-auth`` validate_token): a child never
outlives its parent, ends with it (logout of any ancestor), is limited per account per hour and is
audited; on PostgreSQL the same holds with the token cache live, in every worker process."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from propops.auth.models import ACCOUNT_STAFF, ApiToken, User
from propops.auth.service import MAX_SESSION_DEPTH, create_user
from propops.core.audit import AuditLog
from propops.core.clock import as_utc
from propops.core.security import token_hash
from tests.conftest import DEMO_PASSWORD, PG_URL, AuthedClient, assert_error, client_for, login_as
from tests.servers import running_server

MOBILE = "/api/security/mobile-auth"


async def new_account(app: FastAPI) -> str:
    """A fresh Finance account (it holds the mobile key), so per-account counts start at zero."""
    email = f"chain-{uuid.uuid4().hex[:10]}@example.com"
    async with app.state.ctx.db.sessionmaker() as s, s.begin():
        await create_user(
            s, organisation_id=1, email=email, password=DEMO_PASSWORD, account_type_id=ACCOUNT_STAFF, role="Finance"
        )
    return email


async def mint(http: httpx.AsyncClient, token: str) -> httpx.Response:
    return await http.post(MOBILE, json={"action": "validate_token", "token": token, "platform": "ios"})


async def child(http: httpx.AsyncClient, parent: AuthedClient) -> AuthedClient:
    r = await mint(http, parent.token)
    assert r.status_code == 200, r.text
    body = r.json()
    return AuthedClient(http, body["session_token"], body["csrf_token"], parent.email)


async def token_row(app: FastAPI, client: AuthedClient) -> ApiToken:
    hashed = token_hash(app.state.ctx.settings.secret_key, client.token)
    async with app.state.ctx.db.sessionmaker() as s:
        return (await s.execute(select(ApiToken).where(ApiToken.token_hash == hashed))).scalar_one()


def _aware(value: datetime) -> datetime:
    return as_utc(value)


async def test_chain_ends_with_its_root(app: FastAPI, client: httpx.AsyncClient) -> None:
    email = await new_account(app)
    t = await login_as(client, email)
    m = await child(client, t)
    m2 = await child(client, m)
    rt, rm, rm2 = await token_row(app, t), await token_row(app, m), await token_row(app, m2)
    assert (rm.parent_token_id, rm.depth) == (rt.id, 1)
    assert (rm2.parent_token_id, rm2.depth) == (rm.id, 2)
    # the 365-day mobile lifetime is capped by the 90-day password session
    assert _aware(rm.expires_at) <= _aware(rt.expires_at)
    assert _aware(rm2.expires_at) <= _aware(rm.expires_at)
    reply = (await mint(client, t.token)).json()
    assert datetime.fromisoformat(reply["expires_at"].replace("Z", "+00:00")) <= _aware(rt.expires_at)
    for s in (t, m, m2):
        assert (await s.get("/api/auth/me")).status_code == 200
    assert (await t.post("/api/auth/logout")).status_code == 200
    for s in (t, m, m2):
        assert_error(await s.get("/api/auth/me"), 401, "revoked")
    # nor can any of them mint again
    for s in (t, m, m2):
        assert_error(await mint(client, s.token), 401)
    async with app.state.ctx.db.sessionmaker() as s:
        rows = (
            await s.execute(
                select(AuditLog.action, AuditLog.entity_id, AuditLog.after).where(
                    AuditLog.user_id == rt.user_id, AuditLog.entity == "api_token"
                )
            )
        ).all()
    minted = [r for r in rows if r[0] == "mint_session"]
    assert {r[1] for r in minted} >= {str(rm.id), str(rm2.id)}
    assert any(r[2]["parent_token_id"] == rm.id and r[2]["depth"] == 2 for r in minted)
    assert ("revoke_descendants", str(rt.id), {"revoked": 3}) in [tuple(r) for r in rows]


async def test_logout_of_a_child_ends_its_subtree_only(app: FastAPI, client: httpx.AsyncClient) -> None:
    t = await login_as(client, await new_account(app))
    m = await child(client, t)
    m2 = await child(client, m)
    sibling = await child(client, t)
    r = await m.post(MOBILE, json={"action": "logout"})
    assert r.status_code == 200, r.text
    assert_error(await m.get("/api/auth/me"), 401)
    assert_error(await m2.get("/api/auth/me"), 401)
    assert (await t.get("/api/auth/me")).status_code == 200
    assert (await sibling.get("/api/auth/me")).status_code == 200


async def test_disabling_the_account_ends_every_session(app: FastAPI, client: httpx.AsyncClient) -> None:
    email = await new_account(app)
    t = await login_as(client, email)
    m2 = await child(client, await child(client, t))
    admin = await login_as(client, "admin@example.com")
    me = (await t.get("/api/auth/me")).json()["data"]
    r = await admin.post("/api/users/users", json={"action": "toggle_status", "uuid": me["uuid"], "is_active": False})
    assert r.status_code == 200, r.text
    assert_error(await m2.get("/api/auth/me"), 401)
    assert_error(await mint(client, m2.token), 401)


async def test_depth_is_bounded(app: FastAPI, client: httpx.AsyncClient) -> None:
    current = await login_as(client, await new_account(app))
    for _ in range(MAX_SESSION_DEPTH):
        current = await child(client, current)
    assert (await token_row(app, current)).depth == MAX_SESSION_DEPTH
    before = await _count_tokens(app, current.email)
    assert_error(await mint(client, current.token), 403, "levels deep")
    assert await _count_tokens(app, current.email) == before


async def _count_tokens(app: FastAPI, email: str) -> int:
    async with app.state.ctx.db.sessionmaker() as s:
        stmt = select(func.count()).select_from(ApiToken).join(User, User.id == ApiToken.user_id)
        return int((await s.execute(stmt.where(User.email == email))).scalar_one())


async def test_minting_is_rate_limited_per_account(app: FastAPI, client: httpx.AsyncClient) -> None:
    email = await new_account(app)
    t = await login_as(client, email)
    limit = app.state.ctx.settings.mobile_mint_per_hour
    assert limit == 10  # the default
    for _ in range(limit):
        assert (await mint(client, t.token)).status_code == 200
    before = await _count_tokens(app, email)
    r = await mint(client, t.token)
    assert_error(r, 429, "per hour")
    assert 3500 <= int(r.headers["Retry-After"]) <= 3601
    assert await _count_tokens(app, email) == before  # nothing minted
    # a fresh password login does not reset the account's allowance
    again = await login_as(client, email)
    assert_error(await mint(client, again.token), 429)
    # another account is unaffected
    other = await login_as(client, await new_account(app))
    assert (await mint(client, other.token)).status_code == 200


async def test_login_sessions_are_roots(app: FastAPI, client: httpx.AsyncClient) -> None:
    t = await login_as(client, await new_account(app))
    row = await token_row(app, t)
    assert row.parent_token_id is None
    assert row.depth == 0


# --------------------------------------------------------------------------- PostgreSQL token cache


@pytest.mark.skipif(not PG_URL, reason="the cache needs PostgreSQL notifications")
async def test_chain_with_the_token_cache(make_app: Callable[..., Awaitable[FastAPI]]) -> None:
    """Every session of the chain is cached before the logout; all are refused right after it."""
    app = await make_app()
    cache = app.state.ctx.token_cache
    assert cache is not None
    async with client_for(app) as http:
        t = await login_as(http, "finance@example.com")
        assert (await t.get("/api/auth/me")).status_code == 200  # starts the listener
        deadline = time.monotonic() + 5
        while not cache.live:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
        m = await child(http, t)
        m2 = await child(http, m)
        secret = app.state.ctx.settings.secret_key
        for s in (t, m, m2):
            assert (await s.get("/api/auth/me")).status_code == 200
            assert (await s.get("/api/auth/me")).status_code == 200
            assert token_hash(secret, s.token) in cache.entries
        assert (await t.post("/api/auth/logout")).status_code == 200
        for s in (t, m, m2):
            assert_error(await s.get("/api/auth/me"), 401)


def _fresh(base: str, method: str, path: str, token: str, **kw: Any) -> httpx.Response:
    """One request on a new connection: the kernel picks the worker (SO_REUSEPORT)."""
    with httpx.Client(base_url=base, timeout=10) as c:
        return c.request(method, path, headers={"Authorization": f"Bearer {token}"} if token else {}, **kw)


@pytest.mark.skipif(not PG_URL, reason="the cache needs PostgreSQL notifications")
@pytest.mark.server
async def test_chain_logout_reaches_every_worker(make_app: Callable[..., Awaitable[FastAPI]]) -> None:
    """Two real worker processes, each caching T, M and M2: after T's logout both refuse all three."""
    app = await make_app()
    settings = app.state.ctx.settings
    with running_server(settings) as srv:
        base = srv.url
        login = await asyncio.to_thread(
            httpx.post, f"{base}/api/auth/login", json={"email": "finance@example.com", "password": DEMO_PASSWORD}
        )
        t = login.json()["token"]
        body = {"action": "validate_token", "platform": "ios"}
        m = (await asyncio.to_thread(_fresh, base, "POST", MOBILE, "", json={**body, "token": t})).json()
        m2 = (
            await asyncio.to_thread(_fresh, base, "POST", MOBILE, "", json={**body, "token": m["session_token"]})
        ).json()
        tokens = [t, m["session_token"], m2["session_token"]]
        for _ in range(20):  # spread over both workers: each caches the three tokens
            for tok in tokens:
                assert (await asyncio.to_thread(_fresh, base, "GET", "/api/auth/me", tok)).status_code == 200
        csrf = (await asyncio.to_thread(_fresh, base, "GET", "/api/security/csrf-token", t)).json()["data"]["token"]
        with httpx.Client(base_url=base, timeout=10) as c:
            r = c.post("/api/auth/logout", headers={"Authorization": f"Bearer {t}", "X-CSRF-Token": csrf})
        assert r.status_code == 200, r.text
        for _ in range(10):
            codes = [(await asyncio.to_thread(_fresh, base, "GET", "/api/auth/me", tok)).status_code for tok in tokens]
            assert codes == [401, 401, 401], codes
