"""OWASP API8:2023 Security Misconfiguration.

Checks: no stack traces or internals in any error (malformed JSON, wrong types, unknown routes,
wrong methods, oversized headers); downloads carry ``X-Content-Type-Options: nosniff``, an
attachment disposition and ``no-store``; production refuses the default or a short secret; no
wildcard CORS (a hostile Origin gets no Access-Control-Allow-Origin, preflights are not granted);
the OpenAPI document and docs leak no secrets or settings; header injection through inputs.
"""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from propops.core.settings import DEFAULT_SECRET, Settings
from tests.conftest import assert_error
from tests.quality.authz import Accounts
from tests.quality.owasp.conftest import session

INTERNALS = (
    "Traceback",
    'File "/',
    "sqlalchemy",
    "asyncpg",
    "aiosqlite",
    "pydantic_core",
    "site-packages",
    "SELECT ",
    "psycopg",
    "sqlite3.",
)


def assert_clean(text: str) -> None:
    for word in INTERNALS:
        assert word not in text, word


async def test_errors_carry_no_internals(accounts: Accounts) -> None:
    admin = session(accounts, "admin")
    probes = [
        await admin.post("/api/jobs/manage", content=b'{"action": ', headers={"content-type": "application/json"}),
        await admin.post("/api/jobs/manage", content=b"\xff\xfe\x00", headers={"content-type": "application/json"}),
        await admin.post("/api/jobs/manage", json={"action": "create", "address_id": "1' OR 1=1 --"}),
        await admin.post("/api/jobs/manage", json={"action": "create", "address_id": 2**63}),
        await admin.get("/api/jobs/manage", params={"action": "list", "status_id": "1 UNION SELECT 1"}),
        await admin.get("/api/jobs/manage", params={"action": "list", "date_from": "2024-13-45"}),
        await admin.get("/api/admin/branches", params={"action": "get", "uuid": "'; DROP TABLE branches; --"}),
        await admin.get("/api/nope/../../etc/passwd"),
        await admin.request("PATCH", "/api/jobs/manage"),
        await admin.get("/api/jobs/manage", params={"action": "list"}, headers={"X-Big": "a" * 16000}),
    ]
    for r in probes:
        assert r.status_code < 500, (r.request.url, r.text[:300])
        assert_clean(r.text)
        assert r.json()["success"] is (r.status_code == 200)


async def test_download_headers(accounts: Accounts) -> None:
    contractor = session(accounts, "contractor")
    cert = (await contractor.get("/api/contractors/certifications", params={"action": "list", "limit": 1})).json()
    r = await contractor.get("/api/contractors/certification", params={"file": cert["data"][0]["file"]})
    assert r.status_code == 200
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-disposition"].startswith("attachment;")
    assert "no-store" in r.headers["cache-control"]
    assert r.headers["content-type"].split(";")[0] in (
        "application/pdf",
        "image/jpeg",
        "image/png",
        "application/msword",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    )


@pytest.mark.parametrize("secret", [DEFAULT_SECRET, "short", "x" * 31])
def test_production_refuses_weak_secret(secret: str) -> None:
    with pytest.raises(ValueError, match="SECRET_KEY"):
        Settings(environment="production", secret_key=secret)


async def test_no_wildcard_cors(accounts: Accounts) -> None:
    http = accounts.http
    evil = {"Origin": "https://evil.example"}
    r = await http.get("/api/health", headers=evil)
    assert r.headers.get("access-control-allow-origin") in (None, "")
    assert r.headers.get("access-control-allow-credentials") is None
    pre = await http.options(
        "/api/jobs/manage",
        headers={**evil, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"},
    )
    assert pre.headers.get("access-control-allow-origin") in (None, "")
    assert "*" not in pre.headers.get("access-control-allow-headers", "")


async def test_docs_leak_no_secrets(app: FastAPI, accounts: Accounts) -> None:
    settings = app.state.ctx.settings
    for path in ("/openapi.json", "/docs", "/redoc"):
        r = await accounts.http.get(path)
        assert r.status_code == 200, path  # public documentation, so it must hold nothing secret
        for secret in (
            settings.secret_key,
            DEFAULT_SECRET,
            settings.database_url,
            str(settings.storage_dir),
            "demo-pass-123",
            "password_hash",
            "token_hash",
        ):
            assert secret not in r.text, (path, secret)


async def test_header_injection_through_inputs(accounts: Accounts) -> None:
    admin = session(accounts, "admin")
    r = await admin.get("/api/contractors/certification", params={"file": 'cert_1_1_1.pdf"\r\nSet-Cookie: x=1'})
    assert_error(r, 400)
    assert "set-cookie" not in r.headers
    r = await admin.get("/api/health", headers={"X-Request-ID": "abc\tdef"})
    assert "\n" not in r.headers.get("x-request-id", "")
