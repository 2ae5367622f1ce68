"""OWASP API4:2023 Unrestricted Resource Consumption.

Attacks: page sizes past the cap (201, 10**20, negative, non-numeric), huge offsets, overlong
search terms, bodies past the size cap (declared and chunked), an upload past ``max_upload_bytes``,
a CSV import past its cap, a form with thousands of fields, and request floods (per IP and per
account: 429 with Retry-After).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from fastapi import FastAPI

from propops.branches.csv_import import CSV_MAX_BYTES
from tests.conftest import assert_error, client_for, login_as, unique_ip
from tests.quality.authz import Accounts
from tests.quality.owasp.conftest import session

LISTS = [
    ("/api/jobs/manage", {"action": "list"}),
    ("/api/agents/list", {"action": "list"}),
    ("/api/properties/manage", {"action": "list"}),
    ("/api/contractors/list", {"action": "list"}),
    ("/api/contractors/list-with-coverage", {}),
    ("/api/contractors/certifications", {"action": "list"}),
    ("/api/notifications/outbox", {"action": "list"}),
    ("/api/admin/branches", {"action": "list"}),
    ("/api/agents/performance", {}),
]


@pytest.mark.parametrize("limit", ["201", "100000000000000000000", "-1", "0", "1e3", "ten", "1; DROP TABLE jobs"])
async def test_limit_is_capped(accounts: Accounts, limit: str) -> None:
    admin = session(accounts, "admin")
    for path, params in LISTS:
        assert_error(await admin.get(path, params={**params, "limit": limit}), 400, "limit")


async def test_max_page_and_huge_offset(accounts: Accounts) -> None:
    admin = session(accounts, "admin")
    for path, params in LISTS:
        r = await admin.get(path, params={**params, "limit": 200})
        assert r.status_code == 200, path
        assert len(r.json()["data"]) <= 200, path
        r = await admin.get(path, params={**params, "offset": 2**31 - 1})
        assert r.status_code == 200, (path, r.text)
        assert r.json()["data"] == [], path
        assert r.json()["count"] > 0, path
        assert_error(await admin.get(path, params={**params, "offset": -1}), 400)


async def test_overlong_search_is_refused(accounts: Accounts) -> None:
    admin = session(accounts, "admin")
    for path, params in LISTS[:4]:
        assert_error(await admin.get(path, params={**params, "search": "%" * 5000}), 400, "search")


async def test_body_past_the_cap_is_413(accounts: Accounts, app: FastAPI) -> None:
    agent = session(accounts, "agent")
    big = b'{"action":"create","note":"' + b"x" * (app.state.ctx.settings.max_upload_bytes + 2**21) + b'"}'
    r = await agent.post("/api/jobs/case-notes", content=big, headers={"content-type": "application/json"})
    assert_error(r, 413)


async def test_upload_past_the_cap_is_413(app_with: Callable[..., Awaitable[FastAPI]]) -> None:
    app = await app_with(max_upload_bytes=4096)
    async with client_for(app) as http:
        admin = await login_as(http, "admin@example.com")
        contractor = await login_as(http, "contractor001@example.com")
        for who in (admin, contractor):
            r = await who.post(
                "/api/contractors/certification",
                data={"action": "upload", "cert_type": "Public Liability", "expiry_date": "2099-01-01"},
                files={"file": ("big.pdf", b"%PDF-1.4\n" + b"0" * (200 * 1024))},
            )
            assert_error(r, 413)


async def test_csv_import_past_the_cap_is_413(accounts: Accounts) -> None:
    admin = session(accounts, "admin")
    row = b"Name,CODE,1 Street,Leeds,LS1 4AP\n"
    huge = b"name,code,address,town,postcode\n" + row * (CSV_MAX_BYTES // len(row) + 10)
    r = await admin.post(
        "/api/admin/branches", data={"action": "bulk_import"}, files={"csv_file": ("b.csv", huge, "text/csv")}
    )
    assert_error(r, 413)


async def test_form_with_thousands_of_fields_is_refused(accounts: Accounts) -> None:
    contractor = session(accounts, "contractor")
    fields = {f"f{i}": "x" for i in range(2000)} | {"action": "upload"}
    r = await contractor.post("/api/contractors/certification", data=fields, files={"unused": ("x.txt", b"x")})
    assert_error(r, 400, "too many fields")


async def test_request_floods_are_429(app_with: Callable[..., Awaitable[FastAPI]]) -> None:
    app = await app_with(rate_limit_per_ip=5, rate_limit_per_account=100)
    async with client_for(app, ip=unique_ip()) as http:
        statuses = [(await http.get("/api/ping")).status_code for _ in range(8)]
        assert statuses[:5] == [200] * 5
        assert set(statuses[5:]) == {429}
        r = await http.post("/api/auth/login", json={"email": "admin@example.com", "password": "demo-pass-123"})
        assert_error(r, 429)  # a flooded IP cannot keep guessing passwords either
        assert int(r.headers["retry-after"]) >= 1
