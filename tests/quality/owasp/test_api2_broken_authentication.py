"""OWASP API2:2023 Broken Authentication.

Attacks: missing, malformed and tampered bearer tokens (flipped characters, truncated, JWT-like
``alg=none`` garbage, SQL injection, another scheme, several tokens, overlong), a token after
logout, a disabled account's token, user enumeration through login replies, credential stuffing
(throttled to 429 even for the right password), mobile-session exchange with forged tokens.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Awaitable, Callable

import httpx
from fastapi import FastAPI

from tests.branches.util import new_agent
from tests.conftest import assert_error, client_for, login_as, unique_ip
from tests.quality.authz import Accounts, create_narrow_staff
from tests.quality.owasp.conftest import SQLI, session


def _b64(obj: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


JWT_NONE = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64({'sub': 1, 'role': 'SysOps', 'account_type_id': 1})}."


async def test_forged_and_tampered_tokens_are_401(accounts: Accounts) -> None:
    real = session(accounts, "admin").token
    flipped = real[:-1] + ("A" if real[-1] != "A" else "B")
    forged = [
        flipped,
        real[:-4],
        real + "x",
        real.upper() if real != real.upper() else real.lower(),
        JWT_NONE,
        "null",
        "undefined",
        "0",
        "x" * 10_000,
        *SQLI,
    ]
    for token in forged:
        r = await accounts.http.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert_error(r, 401)
        assert real not in r.text
    for header in (f"Basic {real}", f"Token {real}", real, f"Bearer {real} {real}", "Bearer", "Bearer  "):
        assert_error(await accounts.http.get("/api/auth/me", headers={"Authorization": header}), 401)
    # the token in the query string or a cookie is not a credential
    assert_error(await accounts.http.get("/api/auth/me", params={"token": real}), 401)
    assert_error(await accounts.http.get("/api/auth/me", cookies={"token": real, "session": real}), 401)


async def test_logout_revokes_the_token(app: FastAPI) -> None:
    async with client_for(app) as http:
        s = await login_as(http, "agent002@example.com")
        assert (await s.post("/api/auth/logout")).status_code == 200
        assert_error(await s.get("/api/auth/me"), 401)
        # nor can the revoked token be exchanged for a mobile session
        r = await http.post("/api/security/mobile-auth", json={"action": "validate_token", "token": s.token})
        assert r.status_code == 401, r.text


async def test_disabled_account_loses_its_sessions(app: FastAPI, accounts: Accounts) -> None:
    email = await create_narrow_staff(app)
    s = await login_as(accounts.http, email, "narrow-pass-123")
    me = (await s.get("/api/auth/me")).json()["data"]
    admin = session(accounts, "admin")
    r = await admin.post("/api/users/users", json={"action": "toggle_status", "uuid": me["uuid"], "is_active": False})
    assert r.status_code == 200, r.text
    assert_error(await s.get("/api/auth/me"), 401)
    r = await accounts.http.post("/api/auth/login", json={"email": email, "password": "narrow-pass-123"})
    assert_error(r, 401)


async def test_login_does_not_enumerate_users(app: FastAPI, accounts: Accounts) -> None:
    real = await new_agent(session(accounts, "admin"), 1)
    async with client_for(app, ip=unique_ip()) as http:
        unknown = await http.post("/api/auth/login", json={"email": f"{uuid.uuid4().hex}@example.com", "password": "x"})
        wrong = await http.post("/api/auth/login", json={"email": real["email"], "password": "wrong-pass-1"})
        assert unknown.status_code == wrong.status_code == 401
        assert unknown.json()["error"] == wrong.json()["error"]
        for email in [*SQLI, "admin@example.com' --", "ADMIN@EXAMPLE.COM\x00"]:
            r = await http.post("/api/auth/login", json={"email": email, "password": "' OR '1'='1"})
            # exactly the reply to a wrong password: no sign of the injection reaching the query
            assert r.json() == {**wrong.json(), "request_id": r.json()["request_id"]}, r.text
            assert r.status_code == 401


async def test_credential_stuffing_is_throttled(
    app_with: Callable[..., Awaitable[FastAPI]], accounts: Accounts
) -> None:
    victim = await new_agent(session(accounts, "admin"), 1)
    email, password = victim["email"], victim["password"]
    app = await app_with(login_max_failures_per_account=3, login_max_failures_per_ip=50)
    async with client_for(app, ip=unique_ip()) as http:
        for _ in range(3):
            bad = await http.post("/api/auth/login", json={"email": email, "password": "guess-123"})
            assert bad.status_code == 401
        r = await http.post("/api/auth/login", json={"email": email, "password": password})
        assert_error(r, 429)
        assert int(r.headers["retry-after"]) >= 1
        # case and whitespace variants of the address count against the same account
        r = await http.post("/api/auth/login", json={"email": f" {email.upper()} ", "password": password})
        assert_error(r, 429)
    async with client_for(app, ip=unique_ip()) as other:
        r = await other.post("/api/auth/login", json={"email": "manager@example.com", "password": "demo-pass-123"})
        assert r.status_code == 200


async def test_csrf_token_is_bound_to_its_session(accounts: Accounts) -> None:
    agent, contractor = session(accounts, "agent"), session(accounts, "contractor")
    body = {"action": "create", "address_line1": "1 CSRF Street", "town": "Leeds", "postcode": "LS1 4AP"}
    flipped = agent.csrf[:-1] + ("1" if agent.csrf[-1] == "0" else "0")  # always differs from the real one
    for token in (contractor.csrf, session(accounts, "admin").csrf, flipped, "x" * 100):
        r = await agent.post("/api/properties/manage", json=body, csrf=False, headers={"X-CSRF-Token": token})
        assert_error(r, 403, "CSRF")
    r = await agent.post("/api/properties/manage", json=body, csrf=False)
    assert_error(r, 403, "CSRF token missing")


async def test_mobile_auth_rejects_forged_tokens(accounts: Accounts) -> None:
    http: httpx.AsyncClient = accounts.http
    for token in (JWT_NONE, "a" * 64, *SQLI):
        r = await http.post("/api/security/mobile-auth", json={"action": "validate_token", "token": token})
        assert_error(r, 401, "invalid or expired token")
        assert "session_token" not in r.json()
